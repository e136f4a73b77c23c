"""Daemon lifecycle: bind policy, graceful SIGTERM, runs handed back, restart."""

from __future__ import annotations

import subprocess
import time
from pathlib import Path

from fakes.daemon import LLMSPELL, start_daemon


def test_refuses_public_bind_without_keys(tmp_path: Path) -> None:
    done = subprocess.run(
        [LLMSPELL, "serve", "--host", "0.0.0.0", "--port", "0", "--grpc-port", "0"],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=tmp_path,
        env={"PATH": "/usr/bin:/bin", "LLMSPELL_DATA_DIR": str(tmp_path / "data")},
    )
    assert done.returncode == 2
    assert "refusing to bind 0.0.0.0 without API keys" in done.stderr
    assert "Traceback" not in done.stderr


def test_sigterm_finishes_running_runs_and_hands_back_the_rest(tmp_path: Path) -> None:
    daemon = start_daemon(tmp_path, env={"LLMSPELL_SERVER__SHUTDOWN_GRACE_S": "3"})
    data_dir = daemon.data_dir
    short = 'local t = os.clock() while os.clock() - t < 1 do end return "finished"'
    long = 'local t = os.clock() while os.clock() - t < 30 do end return "never"'
    with daemon.client() as http:
        short_id = http.post("/v1/runs", json={"script": {"code": short}, "timeout_s": 60}).json()["id"]
        long_id = http.post("/v1/runs", json={"script": {"code": long}, "timeout_s": 60}).json()["id"]
        deadline = time.monotonic() + 20
        while {http.get(f"/v1/runs/{i}").json()["status"] for i in (short_id, long_id)} != {"running"}:
            assert time.monotonic() < deadline
            time.sleep(0.05)
    started = time.monotonic()
    assert daemon.stop() == 0, daemon.log()
    assert time.monotonic() - started < 15
    again = start_daemon(tmp_path, env={"LLMSPELL_DATA_DIR": str(data_dir)})
    try:
        with again.client() as http:
            assert http.get(f"/v1/runs/{short_id}").json()["status"] == "succeeded"
            handed_back = http.get(f"/v1/runs/{long_id}").json()
            # Handed back to the queue, so the restarted replica claims it again.
            assert handed_back["status"] in ("queued", "running")
            http.post(f"/v1/runs/{long_id}/cancel")
    finally:
        again.stop()

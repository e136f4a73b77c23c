"""End-to-end: the CLI's list commands read every page of a daemon's lists (the REST lists
answer at most 1,000 items a page)."""

from __future__ import annotations

import json
import subprocess
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from fakes.daemon import LLMSPELL, Daemon, start_daemon


def post_all(daemon: Daemon, path: str, bodies: list[dict[str, Any]]) -> None:
    """POST every body to ``path``, over four connections at once."""

    def post(chunk: list[dict[str, Any]]) -> None:
        with daemon.client() as http:
            for body in chunk:
                http.post(path, json=body).raise_for_status()

    with ThreadPoolExecutor(4) as pool:
        list(pool.map(post, [bodies[i::4] for i in range(4)]))


def listed_names(daemon: Daemon, *command: str) -> list[str]:
    """The sorted names ``llmspell <command> -o json`` prints for the daemon."""
    listed = subprocess.run(
        [LLMSPELL, *command, "-o", "json", "--server", daemon.url],
        capture_output=True,
        text=True,
        timeout=60,
        env={"LITELLM_LOCAL_MODEL_COST_MAP": "True", "PATH": "/usr/bin:/bin"},
    )
    assert listed.returncode == 0, listed.stderr
    return sorted(item["name"] for item in json.loads(listed.stdout))


def test_scripts_list_follows_next_cursor_past_the_first_page(tmp_path: Path) -> None:
    daemon = start_daemon(tmp_path)
    try:
        names = [f"job-{i:04d}" for i in range(1001)]
        post_all(daemon, "/v1/scripts", [{"name": name, "code": "return 1"} for name in names])
        with daemon.client() as http:
            first = http.get("/v1/scripts", params={"limit": 1000}).json()
        assert len(first["items"]) == 1000 and first["next_cursor"]
        assert listed_names(daemon, "scripts", "list") == names
    finally:
        assert daemon.stop() == 0, daemon.log()


def test_schedule_lists_follow_next_cursor_past_the_first_page(tmp_path: Path) -> None:
    daemon = start_daemon(tmp_path)
    try:
        with daemon.client() as http:
            http.post("/v1/scripts", json={"name": "noop", "code": "return 1"}).raise_for_status()
        names = [f"every-{i:04d}" for i in range(1001)]
        specs = [{"name": name, "script": "noop", "interval_s": 3600, "enabled": False} for name in names]
        post_all(daemon, "/v1/schedules", specs)
        assert listed_names(daemon, "schedules", "list") == names
        # The cron-scheduler tool lists them all too, in the daemon and over REST.
        count = 'return #Tool.execute("cron-scheduler", {operation = "list"%s}).result'
        with daemon.client() as http:
            for server in ("", f', server = "{daemon.url}"'):
                body = {"script": {"code": count % server}, "timeout_s": 60}
                done = http.post("/v1/runs/wait", json=body).json()
                assert (done["status"], done["result"]) == ("succeeded", 1001), (server, done.get("error"))
    finally:
        assert daemon.stop() == 0, daemon.log()

"""Missed fires: inside the catch-up window one run on start-up; older ones only recorded."""

from __future__ import annotations

import time
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from fakes.daemon import start_daemon


@pytest.mark.parametrize(("window", "expected"), [(60.0, 1), (0.0, 0)])
def test_missed_fires_catch_up_once_inside_the_window(tmp_path: Path, window: float, expected: int) -> None:
    daemon = start_daemon(tmp_path)
    data_dir = daemon.data_dir
    with daemon.client() as http:
        http.post("/v1/scripts", json={"name": "beat", "code": "return 1"})
        schedule = http.post(
            "/v1/schedules",
            json={"name": "beat", "script": "beat", "interval_s": 1.5, "catchup_window_s": window},
        ).json()
        deadline = time.monotonic() + 30
        while not http.get(f"/v1/schedules/{schedule['id']}/runs").json()["items"]:
            assert time.monotonic() < deadline
            time.sleep(0.1)
    assert daemon.stop() == 0
    stopped_at = datetime.now().astimezone()
    time.sleep(4.0)  # two or three fires are missed
    restarted_at = datetime.now().astimezone()
    again = start_daemon(tmp_path, env={"LLMSPELL_DATA_DIR": str(data_dir)})
    try:
        with again.client() as http:
            time.sleep(0.5)
            runs = http.get(f"/v1/schedules/{schedule['id']}/runs", params={"limit": 1000}).json()["items"]
            caught_up = [r for r in runs if r["metadata"].get("catch_up")]
            assert len(caught_up) == expected, [(r["fire_time"], r["metadata"]) for r in runs]
            for run in caught_up:
                assert (
                    stopped_at
                    < datetime.fromisoformat(run["fire_time"])
                    < restarted_at + timedelta(seconds=30)
                )
    finally:
        again.stop()

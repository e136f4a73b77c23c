"""A reader slower than its run loses no event: what fell out of the hub's bounded tail
is read from the store (SERVICE-API.md: the stream resumes "without loss")."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from fakes.daemon import Daemon, start_daemon

LINES = 20_000  # the in-process hub keeps the last 10,000 events of a run


@pytest.fixture
def daemon(tmp_path: Path) -> Iterator[Daemon]:
    running = start_daemon(tmp_path)
    yield running
    assert running.stop() == 0, running.log()


def test_a_stalled_stream_reader_gets_every_event(daemon: Daemon) -> None:
    code = f'for i = 1, {LINES} do print("line " .. i) end return "ok"'
    ids: list[int] = []
    texts: list[str] = []
    with (
        httpx.Client(base_url=daemon.url, timeout=60) as http,
        http.stream("POST", "/v1/runs/stream", json={"script": {"code": code}}) as response,
    ):
        run_id = response.headers["x-run-id"]
        lines = response.iter_lines()
        next(lines)  # the stream began; now the reader stalls until the run is over
        deadline = time.monotonic() + 60
        while http.get(f"/v1/runs/{run_id}").json()["status"] != "succeeded":
            assert time.monotonic() < deadline, "the run did not finish"
            time.sleep(0.1)
        event = ""
        for line in lines:
            if line.startswith("id: "):
                ids.append(int(line[4:]))
            elif line.startswith("event: "):
                event = line[7:]
            elif line.startswith("data: ") and event == "stdout":
                texts.append(json.loads(line[6:])["text"])
    assert ids == list(range(ids[0], ids[-1] + 1)), "the stream skipped events"
    assert texts[-1] == f"line {LINES}\n" and len(texts) >= LINES - ids[0]

"""Daemon benchmarks: start to /ready, /v1/runs/wait under 32 clients beside a bare FastAPI
endpoint, 1,000 concurrent runs awaiting a 500 ms LLM call, background runs on Postgres
with 2 replicas. Prints tables; no assertions."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
from _common import (
    closed_loop,
    env_without_llmspell,
    free_port,
    median,
    percentile,
    start_daemon,
    stop,
    table,
)

CLIENTS = 32
SECONDS = 8.0


def bench_startup(tmp: Path) -> None:
    times = []
    for i in range(3):
        process, _url, ready_s = start_daemon(tmp / f"start-{i}")
        times.append(ready_s * 1000)
        stop(process)
    table(
        "Daemon start to /ready (SQLite)",
        ["runs", "median ms", "max ms", "target"],
        [[len(times), median(times), max(times), "<= 1000 ms"]],
    )


def bench_wait(tmp: Path) -> None:
    process, url, _ = start_daemon(tmp / "wait")
    port = free_port()
    bare = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "uvicorn",
            "bare_app:app",
            "--port",
            str(port),
            "--log-level",
            "warning",
            "--no-access-log",
        ],
        cwd=str(Path(__file__).parent),
        env=env_without_llmspell(),
    )
    try:
        deadline = time.time() + 15
        while time.time() < deadline:
            try:
                httpx.post(f"http://127.0.0.1:{port}/hello", json={}, timeout=0.5)
                break
            except httpx.TransportError:
                time.sleep(0.05)
        body = {"script": {"code": "return 1 + 1"}}
        asyncio.run(closed_loop(url, "/v1/runs/wait", body, clients=CLIENTS, seconds=1.0))  # warm-up
        count, lat = asyncio.run(closed_loop(url, "/v1/runs/wait", body, clients=CLIENTS, seconds=SECONDS))
        bare_count, bare_lat = asyncio.run(
            closed_loop(f"http://127.0.0.1:{port}", "/hello", {"x": 1}, clients=CLIENTS, seconds=SECONDS)
        )
    finally:
        stop(process)
        stop(bare)  # type: ignore[arg-type]
    rps, bare_rps = count / SECONDS, bare_count / SECONDS
    table(
        f"POST /v1/runs/wait, trivial script, {CLIENTS} concurrent clients, {SECONDS:.0f} s (SQLite)",
        ["endpoint", "req/s", "p50 ms", "p99 ms", "target"],
        [
            ["/v1/runs/wait", rps, median(lat), percentile(lat, 99), ">= 1000/s, p99 <= 25 ms"],
            ["bare FastAPI POST", bare_rps, median(bare_lat), percentile(bare_lat, 99), ""],
            ["ratio", f"{rps / bare_rps:.0%}", "", "", ">= 40 %"],
        ],
    )


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp_dir:
        tmp = Path(tmp_dir)
        bench_startup(tmp)
        bench_wait(tmp)


if __name__ == "__main__":
    main()

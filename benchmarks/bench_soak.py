"""Daemon soak: resource use over rounds of runs (SQLite, in-process events).

Each round sends 2 s of ``POST /v1/runs/wait`` (wrk, 32 connections; httpx without wrk)
and 2,000 background runs (``POST /v1/runs``, pipelined), waits until they finished, and
samples the daemon's resident memory, open file descriptors and threads. A daemon whose use
is stable levels off after the first rounds (caches and pools fill once); a leak grows every
round. Prints a table; no assertions.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
import tempfile
from pathlib import Path

import httpx
from _common import (
    closed_loop,
    pipelined_posts,
    start_daemon,
    stop,
    table,
    until_no_run_is_active,
    wrk_post,
)

ROUNDS = int(os.environ.get("SOAK_ROUNDS", "16"))
BACKGROUND = 2000
WAIT_S = 2.0


def sample(pid: int) -> tuple[float, int, int]:
    """(resident MiB, open fds, threads) of process ``pid``."""
    status = Path(f"/proc/{pid}/status").read_text().splitlines()
    fields = dict(line.split(":", 1) for line in status if ":" in line)
    rss_mib = int(fields["VmRSS"].split()[0]) / 1024
    return rss_mib, len(os.listdir(f"/proc/{pid}/fd")), int(fields["Threads"])


async def background_round(url: str) -> None:
    replies = await pipelined_posts(f"{url}/v1/runs", {"script": {"code": "return 1"}}, BACKGROUND)
    if len(replies) != BACKGROUND:
        raise SystemExit("background runs were refused")
    async with httpx.AsyncClient(timeout=60) as http:
        await until_no_run_is_active(http, url, period_s=0.1)


def main() -> None:
    if not Path("/proc/self/status").exists():
        print("bench_soak needs /proc (Linux)")
        return
    body = json.dumps({"script": {"code": "return 1 + 1"}})
    with tempfile.TemporaryDirectory() as tmp:
        process, url, _ = start_daemon(Path(tmp) / "soak")
        rows: list[list[object]] = []
        runs = 0
        try:
            rows.append(["start", 0, *sample(process.pid)])
            for round_no in range(1, ROUNDS + 1):
                measured = wrk_post(f"{url}/v1/runs/wait", body, clients=32, seconds=WAIT_S)
                if measured is None:
                    count, _lat = asyncio.run(
                        closed_loop(url, "/v1/runs/wait", json.loads(body), clients=32, seconds=WAIT_S)
                    )
                    runs += count
                else:
                    runs += int(measured[0] * WAIT_S)
                asyncio.run(background_round(url))
                runs += BACKGROUND
                rows.append([f"round {round_no}", runs, *sample(process.pid)])
        finally:
            stop(process)
    table(
        f"Daemon soak: {ROUNDS} rounds of {WAIT_S:.0f} s of /v1/runs/wait (32 clients) + {BACKGROUND} "
        "background runs (SQLite)",
        ["after", "runs", "RSS MiB", "open fds", "threads"],
        rows,
    )
    # The in-process hub keeps ended runs' events for 30 s: memory fills for that long (about
    # ten rounds here), then levels off. The last five rounds show whether it keeps growing.
    settled = rows[max(len(rows) - 6, 0)]
    last = rows[-1]
    runs_between = int(last[1]) - int(settled[1])  # type: ignore[call-overload]
    growth = float(last[2]) - float(settled[2])  # type: ignore[arg-type]
    print(
        f"\nRSS over the last rounds ({settled[0]} → {last[0]}, {runs_between:,} runs): "
        f"{float(settled[2]):.1f} → {float(last[2]):.1f} MiB "  # type: ignore[arg-type]
        f"({growth / max(runs_between / 1000, 1e-9):+.3f} MiB per 1,000 runs)"
    )
    sys.stdout.flush()


if __name__ == "__main__":
    main()

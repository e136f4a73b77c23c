"""`llmspell run examples/hello.lua` start-up: median wall time and peak RSS beside
`python -c pass` measured in the same run (targets: <= 150 ms, <= 40 MB)."""

from __future__ import annotations

import os
import subprocess
import sys
import time

from _common import LLMSPELL, ROOT, env_without_llmspell, median, table

RUNS = 15


def measure(argv: list[str]) -> tuple[float, float]:
    """(median wall ms, median peak RSS MB) of ``argv`` over RUNS runs."""
    walls, rss = [], []
    env = env_without_llmspell()
    for _ in range(RUNS):
        started = time.perf_counter()
        pid = os.fork()
        if pid == 0:
            os.chdir(ROOT)
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, 1)
            os.execve(argv[0], argv, env)
        _, status, usage = os.wait4(pid, 0)
        walls.append((time.perf_counter() - started) * 1000)
        rss.append(usage.ru_maxrss / 1024)
        if os.waitstatus_to_exitcode(status) != 0:
            raise SystemExit(f"{argv} failed")
    return median(walls), median(rss)


def main() -> None:
    subprocess.run(
        [LLMSPELL, "run", "examples/hello.lua"], cwd=ROOT, check=True, capture_output=True
    )  # warm caches
    python_wall, python_rss = measure([sys.executable, "-c", "pass"])
    hello_wall, hello_rss = measure([LLMSPELL, "run", "examples/hello.lua"])
    table(
        f"CLI start-up ({RUNS} runs each)",
        ["command", "median wall ms", "peak RSS MB", "target"],
        [
            ["python -c pass", python_wall, python_rss, ""],
            ["llmspell run examples/hello.lua", hello_wall, hello_rss, "<= 150 ms, <= 40 MB"],
            ["difference", hello_wall - python_wall, hello_rss - python_rss, ""],
        ],
    )


if __name__ == "__main__":
    main()

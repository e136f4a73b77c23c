"""Lua runtime benchmarks: runtime + sandbox creation, a full trivial run, and
Tool.execute("calculator") from a Lua loop (targets: <= 1 ms, >= 20,000 calls/s)."""

from __future__ import annotations

import asyncio
import time

from _common import table
from llmspell.core.context import ExecutionContext, Limits
from llmspell.runtime.runner import execute_script
from llmspell.scripting.api.surface import ScriptEnv
from llmspell.scripting.lua.engine import LuaRun

CREATE_N = 2000
RUN_N = 1000
CALLS = 20000


def bench_create() -> float:
    env, ctx = ScriptEnv(), ExecutionContext()
    LuaRun(env, ctx).close()
    started = time.perf_counter()
    for _ in range(CREATE_N):
        LuaRun(env, ctx).close()
    return (time.perf_counter() - started) / CREATE_N * 1000


async def bench_run() -> float:
    ctx = ExecutionContext(limits=Limits(timeout_s=None))
    await execute_script("return 1", ctx=ctx)
    started = time.perf_counter()
    for _ in range(RUN_N):
        await execute_script("return 1", ctx=ctx)
    return (time.perf_counter() - started) / RUN_N * 1000


async def bench_tool_loop() -> tuple[float, float]:
    source = f"""
    local t0 = os.clock()
    for i = 1, {CALLS} do
      local r = Tool.execute("calculator", {{input = "2 + 3 * 4"}})
      if r.result.value ~= 14 then error("wrong result") end
    end
    return os.clock() - t0
    """
    ctx = ExecutionContext(limits=Limits(timeout_s=None))
    await execute_script('Tool.execute("calculator", {input = "1"})', ctx=ctx)
    started = time.perf_counter()
    outcome = await execute_script(source, ctx=ctx)
    wall = time.perf_counter() - started
    if outcome.error is not None:
        raise SystemExit(str(outcome.error))
    return CALLS / wall, wall / CALLS * 1e6


def main() -> None:
    create_ms = bench_create()
    run_ms = asyncio.run(bench_run())
    calls_per_s, us_per_call = asyncio.run(bench_tool_loop())
    table(
        "Lua runtime",
        ["measure", "value", "target"],
        [
            ["runtime + sandbox creation (ms)", create_ms, "<= 1 ms"],
            ["execute_script('return 1') end to end (ms)", run_ms, ""],
            ["Tool.execute calculator from Lua (calls/s)", calls_per_s, ">= 20,000/s"],
            ["  per call (µs)", us_per_call, ""],
        ],
    )


if __name__ == "__main__":
    main()

"""Hook benchmark: dispatch cost and overhead on a tool-call loop.

Run: ``.venv/bin/python benchmarks/bench_hooks.py [--calls N]``. Prints a table.

- guard: ``hooks_for(ctx)`` with nothing registered, per point (target ≤ 0.3 µs).
- 5 no-op Python hooks on BeforeToolExecution: ``registry.invoke("calculator", ...)`` per
  call with and without them (target overhead ≤ 3 %).
- Lua: a no-op ``Hook.register`` hook on a Lua ``Tool.execute`` loop, per call (target ≤ 20 µs).
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time
from typing import Any

from _common import table
from llmspell.core.context import ExecutionContext, Limits
from llmspell.hooks import HookRegistry, hooks_for, process_hooks
from llmspell.runtime.runner import execute_script
from llmspell.tools import default_registry


def guard_us(n: int) -> float:
    ctx = ExecutionContext()
    started = time.perf_counter()
    for _ in range(n):
        hooks_for(ctx)
    return (time.perf_counter() - started) / n * 1e6


async def tool_loop_us(ctx: ExecutionContext, n: int) -> float:
    registry = default_registry()
    invoke = registry.invoke
    started = time.perf_counter()
    for i in range(n):
        await invoke("calculator", {"input": "x+1", "variables": {"x": i}}, ctx)
    return (time.perf_counter() - started) / n * 1e6


def noop(ctx: Any) -> None:
    return None


async def python_hooks(n: int, rounds: int) -> tuple[float, float]:
    plain = ExecutionContext()
    hooked = ExecutionContext()
    registry = HookRegistry()
    for _ in range(5):
        registry.register("BeforeToolExecution", noop)
    hooked.services["hooks"] = registry
    await tool_loop_us(plain, 500)
    await tool_loop_us(hooked, 500)
    base, with_hooks = [], []
    for _ in range(rounds):  # interleaved so machine noise hits both alike
        base.append(await tool_loop_us(plain, n))
        with_hooks.append(await tool_loop_us(hooked, n))
    return statistics.median(base), statistics.median(with_hooks)


LUA = """
{hook}
local t0 = os.clock()
for i = 1, {n} do Tool.execute("calculator", {{input="x+1", variables={{x=i}}}}) end
return (os.clock() - t0) * 1e6 / {n}
"""


async def lua_per_call(n: int, hook: bool) -> float:
    source = LUA.format(n=n, hook='Hook.register("BeforeToolExecution", function(c) end)' if hook else "")
    ctx = ExecutionContext(limits=Limits(timeout_s=120, max_tool_calls=10 * n))
    started = time.perf_counter()
    outcome = await execute_script(source, script_name="bench.lua", ctx=ctx)
    assert outcome.error is None, outcome.error
    return (time.perf_counter() - started) / n * 1e6


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--calls", type=int, default=5000)
    parser.add_argument("--rounds", type=int, default=7)
    args = parser.parse_args()
    process_hooks().clear()
    guard = min(guard_us(1_000_000) for _ in range(3))
    base, hooked = await python_hooks(args.calls, args.rounds)
    lua_base = statistics.median([await lua_per_call(args.calls, False) for _ in range(3)])
    lua_hook = statistics.median([await lua_per_call(args.calls, True) for _ in range(3)])
    table(
        "Hooks (µs per call; medians)",
        ["measure", "value", "target"],
        [
            ["guard, nothing registered (µs/point)", guard, "≤ 0.3"],
            ["calculator invoke, no hooks (µs)", base, ""],
            ["calculator invoke, 5 no-op Python hooks (µs)", hooked, ""],
            ["overhead of 5 Python hooks (%)", (hooked - base) / base * 100, "≤ 3"],
            ["Lua Tool.execute loop, no hook (µs/call)", lua_base, ""],
            ["Lua Tool.execute loop, 1 Lua hook (µs/call)", lua_hook, ""],
            ["Lua hook cost (µs/call)", lua_hook - lua_base, "≤ 20"],
        ],
    )


if __name__ == "__main__":
    asyncio.run(main())

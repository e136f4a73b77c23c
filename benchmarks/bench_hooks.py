"""Hook benchmark: dispatch cost and overhead on tool-call loops.

Run: ``.venv/bin/python benchmarks/bench_hooks.py [--calls N] [--rounds R] [--wall]``. Prints a table.

- guard: ``hooks_for(ctx)`` with nothing registered, per point (target ≤ 0.3 µs).
- 5 no-op Python hooks on BeforeToolExecution: ``registry.invoke("calculator", ...)`` per
  call with and without them (target overhead ≤ 3 %).
- Lua: a no-op ``Hook.register`` hook on a Lua ``Tool.execute`` loop, per call (target ≤ 20 µs),
  and the 5 Python hooks on the same Lua loop (what script authors pay).

Loops are timed on their own (not the runtime's creation) with process CPU time
(``time.process_time`` in Python, ``os.clock`` in Lua): on a shared machine wall time also
counts the time the process waited for a core. ``--wall`` times the Python loops with
``time.perf_counter`` instead. Variants are interleaved round by round and the table shows
medians.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time
from collections.abc import Callable
from typing import Any

from _common import table
from llmspell.core.context import ExecutionContext, Limits
from llmspell.hooks import HookRegistry, hooks_for, process_hooks
from llmspell.runtime.runner import execute_script
from llmspell.tools import default_registry

CLOCK: Callable[[], float] = time.process_time


def guard_us(n: int) -> float:
    ctx = ExecutionContext()
    started = time.perf_counter()
    for _ in range(n):
        hooks_for(ctx)
    return (time.perf_counter() - started) / n * 1e6


async def tool_loop_us(ctx: ExecutionContext, n: int) -> float:
    registry = default_registry()
    invoke = registry.invoke
    started = CLOCK()
    for i in range(n):
        await invoke("calculator", {"input": "x+1", "variables": {"x": i}}, ctx)
    return (CLOCK() - started) / n * 1e6


def noop(ctx: Any) -> None:
    return None


async def python_hooks(n: int, rounds: int) -> tuple[float, float]:
    plain = ExecutionContext(limits=Limits(timeout_s=None))
    hooked = ExecutionContext(limits=Limits(timeout_s=None))
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
LUA_HOOK = 'Hook.register("BeforeToolExecution", function(c) end)'


async def lua_per_call(n: int, hook: str) -> float:
    """µs per ``Tool.execute`` of the script's loop (timed by the script with ``os.clock``)."""
    source = LUA.format(n=n, hook=LUA_HOOK if hook == "lua" else "")
    handles = [
        process_hooks().register("BeforeToolExecution", noop) for _ in range(5 if hook == "python" else 0)
    ]
    try:
        ctx = ExecutionContext(limits=Limits(timeout_s=120, max_tool_calls=10 * n))
        outcome = await execute_script(source, script_name="bench.lua", ctx=ctx)
    finally:
        for handle in handles:
            handle.unregister()
    assert outcome.error is None, outcome.error
    return float(outcome.result)


async def lua_loops(n: int, rounds: int) -> dict[str, float]:
    kinds = ("none", "lua", "python")
    for kind in kinds:
        await lua_per_call(200, kind)
    samples: dict[str, list[float]] = {kind: [] for kind in kinds}
    for _ in range(rounds):
        for kind in kinds:
            samples[kind].append(await lua_per_call(n, kind))
    return {kind: statistics.median(values) for kind, values in samples.items()}


async def main() -> None:
    global CLOCK
    parser = argparse.ArgumentParser()
    parser.add_argument("--calls", type=int, default=5000)
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--wall", action="store_true", help="time the Python loops with perf_counter")
    args = parser.parse_args()
    if args.wall:
        CLOCK = time.perf_counter
    process_hooks().clear()
    guard = min(guard_us(1_000_000) for _ in range(3))
    base, hooked = await python_hooks(args.calls, args.rounds)
    lua = await lua_loops(args.calls, max(3, args.rounds // 2))
    table(
        "Hooks (µs per call; medians)",
        ["measure", "value", "target"],
        [
            ["guard, nothing registered (µs/point)", guard, "≤ 0.3"],
            ["calculator invoke, no hooks (µs)", base, ""],
            ["calculator invoke, 5 no-op Python hooks (µs)", hooked, ""],
            ["overhead of 5 Python hooks (%)", (hooked - base) / base * 100, "≤ 3"],
            ["Lua Tool.execute loop, no hook (µs/call)", lua["none"], ""],
            ["Lua Tool.execute loop, 1 Lua hook (µs/call)", lua["lua"], ""],
            ["Lua hook cost (µs/call)", lua["lua"] - lua["none"], "≤ 20"],
            ["Lua Tool.execute loop, 5 no-op Python hooks (µs/call)", lua["python"], ""],
            [
                "overhead of 5 Python hooks on the Lua loop (%)",
                (lua["python"] - lua["none"]) / lua["none"] * 100,
                "",
            ],
        ],
    )


if __name__ == "__main__":
    asyncio.run(main())

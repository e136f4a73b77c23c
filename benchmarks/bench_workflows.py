"""Workflow benchmarks: overhead per step (no-op tool steps, target <= 50 us) and a
100-step sequential workflow of chained calculator steps run from Lua (target <= 20 ms).

Run: .venv/bin/python benchmarks/bench_workflows.py
"""

from __future__ import annotations

import asyncio
import statistics
import time
from typing import Any

from _common import table
from llmspell.core.abc import Tool
from llmspell.core.context import ExecutionContext, Limits
from llmspell.runtime.runner import execute_script
from llmspell.tools.registry import ToolRegistry, default_registry
from llmspell.workflows import LocalHost, workflow_from_definition

STEPS = 1000
REPEAT = 20
LUA_STEPS = 100


class NoopTool(Tool):
    name = "noop"
    category = "test"
    description = "Does nothing"
    schema = {"type": "object", "properties": {}}

    async def invoke(self, params: dict[str, Any], ctx: ExecutionContext) -> Any:
        return None


def best_us(samples: list[float], per: int) -> float:
    """Median of the samples in microseconds per item."""
    return statistics.median(samples) / per * 1e6


async def bench_overhead() -> list[tuple[str, float]]:
    registry = ToolRegistry(parent=default_registry())
    registry.register(NoopTool())
    ctx = ExecutionContext(limits=Limits(timeout_s=None))
    quiet = LocalHost(tools=registry)
    events: list[dict[str, Any]] = []
    noisy = LocalHost(tools=registry, emit=events.append)

    direct: list[float] = []
    for _ in range(REPEAT):
        started = time.perf_counter()
        for _ in range(STEPS):
            await registry.invoke("noop", {}, ctx)
        direct.append(time.perf_counter() - started)

    async def timed(spec: dict[str, Any], host: LocalHost) -> list[float]:
        wf = workflow_from_definition(spec)
        await wf.execute(None, ctx, host=host)
        samples = []
        for _ in range(REPEAT):
            events.clear()
            started = time.perf_counter()
            result = await wf.execute(None, ctx, host=host)
            samples.append(time.perf_counter() - started)
            assert result["success"]
        return samples

    tool_steps = {"type": "sequential", "steps": [{"name": f"s{i}", "tool": "noop"} for i in range(STEPS)]}
    templated = {
        "type": "sequential",
        "steps": [
            {"name": f"s{i}", "tool": "noop", "input": {"x": "{{workflow.name}}"}} for i in range(STEPS)
        ],
    }
    fn_steps = {
        "type": "sequential",
        "steps": [{"name": f"s{i}", "fn": lambda ctx: None} for i in range(STEPS)],
    }
    invoke_us = best_us(direct, STEPS)
    with_tools = best_us(await timed(tool_steps, quiet), STEPS)
    with_events = best_us(await timed(tool_steps, noisy), STEPS)
    with_templates = best_us(await timed(templated, quiet), STEPS)
    fn_us = best_us(await timed(fn_steps, quiet), STEPS)
    return [
        ("registry.invoke(noop) alone", invoke_us),
        ("no-op tool step, total", with_tools),
        ("  workflow overhead per step", with_tools - invoke_us),
        ("  same, with an event sink", with_events - invoke_us),
        ("  same, with a templated input", with_templates - invoke_us),
        ("no-op Python function step", fn_us),
    ]


def lua_source() -> str:
    steps = ['{name="s1", tool="calculator", input={input="1 + 1"}}']
    steps += [
        f'{{name="s{i}", tool="calculator", input={{input="x + 1", variables={{x="{{{{steps.s{i - 1}.output.result.value}}}}"}}}}}}'
        for i in range(2, LUA_STEPS + 1)
    ]
    return (
        "local wf = Workflow.sequential{name='chain', steps={\n  "
        + ",\n  ".join(steps)
        + "\n}}\nlocal r = wf:execute()\n"
        + "if not r.success then error(r.errors[1].message) end\n"
        + "return {value = r.output.result.value, ms = r.duration_ms}"
    )


async def bench_lua_chain() -> list[tuple[str, float]]:
    source = lua_source()
    ctx = ExecutionContext(limits=Limits(timeout_s=None))
    await execute_script(source, ctx=ctx)  # warm: imports, tool loading, schema compilation
    walls, inner = [], []
    for _ in range(REPEAT):
        started = time.perf_counter()
        outcome = await execute_script(source, ctx=ctx)
        walls.append((time.perf_counter() - started) * 1000)
        if outcome.error is not None:
            raise SystemExit(str(outcome.error))
        assert outcome.result["value"] == LUA_STEPS + 1
        inner.append(outcome.result["ms"])
    return [
        (f"{LUA_STEPS}-step calculator workflow: wf:execute()", statistics.median(inner)),
        ("  whole script (runtime, definition, execute)", statistics.median(walls)),
    ]


def main() -> None:
    overhead = asyncio.run(bench_overhead())
    table(
        f"Workflow overhead ({STEPS} sequential steps, median of {REPEAT}; target <= 50 us/step)",
        ["measure", "us/step"],
        overhead,
    )
    chain = asyncio.run(bench_lua_chain())
    table(f"Lua workflow (median of {REPEAT}; target <= 20 ms)", ["measure", "ms"], chain)


if __name__ == "__main__":
    main()

"""Tool metrics: the invocation counter and the duration histogram stay exact."""

from __future__ import annotations

import asyncio
from typing import Any

from llmspell.core.context import ExecutionContext
from llmspell.tools import BaseTool, ToolRegistry
from llmspell.tools.registry import _Recorder
from prometheus_client import REGISTRY


class Pause(BaseTool):
    name = "pause-metrics-test"
    category = "test"
    description = "Waits a few milliseconds."
    schema = {"type": "object", "properties": {"s": {"type": "number"}}, "additionalProperties": False}

    async def invoke(self, params: dict[str, Any], ctx: ExecutionContext) -> Any:
        await asyncio.sleep(params["s"])
        return {"ok": True}


def sample(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, {"tool": Pause.name, **labels}) or 0.0


async def test_counter_and_histogram_record_each_call() -> None:
    registry = ToolRegistry()
    registry.register(Pause())
    ctx = ExecutionContext()
    before = {
        "ok": sample("llmspell_tool_invocations_total", status="success"),
        "bad": sample("llmspell_tool_invocations_total", status="validation"),
        "count": sample("llmspell_tool_duration_seconds_count"),
        "sum": sample("llmspell_tool_duration_seconds_sum"),
        "fast": sample("llmspell_tool_duration_seconds_bucket", le="0.001"),
        "slow": sample("llmspell_tool_duration_seconds_bucket", le="30.0"),
        "all": sample("llmspell_tool_duration_seconds_bucket", le="+Inf"),
    }
    for _ in range(3):
        await registry.invoke(Pause.name, {"s": 0.002}, ctx)
    await registry.invoke_envelope(Pause.name, {"s": "x"}, ctx)  # refused by validation
    assert sample("llmspell_tool_invocations_total", status="success") == before["ok"] + 3
    assert sample("llmspell_tool_invocations_total", status="validation") == before["bad"] + 1
    assert sample("llmspell_tool_duration_seconds_count") == before["count"] + 4
    assert sample("llmspell_tool_duration_seconds_bucket", le="+Inf") == before["all"] + 4
    # the three 2 ms calls cannot be in the 1 ms bucket (buckets are cumulative)
    assert sample("llmspell_tool_duration_seconds_bucket", le="0.001") <= before["fast"] + 1
    assert sample("llmspell_tool_duration_seconds_bucket", le="30.0") == before["slow"] + 4
    assert sample("llmspell_tool_duration_seconds_sum") >= before["sum"] + 0.006


def test_recorder_falls_back_to_the_public_methods() -> None:
    calls: list[tuple[str, float]] = []

    class Counter:
        def inc(self) -> None:
            calls.append(("inc", 1))

    class Histogram:
        def observe(self, seconds: float) -> None:
            calls.append(("observe", seconds))

    _Recorder(Counter(), Histogram())(0.25)
    assert calls == [("inc", 1), ("observe", 0.25)]

"""Event.* from Lua, between runs of one process, and tool events from components."""

from __future__ import annotations

import asyncio
from typing import Any

from llmspell.core.context import ExecutionContext, Limits
from llmspell.events import set_process_bus
from llmspell.events.bus_memory import MemoryEventBus
from llmspell.runtime.runner import execute_script


async def run(source: str, bus: MemoryEventBus) -> Any:
    ctx = ExecutionContext(limits=Limits(timeout_s=5, memory_mb=32))
    ctx.services["event_bus"] = bus
    outcome = await execute_script(source, script_name="t.lua", ctx=ctx)
    assert outcome.error is None, outcome.error
    return outcome.result


async def test_publish_subscribe_receive_unsubscribe() -> None:
    bus = MemoryEventBus()
    result = await run(
        """
        local id = Event.subscribe("order.*")
        Event.publish("order.created", {n=1}, {correlation_id="abc"})
        Event.publish("other.thing", {n=2})
        local e = Event.receive(id, 500)
        local none = Event.receive(id, 10)
        local gone = Event.unsubscribe(id)
        local ok, err = pcall(Event.receive, id, 1)
        return {type=e.type, n=e.data.n, corr=e.correlation_id, lang=e.language,
                none=(none == nil), gone=gone, code=err.code}
        """,
        bus,
    )
    assert result == {
        "type": "order.created",
        "n": 1,
        "corr": "abc",
        "lang": "lua",
        "none": True,
        "gone": True,
        "code": "NOT_FOUND",
    }
    assert not bus.live  # the run's subscriptions are closed


async def test_events_between_two_runs_and_tool_events() -> None:
    bus = MemoryEventBus()
    set_process_bus(bus)
    try:
        listener = asyncio.create_task(
            run(
                """
                local id = Event.subscribe("ping")
                local e = Event.receive(id, 3000)
                return e and e.data
                """,
                bus,
            )
        )
        while not bus.live:
            await asyncio.sleep(0.005)
        tools = await bus.subscribe("tool.*")
        await run('Event.publish("ping", "hello") Tool.execute("calculator", {input="1+1"})', bus)
        assert await asyncio.wait_for(listener, 5) == "hello"
        kinds = [(await tools.receive(1)).type for _ in range(2)]  # type: ignore[union-attr]
        assert kinds == ["tool.started", "tool.completed"]
    finally:
        set_process_bus(None)

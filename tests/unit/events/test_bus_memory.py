"""In-process event bus: glob matching, ordering, overflow policies, groups, threads."""

from __future__ import annotations

import asyncio
import resource
import threading

import pytest
from llmspell.core.errors import LimitExceeded, ValidationError
from llmspell.events import UniversalEvent, open_event_bus
from llmspell.events.bus_memory import MemoryEventBus
from llmspell.events.flow import FlowController, compile_pattern


def test_glob_matching() -> None:
    assert compile_pattern("tool.*")("tool.started")
    assert compile_pattern("tool.*")("tool.a.b")
    assert not compile_pattern("tool.*")("agent.started")
    assert compile_pattern("*.failed")("workflow.step.failed")
    assert compile_pattern("agent.?")("agent.x") and not compile_pattern("agent.?")("agent.xy")
    assert compile_pattern("exact")("exact") and not compile_pattern("exact")("exactly")
    assert compile_pattern("*")("anything")
    for bad in ("", "a b", "x;y"):
        with pytest.raises(ValidationError):
            compile_pattern(bad)


async def test_events_carry_the_universal_envelope_in_order() -> None:
    bus = open_event_bus(None, source="test")
    tools = await bus.subscribe("tool.*")
    everything = await bus.subscribe("*")
    for i in range(100):
        await bus.publish("tool.started" if i % 2 else "agent.started", {"i": i}, correlation_id="c1")
    got = [await tools.receive(1) for _ in range(50)]
    assert [e.data["i"] for e in got if e] == list(range(1, 100, 2))
    first = await everything.receive(1)
    assert isinstance(first, UniversalEvent)
    body = first.to_dict()
    assert set(body) == {
        "id",
        "type",
        "data",
        "timestamp",
        "sequence",
        "correlation_id",
        "source",
        "language",
        "schema_version",
    }
    assert (first.sequence, first.correlation_id, first.source) == (1, "c1", "test")
    assert UniversalEvent.from_dict(body) == first
    seqs = [first.sequence] + [e.sequence for e in [await everything.receive(1) for _ in range(99)] if e]
    assert seqs == list(range(1, 101))
    assert await tools.receive(0.01) is None
    await bus.aclose()


async def test_drop_oldest_keeps_memory_bounded_under_a_million_event_burst() -> None:
    bus = MemoryEventBus(flow=FlowController(capacity=1000, overflow="drop_oldest"))
    slow = await bus.subscribe("burst.*")
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB
    for i in range(1_000_000):
        await bus.publish("burst.x", i)
    grown = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) * 1024
    stats = slow.stats
    assert stats["queued"] == 1000 and stats["dropped"] == 999_000
    assert grown < 30_000_000, f"memory grew by {grown} bytes"
    first = await slow.receive(1)
    assert first is not None and first.data == 999_000  # the newest 1000 survive, in order
    await bus.aclose()


async def test_fail_policy_refuses_the_publisher() -> None:
    bus = MemoryEventBus()
    await bus.subscribe("x", capacity=3, overflow="fail")
    for _ in range(3):
        await bus.publish("x")
    with pytest.raises(LimitExceeded, match="too slow"):
        await bus.publish("x")


async def test_block_policy_waits_for_room_then_times_out() -> None:
    bus = MemoryEventBus(flow=FlowController(block_timeout_s=0.2))
    sub = await bus.subscribe("x", capacity=2, overflow="block")
    await bus.publish("x", 1)
    await bus.publish("x", 2)
    publisher = asyncio.create_task(bus.publish("x", 3))
    await asyncio.sleep(0.02)
    assert not publisher.done()  # blocked on the full queue
    assert (await sub.receive(1)).data == 1  # type: ignore[union-attr]
    await asyncio.wait_for(publisher, 1)
    assert [(await sub.receive(1)).data for _ in range(2)] == [2, 3]  # type: ignore[union-attr]
    await bus.publish("x", 4)
    await bus.publish("x", 5)
    with pytest.raises(LimitExceeded, match="stayed full"):
        await bus.publish("x", 6)


async def test_consumer_group_shares_events_and_unsubscribe() -> None:
    bus = MemoryEventBus()
    a = await bus.subscribe("job.*", group="workers")
    b = await bus.subscribe("job.*", group="workers")
    for i in range(10):
        await bus.publish("job.new", i)
    got = []
    for sub in (a, b) * 5:
        event = await sub.receive(1)
        assert event is not None
        got.append(event.data)
    assert sorted(got) == list(range(10))
    await a.aclose()
    await bus.publish("job.new", 10)
    assert (await b.receive(1)).data == 10  # type: ignore[union-attr]
    await b.aclose()
    assert not bus.live
    assert await b.receive(0.01) is None


async def test_publisher_on_another_thread_wakes_the_reader() -> None:
    bus = MemoryEventBus()
    sub = await bus.subscribe("t.*")

    def other_thread() -> None:
        asyncio.run(bus.publish("t.x", "from thread"))

    waiter = asyncio.create_task(sub.receive(5))
    await asyncio.sleep(0.01)
    thread = threading.Thread(target=other_thread)
    thread.start()
    event = await asyncio.wait_for(waiter, 5)
    thread.join()
    assert event is not None and event.data == "from thread"

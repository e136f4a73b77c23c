"""Run events persisted while runs last: one periodic flush for every running run."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from typing import Any

import pytest
from llmspell.events.memory import MemoryRunEventHub
from llmspell.runtime.events import PeriodicEventFlush, RunEventWriter
from llmspell.storage import RunSpec, Store


async def _writers(store: Store, hub: MemoryRunEventHub, n: int, *, age_s: float) -> list[RunEventWriter]:
    writers = []
    for _ in range(n):
        run = await store.runs.create(RunSpec(code="return 1"))
        writer = RunEventWriter(run.id, store, hub)
        writer.started -= age_s
        writers.append(writer)
    return writers


async def _stored(store: Store, writer: RunEventWriter) -> list[int]:
    return [event.seq for event in await store.events.list(writer.run_id)]


async def _until(condition: Any, timeout_s: float = 10.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not await condition():
        assert time.monotonic() < deadline, "condition not met in time"
        await asyncio.sleep(0.02)


async def test_one_tick_stores_every_due_run_in_one_batch(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    hub = MemoryRunEventHub()
    batches: list[int] = []
    appends = store.events._appends  # type: ignore[attr-defined]
    write = appends._flush

    async def counted(items: Sequence[Any]) -> Any:
        batches.append(len(items))
        return await write(items)

    monkeypatch.setattr(appends, "_flush", counted)
    old = await _writers(store, hub, 20, age_s=60)
    young = (await _writers(store, hub, 1, age_s=-60))[0]  # as if it had just started
    flush = PeriodicEventFlush(period_s=0.05)
    for writer in [*old, young]:
        writer.emit("status", {"status": "running"})
        writer.write("hello")
        flush.watch(writer)

    async def all_old_stored() -> bool:
        return all([await _stored(store, writer) == [1, 2] for writer in old])

    await _until(all_old_stored)
    assert batches[0] == 20  # the 20 runs due in one transaction
    assert await _stored(store, young) == []  # not a period old: stored with its outcome
    assert [seq for seq, _kind, _data in young.take_pending()] == [1, 2]
    for writer in [*old, young]:
        flush.forget(writer)
        await writer.drain()


async def test_a_forgotten_run_keeps_its_events_for_its_end(store: Store) -> None:
    hub = MemoryRunEventHub()
    (writer,) = await _writers(store, hub, 1, age_s=60)
    flush = PeriodicEventFlush(period_s=0.02)
    flush.watch(writer)
    writer.emit("status", {"status": "running"})
    flush.forget(writer)
    await writer.drain()
    await asyncio.sleep(0.1)  # ticks that may come must not take the events
    assert [seq for seq, _kind, _data in writer.take_pending()] == [1]
    assert await _stored(store, writer) == []


async def test_a_failed_flush_keeps_the_events_pending(store: Store) -> None:
    hub = MemoryRunEventHub()
    writer = RunEventWriter("f" * 32, store, hub)  # no such run: the append is refused
    writer.started -= 60
    writer.emit("status", {"status": "running"})
    writer.emit("log", {"text": "x"})
    flush = PeriodicEventFlush(period_s=0.02)
    flush.watch(writer)
    await asyncio.sleep(0.2)  # several ticks, each failing
    flush.forget(writer)
    await writer.drain()
    assert [seq for seq, _kind, _data in writer.take_pending()] == [1, 2]


async def test_the_in_process_hub_gets_events_without_a_task(store: Store) -> None:
    hub = MemoryRunEventHub()
    (writer,) = await _writers(store, hub, 1, age_s=0)
    tasks = len(asyncio.all_tasks())
    writer.emit("status", {"status": "running"})  # on the owner loop: published at once
    writer.write("hello")
    assert len(asyncio.all_tasks()) == tasks
    assert await hub.has_history(writer.run_id)
    seen = []
    async for event in hub.subscribe(writer.run_id):
        seen.append((event.id, event.event))
        if event.id == 2:
            break
    assert seen == [(1, "status"), (2, "stdout")]


async def test_events_from_another_thread_reach_the_hub_in_order(store: Store) -> None:
    import threading

    hub = MemoryRunEventHub()
    (writer,) = await _writers(store, hub, 1, age_s=0)

    def produce() -> None:
        for i in range(200):
            writer.emit("log", {"i": i})

    thread = threading.Thread(target=produce)
    thread.start()
    ids = []
    async for event in hub.subscribe(writer.run_id):
        ids.append(event.id)
        if event.id == 200:
            break
    thread.join()
    await writer.drain()
    assert ids == list(range(1, 201))

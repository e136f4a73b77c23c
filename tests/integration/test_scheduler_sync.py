"""The scheduler's sync reads only the schedules that changed since the last one."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

from llmspell.runtime.scheduler import Scheduler
from llmspell.storage import Store


async def test_sync_rereads_no_unchanged_schedule_enabled_or_not(store: Store) -> None:
    await store.scripts.put("noop", "return 1")
    for i in range(5):
        await store.schedules.create(name=f"on-{i}", script_name="noop", interval_s=3600)
        await store.schedules.create(name=f"off-{i}", script_name="noop", interval_s=3600, enabled=False)
    reads: list[str] = []
    get = store.schedules.get

    async def counting_get(schedule_id: str) -> Any:
        reads.append(schedule_id)
        return await get(schedule_id)

    store.schedules.get = counting_get  # type: ignore[method-assign]
    scheduler = Scheduler(SimpleNamespace(store=store))  # type: ignore[arg-type]
    await scheduler.sync(catch_up=True)
    assert len(reads) == 10
    # Another schedule: the next sync reads it alone (it read all 5 disabled ones again).
    made = await store.schedules.create(name="late", script_name="noop", interval_s=60, enabled=False)
    reads.clear()
    await scheduler.sync()
    assert reads == [made.id]
    # Enabling one is a change: it is read, and loaded.
    enabled = await store.schedules.update(made.id, enabled=True)
    reads.clear()
    await scheduler.sync()
    assert reads == [enabled.id] and enabled.id in scheduler._entries

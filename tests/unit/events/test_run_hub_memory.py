"""The in-process run event hub keeps what live readers need, and not more."""

from __future__ import annotations

import asyncio

from llmspell.events.abc import RunEvent
from llmspell.events.memory import MemoryRunEventHub


def _events(run_id: str, *kinds: str) -> list[RunEvent]:
    return [RunEvent(run_id=run_id, id=i, event=kind, data={}) for i, kind in enumerate(kinds, 1)]


async def test_a_reader_leaving_a_run_nobody_published_leaves_nothing_behind() -> None:
    hub = MemoryRunEventHub()
    reader = hub.subscribe("never-ran")
    waiting = asyncio.ensure_future(anext(reader))
    await asyncio.sleep(0)  # the reader is waiting on the run's stream
    assert len(hub._streams) == 1
    waiting.cancel()
    await asyncio.gather(waiting, return_exceptions=True)
    await reader.aclose()
    assert hub._streams == {}


async def test_a_waiting_reader_gets_the_events_of_a_run_that_starts_later() -> None:
    hub = MemoryRunEventHub()

    async def read() -> list[str]:
        return [event.event async for event in hub.subscribe("late")]

    reading = asyncio.ensure_future(read())
    await asyncio.sleep(0)
    hub.publish_nowait(_events("late", "status", "result", "end"))
    assert await asyncio.wait_for(reading, 5) == ["status", "result", "end"]
    assert await hub.has_history("late")  # ended: kept for retention_s


async def test_ended_runs_are_dropped_after_the_retention() -> None:
    hub = MemoryRunEventHub(retention_s=0.0)  # due as soon as they end
    hub.publish_nowait(_events("running", "status"))
    hub.publish_nowait(_events("ended", "status", "end"))
    assert not await hub.has_history("ended")
    assert await hub.has_history("running")  # a run still going keeps its events
    kept = MemoryRunEventHub()
    kept.publish_nowait(_events("ended", "status", "end"))
    assert await kept.has_history("ended")

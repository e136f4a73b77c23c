"""In-process run event hub (the embedded default): one buffer per active run."""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import AsyncIterator, Sequence

from .abc import RunEvent, RunEventHub

__all__ = ["MemoryRunEventHub"]


class _Stream:
    __slots__ = ("changed", "ended_at", "events", "readers")

    def __init__(self, max_events: int) -> None:
        self.events: deque[RunEvent] = deque(maxlen=max_events)
        self.changed = asyncio.Event()
        self.ended_at: float | None = None
        self.readers = 0


class MemoryRunEventHub(RunEventHub):
    """Keeps the last ``max_events`` events of each run, and a finished run's events for
    ``retention_s`` seconds. Must be used from one event loop.

    Readers of a finished run read the store (it holds the run's events before ``end`` is
    published); the hub's copy of a finished run only serves a reader who saw the run
    unfinished and subscribes just after its end, so it is kept briefly: at 1,000 runs/s a
    five-minute retention held close to 1 GB of ended streams (~3 KB each). A stream
    nobody published to is dropped when its last reader leaves.
    """

    def __init__(self, *, max_events: int = 10_000, retention_s: float = 30.0) -> None:
        self._streams: dict[str, _Stream] = {}
        self._ended: deque[tuple[float, str]] = deque()  # (ended_at, run_id), oldest first
        self._max_events = max_events
        self._retention_s = retention_s
        self._closed = False

    def _stream(self, run_id: str) -> _Stream:
        stream = self._streams.get(run_id)
        if stream is None:
            stream = self._streams[run_id] = _Stream(self._max_events)
        return stream

    def _expire(self) -> None:
        cutoff = time.monotonic() - self._retention_s
        while self._ended and self._ended[0][0] < cutoff:
            _, run_id = self._ended.popleft()
            self._streams.pop(run_id, None)

    async def publish(self, events: Sequence[RunEvent]) -> None:
        self.publish_nowait(events)

    def publish_nowait(self, events: Sequence[RunEvent]) -> bool:
        if not events:
            return True
        stream = self._stream(events[0].run_id)
        stream.events.extend(events)
        if events[-1].event == "end":
            stream.ended_at = time.monotonic()
            self._ended.append((stream.ended_at, events[0].run_id))
            self._expire()
        stream.changed.set()
        stream.changed = asyncio.Event()
        return True

    async def subscribe(self, run_id: str, after: int = 0) -> AsyncIterator[RunEvent]:
        last = after
        stream = self._stream(run_id)
        stream.readers += 1
        try:
            while not self._closed:
                waiter = stream.changed
                for event in list(stream.events):
                    if event.id > last:
                        last = event.id
                        yield event
                        if event.event == "end":
                            return
                await waiter.wait()
        finally:
            stream.readers -= 1
            if not stream.readers and not stream.events and self._streams.get(run_id) is stream:
                del self._streams[run_id]

    async def has_history(self, run_id: str) -> bool:
        stream = self._streams.get(run_id)
        return stream is not None and bool(stream.events)

    async def aclose(self) -> None:
        self._closed = True
        for stream in self._streams.values():
            stream.changed.set()

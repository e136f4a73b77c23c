"""Server-sent events: run events as ``id:``/``event:``/``data:`` frames with heartbeats."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator

from ..core.aio import aclose_iterator
from ..events.abc import RunEvent

__all__ = ["HEARTBEAT_S", "sse_frames"]

HEARTBEAT_S = 15.0


def frame(event: RunEvent) -> str:
    data = json.dumps(event.data, default=str, separators=(",", ":"))
    return f"id: {event.id}\nevent: {event.event}\ndata: {data}\n\n"


async def sse_frames(events: AsyncIterator[RunEvent], heartbeat_s: float = HEARTBEAT_S) -> AsyncIterator[str]:
    """Frames of ``events``, with a comment line whenever ``heartbeat_s`` pass in silence."""
    iterator = events.__aiter__()
    pending: asyncio.Task[RunEvent] | None = None
    try:
        while True:
            if pending is None:
                pending = asyncio.ensure_future(iterator.__anext__())
            done, _ = await asyncio.wait([pending], timeout=heartbeat_s)
            if not done:
                yield ": heartbeat\n\n"
                continue
            try:
                event = pending.result()
            except StopAsyncIteration:
                return
            pending = None
            yield frame(event)
            if event.event == "end":
                return
    finally:
        if pending is not None and not pending.done():
            pending.cancel()
        await aclose_iterator(iterator)

"""``/v1/events``: the process event bus for operators (SSE tail, publish); run timelines."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any

from fastapi import APIRouter, Depends, Query
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, ConfigDict, Field

from ...events.abc import Subscription, UniversalEvent
from ...runtime.abc import ControlPlane
from ..deps import control, require
from ..sse import HEARTBEAT_S

router = APIRouter(tags=["events"])


class PublishBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    type: str = Field(min_length=1, max_length=200)
    data: Any = None
    correlation_id: str = ""
    source: str = "rest"


def event_frame(event: UniversalEvent) -> str:
    """One SSE frame: ``id:`` the event id, ``event:`` its type, ``data:`` the envelope."""
    body = json.dumps(event.to_dict(), default=str, separators=(",", ":"))
    return f"id: {event.id}\nevent: {event.type}\ndata: {body}\n\n"


async def _frames(sub: Subscription, heartbeat_s: float) -> AsyncIterator[str]:
    try:
        # Tells the client the subscription exists: events published after this line arrive.
        yield ": subscribed\n\n"
        while True:
            event = await sub.receive(heartbeat_s)
            yield ": heartbeat\n\n" if event is None else event_frame(event)
    finally:
        await asyncio.shield(sub.aclose())


@router.get("/v1/events", dependencies=[Depends(require("events:read"))])
async def tail_events(
    pattern: str = Query("*", max_length=200, description="Glob over event types: tool.*, *.failed"),
) -> StreamingResponse:
    """Server-sent events of the process bus (every replica's with Redis) matching ``pattern``."""
    from ...events.bus import process_bus

    sub = await process_bus().subscribe(pattern, overflow="drop_oldest")
    return StreamingResponse(
        _frames(sub, HEARTBEAT_S),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )


@router.post("/v1/events", status_code=201, dependencies=[Depends(require("events:write"))])
async def publish(body: PublishBody) -> dict[str, Any]:
    """Publish one event; returns the envelope (id, sequence, timestamp...)."""
    from ...events.bus import process_bus

    bus = process_bus()
    event = await bus.publish(body.type, body.data, correlation_id=body.correlation_id, source=body.source)
    await bus.flush()
    return event.to_dict()


@router.get("/v1/runs/{run_id}/timeline", dependencies=[Depends(require("runs:read"))])
async def run_timeline(run_id: str, plane: ControlPlane = Depends(control)) -> dict[str, Any]:
    """``{run, items: [{seq, time, offset_ms, kind, summary, data}]}`` from the run's stored events."""
    from ...events.timeline import build_timeline

    run = await plane.get_run(run_id)
    store = plane.store  # type: ignore[attr-defined]
    rows: list[tuple[int, str, Any, Any]] = []
    after = 0
    while True:
        batch = await store.events.list(run_id, after, 1000)
        rows += [(r.seq, r.type, r.data, r.created_at) for r in batch]
        if len(batch) < 1000:
            break
        after = batch[-1].seq
    return {"run": run, "items": build_timeline(rows)}

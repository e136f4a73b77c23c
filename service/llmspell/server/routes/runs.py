"""``/v1/runs``: create (background, wait, stream), get, list, cancel, events."""

from __future__ import annotations

from typing import Any, Literal

from fastapi import APIRouter, Depends, Header, Query
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, ConfigDict, Field

from ...runtime.abc import ControlPlane, RunRequest
from ..deps import control, require
from ..sse import sse_frames

router = APIRouter(prefix="/v1/runs", tags=["runs"])


class ScriptRef(BaseModel):
    """Inline ``{code, engine}`` or stored ``{name, version}``."""

    model_config = ConfigDict(extra="forbid")
    code: str | None = None
    engine: str = "lua"
    name: str | None = None
    version: int | None = None


class RunBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    script: ScriptRef
    args: list[Any] | dict[str, Any] = Field(default_factory=list)
    session_id: str | None = None
    timeout_s: float | None = None
    webhook: str | None = None
    metadata: dict[str, Any] = Field(default_factory=dict)
    max_attempts: int = Field(1, ge=1, le=10, description="Attempts when a replica dies mid-run.")


def run_request(body: RunBody, idempotency_key: str | None = None) -> RunRequest:
    return RunRequest(
        code=body.script.code,
        engine=body.script.engine,
        script_name=body.script.name,
        script_version=body.script.version,
        args=body.args,
        session_id=body.session_id,
        timeout_s=body.timeout_s,
        webhook=body.webhook,
        metadata=body.metadata,
        idempotency_key=idempotency_key,
        max_attempts=body.max_attempts,
    )


_SSE_HEADERS = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}


@router.post("", status_code=202, dependencies=[Depends(require("runs:write"))])
async def create_run(
    body: RunBody,
    plane: ControlPlane = Depends(control),
    idempotency_key: str | None = Header(default=None),
) -> dict[str, Any]:
    """Queue a run in the background; 202 with ``{id, status: queued}``."""
    return await plane.create_run(run_request(body, idempotency_key))


@router.post("/wait", dependencies=[Depends(require("runs:write"))])
async def wait_run(
    body: RunBody,
    plane: ControlPlane = Depends(control),
    idempotency_key: str | None = Header(default=None),
) -> dict[str, Any]:
    """Run to completion: ``{id, status, result, stdout, error, usage, duration_ms}``."""
    return await plane.wait_run(run_request(body, idempotency_key))


@router.post("/stream", dependencies=[Depends(require("runs:write"))])
async def stream_run(
    body: RunBody,
    plane: ControlPlane = Depends(control),
    idempotency_key: str | None = Header(default=None),
    last_event_id: str | None = Header(default=None),
) -> StreamingResponse:
    """Start a run and stream its events (``text/event-stream``) until ``end``; a retry with
    the same ``Idempotency-Key`` and ``Last-Event-ID`` resumes after that event."""
    after = _event_id(last_event_id)
    if idempotency_key is not None and after > 0:
        run_id = (await plane.create_run(run_request(body, idempotency_key)))["id"]
        events = plane.run_events(run_id, after, follow=True)
    else:
        events = plane.stream_run(run_request(body, idempotency_key))
        run_id = None
    first = await anext(events, None)  # errors before the run exists become problem responses

    async def chained() -> Any:
        if first is None:  # resumed after the last event: nothing left
            return
        yield first
        async for event in events:
            yield event

    headers = {**_SSE_HEADERS, "X-Run-Id": run_id or (first.run_id if first is not None else "")}
    return StreamingResponse(sse_frames(chained()), media_type="text/event-stream", headers=headers)


@router.get("", dependencies=[Depends(require("runs:read"))])
async def list_runs(
    plane: ControlPlane = Depends(control),
    status: Literal["queued", "running", "succeeded", "failed", "cancelled", "timeout"] | None = None,
    script: str | None = None,
    schedule_id: str | None = None,
    limit: int = Query(50, ge=1, le=1000),
    cursor: str | None = None,
) -> dict[str, Any]:
    """Runs, newest first: ``{items, next_cursor}``."""
    return await plane.list_runs(
        status=status, script=script, schedule_id=schedule_id, limit=limit, cursor=cursor
    )


@router.get("/{run_id}", dependencies=[Depends(require("runs:read"))])
async def get_run(run_id: str, plane: ControlPlane = Depends(control)) -> dict[str, Any]:
    """One run."""
    return await plane.get_run(run_id)


@router.get("/{run_id}/events", dependencies=[Depends(require("runs:read"))])
async def run_events(
    run_id: str,
    plane: ControlPlane = Depends(control),
    last_event_id: str | None = Header(default=None),
    after: int | None = Query(None, ge=0),
    follow: bool = True,
) -> StreamingResponse:
    """The run's events as SSE; ``Last-Event-ID`` (or ``?after=``) resumes without loss."""
    start = after if after is not None else _event_id(last_event_id)
    await plane.get_run(run_id)
    events = plane.run_events(run_id, start, follow=follow)
    return StreamingResponse(sse_frames(events), media_type="text/event-stream", headers=_SSE_HEADERS)


@router.post("/{run_id}/cancel", dependencies=[Depends(require("runs:write"))])
async def cancel_run(run_id: str, plane: ControlPlane = Depends(control)) -> dict[str, Any]:
    """Cancel: a queued run never starts; a running one stops within a second."""
    return await plane.cancel_run(run_id)


def _event_id(header: str | None) -> int:
    if header is None or not header.strip():
        return 0
    try:
        return max(0, int(header.strip()))
    except ValueError:
        from ...core.errors import ValidationError

        raise ValidationError("Last-Event-ID must be an integer event id") from None

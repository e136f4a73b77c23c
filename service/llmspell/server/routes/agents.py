"""``/v1/agents``: stored agent definitions and their execution (whole or as SSE tokens)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

from fastapi import APIRouter, Body, Depends, Query, Response
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, ConfigDict

from ...events.abc import RunEvent
from ...runtime.abc import ControlPlane
from ...runtime.definitions import AgentService, definition_services
from ..deps import control, require
from ..sse import sse_frames

router = APIRouter(prefix="/v1/agents", tags=["agents"])

_SSE_HEADERS = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}


async def agents(plane: ControlPlane = Depends(control)) -> AgentService:
    """The daemon's agent service."""
    return definition_services(plane)[0]


class ExecuteBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    input: str | dict[str, Any]
    session_id: str | None = None


@router.post("", status_code=201, dependencies=[Depends(require("agents:write"))])
async def create_agent(
    body: dict[str, Any] = Body(...), service: AgentService = Depends(agents)
) -> dict[str, Any]:
    """Store ``{name, model, system_prompt, tools, ...}`` (``model``: ``"provider/model"`` or a
    provider configuration object); saving a name again replaces it. The key is never returned."""
    return await service.create(body)


@router.get("", dependencies=[Depends(require("agents:read"))])
async def list_agents(
    service: AgentService = Depends(agents),
    limit: int = Query(100, ge=1, le=1000),
    cursor: str | None = None,
) -> dict[str, Any]:
    """Stored agents by name: ``{items, next_cursor}``."""
    return await service.list(limit=limit, cursor=cursor)


@router.get("/{name}", dependencies=[Depends(require("agents:read"))])
async def get_agent(name: str, service: AgentService = Depends(agents)) -> dict[str, Any]:
    """A stored agent (``has_api_key`` instead of the key)."""
    return await service.get(name)


@router.delete("/{name}", status_code=204, dependencies=[Depends(require("agents:write"))])
async def delete_agent(name: str, service: AgentService = Depends(agents)) -> Response:
    """Delete a stored agent."""
    await service.delete(name)
    return Response(status_code=204)


@router.post("/{name}/execute", dependencies=[Depends(require("agents:write"))])
async def execute_agent(
    name: str, body: ExecuteBody, service: AgentService = Depends(agents)
) -> dict[str, Any]:
    """``{text, tool_calls, usage, cost, model, finish_reason, metadata}``."""
    return await service.execute(name, body.input, session_id=body.session_id)


@router.post("/{name}/execute/stream", dependencies=[Depends(require("agents:write"))])
async def stream_agent(name: str, body: ExecuteBody, service: AgentService = Depends(agents)) -> Response:
    """``text/event-stream``: ``token`` events (``{text}``), then ``end`` (``{status, output}``)."""
    events = service.stream(name, body.input, session_id=body.session_id)
    # The first event is awaited here so that an unknown agent or bad input is a 404/400.
    first = await anext(events)

    async def chained() -> AsyncIterator[RunEvent]:
        yield first
        async for event in events:
            yield event

    return StreamingResponse(sse_frames(chained()), media_type="text/event-stream", headers=_SSE_HEADERS)

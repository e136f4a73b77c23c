"""``/v1/workflows``: stored workflow definitions (the script table form as JSON) and runs."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Query, Response
from pydantic import BaseModel, ConfigDict

from ...runtime.abc import ControlPlane
from ...runtime.definitions import WorkflowService, definition_services
from ..deps import control, require

router = APIRouter(prefix="/v1/workflows", tags=["workflows"])


async def workflows(plane: ControlPlane = Depends(control)) -> WorkflowService:
    """The daemon's workflow service."""
    return definition_services(plane)[1]


class WorkflowBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str
    definition: dict[str, Any]
    description: str | None = None


class ExecuteBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    input: Any = None


@router.post("", status_code=201, dependencies=[Depends(require("agents:write"))])
async def create_workflow(
    body: WorkflowBody, service: WorkflowService = Depends(workflows)
) -> dict[str, Any]:
    """Store ``{name, definition}``; the definition is checked (400 naming the field)."""
    return await service.create(body.name, body.definition, body.description)


@router.get("", dependencies=[Depends(require("agents:read"))])
async def list_workflows(
    service: WorkflowService = Depends(workflows),
    limit: int = Query(100, ge=1, le=1000),
    cursor: str | None = None,
) -> dict[str, Any]:
    """Stored workflows by name: ``{items, next_cursor}``."""
    return await service.list(limit=limit, cursor=cursor)


@router.get("/{name}", dependencies=[Depends(require("agents:read"))])
async def get_workflow(name: str, service: WorkflowService = Depends(workflows)) -> dict[str, Any]:
    """A stored workflow with its definition."""
    return await service.get(name)


@router.delete("/{name}", status_code=204, dependencies=[Depends(require("agents:write"))])
async def delete_workflow(name: str, service: WorkflowService = Depends(workflows)) -> Response:
    """Delete a stored workflow."""
    await service.delete(name)
    return Response(status_code=204)


@router.post("/{name}/execute", dependencies=[Depends(require("agents:write"))])
async def execute_workflow(
    name: str, body: ExecuteBody | None = None, service: WorkflowService = Depends(workflows)
) -> dict[str, Any]:
    """``{success, output, outputs, errors, duration_ms, execution_id}`` (a failed step is
    ``success: false``, not an HTTP error)."""
    return await service.execute(name, body.input if body is not None else None)

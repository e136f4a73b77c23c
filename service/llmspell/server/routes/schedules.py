"""``/v1/schedules``: cron and interval schedules of stored scripts."""

from __future__ import annotations

from typing import Any, Literal

from fastapi import APIRouter, Depends, Query, Response
from pydantic import BaseModel, ConfigDict

from ...runtime.abc import ControlPlane, ScheduleSpec
from ..deps import control, require

router = APIRouter(prefix="/v1/schedules", tags=["schedules"])

Overlap = Literal["skip", "queue", "cancel_previous"]


class ScheduleBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str
    script: str
    args: list[Any] | dict[str, Any] | None = None
    cron: str | None = None
    interval_s: float | None = None
    timezone: str = "UTC"
    overlap: Overlap = "skip"
    catchup_window_s: float = 0.0
    enabled: bool = True


class SchedulePatch(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str | None = None
    script: str | None = None
    args: list[Any] | dict[str, Any] | None = None
    cron: str | None = None
    interval_s: float | None = None
    timezone: str | None = None
    overlap: Overlap | None = None
    catchup_window_s: float | None = None
    enabled: bool | None = None


@router.post("", status_code=201, dependencies=[Depends(require("schedules:write"))])
async def create_schedule(body: ScheduleBody, plane: ControlPlane = Depends(control)) -> dict[str, Any]:
    """Create a schedule (400 for an invalid cron expression or timezone)."""
    return await plane.create_schedule(ScheduleSpec(**body.model_dump()))


@router.get("", dependencies=[Depends(require("schedules:read"))])
async def list_schedules(
    plane: ControlPlane = Depends(control),
    limit: int = Query(1000, ge=1, le=1000),
    cursor: str | None = None,
) -> dict[str, Any]:
    """Schedules by name: ``{items, next_cursor}``."""
    return await plane.list_schedules(limit, cursor)


@router.get("/{schedule_id}", dependencies=[Depends(require("schedules:read"))])
async def get_schedule(schedule_id: str, plane: ControlPlane = Depends(control)) -> dict[str, Any]:
    """One schedule."""
    return await plane.get_schedule(schedule_id)


@router.patch("/{schedule_id}", dependencies=[Depends(require("schedules:write"))])
async def update_schedule(
    schedule_id: str, body: SchedulePatch, plane: ControlPlane = Depends(control)
) -> dict[str, Any]:
    """Change the given fields."""
    return await plane.update_schedule(schedule_id, ScheduleSpec(**body.model_dump(exclude_unset=True)))


@router.delete("/{schedule_id}", status_code=204, dependencies=[Depends(require("schedules:write"))])
async def delete_schedule(schedule_id: str, plane: ControlPlane = Depends(control)) -> Response:
    """Delete the schedule (its runs stay)."""
    await plane.delete_schedule(schedule_id)
    return Response(status_code=204)


@router.post("/{schedule_id}/pause", dependencies=[Depends(require("schedules:write"))])
async def pause(schedule_id: str, plane: ControlPlane = Depends(control)) -> dict[str, Any]:
    """Stop firing."""
    return await plane.set_schedule_enabled(schedule_id, False)


@router.post("/{schedule_id}/resume", dependencies=[Depends(require("schedules:write"))])
async def resume(schedule_id: str, plane: ControlPlane = Depends(control)) -> dict[str, Any]:
    """Fire again."""
    return await plane.set_schedule_enabled(schedule_id, True)


@router.post("/{schedule_id}/trigger", status_code=202, dependencies=[Depends(require("schedules:write"))])
async def trigger(schedule_id: str, plane: ControlPlane = Depends(control)) -> dict[str, Any]:
    """Fire now; returns the created run."""
    return await plane.trigger_schedule(schedule_id)


@router.get("/{schedule_id}/runs", dependencies=[Depends(require("runs:read"))])
async def schedule_runs(
    schedule_id: str,
    plane: ControlPlane = Depends(control),
    limit: int = Query(50, ge=1, le=1000),
    cursor: str | None = None,
) -> dict[str, Any]:
    """Runs created by the schedule, newest first."""
    return await plane.schedule_runs(schedule_id, limit=limit, cursor=cursor)

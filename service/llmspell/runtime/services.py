"""Handles a daemon gives its runs (``ExecutionContext.services``).

Runs execute on runtime threads with their own event loops, while the control plane and
its store belong to the API loop: every call is handed over to that loop.
"""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from typing import Any, TypeVar

from ..core.aio import on_loop
from .abc import ControlPlane, ScheduleSpec

__all__ = ["LocalSchedules"]

T = TypeVar("T")


class LocalSchedules:
    """The daemon's schedules for the ``cron-scheduler`` tool of a run."""

    def __init__(self, control: ControlPlane, loop: asyncio.AbstractEventLoop) -> None:
        self._control = control
        self._loop = loop

    async def _on_owner(self, coro: Coroutine[Any, Any, T]) -> T:
        return await on_loop(self._loop, coro)

    async def create(self, spec: dict[str, Any]) -> dict[str, Any]:
        return await self._on_owner(self._control.create_schedule(ScheduleSpec(**spec)))

    async def list(self) -> list[dict[str, Any]]:
        """Every schedule, page after page."""
        items: list[dict[str, Any]] = []
        cursor: str | None = None
        while True:
            page = await self._on_owner(self._control.list_schedules(1000, cursor))
            items += page["items"]
            cursor = page.get("next_cursor")
            if not cursor:
                return items

    async def action(self, schedule_id: str, action: str) -> dict[str, Any]:
        if action == "trigger":
            return await self._on_owner(self._control.trigger_schedule(schedule_id))
        return await self._on_owner(self._control.set_schedule_enabled(schedule_id, action == "resume"))

    async def delete(self, schedule_id: str) -> None:
        await self._on_owner(self._control.delete_schedule(schedule_id))

"""cron-scheduler: create, list, pause, resume, trigger and delete schedules of a daemon.

Inside ``llmspell serve`` the tool manages the schedules of the daemon the script runs in
(the run's ``ctx.services["schedules"]``); anywhere else it talks to the daemon at
``server`` (or ``LLMSPELL_SERVER_URL``) over REST, with ``api_key`` (or ``LLMSPELL_SERVER_KEY``).
"""

from __future__ import annotations

import os
from typing import Any, Protocol

from ...core.context import ExecutionContext
from ...core.errors import ConfigError, LLMSpellError, error_from_code
from ..base import BaseTool, ToolOutput

__all__ = ["CronSchedulerTool", "RemoteSchedules", "ScheduleService"]


class ScheduleService(Protocol):
    """What the tool needs from a daemon (the local control plane or its REST API)."""

    async def create(self, spec: dict[str, Any]) -> dict[str, Any]: ...
    async def list(self) -> list[dict[str, Any]]: ...
    async def action(self, schedule_id: str, action: str) -> dict[str, Any]: ...
    async def delete(self, schedule_id: str) -> None: ...


class RemoteSchedules:
    """:class:`ScheduleService` over the daemon's REST API."""

    def __init__(self, server: str, api_key: str | None, timeout_s: float) -> None:
        self._server = server.rstrip("/")
        self._headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        self._timeout_s = timeout_s

    async def _call(
        self, method: str, path: str, body: Any = None, params: dict[str, Any] | None = None
    ) -> Any:
        import httpx

        try:
            async with httpx.AsyncClient(
                base_url=self._server, headers=self._headers, timeout=self._timeout_s
            ) as http:
                response = await http.request(method, path, json=body, params=params)
        except httpx.HTTPError as exc:
            raise LLMSpellError(f"cannot reach the daemon at {self._server}: {exc}") from None
        if response.status_code >= 400:
            try:
                problem = response.json()
                raise error_from_code(str(problem.get("code")), str(problem.get("detail")))
            except ValueError:
                raise LLMSpellError(f"daemon answered HTTP {response.status_code}") from None
        return response.json() if response.content else None

    async def create(self, spec: dict[str, Any]) -> dict[str, Any]:
        created: dict[str, Any] = await self._call("POST", "/v1/schedules", spec)
        return created

    async def list(self) -> list[dict[str, Any]]:
        """Every schedule, page after page."""
        items: list[dict[str, Any]] = []
        params: dict[str, Any] = {"limit": 1000}
        while True:
            page = await self._call("GET", "/v1/schedules", params=params)
            items += page["items"]
            if not page.get("next_cursor"):
                return items
            params["cursor"] = page["next_cursor"]

    async def action(self, schedule_id: str, action: str) -> dict[str, Any]:
        result: dict[str, Any] = await self._call("POST", f"/v1/schedules/{schedule_id}/{action}")
        return result

    async def delete(self, schedule_id: str) -> None:
        await self._call("DELETE", f"/v1/schedules/{schedule_id}")


_SPEC_FIELDS = (
    "name",
    "script",
    "args",
    "cron",
    "interval_s",
    "timezone",
    "overlap",
    "catchup_window_s",
    "enabled",
)


class CronSchedulerTool(BaseTool):
    """Manage the schedules of the daemon a script runs in (or of ``server``)."""

    name = "cron-scheduler"
    category = "scheduling"
    security_level = "privileged"
    description = (
        "Create, list, pause, resume, trigger or delete cron/interval schedules of stored scripts "
        "in the llmspell daemon this script runs in, or in the daemon at 'server'."
    )
    schema = {
        "type": "object",
        "properties": {
            "operation": {
                "type": "string",
                "enum": ["create", "list", "pause", "resume", "trigger", "delete"],
            },
            "name": {"type": "string", "minLength": 1},
            "script": {"type": "string", "minLength": 1, "description": "Stored script to run."},
            "args": {"type": ["array", "object"]},
            "cron": {"type": "string", "description": "5 fields, or 6 with seconds first."},
            "interval_s": {"type": "number", "exclusiveMinimum": 0},
            "timezone": {"type": "string"},
            "overlap": {"type": "string", "enum": ["skip", "queue", "cancel_previous"]},
            "catchup_window_s": {"type": "number", "minimum": 0},
            "enabled": {"type": "boolean"},
            "id": {"type": "string", "description": "Schedule id (pause, resume, trigger, delete)."},
            "server": {"type": "string", "description": "Daemon URL when not running inside one."},
            "api_key": {"type": "string"},
            "timeout_s": {"type": "number", "exclusiveMinimum": 0, "maximum": 300, "default": 30},
        },
        "required": ["operation"],
        "additionalProperties": False,
    }

    def _service(self, params: dict[str, Any], ctx: ExecutionContext) -> ScheduleService:
        server = params.get("server")
        if server is None:
            local = ctx.services.get("schedules")
            if local is not None:
                service: ScheduleService = local
                return service
            server = os.environ.get("LLMSPELL_SERVER_URL")
        if not server:
            raise ConfigError(
                "cron-scheduler is not running inside a daemon: pass server='http://host:8080' "
                "or set LLMSPELL_SERVER_URL"
            )
        api_key = params.get("api_key") or os.environ.get("LLMSPELL_SERVER_KEY")
        return RemoteSchedules(str(server), api_key, float(params.get("timeout_s", 30)))

    async def invoke(self, params: dict[str, Any], ctx: ExecutionContext) -> Any:
        operation = params["operation"]
        service = self._service(params, ctx)
        if operation == "create":
            self.require(params, "name", "script", operation="create")
            spec = {key: params[key] for key in _SPEC_FIELDS if key in params}
            created = await service.create(spec)
            return ToolOutput(
                operation="create", result=created, message=f"schedule {created['name']} created"
            )
        if operation == "list":
            schedules = await service.list()
            return ToolOutput(operation="list", result=schedules, message=f"{len(schedules)} schedules")
        self.require(params, "id", operation=operation)
        if operation == "delete":
            await service.delete(params["id"])
            return ToolOutput(operation="delete", result={"id": params["id"], "deleted": True})
        result = await service.action(params["id"], operation)
        return ToolOutput(operation=operation, result=result)

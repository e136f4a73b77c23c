"""The control plane: the operations the daemon offers, shared by REST, gRPC and the CLI.

``server/`` (REST routes, gRPC servicers) only parses, authorises, calls one of these
methods and renders the result. Records are plain dicts in the JSON shapes of
docs/service-api.md, so every transport returns the same fields.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

from ..events.abc import RunEvent

__all__ = ["ControlPlane", "RunEvent", "RunRequest", "ScheduleSpec"]


@dataclass(frozen=True, kw_only=True, slots=True)
class RunRequest:
    """A run to start: inline ``code`` (+ ``engine``) or a stored script ``name`` (+ ``version``)."""

    code: str | None = None
    engine: str = "lua"
    script_name: str | None = None
    script_version: int | None = None
    args: list[str] | dict[str, Any] = field(default_factory=list)
    session_id: str | None = None
    timeout_s: float | None = None
    webhook: str | None = None
    metadata: dict[str, Any] = field(default_factory=dict)
    idempotency_key: str | None = None
    max_attempts: int = 1  # retry policy when a replica dies mid-run (lease lost)


@dataclass(frozen=True, kw_only=True, slots=True)
class ScheduleSpec:
    """A schedule as submitted (create) or patched (update: only the fields set)."""

    name: str | None = None
    script: str | None = None
    args: list[str] | dict[str, Any] | None = None
    cron: str | None = None
    interval_s: float | None = None
    timezone: str | None = None
    overlap: str | None = None  # skip | queue | cancel_previous
    catchup_window_s: float | None = None
    enabled: bool | None = None


class ControlPlane(ABC):
    """Every daemon operation. Errors are ``LLMSpellError``s (mapped by each transport)."""

    # Runs -------------------------------------------------------------------------------

    @abstractmethod
    async def create_run(self, request: RunRequest) -> dict[str, Any]:
        """Queue a run; returns the run record (``status: queued``), or the existing run
        for a repeated ``idempotency_key``. Raises ValidationError, NotFound (script)."""

    @abstractmethod
    async def wait_run(self, request: RunRequest) -> dict[str, Any]:
        """Run to completion; returns ``{id, status, result, stdout, error, usage, duration_ms}``.
        A script error is a finished run with status ``failed``, not an exception."""

    @abstractmethod
    def stream_run(self, request: RunRequest) -> AsyncIterator[RunEvent]:
        """Start a run and yield its events until (and including) ``end``."""

    @abstractmethod
    def run_events(self, run_id: str, after: int = 0, follow: bool = True) -> AsyncIterator[RunEvent]:
        """Events of a run with ``id > after``; with ``follow`` keeps waiting until ``end``
        (heartbeats are the transport's job). Raises NotFound."""

    @abstractmethod
    async def get_run(self, run_id: str) -> dict[str, Any]:
        """The run record. Raises NotFound."""

    @abstractmethod
    async def list_runs(
        self,
        *,
        status: str | None = None,
        script: str | None = None,
        schedule_id: str | None = None,
        limit: int = 50,
        cursor: str | None = None,
    ) -> dict[str, Any]:
        """``{items: [run...], next_cursor}``, newest first."""

    @abstractmethod
    async def cancel_run(self, run_id: str) -> dict[str, Any]:
        """Cancel: a queued run never starts; a running one stops within a second."""

    # Scripts ----------------------------------------------------------------------------

    @abstractmethod
    async def put_script(
        self, name: str, code: str, engine: str = "lua", description: str = ""
    ) -> dict[str, Any]:
        """Store a new version (syntax-checked: ScriptSyntaxError with the line)."""

    @abstractmethod
    async def get_script(self, name: str, version: int | None = None) -> dict[str, Any]:
        """A stored script (latest version by default). Raises NotFound."""

    @abstractmethod
    async def list_scripts(self, *, limit: int = 50, cursor: str | None = None) -> dict[str, Any]:
        """``{items, next_cursor}`` with the latest version of each script (without code)."""

    @abstractmethod
    async def delete_script(self, name: str) -> None:
        """Delete every version. Raises NotFound."""

    # Schedules --------------------------------------------------------------------------

    @abstractmethod
    async def create_schedule(self, spec: ScheduleSpec) -> dict[str, Any]:
        """Create (ValidationError for a bad cron/timezone/overlap; Conflict for a taken name)."""

    @abstractmethod
    async def get_schedule(self, schedule_id: str) -> dict[str, Any]:
        """Raises NotFound."""

    @abstractmethod
    async def list_schedules(self, limit: int = 1000, cursor: str | None = None) -> dict[str, Any]:
        """Schedules by name, at most ``limit`` after ``cursor``: ``{items, next_cursor}``."""

    @abstractmethod
    async def update_schedule(self, schedule_id: str, spec: ScheduleSpec) -> dict[str, Any]:
        """Patch the fields set in ``spec``."""

    @abstractmethod
    async def delete_schedule(self, schedule_id: str) -> None:
        """Raises NotFound."""

    @abstractmethod
    async def set_schedule_enabled(self, schedule_id: str, enabled: bool) -> dict[str, Any]:
        """Pause (False) or resume (True)."""

    @abstractmethod
    async def trigger_schedule(self, schedule_id: str) -> dict[str, Any]:
        """Fire now; returns the created run."""

    @abstractmethod
    async def schedule_runs(
        self, schedule_id: str, *, limit: int = 50, cursor: str | None = None
    ) -> dict[str, Any]:
        """Runs created by the schedule, newest first."""

    # Tools ------------------------------------------------------------------------------

    @abstractmethod
    async def list_tools(self, category: str | None = None) -> list[dict[str, Any]]:
        """``[{name, category, description, security_level}]``."""

    @abstractmethod
    async def get_tool(self, name: str) -> dict[str, Any]:
        """``{name, category, description, schema, security_level}``. Raises NotFound."""

    @abstractmethod
    async def invoke_tool(self, name: str, params: dict[str, Any]) -> dict[str, Any]:
        """The tool envelope (``success: false`` with ``error`` on tool failure)."""

    # Health -----------------------------------------------------------------------------

    @abstractmethod
    async def ready(self) -> dict[str, Any]:
        """``{ready: bool, checks: {database, migrations, redis?}}``."""

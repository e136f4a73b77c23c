"""Running one script to an outcome: the code path shared by the CLI, the library and the daemon."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

from ..core.context import ExecutionContext
from ..core.errors import Cancelled, LLMSpellError, Timeout
from ..core.types import Usage
from ..scripting.api.surface import EventSink, OutputSink, ScriptEnv
from ..scripting.factory import create_engine

__all__ = ["CapturedOutput", "RunOutcome", "RunStatus", "execute_script", "status_of"]

RunStatus = Literal["queued", "running", "succeeded", "failed", "cancelled", "timeout"]


def status_of(error: LLMSpellError | None) -> RunStatus:
    """The final run status for an outcome that raised ``error`` (None = success)."""
    if error is None:
        return "succeeded"
    if isinstance(error, Timeout):
        return "timeout"
    if isinstance(error, Cancelled):
        return "cancelled"
    return "failed"


class CapturedOutput:
    """Collects ``print`` output and forwards each line to an optional live sink."""

    def __init__(self, forward: OutputSink | None = None) -> None:
        self._parts: list[str] = []
        self._forward = forward

    def write(self, text: str) -> None:
        self._parts.append(text)
        if self._forward is not None:
            self._forward.write(text)

    def getvalue(self) -> str:
        return "".join(self._parts)


@dataclass(kw_only=True, slots=True)
class RunOutcome:
    """What a finished run produced."""

    status: RunStatus
    result: Any = None
    stdout: str = ""
    error: LLMSpellError | None = None
    usage: Usage = field(default_factory=Usage)
    cost: float | None = None
    duration_ms: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        """``{status, result, stdout, error, usage, cost, duration_ms}`` (the CLI's JSON shape)."""
        return {
            "status": self.status,
            "result": self.result,
            "stdout": self.stdout,
            "error": self.error.to_dict() if self.error is not None else None,
            "usage": self.usage.to_dict(),
            "cost": self.cost,
            "duration_ms": round(self.duration_ms, 3),
        }


async def execute_script(
    source: str,
    *,
    engine: str = "lua",
    script_name: str = "script",
    args: list[str] | None = None,
    ctx: ExecutionContext | None = None,
    stdout: OutputSink | None = None,
    emit: EventSink | None = None,
    settings_loader: Callable[[], Any] | None = None,
    services: dict[str, Any] | None = None,
) -> RunOutcome:
    """Run ``source`` to completion; errors become part of the outcome, never raised.

    ``stdout`` receives each printed line as it happens; the outcome holds all of it.
    """
    ctx = ctx or ExecutionContext()
    captured = CapturedOutput(stdout)
    env = ScriptEnv(
        script_name=script_name,
        args=list(args or []),
        stdout=captured,
        emit=emit,
        settings_loader=settings_loader,
        services=dict(services or {}),
    )
    started = time.perf_counter()
    error: LLMSpellError | None = None
    value: Any = None
    try:
        result = await create_engine(engine).execute(source, env, ctx)
        value = result.value
    except LLMSpellError as exc:
        error = exc
    finally:
        await env.aclose()
    return RunOutcome(
        status=status_of(error),
        result=value,
        stdout=captured.getvalue(),
        error=error,
        usage=env.usage,
        cost=env.cost,
        duration_ms=(time.perf_counter() - started) * 1000.0,
    )

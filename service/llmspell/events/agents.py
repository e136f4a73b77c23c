"""``agent.started`` / ``agent.completed`` / ``agent.failed`` on a context's event bus
(docs/events.md): what scripts' agents and the daemon's stored agents publish."""

from __future__ import annotations

from typing import Any

from ..core.errors import LLMSpellError
from .bus import live_bus, publish_event

__all__ = ["agent_completed", "agent_failed", "agent_started"]


async def agent_started(ctx: Any, name: str) -> None:
    """``agent.started`` ``{agent}`` (when the bus has subscribers; never raises)."""
    if live_bus(ctx):
        await publish_event(ctx, "agent.started", {"agent": name}, "agent")


async def agent_completed(ctx: Any, name: str, usage: dict[str, Any]) -> None:
    """``agent.completed`` ``{agent, usage}``."""
    if live_bus(ctx):
        await publish_event(ctx, "agent.completed", {"agent": name, "usage": usage}, "agent")


async def agent_failed(ctx: Any, name: str, exc: BaseException) -> None:
    """``agent.failed`` ``{agent, error: {code, message, details}}``."""
    if live_bus(ctx):
        error = exc.to_dict() if isinstance(exc, LLMSpellError) else {"code": "INTERNAL", "message": str(exc)}
        await publish_event(ctx, "agent.failed", {"agent": name, "error": error}, "agent")

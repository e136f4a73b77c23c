"""The daemon's side of hooks and events: the process bus, configured hooks, system points.

:class:`DaemonHooks` is what ``Daemon.start`` opens and ``Daemon.stop`` closes: it opens
the process event bus (Redis Streams when ``settings.redis_url`` is set), registers the
``[[hooks]]`` of the configuration in the process registry and fires ``SystemStartup`` /
``SystemShutdown`` (component ``("system", "daemon")``).
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from .registry import process_hooks

if TYPE_CHECKING:
    from ..core.config import Settings
    from ..events.abc import EventBus
    from .registry import RegisteredHook

__all__ = ["DaemonHooks"]

log = logging.getLogger("llmspell.hooks")
_SYSTEM = ("system", "daemon")


class DaemonHooks:
    """Process bus and configured hooks of one daemon replica."""

    def __init__(self, settings: Settings, replica: str) -> None:
        self.settings = settings
        self.replica = replica
        self.bus: EventBus | None = None
        self._configured: list[RegisteredHook] = []

    async def start(self, services: dict[str, Any]) -> None:
        """Open the bus (also put in ``services["event_bus"]``), install configured hooks,
        fire ``SystemStartup`` ``{replica}``."""
        from ..events.bus import open_event_bus, set_process_bus
        from .builtins import install_configured

        self.bus = open_event_bus(self.settings.redis_url, source=f"daemon:{self.replica}")
        set_process_bus(self.bus)
        services["event_bus"] = self.bus
        self._configured = install_configured(self.settings, process_hooks())
        await self._fire("SystemStartup", {"replica": self.replica})

    async def shutting_down(self, grace_s: float) -> None:
        """Fire ``SystemShutdown`` ``{replica, grace_s}`` (before runs get their grace)."""
        await self._fire("SystemShutdown", {"replica": self.replica, "grace_s": grace_s})

    async def close(self) -> None:
        """Remove the configured hooks and close the bus."""
        from ..events.bus import set_process_bus

        for entry in self._configured:
            entry.unregister()
        self._configured = []
        if self.bus is not None:
            bus, self.bus = self.bus, None
            set_process_bus(None)
            try:
                await bus.aclose()
            except Exception:
                log.warning("closing the event bus failed", exc_info=True)

    async def _fire(self, point: str, data: dict[str, Any]) -> None:
        registry = process_hooks()
        if not registry.chain(point):
            return
        try:
            await registry.run(point, _SYSTEM, data)
        except Exception:
            # A system hook must not keep the daemon from starting or stopping.
            log.warning("%s hook failed", point, exc_info=True)

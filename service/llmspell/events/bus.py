"""Opening the event bus by URL, and the process's bus.

``memory://`` (or no URL) is the in-process bus; ``redis://`` / ``rediss://`` the Redis
Streams bus that spans processes and replicas. The process bus (:func:`process_bus`)
follows ``LLMSPELL_REDIS_URL``: scripts of different runs share it, and so do the
replicas when Redis is configured.
"""

from __future__ import annotations

import asyncio
import importlib
import threading
from collections.abc import Awaitable
from typing import Any

from ..core.errors import ConfigError
from ..hooks.registry import hooks_for
from .abc import EventBus, UniversalEvent

__all__ = [
    "InOrderPublisher",
    "emit",
    "live_bus",
    "open_event_bus",
    "process_bus",
    "publish_event",
    "set_process_bus",
]

_BUSES = {
    "memory": "llmspell.events.bus_memory:MemoryEventBus",
    "redis": "llmspell.events.bus_redis:RedisEventBus",
    "rediss": "llmspell.events.bus_redis:RedisEventBus",
}


def open_event_bus(url: str | None, **options: Any) -> EventBus:
    """The bus for ``url`` (None or ``memory://`` = in-process).

    Raises:
        ConfigError: an unsupported URL scheme.
    """
    scheme = (url or "memory://").partition("://")[0]
    target = _BUSES.get(scheme)
    if target is None:
        raise ConfigError(f"unsupported event bus URL scheme {scheme!r}; use redis:// or memory://")
    module, _, name = target.partition(":")
    bus_class = getattr(importlib.import_module(module), name)
    if scheme == "memory":
        return bus_class(**options)  # type: ignore[no-any-return]
    return bus_class(url, **options)  # type: ignore[no-any-return]


_PROCESS: EventBus | None = None
_LOCK = threading.Lock()


def process_bus(redis_url: str | None = None) -> EventBus:
    """The process-wide bus, created on first use (Redis when ``redis_url`` is given)."""
    global _PROCESS
    if _PROCESS is None:
        with _LOCK:
            if _PROCESS is None:
                _PROCESS = open_event_bus(redis_url)
    return _PROCESS


def set_process_bus(bus: EventBus | None) -> None:
    """Replace the process bus (the daemon installs its own; tests reset it)."""
    global _PROCESS
    with _LOCK:
        _PROCESS = bus


def emit(
    ctx: Any,
    bus: EventBus,
    event_type: str,
    data: Any = None,
    *,
    correlation_id: str = "",
    source: str = "",
    language: str = "python",
) -> Awaitable[UniversalEvent | None]:
    """Publish an event of the run of ``ctx`` on ``bus``, between the BeforeEventEmit,
    AfterEventEmit and EventHandlerError hook points when hooks are registered (see
    ``events/_hooked.py``). Without hooks this returns ``bus.publish(...)`` itself: the
    bus's hot path pays one guard and no extra coroutine.

    The awaitable gives the event, or None when an EventHandlerError hook dropped a
    refused event.

    Raises:
        HookCancelled: a BeforeEventEmit hook cancelled the event.
        LimitExceeded: a full ``fail``/``block`` subscription refused it.
    """
    hooks = hooks_for(ctx)
    if hooks is None:
        return bus.publish(event_type, data, correlation_id=correlation_id, source=source, language=language)
    from ._hooked import hooked_publish

    return hooked_publish(
        hooks, ctx, bus, event_type, data, correlation_id=correlation_id, source=source, language=language
    )


def live_bus(ctx: Any) -> bool:
    """Whether the bus of ``ctx`` has subscribers (component events are then published)."""
    bus = ctx.services.get("event_bus")
    return bus is not None and bool(bus.live)


async def publish_event(ctx: Any, event_type: str, data: Any, source: str) -> None:
    """Publish a component event (``tool.started``...) on the run's bus, when it has one
    and someone may listen. Bus failures (and hook cancellations) never fail the component."""
    bus = ctx.services.get("event_bus")
    if bus is None or not bus.live:
        return
    try:
        await emit(ctx, bus, event_type, data, correlation_id=ctx.correlation_id, source=source)
    except Exception:
        import logging

        logging.getLogger("llmspell.events").debug("dropping component event %s", event_type, exc_info=True)


class InOrderPublisher:
    """Component events of synchronous callers (a workflow's ``emit``), published as tasks
    in the order given: each waits for the one before it. :meth:`drain` waits for the last.

    Args:
        ctx: the execution context whose bus receives the events.
        source: the events' ``source``.
    """

    def __init__(self, ctx: Any, source: str) -> None:
        self._ctx = ctx
        self._source = source
        self._last: asyncio.Task[None] | None = None

    def publish(self, event_type: str, data: Any) -> None:
        """Queue ``event_type`` with ``data`` after the events queued before (outside an
        event loop nothing is published)."""
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return
        previous = self._last

        async def publish() -> None:
            if previous is not None:
                await asyncio.wait([previous])
            await publish_event(self._ctx, event_type, data, self._source)

        self._last = loop.create_task(publish())

    async def drain(self) -> None:
        """Wait until every queued event was published (or dropped)."""
        if self._last is not None:
            await asyncio.wait([self._last])

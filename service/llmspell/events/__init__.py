"""Events: the run event hub (memory or Redis Streams, chosen by URL scheme)."""

from __future__ import annotations

import importlib
from typing import Any

from .abc import EventBus, Overflow, RunEvent, RunEventHub, Subscription, UniversalEvent
from .bus import emit, open_event_bus, process_bus, publish_event, set_process_bus

__all__ = [
    "EventBus",
    "Overflow",
    "RunEvent",
    "RunEventHub",
    "Subscription",
    "UniversalEvent",
    "emit",
    "open_event_bus",
    "open_run_hub",
    "process_bus",
    "publish_event",
    "set_process_bus",
]

_HUBS = {
    "memory": "llmspell.events.memory:MemoryRunEventHub",
    "redis": "llmspell.events.redis:RedisRunEventHub",
    "rediss": "llmspell.events.redis:RedisRunEventHub",
}


def open_run_hub(url: str | None, **options: Any) -> RunEventHub:
    """The hub for ``url`` (None or ``memory://`` = in-process)."""
    scheme = (url or "memory://").partition("://")[0]
    target = _HUBS.get(scheme)
    if target is None:
        from ..core.errors import ConfigError

        raise ConfigError(f"unsupported event hub URL scheme {scheme!r}; use redis:// or memory://")
    module, _, name = target.partition(":")
    hub_class = getattr(importlib.import_module(module), name)
    if scheme == "memory":
        return hub_class(**options)  # type: ignore[no-any-return]
    return hub_class(url, **options)  # type: ignore[no-any-return]

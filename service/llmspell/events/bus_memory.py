"""The in-process event bus (the embedded default): one bounded queue per subscription.

Routing is cached per event type, so a publish costs one dict lookup plus one queue
append per matching subscription. Members of a consumer group share one queue.
"""

from __future__ import annotations

import itertools
import threading
import time
import uuid
from typing import Any

from .abc import EventBus, Overflow, Subscription, UniversalEvent
from .flow import FlowController, FlowQueue, compile_pattern

__all__ = ["MemoryEventBus"]


class _Route:
    __slots__ = ("group", "match", "members", "pattern", "queue")

    def __init__(self, pattern: str, group: str | None, queue: FlowQueue) -> None:
        self.pattern = pattern
        self.group = group
        self.match = compile_pattern(pattern)
        self.queue = queue
        self.members = 0


class MemorySubscription(Subscription):
    """A subscription of a :class:`MemoryEventBus`."""

    def __init__(self, bus: MemoryEventBus, sub_id: str, route: _Route) -> None:
        self.id = sub_id
        self.pattern = route.pattern
        self.group = route.group
        self._bus = bus
        self._route = route
        self._closed = False

    async def receive(self, timeout: float | None = None) -> UniversalEvent | None:
        if self._closed:
            return None
        queue = self._route.queue
        ok, event = queue.take_nowait()  # no coroutine to create when an event is waiting
        if not ok:
            ok, event = await queue.take(timeout)
        return event if ok else None

    def receive_nowait(self) -> UniversalEvent | None:
        """The next queued event or None (never waits)."""
        ok, event = self._route.queue.take_nowait()
        return event if ok else None

    async def ack(self) -> None:
        return None

    async def aclose(self) -> None:
        if not self._closed:
            self._closed = True
            self._bus._drop(self._route)

    @property
    def stats(self) -> dict[str, Any]:
        return {"id": self.id, "pattern": self.pattern, "group": self.group, **self._route.queue.stats()}


class MemoryEventBus(EventBus):
    """Thread-safe in-process bus.

    Args:
        flow: queue defaults (capacity, overflow policy, block timeout).
        source: the publisher name stamped on events without one.
    """

    backend = "memory"

    def __init__(self, *, flow: FlowController | None = None, source: str = "") -> None:
        self.flow = flow or FlowController()
        self.publisher = uuid.uuid4().hex[:12]
        self.source = source
        self._seq = itertools.count(1)
        self._lock = threading.Lock()
        self._routes: list[_Route] = []
        self._groups: dict[tuple[str, str], _Route] = {}
        self._cache: dict[str, tuple[FlowQueue, ...]] = {}
        self._sub_ids = itertools.count(1)
        self._closed = False
        self.published = 0

    @property
    def live(self) -> bool:
        """True when anything subscribes (publishing is then worth its cost)."""
        return bool(self._routes)

    def _queues(self, event_type: str) -> tuple[FlowQueue, ...]:
        queues = self._cache.get(event_type)
        if queues is None:
            with self._lock:
                queues = tuple(route.queue for route in self._routes if route.match(event_type))
                if len(self._cache) > 10_000:
                    self._cache.clear()
                self._cache[event_type] = queues
        return queues

    def make_event(
        self, event_type: str, data: Any, correlation_id: str, source: str, language: str
    ) -> UniversalEvent:
        seq = next(self._seq)
        return UniversalEvent(
            f"{self.publisher}:{seq}",
            event_type,
            data,
            time.time(),
            seq,
            correlation_id,
            source or self.source,
            language,
        )

    async def publish(
        self,
        event_type: str,
        data: Any = None,
        *,
        correlation_id: str = "",
        source: str = "",
        language: str = "python",
    ) -> UniversalEvent:
        event = self.make_event(event_type, data, correlation_id, source, language)
        self.published += 1
        for queue in self._queues(event_type):
            if not queue.offer(event):
                await queue.put(event)
        return event

    def deliver(self, event: UniversalEvent) -> None:
        """Hand an event made elsewhere (e.g. read from Redis) to the local subscribers,
        never waiting (a ``block`` queue that is full drops the event and counts it)."""
        for queue in self._queues(event.type):
            if not queue.offer(event):
                queue.refused += 1

    async def subscribe(
        self,
        pattern: str,
        *,
        group: str | None = None,
        capacity: int | None = None,
        overflow: Overflow | None = None,
    ) -> MemorySubscription:
        compile_pattern(pattern)
        sub_id = f"sub-{next(self._sub_ids)}"
        with self._lock:
            route = self._groups.get((pattern, group)) if group else None
            if route is None:
                queue = self.flow.queue(group or sub_id, capacity=capacity, overflow=overflow)
                route = _Route(pattern, group, queue)
                self._routes = [*self._routes, route]
                if group:
                    self._groups[(pattern, group)] = route
                self._cache = {}
            route.members += 1
        return MemorySubscription(self, sub_id, route)

    def _drop(self, route: _Route) -> None:
        with self._lock:
            route.members -= 1
            if route.members > 0:
                return
            self._routes = [r for r in self._routes if r is not route]
            if route.group:
                self._groups.pop((route.pattern, route.group), None)
            self._cache = {}
        route.queue.close()

    async def flush(self) -> None:
        return None

    async def aclose(self) -> None:
        with self._lock:
            routes, self._routes = self._routes, []
            self._groups.clear()
            self._cache = {}
        for route in routes:
            route.queue.close()

"""Flow control: bounded subscription queues with an explicit overflow policy.

A :class:`FlowQueue` holds at most ``capacity`` events. When it is full, ``policy``
decides: ``drop_oldest`` discards the oldest queued event (counted), ``fail`` refuses
the new one with ``LimitExceeded`` to the publisher, ``block`` makes the publisher wait
up to ``block_timeout_s`` for room and then fails the same way. Memory therefore stays
bounded whatever the publish rate. Queues are thread-safe: a publisher on one event loop
wakes a reader waiting on another.
"""

from __future__ import annotations

import asyncio
import fnmatch
import re
import threading
import weakref
from collections import deque
from collections.abc import Callable
from functools import lru_cache
from typing import Any

from ..core.errors import LimitExceeded, ValidationError
from .abc import Overflow

__all__ = ["OVERFLOW_POLICIES", "FlowController", "FlowQueue", "compile_pattern", "flow_stats"]

OVERFLOW_POLICIES: tuple[str, ...] = ("block", "drop_oldest", "fail")
_QUEUES: weakref.WeakSet[FlowQueue] = weakref.WeakSet()
_PATTERN = re.compile(r"^[A-Za-z0-9_.*?\[\]!:\-]{1,200}$")


@lru_cache(maxsize=4096)
def compile_pattern(pattern: str) -> Callable[[str], bool]:
    """A matcher for glob ``pattern`` over event types (``*`` spans dots too).

    Raises:
        ValidationError: empty or with characters other than letters, digits, ``._:-*?[]!``.
    """
    if not isinstance(pattern, str) or not _PATTERN.match(pattern):
        raise ValidationError(
            f"event pattern {pattern!r} is not a glob such as 'tool.*' or 'agent.completed'",
            details={"field": "pattern"},
        )
    if pattern == "*":
        return lambda _type: True
    if not any(ch in pattern for ch in "*?["):
        return pattern.__eq__
    return re.compile(fnmatch.translate(pattern)).match  # type: ignore[return-value]


class _Waiter:
    __slots__ = ("future", "loop")

    def __init__(self) -> None:
        self.loop = asyncio.get_running_loop()
        self.future: asyncio.Future[None] = self.loop.create_future()

    def wake(self) -> None:
        if self.loop.is_closed():
            return
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if running is self.loop:
            if not self.future.done():
                self.future.set_result(None)
        else:
            self.loop.call_soon_threadsafe(_settle, self.future)


def _settle(future: asyncio.Future[None]) -> None:
    if not future.done():
        future.set_result(None)


class FlowQueue:
    """A bounded multi-producer queue of events for one subscription (or group).

    Args:
        capacity: events held at most.
        policy: what a full queue does (``block``, ``drop_oldest``, ``fail``).
        block_timeout_s: how long ``block`` waits for room before failing.
        name: the label in errors and stats.
    """

    def __init__(
        self,
        *,
        capacity: int = 10_000,
        policy: Overflow = "drop_oldest",
        block_timeout_s: float = 5.0,
        name: str = "",
    ) -> None:
        if policy not in OVERFLOW_POLICIES:
            raise ValidationError(
                f"overflow policy {policy!r} is unknown: use block, drop_oldest or fail",
                details={"field": "overflow"},
            )
        if capacity < 1:
            raise ValidationError("queue capacity must be at least 1", details={"field": "capacity"})
        self.capacity = capacity
        self.policy = policy
        self.block_timeout_s = block_timeout_s
        self.name = name
        self._items: deque[Any] = deque()
        self._lock = threading.Lock()
        self._getters: deque[_Waiter] = deque()
        self._putters: deque[_Waiter] = deque()
        self.closed = False
        self.dropped = 0
        self.refused = 0
        self.delivered = 0
        _QUEUES.add(self)

    def __len__(self) -> int:
        return len(self._items)

    def offer(self, item: Any) -> bool:
        """Add without waiting. False when full under ``block`` (the caller may wait).

        Raises:
            LimitExceeded: full under ``fail``.
        """
        with self._lock:
            items = self._items
            if self.closed:
                return True
            if len(items) >= self.capacity and not self._make_room():
                return False
            items.append(item)
            if not self._getters:  # the usual case: nobody is waiting
                return True
            getter = self._getters.popleft()
        getter.wake()
        return True

    def _make_room(self) -> bool:
        """The queue is full (lock held): apply the overflow policy; False under ``block``.

        Raises:
            LimitExceeded: under ``fail``.
        """
        if self.policy == "drop_oldest":
            self._items.popleft()
            self.dropped += 1
            _count_drop("drop_oldest")
            return True
        if self.policy == "fail":
            self.refused += 1
            _count_drop("fail")
            raise LimitExceeded(
                f"subscriber queue {self.name!r} is full ({self.capacity} events): the subscriber "
                "is too slow; raise its capacity or use overflow='drop_oldest'",
                details={"subscription": self.name, "capacity": self.capacity},
            )
        return False

    async def put(self, item: Any) -> None:
        """Add, waiting for room under ``block`` (at most ``block_timeout_s``).

        Raises:
            LimitExceeded: full under ``fail``, or still full after the block timeout.
        """
        if self.offer(item):
            return
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.block_timeout_s
        while True:
            with self._lock:
                if len(self._items) < self.capacity or self.closed:
                    break
                waiter = _Waiter()
                self._putters.append(waiter)
            remaining = deadline - loop.time()
            try:
                if remaining <= 0:
                    raise TimeoutError
                async with asyncio.timeout(remaining):
                    await waiter.future
            except TimeoutError:
                with self._lock:
                    if waiter in self._putters:
                        self._putters.remove(waiter)
                self.refused += 1
                _count_drop("block")
                raise LimitExceeded(
                    f"subscriber queue {self.name!r} stayed full for {self.block_timeout_s:g}s: "
                    "the subscriber is too slow",
                    details={"subscription": self.name, "capacity": self.capacity},
                ) from None
        if not self.offer(item):
            await self.put(item)

    def take_nowait(self) -> tuple[bool, Any]:
        """``(True, item)`` or ``(False, None)`` when empty."""
        with self._lock:
            if not self._items:
                return False, None
            item = self._items.popleft()
            putter = self._putters.popleft() if self._putters else None
        self.delivered += 1
        if putter is not None:
            putter.wake()
        return True, item

    async def take(self, timeout: float | None = None) -> tuple[bool, Any]:
        """The next item, waiting up to ``timeout`` seconds; ``(False, None)`` on timeout/close."""
        loop: asyncio.AbstractEventLoop | None = None
        deadline = 0.0
        while True:
            with self._lock:
                if self._items:
                    item = self._items.popleft()
                    putter = self._putters.popleft() if self._putters else None
                    waiter = None
                elif self.closed:
                    return False, None
                else:
                    waiter = _Waiter()
                    self._getters.append(waiter)
            if waiter is None:
                self.delivered += 1
                if putter is not None:
                    putter.wake()
                return True, item
            if timeout is None:
                await waiter.future
                continue
            if loop is None:
                loop = asyncio.get_running_loop()
                deadline = loop.time() + timeout
            remaining = deadline - loop.time()
            try:
                if remaining <= 0:
                    raise TimeoutError
                async with asyncio.timeout(remaining):
                    await waiter.future
            except TimeoutError:
                with self._lock:
                    if waiter in self._getters:
                        self._getters.remove(waiter)
                    if not self._items:
                        return False, None

    def close(self) -> None:
        """Wake every waiter; further offers are ignored, queued items can still be taken."""
        with self._lock:
            self.closed = True
            waiters = [*self._getters, *self._putters]
            self._getters.clear()
            self._putters.clear()
        for waiter in waiters:
            waiter.wake()

    def stats(self) -> dict[str, Any]:
        return {
            "queued": len(self._items),
            "capacity": self.capacity,
            "policy": self.policy,
            "dropped": self.dropped,
            "refused": self.refused,
            "delivered": self.delivered,
        }


class FlowController:
    """Makes the queues of a bus with shared defaults.

    Args:
        capacity: default queue capacity per subscription.
        overflow: default policy.
        block_timeout_s: how long ``block`` waits.
    """

    def __init__(
        self, *, capacity: int = 10_000, overflow: Overflow = "drop_oldest", block_timeout_s: float = 5.0
    ) -> None:
        self.capacity = capacity
        self.overflow: Overflow = overflow
        self.block_timeout_s = block_timeout_s

    def queue(self, name: str, *, capacity: int | None = None, overflow: Overflow | None = None) -> FlowQueue:
        return FlowQueue(
            capacity=capacity or self.capacity,
            policy=overflow or self.overflow,
            block_timeout_s=self.block_timeout_s,
            name=name,
        )


_DROP_CHILDREN: dict[str, Any] = {}


def _count_drop(policy: str) -> None:
    child = _DROP_CHILDREN.get(policy)
    if child is None:
        from ..core.metrics import EVENTS_DROPPED

        child = _DROP_CHILDREN[policy] = EVENTS_DROPPED.labels(policy=policy)
    child.inc()


def flow_stats() -> dict[str, float]:
    """``{queues, queued, max_lag}`` over every live queue of the process (for metrics)."""
    depths = [len(queue) for queue in list(_QUEUES) if not queue.closed]
    return {"queues": len(depths), "queued": sum(depths), "max_lag": max(depths, default=0)}

"""The result cache behind the ``cache`` hook result: bounded, TTL, thread-safe."""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from typing import Any

__all__ = ["ResultCache", "result_cache"]

_MISS = object()


class ResultCache:
    """Least-recently-used entries, each with its own time to live.

    Args:
        max_entries: entries kept (the least recently used go first).
        clock: monotonic seconds.
    """

    def __init__(self, *, max_entries: int = 10_000, clock: Callable[[], float] = time.monotonic) -> None:
        self._entries: OrderedDict[str, tuple[float, Any]] = OrderedDict()
        self._lock = threading.Lock()
        self._max = max_entries
        self._clock = clock
        self.hits = 0
        self.misses = 0

    def get(self, key: str) -> tuple[bool, Any]:
        """``(True, value)`` for a live entry, else ``(False, None)``."""
        with self._lock:
            entry = self._entries.get(key, _MISS)
            if entry is _MISS or entry[0] < self._clock():  # type: ignore[index]
                self._entries.pop(key, None)
                self.misses += 1
                return False, None
            self._entries.move_to_end(key)
            self.hits += 1
            return True, entry[1]  # type: ignore[index]

    def put(self, key: str, value: Any, ttl_s: float) -> None:
        """Keep ``value`` under ``key`` for ``ttl_s`` seconds."""
        with self._lock:
            self._entries[key] = (self._clock() + ttl_s, value)
            self._entries.move_to_end(key)
            while len(self._entries) > self._max:
                self._entries.popitem(last=False)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()

    def __len__(self) -> int:
        return len(self._entries)


_CACHE = ResultCache()


def result_cache() -> ResultCache:
    """The process-wide cache used by ``cache`` hook results."""
    return _CACHE

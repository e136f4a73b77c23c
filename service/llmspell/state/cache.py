"""The read-through cache of state entries and its cross-replica invalidation over Redis.

Entries live at most ``ttl_s`` (which bounds staleness even if an invalidation is lost);
every write through a :class:`~llmspell.state.manager.StateManager` updates its own cache
and publishes ``scope/key`` on a Redis channel that every replica's manager listens to.
If the listener loses Redis it clears the cache and reconnects.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import uuid
from collections import OrderedDict
from typing import Any

from ..core.logging import LoopFailures
from ..storage.records import StateRecord

__all__ = ["RedisInvalidator", "StateCache"]

log = logging.getLogger("llmspell.state")

_MISSING: Any = object()
_SEP = "\x1f"


class StateCache:
    """An LRU of ``(scope, key) → record or None`` whose entries expire after ``ttl_s``."""

    __slots__ = ("_entries", "hits", "misses", "size", "ttl_s")

    def __init__(self, size: int, ttl_s: float) -> None:
        self.size = size
        self.ttl_s = ttl_s
        self._entries: OrderedDict[tuple[str, str], tuple[float, StateRecord | None]] = OrderedDict()
        self.hits = 0
        self.misses = 0

    def get(self, scope: str, key: str) -> StateRecord | None:
        """The cached record (None = known absent); raises KeyError on a miss."""
        found = self._entries.get((scope, key), _MISSING)
        if found is _MISSING:
            self.misses += 1
            raise KeyError(key)
        stamp, record = found  # type: tuple[float, StateRecord | None]
        now = time.monotonic()
        if now - stamp > self.ttl_s or (
            record is not None and record.expires_at is not None and _expired(record)
        ):
            del self._entries[(scope, key)]
            self.misses += 1
            raise KeyError(key)
        self._entries.move_to_end((scope, key))
        self.hits += 1
        return record

    def put(self, scope: str, key: str, record: StateRecord | None) -> None:
        entries = self._entries
        entries[(scope, key)] = (time.monotonic(), record)
        entries.move_to_end((scope, key))
        while len(entries) > self.size:
            entries.popitem(last=False)

    def drop(self, scope: str, key: str | None = None) -> None:
        """Forget one key, or (``key`` None) every key of ``scope``."""
        if key is not None:
            self._entries.pop((scope, key), None)
            return
        for cached in [k for k in self._entries if k[0] == scope]:
            del self._entries[cached]

    def clear(self) -> None:
        self._entries.clear()


def _expired(record: StateRecord) -> bool:
    from datetime import UTC, datetime

    return record.expires_at is not None and record.expires_at <= datetime.now(UTC)


class RedisInvalidator:
    """Publishes and receives invalidations on ``<prefix>state:invalidate``.

    Args:
        url: the Redis URL.
        cache: the local cache to evict from (None: only publish, never listen).
        prefix: key prefix shared by the replicas.
    """

    def __init__(self, url: str, cache: StateCache | None, *, prefix: str = "llmspell:") -> None:
        import redis.asyncio as aioredis

        self._redis: Any = aioredis.from_url(url)
        self._cache = cache
        self.channel = f"{prefix}state:invalidate"
        self.origin = uuid.uuid4().hex
        self._task: asyncio.Task[None] | None = None
        self._subscribed = asyncio.Event()
        self._publish_failures = LoopFailures(log, "publishing state invalidations (Redis)")

    async def start(self) -> None:
        """Subscribe; returns once invalidations from other replicas are being received."""
        if self._cache is None or self._task is not None:
            return
        self._task = asyncio.create_task(self._listen(), name=f"llmspell-state-invalidate-{self.origin[:8]}")
        waiter = asyncio.ensure_future(self._subscribed.wait())
        done, _ = await asyncio.wait([waiter, self._task], return_when=asyncio.FIRST_COMPLETED)
        if self._task in done:
            waiter.cancel()
            self._task.result()

    async def publish(self, scope: str, key: str | None) -> None:
        """Tell the other replicas that ``scope``/``key`` (None: the whole scope) changed."""
        message = _SEP.join((self.origin, scope, key if key is not None else ""))
        try:
            await self._redis.publish(self.channel, message)
        except Exception as exc:
            self._publish_failures.failed(exc)  # the others see the change within their cache TTL
        else:
            self._publish_failures.succeeded()

    async def _listen(self) -> None:
        failures = LoopFailures(log, "listening for state invalidations (Redis)")
        while True:
            pubsub = self._redis.pubsub()
            try:
                await pubsub.subscribe(self.channel)
                self._subscribed.set()
                failures.succeeded()
                async for message in pubsub.listen():
                    if message.get("type") != "message":
                        continue
                    raw = message["data"]
                    text = raw.decode() if isinstance(raw, bytes) else str(raw)
                    origin, scope, key = [*text.split(_SEP), "", ""][:3]
                    if origin != self.origin and self._cache is not None:
                        self._cache.drop(scope, key or None)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                if not self._subscribed.is_set():
                    raise
                failures.failed(exc)  # the cache is cleared: entries may have changed meanwhile
                if self._cache is not None:
                    self._cache.clear()
                await asyncio.sleep(0.5)
            finally:
                with contextlib.suppress(Exception):
                    await pubsub.aclose()

    async def aclose(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._task
        await self._redis.aclose()

"""The event bus on Redis Streams: events cross processes and replicas.

All events go to one stream (``<prefix>bus``, capped by MAXLEN). Publishing is batched:
events are queued locally and written by one flusher per event loop with a pipeline, so
the order of one publisher is kept. A plain subscription reads the stream from the moment
it subscribed and filters by glob; a consumer-group subscription reads with XREADGROUP,
so each event goes to one member, and claims (XAUTOCLAIM) the events another member
received but never acknowledged once they have been idle ``claim_idle_ms`` — the
redelivery after a consumer dies. A group member acknowledges an event when it asks for
the next one (or calls ``ack``).
"""

from __future__ import annotations

import asyncio
import itertools
import json
import logging
import time
import uuid
import weakref
from typing import Any

from ..core.errors import StorageError
from ..core.logging import LoopFailures
from ..hooks.breaker import CircuitBreaker
from .abc import EventBus, Overflow, Subscription, UniversalEvent
from .flow import FlowController, FlowQueue, compile_pattern

__all__ = ["RedisEventBus"]

log = logging.getLogger("llmspell.events")


class _LoopState:
    """The connection and publish batch of one event loop."""

    def __init__(self, url: str) -> None:
        import redis.asyncio as aioredis

        self.client: Any = aioredis.from_url(url, decode_responses=True)
        self.pending: list[UniversalEvent] = []
        self.flusher: asyncio.Task[None] | None = None
        self.tasks: set[asyncio.Task[None]] = set()


class RedisSubscription(Subscription):
    """A subscription of a :class:`RedisEventBus` (fed by a reader task)."""

    def __init__(
        self, bus: RedisEventBus, sub_id: str, pattern: str, group: str | None, queue: FlowQueue
    ) -> None:
        self.id = sub_id
        self.pattern = pattern
        self.group = group
        self.consumer = f"{bus.publisher}-{sub_id}"
        self._bus = bus
        self._queue = queue
        self._unacked: list[str] = []
        self._task: asyncio.Task[None] | None = None
        self._closed = False

    async def receive(self, timeout: float | None = None) -> UniversalEvent | None:
        if self._unacked:
            await self.ack()
        ok, item = await self._queue.take(timeout)
        if not ok:
            return None
        entry_id, event = item
        if entry_id and self.group is not None:
            self._unacked.append(entry_id)
        return event  # type: ignore[no-any-return]

    async def ack(self) -> None:
        if not self._unacked or self.group is None:
            return
        ids, self._unacked = self._unacked, []
        await self._bus._ack(self.group, ids)

    async def aclose(self) -> None:
        if self._closed:
            return
        self._closed = True
        self._queue.close()
        if self._task is not None:
            # The reader leaves at its next XREAD timeout; cancelling a blocked redis-py
            # read can hang, so cancellation is only the fallback.
            done, _ = await asyncio.wait((self._task,), timeout=self._bus.block_ms / 1000.0 + 1.0)
            if not done:
                self._task.cancel()
                await asyncio.wait((self._task,), timeout=1.0)

    @property
    def stats(self) -> dict[str, Any]:
        return {"id": self.id, "pattern": self.pattern, "group": self.group, **self._queue.stats()}


class RedisEventBus(EventBus):
    """``redis://host:port/db`` — stream ``<prefix>bus``.

    Args:
        url: the Redis URL.
        prefix: key prefix.
        maxlen: approximate cap of the stream, in entries.
        flow: local queue defaults for subscriptions.
        batch_size: events per pipeline round trip.
        entry_events: events packed into one stream entry (one XADD); a group redelivers
            and acknowledges whole entries.
        block_ms: how long a reader blocks in one XREAD.
        claim_idle_ms: a group's unacknowledged event idle this long goes to another member.
    """

    backend = "redis"
    live = True  # subscribers may be on other replicas

    def __init__(
        self,
        url: str,
        *,
        prefix: str = "llmspell:",
        maxlen: int = 100_000,
        flow: FlowController | None = None,
        batch_size: int = 2000,
        entry_events: int = 100,
        block_ms: int = 500,
        claim_idle_ms: int = 30_000,
        source: str = "",
    ) -> None:
        self.url = url
        self.key = f"{prefix}bus"
        self.maxlen = maxlen
        self.flow = flow or FlowController()
        self.batch_size = batch_size
        self.entry_events = entry_events
        self.block_ms = block_ms
        self.claim_idle_ms = claim_idle_ms
        self.source = source
        self.publisher = uuid.uuid4().hex[:12]
        self.breaker = CircuitBreaker("redis-event-bus", failure_threshold=5, reset_s=5.0)
        self._seq = itertools.count(1)
        self._sub_ids = itertools.count(1)
        self._loops: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, _LoopState] = (
            weakref.WeakKeyDictionary()
        )
        self._subs: set[RedisSubscription] = set()
        self.published = 0

    def _state(self) -> _LoopState:
        loop = asyncio.get_running_loop()
        state = self._loops.get(loop)
        if state is None:
            state = self._loops[loop] = _LoopState(self.url)
        return state

    # ------------------------------------------------------------------ publishing

    async def publish(
        self,
        event_type: str,
        data: Any = None,
        *,
        correlation_id: str = "",
        source: str = "",
        language: str = "python",
    ) -> UniversalEvent:
        seq = next(self._seq)
        event = UniversalEvent(
            f"{self.publisher}:{seq}",
            event_type,
            data,
            time.time(),
            seq,
            correlation_id,
            source or self.source,
            language,
        )
        state = self._state()
        state.pending.append(event)
        self.published += 1
        if state.flusher is None or state.flusher.done():
            state.flusher = asyncio.create_task(self._flush_loop(state), name="llmspell-event-bus-flush")
        elif len(state.pending) >= self.batch_size * 20:
            await asyncio.shield(state.flusher)  # backpressure: never more than a few batches waiting
        return event

    async def _flush_loop(self, state: _LoopState) -> None:
        await asyncio.sleep(0)  # let a burst of publishes gather into one batch
        while state.pending:
            batch, state.pending = state.pending[: self.batch_size], state.pending[self.batch_size :]
            try:
                with self.breaker.guard(StorageError):
                    async with state.client.pipeline(transaction=False) as pipe:
                        for start in range(0, len(batch), self.entry_events):
                            chunk = batch[start : start + self.entry_events]
                            body = json.dumps([event.to_dict() for event in chunk], default=str)
                            pipe.xadd(self.key, {"b": body}, maxlen=self.maxlen, approximate=True)
                        await pipe.execute()
                _count_published(len(batch))
            except Exception:
                log.warning("publishing %d events to Redis failed; they are lost", len(batch), exc_info=True)

    async def flush(self) -> None:
        state = self._state()
        while state.flusher is not None and not state.flusher.done():
            await asyncio.shield(state.flusher)

    # ------------------------------------------------------------------ subscribing

    async def subscribe(
        self,
        pattern: str,
        *,
        group: str | None = None,
        capacity: int | None = None,
        overflow: Overflow | None = None,
    ) -> RedisSubscription:
        match = compile_pattern(pattern)
        sub_id = f"sub-{next(self._sub_ids)}"
        queue = self.flow.queue(group or sub_id, capacity=capacity, overflow=overflow)
        sub = RedisSubscription(self, sub_id, pattern, group, queue)
        state = self._state()
        try:
            if group is None:
                last = await state.client.xrevrange(self.key, count=1)
                cursor = last[0][0] if last else "0-0"
                reader = self._read(state, sub, match, cursor)
            else:
                try:
                    await state.client.xgroup_create(self.key, group, id="$", mkstream=True)
                except Exception as exc:
                    if "BUSYGROUP" not in str(exc):
                        raise
                reader = self._read_group(state, sub, match, group)
        except Exception as exc:
            raise StorageError(f"Redis subscribe failed: {exc}; check LLMSPELL_REDIS_URL") from exc
        sub._task = asyncio.create_task(reader, name=f"llmspell-event-bus-{sub_id}")
        self._subs.add(sub)
        return sub

    async def _read(self, state: _LoopState, sub: RedisSubscription, match: Any, cursor: str) -> None:
        failures = LoopFailures(log, "reading the event stream")
        while not sub._closed:
            try:
                reply = await state.client.xread(
                    {self.key: cursor}, count=self.batch_size, block=self.block_ms
                )
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                failures.failed(exc)
                await asyncio.sleep(0.5)
                continue
            failures.succeeded()
            for _stream, entries in reply or []:
                for entry_id, fields in entries:
                    cursor = entry_id
                    for event in _decode(fields):
                        if match(event.type):
                            await sub._queue.put(("", event))

    async def _read_group(self, state: _LoopState, sub: RedisSubscription, match: Any, group: str) -> None:
        client = state.client
        next_claim = 0.0
        failures = LoopFailures(log, f"reading the event stream (group {group})")
        while not sub._closed:
            try:
                entries: list[Any] = []
                now = time.monotonic()
                if now >= next_claim:
                    next_claim = now + self.claim_idle_ms / 2000.0
                    claimed = await client.xautoclaim(
                        self.key,
                        group,
                        sub.consumer,
                        self.claim_idle_ms,
                        start_id="0-0",
                        count=self.batch_size,
                    )
                    entries = [entry for entry in claimed[1] if entry and entry[1]]
                if not entries:
                    reply = await client.xreadgroup(
                        group, sub.consumer, {self.key: ">"}, count=self.batch_size, block=self.block_ms
                    )
                    entries = [entry for _stream, items in reply or [] for entry in items]
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                failures.failed(exc)
                await asyncio.sleep(0.5)
                continue
            failures.succeeded()
            skip: list[str] = []
            for entry_id, fields in entries:
                wanted = [event for event in _decode(fields) if match(event.type)]
                if not wanted:
                    skip.append(entry_id)
                for index, event in enumerate(wanted):
                    # The entry is acknowledged once its last wanted event was received.
                    await sub._queue.put((entry_id if index == len(wanted) - 1 else "", event))
            if skip:
                await client.xack(self.key, group, *skip)

    async def _ack(self, group: str, ids: list[str]) -> None:
        try:
            await self._state().client.xack(self.key, group, *ids)
        except Exception as exc:
            raise StorageError(f"Redis acknowledge failed: {exc}") from exc

    async def aclose(self) -> None:
        subs, self._subs = self._subs, set()
        for sub in subs:
            await sub.aclose()
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return
        state = self._loops.pop(loop, None)
        if state is not None:
            if state.flusher is not None:
                await asyncio.gather(state.flusher, return_exceptions=True)
            await state.client.aclose()


def _count_published(count: int) -> None:
    from ..core.metrics import EVENTS_PUBLISHED

    EVENTS_PUBLISHED.labels(backend="redis").inc(count)


def _decode(fields: dict[str, str]) -> list[UniversalEvent]:
    return [UniversalEvent.from_dict(body) for body in json.loads(fields["b"])]

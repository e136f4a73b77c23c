"""Run event hub on Redis Streams: one stream per run, so readers on any replica follow
a run executing on another. Streams are capped (MAXLEN) and expire after the run ends."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Sequence
from typing import Any

from ..core.batching import Coalescer
from ..core.errors import StorageError
from .abc import RunEvent, RunEventHub

__all__ = ["RedisRunEventHub"]


class RedisRunEventHub(RunEventHub):
    """``redis://host:port/db`` — keys ``<prefix>run:<id>``."""

    def __init__(
        self,
        url: str,
        *,
        prefix: str = "llmspell:",
        max_events: int = 10_000,
        retention_s: int = 3600,
        block_ms: int = 1000,
    ) -> None:
        import redis.asyncio as aioredis

        self._redis: Any = aioredis.from_url(url, decode_responses=True)
        self._prefix = prefix
        self._max_events = max_events
        self._retention_s = retention_s
        self._block_ms = block_ms
        self._closed = False
        # Concurrent runs' publishes share one pipeline round trip.
        self._publishes: Coalescer[Sequence[RunEvent], None] = Coalescer(self._publish_batches)

    def _key(self, run_id: str) -> str:
        return f"{self._prefix}run:{run_id}"

    async def publish(self, events: Sequence[RunEvent]) -> None:
        if events:
            await self._publishes.submit(events)

    async def _publish_batches(self, batches: Sequence[Sequence[RunEvent]]) -> list[None]:
        try:
            async with self._redis.pipeline(transaction=False) as pipe:
                for events in batches:
                    key = self._key(events[0].run_id)
                    for event in events:
                        body = json.dumps(
                            {"id": event.id, "event": event.event, "data": event.data}, default=str
                        )
                        pipe.xadd(key, {"d": body}, maxlen=self._max_events, approximate=True)
                    if events[-1].event == "end":
                        pipe.expire(key, self._retention_s)
                await pipe.execute()
        except Exception as exc:
            raise StorageError(f"Redis publish failed: {exc}") from exc
        return [None] * len(batches)

    def _decode(self, run_id: str, fields: dict[str, str]) -> RunEvent:
        body = json.loads(fields["d"])
        return RunEvent(run_id=run_id, id=int(body["id"]), event=body["event"], data=body["data"])

    async def subscribe(self, run_id: str, after: int = 0) -> AsyncIterator[RunEvent]:
        key = self._key(run_id)
        last_seen = after
        cursor = "0-0"
        while not self._closed:
            try:
                reply = await self._redis.xread({key: cursor}, count=500, block=self._block_ms)
            except Exception as exc:
                raise StorageError(f"Redis read failed: {exc}") from exc
            for _stream, entries in reply or []:
                for entry_id, fields in entries:
                    cursor = entry_id
                    event = self._decode(run_id, fields)
                    if event.id <= last_seen:
                        continue
                    last_seen = event.id
                    yield event
                    if event.event == "end":
                        return

    async def has_history(self, run_id: str) -> bool:
        return bool(await self._redis.exists(self._key(run_id)))

    async def ping(self) -> bool:
        """True when Redis answers."""
        try:
            return bool(await self._redis.ping())
        except Exception:
            return False

    async def aclose(self) -> None:
        self._closed = True
        await self._redis.aclose()

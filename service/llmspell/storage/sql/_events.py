"""Run events on SQL."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import bindparam, func, insert, select

from ...core.batching import Coalescer
from ...core.errors import ValidationError
from ..abc import EventRepository
from ..records import RunEventRecord
from ._db import Database, utcnow
from ._tables import run_events

__all__ = ["INSERT_EVENT", "SQLEventRepository", "event_rows"]

#: One ``run_events`` row, for :meth:`Database.execute_many`.
INSERT_EVENT = insert(run_events).values({c.name: bindparam(c.name, type_=c.type) for c in run_events.c})


def event_rows(run_id: str, events: Sequence[tuple[int, str, Any]]) -> list[dict[str, Any]]:
    """``run_events`` rows for ``(seq, type, data)`` events (ValidationError for seq < 1)."""
    now = utcnow()
    rows = []
    for seq, kind, data in events:
        if seq < 1:
            raise ValidationError(f"event seq starts at 1, got {seq}")
        rows.append({"run_id": run_id, "seq": seq, "type": kind, "data": data, "created_at": now})
    return rows


class SQLEventRepository(EventRepository):
    """:class:`EventRepository` over the ``run_events`` table."""

    def __init__(self, db: Database) -> None:
        self._db = db
        # Concurrent runs' appends share one transaction (a failing batch is retried run by run).
        self._appends: Coalescer[list[dict[str, Any]], None] = Coalescer(self._append_batches)

    async def append(self, run_id: str, events: Sequence[tuple[int, str, Any]]) -> None:
        if not events:
            return
        await self._appends.submit(event_rows(run_id, events))

    async def _append_batches(self, batches: Sequence[list[dict[str, Any]]]) -> list[None]:
        await self._db.execute_many((INSERT_EVENT, [row for rows in batches for row in rows]))
        return [None] * len(batches)

    async def list(self, run_id: str, after_seq: int = 0, limit: int = 1000) -> list[RunEventRecord]:
        if limit < 1:
            raise ValidationError(f"limit must be at least 1, got {limit}")
        query = (
            select(run_events)
            .where(run_events.c.run_id == run_id, run_events.c.seq > after_seq)
            .order_by(run_events.c.seq)
            .limit(limit)
        )
        rows = await self._db.run(lambda conn: conn.execute(query).all(), write=False, atomic=False)
        return [RunEventRecord(**row._mapping) for row in rows]

    async def last_seq(self, run_id: str) -> int:
        query = select(func.coalesce(func.max(run_events.c.seq), 0)).where(run_events.c.run_id == run_id)
        return int(await self._db.run(lambda conn: conn.scalar(query), write=False, atomic=False) or 0)

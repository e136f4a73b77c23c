"""Sessions and their replay records on SQL."""

from __future__ import annotations

import builtins
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Row, and_, delete, insert, or_, select, update

from ...core.errors import NotFound, ValidationError
from ..abc import ReplayRepository, SessionRepository
from ..records import SESSION_STATUSES, UNSET, ReplayRecord, SessionRecord, SessionStatus, Unset
from ._db import Database, new_id, utcnow
from ._pages import check_limit, decode_time_cursor, encode_cursor
from ._tables import replay_records, sessions

__all__ = ["SQLReplayRepository", "SQLSessionRepository"]

_ENDED: frozenset[str] = frozenset({"completed", "failed"})
# Tag filters are applied in Python over pages this many times larger than asked for.
_TAG_SCAN_FACTOR = 4


def _record(row: Row[Any]) -> SessionRecord:
    values = dict(row._mapping)
    values["tags"] = tuple(values["tags"] or ())
    values["metadata"] = values["metadata"] or {}
    return SessionRecord(**values)


def _check_tags(tags: Sequence[str]) -> list[str]:
    if isinstance(tags, str) or not all(isinstance(tag, str) and tag for tag in tags):
        raise ValidationError("session tags must be a list of non-empty strings", details={"field": "tags"})
    return list(dict.fromkeys(tags))


def _check_status(status: str) -> SessionStatus:
    if status not in SESSION_STATUSES:
        raise ValidationError(
            f"unknown session status {status!r}; use one of {', '.join(SESSION_STATUSES)}",
            details={"field": "status"},
        )
    return status


class SQLSessionRepository(SessionRepository):
    """:class:`SessionRepository` over the ``sessions`` table."""

    def __init__(self, db: Database) -> None:
        self._db = db

    async def create(
        self,
        *,
        name: str,
        description: str = "",
        tags: Sequence[str] = (),
        metadata: dict[str, Any] | None = None,
        session_id: str | None = None,
    ) -> SessionRecord:
        if not isinstance(name, str) or len(name) > 200:
            raise ValidationError("session name must be a string of at most 200 characters")
        if session_id is not None and not 1 <= len(session_id) <= 64:
            raise ValidationError("session id must be 1 to 64 characters")
        now = utcnow()
        record = SessionRecord(
            id=session_id or new_id(),
            name=name,
            description=description or "",
            status="active",
            tags=tuple(_check_tags(tags)),
            metadata=dict(metadata or {}),
            created_at=now,
            updated_at=now,
            ended_at=None,
        )
        async with self._db.write() as conn:
            await conn.execute(insert(sessions).values(**_values(record)))
        return record

    async def get(self, session_id: str) -> SessionRecord:
        async with self._db.read() as conn:
            row = (await conn.execute(select(sessions).where(sessions.c.id == session_id))).first()
        if row is None:
            raise NotFound.named("session", session_id)
        return _record(row)

    async def list(
        self,
        *,
        status: SessionStatus | None = None,
        tags: Sequence[str] = (),
        limit: int = 50,
        cursor: str | None = None,
    ) -> tuple[builtins.list[SessionRecord], str | None]:
        check_limit(limit)
        wanted = set(_check_tags(tags))
        query = select(sessions)
        if status is not None:
            query = query.where(sessions.c.status == _check_status(status))
        found: list[SessionRecord] = []
        position = decode_time_cursor(cursor) if cursor is not None else None
        page = limit + 1 if not wanted else (limit + 1) * _TAG_SCAN_FACTOR
        async with self._db.read() as conn:
            while len(found) <= limit:
                paged = query
                if position is not None:
                    stamp, last_id = position
                    paged = paged.where(
                        or_(
                            sessions.c.created_at < stamp,
                            and_(sessions.c.created_at == stamp, sessions.c.id < last_id),
                        )
                    )
                paged = paged.order_by(sessions.c.created_at.desc(), sessions.c.id.desc()).limit(page)
                rows = (await conn.execute(paged)).all()
                for row in rows:
                    record = _record(row)
                    position = (record.created_at, record.id)
                    if wanted <= set(record.tags):
                        found.append(record)
                        if len(found) > limit:
                            break
                if len(rows) < page:
                    break
        items = found[:limit]
        next_cursor = encode_cursor(items[-1].created_at, items[-1].id) if len(found) > limit else None
        return items, next_cursor

    async def update(
        self,
        session_id: str,
        *,
        status: SessionStatus | Unset = UNSET,
        name: str | Unset = UNSET,
        description: str | Unset = UNSET,
        tags: Sequence[str] | Unset = UNSET,
        metadata: dict[str, Any] | Unset = UNSET,
    ) -> SessionRecord:
        now = utcnow()
        values: dict[str, Any] = {"updated_at": now}
        if not isinstance(status, Unset):
            values["status"] = _check_status(status)
            values["ended_at"] = now if status in _ENDED else None
        if not isinstance(name, Unset):
            values["name"] = name
        if not isinstance(description, Unset):
            values["description"] = description
        if not isinstance(tags, Unset):
            values["tags"] = _check_tags(tags)
        if not isinstance(metadata, Unset):
            values["metadata"] = dict(metadata)
        statement = update(sessions).where(sessions.c.id == session_id).values(**values)
        async with self._db.write() as conn:
            row = (await conn.execute(statement.returning(*sessions.c))).first()
        if row is None:
            raise NotFound.named("session", session_id)
        return _record(row)

    async def delete(self, session_id: str) -> None:
        async with self._db.write() as conn:
            result = await conn.execute(
                delete(sessions).where(sessions.c.id == session_id).returning(sessions.c.id)
            )
            if not result.all():
                raise NotFound.named("session", session_id)

    async def purge(self, before: datetime, statuses: Sequence[SessionStatus]) -> builtins.list[str]:
        chosen = [_check_status(status) for status in statuses]
        if not chosen:
            return []
        statement = (
            delete(sessions)
            .where(sessions.c.status.in_(chosen), sessions.c.updated_at < before)
            .returning(sessions.c.id)
        )
        async with self._db.write() as conn:
            return [row.id for row in (await conn.execute(statement)).all()]


def _values(record: SessionRecord) -> dict[str, Any]:
    return {
        "id": record.id,
        "name": record.name,
        "description": record.description,
        "status": record.status,
        "tags": list(record.tags),
        "metadata": record.metadata,
        "created_at": record.created_at,
        "updated_at": record.updated_at,
        "ended_at": record.ended_at,
    }


class SQLReplayRepository(ReplayRepository):
    """:class:`ReplayRepository` over the ``replay_records`` table."""

    def __init__(self, db: Database) -> None:
        self._db = db

    async def append(
        self, session_id: str, run_id: str, records: Sequence[tuple[int, str, str, Any]]
    ) -> None:
        if not records:
            return
        now = utcnow()
        rows = [
            {
                "session_id": session_id,
                "run_id": run_id,
                "seq": seq,
                "kind": kind,
                "key": key[:128],
                "data": data,
                "created_at": now,
            }
            for seq, kind, key, data in records
        ]
        async with self._db.write() as conn:
            exists = await conn.scalar(select(sessions.c.id).where(sessions.c.id == session_id))
            if exists is None:
                raise NotFound.named("session", session_id)
            await conn.execute(insert(replay_records), rows)

    async def list(self, session_id: str, run_id: str | None = None) -> builtins.list[ReplayRecord]:
        query = select(replay_records).where(replay_records.c.session_id == session_id)
        if run_id is not None:
            query = query.where(replay_records.c.run_id == run_id)
        query = query.order_by(replay_records.c.created_at, replay_records.c.run_id, replay_records.c.seq)
        async with self._db.read() as conn:
            rows = (await conn.execute(query)).all()
        return [ReplayRecord(**row._mapping) for row in rows]

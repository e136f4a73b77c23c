"""Versioned scripts on SQL."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from sqlalchemy import Row, and_, delete, func, insert, select

from ...core.errors import NotFound, ValidationError
from ..abc import ScriptRepository
from ..records import ScriptRecord
from ._db import Database, new_id, utcnow
from ._pages import check_limit, decode_cursor, encode_cursor
from ._tables import scripts

__all__ = ["SQLScriptRepository"]


def _record(row: Row[Any]) -> ScriptRecord:
    return ScriptRecord(**row._mapping)


class SQLScriptRepository(ScriptRepository):
    """:class:`ScriptRepository` over the ``scripts`` table."""

    def __init__(self, db: Database) -> None:
        self._db = db

    async def put(self, name: str, code: str, engine: str = "lua", description: str = "") -> ScriptRecord:
        if not name or len(name) > 200:
            raise ValidationError("script name must be 1 to 200 characters")
        if not engine:
            raise ValidationError("script engine must not be empty (e.g. 'lua')")
        async with self._db.write() as conn:
            await self._db.dialect.lock_key(conn, f"script:{name}")
            latest = await conn.scalar(select(func.max(scripts.c.version)).where(scripts.c.name == name))
            record = ScriptRecord(
                id=new_id(),
                name=name,
                version=(latest or 0) + 1,
                engine=engine,
                code=code,
                description=description,
                created_at=utcnow(),
            )
            await conn.execute(insert(scripts).values(**asdict(record)))
        return record

    async def get(self, name: str, version: int | None = None) -> ScriptRecord:
        query = select(scripts).where(scripts.c.name == name)
        if version is None:
            query = query.order_by(scripts.c.version.desc()).limit(1)
        else:
            query = query.where(scripts.c.version == version)
        async with self._db.read() as conn:
            row = (await conn.execute(query)).first()
        if row is None:
            if version is None:
                raise NotFound.named("script", name)
            raise NotFound(
                f"No version {version} of script {name!r}",
                details={"kind": "script", "name": name, "version": version},
            )
        return _record(row)

    async def list(
        self, limit: int = 100, cursor: str | None = None
    ) -> tuple[list[ScriptRecord], str | None]:
        check_limit(limit)
        latest = select(scripts.c.name, func.max(scripts.c.version).label("version")).group_by(scripts.c.name)
        if cursor is not None:
            (after,) = decode_cursor(cursor, 1)
            latest = latest.where(scripts.c.name > str(after))
        sub = latest.subquery()
        query = (
            select(scripts)
            .join(sub, and_(scripts.c.name == sub.c.name, scripts.c.version == sub.c.version))
            .order_by(scripts.c.name)
            .limit(limit + 1)
        )
        async with self._db.read() as conn:
            rows = (await conn.execute(query)).all()
        records = [_record(row) for row in rows[:limit]]
        next_cursor = encode_cursor(records[-1].name) if len(rows) > limit else None
        return records, next_cursor

    async def delete(self, name: str) -> int:
        async with self._db.write() as conn:
            result = await conn.execute(delete(scripts).where(scripts.c.name == name).returning(scripts.c.id))
            count = len(result.all())
        if count == 0:
            raise NotFound.named("script", name)
        return count

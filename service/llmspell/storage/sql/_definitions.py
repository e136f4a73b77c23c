"""Stored agent and workflow definitions on SQL (one table each, same shape)."""

from __future__ import annotations

import builtins
from typing import Any

from sqlalchemy import Row, Table, delete, insert, select, update

from ...core.errors import NotFound, ValidationError
from ..abc import DefinitionRepository
from ..records import DefinitionRecord
from ._db import Database, utcnow
from ._pages import check_limit, decode_cursor, encode_cursor

__all__ = ["SQLDefinitionRepository"]


def _record(row: Row[Any]) -> DefinitionRecord:
    return DefinitionRecord(**row._mapping)


class SQLDefinitionRepository(DefinitionRepository):
    """:class:`DefinitionRepository` over ``table`` (``agent_definitions`` or ``workflow_definitions``).

    Args:
        db: the database.
        table: the table.
        kind: ``agent`` or ``workflow``, for messages ("No agent named 'x'").
    """

    def __init__(self, db: Database, table: Table, kind: str) -> None:
        self._db = db
        self._table = table
        self._kind = kind

    async def put(self, name: str, definition: dict[str, Any], description: str = "") -> DefinitionRecord:
        if not isinstance(name, str) or not name or len(name) > 200:
            raise ValidationError(f"{self._kind} name must be 1 to 200 characters", details={"field": "name"})
        table = self._table
        now = utcnow()
        async with self._db.write() as conn:
            await self._db.dialect.lock_key(conn, f"{self._kind}-definition:{name}")
            row = (await conn.execute(select(table).where(table.c.name == name))).first()
            if row is None:
                record = DefinitionRecord(
                    name=name,
                    definition=definition,
                    description=description,
                    version=1,
                    created_at=now,
                    updated_at=now,
                )
                await conn.execute(
                    insert(table).values(
                        name=name,
                        definition=definition,
                        description=description,
                        version=1,
                        created_at=now,
                        updated_at=now,
                    )
                )
                return record
            version = int(row._mapping["version"]) + 1
            await conn.execute(
                update(table)
                .where(table.c.name == name)
                .values(definition=definition, description=description, version=version, updated_at=now)
            )
            return DefinitionRecord(
                name=name,
                definition=definition,
                description=description,
                version=version,
                created_at=row._mapping["created_at"],
                updated_at=now,
            )

    async def get(self, name: str) -> DefinitionRecord:
        async with self._db.read() as conn:
            row = (await conn.execute(select(self._table).where(self._table.c.name == name))).first()
        if row is None:
            raise NotFound.named(self._kind, name)
        return _record(row)

    async def list(
        self, limit: int = 100, cursor: str | None = None
    ) -> tuple[builtins.list[DefinitionRecord], str | None]:
        check_limit(limit)
        table = self._table
        query = select(table).order_by(table.c.name).limit(limit + 1)
        if cursor is not None:
            (after,) = decode_cursor(cursor, 1)
            query = query.where(table.c.name > str(after))
        async with self._db.read() as conn:
            rows = (await conn.execute(query)).all()
        records = [_record(row) for row in rows[:limit]]
        return records, encode_cursor(records[-1].name) if len(rows) > limit else None

    async def delete(self, name: str) -> None:
        async with self._db.write() as conn:
            result = await conn.execute(
                delete(self._table).where(self._table.c.name == name).returning(self._table.c.name)
            )
            if not result.all():
                raise NotFound.named(self._kind, name)

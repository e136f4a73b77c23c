"""Whole-table operations on SQL: retention purges, backup export and restore import.

Rows cross this boundary as JSON-safe dicts (timestamps as ISO strings), so a backup
taken on SQLite restores on PostgreSQL and back.
"""

from __future__ import annotations

import builtins
from collections.abc import Sequence
from datetime import datetime
from typing import Any, Final

from sqlalchemy import Column, LargeBinary, Table, delete, select, tuple_

from ...core.errors import ValidationError
from ..abc import MaintenanceRepository
from ..records import TERMINAL_RUN_STATUSES
from ._db import Database
from ._pages import check_limit, decode_cursor, encode_cursor
from ._tables import (
    UTCDateTime,
    artifacts,
    blobs,
    replay_records,
    run_events,
    runs,
    schedules,
    scripts,
    sessions,
    state_entries,
)

__all__ = ["BACKUP_TABLES", "SQLMaintenanceRepository"]

#: Tables a backup holds, parents before children (restore order).
BACKUP_TABLES: Final[tuple[str, ...]] = (
    "scripts",
    "schedules",
    "sessions",
    "blobs",
    "artifacts",
    "state_entries",
    "replay_records",
)
_TABLES: Final[dict[str, Table]] = {
    "scripts": scripts,
    "schedules": schedules,
    "sessions": sessions,
    "blobs": blobs,
    "artifacts": artifacts,
    "state_entries": state_entries,
    "replay_records": replay_records,
}
# The column that tells whether a row changed since an earlier (incremental) backup.
_CHANGED: Final[dict[str, str]] = {
    "scripts": "created_at",
    "schedules": "updated_at",
    "sessions": "updated_at",
    "blobs": "created_at",
    "artifacts": "created_at",
    "state_entries": "updated_at",
    "replay_records": "created_at",
}
_IMPORT_BATCH = 500


def _table(name: str) -> Table:
    table = _TABLES.get(name)
    if table is None:
        raise ValidationError(f"unknown table {name!r}; one of {', '.join(BACKUP_TABLES)}")
    return table


def _exported(table: Table) -> list[Column[Any]]:
    return [column for column in table.c if not isinstance(column.type, LargeBinary)]


def _to_json(table: Table, row: dict[str, Any]) -> dict[str, Any]:
    out = {}
    for column in _exported(table):
        value = row[column.name]
        out[column.name] = value.isoformat() if isinstance(value, datetime) else value
    return out


def _from_json(table: Table, row: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for column in table.c:
        if column.name not in row:
            continue
        value = row[column.name]
        if isinstance(column.type, UTCDateTime) and isinstance(value, str):
            value = datetime.fromisoformat(value)
        out[column.name] = value
    return out


class SQLMaintenanceRepository(MaintenanceRepository):
    """:class:`MaintenanceRepository` over every table."""

    def __init__(self, db: Database) -> None:
        self._db = db

    async def purge_runs(self, before: datetime) -> int:
        statement = (
            delete(runs)
            .where(runs.c.status.in_(TERMINAL_RUN_STATUSES), runs.c.created_at < before)
            .returning(runs.c.id)
        )
        async with self._db.write() as conn:
            return len((await conn.execute(statement)).all())

    async def purge_events(self, before: datetime) -> int:
        finished = select(runs.c.id).where(runs.c.status.in_(TERMINAL_RUN_STATUSES))
        statement = (
            delete(run_events)
            .where(run_events.c.created_at < before, run_events.c.run_id.in_(finished))
            .returning(run_events.c.seq)
        )
        async with self._db.write() as conn:
            return len((await conn.execute(statement)).all())

    async def export_rows(
        self, table: str, *, since: datetime | None = None, limit: int = 1000, cursor: str | None = None
    ) -> tuple[builtins.list[dict[str, Any]], str | None]:
        check_limit(limit)
        chosen = _table(table)
        keys = list(chosen.primary_key.columns)
        query = select(*_exported(chosen))
        if since is not None:
            query = query.where(chosen.c[_CHANGED[table]] > since)
        if cursor is not None:
            after = decode_cursor(cursor, len(keys))
            query = query.where(tuple_(*keys) > tuple_(*after))
        query = query.order_by(*keys).limit(limit + 1)
        async with self._db.read() as conn:
            rows = [dict(row._mapping) for row in (await conn.execute(query)).all()]
        page = rows[:limit]
        next_cursor = None
        if len(rows) > limit:
            next_cursor = encode_cursor(*(page[-1][key.name] for key in keys))
        return [_to_json(chosen, row) for row in page], next_cursor

    async def import_rows(self, table: str, rows: Sequence[dict[str, Any]]) -> int:
        if not rows:
            return 0
        chosen = _table(table)
        keys = [column.name for column in chosen.primary_key.columns]
        converted = [_from_json(chosen, row) for row in rows]
        columns = list(converted[0])
        insert = self._db.dialect.insert(chosen)
        statement = insert.on_conflict_do_update(
            index_elements=keys,
            set_={name: insert.excluded[name] for name in columns if name not in keys},
        )
        async with self._db.write() as conn:
            for start in range(0, len(converted), _IMPORT_BATCH):
                await conn.execute(statement, converted[start : start + _IMPORT_BATCH])
        return len(converted)

    async def wipe(self, tables: Sequence[str]) -> None:
        chosen = [_table(name) for name in tables]
        order = {name: index for index, name in enumerate(BACKUP_TABLES)}
        async with self._db.write() as conn:
            for table in sorted(chosen, key=lambda t: order[t.name], reverse=True):
                await conn.execute(delete(table))

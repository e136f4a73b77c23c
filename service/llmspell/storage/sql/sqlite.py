"""SQLite through aiosqlite: WAL, a busy timeout, foreign keys, BEGIN IMMEDIATE for writes.

SQLite allows one writer: every write transaction starts with ``BEGIN IMMEDIATE`` so it
takes the write lock up front (a deferred transaction that upgrades from read to write
fails at once under WAL), and the busy timeout absorbs other processes' writes.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Select, Table, event
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine

from ...core.errors import ConfigError
from ._dialect import Dialect

__all__ = ["IMMEDIATE_OPTION", "SQLiteDialect"]

#: Execution option that makes the next transaction of a connection ``BEGIN IMMEDIATE``.
IMMEDIATE_OPTION = "llmspell_begin_immediate"
_BUSY_TIMEOUT_MS = 10_000


def _on_connect(dbapi_connection: Any, _record: Any) -> None:
    # Let SQLAlchemy's "begin" event emit BEGIN rather than the driver (which would not
    # begin before DDL nor let us choose IMMEDIATE).
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    for pragma in (
        "PRAGMA journal_mode=WAL",
        f"PRAGMA busy_timeout={_BUSY_TIMEOUT_MS}",
        "PRAGMA foreign_keys=ON",
        "PRAGMA synchronous=NORMAL",
    ):
        cursor.execute(pragma)
    cursor.close()


def _on_begin(connection: Connection) -> None:
    immediate = connection.get_execution_options().get(IMMEDIATE_OPTION, False)
    connection.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")


class SQLiteDialect(Dialect):
    """The embedded default backend (single replica)."""

    name = "sqlite"
    single_writer = True

    def create_engine(self, url: str) -> AsyncEngine:
        database = make_url(url).database or ""
        if database in ("", ":memory:") or database.startswith("file:"):
            # Each pooled connection would see its own empty database, and migrations
            # run on a separate engine: an in-memory store could never be migrated.
            raise ConfigError(
                "in-memory SQLite is not supported; give a file path like sqlite+aiosqlite:///llmspell.db"
            )
        path = Path(database).expanduser()
        path.parent.mkdir(parents=True, exist_ok=True)
        engine = create_async_engine(make_url(url).set(database=str(path)))
        event.listen(engine.sync_engine, "connect", _on_connect)
        event.listen(engine.sync_engine, "begin", _on_begin)
        return engine

    def insert(self, table: Table) -> Any:
        return sqlite_insert(table)

    async def lock_key(self, connection: AsyncConnection, key: str) -> None:
        # Writes run under BEGIN IMMEDIATE: the transaction already excludes every other writer.
        return None

    def lock_for_migration(self, connection: Connection) -> None:
        # Migrations run in a BEGIN IMMEDIATE transaction, which already excludes other writers.
        return None

    def lock_rows(self, query: Select[Any]) -> Select[Any]:
        # Writes run under BEGIN IMMEDIATE: no other writer can change the rows read.
        return query

    def lock_queued(self, query: Select[Any]) -> Select[Any]:
        # Exclusive by construction: the claim runs under BEGIN IMMEDIATE.
        return query

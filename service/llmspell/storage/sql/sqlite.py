"""SQLite through aiosqlite: WAL, a busy timeout, foreign keys, BEGIN IMMEDIATE for writes.

SQLite allows one writer: every write transaction starts with ``BEGIN IMMEDIATE`` so it
takes the write lock up front (a deferred transaction that upgrades from read to write
fails at once under WAL), and the busy timeout absorbs other processes' writes.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, Select, Table, create_engine, event
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.engine import make_url
from sqlalchemy.pool import SingletonThreadPool

from ...core.errors import ConfigError
from ._async import AsyncConnection, AsyncEngine, create_async_engine
from ._dialect import Dialect
from ._json import dumps_json
from ._wal import WalCheckpointer

__all__ = ["IMMEDIATE_OPTION", "SQLiteDialect"]

#: Execution option that makes the next transaction of a connection ``BEGIN IMMEDIATE``.
IMMEDIATE_OPTION = "llmspell_begin_immediate"
_BUSY_TIMEOUT_MS = 10_000


def _database_path(url: str) -> Path:
    database = make_url(url).database or ""
    if database in ("", ":memory:") or database.startswith("file:"):
        # Each pooled connection would see its own empty database, and migrations
        # run on a separate engine: an in-memory store could never be migrated.
        raise ConfigError(
            "in-memory SQLite is not supported; give a file path like sqlite+aiosqlite:///llmspell.db"
        )
    path = Path(database).expanduser()
    path.parent.mkdir(parents=True, exist_ok=True)
    return path


def _listen(engine: Engine, busy_timeout_ms: int = _BUSY_TIMEOUT_MS) -> None:
    pragmas = (
        f"PRAGMA busy_timeout={busy_timeout_ms}",
        "PRAGMA foreign_keys=ON",
        "PRAGMA synchronous=NORMAL",
        "PRAGMA wal_autocheckpoint=0",  # checkpoints run on their own thread (_wal.py)
    )

    def on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Let SQLAlchemy's "begin" event emit BEGIN rather than the driver (which would not
        # begin before DDL nor let us choose IMMEDIATE).
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        for pragma in pragmas:
            cursor.execute(pragma)
        _use_wal(cursor, busy_timeout_ms / 1000)
        cursor.close()

    event.listen(engine, "connect", on_connect)
    event.listen(engine, "begin", _on_begin)


def _use_wal(cursor: Any, wait_s: float) -> None:
    """Put the database file in WAL mode (it stays so: only its first connection switches).

    Connections opening a new database at the same time race to switch it, and the loser
    gets "database is locked" at once (SQLite does not call the busy handler for that
    lock): it waits and looks again until the winner has switched.
    """
    deadline = time.monotonic() + wait_s
    while True:
        cursor.execute("PRAGMA journal_mode")
        if str(cursor.fetchone()[0]).lower() == "wal":
            return
        try:
            cursor.execute("PRAGMA journal_mode=WAL")
            return
        except Exception as exc:  # the driver's OperationalError (sqlite3 or its async adapter)
            if "locked" not in str(exc) or time.monotonic() >= deadline:
                raise
            time.sleep(0.01)


def _on_begin(connection: Connection) -> None:
    immediate = connection.get_execution_options().get(IMMEDIATE_OPTION, False)
    connection.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")


class SQLiteDialect(Dialect):
    """The embedded default backend (single replica)."""

    name = "sqlite"
    single_writer = True

    def create_engine(self, url: str) -> AsyncEngine:
        path = _database_path(url)
        engine = create_async_engine(make_url(url).set(database=str(path)), json_serializer=dumps_json)
        _listen(engine.sync_engine)
        return engine

    def create_inline_engines(self, url: str) -> tuple[Engine, Engine]:
        sync_url = make_url(url).set(drivername="sqlite+pysqlite", database=str(_database_path(url)))

        def engine(busy_timeout_ms: int) -> Engine:
            # One connection per thread using the engine; dispose() may close it from another
            # thread, hence check_same_thread off (each connection is still used by one thread).
            created = create_engine(
                sync_url,
                poolclass=SingletonThreadPool,
                json_serializer=dumps_json,
                connect_args={"timeout": busy_timeout_ms / 1000, "check_same_thread": False},
            )
            _listen(created, busy_timeout_ms)
            return created

        return engine(0), engine(_BUSY_TIMEOUT_MS)

    def start_checkpoints(self, url: str) -> WalCheckpointer:
        return WalCheckpointer(_database_path(url)).start()

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

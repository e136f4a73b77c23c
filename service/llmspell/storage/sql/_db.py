"""Connections and transactions: every repository call goes through :class:`Database`."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager, contextmanager
from datetime import UTC, datetime
from typing import Any, TypeVar

from sqlalchemy import Connection, Engine, text
from sqlalchemy import exc as sa_exc
from sqlalchemy.pool import PoolProxiedConnection
from sqlalchemy.sql.dml import UpdateBase
from sqlalchemy.sql.selectable import Select
from sqlalchemy.util import greenlet_spawn

from ...core.errors import StorageError
from ...core.ids import new_id
from .._url import mask_url
from ._async import AsyncConnection, AsyncEngine, run_transaction
from ._dialect import Dialect
from ._errors import connection_lost, map_db_errors
from ._prepared import Prepared
from ._wal import WalCheckpointer
from .sqlite import IMMEDIATE_OPTION

__all__ = ["Database", "driver_cursor", "new_id", "utcnow"]

T = TypeVar("T")

#: Driver connections kept checked out between hot statements, and for how long at most.
_HOLD_MAX = 4
_HOLD_S = 5.0
#: Makes a SQLite transaction ``BEGIN IMMEDIATE`` (a writer takes the lock up front).
_IMMEDIATE = {IMMEDIATE_OPTION: True}


def utcnow() -> datetime:
    """The current time, aware UTC."""
    return datetime.now(UTC)


@contextmanager
def driver_cursor(conn: Connection) -> Iterator[Any]:
    """The driver's own cursor on ``conn``, in its transaction, for a loop of small
    statements in a :meth:`Database.run` body (SQLAlchemy's per-execution work costs ~4x
    a small indexed UPDATE on SQLite). Driver errors come out wrapped as SQLAlchemy wraps
    them, so they are translated (and a locked database retried) as any other."""
    dbapi_error = conn.dialect.loaded_dbapi.Error
    cursor = conn.connection.cursor()
    try:
        yield cursor
    except dbapi_error as exc:
        raise sa_exc.DBAPIError.instance(None, None, exc, dbapi_error) from exc
    finally:
        cursor.close()


class Database:
    """An engine with read and write transactions whose errors are translated.

    Args:
        url: a normalised SQLAlchemy URL.
        dialect: the backend's differences.
    """

    def __init__(self, url: str, dialect: Dialect) -> None:
        self.url = url
        self.masked_url = mask_url(url)
        self.dialect = dialect
        self._engine: AsyncEngine | None = None
        self._closed = False
        # SQLite has one writer: queue writers here rather than on the database lock.
        self._write_lock = asyncio.Lock() if dialect.single_writer else None
        self._inline: tuple[Engine, Engine] | None = None
        self._worker: ThreadPoolExecutor | None = None
        self._prepared: dict[Select[Any] | UpdateBase, Prepared] = {}
        self._idle: list[tuple[float, PoolProxiedConnection]] = []
        self.checkpoints: WalCheckpointer | None = None

    @property
    def engine(self) -> AsyncEngine:
        """The open engine. Raises StorageError before ``open`` or after ``aclose``."""
        if self._engine is None:
            if self._closed:
                raise StorageError("This store is closed; open a new one with open_store(url)")
            raise StorageError("This store is not open; use 'async with open_store(url) as store'")
        return self._engine

    @property
    def embedded(self) -> bool:
        """True on SQLite (transaction bodies run on pysqlite, :meth:`run`); False on
        Postgres, whose hot paths may also use the driver directly (:meth:`on_driver`)."""
        return self._inline is not None

    async def open(self) -> None:
        """Create the engine and check the database answers (idempotent)."""
        if self._engine is not None:
            return
        if self._closed:
            raise StorageError("This store is closed; open a new one with open_store(url)")
        with map_db_errors(self.masked_url):
            engine = self.dialect.create_engine(self.url)
        self._engine = engine
        try:
            async with self.read() as conn:
                await conn.execute(text("SELECT 1"))
        except BaseException:
            self._engine = None
            await engine.dispose()
            raise
        self._inline = self.dialect.create_inline_engines(self.url)
        if self._inline is not None:
            self._worker = ThreadPoolExecutor(1, thread_name_prefix="llmspell-sqlite")
        self.checkpoints = self.dialect.start_checkpoints(self.url)

    async def aclose(self) -> None:
        """Dispose of the engine; later use raises StorageError."""
        self._closed = True
        engine, self._engine = self._engine, None
        idle, self._idle = self._idle, []
        for _since, pooled in idle:
            await greenlet_spawn(pooled.close)
        checkpoints, self.checkpoints = self.checkpoints, None
        if checkpoints is not None:
            checkpoints.stop()  # wakes at once; waits only for a pass under way
        inline, self._inline = self._inline, None
        worker, self._worker = self._worker, None
        if worker is not None:
            worker.shutdown(wait=True)
        if inline is not None:
            for sync_engine in inline:
                sync_engine.dispose()
        if engine is not None:
            await engine.dispose()

    async def run(self, work: Callable[[Connection], T], *, write: bool, atomic: bool = True) -> T:
        """Run ``work(connection)``, a synchronous transaction body, and return its result.

        The hot paths use this: on SQLite the body runs on the event loop's thread in one go
        (a small indexed statement takes tens of microseconds, less than a single hop to the
        driver's thread) and falls back to a worker thread that may wait when another
        process holds the write lock; on Postgres it runs in a transaction of the async
        engine, or in autocommit when ``atomic`` is False (a single statement needs no
        BEGIN/COMMIT round trips). Reads are retried once on a connection the server dropped.
        """
        engine = self.engine
        inline = self._inline
        with map_db_errors(self.masked_url):
            if inline is None:
                try:
                    return await engine.run(work, atomic=atomic)
                except sa_exc.DBAPIError as exc:
                    if write or not exc.connection_invalidated:
                        raise
                return await engine.run(work, atomic=atomic)
            if not write:
                return await self._run_embedded(inline, work, write=False)
            assert self._write_lock is not None
            async with self._write_lock:
                return await self._run_embedded(inline, work, write=True)

    def prepare(self, statement: Select[Any] | UpdateBase) -> Prepared:
        """``statement`` compiled for this database, once (kept by identity: pass statements
        built once, at import or in a repository's constructor)."""
        prepared = self._prepared.get(statement)
        if prepared is None:
            dialect = self._inline[0].dialect if self._inline is not None else self.engine.dialect
            prepared = self._prepared[statement] = Prepared(statement, dialect)
        return prepared

    async def fetch(
        self, statement: Select[Any] | UpdateBase, params: Mapping[str, Any], *, write: bool
    ) -> list[dict[str, Any]]:
        """Run one statement on its own and return its rows as ``{column key: value}``.

        The statement is compiled once (:meth:`prepare`) and handed to the driver: on
        Postgres to the asyncpg connection in autocommit (one round trip, none of
        SQLAlchemy's per-execution work), on SQLite to pysqlite as in :meth:`run`.
        """
        prepared = self.prepare(statement)
        args = prepared.args(params)
        if self._inline is None:
            raw = await self.on_driver(lambda conn: conn.fetch(prepared.sql, *args), write=write)
        else:
            raw = await self.run(lambda conn: conn.exec_driver_sql(prepared.sql, args).all(), write=write)
        return prepared.rows(raw)

    async def execute_many(self, *batches: tuple[UpdateBase, Sequence[Mapping[str, Any]]]) -> None:
        """Run each write statement once per parameter set of its rows, all in one
        transaction (the driver's executemany on statements compiled once)."""
        work = [(self.prepare(statement), rows) for statement, rows in batches if rows]
        args = [(prepared.sql, [prepared.args(row) for row in rows]) for prepared, rows in work]
        if not args:
            return
        if self._inline is not None:

            def apply(conn: Connection) -> None:
                for sql, values in args:
                    conn.exec_driver_sql(sql, values)

            return await self.run(apply, write=True)

        async def apply_async(conn: Any) -> None:
            for sql, values in args:
                await conn.executemany(sql, values)

        # asyncpg's executemany is atomic by itself: a transaction only for several statements.
        await self.on_driver(apply_async, write=True, atomic=len(args) > 1)

    async def on_driver(self, work: Callable[[Any], Awaitable[T]], *, write: bool, atomic: bool = False) -> T:
        """Postgres: ``work(connection)`` on an asyncpg connection of the engine's pool, in
        autocommit (or in a transaction when ``atomic``). Driver errors are translated;
        reads are retried once on a connection the server dropped, as in :meth:`run`."""
        engine = self.engine
        with map_db_errors(self.masked_url):
            try:
                return await self._on_driver(engine, work, atomic)
            except Exception as exc:
                if not connection_lost(exc):
                    raise
                # Like SQLAlchemy on a disconnect: the pool's other connections are suspect too.
                idle, self._idle = self._idle, []
                for _since, pooled in idle:
                    pooled.invalidate()
                await engine.dispose(close=False)
                if write:
                    raise
            return await self._on_driver(engine, work, atomic)

    async def _on_driver(self, engine: AsyncEngine, work: Callable[[Any], Awaitable[T]], atomic: bool) -> T:
        # Connections stay checked out between hot statements for a few seconds (a pool
        # checkout and check-in cost more CPU than a small statement), then go back to the
        # pool, whose recycling and size limits thus still apply.
        now = time.monotonic()
        since, pooled = self._idle.pop() if self._idle else (now, None)
        if pooled is None or now - since >= _HOLD_S:
            if pooled is not None:
                await greenlet_spawn(pooled.close)
            since, pooled = now, await engine.raw_connection()
        try:
            connection: Any = pooled.driver_connection
            if atomic:
                async with connection.transaction():
                    result = await work(connection)
            else:
                result = await work(connection)
        except BaseException as exc:
            if connection_lost(exc) or not isinstance(exc, Exception):
                # Dropped, or cancelled mid-statement: the connection's state is unknown.
                pooled.invalidate(exc if isinstance(exc, Exception) else None)
            else:
                await greenlet_spawn(pooled.close)
            raise
        if now - since < _HOLD_S and len(self._idle) < _HOLD_MAX and self._engine is engine:
            self._idle.append((since, pooled))
        else:
            await greenlet_spawn(pooled.close)
        return result

    async def _run_embedded(
        self, inline: tuple[Engine, Engine], work: Callable[[Connection], T], *, write: bool
    ) -> T:
        on_loop, waiting = inline
        try:
            return _transaction(on_loop, work, write)
        except sa_exc.OperationalError as exc:
            if "locked" not in str(exc.orig) and "busy" not in str(exc.orig):
                raise
        # Another process holds the database: wait for it off the event loop.
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._worker, _transaction, waiting, work, write)

    @asynccontextmanager
    async def read(self) -> AsyncIterator[AsyncConnection]:
        """A connection in a transaction meant for reads (it may also write on Postgres)."""
        with map_db_errors(self.masked_url):
            async with self.engine.begin() as conn:
                yield conn

    @asynccontextmanager
    async def write(self) -> AsyncIterator[AsyncConnection]:
        """A connection in a write transaction (``BEGIN IMMEDIATE`` on SQLite)."""
        with map_db_errors(self.masked_url):
            if self._write_lock is None:
                async with self.engine.begin() as conn:
                    yield conn
                return
            async with self._write_lock, self.engine.begin(**_IMMEDIATE) as conn:
                yield conn


def _transaction(engine: Engine, work: Callable[[Connection], T], write: bool) -> T:
    return run_transaction(engine, work, execution_options=_IMMEDIATE if write else None)

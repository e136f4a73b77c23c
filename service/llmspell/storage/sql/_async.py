"""Just enough of an asyncio face over a SQLAlchemy engine whose driver is async (aiosqlite,
asyncpg): connections, transactions, statements and ``run_sync``, each step run in a greenlet
as SQLAlchemy's own adapter does.

``sqlalchemy.ext.asyncio`` would serve too, but importing it imports the ORM, which the store
does not use: ~0.1 s of the daemon's one-second start-up budget.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Coroutine
from contextlib import asynccontextmanager
from typing import Any, TypeVar

from sqlalchemy import Connection, CursorResult, Dialect, Engine, create_engine
from sqlalchemy.pool import PoolProxiedConnection
from sqlalchemy.sql import Executable
from sqlalchemy.util import greenlet_spawn

__all__ = ["AsyncConnection", "AsyncEngine", "create_async_engine"]

T = TypeVar("T")
_Rows = CursorResult[*tuple[Any, ...]]


class AsyncConnection:
    """A connection checked out of an :class:`AsyncEngine` (see :meth:`AsyncEngine.connect`)."""

    __slots__ = ("sync_connection",)

    def __init__(self, sync_connection: Connection) -> None:
        self.sync_connection = sync_connection

    async def execute(self, statement: Executable, parameters: Any = None) -> _Rows:
        """Run ``statement``; the result's rows are already fetched (async drivers buffer them)."""
        return await greenlet_spawn(self.sync_connection.execute, statement, parameters)

    async def scalar(self, statement: Executable, parameters: Any = None) -> Any:
        """The first column of the first row of ``statement``'s result, or None."""
        return await greenlet_spawn(self.sync_connection.scalar, statement, parameters)

    async def run_sync(self, work: Callable[[Connection], T]) -> T:
        """``work(connection)`` with the synchronous connection (its statements await the
        driver underneath)."""
        return await greenlet_spawn(work, self.sync_connection)


class AsyncEngine:
    """A synchronous :class:`~sqlalchemy.Engine` created for an async driver, used from asyncio."""

    __slots__ = ("sync_engine",)

    def __init__(self, sync_engine: Engine) -> None:
        self.sync_engine = sync_engine

    @property
    def dialect(self) -> Dialect:
        """SQLAlchemy's dialect of the engine (compiles statements for it)."""
        return self.sync_engine.dialect

    @asynccontextmanager
    async def connect(self, **execution_options: Any) -> AsyncIterator[AsyncConnection]:
        """A pooled connection with ``execution_options`` set, closed (returned) on exit."""
        sync_connection = await greenlet_spawn(_connect, self.sync_engine, execution_options)
        try:
            yield AsyncConnection(sync_connection)
        finally:
            await _to_completion(greenlet_spawn(sync_connection.close))

    @asynccontextmanager
    async def begin(self, **execution_options: Any) -> AsyncIterator[AsyncConnection]:
        """A connection in a transaction, committed when the block ends normally and rolled
        back when it raises (or is cancelled)."""
        async with self.connect(**execution_options) as conn:
            transaction = await greenlet_spawn(conn.sync_connection.begin)
            try:
                yield conn
            except BaseException:
                await _to_completion(greenlet_spawn(transaction.rollback))
                raise
            await greenlet_spawn(transaction.commit)

    async def run(self, work: Callable[[Connection], T], *, atomic: bool = True) -> T:
        """``work(connection)`` in one transaction (or in autocommit when not ``atomic``), all
        in one greenlet: one hand-over instead of one per step."""
        return await greenlet_spawn(run_transaction, self.sync_engine, work, atomic=atomic)

    async def raw_connection(self) -> PoolProxiedConnection:
        """A pool connection without SQLAlchemy's Connection around it."""
        return await greenlet_spawn(self.sync_engine.raw_connection)

    async def dispose(self, close: bool = True) -> None:
        """Close the pool's connections (``close=False``: forget them, for a dead server)."""
        await greenlet_spawn(self.sync_engine.dispose, close=close)


def create_async_engine(url: Any, **kwargs: Any) -> AsyncEngine:
    """An :class:`AsyncEngine` for ``url`` (an async driver's URL) with ``create_engine``'s options."""
    return AsyncEngine(create_engine(url, _is_async=True, **kwargs))


def run_transaction(
    engine: Engine,
    work: Callable[[Connection], T],
    *,
    atomic: bool = True,
    execution_options: dict[str, Any] | None = None,
) -> T:
    """``work(connection)`` on a connection of ``engine``: in a transaction committed when it
    returns, or in autocommit when not ``atomic`` (a single statement needs no BEGIN/COMMIT)."""
    with engine.connect() as conn:
        if execution_options:
            conn.execution_options(**execution_options)
        if not atomic:
            conn.execution_options(isolation_level="AUTOCOMMIT")
            return work(conn)
        with conn.begin():
            return work(conn)


def _connect(engine: Engine, execution_options: dict[str, Any]) -> Connection:
    connection = engine.connect()
    if execution_options:
        connection.execution_options(**execution_options)
    return connection


async def _to_completion(cleanup: Coroutine[Any, Any, T]) -> T:
    """Finish ``cleanup`` even when the caller is cancelled meanwhile, then re-raise the
    cancellation: abandoned half-way, a connection could go back to a disposed pool."""
    task = asyncio.ensure_future(cleanup)
    cancelled: asyncio.CancelledError | None = None
    while True:
        try:
            result = await asyncio.shield(task)
            break
        except asyncio.CancelledError as exc:
            if task.done():
                raise
            cancelled = exc
    if cancelled is not None:
        raise cancelled
    return result

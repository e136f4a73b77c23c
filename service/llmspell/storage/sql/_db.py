"""Connections and transactions: every repository call goes through :class:`Database`."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from ...core.errors import StorageError
from .._url import mask_url
from ._dialect import Dialect
from ._errors import map_db_errors
from .sqlite import IMMEDIATE_OPTION

__all__ = ["Database", "new_id", "utcnow"]


def utcnow() -> datetime:
    """The current time, aware UTC."""
    return datetime.now(UTC)


def new_id() -> str:
    """A fresh row id (uuid4 hex)."""
    return uuid.uuid4().hex


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

    @property
    def engine(self) -> AsyncEngine:
        """The open engine. Raises StorageError before ``open`` or after ``aclose``."""
        if self._engine is None:
            if self._closed:
                raise StorageError("This store is closed; open a new one with open_store(url)")
            raise StorageError("This store is not open; use 'async with open_store(url) as store'")
        return self._engine

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

    async def aclose(self) -> None:
        """Dispose of the engine; later use raises StorageError."""
        self._closed = True
        engine, self._engine = self._engine, None
        if engine is not None:
            await engine.dispose()

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
            async with self._write_lock, self.engine.connect() as conn:
                await conn.execution_options(**{IMMEDIATE_OPTION: True})
                async with conn.begin():
                    yield conn

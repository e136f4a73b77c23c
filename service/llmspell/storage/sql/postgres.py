"""PostgreSQL through asyncpg: row locks with SKIP LOCKED, advisory lock for migrations."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, Select, Table, text
from sqlalchemy.dialects.postgresql import insert as pg_insert

from ._async import AsyncConnection, AsyncEngine, create_async_engine
from ._dialect import Dialect
from ._json import dumps_json

__all__ = ["PostgresDialect"]

# Shared by every replica: the key of the migration advisory lock ("llmspell" in ASCII).
_MIGRATION_LOCK_KEY = 0x6C6C6D7370656C6C
# First half of the two-part advisory lock keys of lock_key ("llms" in ASCII).
_KEY_SPACE = 0x6C6C6D73
_LOCK_KEY = text("SELECT pg_advisory_xact_lock(:space, hashtext(:key))")


class PostgresDialect(Dialect):
    """The shared backend for many replicas."""

    name = "postgresql"

    def create_engine(self, url: str) -> AsyncEngine:
        # No pool_pre_ping: it costs a round trip per checkout. A connection the server
        # dropped fails once, SQLAlchemy then invalidates the pool, and Database.run retries
        # reads once (pool_recycle keeps connections younger than typical idle timeouts).
        return create_async_engine(
            url, pool_size=5, max_overflow=10, pool_recycle=1800, json_serializer=dumps_json
        )

    def insert(self, table: Table) -> Any:
        return pg_insert(table)

    def lock_rows(self, query: Select[Any]) -> Select[Any]:
        return query.with_for_update()

    def lock_queued(self, query: Select[Any]) -> Select[Any]:
        return query.with_for_update(skip_locked=True)

    async def lock_key(self, connection: AsyncConnection, key: str) -> None:
        await connection.execute(_LOCK_KEY, {"space": _KEY_SPACE, "key": key})

    def lock_key_sync(self, connection: Connection, key: str) -> None:
        connection.execute(_LOCK_KEY, {"space": _KEY_SPACE, "key": key})

    def lock_for_migration(self, connection: Connection) -> None:
        connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _MIGRATION_LOCK_KEY})

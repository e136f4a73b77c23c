"""The StateManager: scoped, versioned, size-limited JSON state with a read-through cache."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from ..core.errors import Conflict, ValidationError
from ..storage.records import StateRecord, StateWrite
from .cache import RedisInvalidator, StateCache
from .migrations import SchemaMigrations, default_migrations
from .scopes import check_key, check_scope, encode_value

if TYPE_CHECKING:
    from ..core.config import StateConfig
    from ..core.context import ExecutionContext
    from ..storage.abc import Store

__all__ = ["StateManager", "entry_view"]


def entry_view(record: StateRecord) -> dict[str, Any]:
    """The JSON shape of a state entry (REST, CLI)."""
    return {
        "scope": record.scope,
        "key": record.key,
        "value": record.value,
        "version": record.version,
        "schema_version": record.schema_version,
        "size": record.size,
        "expires_at": record.expires_at.isoformat() if record.expires_at else None,
        "created_at": record.created_at.isoformat(),
        "updated_at": record.updated_at.isoformat(),
    }


def _expiry(ttl_s: float | None) -> datetime | None:
    if ttl_s is None:
        return None
    if ttl_s <= 0:
        raise ValidationError("ttl_s must be positive (seconds)", details={"field": "ttl_s"})
    return datetime.now(UTC) + timedelta(seconds=float(ttl_s))


class StateManager:
    """State for scripts, agents and workflows on a :class:`~llmspell.storage.Store`.

    Args:
        store: an open store.
        config: limits, quotas and cache settings (default: :class:`StateConfig` defaults).
        migrations: schema migrations applied on read (default: llmspell's own).
        cache: keep a read-through cache. None = only when ``redis_url`` is given (so that
            replicas can invalidate each other); pass True for a single-process owner.
        redis_url: publish this manager's writes (and, with a cache, receive the others')
            as cache invalidations through this Redis.

    Use ``await manager.start()`` before and ``await manager.aclose()`` after (both are
    needed only with ``redis_url``). Writes raise ``CONFLICT`` on a stale
    ``expected_version`` and ``LIMIT_EXCEEDED`` over a size limit or quota.
    """

    def __init__(
        self,
        store: Store,
        *,
        config: StateConfig | None = None,
        migrations: SchemaMigrations | None = None,
        cache: bool | None = None,
        redis_url: str | None = None,
    ) -> None:
        if config is None:
            from ..core.config import StateConfig

            config = StateConfig()
        self.store = store
        self.config = config
        self.migrations = migrations if migrations is not None else default_migrations()
        enabled = (redis_url is not None) if cache is None else cache
        self.cache = (
            StateCache(config.cache_size, config.cache_ttl_s) if enabled and config.cache_size else None
        )
        # Every manager with Redis publishes its writes; only a caching one listens.
        self._invalidator = RedisInvalidator(redis_url, self.cache) if redis_url is not None else None

    async def start(self) -> None:
        """Start listening for invalidations (with Redis)."""
        if self._invalidator is not None:
            await self._invalidator.start()

    async def aclose(self) -> None:
        """Stop listening and release Redis."""
        if self._invalidator is not None:
            await self._invalidator.aclose()
            self._invalidator = None

    # Reads -------------------------------------------------------------------------------

    async def get_entry(
        self, scope: str, key: str, *, ctx: ExecutionContext | None = None
    ) -> StateRecord | None:
        """The live entry with its value upgraded to the newest schema, or None.

        An upgrade fires StateMigration (``ctx``'s hooks, else the process's).

        Raises:
            HookCancelled: a StateMigration hook refused the upgrade (nothing was written).
        """
        scope, key = check_scope(scope), check_key(key)
        cache = self.cache
        if cache is not None:
            try:
                return cache.get(scope, key)
            except KeyError:
                pass
        record = await self.store.state.get(scope, key)
        if record is not None and record.schema_version < self.migrations.current_version(scope, key):
            record = await self._upgrade(record, ctx)
        if cache is not None:
            cache.put(scope, key, record)
        return record

    async def get(
        self, scope: str, key: str, default: Any = None, *, ctx: ExecutionContext | None = None
    ) -> Any:
        """The value under ``scope``/``key``, or ``default``.

        Fires BeforeStateRead/AfterStateRead (``ctx``'s hooks, else the process's).
        """
        from ..hooks.registry import hooks_for

        hooks = hooks_for(ctx)
        if hooks is not None:
            from ._hooked import hooked_get

            return await hooked_get(self, hooks, scope, key, default, ctx)
        record = await self.get_entry(scope, key)
        return default if record is None else record.value

    async def _upgrade(self, record: StateRecord, ctx: ExecutionContext | None) -> StateRecord:
        value, version = self.migrations.upgrade(
            record.scope, record.key, record.value, record.schema_version
        )
        from ..hooks.registry import hooks_for

        hooks = hooks_for(ctx)
        if hooks is not None:
            from ._hooked import hooked_migration

            value = await hooked_migration(hooks, record, value, version, ctx)
        try:
            return await self.store.state.put(
                record.scope,
                record.key,
                value,
                size=encode_value(value, None),
                expected_version=record.version,
                schema_version=version,
                expires_at=record.expires_at,
            )
        except Conflict:
            # Someone wrote meanwhile: their value is newer (and written in the newest schema).
            fresh = await self.store.state.get(record.scope, record.key)
            if fresh is None or fresh.schema_version >= version:
                return fresh  # type: ignore[return-value]
            return await self._upgrade(fresh, ctx)

    async def list_keys(self, scope: str, prefix: str | None = None) -> list[str]:
        """Every live key of ``scope``, sorted."""
        keys: list[str] = []
        cursor: str | None = None
        while True:
            entries, cursor = await self.store.state.list(
                check_scope(scope), prefix=prefix, limit=1000, cursor=cursor
            )
            keys.extend(entry.key for entry in entries)
            if cursor is None:
                return keys

    async def list_entries(
        self, scope: str, *, prefix: str | None = None, limit: int = 100, cursor: str | None = None
    ) -> tuple[list[StateRecord], str | None]:
        """A page of the live entries of ``scope`` and the next cursor."""
        return await self.store.state.list(check_scope(scope), prefix=prefix, limit=limit, cursor=cursor)

    async def usage(self, scope: str) -> dict[str, Any]:
        """``{keys, bytes, max_keys, max_bytes}`` of ``scope``."""
        keys, used = await self.store.state.usage(check_scope(scope))
        return {
            "keys": keys,
            "bytes": used,
            "max_keys": self.config.max_scope_keys,
            "max_bytes": self.config.max_scope_bytes,
        }

    # Writes ------------------------------------------------------------------------------

    def _write(
        self,
        scope: str,
        key: str,
        value: Any,
        *,
        expected_version: int | None,
        ttl_s: float | None,
        delete: bool = False,
    ) -> StateWrite:
        scope, key = check_scope(scope), check_key(key)
        if expected_version is not None and (isinstance(expected_version, bool) or expected_version < 0):
            raise ValidationError(
                "expected_version must be an integer >= 0", details={"field": "expected_version"}
            )
        if delete:
            return StateWrite(scope=scope, key=key, expected_version=expected_version, delete=True)
        return StateWrite(
            scope=scope,
            key=key,
            value=value,
            size=encode_value(value, self.config.max_value_bytes),
            expected_version=expected_version,
            schema_version=self.migrations.current_version(scope, key),
            expires_at=_expiry(ttl_s),
        )

    async def set(
        self,
        scope: str,
        key: str,
        value: Any,
        *,
        expected_version: int | None = None,
        ttl_s: float | None = None,
        ctx: ExecutionContext | None = None,
    ) -> StateRecord:
        """Write ``value``; returns the entry with its new ``version``.

        ``expected_version``: 0 = the key must not exist, ``n`` = it must be at version ``n``.
        Fires BeforeStateWrite/AfterStateWrite/StateConflict (``ctx``'s hooks, else the process's).
        """
        from ..hooks.registry import hooks_for

        hooks = hooks_for(ctx)
        if hooks is not None:
            from ._hooked import hooked_set

            return await hooked_set(self, hooks, scope, key, value, expected_version, ttl_s, ctx)
        return await self.put(scope, key, value, expected_version=expected_version, ttl_s=ttl_s)

    async def put(
        self,
        scope: str,
        key: str,
        value: Any,
        *,
        expected_version: int | None = None,
        ttl_s: float | None = None,
    ) -> StateRecord:
        """:meth:`set` without hooks."""
        write = self._write(scope, key, value, expected_version=expected_version, ttl_s=ttl_s)
        try:
            record = await self.store.state.put(
                write.scope,
                write.key,
                write.value,
                size=write.size,
                expected_version=write.expected_version,
                schema_version=write.schema_version,
                expires_at=write.expires_at,
                max_scope_bytes=self.config.max_scope_bytes,
                max_scope_keys=self.config.max_scope_keys,
            )
        except Conflict:
            self._forget(write.scope, write.key)
            raise
        await self._changed(write.scope, write.key, record)
        return record

    async def delete(self, scope: str, key: str, *, expected_version: int | None = None) -> bool:
        """Delete a key; False when it did not exist."""
        write = self._write(scope, key, None, expected_version=expected_version, ttl_s=None, delete=True)
        try:
            deleted = await self.store.state.delete(write.scope, write.key, write.expected_version)
        finally:
            self._forget(write.scope, write.key)
        await self._changed(write.scope, write.key, None)
        return deleted

    async def update_many(self, operations: Sequence[Mapping[str, Any]]) -> list[StateRecord | None]:
        """Apply several writes atomically: all succeed or none does.

        Each operation is ``{scope, key, value}`` (with optional ``expected_version`` and
        ``ttl_s``) or ``{scope, key, delete: true}``. Returns the new entries (None for deletes).
        """
        writes = []
        for op in operations:
            if not isinstance(op, Mapping):
                raise ValidationError("each operation must be a table {scope=, key=, value=}")
            writes.append(
                self._write(
                    op.get("scope"),  # type: ignore[arg-type]
                    op.get("key"),  # type: ignore[arg-type]
                    op.get("value"),
                    expected_version=op.get("expected_version"),
                    ttl_s=op.get("ttl_s"),
                    delete=bool(op.get("delete", False)),
                )
            )
        try:
            records = await self.store.state.put_many(
                writes, max_scope_bytes=self.config.max_scope_bytes, max_scope_keys=self.config.max_scope_keys
            )
        except Conflict:
            for write in writes:
                self._forget(write.scope, write.key)
            raise
        for write, record in zip(writes, records, strict=True):
            await self._changed(write.scope, write.key, record)
        return records

    async def clear_scope(self, scope: str) -> int:
        """Delete every key of ``scope``; returns how many."""
        scope = check_scope(scope)
        count = await self.store.state.delete_scope(scope)
        if self.cache is not None:
            self.cache.drop(scope)
        if self._invalidator is not None:
            await self._invalidator.publish(scope, None)
        return count

    def _forget(self, scope: str, key: str) -> None:
        if self.cache is not None:
            self.cache.drop(scope, key)

    async def _changed(self, scope: str, key: str, record: StateRecord | None) -> None:
        if self.cache is not None:
            self.cache.put(scope, key, record)
        if self._invalidator is not None:
            await self._invalidator.publish(scope, key)

"""Versioned state entries on SQL: one upsert or conditional update per write."""

from __future__ import annotations

import builtins
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Connection, Row, and_, bindparam, delete, func, or_, select, update

from ...core.errors import Conflict, LimitExceeded, ValidationError
from ..abc import StateRepository
from ..records import StateRecord, StateWrite
from ._db import Database, utcnow
from ._pages import check_limit, decode_cursor, encode_cursor
from ._tables import state_entries

__all__ = ["SQLStateRepository"]

_T = state_entries


def _record(row: Row[Any]) -> StateRecord:
    return StateRecord(**row._mapping)


def _live(now: datetime) -> ColumnElement[bool]:
    return or_(_T.c.expires_at.is_(None), _T.c.expires_at > now)


# Built once: the hot read path then only binds parameters.
_GET = select(_T).where(
    _T.c.scope == bindparam("scope"),
    _T.c.key == bindparam("key"),
    or_(_T.c.expires_at.is_(None), _T.c.expires_at > bindparam("now", type_=_T.c.expires_at.type)),
)


_FIELDS = ("value", "schema_version", "size", "expires_at", "updated_at")
_INSERTED = ("scope", "key", "version", "created_at", *_FIELDS)


def _check_names(scope: str, key: str) -> None:
    if not scope or len(scope) > 255:
        raise ValidationError("state scope must be 1 to 255 characters", details={"field": "scope"})
    if not key or len(key) > 512:
        raise ValidationError("state key must be 1 to 512 characters", details={"field": "key"})


def _conflict(conn: Connection, scope: str, key: str, expected: int | None, now: datetime) -> Conflict:
    current = conn.scalar(select(_T.c.version).where(_T.c.scope == scope, _T.c.key == key, _live(now)))
    found = "absent" if current is None else f"at version {current}"
    wanted = "absent" if expected == 0 else f"at version {expected}"
    return Conflict(
        f"state {scope!r}/{key!r} is {found}, not {wanted}: reload it and retry",
        details={"scope": scope, "key": key, "expected_version": expected, "current_version": current},
    )


def _delete(conn: Connection, scope: str, key: str, expected: int | None, now: datetime) -> bool:
    statement = delete(_T).where(_T.c.scope == scope, _T.c.key == key)
    if expected is not None:
        if expected == 0:
            raise ValidationError("expected_version 0 means 'absent': there is nothing to delete")
        statement = statement.where(_T.c.version == expected, _live(now))
    deleted = len((conn.execute(statement.returning(_T.c.key))).all()) > 0
    if not deleted and expected is not None:
        raise _conflict(conn, scope, key, expected, now)
    return deleted


def _check_quota(
    conn: Connection,
    scope: str,
    now: datetime,
    max_bytes: int | None,
    max_keys: int | None,
) -> None:
    query = select(func.count(), func.coalesce(func.sum(_T.c.size), 0)).where(_T.c.scope == scope, _live(now))
    keys, used = conn.execute(query).one()
    if max_keys is not None and keys > max_keys:
        raise LimitExceeded(
            f"state scope {scope!r} would hold {keys} keys, over its quota of {max_keys}: "
            "delete keys or raise state.max_scope_keys",
            details={"scope": scope, "keys": keys, "limit": max_keys},
        )
    if max_bytes is not None and used > max_bytes:
        raise LimitExceeded(
            f"state scope {scope!r} would hold {used} bytes, over its quota of {max_bytes}: "
            "delete keys or raise state.max_scope_bytes",
            details={"scope": scope, "bytes": int(used), "limit": max_bytes},
        )


def _upsert_params(write: StateWrite, now: datetime) -> dict[str, Any]:
    return {
        "scope": write.scope,
        "key": write.key,
        "version": 1,
        "created_at": now,
        "value": write.value,
        "schema_version": write.schema_version,
        "size": write.size,
        "expires_at": write.expires_at,
        "updated_at": now,
    }


class SQLStateRepository(StateRepository):
    """:class:`StateRepository` over the ``state_entries`` table."""

    def __init__(self, db: Database) -> None:
        self._db = db
        insert = db.dialect.insert(_T)
        changes = {name: insert.excluded[name] for name in _FIELDS}
        # The unconditional upsert, built once and bound per write (the common case).
        self._upsert = (
            insert.values({name: bindparam(name, type_=_T.c[name].type) for name in _INSERTED})
            .on_conflict_do_update(
                index_elements=["scope", "key"], set_={**changes, "version": _T.c.version + 1}
            )
            .returning(*_T.c)
        )

    async def get(self, scope: str, key: str) -> StateRecord | None:
        rows = await self._db.fetch(_GET, {"scope": scope, "key": key, "now": utcnow()}, write=False)
        return StateRecord(**rows[0]) if rows else None

    async def put(
        self,
        scope: str,
        key: str,
        value: Any,
        *,
        size: int,
        expected_version: int | None = None,
        schema_version: int = 1,
        expires_at: datetime | None = None,
        max_scope_bytes: int | None = None,
        max_scope_keys: int | None = None,
    ) -> StateRecord:
        write = StateWrite(
            scope=scope,
            key=key,
            value=value,
            size=size,
            expected_version=expected_version,
            schema_version=schema_version,
            expires_at=expires_at,
        )
        (record,) = await self.put_many(
            [write], max_scope_bytes=max_scope_bytes, max_scope_keys=max_scope_keys
        )
        assert record is not None
        return record

    async def put_many(
        self,
        writes: Sequence[StateWrite],
        *,
        max_scope_bytes: int | None = None,
        max_scope_keys: int | None = None,
    ) -> builtins.list[StateRecord | None]:
        for write in writes:
            _check_names(write.scope, write.key)
        quota = max_scope_bytes is not None or max_scope_keys is not None
        if len(writes) == 1 and not quota and not writes[0].delete and writes[0].expected_version is None:
            # The common write: one upsert, atomic by itself (autocommit on Postgres).
            (row,) = await self._db.fetch(self._upsert, _upsert_params(writes[0], utcnow()), write=True)
            return [StateRecord(**row)]
        scopes = sorted({write.scope for write in writes})
        lock_key = self._db.dialect.lock_key_sync

        def apply(conn: Connection) -> builtins.list[StateRecord | None]:
            results: list[StateRecord | None] = []
            if quota:
                for scope in scopes:  # sorted: concurrent multi-scope writers cannot deadlock
                    lock_key(conn, f"state-scope:{scope}")
            now = utcnow()
            for write in writes:
                if write.delete:
                    _delete(conn, write.scope, write.key, write.expected_version, now)
                    results.append(None)
                else:
                    results.append(self._write(conn, write, now))
            if quota:
                for scope in scopes:
                    _check_quota(conn, scope, now, max_scope_bytes, max_scope_keys)
            return results

        # One statement is atomic by itself: no BEGIN/COMMIT round trips on Postgres.
        return await self._db.run(apply, write=True, atomic=quota or len(writes) > 1)

    def _write(self, conn: Connection, write: StateWrite, now: datetime) -> StateRecord:
        fields = {
            "value": write.value,
            "schema_version": write.schema_version,
            "size": write.size,
            "expires_at": write.expires_at,
            "updated_at": now,
        }
        expected = write.expected_version
        if expected is None:
            return _record(conn.execute(self._upsert, _upsert_params(write, now)).one())
        if expected > 0:
            statement: Any = (
                update(_T)
                .where(_T.c.scope == write.scope, _T.c.key == write.key)
                .where(_T.c.version == expected, _live(now))
                .values(version=_T.c.version + 1, **fields)
            )
        else:
            insert = self._db.dialect.insert(_T).values(
                scope=write.scope, key=write.key, version=1, created_at=now, **fields
            )
            # expected 0: only an expired entry may be replaced.
            statement = insert.on_conflict_do_update(
                index_elements=["scope", "key"],
                set_={**fields, "version": _T.c.version + 1, "created_at": now},
                where=and_(_T.c.expires_at.is_not(None), _T.c.expires_at <= now),
            )
        row = conn.execute(statement.returning(*_T.c)).first()
        if row is None:
            raise _conflict(conn, write.scope, write.key, expected, now)
        return _record(row)

    async def delete(self, scope: str, key: str, expected_version: int | None = None) -> bool:
        def apply(conn: Connection) -> bool:
            return _delete(conn, scope, key, expected_version, utcnow())

        return await self._db.run(apply, write=True, atomic=expected_version is not None)

    async def list(
        self,
        scope: str | None = None,
        *,
        prefix: str | None = None,
        limit: int = 100,
        cursor: str | None = None,
    ) -> tuple[builtins.list[StateRecord], str | None]:
        check_limit(limit)
        query = select(_T).where(_live(utcnow()))
        if scope is not None:
            query = query.where(_T.c.scope == scope)
        if prefix:
            escaped = prefix.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
            query = query.where(_T.c.key.like(f"{escaped}%", escape="\\"))
        if cursor is not None:
            after_scope, after_key = decode_cursor(cursor, 2)
            query = query.where(
                or_(
                    _T.c.scope > str(after_scope),
                    and_(_T.c.scope == str(after_scope), _T.c.key > str(after_key)),
                )
            )
        query = query.order_by(_T.c.scope, _T.c.key).limit(limit + 1)
        async with self._db.read() as conn:
            rows = (await conn.execute(query)).all()
        records = [_record(row) for row in rows[:limit]]
        next_cursor = None
        if len(rows) > limit:
            next_cursor = encode_cursor(records[-1].scope, records[-1].key)
        return records, next_cursor

    async def usage(self, scope: str) -> tuple[int, int]:
        query = select(func.count(), func.coalesce(func.sum(_T.c.size), 0)).where(
            _T.c.scope == scope, _live(utcnow())
        )
        async with self._db.read() as conn:
            keys, used = (await conn.execute(query)).one()
        return int(keys), int(used)

    async def delete_scope(self, scope: str) -> int:
        async with self._db.write() as conn:
            result = await conn.execute(delete(_T).where(_T.c.scope == scope).returning(_T.c.key))
            return len(result.all())

    async def purge_expired(self, now: datetime) -> int:
        statement = delete(_T).where(_T.c.expires_at.is_not(None), _T.c.expires_at <= now)
        async with self._db.write() as conn:
            return len((await conn.execute(statement.returning(_T.c.key))).all())

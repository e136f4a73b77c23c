"""API keys on SQL: a prefix to find the row, a SHA-256 hash to check it."""

from __future__ import annotations

import dataclasses
import hashlib
import hmac
import secrets
from collections.abc import Sequence
from datetime import timedelta
from typing import Any

from sqlalchemy import Row, exists, insert, or_, select, update

from ...core.errors import Conflict, NotFound, ValidationError
from ..abc import ApiKeyRepository
from ..records import API_KEY_SCOPES, ApiKeyRecord
from ._db import Database, new_id, utcnow
from ._tables import api_keys

__all__ = ["SQLApiKeyRepository", "hash_key"]

_KEY_PREFIX = "lsk"
# Writing last_used_at on every request would turn each read into a write; a minute is enough.
_TOUCH_INTERVAL = timedelta(seconds=60)


def hash_key(raw_key: str) -> str:
    """The stored form of a key: SHA-256, hex."""
    return hashlib.sha256(raw_key.encode()).hexdigest()


def _parse_prefix(raw_key: str) -> str | None:
    parts = raw_key.split("_", 2)
    if len(parts) != 3 or parts[0] != _KEY_PREFIX or not parts[1] or not parts[2]:
        return None
    return parts[1]


def _record(row: Row[Any]) -> ApiKeyRecord:
    return ApiKeyRecord(
        id=row.id,
        name=row.name,
        prefix=row.prefix,
        scopes=tuple(row.scopes),
        created_at=row.created_at,
        revoked_at=row.revoked_at,
        last_used_at=row.last_used_at,
    )


def _check_scopes(scopes: Sequence[str]) -> tuple[str, ...]:
    if isinstance(scopes, str):
        scopes = [scopes]
    unique = tuple(dict.fromkeys(scopes))
    if not unique:
        raise ValidationError(f"an API key needs at least one scope out of {', '.join(API_KEY_SCOPES)}")
    for scope in unique:
        if scope not in API_KEY_SCOPES:
            raise ValidationError(f"unknown scope {scope!r}; use one of {', '.join(API_KEY_SCOPES)}")
    return unique


class SQLApiKeyRepository(ApiKeyRepository):
    """:class:`ApiKeyRepository` over the ``api_keys`` table."""

    def __init__(self, db: Database) -> None:
        self._db = db

    async def create(self, name: str, scopes: Sequence[str]) -> tuple[ApiKeyRecord, str]:
        if not name or len(name) > 200:
            raise ValidationError("API key name must be 1 to 200 characters")
        checked = _check_scopes(scopes)
        prefix = secrets.token_hex(4)
        raw_key = f"{_KEY_PREFIX}_{prefix}_{secrets.token_urlsafe(32)}"
        record = ApiKeyRecord(
            id=new_id(),
            name=name,
            prefix=prefix,
            scopes=checked,
            created_at=utcnow(),
            revoked_at=None,
            last_used_at=None,
        )
        values = {
            "id": record.id,
            "name": name,
            "prefix": prefix,
            "key_hash": hash_key(raw_key),
            "scopes": list(checked),
            "created_at": record.created_at,
        }
        try:
            async with self._db.write() as conn:
                await conn.execute(insert(api_keys).values(values))
        except Conflict as exc:
            raise Conflict(
                f"An active API key named {name!r} exists; revoke it first or choose another name",
                details={"name": name},
            ) from exc
        return record, raw_key

    async def verify(self, raw_key: str) -> ApiKeyRecord | None:
        prefix = _parse_prefix(raw_key)
        if prefix is None:
            return None
        digest = hash_key(raw_key)
        query = select(api_keys).where(api_keys.c.prefix == prefix, api_keys.c.revoked_at.is_(None))
        async with self._db.read() as conn:
            rows = (await conn.execute(query)).all()
        match = next((row for row in rows if hmac.compare_digest(row.key_hash, digest)), None)
        if match is None:
            return None
        record = _record(match)
        now = utcnow()
        if record.last_used_at is None or now - record.last_used_at >= _TOUCH_INTERVAL:
            touch = (
                update(api_keys)
                .where(
                    api_keys.c.id == record.id,
                    or_(api_keys.c.last_used_at.is_(None), api_keys.c.last_used_at < now - _TOUCH_INTERVAL),
                )
                .values(last_used_at=now)
            )
            async with self._db.write() as conn:
                await conn.execute(touch)
            record = dataclasses.replace(record, last_used_at=now)
        return record

    async def list(self) -> list[ApiKeyRecord]:
        query = select(api_keys).order_by(api_keys.c.created_at, api_keys.c.id)
        async with self._db.read() as conn:
            return [_record(row) for row in (await conn.execute(query)).all()]

    async def revoke(self, id_or_name: str) -> ApiKeyRecord:
        active = api_keys.c.revoked_at.is_(None)
        now = utcnow()
        async with self._db.write() as conn:
            for match in (api_keys.c.id == id_or_name, api_keys.c.name == id_or_name):
                statement = (
                    update(api_keys).where(match, active).values(revoked_at=now).returning(*api_keys.c)
                )
                row = (await conn.execute(statement)).first()
                if row is not None:
                    return _record(row)
            row = (await conn.execute(select(api_keys).where(api_keys.c.id == id_or_name))).first()
        if row is None:
            raise NotFound(
                f"No active API key with id or name {id_or_name!r}; see 'llmspell keys list'",
                details={"kind": "API key", "name": id_or_name},
            )
        return _record(row)

    async def any_active(self) -> bool:
        async with self._db.read() as conn:
            return bool(await conn.scalar(select(exists().where(api_keys.c.revoked_at.is_(None)))))

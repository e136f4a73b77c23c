"""Contract: ApiKeyRepository, on every backend."""

from __future__ import annotations

import hashlib

import pytest
from llmspell.core.errors import Conflict, NotFound, ValidationError
from llmspell.storage import DEFAULT_KEY_SCOPES, Store


async def test_create_returns_raw_key_once_and_stores_only_a_hash(store: Store, store_url: str) -> None:
    record, raw = await store.api_keys.create("ci", ["runs:read", "runs:write", "runs:read"])
    assert raw.startswith(f"lsk_{record.prefix}_") and len(raw) > 40
    assert record.scopes == ("runs:read", "runs:write") and record.active
    assert record.allows("runs:read") and not record.allows("admin")
    dump = await _dump_api_keys(store_url)
    assert raw not in dump and hashlib.sha256(raw.encode()).hexdigest() in dump


async def _dump_api_keys(url: str) -> str:
    from sqlalchemy import text
    from sqlalchemy.ext.asyncio import create_async_engine

    engine = create_async_engine(url)
    try:
        async with engine.connect() as conn:
            rows = (await conn.execute(text("SELECT * FROM api_keys"))).all()
    finally:
        await engine.dispose()
    return repr(rows)


async def test_verify(store: Store) -> None:
    record, raw = await store.api_keys.create("svc", list(DEFAULT_KEY_SCOPES))
    verified = await store.api_keys.verify(raw)
    assert verified is not None and verified.id == record.id and verified.last_used_at is not None
    assert await store.api_keys.verify(raw + "x") is None
    assert await store.api_keys.verify(raw[:-1]) is None
    assert await store.api_keys.verify("lsk_" + record.prefix) is None
    assert await store.api_keys.verify("garbage") is None
    assert await store.api_keys.verify("") is None


async def test_revoke_by_id_or_name(store: Store) -> None:
    one, raw_one = await store.api_keys.create("one", ["admin"])
    two, raw_two = await store.api_keys.create("two", ["runs:read"])
    assert one.allows("schedules:write")
    revoked = await store.api_keys.revoke(one.id)
    assert revoked.revoked_at is not None and not revoked.active
    assert await store.api_keys.verify(raw_one) is None
    assert (await store.api_keys.revoke("two")).id == two.id
    assert await store.api_keys.verify(raw_two) is None
    again = await store.api_keys.revoke(one.id)
    assert again.revoked_at == revoked.revoked_at
    with pytest.raises(NotFound, match="No active API key"):
        await store.api_keys.revoke("two")


async def test_names_are_unique_among_active_keys(store: Store) -> None:
    await store.api_keys.create("ci", ["runs:read"])
    with pytest.raises(Conflict, match="revoke it first"):
        await store.api_keys.create("ci", ["runs:read"])
    await store.api_keys.revoke("ci")
    replacement, _ = await store.api_keys.create("ci", ["runs:write"])
    keys = await store.api_keys.list()
    assert [k.name for k in keys] == ["ci", "ci"] and keys[1].id == replacement.id
    assert [k.active for k in keys] == [False, True]


async def test_scopes_are_validated(store: Store) -> None:
    with pytest.raises(ValidationError, match="unknown scope 'root'"):
        await store.api_keys.create("bad", ["root"])
    with pytest.raises(ValidationError, match="at least one scope"):
        await store.api_keys.create("empty", [])
    with pytest.raises(ValidationError):
        await store.api_keys.create("", ["admin"])


async def test_any_active(store: Store) -> None:
    assert not await store.api_keys.any_active()
    record, _ = await store.api_keys.create("k", ["admin"])
    assert await store.api_keys.any_active()
    await store.api_keys.revoke(record.id)
    assert not await store.api_keys.any_active()

"""Contract: StateRepository and StateManager, on every backend."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest
from llmspell.core.config import StateConfig
from llmspell.core.errors import Conflict, LimitExceeded, ValidationError
from llmspell.state import SchemaMigrations, StateManager, load_conversation, migrate_store, save_conversation
from llmspell.storage import StateWrite, Store


async def test_put_get_versions(store: Store) -> None:
    first = await store.state.put("global", "k", {"a": 1}, size=7)
    second = await store.state.put("global", "k", [1, 2], size=5)
    assert (first.version, second.version) == (1, 2)
    got = await store.state.get("global", "k")
    assert got is not None and got.value == [1, 2] and got.version == 2 and got.created_at == first.created_at
    assert await store.state.get("global", "missing") is None


async def test_expected_version_conflicts(store: Store) -> None:
    created = await store.state.put("user:1", "k", "a", size=3, expected_version=0)
    with pytest.raises(Conflict, match="at version 1, not absent"):
        await store.state.put("user:1", "k", "b", size=3, expected_version=0)
    with pytest.raises(Conflict, match="at version 1, not at version 5"):
        await store.state.put("user:1", "k", "b", size=3, expected_version=5)
    updated = await store.state.put("user:1", "k", "b", size=3, expected_version=created.version)
    assert updated.version == 2
    with pytest.raises(Conflict):
        await store.state.delete("user:1", "k", expected_version=1)
    assert await store.state.delete("user:1", "k", expected_version=2)
    assert not await store.state.delete("user:1", "k")


async def test_concurrent_writers_one_wins(store: Store) -> None:
    await store.state.put("global", "race", 0, size=1)
    outcomes = await asyncio.gather(
        *(store.state.put("global", "race", i, size=1, expected_version=1) for i in range(5)),
        return_exceptions=True,
    )
    wins = [o for o in outcomes if not isinstance(o, BaseException)]
    assert len(wins) == 1 and all(isinstance(o, Conflict) for o in outcomes if o not in wins)


async def test_ttl_expiry_and_purge(store: Store) -> None:
    past = datetime.now(UTC) - timedelta(seconds=1)
    await store.state.put("global", "old", 1, size=1, expires_at=past)
    await store.state.put("global", "new", 1, size=1, expires_at=datetime.now(UTC) + timedelta(hours=1))
    assert await store.state.get("global", "old") is None
    assert [e.key for e in (await store.state.list("global"))[0]] == ["new"]
    # An expired key counts as absent for expected_version 0.
    again = await store.state.put("global", "old", 2, size=1, expected_version=0)
    assert again.value == 2
    await store.state.put("global", "gone", 1, size=1, expires_at=past)
    assert await store.state.purge_expired(datetime.now(UTC)) == 1


async def test_atomic_multi_key_update(store: Store) -> None:
    await store.state.put("global", "a", 1, size=1)
    writes = [
        StateWrite(scope="global", key="b", value=2, size=1),
        StateWrite(scope="global", key="a", value=9, size=1, expected_version=7),
    ]
    with pytest.raises(Conflict):
        await store.state.put_many(writes)
    assert await store.state.get("global", "b") is None
    results = await store.state.put_many(
        [
            StateWrite(scope="global", key="b", value=2, size=1),
            StateWrite(scope="global", key="a", delete=True),
        ]
    )
    assert results[0] is not None and results[1] is None
    assert await store.state.get("global", "a") is None


async def test_list_pages_and_prefix(store: Store) -> None:
    for key in ("a1", "a2", "b1", "a_3"):
        await store.state.put("custom:x", key, key, size=4)
    await store.state.put("custom:y", "a1", 1, size=1)
    page, cursor = await store.state.list("custom:x", limit=2)
    rest, end = await store.state.list("custom:x", limit=2, cursor=cursor)
    assert [e.key for e in page + rest] == ["a1", "a2", "a_3", "b1"] and end is None
    assert [e.key for e in (await store.state.list("custom:x", prefix="a_"))[0]] == ["a_3"]
    assert await store.state.usage("custom:x") == (4, 16)
    assert await store.state.delete_scope("custom:x") == 4


async def test_quotas(store: Store) -> None:
    await store.state.put("tool:t", "a", "x" * 10, size=12, max_scope_bytes=20)
    with pytest.raises(LimitExceeded, match="over its quota of 20"):
        await store.state.put("tool:t", "b", "x" * 10, size=12, max_scope_bytes=20)
    with pytest.raises(LimitExceeded, match="keys"):
        await store.state.put("tool:t", "c", 1, size=1, max_scope_keys=1)
    assert (await store.state.usage("tool:t")) == (1, 12)


async def test_manager_scope_isolation_and_limits(store: Store) -> None:
    state = StateManager(store, config=StateConfig(max_value_bytes=100))
    await state.set("user:alice", "k", "alice")
    await state.set("user:bob", "k", "bob")
    assert await state.get("user:alice", "k") == "alice"
    assert await state.get("user:bob", "k") == "bob"
    assert await state.list_keys("user:carol") == []
    with pytest.raises(ValidationError, match="invalid state scope"):
        await state.set("nope:1", "k", 1)
    with pytest.raises(ValidationError, match="invalid state scope"):
        await state.get("user:", "k")
    with pytest.raises(LimitExceeded, match="exceeds the limit of 100"):
        await state.set("global", "big", "x" * 200)
    with pytest.raises(ValidationError, match="JSON-compatible"):
        await state.set("global", "bad", {1, 2})
    with pytest.raises(ValidationError, match="ttl_s"):
        await state.set("global", "k", 1, ttl_s=0)


async def test_manager_cache_is_read_through(store: Store) -> None:
    state = StateManager(store, cache=True)
    await state.set("global", "k", 1)
    assert await state.get("global", "k") == 1
    assert state.cache is not None and state.cache.hits == 1
    # A write by another manager is not seen until the cache forgets (no Redis here)...
    other = StateManager(store)
    await other.set("global", "k", 2)
    assert await state.get("global", "k") == 1
    state.cache.clear()
    assert await state.get("global", "k") == 2
    # ...but a failed conditional write drops the stale entry at once.
    await other.set("global", "k", 3)
    with pytest.raises(Conflict):
        await state.set("global", "k", 4, expected_version=2)
    assert await state.get("global", "k") == 3


async def test_migrations_on_read_and_in_bulk(store: Store) -> None:
    old = SchemaMigrations()  # the world before the migrations existed
    writer = StateManager(store, migrations=old)
    await writer.set("agent:a", "conversation", [{"role": "user", "content": "hi"}])
    await writer.set("agent:b", "conversation", [{"role": "user", "content": "yo"}])
    await writer.set("custom:c", "n", 1)
    assert (await store.state.get("agent:a", "conversation")).schema_version == 1  # type: ignore[union-attr]

    reader = StateManager(store)  # default migrations: conversation v1 -> v2
    assert await load_conversation(reader, "a") == [{"role": "user", "content": "hi"}]
    stored = await store.state.get("agent:a", "conversation")
    assert stored is not None and stored.schema_version == 2 and stored.value["metadata"] == {}

    dry = await migrate_store(store, reader.migrations, dry_run=True)
    assert (dry.scanned, dry.upgraded) == (3, 1)
    assert (await store.state.get("agent:b", "conversation")).schema_version == 1  # type: ignore[union-attr]
    done = await migrate_store(store, reader.migrations)
    assert done.upgraded == 1 and not done.failed
    assert (await store.state.get("agent:b", "conversation")).schema_version == 2  # type: ignore[union-attr]
    assert (await migrate_store(store, reader.migrations)).upgraded == 0


async def test_failing_migration_is_reported(store: Store) -> None:
    migrations = SchemaMigrations()
    migrations.register("custom:*", "*", 1, lambda value: value["missing"])
    await StateManager(store, migrations=SchemaMigrations()).set("custom:z", "k", {"a": 1})
    report = await migrate_store(store, migrations)
    assert report.upgraded == 0 and report.failed[0]["key"] == "k" and "failed" in report.failed[0]["error"]
    with pytest.raises(ValidationError, match="exists"):
        migrations.register("custom:*", "*", 1, lambda value: value)


async def test_conversation_helpers_round_trip(store: Store) -> None:
    state = StateManager(store)
    messages = [{"role": "system", "content": "s"}, {"role": "user", "content": "q"}]
    assert await save_conversation(state, "helper", messages) == 1
    assert await load_conversation(state, "helper") == messages
    assert await load_conversation(state, "nobody") == []
    with pytest.raises(ValidationError):
        await save_conversation(state, "helper", [{"content": "no role"}])

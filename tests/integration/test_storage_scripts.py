"""Contract: ScriptRepository, on every backend."""

from __future__ import annotations

import asyncio

import pytest
from llmspell.core.errors import NotFound, ValidationError
from llmspell.storage import Store


async def test_put_versions_per_name(store: Store) -> None:
    first = await store.scripts.put("hello", "return 1", "lua", "first")
    second = await store.scripts.put("hello", "return 2")
    other = await store.scripts.put("other", "return 3")
    assert (first.version, second.version, other.version) == (1, 2, 1)
    assert first.description == "first" and second.engine == "lua"
    assert first.created_at.tzinfo is not None


async def test_get_latest_and_given_version(store: Store) -> None:
    await store.scripts.put("s", "return 1")
    await store.scripts.put("s", "return 2")
    assert (await store.scripts.get("s")).code == "return 2"
    assert (await store.scripts.get("s", version=1)).code == "return 1"
    with pytest.raises(NotFound, match="No script named 'missing'"):
        await store.scripts.get("missing")
    with pytest.raises(NotFound, match="No version 7 of script 's'"):
        await store.scripts.get("s", version=7)


async def test_list_latest_versions_with_cursor(store: Store) -> None:
    for name in ("c", "a", "b", "d", "e"):
        await store.scripts.put(name, f"return '{name}1'")
    await store.scripts.put("b", "return 'b2'")
    page, cursor = await store.scripts.list(limit=2)
    assert [(r.name, r.version) for r in page] == [("a", 1), ("b", 2)]
    assert cursor is not None
    page2, cursor2 = await store.scripts.list(limit=2, cursor=cursor)
    page3, cursor3 = await store.scripts.list(limit=2, cursor=cursor2)
    assert [r.name for r in page2 + page3] == ["c", "d", "e"]
    assert cursor3 is None
    with pytest.raises(ValidationError, match="invalid cursor"):
        await store.scripts.list(cursor="not-a-cursor")
    with pytest.raises(ValidationError, match="limit"):
        await store.scripts.list(limit=0)


async def test_delete_removes_every_version(store: Store) -> None:
    await store.scripts.put("gone", "return 1")
    await store.scripts.put("gone", "return 2")
    assert await store.scripts.delete("gone") == 2
    with pytest.raises(NotFound):
        await store.scripts.get("gone")
    with pytest.raises(NotFound, match="No script named 'gone'"):
        await store.scripts.delete("gone")


async def test_concurrent_puts_get_distinct_versions(store: Store) -> None:
    records = await asyncio.gather(*(store.scripts.put("race", f"return {i}") for i in range(10)))
    assert sorted(r.version for r in records) == list(range(1, 11))


async def test_put_rejects_bad_names(store: Store) -> None:
    with pytest.raises(ValidationError):
        await store.scripts.put("", "return 1")
    with pytest.raises(ValidationError):
        await store.scripts.put("x", "return 1", engine="")

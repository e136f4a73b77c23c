"""Two replicas (two stores, two managers) on one database, with Redis cache invalidation."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator

import pytest
from llmspell.core.config import StateConfig
from llmspell.core.errors import Conflict
from llmspell.state import StateManager
from llmspell.storage import Store, open_store


@pytest.fixture
async def second_store(store_url: str) -> AsyncIterator[Store]:
    async with open_store(store_url) as opened:
        yield opened


async def test_two_replicas_one_wins_the_expected_version_race(store: Store, second_store: Store) -> None:
    a, b = StateManager(store), StateManager(second_store)
    base = await a.set("global", "leader", "none")
    results = await asyncio.gather(
        a.set("global", "leader", "a", expected_version=base.version),
        b.set("global", "leader", "b", expected_version=base.version),
        return_exceptions=True,
    )
    winners = [r for r in results if not isinstance(r, BaseException)]
    losers = [r for r in results if isinstance(r, BaseException)]
    assert len(winners) == 1 and len(losers) == 1 and isinstance(losers[0], Conflict)
    assert losers[0].code == "CONFLICT" and losers[0].details["current_version"] == 2
    value = await b.get("global", "leader")
    assert value == ("a" if results[0] is winners[0] else "b")


@pytest.mark.redis
async def test_cached_replicas_invalidate_each_other(
    store: Store, second_store: Store, redis_url: str, redis_key_prefix: str
) -> None:
    config = StateConfig(cache_ttl_s=3600)
    a = StateManager(store, config=config, redis_url=redis_url)
    b = StateManager(second_store, config=config, redis_url=redis_url)
    a._invalidator.channel = b._invalidator.channel = f"{redis_key_prefix}state:invalidate"  # type: ignore[union-attr]
    await a.start()
    await b.start()
    try:
        await a.set("user:1", "k", 1)
        assert await b.get("user:1", "k") == 1  # now cached on b
        assert await b.get("user:1", "k") == 1 and b.cache is not None and b.cache.hits == 1
        await a.set("user:1", "k", 2)
        deadline = time.monotonic() + 5
        while await b.get("user:1", "k") != 2:
            assert time.monotonic() < deadline, "replica b never saw the invalidation"
            await asyncio.sleep(0.01)
        await a.clear_scope("user:1")
        deadline = time.monotonic() + 5
        while await b.get("user:1", "k") is not None:
            assert time.monotonic() < deadline, "replica b never saw the scope invalidation"
            await asyncio.sleep(0.01)
    finally:
        await a.aclose()
        await b.aclose()

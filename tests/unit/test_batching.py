"""Group commit: batches under load, one item's failure stays its own."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

import pytest
from llmspell.core.batching import Coalescer


async def test_concurrent_submissions_share_batches_and_results_stay_in_order() -> None:
    batches: list[list[int]] = []

    async def flush(items: Sequence[int]) -> list[int]:
        batches.append(list(items))
        await asyncio.sleep(0.01)
        return [item * 10 for item in items]

    coalescer: Coalescer[int, int] = Coalescer(flush, max_batch=50)
    results = await asyncio.gather(*(coalescer.submit(i) for i in range(100)))
    assert results == [i * 10 for i in range(100)]
    assert len(batches) < 10
    assert sorted(i for batch in batches for i in batch) == list(range(100))
    assert max(len(batch) for batch in batches) <= 50


async def test_a_failing_item_does_not_fail_its_neighbours() -> None:
    async def flush(items: Sequence[int]) -> list[int]:
        if 3 in items:
            raise ValueError("three is bad")
        return list(items)

    coalescer: Coalescer[int, int] = Coalescer(flush)
    results = await asyncio.gather(*(coalescer.submit(i) for i in range(6)), return_exceptions=True)
    assert results[:3] == [0, 1, 2] and results[4:] == [4, 5]
    assert isinstance(results[3], ValueError)


async def test_alone_a_call_is_written_at_once() -> None:
    calls: list[list[str]] = []

    async def flush(items: Sequence[str]) -> list[str]:
        calls.append(list(items))
        return [item.upper() for item in items]

    coalescer: Coalescer[str, str] = Coalescer(flush)
    assert await coalescer.submit("a") == "A"
    assert await coalescer.submit("b") == "B"
    assert calls == [["a"], ["b"]]

    async def broken(items: Sequence[str]) -> list[str]:
        raise ValueError("database down")

    with pytest.raises(ValueError, match="database down"):
        await Coalescer(broken).submit("c")

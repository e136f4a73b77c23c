"""Contract: EventRepository, on every backend."""

from __future__ import annotations

import pytest
from llmspell.core.errors import Conflict, ValidationError
from llmspell.storage import RunSpec, Store


async def test_append_list_and_last_seq(store: Store) -> None:
    run = await store.runs.create(RunSpec(code="return 1"))
    assert await store.events.last_seq(run.id) == 0
    await store.events.append(run.id, [(1, "status", {"status": "running"}), (2, "stdout", {"text": "hi"})])
    await store.events.append(run.id, [(3, "end", None)])
    await store.events.append(run.id, [])
    events = await store.events.list(run.id)
    assert [(e.seq, e.type, e.data) for e in events] == [
        (1, "status", {"status": "running"}),
        (2, "stdout", {"text": "hi"}),
        (3, "end", None),
    ]
    assert [e.seq for e in await store.events.list(run.id, after_seq=1)] == [2, 3]
    assert [e.seq for e in await store.events.list(run.id, after_seq=0, limit=2)] == [1, 2]
    assert await store.events.last_seq(run.id) == 3


async def test_events_are_per_run(store: Store) -> None:
    one = await store.runs.create(RunSpec(code="a"))
    two = await store.runs.create(RunSpec(code="b"))
    await store.events.append(one.id, [(1, "log", "one")])
    await store.events.append(two.id, [(1, "log", "two"), (2, "log", "two")])
    assert [e.data for e in await store.events.list(one.id)] == ["one"]
    assert await store.events.last_seq(two.id) == 2


async def test_duplicate_seq_conflicts_and_batch_is_atomic(store: Store) -> None:
    run = await store.runs.create(RunSpec(code="x"))
    await store.events.append(run.id, [(1, "log", "a")])
    with pytest.raises(Conflict):
        await store.events.append(run.id, [(2, "log", "b"), (1, "log", "again")])
    assert [e.seq for e in await store.events.list(run.id)] == [1]


async def test_unknown_run_and_bad_seq_are_rejected(store: Store) -> None:
    with pytest.raises(ValidationError):
        await store.events.append("0" * 32, [(1, "log", "orphan")])
    run = await store.runs.create(RunSpec(code="x"))
    with pytest.raises(ValidationError, match="seq starts at 1"):
        await store.events.append(run.id, [(0, "log", "zero")])

"""Contract: RunRepository creation, reading, listing and cancellation, on every backend."""

from __future__ import annotations

import asyncio

import pytest
from llmspell.core.errors import NotFound, ValidationError
from llmspell.storage import RunSpec, Store


async def test_create_and_get(store: Store) -> None:
    spec = RunSpec(
        code="return args.x",
        engine="lua",
        args={"x": [1, 2]},
        script_name="s",
        script_version=3,
        session_id="sess",
        timeout_s=5.0,
        metadata={"who": "me"},
        webhook="http://127.0.0.1/hook",
        max_attempts=3,
    )
    run = await store.runs.create(spec)
    assert run.status == "queued" and run.attempts == 0 and not run.cancel_requested
    assert len(run.id) == 32
    got = await store.runs.get(run.id)
    assert got == run
    assert got.args == {"x": [1, 2]} and got.metadata == {"who": "me"} and got.max_attempts == 3
    assert got.result is None and got.error is None and got.started_at is None


async def test_get_missing_raises(store: Store) -> None:
    with pytest.raises(NotFound, match="No run named 'nope'"):
        await store.runs.get("nope")


async def test_create_validates(store: Store) -> None:
    with pytest.raises(ValidationError, match="max_attempts"):
        await store.runs.create(RunSpec(code="x", max_attempts=0))
    with pytest.raises(ValidationError, match="timeout_s"):
        await store.runs.create(RunSpec(code="x", timeout_s=0))
    with pytest.raises(ValidationError, match=r"JSON|serializ"):
        await store.runs.create(RunSpec(code="x", args={1, 2}))


async def test_idempotency_key_returns_the_same_run(store: Store) -> None:
    first = await store.runs.create(RunSpec(code="a", idempotency_key="key-1"))
    again = await store.runs.create(RunSpec(code="different", idempotency_key="key-1"))
    other = await store.runs.create(RunSpec(code="a", idempotency_key="key-2"))
    assert again == first and other.id != first.id


async def test_idempotency_under_concurrency(store: Store, store_url: str) -> None:
    from llmspell.storage import open_store

    async with open_store(store_url) as second:
        stores = [store, second]
        runs = await asyncio.gather(
            *(stores[i % 2].runs.create(RunSpec(code="x", idempotency_key="same")) for i in range(20))
        )
    assert len({run.id for run in runs}) == 1
    page, _ = await store.runs.list(limit=100)
    assert len(page) == 1


async def test_list_newest_first_with_filters_and_cursor(store: Store) -> None:
    created = [
        await store.runs.create(
            RunSpec(code="x", script_name="a" if i % 2 else "b", schedule_id="sch" if i < 3 else None)
        )
        for i in range(7)
    ]
    page, cursor = await store.runs.list(limit=3)
    assert [r.id for r in page] == [r.id for r in reversed(created)][:3]
    seen = [r.id for r in page]
    while cursor is not None:
        page, cursor = await store.runs.list(limit=3, cursor=cursor)
        seen += [r.id for r in page]
    assert seen == [r.id for r in reversed(created)]
    only_a, _ = await store.runs.list(script="a")
    assert {r.script_name for r in only_a} == {"a"} and len(only_a) == 3
    by_schedule, _ = await store.runs.list(schedule_id="sch")
    assert len(by_schedule) == 3
    await store.runs.claim("w", 2, 30)
    running, _ = await store.runs.list(status="running")
    queued_or_running, _ = await store.runs.list(status=("queued", "running"))
    assert len(running) == 2 and len(queued_or_running) == 7
    with pytest.raises(ValidationError, match="unknown run status"):
        await store.runs.list(status="bogus")  # type: ignore[arg-type]


async def test_cancel_queued_run_never_starts(store: Store) -> None:
    run = await store.runs.create(RunSpec(code="x"))
    cancelled = await store.runs.request_cancel(run.id)
    assert cancelled.status == "cancelled" and cancelled.finished_at is not None
    assert cancelled.error is not None and cancelled.error["code"] == "CANCELLED"
    assert await store.runs.claim("w", 10, 30) == []


async def test_cancel_running_run_sets_flag(store: Store) -> None:
    run = await store.runs.create(RunSpec(code="x"))
    other = await store.runs.create(RunSpec(code="y"))
    await store.runs.claim("w", 10, 30)
    flagged = await store.runs.request_cancel(run.id)
    assert flagged.status == "running" and flagged.cancel_requested
    assert await store.runs.cancel_requested_ids([run.id, other.id, "missing"]) == {run.id}
    assert await store.runs.cancel_requested_ids([]) == set()
    assert await store.runs.finish(run.id, "w", "cancelled")
    assert (await store.runs.get(run.id)).status == "cancelled"


async def test_cancel_finished_run_is_unchanged_and_missing_raises(store: Store) -> None:
    run = await store.runs.create(RunSpec(code="x"))
    await store.runs.claim("w", 1, 30)
    await store.runs.finish(run.id, "w", "succeeded", result=1)
    after = await store.runs.request_cancel(run.id)
    assert after.status == "succeeded" and not after.cancel_requested
    with pytest.raises(NotFound):
        await store.runs.request_cancel("missing")


async def test_count_by_status(store: Store) -> None:
    for _ in range(3):
        await store.runs.create(RunSpec(code="x"))
    await store.runs.claim("w", 1, 30)
    counts = await store.runs.count_by_status()
    assert counts == {"queued": 2, "running": 1, "succeeded": 0, "failed": 0, "cancelled": 0, "timeout": 0}

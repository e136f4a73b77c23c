"""Group-commit writes: create_many and finish_many, on every backend."""

from __future__ import annotations

from llmspell.storage import RunSpec, Store
from llmspell.storage.records import RunFinish


async def test_create_many_keeps_order_claims_and_idempotency(store: Store) -> None:
    specs = [
        RunSpec(code="return 1"),
        RunSpec(code="return 2", idempotency_key="same"),
        RunSpec(code="return 3"),
        RunSpec(code="return 2 again", idempotency_key="same"),
    ]
    runs = await store.runs.create_many(specs, worker_id="w1", lease_s=5)
    assert [r.code for r in runs[:3]] == ["return 1", "return 2", "return 3"]
    assert runs[3].id == runs[1].id  # idempotent twin
    assert all(r.status == "running" and r.worker_id == "w1" and r.attempts == 1 for r in runs)
    queued = await store.runs.create_many([RunSpec(code="x"), RunSpec(code="y")])
    assert [r.status for r in queued] == ["queued", "queued"]
    assert {r.id for r in await store.runs.claim("w2", 10, 5)} == {r.id for r in queued}


async def test_finish_many_stores_only_owned_runs_with_their_events(store: Store) -> None:
    mine, theirs = await store.runs.create_many([RunSpec(code="a"), RunSpec(code="b")], worker_id="me")
    await store.runs.release("me", [theirs.id])
    [theirs] = await store.runs.claim("other", 1, 5)
    results = await store.runs.finish_many(
        [
            RunFinish(
                run_id=mine.id,
                worker_id="me",
                status="succeeded",
                result={"n": [1, None]},
                stdout="out\n",
                usage={"total_tokens": 0},
                duration_ms=1.5,
                events=((1, "status", {"status": "running"}), (2, "end", {"status": "succeeded"})),
            ),
            RunFinish(run_id=theirs.id, worker_id="me", status="failed", events=((1, "end", {}),)),
        ]
    )
    assert results == [True, False]
    done = await store.runs.get(mine.id)
    assert done.status == "succeeded" and done.result == {"n": [1, None]} and done.stdout == "out\n"
    assert done.duration_ms == 1.5 and done.finished_at is not None and done.lease_expires_at is None
    assert [e.type for e in await store.events.list(mine.id)] == ["status", "end"]
    assert (await store.runs.get(theirs.id)).status == "running"
    assert await store.events.list(theirs.id) == []

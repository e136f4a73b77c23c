"""Contract: the run queue (claim, leases, finish, recovery, release), on every backend."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest
from llmspell.core.errors import ValidationError
from llmspell.storage import RunSpec, Store, open_store


async def test_claim_oldest_first_and_sets_lease(store: Store) -> None:
    ids = [(await store.runs.create(RunSpec(code=str(i)))).id for i in range(3)]
    before = datetime.now(UTC)
    claimed = await store.runs.claim("worker-1", 2, lease_s=30)
    assert [r.id for r in claimed] == ids[:2]
    for run in claimed:
        assert run.status == "running" and run.worker_id == "worker-1" and run.attempts == 1
        assert run.lease_expires_at is not None and run.lease_expires_at >= before + timedelta(seconds=29)
        assert run.started_at is not None
    assert [r.id for r in await store.runs.claim("worker-2", 5, 30)] == ids[2:]
    assert await store.runs.claim("worker-2", 5, 30) == []
    assert await store.runs.claim("worker-2", 0, 30) == []


async def test_claim_exclusive_under_concurrency(store_url: str) -> None:
    async with open_store(store_url) as setup:
        created = {(await setup.runs.create(RunSpec(code=str(i)))).id for i in range(200)}
    claimed: list[str] = []

    async def claimer(worker: str) -> None:
        async with open_store(store_url) as replica:
            while True:
                batch = await replica.runs.claim(worker, 7, 30)
                if not batch:
                    return
                assert len(batch) <= 7
                claimed.extend(run.id for run in batch)

    await asyncio.gather(*(claimer(f"w{i}") for i in range(5)))
    assert len(claimed) == 200
    assert set(claimed) == created


async def test_finish_only_by_owner_while_running(store: Store) -> None:
    run = await store.runs.create(RunSpec(code="x"))
    await store.runs.claim("owner", 1, 30)
    assert not await store.runs.finish(run.id, "intruder", "succeeded")
    usage = {"input_tokens": 3, "output_tokens": 4}
    error = {"code": "SCRIPT_ERROR", "message": "boom", "details": {"line": 2}}
    assert await store.runs.finish(
        run.id, "owner", "failed", result=None, stdout="out\n", error=error, usage=usage, duration_ms=12.5
    )
    done = await store.runs.get(run.id)
    assert done.status == "failed" and done.error == error and done.usage == usage
    assert done.stdout == "out\n" and done.duration_ms == 12.5 and done.finished and done.finished_at
    assert done.lease_expires_at is None
    assert not await store.runs.finish(run.id, "owner", "succeeded")
    with pytest.raises(ValidationError, match="finishes as one of"):
        await store.runs.finish(run.id, "owner", "running")


async def test_finish_stores_json_result(store: Store) -> None:
    run = await store.runs.create(RunSpec(code="x"))
    await store.runs.claim("w", 1, 30)
    assert await store.runs.finish(run.id, "w", "succeeded", result={"answer": [42, "x", None]})
    assert (await store.runs.get(run.id)).result == {"answer": [42, "x", None]}


async def test_renew_leases_reports_lost_runs(store: Store) -> None:
    mine = await store.runs.create(RunSpec(code="x"))
    theirs = await store.runs.create(RunSpec(code="y"))
    await store.runs.claim("me", 1, 1)
    await store.runs.claim("them", 1, 1)
    renewed = await store.runs.renew_leases("me", [mine.id, theirs.id], 120)
    assert renewed == {mine.id}
    lease = (await store.runs.get(mine.id)).lease_expires_at
    assert lease is not None and lease > datetime.now(UTC) + timedelta(seconds=100)
    assert await store.runs.renew_leases("me", [], 120) == set()


async def test_recover_expired_requeues_then_fails(store: Store) -> None:
    retried = await store.runs.create(RunSpec(code="x", max_attempts=2))
    single = await store.runs.create(RunSpec(code="y"))
    healthy = await store.runs.create(RunSpec(code="z"))
    await store.runs.claim("dead", 2, lease_s=1)
    await store.runs.claim("alive", 1, lease_s=600)
    later = datetime.now(UTC) + timedelta(seconds=5)
    requeued, failed = await store.runs.recover_expired(later)
    assert requeued == [retried.id] and failed == [single.id]
    lost = await store.runs.get(single.id)
    assert lost.status == "failed" and lost.error is not None and "lease" in lost.error["message"]
    back = await store.runs.get(retried.id)
    assert back.status == "queued" and back.worker_id is None and back.attempts == 1
    assert (await store.runs.get(healthy.id)).status == "running"
    # Second attempt also lost: attempts (2) reached max_attempts (2).
    (again,) = await store.runs.claim("dead-too", 1, lease_s=1)
    assert again.id == retried.id and again.attempts == 2
    requeued, failed = await store.runs.recover_expired(datetime.now(UTC) + timedelta(seconds=5))
    assert requeued == [] and failed == [retried.id]
    assert await store.runs.recover_expired(datetime.now(UTC) + timedelta(seconds=5)) == ([], [])


async def test_recover_expired_cancels_runs_with_pending_cancel(store: Store) -> None:
    run = await store.runs.create(RunSpec(code="x", max_attempts=5))
    await store.runs.claim("dead", 1, lease_s=1)
    await store.runs.request_cancel(run.id)
    requeued, finished = await store.runs.recover_expired(datetime.now(UTC) + timedelta(seconds=5))
    assert requeued == [] and finished == [run.id]
    assert (await store.runs.get(run.id)).status == "cancelled"


async def test_recover_expired_concurrently_reports_each_run_once(store_url: str) -> None:
    async with open_store(store_url) as setup:
        for i in range(30):
            await setup.runs.create(RunSpec(code=str(i), max_attempts=2 if i % 2 else 1))
        await setup.runs.claim("dead", 30, lease_s=1)
    later = datetime.now(UTC) + timedelta(seconds=5)

    async def recover() -> tuple[list[str], list[str]]:
        async with open_store(store_url) as replica:
            return await replica.runs.recover_expired(later)

    results = await asyncio.gather(*(recover() for _ in range(3)))
    requeued = [i for r in results for i in r[0]]
    failed = [i for r in results for i in r[1]]
    assert len(requeued) == len(set(requeued)) == 15
    assert len(failed) == len(set(failed)) == 15


async def test_release_hands_runs_back(store: Store) -> None:
    run = await store.runs.create(RunSpec(code="x"))
    other = await store.runs.create(RunSpec(code="y"))
    await store.runs.claim("leaving", 1, 30)
    await store.runs.claim("staying", 1, 30)
    assert await store.runs.release("leaving", [run.id, other.id]) == [run.id]
    back = await store.runs.get(run.id)
    assert back.status == "queued" and back.attempts == 0 and back.worker_id is None
    assert back.started_at is None and back.lease_expires_at is None
    assert (await store.runs.get(other.id)).status == "running"
    (again,) = await store.runs.claim("next", 1, 30)
    assert again.id == run.id and again.attempts == 1
    assert await store.runs.release("leaving", []) == []

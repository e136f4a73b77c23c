"""Contract: ScheduleRepository and FireRepository, on every backend."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta, timezone

import pytest
from llmspell.core.errors import Conflict, NotFound, ValidationError
from llmspell.storage import RunSpec, Store, open_store


async def _schedule(store: Store, name: str = "nightly", **fields: object) -> str:
    values: dict[str, object] = {"script_name": "report", "cron": "0 3 * * *"}
    values.update(fields)
    return (await store.schedules.create(name=name, **values)).id  # type: ignore[arg-type]


async def test_create_and_read(store: Store) -> None:
    created = await store.schedules.create(
        name="nightly",
        script_name="report",
        args={"day": 1},
        cron="0 3 * * *",
        timezone="Europe/Paris",
        overlap="queue",
        catchup_window_s=600,
    )
    assert created.revision == 1 and created.enabled and created.last_fire_time is None
    assert await store.schedules.get(created.id) == created
    assert await store.schedules.get_by_name("nightly") == created
    with pytest.raises(NotFound, match="No schedule named 'x'"):
        await store.schedules.get("x")
    with pytest.raises(NotFound):
        await store.schedules.get_by_name("x")


async def test_create_validates_and_rejects_duplicate_names(store: Store) -> None:
    await _schedule(store, "taken")
    with pytest.raises(Conflict, match="A schedule named 'taken' exists"):
        await _schedule(store, "taken")
    with pytest.raises(ValidationError, match="exactly one of cron and interval_s"):
        await store.schedules.create(name="both", script_name="s", cron="* * * * *", interval_s=5)
    with pytest.raises(ValidationError, match="exactly one"):
        await store.schedules.create(name="none", script_name="s")
    with pytest.raises(ValidationError, match="timezone"):
        await store.schedules.create(name="tz", script_name="s", interval_s=5, timezone="Mars/Olympus")
    with pytest.raises(ValidationError, match="overlap"):
        await store.schedules.create(name="ov", script_name="s", interval_s=5, overlap="never")  # type: ignore[arg-type]
    with pytest.raises(ValidationError, match="interval_s must be positive"):
        await store.schedules.create(name="neg", script_name="s", interval_s=-1)


async def test_list_by_name_filter_and_cursor(store: Store) -> None:
    for name in ("c", "a", "b"):
        await _schedule(store, name, enabled=name != "b")
    page, cursor = await store.schedules.list(limit=2)
    assert [s.name for s in page] == ["a", "b"] and cursor
    rest, end = await store.schedules.list(limit=2, cursor=cursor)
    assert [s.name for s in rest] == ["c"] and end is None
    enabled, _ = await store.schedules.list(enabled=True)
    disabled, _ = await store.schedules.list(enabled=False)
    assert [s.name for s in enabled] == ["a", "c"] and [s.name for s in disabled] == ["b"]


async def test_update_bumps_revision_and_switches_trigger(store: Store) -> None:
    schedule_id = await _schedule(store)
    paused = await store.schedules.update(schedule_id, enabled=False)
    assert paused.revision == 2 and not paused.enabled and paused.updated_at >= paused.created_at
    switched = await store.schedules.update(schedule_id, interval_s=30)
    assert switched.interval_s == 30 and switched.cron is None and switched.revision == 3
    back = await store.schedules.update(schedule_id, cron="*/5 * * * *", args=None)
    assert back.cron == "*/5 * * * *" and back.interval_s is None and back.args is None
    with pytest.raises(ValidationError, match="exactly one"):
        await store.schedules.update(schedule_id, cron=None)
    with pytest.raises(NotFound):
        await store.schedules.update("missing", enabled=True)


async def test_update_with_stale_revision_conflicts(store: Store) -> None:
    schedule_id = await _schedule(store)
    await store.schedules.update(schedule_id, expected_revision=1, enabled=False)
    with pytest.raises(Conflict, match="revision 2, not 1"):
        await store.schedules.update(schedule_id, expected_revision=1, enabled=True)
    await _schedule(store, "other")
    with pytest.raises(Conflict, match="'other' exists"):
        await store.schedules.update(schedule_id, name="other")


async def test_concurrent_updates_all_apply(store_url: str) -> None:
    async with open_store(store_url) as setup:
        schedule_id = await _schedule(setup)
    async with open_store(store_url) as one, open_store(store_url) as two:
        stores = [one, two]
        await asyncio.gather(
            *(stores[i % 2].schedules.update(schedule_id, catchup_window_s=float(i)) for i in range(6))
        )
        assert (await one.schedules.get(schedule_id)).revision == 7


async def test_revisions_show_creates_changes_and_deletes(store: Store) -> None:
    first = await _schedule(store, "first")
    second = await _schedule(store, "second")
    assert await store.schedules.revisions() == {first: 1, second: 1}
    await store.schedules.update(first, enabled=False)
    await store.schedules.delete(second)
    assert await store.schedules.revisions() == {first: 2}
    with pytest.raises(NotFound):
        await store.schedules.delete(second)


async def test_mark_fired_only_moves_forward(store: Store) -> None:
    schedule_id = await _schedule(store)
    t1 = datetime(2026, 1, 1, 3, tzinfo=UTC)
    await store.schedules.mark_fired(schedule_id, t1)
    await store.schedules.mark_fired(schedule_id, t1 - timedelta(days=1))
    got = await store.schedules.get(schedule_id)
    assert got.last_fire_time == t1 and got.revision == 1
    with pytest.raises(NotFound):
        await store.schedules.mark_fired("missing", t1)


async def test_try_insert_wins_once(store: Store) -> None:
    schedule_id = await _schedule(store)
    fire_time = datetime(2026, 1, 1, 3, tzinfo=UTC)
    won = await store.fires.try_insert(schedule_id, fire_time, "created")
    assert won is not None and won.run_id is None and won.fire_time == fire_time
    assert await store.fires.try_insert(schedule_id, fire_time, "skipped") is None
    # The same instant in another timezone is the same fire.
    assert (
        await store.fires.try_insert(
            schedule_id, fire_time.astimezone(timezone(timedelta(hours=2))), "created"
        )
        is None
    )
    run = await store.runs.create(RunSpec(code="x", schedule_id=schedule_id))
    await store.fires.set_run(won.id, run.id)
    (listed,), _ = await store.fires.list(schedule_id)
    assert listed.run_id == run.id and listed.result == "created"
    with pytest.raises(NotFound):
        await store.fires.set_run("missing", run.id)
    with pytest.raises(ValidationError):
        await store.fires.try_insert(schedule_id, fire_time, "exploded")  # type: ignore[arg-type]
    with pytest.raises(ValidationError, match="aware"):
        await store.fires.try_insert(schedule_id, datetime(2026, 1, 1), "created")


async def test_try_insert_with_run_is_atomic(store: Store) -> None:
    schedule_id = await _schedule(store)
    fire_time = datetime(2026, 1, 2, 3, tzinfo=UTC)
    fire = await store.fires.try_insert(schedule_id, fire_time, "created", run=RunSpec(code="return 1"))
    assert fire is not None and fire.run_id is not None
    run = await store.runs.get(fire.run_id)
    assert run.schedule_id == schedule_id and run.fire_time == fire_time and run.status == "queued"
    lost = await store.fires.try_insert(schedule_id, fire_time, "created", run=RunSpec(code="return 2"))
    assert lost is None
    runs, _ = await store.runs.list(schedule_id=schedule_id)
    assert [r.id for r in runs] == [run.id]


async def test_concurrent_try_insert_has_one_winner(store_url: str) -> None:
    async with open_store(store_url) as setup:
        schedule_id = await _schedule(setup)
    fire_time = datetime(2026, 1, 3, 3, tzinfo=UTC)

    async def replica() -> list[bool]:
        async with open_store(store_url) as opened:
            results = await asyncio.gather(
                *(
                    opened.fires.try_insert(schedule_id, fire_time, "created", run=RunSpec(code="x"))
                    for _ in range(5)
                )
            )
        return [result is not None for result in results]

    outcomes = [won for batch in await asyncio.gather(*(replica() for _ in range(4))) for won in batch]
    assert outcomes.count(True) == 1 and len(outcomes) == 20
    async with open_store(store_url) as check:
        runs, _ = await check.runs.list(schedule_id=schedule_id)
    assert len(runs) == 1


async def test_fires_list_latest_first_and_deleted_with_schedule(store: Store) -> None:
    schedule_id = await _schedule(store)
    base = datetime(2026, 1, 1, tzinfo=UTC)
    for hour in range(5):
        assert await store.fires.try_insert(schedule_id, base + timedelta(hours=hour), "missed")
    page, cursor = await store.fires.list(schedule_id, limit=3)
    rest, end = await store.fires.list(schedule_id, limit=3, cursor=cursor)
    assert [f.fire_time.hour for f in page + rest] == [4, 3, 2, 1, 0] and end is None
    await store.schedules.delete(schedule_id)
    assert await store.fires.list(schedule_id) == ([], None)

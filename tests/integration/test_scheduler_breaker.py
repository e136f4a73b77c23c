"""A schedule whose runs keep failing has its fires held back by a circuit breaker."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from types import SimpleNamespace

from llmspell.core import metrics
from llmspell.runtime.scheduler import Scheduler
from llmspell.storage import Store
from llmspell.storage.records import RunRecord, RunStatus

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def _gauge(name: str) -> float:
    return metrics.CIRCUIT_BREAKER_STATE.labels(name=f"schedule:{name}")._value.get()


def _fires(result: str) -> float:
    return metrics.SCHEDULE_FIRES.labels(result=result)._value.get()


def _scheduler(store: Store, *, failures: int) -> tuple[Scheduler, SimpleNamespace]:
    """A scheduler over ``store`` and the server settings it reads (tests change them)."""
    server = SimpleNamespace(schedule_breaker_failures=failures, schedule_breaker_reset_s=3600.0)
    daemon = SimpleNamespace(
        store=store, settings=SimpleNamespace(server=server), worker=SimpleNamespace(wake=lambda: None)
    )
    return Scheduler(daemon), server  # type: ignore[arg-type]


async def _end(store: Store, run: RunRecord | None, status: RunStatus) -> None:
    assert run is not None
    claimed = await store.runs.claim("w", 10, 30.0)
    assert [r.id for r in claimed] == [run.id]
    await store.runs.finish(run.id, "w", status)


async def test_failing_runs_open_the_breaker_a_trial_or_a_manual_success_closes_it(store: Store) -> None:
    await store.scripts.put("flaky", "error('down')")
    schedule = await store.schedules.create(name="flaky-every-minute", script_name="flaky", interval_s=60)
    scheduler, server = _scheduler(store, failures=3)
    await scheduler.sync()  # loaded, as at start-up
    fire = iter(T0 + timedelta(minutes=i) for i in range(100))

    for _ in range(3):
        await _end(store, await scheduler.fire(schedule, next(fire)), "failed")
    held_before = _fires("breaker_open")
    assert await scheduler.fire(schedule, next(fire)) is None  # three failures in a row: open
    assert await scheduler.fire(schedule, next(fire)) is None
    assert _fires("breaker_open") - held_before == 2 and _gauge(schedule.name) == 2
    runs, _ = await store.runs.list(schedule_id=schedule.id)
    assert len(runs) == 3

    server.schedule_breaker_reset_s = 0.001  # the cool-down is over: the next fire is a trial
    trial = await scheduler.fire(schedule, next(fire))
    assert trial is not None and _gauge(schedule.name) == 1
    await _end(store, trial, "timeout")  # the trial fails (a timeout counts): open again
    server.schedule_breaker_reset_s = 3600.0
    assert await scheduler.fire(schedule, next(fire)) is None and _gauge(schedule.name) == 2

    manual = await scheduler.fire(schedule, next(fire), manual=True)  # an operator's trigger runs
    await _end(store, manual, "succeeded")
    assert await scheduler.fire(schedule, next(fire)) is not None and _gauge(schedule.name) == 0

    await store.schedules.delete(schedule.id)
    await scheduler.sync()  # a deleted schedule leaves no breaker series behind
    series = {s.labels["name"] for metric in metrics.CIRCUIT_BREAKER_STATE.collect() for s in metric.samples}
    assert f"schedule:{schedule.name}" not in series


async def test_zero_failures_turns_the_breaker_off(store: Store) -> None:
    await store.scripts.put("broken", "error('down')")
    schedule = await store.schedules.create(name="broken-hourly", script_name="broken", interval_s=3600)
    scheduler, _ = _scheduler(store, failures=0)
    for i in range(8):
        await _end(store, await scheduler.fire(schedule, T0 + timedelta(hours=i)), "failed")

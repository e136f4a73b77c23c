"""The scheduler of one replica: fires schedules from the ``schedules`` table.

Each replica loads every enabled schedule, asks APScheduler's triggers for fire times,
and at each fire tries the unique ``(schedule_id, fire_time)`` insert; the single winner
applies the overlap policy and creates the run (in the same transaction). Replicas poll
schedule revisions every ``sync_interval_s``, so changes made elsewhere arrive within
seconds. A fire missed while no replica ran is run once on start-up when it falls inside
the schedule's catch-up window; older missed fires are recorded as ``missed``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from ..core.logging import LoopFailures
from .schedules import build_trigger, next_fire

if TYPE_CHECKING:
    from ..storage.records import FireResult, RunRecord, ScheduleRecord
    from .control import Daemon

__all__ = ["Scheduler"]

log = logging.getLogger("llmspell.scheduler")

_MAX_MISSED_RECORDS = 100


@dataclass(slots=True)
class _Entry:
    schedule: ScheduleRecord
    trigger: Any
    next_fire: datetime | None


class Scheduler:
    """Fires the schedules of the daemon ``daemon``."""

    def __init__(self, daemon: Daemon, *, sync_interval_s: float = 2.0) -> None:
        self._daemon = daemon
        self._store = daemon.store
        self._entries: dict[str, _Entry] = {}
        self._revisions: dict[str, int] = {}
        self._sync_interval_s = sync_interval_s
        self._changed = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._sync_task: asyncio.Task[None] | None = None
        self._lock = asyncio.Lock()
        self._breaker_states: dict[str, str] = {}
        self._sync_failures = LoopFailures(log, "syncing schedules")
        self._fire_failures = LoopFailures(log, "firing schedules")

    async def start(self) -> None:
        await self.sync(catch_up=True)
        self._task = asyncio.create_task(self._loop(), name="llmspell-scheduler")
        self._sync_task = asyncio.create_task(self._sync_loop(), name="llmspell-scheduler-sync")

    async def stop(self) -> None:
        for task in (self._task, self._sync_task):
            if task is not None:
                task.cancel()
        await asyncio.gather(
            *(t for t in (self._task, self._sync_task) if t is not None), return_exceptions=True
        )

    async def _sync_loop(self) -> None:
        while True:
            await asyncio.sleep(self._sync_interval_s)
            try:
                await self.sync()
            except Exception as exc:
                self._sync_failures.failed(exc)
            else:
                self._sync_failures.succeeded()

    async def sync(self, *, catch_up: bool = False) -> None:
        """Load created, changed and deleted schedules."""
        async with self._lock:
            revisions = await self._store.schedules.revisions()
            if revisions == self._revisions and not catch_up:
                return
            now = datetime.now(UTC)
            for schedule_id in set(self._entries) - set(revisions):
                self._forget_breaker(self._entries.pop(schedule_id).schedule)
            for schedule_id, revision in revisions.items():
                if self._revisions.get(schedule_id) == revision:
                    continue  # unchanged since the last sync (loaded, or disabled or invalid)
                try:
                    schedule = await self._store.schedules.get(schedule_id)
                except LookupError:
                    continue
                if not schedule.enabled:
                    if self._entries.pop(schedule_id, None) is not None:
                        self._forget_breaker(schedule)
                    continue
                try:
                    trigger = build_trigger(
                        cron=schedule.cron,
                        interval_s=schedule.interval_s,
                        timezone=schedule.timezone,
                        start=schedule.created_at,
                    )
                except Exception:
                    log.warning("schedule %s has an invalid trigger", schedule.name, exc_info=True)
                    continue
                entry = _Entry(schedule, trigger, None)
                if catch_up or schedule_id not in self._entries:
                    await self._catch_up(entry, now)
                entry.next_fire = next_fire(trigger, None, now)
                self._entries[schedule_id] = entry
            self._revisions = revisions
        self._changed.set()

    async def _catch_up(self, entry: _Entry, now: datetime) -> None:
        """Decide the fires missed since the last recorded one."""
        last = entry.schedule.last_fire_time
        if last is None:
            return
        missed: list[datetime] = []
        fire = next_fire(entry.trigger, last, now)
        while fire is not None and fire < now and len(missed) < _MAX_MISSED_RECORDS:
            missed.append(fire)
            fire = next_fire(entry.trigger, fire, now)
        if not missed:
            return
        window = timedelta(seconds=entry.schedule.catchup_window_s)
        runnable = missed[-1] if window and now - missed[-1] <= window else None
        for fire_time in missed:
            if fire_time == runnable:
                await self.fire(entry.schedule, fire_time, catch_up=True)
            else:
                won = await self._store.fires.try_insert(entry.schedule.id, fire_time, "missed")
                if won is not None:
                    _count_fire("missed")

    async def _loop(self) -> None:
        while True:
            now = datetime.now(UTC)
            due = [e for e in self._entries.values() if e.next_fire is not None and e.next_fire <= now]
            for entry in due:
                fire_time = entry.next_fire
                assert fire_time is not None
                entry.next_fire = next_fire(entry.trigger, fire_time, now)
                try:
                    await self.fire(entry.schedule, fire_time)
                except Exception as exc:
                    self._fire_failures.failed(exc)
                else:
                    self._fire_failures.succeeded()
            upcoming = [e.next_fire for e in self._entries.values() if e.next_fire is not None]
            delay = 1.0
            if upcoming:
                delay = min(delay, max(0.0, (min(upcoming) - datetime.now(UTC)).total_seconds()))
            self._changed.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._changed.wait(), delay)

    async def fire(
        self, schedule: ScheduleRecord, fire_time: datetime, *, manual: bool = False, catch_up: bool = False
    ) -> RunRecord | None:
        """Act on one fire (if this replica wins it); returns the created run, if any."""
        from ..storage.records import RunSpec

        if not manual and await self._breaker_open(schedule):
            await self._record_unrun(schedule, fire_time, "breaker_open")
            return None
        active, _ = await self._store.runs.list(
            status=["queued", "running"], schedule_id=schedule.id, limit=100
        )
        if active and schedule.overlap == "skip" and not manual:
            await self._record_unrun(schedule, fire_time, "skipped")
            return None
        script = await self._store.scripts.get(schedule.script_name)
        spec = RunSpec(
            code=script.code,
            engine=script.engine,
            args=schedule.args,
            script_name=script.name,
            script_version=script.version,
            schedule_id=schedule.id,
            fire_time=fire_time,
            metadata={"schedule": schedule.name, "manual": manual, "catch_up": catch_up},
        )
        result = "cancelled_previous" if active and schedule.overlap == "cancel_previous" else "created"
        fire = await self._store.fires.try_insert(schedule.id, fire_time, result, run=spec)  # type: ignore[arg-type]
        if fire is None or fire.run_id is None:
            return None
        _count_fire(result)
        await self._store.schedules.mark_fired(schedule.id, fire_time)
        if result == "cancelled_previous":
            for run in active:
                await self._daemon.cancel_run(run.id)
        self._daemon.worker.wake()
        return await self._store.runs.get(fire.run_id)

    async def _record_unrun(self, schedule: ScheduleRecord, fire_time: datetime, result: FireResult) -> None:
        """Record a fire that creates no run (if this replica wins it)."""
        if await self._store.fires.try_insert(schedule.id, fire_time, result) is not None:
            _count_fire(result)
            await self._store.schedules.mark_fired(schedule.id, fire_time)

    def _forget_breaker(self, schedule: ScheduleRecord) -> None:
        """A schedule deleted or disabled here: drop its breaker state and gauge series."""
        if self._breaker_states.pop(schedule.id, None) is not None:
            from ..core import metrics

            with contextlib.suppress(KeyError):
                metrics.CIRCUIT_BREAKER_STATE.remove(f"schedule:{schedule.name}")

    async def _breaker_open(self, schedule: ScheduleRecord) -> bool:
        """Whether the schedule's circuit breaker holds this fire back.

        The breaker's state is read from the schedule's newest runs, so every replica sees the
        same: open when the last ``server.schedule_breaker_failures`` runs all failed (or
        timed out) and the newest of them ended less than ``schedule_breaker_reset_s`` ago;
        after that the next fire runs as a trial (half-open), whose outcome closes the breaker
        or opens it again. Manual triggers always run. Exported as
        ``llmspell_circuit_breaker_state{name="schedule:<name>"}``.
        """
        server = self._daemon.settings.server
        threshold = server.schedule_breaker_failures
        if threshold <= 0:
            return False
        recent, _ = await self._store.runs.list(schedule_id=schedule.id, limit=threshold)
        failing = len(recent) == threshold and all(run.status in _FAILURES for run in recent)
        ended = recent[0].finished_at if failing else None
        if ended is None:
            state = "closed"
        elif (datetime.now(UTC) - ended).total_seconds() < server.schedule_breaker_reset_s:
            state = "open"
        else:
            state = "half_open"
        previous = self._breaker_states.get(schedule.id, "closed")
        if state != previous:
            self._breaker_states[schedule.id] = state
            _set_breaker_gauge(schedule.name, state)
            if state == "open":
                log.warning(
                    "schedule %s: its last %d runs failed; its fires are held back for %.0f s",
                    schedule.name,
                    threshold,
                    server.schedule_breaker_reset_s,
                )
        return state == "open"


_FAILURES = frozenset({"failed", "timeout"})


def _set_breaker_gauge(schedule_name: str, state: str) -> None:
    from ..core import metrics

    value = {"closed": 0, "half_open": 1, "open": 2}[state]
    metrics.CIRCUIT_BREAKER_STATE.labels(name=f"schedule:{schedule_name}").set(value)


def _count_fire(result: str) -> None:
    from ..core import metrics

    metrics.SCHEDULE_FIRES.labels(result=result).inc()

"""The daemon's control plane: every operation of the REST and gRPC faces.

:class:`Daemon` owns the store, the event hub, the runtime pool, the worker and the
scheduler of one replica. Use it as an async context manager (:meth:`open`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from ..core.batching import Coalescer
from ..core.errors import NotFound, ValidationError
from ..events import open_run_hub
from ..events.abc import RunEvent, RunEventHub
from ..scripting.factory import create_engine
from .abc import ControlPlane, RunRequest, ScheduleSpec
from .daemon import Worker
from .definitions import AgentService, WorkflowService
from .executor import RunExecutor
from .pool import RuntimePool
from .runner import RunOutcome
from .schedules import OVERLAPS, check_timezone, validate_trigger

if TYPE_CHECKING:
    from ..core.config import Settings
    from ..storage.abc import Store
    from ..storage.records import RunRecord, ScheduleRecord, ScriptRecord

__all__ = ["Daemon", "run_view"]

log = logging.getLogger("llmspell.daemon")

# How long a reader waits for the stored copy of events it missed (running runs store
# their events every second).
_GAP_WAIT_S = 5.0
# Durations accepted from requests: finite (NaN and infinities parse as JSON numbers) and
# short of what datetime arithmetic overflows on. 10 years.
_MAX_SECONDS = 315_360_000.0


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def run_view(run: RunRecord) -> dict[str, Any]:
    """The REST/gRPC JSON shape of a run."""
    return {
        "id": run.id,
        "status": run.status,
        "script": {"name": run.script_name, "version": run.script_version, "engine": run.engine},
        "args": run.args,
        "session_id": run.session_id,
        "schedule_id": run.schedule_id,
        "fire_time": _iso(run.fire_time),
        "timeout_s": run.timeout_s,
        "metadata": run.metadata,
        "result": run.result,
        "stdout": run.stdout,
        "error": run.error,
        "usage": run.usage,
        "duration_ms": run.duration_ms,
        "attempts": run.attempts,
        "cancel_requested": run.cancel_requested,
        "created_at": _iso(run.created_at),
        "started_at": _iso(run.started_at),
        "finished_at": _iso(run.finished_at),
    }


def accepted_view(run: RunRecord) -> dict[str, Any]:
    """The ``202`` reply to a background run: the run as accepted, ``queued`` (a run created
    already claimed by the accepting replica is reported so too; it starts a moment later)."""
    return {**run_view(run), "status": "queued", "started_at": None, "attempts": 0}


def wait_view(run: RunRecord) -> dict[str, Any]:
    """The shape of ``POST /v1/runs/wait``."""
    return {
        "id": run.id,
        "status": run.status,
        "result": run.result,
        "stdout": run.stdout or "",
        "error": run.error,
        "usage": run.usage,
        "duration_ms": run.duration_ms,
    }


def script_view(script: ScriptRecord, *, with_code: bool = True) -> dict[str, Any]:
    view = {
        "id": script.id,
        "name": script.name,
        "version": script.version,
        "engine": script.engine,
        "description": script.description,
        "created_at": _iso(script.created_at),
    }
    if with_code:
        view["code"] = script.code
    return view


def schedule_view(schedule: ScheduleRecord) -> dict[str, Any]:
    return {
        "id": schedule.id,
        "name": schedule.name,
        "script": schedule.script_name,
        "args": schedule.args,
        "cron": schedule.cron,
        "interval_s": schedule.interval_s,
        "timezone": schedule.timezone,
        "overlap": schedule.overlap,
        "catchup_window_s": schedule.catchup_window_s,
        "enabled": schedule.enabled,
        "revision": schedule.revision,
        "last_fire_time": _iso(schedule.last_fire_time),
        "created_at": _iso(schedule.created_at),
        "updated_at": _iso(schedule.updated_at),
    }


class Daemon(ControlPlane):
    """One replica of ``llmspell serve``."""

    def __init__(self, settings: Settings, *, store: Store, hub: RunEventHub, pool: RuntimePool) -> None:
        self.settings = settings
        self.store = store
        self.hub = hub
        self.pool = pool
        self._finished: dict[str, asyncio.Future[None]] = {}
        self._background: set[asyncio.Task[None]] = set()
        self._claimed_creates: Coalescer[Any, RunRecord] = Coalescer(
            lambda specs: store.runs.create_many(
                specs, worker_id=self.worker.worker_id, lease_s=self.worker.lease_s
            )
        )
        self._queued_creates: Coalescer[Any, RunRecord] = Coalescer(store.runs.create_many)
        server = settings.server
        self.executor = RunExecutor(
            store=store,
            hub=hub,
            pool=pool,
            worker_id="",
            limits=settings.limits.to_limits(),
            policy=settings.sandbox.to_policy(),
            settings_loader=lambda: settings,
            on_finished=self._run_finished,
        )
        self.worker = Worker(
            store=store,
            hub=hub,
            executor=self.executor,
            lease_s=server.lease_s,
            max_concurrent=server.max_concurrent_runs,
        )
        self.executor._worker_id = self.worker.worker_id
        self.scheduler: Any = None
        self.agents = AgentService(store, settings, services=self.executor.services)
        self.workflows = WorkflowService(store, self.agents)

    def _bind_services(self) -> None:
        """Handles runs get in ``ctx.services``; they belong to this (the API's) loop."""
        from ..sessions.manager import open_persistence
        from .services import LocalSchedules

        loop = asyncio.get_running_loop()
        self.persistence = open_persistence(self.store, self.settings)
        self.executor.record_sessions = self.settings.state.record_sessions
        self.executor.services.update(
            schedules=LocalSchedules(self, loop),
            persistence=self.persistence,
            store=self.store,
            store_loop=loop,
        )

    # Lifecycle --------------------------------------------------------------------------

    @classmethod
    @contextlib.asynccontextmanager
    async def open(cls, settings: Settings, *, migrate: bool = True) -> AsyncIterator[Daemon]:
        """Open the store (migrating it), the hub and the pool; start the worker and scheduler."""
        from ..storage import open_store
        from ..storage.migrate import upgrade

        url = settings.resolved_database_url()
        if url.startswith("sqlite"):
            settings.resolved_data_dir().mkdir(parents=True, exist_ok=True)
        if migrate:
            await upgrade(url)
        async with open_store(url) as store:
            hub = open_run_hub(settings.redis_url)
            pool = RuntimePool(settings.server.workers)
            pool.start()
            daemon = cls(settings, store=store, hub=hub, pool=pool)
            try:
                await daemon.start()
                yield daemon
            finally:
                await daemon.stop(settings.server.shutdown_grace_s)
                pool.close()
                await hub.aclose()

    async def start(self) -> None:
        from ..hooks.lifecycle import DaemonHooks
        from ..sessions.retention import retention_loop
        from .scheduler import Scheduler

        self._bind_services()
        self.daemon_hooks = DaemonHooks(self.settings, self.worker.worker_id)
        await self.daemon_hooks.start(self.executor.services)
        await self.persistence.state.start()
        self.worker.start()
        self.scheduler = Scheduler(self)
        await self.scheduler.start()
        retention = asyncio.create_task(
            retention_loop(self.persistence, self.settings.state), name="llmspell-retention"
        )
        self._background.add(retention)
        if self.settings.server.rss_high_mb is not None:
            from ..hooks._fire import watch_memory

            memory = asyncio.create_task(
                watch_memory(self.settings.server.rss_high_mb, self.worker.worker_id), name="llmspell-memory"
            )
            self._background.add(memory)

    async def stop(self, grace_s: float) -> None:
        daemon_hooks = getattr(self, "daemon_hooks", None)
        if daemon_hooks is not None:
            await daemon_hooks.shutting_down(grace_s)
        if self.scheduler is not None:
            await self.scheduler.stop()
        await self.worker.stop(grace_s)
        await self.executor.settle(min(grace_s, 5.0))
        for task in list(self._background):
            task.cancel()
        await asyncio.gather(*self._background, return_exceptions=True)
        persistence = getattr(self, "persistence", None)
        if persistence is not None:
            await persistence.aclose()
        if daemon_hooks is not None:
            await daemon_hooks.close()

    def _run_finished(self, run: RunRecord, outcome: RunOutcome) -> None:
        from ..core import metrics

        metrics.RUNS_TOTAL.labels(status=outcome.status).inc()
        metrics.RUN_DURATION.observe(outcome.duration_ms / 1000.0)
        if run.webhook:
            task = asyncio.create_task(self._notify(run.webhook, run.id), name=f"webhook-{run.id}")
            self._background.add(task)
            task.add_done_callback(self._background.discard)
        waiter = self._finished.pop(run.id, None)
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    async def _notify(self, url: str, run_id: str) -> None:
        """POST the finished run to its webhook (3 attempts with backoff; failures are logged)."""
        import httpx

        body = run_view(await self.store.runs.get(run_id))
        delay = 0.5
        async with httpx.AsyncClient(timeout=10) as http:
            for attempt in range(1, 4):
                try:
                    response = await http.post(url, json=body, headers={"X-Llmspell-Run-Id": run_id})
                    if response.status_code < 500:
                        return
                except httpx.HTTPError as exc:
                    log.info("webhook %s attempt %d failed: %s", url, attempt, exc)
                await asyncio.sleep(delay)
                delay *= 2
        log.warning("webhook %s for run %s failed after 3 attempts", url, run_id)

    # Runs -------------------------------------------------------------------------------

    async def _spec(self, request: RunRequest) -> Any:
        from ..storage.records import RunSpec

        if request.code is not None:
            if request.script_name is not None:
                raise ValidationError("give either script.code or script.name, not both")
            if len(request.code.encode()) > self.settings.server.max_script_bytes:
                from ..core.errors import LimitExceeded

                raise LimitExceeded(
                    f"script exceeds {self.settings.server.max_script_bytes} bytes", details={"status": 413}
                )
            create_engine(request.engine)
            code, engine, name, version = request.code, request.engine, None, None
        elif request.script_name is not None:
            script = await self.store.scripts.get(request.script_name, request.script_version)
            code, engine, name, version = script.code, script.engine, script.name, script.version
        else:
            raise ValidationError("script needs code or name", details={"field": "script"})
        if request.timeout_s is not None and not (0 < request.timeout_s < _MAX_SECONDS):
            raise ValidationError(
                f"timeout_s must be a positive number of seconds below {_MAX_SECONDS:.0f}",
                details={"field": "timeout_s"},
            )
        if not 1 <= request.max_attempts <= 10:
            raise ValidationError("max_attempts must be between 1 and 10", details={"field": "max_attempts"})
        return RunSpec(
            code=code,
            engine=engine,
            args=request.args,
            script_name=name,
            script_version=version,
            session_id=request.session_id,
            timeout_s=request.timeout_s,
            metadata=request.metadata,
            webhook=request.webhook,
            idempotency_key=request.idempotency_key,
            max_attempts=request.max_attempts,
        )

    async def create_run(self, request: RunRequest) -> dict[str, Any]:
        spec = await self._spec(request)
        worker = self.worker
        if spec.idempotency_key is None and worker.reserve():
            # This replica has room: the run is created already claimed by it and starts at
            # once (no claim transaction). An idempotent run is queued: its key may name a
            # run that exists already.
            run = None
            try:
                run = await self._claimed_creates.submit(spec)
            finally:
                worker.start_reserved(run)
            return accepted_view(run)
        run = await self._queued_creates.submit(spec)
        worker.wake()
        return run_view(run)

    async def _await_end(self, run_id: str) -> None:
        loop = asyncio.get_running_loop()
        waiter = self._finished.get(run_id)
        if waiter is None:
            waiter = self._finished[run_id] = loop.create_future()
        if self.settings.redis_url is None:
            # Single replica: only this worker can execute the run.
            try:
                await waiter
            finally:
                self._finished.pop(run_id, None)
            return
        follower = asyncio.ensure_future(self._follow_to_end(run_id))
        try:
            await asyncio.wait([waiter, follower], return_when=asyncio.FIRST_COMPLETED)
        finally:
            follower.cancel()
            self._finished.pop(run_id, None)

    async def _follow_to_end(self, run_id: str) -> None:
        async for _event in self.run_events(run_id, 0, follow=True):
            pass

    async def wait_run(self, request: RunRequest) -> dict[str, Any]:
        spec = await self._spec(request)
        worker = self.worker
        if worker.executes_runs:
            if spec.idempotency_key is None:
                # Executed here and stored once, finished, when it ends: one write per run.
                run = _unstored_run(spec, worker.worker_id)
                stored = False
            else:
                # An idempotent run must exist before it runs: created already claimed.
                run = await self._claimed_creates.submit(spec)
                stored = True
            if run.status == "running" and run.worker_id == worker.worker_id and not worker.is_active(run.id):
                outcome = await worker.execute_now(run, stored=stored)
                return {
                    "id": run.id,
                    "status": outcome.status,
                    "result": outcome.result,
                    "stdout": outcome.stdout,
                    "error": outcome.error.to_dict() if outcome.error is not None else None,
                    "usage": {**outcome.usage.to_dict(), "cost": outcome.cost},
                    "duration_ms": outcome.duration_ms,
                }
        else:
            run = await self.store.runs.create(spec)
        if not run.finished:
            self._finished[run.id] = asyncio.get_running_loop().create_future()
            self.worker.wake()
            await self._await_end(run.id)
            run = await self.store.runs.get(run.id)
        return wait_view(run)

    async def stream_run(self, request: RunRequest) -> AsyncIterator[RunEvent]:
        run = await self.store.runs.create(await self._spec(request))
        self.worker.wake()
        async for event in self.run_events(run.id, 0, follow=True):
            yield event

    async def run_events(self, run_id: str, after: int = 0, follow: bool = True) -> AsyncIterator[RunEvent]:
        run = await self.store.runs.get(run_id)
        last = after
        if run.finished or not follow:
            async for event in self._stored_events(run_id, last):
                last = event.id
                yield event
                if event.event == "end":
                    return
            if not follow:
                return
        async for event in self.hub.subscribe(run_id, last):
            if event.id > last + 1:
                # A reader slower than the run: the hub keeps a bounded tail of each run's
                # events, and what fell out of it is read from the store.
                async for missed in self._stored_events(run_id, last, before=event.id):
                    last = missed.id
                    yield missed
            if event.id <= last:
                continue
            last = event.id
            yield event

    async def _stored_events(
        self, run_id: str, after: int, *, before: int | None = None
    ) -> AsyncIterator[RunEvent]:
        """Stored events of a run with ``after < id`` (and ``id < before``), in order.

        With ``before``, the events of a running run that are not stored yet are waited for
        (running runs store theirs every second) for up to ``_GAP_WAIT_S``.
        """
        deadline = time.monotonic() + _GAP_WAIT_S
        while True:
            batch = await self.store.events.list(run_id, after, 1000)
            for record in batch:
                if before is not None and record.seq >= before:
                    return
                after = record.seq
                yield RunEvent(run_id=run_id, id=record.seq, event=record.type, data=record.data)
            if len(batch) == 1000:
                continue
            if before is None or after >= before - 1 or time.monotonic() > deadline:
                return
            await asyncio.sleep(0.2)

    async def get_run(self, run_id: str) -> dict[str, Any]:
        return run_view(await self.store.runs.get(run_id))

    async def list_runs(
        self,
        *,
        status: str | None = None,
        script: str | None = None,
        schedule_id: str | None = None,
        limit: int = 50,
        cursor: str | None = None,
    ) -> dict[str, Any]:
        from ..storage.records import RUN_STATUSES

        if status is not None and status not in RUN_STATUSES:
            raise ValidationError(f"unknown status {status!r}; one of {', '.join(RUN_STATUSES)}")
        runs, next_cursor = await self.store.runs.list(
            status=status,
            script=script,
            schedule_id=schedule_id,
            limit=_limit(limit),
            cursor=cursor,
        )
        return {"items": [run_view(run) for run in runs], "next_cursor": next_cursor}

    async def cancel_run(self, run_id: str) -> dict[str, Any]:
        before = await self.store.runs.get(run_id)
        run = await self.store.runs.request_cancel(run_id)
        if before.status == "queued" and run.status == "cancelled":
            events = [
                RunEvent(run_id=run_id, id=1, event="status", data={"status": "cancelled"}),
                RunEvent(run_id=run_id, id=2, event="end", data={"status": "cancelled"}),
            ]
            await self.store.events.append(run_id, [(e.id, e.event, e.data) for e in events])
            await self.hub.publish(events)
            from ..core import metrics

            metrics.RUNS_TOTAL.labels(status="cancelled").inc()
        elif run.status == "running":
            self.worker.cancel_local(run_id, "cancelled by request")
        return run_view(run)

    # Scripts ----------------------------------------------------------------------------

    async def put_script(
        self, name: str, code: str, engine: str = "lua", description: str = ""
    ) -> dict[str, Any]:
        if not name or not name.strip():
            raise ValidationError("script name is required", details={"field": "name"})
        if len(code.encode()) > self.settings.server.max_script_bytes:
            from ..core.errors import LimitExceeded

            raise LimitExceeded(
                f"script exceeds {self.settings.server.max_script_bytes} bytes", details={"status": 413}
            )
        create_engine(engine).check_syntax(code, name)
        return script_view(await self.store.scripts.put(name, code, engine, description))

    async def get_script(self, name: str, version: int | None = None) -> dict[str, Any]:
        return script_view(await self.store.scripts.get(name, version))

    async def list_scripts(self, *, limit: int = 50, cursor: str | None = None) -> dict[str, Any]:
        scripts, next_cursor = await self.store.scripts.list(_limit(limit), cursor)
        return {"items": [script_view(s, with_code=False) for s in scripts], "next_cursor": next_cursor}

    async def delete_script(self, name: str) -> None:
        await self.store.scripts.delete(name)

    # Schedules --------------------------------------------------------------------------

    def _check_schedule(
        self,
        *,
        cron: str | None,
        interval_s: float | None,
        timezone: str,
        overlap: str,
        catchup_window_s: float | None,
    ) -> None:
        check_timezone(timezone)
        if catchup_window_s is not None and not (0 <= catchup_window_s < _MAX_SECONDS):
            raise ValidationError(
                f"catchup_window_s must be a number of seconds from 0 to {_MAX_SECONDS:.0f}",
                details={"field": "catchup_window_s"},
            )
        if overlap not in OVERLAPS:
            raise ValidationError(
                f"overlap must be one of {', '.join(OVERLAPS)}", details={"field": "overlap"}
            )
        validate_trigger(cron=cron, interval_s=interval_s, timezone=timezone)

    async def create_schedule(self, spec: ScheduleSpec) -> dict[str, Any]:
        if not spec.name:
            raise ValidationError("schedule name is required", details={"field": "name"})
        if not spec.script:
            raise ValidationError("schedule script is required", details={"field": "script"})
        timezone, overlap = spec.timezone or "UTC", spec.overlap or "skip"
        self._check_schedule(
            cron=spec.cron,
            interval_s=spec.interval_s,
            timezone=timezone,
            overlap=overlap,
            catchup_window_s=spec.catchup_window_s,
        )
        await self.store.scripts.get(spec.script)
        schedule = await self.store.schedules.create(
            name=spec.name,
            script_name=spec.script,
            args=spec.args,
            cron=spec.cron,
            interval_s=spec.interval_s,
            timezone=timezone,
            overlap=overlap,  # type: ignore[arg-type]
            catchup_window_s=spec.catchup_window_s or 0.0,
            enabled=True if spec.enabled is None else spec.enabled,
        )
        await self._schedules_changed()
        return schedule_view(schedule)

    async def _schedules_changed(self) -> None:
        if self.scheduler is not None:
            await self.scheduler.sync()

    async def get_schedule(self, schedule_id: str) -> dict[str, Any]:
        return schedule_view(await self.store.schedules.get(schedule_id))

    async def list_schedules(self, limit: int = 1000, cursor: str | None = None) -> dict[str, Any]:
        """Schedules by name, ``{items, next_cursor}``. Raises ValidationError for a bad cursor."""
        schedules, next_cursor = await self.store.schedules.list(limit=limit, cursor=cursor)
        return {"items": [schedule_view(s) for s in schedules], "next_cursor": next_cursor}

    async def update_schedule(self, schedule_id: str, spec: ScheduleSpec) -> dict[str, Any]:
        current = await self.store.schedules.get(schedule_id)
        fields: dict[str, Any] = {}
        for key in ("name", "args", "timezone", "overlap", "catchup_window_s", "enabled"):
            value = getattr(spec, key)
            if value is not None:
                fields[key] = value
        if spec.script is not None:
            await self.store.scripts.get(spec.script)
            fields["script_name"] = spec.script
        if spec.cron is not None:
            fields["cron"], fields["interval_s"] = spec.cron, None
        if spec.interval_s is not None:
            fields["interval_s"], fields["cron"] = spec.interval_s, None
        self._check_schedule(
            cron=fields.get("cron", current.cron) if "cron" in fields else current.cron,
            interval_s=fields.get("interval_s", current.interval_s),
            timezone=fields.get("timezone", current.timezone),
            overlap=fields.get("overlap", current.overlap),
            catchup_window_s=fields.get("catchup_window_s"),
        )
        schedule = await self.store.schedules.update(schedule_id, **fields)
        await self._schedules_changed()
        return schedule_view(schedule)

    async def delete_schedule(self, schedule_id: str) -> None:
        await self.store.schedules.delete(schedule_id)
        await self._schedules_changed()

    async def set_schedule_enabled(self, schedule_id: str, enabled: bool) -> dict[str, Any]:
        schedule = await self.store.schedules.update(schedule_id, enabled=enabled)
        await self._schedules_changed()
        return schedule_view(schedule)

    async def trigger_schedule(self, schedule_id: str) -> dict[str, Any]:
        schedule = await self.store.schedules.get(schedule_id)
        if self.scheduler is None:
            raise NotFound.named("scheduler", "local")
        run = await self.scheduler.fire(schedule, datetime.now(UTC), manual=True)
        if run is None:
            raise ValidationError("the trigger was skipped by the schedule's overlap policy")
        return run_view(run)

    async def schedule_runs(
        self, schedule_id: str, *, limit: int = 50, cursor: str | None = None
    ) -> dict[str, Any]:
        await self.store.schedules.get(schedule_id)
        return await self.list_runs(schedule_id=schedule_id, limit=limit, cursor=cursor)

    # Tools ------------------------------------------------------------------------------

    async def list_tools(self, category: str | None = None) -> list[dict[str, Any]]:
        from ..tools.registry import default_registry

        return [
            {
                "name": t.name,
                "category": t.category,
                "description": t.description,
                "security_level": t.security_level,
            }
            for t in default_registry().list(category)
        ]

    async def get_tool(self, name: str) -> dict[str, Any]:
        from ..tools.registry import default_registry

        return default_registry().get(name).info()

    async def invoke_tool(self, name: str, params: dict[str, Any]) -> dict[str, Any]:
        from ..core.context import ExecutionContext
        from ..tools.registry import default_registry

        registry = default_registry()
        registry.get(name)
        ctx = ExecutionContext(
            limits=self.settings.limits.to_limits(), policy=self.settings.sandbox.to_policy()
        )
        return await self.pool.run(lambda: registry.invoke_envelope(name, params, ctx))

    # Health -----------------------------------------------------------------------------

    async def ready(self) -> dict[str, Any]:
        checks: dict[str, Any] = {}
        try:
            await self.store.ping()
            checks["database"] = "ok"
            current, head = await self.store.migration_status()
            checks["migrations"] = "ok" if current == head else f"at {current}, head is {head}"
        except Exception as exc:
            checks["database"] = f"error: {exc}"
        ping = getattr(self.hub, "ping", None)
        if ping is not None:
            checks["redis"] = "ok" if await ping() else "error: no answer"
        return {"ready": all(v == "ok" for v in checks.values()), "checks": checks}


def _unstored_run(spec: Any, worker_id: str) -> RunRecord:
    """The record of a run executing before it is stored (see ``RunRepository.insert_finished``)."""
    from ..core.ids import new_id
    from ..storage.records import RunRecord

    now = datetime.now(UTC)
    return RunRecord(
        id=new_id(),
        status="running",
        script_name=spec.script_name,
        script_version=spec.script_version,
        engine=spec.engine,
        code=spec.code,
        args=spec.args,
        session_id=spec.session_id,
        schedule_id=spec.schedule_id,
        fire_time=spec.fire_time,
        timeout_s=spec.timeout_s,
        metadata=dict(spec.metadata or {}),
        webhook=spec.webhook,
        idempotency_key=None,
        result=None,
        stdout=None,
        error=None,
        usage=None,
        duration_ms=None,
        created_at=now,
        started_at=now,
        finished_at=None,
        worker_id=worker_id,
        lease_expires_at=None,
        attempts=1,
        max_attempts=spec.max_attempts,
        cancel_requested=False,
    )


def _limit(limit: int) -> int:
    if limit < 1 or limit > 1000:
        raise ValidationError("limit must be between 1 and 1000", details={"field": "limit"})
    return limit

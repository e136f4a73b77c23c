"""The daemon's run machinery: claiming queued runs, leases, cancellation, recovery.

Every replica runs one :class:`Worker`. Runs reach it only through the queue in the
database (``claim`` with ``FOR UPDATE SKIP LOCKED`` on Postgres), so N replicas execute
each run exactly once; a replica that dies loses its leases and its runs are recovered
by the others.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from ..core.errors import LLMSpellError
from ..core.logging import LoopFailures
from ..events.abc import RunEvent, RunEventHub
from .executor import RunExecutor
from .runner import RunOutcome

if TYPE_CHECKING:
    from ..storage.abc import Store
    from ..storage.records import RunRecord

__all__ = ["Worker"]

log = logging.getLogger("llmspell.runtime")


class Worker:
    """Claims and executes runs; renews leases; applies cancellations; recovers runs of
    dead replicas. Start with :meth:`start`, stop with :meth:`stop` (graceful)."""

    def __init__(
        self,
        *,
        store: Store,
        hub: RunEventHub,
        executor: RunExecutor,
        worker_id: str | None = None,
        lease_s: float = 30.0,
        max_concurrent: int = 1000,
        poll_interval_s: float = 0.2,
        on_recovered: Callable[[list[str], list[str]], None] | None = None,
    ) -> None:
        self.worker_id = worker_id or f"worker-{uuid.uuid4().hex[:12]}"
        self._store = store
        self._hub = hub
        self._executor = executor
        self._lease_s = lease_s
        self._max_concurrent = max_concurrent
        self._poll_interval_s = poll_interval_s
        self._wake = asyncio.Event()
        self._tasks: set[asyncio.Task[None]] = set()
        self._running: dict[str, asyncio.Task[RunOutcome]] = {}
        # Runs executing before they are stored (execute_now(stored=False)): no row holds
        # their lease or a cancel request, so the lease loop leaves them alone.
        self._unstored: set[str] = set()
        self._claim_failures = LoopFailures(log, "claiming runs")
        self._lease_failures = LoopFailures(log, "renewing leases")
        self._recovery_failures = LoopFailures(log, "recovering expired runs")
        self._reserved = 0  # slots held for runs being created claimed by this worker
        self._stopping = False
        self._on_recovered = on_recovered

    def _stored_ids(self) -> list[str]:
        """The runs executing here that have a row (a lease, perhaps a cancel request)."""
        unstored = self._unstored
        if not unstored:
            return list(self._running)
        return [run_id for run_id in self._running if run_id not in unstored]

    def is_active(self, run_id: str) -> bool:
        """True while run ``run_id`` executes here."""
        return run_id in self._running

    def wake(self) -> None:
        """Look for queued runs now (a run was just created here)."""
        self._wake.set()

    def start(self) -> None:
        for name, loop in (
            ("claim", self._claim_loop),
            ("leases", self._lease_loop),
            ("recovery", self._recovery_loop),
        ):
            task = asyncio.create_task(loop(), name=f"llmspell-{name}-{self.worker_id}")
            self._tasks.add(task)

    @property
    def executes_runs(self) -> bool:
        """False for an API-only replica (``max_concurrent_runs = 0``)."""
        return self._max_concurrent > 0 and not self._stopping

    @property
    def lease_s(self) -> float:
        return self._lease_s

    async def execute_now(self, run: RunRecord, *, stored: bool = True) -> RunOutcome:
        """Execute a run this worker holds (created claimed, or ``stored=False``: not in the
        database until it ends) and return its outcome."""
        task = asyncio.create_task(self._executor.execute(run, stored=stored), name=f"run-{run.id}")
        self._track(run.id, task)
        if not stored:
            self._unstored.add(run.id)
        return await asyncio.shield(task)

    def reserve(self) -> bool:
        """Hold a slot for a run about to be created claimed by this worker; False when the
        worker is full or stopping (the run is then queued for any worker)."""
        if not self.executes_runs or len(self._running) + self._reserved >= self._max_concurrent:
            return False
        self._reserved += 1
        return True

    def start_reserved(self, run: RunRecord | None) -> None:
        """Execute ``run``, created claimed in a slot :meth:`reserve` held (None gives the
        slot back)."""
        self._reserved -= 1
        if run is not None:
            self._track(run.id, asyncio.create_task(self._executor.execute(run), name=f"run-{run.id}"))

    def cancel_local(self, run_id: str, reason: str) -> bool:
        """Cancel a run executing here; False when it is not here."""
        ctx = self._executor.active.get(run_id)
        if ctx is None:
            return False
        ctx.cancel_token.cancel(reason)
        return True

    async def _claim_loop(self) -> None:
        while not self._stopping:
            capacity = self._max_concurrent - len(self._running) - self._reserved
            claimed = []
            if capacity > 0:
                try:
                    claimed = await self._store.runs.claim(self.worker_id, min(capacity, 64), self._lease_s)
                except Exception as exc:
                    self._claim_failures.failed(exc)
                else:
                    self._claim_failures.succeeded()
            for run in claimed:
                self._track(run.id, asyncio.create_task(self._executor.execute(run), name=f"run-{run.id}"))
            if claimed and len(claimed) == min(capacity, 64):
                continue  # more may be waiting
            self._wake.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self._poll_interval_s)

    def _track(self, run_id: str, task: asyncio.Task[RunOutcome]) -> None:
        self._running[run_id] = task
        task.add_done_callback(functools.partial(self._forget, run_id))

    def _forget(self, run_id: str, task: asyncio.Task[RunOutcome]) -> None:
        # By id, not by scanning: with many runs in flight every finish would cost O(n).
        if self._running.get(run_id) is task:
            del self._running[run_id]
            self._unstored.discard(run_id)

    async def _lease_loop(self) -> None:
        interval = min(self._lease_s / 3, 0.5)
        renew_every = max(1, int((self._lease_s / 3) / interval))
        tick = 0
        while not self._stopping:
            await asyncio.sleep(interval)
            tick += 1
            ids = self._stored_ids()
            if not ids:
                continue
            try:
                for run_id in await self._store.runs.cancel_requested_ids(ids):
                    self.cancel_local(run_id, "cancelled by request")
                if tick % renew_every == 0:
                    held = await self._store.runs.renew_leases(self.worker_id, ids, self._lease_s)
                    for run_id in set(ids) - held:
                        if run_id in self._running:
                            self.cancel_local(run_id, "lease lost")
            except Exception as exc:
                self._lease_failures.failed(exc)
            else:
                self._lease_failures.succeeded()

    async def _recovery_loop(self) -> None:
        interval = max(0.5, min(self._lease_s / 2, 5.0))
        while not self._stopping:
            try:
                requeued, failed = await self._store.runs.recover_expired(datetime.now(UTC))
            except Exception as exc:
                self._recovery_failures.failed(exc)
                requeued, failed = [], []
            else:
                self._recovery_failures.succeeded()
            if requeued:
                self.wake()
            for run_id in failed:
                await self._end_stream(run_id)
            if (requeued or failed) and self._on_recovered is not None:
                self._on_recovered(requeued, failed)
            await self._update_queue_gauge()
            await asyncio.sleep(interval)

    async def _update_queue_gauge(self) -> None:
        try:
            counts = await self._store.runs.count_by_status()
        except Exception:
            return
        from ..core import metrics

        metrics.RUNS_QUEUED.set(counts.get("queued", 0))

    async def _end_stream(self, run_id: str) -> None:
        """Close the event stream of a run that will not run again here."""
        try:
            run = await self._store.runs.get(run_id)
            seq = await self._store.events.last_seq(run_id)
            events = [
                RunEvent(run_id=run_id, id=seq + 1, event="error", data=run.error or {}),
                RunEvent(run_id=run_id, id=seq + 2, event="status", data={"status": run.status}),
                RunEvent(run_id=run_id, id=seq + 3, event="end", data={"status": run.status}),
            ]
            await self._store.events.append(run_id, [(e.id, e.event, e.data) for e in events])
            await self._hub.publish(events)
        except Exception:
            log.warning("closing the event stream of run %s failed", run_id, exc_info=True)

    async def stop(self, grace_s: float) -> None:
        """Stop claiming; let running runs finish within ``grace_s``; hand back the rest."""
        self._stopping = True
        self._wake.set()
        if self._running:
            _done, pending = await asyncio.wait(list(self._running.values()), timeout=grace_s)
            if pending:
                ids = [rid for rid, task in self._running.items() if task in pending]
                for task in pending:
                    task.cancel()
                await asyncio.gather(*pending, return_exceptions=True)
                try:
                    released = await self._store.runs.release(self.worker_id, ids)
                    log.info("handed %d runs back to the queue", len(released))
                except LLMSpellError as exc:  # the database is unreachable: one line
                    log.warning(
                        "handing %d runs back failed: %s; they run again once their lease expires",
                        len(ids),
                        exc,
                    )
                except Exception:
                    log.warning("handing %d runs back failed", len(ids), exc_info=True)
        for loop_task in self._tasks:
            loop_task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks.clear()

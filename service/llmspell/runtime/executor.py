"""Executing one claimed run: limits, events, the script, the stored outcome."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import replace
from typing import TYPE_CHECKING, Any, TypeVar

from ..core.batching import Coalescer
from ..core.context import ExecutionContext, Limits, SandboxPolicy
from ..core.errors import LLMSpellError, StorageError
from ..core.logging import LoopFailures
from ..events.abc import RunEventHub
from ..storage.records import RunFinish
from .events import PeriodicEventFlush, RunEventWriter
from .pool import RuntimePool
from .runner import RunOutcome, execute_script

if TYPE_CHECKING:
    from ..storage.abc import Store
    from ..storage.records import RunRecord

__all__ = ["RunExecutor", "script_args"]

log = logging.getLogger("llmspell.runtime")
T = TypeVar("T")

# How long a finished run retries storing its outcome while the database is unreachable.
_STORE_RETRY_S = 120.0


def script_args(args: Any) -> list[str]:
    """Run ``args`` as the script's argv: a list as is, a dict as ``--key value`` pairs."""
    if args is None:
        return []
    if isinstance(args, dict):
        argv: list[str] = []
        for key, value in args.items():
            argv += [f"--{key}", value if isinstance(value, str) else _json(value)]
        return argv
    if isinstance(args, list):
        return [item if isinstance(item, str) else _json(item) for item in args]
    return [str(args)]


def _json(value: Any) -> str:
    import json

    return json.dumps(value)


class RunExecutor:
    """Runs claimed runs on the runtime pool and records them.

    ``on_finished(run_id, outcome)`` is called (on the owner loop) after the outcome is
    stored and the ``end`` event published.
    """

    def __init__(
        self,
        *,
        store: Store,
        hub: RunEventHub,
        pool: RuntimePool,
        worker_id: str,
        limits: Limits,
        policy: SandboxPolicy,
        settings_loader: Callable[[], Any] | None = None,
        on_finished: Callable[[RunRecord, RunOutcome], None] | None = None,
        services: dict[str, Any] | None = None,
    ) -> None:
        self._store = store
        self._hub = hub
        self._pool = pool
        self._worker_id = worker_id
        self._limits = limits
        self._policy = policy
        self._settings_loader = settings_loader
        self._on_finished = on_finished
        self.active: dict[str, ExecutionContext] = {}
        self._finishes: Coalescer[RunFinish, bool] = Coalescer(store.runs.finish_many)
        self._inserts: Coalescer[tuple[RunRecord, RunFinish], None] = Coalescer(self._insert_finished)
        self._event_flush = PeriodicEventFlush()
        self._store_failures = LoopFailures(log, "storing finished runs")
        self._storing: set[asyncio.Task[None]] = set()  # outcomes of wait runs, retried
        self.services: dict[str, Any] = dict(services or {})
        self.record_sessions = True

    async def _until_stored(self, store: Callable[[], Awaitable[T]]) -> T:
        """``store()``, retried while the database is unreachable (up to ``_STORE_RETRY_S``).

        A run that ends during a database outage keeps its outcome and stores it when the
        database is back, instead of leaving its row ``running`` until its lease expires and
        it is executed again (its lease is renewed meanwhile: it is still in flight here).
        """
        delay, deadline = 0.1, time.monotonic() + _STORE_RETRY_S
        while True:
            try:
                stored = await store()
            except StorageError as exc:
                self._store_failures.failed(exc)
                if time.monotonic() + delay > deadline:
                    raise
            else:
                self._store_failures.succeeded()
                return stored
            await asyncio.sleep(delay)
            delay = min(delay * 2, 2.0)

    async def settle(self, timeout_s: float) -> None:
        """At shutdown: give wait runs still storing their outcome ``timeout_s`` to finish."""
        if not self._storing:
            return
        _done, pending = await asyncio.wait(list(self._storing), timeout=timeout_s)
        for task in pending:
            task.cancel()
        if pending:
            log.error("%d finished runs were not stored before shutdown (database unreachable)", len(pending))
        await asyncio.gather(*pending, return_exceptions=True)

    def context_for(self, run: RunRecord) -> ExecutionContext:
        limits = self._limits
        if run.timeout_s is not None:
            limits = replace(limits, timeout_s=run.timeout_s)
        return ExecutionContext(
            run_id=run.id,
            limits=limits,
            policy=self._policy,
            session_id=run.session_id,
            services=dict(self.services),
        )

    async def _insert_finished(self, items: Sequence[tuple[RunRecord, RunFinish]]) -> list[None]:
        await self._store.runs.insert_finished(items)
        return [None] * len(items)

    async def execute(self, run: RunRecord, *, stored: bool = True) -> RunOutcome:
        """Execute a run this worker holds; never raises for script failures.

        ``stored=False``: the run is not in the database yet; it is inserted, finished,
        with its events when it ends (one write per run instead of two).
        """
        first_seq = 0 if run.attempts <= 1 else await self._store.events.last_seq(run.id)
        writer = RunEventWriter(run.id, self._store, self._hub, first_seq=first_seq, publish=stored)
        if stored:  # a run not stored yet stores its events with itself, at its end
            self._event_flush.watch(writer)
        ctx = self.context_for(run)
        self.active[run.id] = ctx
        writer.emit(
            "status",
            {"status": "running", "run_id": run.id, "attempt": run.attempts, "worker": self._worker_id},
        )
        try:
            if run.session_id is not None and self.record_sessions:
                outcome = await self._recorded(run, ctx, writer)
            else:
                outcome = await self._pool.run(
                    lambda: execute_script(
                        run.code,
                        engine=run.engine,
                        script_name=run.script_name or "inline",
                        args=script_args(run.args),
                        ctx=ctx,
                        stdout=writer,
                        emit=writer.emit,
                        settings_loader=self._settings_loader,
                    )
                )
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # a bug in the runtime must not lose the run
            log.exception("run %s crashed the runtime", run.id)
            error = exc if isinstance(exc, LLMSpellError) else LLMSpellError(f"internal error: {exc}")
            outcome = RunOutcome(status="failed", error=error)
        finally:
            self.active.pop(run.id, None)
        await self.record(run, writer, outcome, stored=stored)
        return outcome

    async def _recorded(self, run: RunRecord, ctx: ExecutionContext, writer: RunEventWriter) -> RunOutcome:
        """Execute a run of a session, recording it for ``llmspell session replay``."""
        from .replay import execute_recorded

        outcome, records = await self._pool.run(
            lambda: execute_recorded(
                run.code,
                engine=run.engine,
                script_name=run.script_name or "inline",
                args=script_args(run.args),
                ctx=ctx,
                settings_loader=self._settings_loader,
                stdout=writer,
                emit=writer.emit,
            )
        )
        assert run.session_id is not None
        try:
            await self._store.replay.append(run.session_id, run.id[:32], records)
        except LLMSpellError as exc:
            log.warning("recording run %s in session %s failed: %s", run.id, run.session_id, exc)
        return outcome

    async def record(
        self, run: RunRecord, writer: RunEventWriter, outcome: RunOutcome, *, stored: bool = True
    ) -> None:
        """Store the outcome: final events, the run row, then the ``end`` event."""
        run_id = run.id
        if outcome.error is None:
            writer.emit("result", {"result": outcome.result})
        else:
            writer.emit("error", outcome.error.to_dict())
        writer.emit("status", {"status": outcome.status})
        end = writer.emit("end", {"status": outcome.status}, live=False)
        started = time.perf_counter()
        self._event_flush.forget(writer)
        await writer.drain()  # no periodic flush may still be writing
        finish = RunFinish(
            run_id=run_id,
            worker_id=self._worker_id,
            status=outcome.status,
            result=outcome.result,
            stdout=outcome.stdout,
            error=outcome.error.to_dict() if outcome.error is not None else None,
            usage={**outcome.usage.to_dict(), "cost": outcome.cost},
            duration_ms=outcome.duration_ms,
            events=tuple(writer.take_pending()),
        )
        if stored:
            held = await self._until_stored(lambda: self._finishes.submit(finish))
        else:
            held = True
            try:
                await self._inserts.submit((run, finish))
            except StorageError as exc:
                # The caller waiting for this run gets its outcome now; the run is stored
                # when the database is back (GET answers 404 for it until then).
                self._store_failures.failed(exc)
                task = asyncio.create_task(self._until_stored(lambda: self._inserts.submit((run, finish))))
                self._storing.add(task)
                task.add_done_callback(self._storing.discard)
        if not held:
            log.warning("run %s finished here but is no longer held by this worker", run_id)
        writer.publish(end)
        await writer.drain()
        log.debug("recorded run %s in %.1f ms", run_id, (time.perf_counter() - started) * 1000)
        if self._on_finished is not None:
            self._on_finished(run, outcome)

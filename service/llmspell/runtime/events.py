"""The event stream of one executing run: ids, live fan-out and batched persistence."""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from typing import TYPE_CHECKING, Any

from ..core.logging import LoopFailures
from ..events.abc import RunEvent, RunEventHub

if TYPE_CHECKING:
    from ..storage.abc import Store

__all__ = ["PeriodicEventFlush", "RunEventWriter"]

log = logging.getLogger("llmspell.runtime")

# A run shorter than this stores its events once, with its outcome; a longer one persists
# them about this often while it runs (live readers follow the hub, not the database).
_FLUSH_INTERVAL_S = 1.0

# Shared by every run: a hub outage (Redis) is one warning, not one per run and batch.
_PUBLISH_FAILURES = LoopFailures(log, "publishing run events to the hub")


class RunEventWriter:
    """Numbers a run's events, publishes them to the hub at once and persists them in
    batches (through :class:`PeriodicEventFlush` while the run lasts, and at its end).

    ``emit``/``write`` may be called from any thread (scripts run on runtime threads); the
    work is handed to the owner's event loop.
    """

    def __init__(
        self,
        run_id: str,
        store: Store,
        hub: RunEventHub,
        *,
        first_seq: int = 0,
        publish: bool = True,
    ) -> None:
        self.run_id = run_id
        self._store = store
        self._hub = hub
        self._loop = asyncio.get_running_loop()
        self._seq = first_seq
        self._pending: list[RunEvent] = []
        self._lock = threading.Lock()
        self.started = time.monotonic()
        self._flushing: asyncio.Future[None] | None = None
        self._publishing: asyncio.Task[None] | None = None
        self._live: list[RunEvent] = []
        self._owner = threading.get_ident()
        # Off for runs nobody can follow (not stored until they end, so no reader knows them).
        self._publish = publish
        # A wake-up of the owner loop is on its way: later events ride along with it.
        self._waking = False

    # Thread-safe producers -------------------------------------------------------------

    def emit(self, kind: str, data: dict[str, Any], *, live: bool = True) -> RunEvent:
        """Add an event of ``kind``; returns it with its id.

        ``live=False`` persists it without publishing; :meth:`publish` sends it later (the
        ``end`` event goes out only after the run's outcome is stored).
        """
        wake = False
        with self._lock:
            self._seq += 1
            event = RunEvent(run_id=self.run_id, id=self._seq, event=kind, data=data)
            self._pending.append(event)
            if live and self._publish:
                self._live.append(event)
                wake, self._waking = not self._waking, True
        if wake:
            self._wake()
        return event

    def publish(self, event: RunEvent) -> None:
        """Send an event emitted with ``live=False`` to the hub."""
        if not self._publish:
            return
        with self._lock:
            self._live.append(event)
            wake, self._waking = not self._waking, True
        if wake:
            self._wake()

    def _wake(self) -> None:
        if threading.get_ident() == self._owner:
            self._schedule_publish()
        else:
            self._loop.call_soon_threadsafe(self._schedule_publish)

    def write(self, text: str) -> None:
        """An output sink: each printed line becomes a ``stdout`` event."""
        self.emit("stdout", {"text": text})

    # Owner-loop side -------------------------------------------------------------------

    def _schedule_publish(self) -> None:
        with self._lock:
            self._waking = False  # events emitted from now on wake the loop again
        if self._publishing is not None and not self._publishing.done():
            return  # the running publisher takes these events too
        with self._lock:
            batch, self._live = self._live, []
        if not batch:
            return
        try:
            if self._hub.publish_nowait(batch):
                return  # the in-process hub: no task per wake-up
        except Exception as exc:
            _PUBLISH_FAILURES.failed(exc)
            return
        with self._lock:
            self._live[:0] = batch
        self._publishing = self._loop.create_task(self._publish_live(), name=f"run-events-{self.run_id}")

    async def _publish_live(self) -> None:
        while True:
            with self._lock:
                batch, self._live = self._live, []
            if not batch:
                return
            try:
                await self._hub.publish(batch)
            except Exception as exc:
                _PUBLISH_FAILURES.failed(exc)  # live readers miss these; the store keeps them
            else:
                _PUBLISH_FAILURES.succeeded()

    def take_pending(self) -> list[tuple[int, str, Any]]:
        """The events not yet stored, as ``(seq, type, data)``; the caller stores them."""
        with self._lock:
            batch, self._pending = self._pending, []
        return [(e.id, e.event, e.data) for e in batch]

    async def flush(self) -> None:
        """Persist every event not yet stored. When that fails the events stay pending (the
        run's outcome stores them), and the error is raised."""
        with self._lock:
            batch, self._pending = self._pending, []
        if not batch:
            return
        self._flushing = flushing = self._loop.create_future()
        try:
            await self._store.events.append(self.run_id, [(e.id, e.event, e.data) for e in batch])
        except BaseException:
            with self._lock:
                self._pending[:0] = batch
            raise
        finally:
            flushing.set_result(None)
            self._flushing = None

    async def drain(self) -> None:
        """Wait until every emitted event reached the hub and no flush is still writing."""
        if self._flushing is not None:
            await asyncio.shield(self._flushing)
        while self._publishing is not None and not self._publishing.done():
            await self._publishing
        if self._live:
            self._schedule_publish()
            if self._publishing is not None:
                await self._publishing
        self._publishing = None  # a finished task would keep a cycle through this writer


class PeriodicEventFlush:
    """Persists the pending events of every running run once per period, all together.

    The appends of one tick reach the event repository together, which writes them in one
    transaction: a burst of 1,000 runs costs a transaction per second, not one per run (per-run
    timers would fire at scattered moments, and on SQLite each append commits on its own). A
    run is flushed first at the first tick after it is a period old, so a run shorter than
    the period stores its events once, with its outcome.
    """

    def __init__(self, period_s: float = _FLUSH_INTERVAL_S) -> None:
        self._period_s = period_s
        self._writers: dict[RunEventWriter, None] = {}
        self._failures = LoopFailures(log, "persisting the events of running runs")
        self._ticking: asyncio.Task[None] | None = None

    def watch(self, writer: RunEventWriter) -> None:
        """Flush ``writer`` periodically until :meth:`forget`."""
        self._writers[writer] = None
        if self._ticking is None or self._ticking.done():
            self._ticking = asyncio.get_running_loop().create_task(self._tick(), name="llmspell-event-flush")

    def forget(self, writer: RunEventWriter) -> None:
        """Stop flushing ``writer`` (its run is ending; it stores the rest itself)."""
        self._writers.pop(writer, None)

    async def _tick(self) -> None:
        while self._writers:
            await asyncio.sleep(self._period_s)
            born_before = time.monotonic() - self._period_s
            due = [writer for writer in self._writers if writer.started <= born_before]
            results = await asyncio.gather(*(writer.flush() for writer in due), return_exceptions=True)
            errors = [failed for failed in results if isinstance(failed, Exception)]
            if errors:  # the events stay pending: the next tick or the run's end stores them
                self._failures.failed(errors[0])
            elif due:
                self._failures.succeeded()

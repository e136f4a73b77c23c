"""Retention: prune old runs, events, ended sessions, expired state and unreferenced blobs.

``llmspell gc`` runs one pass; a daemon runs :func:`retention_loop` as a named background
task every ``state.gc_interval_s``. Every step is an idempotent delete, so replicas that
collect at the same time do no harm.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from ..core.logging import LoopFailures

if TYPE_CHECKING:
    from ..core.config import StateConfig
    from .manager import Persistence

__all__ = ["collect_garbage", "retention_loop"]

_FIRST_PASS_DELAY_S = 30.0

log = logging.getLogger("llmspell.retention")


def _before(now: datetime, days: float | None) -> datetime | None:
    return None if days is None else now - timedelta(days=days)


async def collect_garbage(
    persistence: Persistence, config: StateConfig, *, now: datetime | None = None
) -> dict[str, Any]:
    """One retention pass; returns how many of each thing were deleted.

    Finished runs older than ``runs_retention_days`` go with their events; events older
    than ``events_retention_days`` of finished runs go; completed and failed sessions not
    updated for ``sessions_retention_days`` go with their artifacts and state; expired
    state entries and blobs no artifact refers to go. A ``None`` retention keeps forever.
    """
    now = now or datetime.now(UTC)
    store = persistence.store
    report: dict[str, Any] = {"runs": 0, "events": 0, "sessions": 0, "state": 0, "blobs": 0}
    runs_before = _before(now, config.runs_retention_days)
    if runs_before is not None:
        report["runs"] = await store.maintenance.purge_runs(runs_before)
    events_before = _before(now, config.events_retention_days)
    if events_before is not None:
        report["events"] = await store.maintenance.purge_events(events_before)
    sessions_before = _before(now, config.sessions_retention_days)
    if sessions_before is not None:
        purged = await store.sessions.purge(sessions_before, ("completed", "failed"))
        for session_id in purged:
            await persistence.state.clear_scope(f"session:{session_id}")
        report["sessions"] = len(purged)
    report["state"] = await store.state.purge_expired(now)
    report["blobs"] = await persistence.artifacts.collect_garbage()
    return report


async def retention_loop(persistence: Persistence, config: StateConfig) -> None:
    """Collect garbage every ``config.gc_interval_s`` until cancelled (None: never); the
    first pass waits ``_FIRST_PASS_DELAY_S`` so that it does not slow the daemon's start."""
    interval = config.gc_interval_s
    if interval is None:
        return
    await asyncio.sleep(min(interval, _FIRST_PASS_DELAY_S))
    failures = LoopFailures(log, "the retention pass")
    while True:
        try:
            report = await collect_garbage(persistence, config)
            if any(report.values()):
                log.info("retention removed %s", report)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            failures.failed(exc)
        else:
            failures.succeeded()
        await asyncio.sleep(interval)

"""Hook history: executions that changed something, kept for timelines and replay.

Every hook result other than continue/skipped is recorded as a :class:`HookRecord`
(the input data, the answer, the correlation id). A :class:`HookHistory` keeps the last
``max_records`` in memory and hands each record to an optional ``sink``; inside a run the
sink is the run's event stream (event ``hook``), so records are stored with the run's
events and ``llmspell runs timeline ID`` can rebuild the run's timeline from them.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any

from .abc import HookContext, HookResult
from .results import coerce_result

if TYPE_CHECKING:
    from .registry import HookRegistry, RegisteredHook

__all__ = ["HookHistory", "HookRecord", "ReplayOutcome", "replay"]


@dataclass(frozen=True, kw_only=True, slots=True)
class HookRecord:
    """One data-changing hook execution."""

    hook_id: str
    hook: str
    point: str
    component: tuple[str, str]
    correlation_id: str
    run_id: str
    attempt: int
    input: Any
    result: dict[str, Any]
    timestamp: float

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["component"] = {"type": self.component[0], "name": self.component[1]}
        return out


class HookHistory:
    """A bounded, thread-safe record of hook executions.

    Args:
        max_records: records kept in memory (oldest dropped first).
        sink: also called with each record's dict (e.g. the run's event writer).
    """

    def __init__(
        self, *, max_records: int = 10_000, sink: Callable[[dict[str, Any]], object] | None = None
    ) -> None:
        self._records: deque[HookRecord] = deque(maxlen=max_records)
        self._lock = threading.Lock()
        self.sink = sink

    def record(self, entry: RegisteredHook, hctx: HookContext, result: HookResult) -> HookRecord:
        """Keep one execution (called by the registry)."""
        rec = HookRecord(
            hook_id=entry.id,
            hook=entry.name,
            point=hctx.point,
            component=hctx.component,
            correlation_id=hctx.correlation_id,
            run_id=hctx.run_id,
            attempt=hctx.attempt,
            input=hctx.data,
            result=result.to_dict(),
            timestamp=time.time(),
        )
        with self._lock:
            self._records.append(rec)
        if self.sink is not None:
            self.sink(rec.to_dict())
        return rec

    def records(self, correlation_id: str | None = None) -> list[HookRecord]:
        """Records in the order they happened, optionally of one correlation id."""
        with self._lock:
            items = list(self._records)
        if correlation_id is None:
            return items
        return [rec for rec in items if rec.correlation_id == correlation_id]


@dataclass(frozen=True, kw_only=True, slots=True)
class ReplayOutcome:
    """A re-execution of a recorded hook: what it answers now, and whether that matches."""

    record: HookRecord
    result: dict[str, Any]
    same: bool


async def replay(record: HookRecord, registry: HookRegistry) -> ReplayOutcome:
    """Run the hook of ``record`` again on the recorded input.

    Raises:
        NotFound: the hook is no longer registered.
    """
    from ..core.errors import NotFound

    entry = registry.get(record.hook_id)
    if entry is None:
        raise NotFound(
            f"hook {record.hook_id!r} ({record.hook}) is no longer registered; register it again to replay",
            details={"hook": record.hook_id},
        )
    hctx = HookContext(
        point=record.point,
        component=record.component,
        data=record.input,
        correlation_id=record.correlation_id,
        run_id=record.run_id,
        attempt=record.attempt,
    )
    value = entry.fn(hctx)
    if hasattr(value, "__await__"):
        value = await value
    now = coerce_result(value).to_dict()
    return ReplayOutcome(record=record, result=now, same=now == record.result)

"""Live fan-out of run events (the per-run streams behind SSE and gRPC streaming).

History lives in the database (``run_events``); a hub carries events while a run is
active and keeps them for a short retention after its end, so a reader can attach at
any time: it replays what the hub holds after ``after`` and then follows live events.
Backends (chosen by URL scheme in :mod:`llmspell.events`): ``memory://`` (one process)
and ``redis://`` (Redis Streams, one stream per run, so a reader on one replica follows
a run executing on another).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from typing import Any

__all__ = ["RunEvent", "RunEventHub"]


@dataclass(frozen=True, kw_only=True, slots=True)
class RunEvent:
    """One event of a run. ``id`` is monotonic per run, starting at 1.

    ``event`` is one of status, stdout, log, tool, agent, token, result, error, end.
    """

    run_id: str
    id: int
    event: str
    data: dict[str, Any]

    def to_dict(self) -> dict[str, Any]:
        return {"run_id": self.run_id, "id": self.id, "event": self.event, "data": self.data}


class RunEventHub(ABC):
    """Per-run event streams.

    Ordering: events of one run are delivered in ``id`` order, each at most once per
    subscription. ``publish`` never blocks on slow readers.
    """

    @abstractmethod
    async def publish(self, events: Sequence[RunEvent]) -> None:
        """Append events (all of one run, ids increasing) to the run's stream."""

    @abstractmethod
    def subscribe(self, run_id: str, after: int = 0) -> AsyncIterator[RunEvent]:
        """Events of ``run_id`` with ``id > after``, replayed then live, ending after the
        ``end`` event. The iterator waits while the run produces nothing."""

    @abstractmethod
    async def has_history(self, run_id: str) -> bool:
        """True when the hub still holds events of the run."""

    @abstractmethod
    async def aclose(self) -> None:
        """Release connections; subscriptions end."""

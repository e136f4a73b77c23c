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
from typing import Any, Literal

__all__ = ["EventBus", "Overflow", "RunEvent", "RunEventHub", "Subscription", "UniversalEvent"]


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

    def publish_nowait(self, events: Sequence[RunEvent]) -> bool:
        """Publish at once when that needs no I/O and return True; False (nothing done)
        when the caller must await :meth:`publish` instead."""
        return False

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


# The general event bus (scripts, components, operators) ------------------------------

Overflow = Literal["block", "drop_oldest", "fail"]


@dataclass(slots=True)
class UniversalEvent:
    """One event on the bus.

    ``sequence`` increases by one per publisher (a bus instance); ``id`` is unique
    (``<publisher>:<sequence>``). ``schema_version`` versions the envelope, not ``data``.
    """

    id: str
    type: str
    data: Any
    timestamp: float
    sequence: int
    correlation_id: str = ""
    source: str = ""
    language: str = "python"
    schema_version: str = "1"

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "type": self.type,
            "data": self.data,
            "timestamp": self.timestamp,
            "sequence": self.sequence,
            "correlation_id": self.correlation_id,
            "source": self.source,
            "language": self.language,
            "schema_version": self.schema_version,
        }

    @classmethod
    def from_dict(cls, body: dict[str, Any]) -> UniversalEvent:
        return cls(
            id=str(body["id"]),
            type=str(body["type"]),
            data=body.get("data"),
            timestamp=float(body.get("timestamp", 0.0)),
            sequence=int(body.get("sequence", 0)),
            correlation_id=str(body.get("correlation_id") or ""),
            source=str(body.get("source") or ""),
            language=str(body.get("language") or "python"),
            schema_version=str(body.get("schema_version") or "1"),
        )


class Subscription(ABC):
    """Events whose type matches a glob ``pattern``, in publish order per publisher.

    Each subscription has a bounded queue (see :mod:`llmspell.events.flow`); members of
    one consumer ``group`` share the group's events, each delivered to one member.
    """

    id: str
    pattern: str
    group: str | None

    @abstractmethod
    async def receive(self, timeout: float | None = None) -> UniversalEvent | None:
        """The next event, or None after ``timeout`` seconds (None waits forever) or once
        closed. Group members acknowledge what they received on their next receive."""

    @abstractmethod
    async def ack(self) -> None:
        """Acknowledge every event received so far (groups; a no-op otherwise)."""

    @abstractmethod
    async def aclose(self) -> None:
        """Stop receiving; pending unacknowledged group events are redelivered to others."""

    @property
    @abstractmethod
    def stats(self) -> dict[str, Any]:
        """``{id, pattern, group, queued, dropped, delivered}``."""

    def __aiter__(self) -> AsyncIterator[UniversalEvent]:
        return self._iterate()

    async def _iterate(self) -> AsyncIterator[UniversalEvent]:
        while True:
            event = await self.receive()
            if event is None:
                return
            yield event


class EventBus(ABC):
    """Publish/subscribe by event type with glob patterns (``tool.*``, ``*.failed``).

    Usable from any thread and event loop of the process. ``publish`` never waits for
    delivery; it applies each subscription's overflow policy (``block`` may wait up to
    its timeout, ``fail`` raises ``LimitExceeded``).
    """

    @abstractmethod
    async def publish(
        self,
        event_type: str,
        data: Any = None,
        *,
        correlation_id: str = "",
        source: str = "",
        language: str = "python",
    ) -> UniversalEvent:
        """Publish one event; returns it (with its id and sequence)."""

    @abstractmethod
    async def subscribe(
        self,
        pattern: str,
        *,
        group: str | None = None,
        capacity: int | None = None,
        overflow: Overflow | None = None,
    ) -> Subscription:
        """A new subscription to types matching ``pattern``.

        Raises:
            ValidationError: an empty or malformed pattern, or an unknown overflow policy.
        """

    @abstractmethod
    async def flush(self) -> None:
        """Wait until every event published so far was handed to the backend."""

    @abstractmethod
    async def aclose(self) -> None:
        """Close every subscription and release connections."""

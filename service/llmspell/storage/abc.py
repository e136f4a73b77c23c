"""The storage interfaces: a :class:`Store` and its repositories.

Every method is a coroutine and runs in its own transaction. Errors: a missing row raises
:class:`~llmspell.core.errors.NotFound`, a unique constraint :class:`~llmspell.core.errors.Conflict`,
bad input :class:`~llmspell.core.errors.ValidationError`, and any database failure
:class:`~llmspell.core.errors.StorageError`. A store belongs to the event loop that opened it.
"""

from __future__ import annotations

import builtins
from abc import ABC, abstractmethod
from collections.abc import Sequence
from datetime import datetime
from types import TracebackType
from typing import Any

from .records import (
    UNSET,
    ApiKeyRecord,
    ArtifactRecord,
    BlobRecord,
    DefinitionRecord,
    FireRecord,
    FireResult,
    OverlapPolicy,
    ReplayRecord,
    RunEventRecord,
    RunFinish,
    RunRecord,
    RunSpec,
    RunStatus,
    ScheduleRecord,
    ScriptRecord,
    SessionRecord,
    SessionStatus,
    StateRecord,
    StateWrite,
    Unset,
)

__all__ = [
    "ApiKeyRepository",
    "ArtifactRepository",
    "DefinitionRepository",
    "EventRepository",
    "FireRepository",
    "MaintenanceRepository",
    "ReplayRepository",
    "RunRepository",
    "ScheduleRepository",
    "ScriptRepository",
    "SessionRepository",
    "StateRepository",
    "Store",
]


class ScriptRepository(ABC):
    """Versioned scripts: every ``put`` of a name adds a version."""

    @abstractmethod
    async def put(self, name: str, code: str, engine: str = "lua", description: str = "") -> ScriptRecord:
        """Store ``code`` as the next version of ``name`` (version 1 for a new name)."""

    @abstractmethod
    async def get(self, name: str, version: int | None = None) -> ScriptRecord:
        """The given version of ``name``, or its latest. Raises NotFound."""

    @abstractmethod
    async def list(
        self, limit: int = 100, cursor: str | None = None
    ) -> tuple[list[ScriptRecord], str | None]:
        """The latest version of each name, ordered by name, and the cursor of the next page."""

    @abstractmethod
    async def delete(self, name: str) -> int:
        """Delete every version of ``name``; returns how many. Raises NotFound."""


class RunRepository(ABC):
    """Runs and the run queue.

    A queued run is claimed by exactly one worker, which holds a lease it renews; a run
    whose lease expires is re-queued (``attempts < max_attempts``) or failed. Only the
    worker that holds a run may finish it.
    """

    @abstractmethod
    async def create(
        self, spec: RunSpec, *, worker_id: str | None = None, lease_s: float = 30.0
    ) -> RunRecord:
        """Insert a queued run. With an ``idempotency_key`` already used, return that run
        instead; concurrent duplicates also yield a single run.

        With ``worker_id`` the new run is inserted already claimed by that worker
        (``running``, first attempt, lease of ``lease_s``): the replica that received a
        waiting request executes it without a round trip through the queue.
        """

    @abstractmethod
    async def get(self, run_id: str) -> RunRecord:
        """The run. Raises NotFound."""

    @abstractmethod
    async def list(
        self,
        *,
        status: RunStatus | Sequence[RunStatus] | None = None,
        script: str | None = None,
        schedule_id: str | None = None,
        limit: int = 50,
        cursor: str | None = None,
    ) -> tuple[list[RunRecord], str | None]:
        """Runs newest first, filtered, and the cursor of the next page (None at the end)."""

    @abstractmethod
    async def claim(self, worker_id: str, limit: int, lease_s: float) -> builtins.list[RunRecord]:
        """Move up to ``limit`` queued runs, oldest first, to ``running`` for ``worker_id``.

        Increments ``attempts`` and sets the lease. Concurrent claimers, in this or other
        processes, never receive the same run.
        """

    @abstractmethod
    async def renew_leases(self, worker_id: str, run_ids: Sequence[str], lease_s: float) -> set[str]:
        """Extend the leases of runs still running for ``worker_id``; returns their ids
        (a missing id means the worker lost that run)."""

    @abstractmethod
    async def finish(
        self,
        run_id: str,
        worker_id: str,
        status: RunStatus,
        *,
        result: Any = None,
        stdout: str | None = None,
        error: dict[str, Any] | None = None,
        usage: dict[str, Any] | None = None,
        duration_ms: float | None = None,
        events: Sequence[tuple[int, str, Any]] = (),
    ) -> bool:
        """Record the outcome of a running run owned by ``worker_id``, and the run's last
        ``events`` (``(seq, type, data)``) in the same transaction.

        Returns False (and changes nothing) when the run is not running or not owned by
        that worker. Raises ValidationError for a non-terminal ``status``.
        """

    @abstractmethod
    async def create_many(
        self, specs: Sequence[RunSpec], *, worker_id: str | None = None, lease_s: float = 30.0
    ) -> builtins.list[RunRecord]:
        """:meth:`create` for several runs in one transaction (group commit), in order."""

    @abstractmethod
    async def insert_finished(self, runs: Sequence[tuple[RunRecord, RunFinish]]) -> None:
        """Store runs that were executed before being stored (``POST /v1/runs/wait``): each
        ``RunRecord`` (its id, input and start) with its outcome and events, in one
        transaction. Raises Conflict when an id exists."""

    @abstractmethod
    async def finish_many(self, finishes: Sequence[RunFinish]) -> builtins.list[bool]:
        """:meth:`finish` for several runs in one transaction (group commit), in order."""

    @abstractmethod
    async def request_cancel(self, run_id: str) -> RunRecord:
        """Cancel a queued run at once, or flag a running one (``cancel_requested``).

        Finished runs are returned unchanged. Raises NotFound.
        """

    @abstractmethod
    async def cancel_requested_ids(self, run_ids: Sequence[str]) -> set[str]:
        """Those of ``run_ids`` that are running with a cancellation requested."""

    @abstractmethod
    async def recover_expired(self, now: datetime) -> tuple[builtins.list[str], builtins.list[str]]:
        """Handle running runs whose lease expired before ``now``.

        Returns ``(requeued_ids, failed_ids)``: re-queued when ``attempts < max_attempts``,
        else failed with an error explaining the lost lease. Each id is reported once
        even when several replicas recover at the same time.
        """

    @abstractmethod
    async def release(self, worker_id: str, run_ids: Sequence[str]) -> builtins.list[str]:
        """Hand running runs of ``worker_id`` back to the queue (graceful shutdown); the
        interrupted attempt is not counted. Returns the released ids."""

    @abstractmethod
    async def count_by_status(self) -> dict[RunStatus, int]:
        """How many runs are in each status (every status present, zero included)."""


class EventRepository(ABC):
    """The events of each run, ordered by ``seq`` (assigned by the run's owner)."""

    @abstractmethod
    async def append(self, run_id: str, events: Sequence[tuple[int, str, Any]]) -> None:
        """Insert ``(seq, type, data)`` events in one transaction.

        Raises Conflict when a ``seq`` is already stored and ValidationError for an
        unknown run.
        """

    @abstractmethod
    async def list(self, run_id: str, after_seq: int = 0, limit: int = 1000) -> list[RunEventRecord]:
        """Events with ``seq > after_seq``, ascending, at most ``limit``."""

    @abstractmethod
    async def last_seq(self, run_id: str) -> int:
        """The highest stored ``seq`` of the run, 0 when there is none."""


class ScheduleRepository(ABC):
    """Schedules: the source of truth every replica's scheduler loads."""

    @abstractmethod
    async def create(
        self,
        *,
        name: str,
        script_name: str,
        args: Any = None,
        cron: str | None = None,
        interval_s: float | None = None,
        timezone: str = "UTC",
        overlap: OverlapPolicy = "skip",
        catchup_window_s: float = 0.0,
        enabled: bool = True,
    ) -> ScheduleRecord:
        """Insert a schedule (revision 1). Exactly one of ``cron`` and ``interval_s`` is
        required (ValidationError otherwise); raises Conflict for a used name."""

    @abstractmethod
    async def get(self, schedule_id: str) -> ScheduleRecord:
        """The schedule. Raises NotFound."""

    @abstractmethod
    async def get_by_name(self, name: str) -> ScheduleRecord:
        """The schedule called ``name``. Raises NotFound."""

    @abstractmethod
    async def list(
        self, *, enabled: bool | None = None, limit: int = 100, cursor: str | None = None
    ) -> tuple[list[ScheduleRecord], str | None]:
        """Schedules ordered by name, and the cursor of the next page."""

    @abstractmethod
    async def update(
        self,
        schedule_id: str,
        *,
        expected_revision: int | None = None,
        name: str | Unset = UNSET,
        script_name: str | Unset = UNSET,
        args: Any = UNSET,
        cron: str | Unset | None = UNSET,
        interval_s: float | Unset | None = UNSET,
        timezone: str | Unset = UNSET,
        overlap: OverlapPolicy | Unset = UNSET,
        catchup_window_s: float | Unset = UNSET,
        enabled: bool | Unset = UNSET,
    ) -> ScheduleRecord:
        """Change the given fields and bump ``revision``.

        Raises NotFound, Conflict (``expected_revision`` is stale or the new name is
        taken) and ValidationError (the result would not have exactly one trigger).
        """

    @abstractmethod
    async def mark_fired(self, schedule_id: str, fire_time: datetime) -> None:
        """Move ``last_fire_time`` forward to ``fire_time`` (never back; no revision bump)."""

    @abstractmethod
    async def delete(self, schedule_id: str) -> None:
        """Delete the schedule and its fires (its runs stay). Raises NotFound."""

    @abstractmethod
    async def revisions(self) -> dict[str, int]:
        """``{schedule_id: revision}`` of every schedule: what replicas poll and diff to
        notice created, changed and deleted schedules."""


class FireRepository(ABC):
    """Decided fires of schedules: the unique ``(schedule_id, fire_time)`` insert picks the
    one replica that acts on a fire."""

    @abstractmethod
    async def try_insert(
        self, schedule_id: str, fire_time: datetime, result: FireResult, *, run: RunSpec | None = None
    ) -> FireRecord | None:
        """Record a fire; returns it to the single caller whose insert won, None to others.

        With ``run``, the run is created in the same transaction and linked, so a fire is
        never recorded without its run. Never raises for a lost race.
        """

    @abstractmethod
    async def set_run(self, fire_id: str, run_id: str) -> None:
        """Link a fire to the run it created. Raises NotFound."""

    @abstractmethod
    async def list(
        self, schedule_id: str, limit: int = 50, cursor: str | None = None
    ) -> tuple[list[FireRecord], str | None]:
        """Fires of a schedule, latest ``fire_time`` first, and the cursor of the next page."""


class ApiKeyRepository(ABC):
    """API keys, stored as a prefix and a SHA-256 hash; the raw key is shown once."""

    @abstractmethod
    async def create(self, name: str, scopes: Sequence[str]) -> tuple[ApiKeyRecord, str]:
        """Create a key; returns the record and the raw key ``lsk_<prefix>_<secret>``.

        Raises ValidationError for an unknown scope and Conflict when an active key
        already has that name.
        """

    @abstractmethod
    async def verify(self, raw_key: str) -> ApiKeyRecord | None:
        """The active key matching ``raw_key`` (compared in constant time), else None."""

    @abstractmethod
    async def list(self) -> list[ApiKeyRecord]:
        """Every key, revoked ones included, oldest first."""

    @abstractmethod
    async def revoke(self, id_or_name: str) -> ApiKeyRecord:
        """Revoke the key with this id, or the active key with this name. Raises NotFound."""

    @abstractmethod
    async def any_active(self) -> bool:
        """True when at least one key is not revoked (the server then requires keys)."""


class StateRepository(ABC):
    """Versioned JSON values under ``(scope, key)``; expired entries read as absent.

    Every write bumps ``version``. A write with ``expected_version`` that does not match
    (0 = the key must be absent) raises Conflict and changes nothing. With
    ``max_scope_bytes``/``max_scope_keys`` a write that would leave the scope over quota
    raises LimitExceeded and changes nothing.
    """

    @abstractmethod
    async def get(self, scope: str, key: str) -> StateRecord | None:
        """The live entry, or None (absent or expired)."""

    @abstractmethod
    async def put(
        self,
        scope: str,
        key: str,
        value: Any,
        *,
        size: int,
        expected_version: int | None = None,
        schema_version: int = 1,
        expires_at: datetime | None = None,
        max_scope_bytes: int | None = None,
        max_scope_keys: int | None = None,
    ) -> StateRecord:
        """Write one entry (``size``: the byte length of its JSON). Raises Conflict, LimitExceeded."""

    @abstractmethod
    async def put_many(
        self,
        writes: Sequence[StateWrite],
        *,
        max_scope_bytes: int | None = None,
        max_scope_keys: int | None = None,
    ) -> builtins.list[StateRecord | None]:
        """Apply every write in one transaction (all or nothing); None for deletes."""

    @abstractmethod
    async def delete(self, scope: str, key: str, expected_version: int | None = None) -> bool:
        """Delete an entry; False when it was absent. Raises Conflict on a version mismatch."""

    @abstractmethod
    async def list(
        self,
        scope: str | None = None,
        *,
        prefix: str | None = None,
        limit: int = 100,
        cursor: str | None = None,
    ) -> tuple[builtins.list[StateRecord], str | None]:
        """Live entries ordered by ``(scope, key)`` (every scope when ``scope`` is None)."""

    @abstractmethod
    async def usage(self, scope: str) -> tuple[int, int]:
        """``(keys, bytes)`` of the live entries of ``scope``."""

    @abstractmethod
    async def delete_scope(self, scope: str) -> int:
        """Delete every entry of ``scope``; returns how many."""

    @abstractmethod
    async def purge_expired(self, now: datetime) -> int:
        """Delete entries that expired before ``now``; returns how many."""


class SessionRepository(ABC):
    """Sessions; deleting one deletes its artifacts and replay records."""

    @abstractmethod
    async def create(
        self,
        *,
        name: str,
        description: str = "",
        tags: Sequence[str] = (),
        metadata: dict[str, Any] | None = None,
        session_id: str | None = None,
    ) -> SessionRecord:
        """Insert an ``active`` session. Raises Conflict for a used ``session_id``."""

    @abstractmethod
    async def get(self, session_id: str) -> SessionRecord:
        """The session. Raises NotFound."""

    @abstractmethod
    async def list(
        self,
        *,
        status: SessionStatus | None = None,
        tags: Sequence[str] = (),
        limit: int = 50,
        cursor: str | None = None,
    ) -> tuple[builtins.list[SessionRecord], str | None]:
        """Sessions newest first having every tag of ``tags``, and the next cursor."""

    @abstractmethod
    async def update(
        self,
        session_id: str,
        *,
        status: SessionStatus | Unset = UNSET,
        name: str | Unset = UNSET,
        description: str | Unset = UNSET,
        tags: Sequence[str] | Unset = UNSET,
        metadata: dict[str, Any] | Unset = UNSET,
    ) -> SessionRecord:
        """Change the given fields (``ended_at`` is set on completed/failed). Raises NotFound."""

    @abstractmethod
    async def delete(self, session_id: str) -> None:
        """Delete the session with its artifacts and records. Raises NotFound."""

    @abstractmethod
    async def purge(self, before: datetime, statuses: Sequence[SessionStatus]) -> builtins.list[str]:
        """Delete sessions in ``statuses`` last updated before ``before``; returns their ids."""


class ArtifactRepository(ABC):
    """Artifact versions and the content-addressed blobs they point to."""

    @abstractmethod
    async def add(
        self,
        *,
        session_id: str,
        name: str,
        type: str,
        media_type: str,
        content_hash: str,
        size: int,
        metadata: dict[str, Any] | None = None,
        inline_data: bytes | None = None,
    ) -> ArtifactRecord:
        """Add the next version of ``name`` and, when new, its blob row (``inline_data``
        for content kept in the database). Raises NotFound for an unknown session."""

    @abstractmethod
    async def get(self, artifact_id: str) -> ArtifactRecord:
        """Raises NotFound."""

    @abstractmethod
    async def get_by_name(self, session_id: str, name: str, version: int | None = None) -> ArtifactRecord:
        """The given (default: latest) version of ``name``. Raises NotFound."""

    @abstractmethod
    async def list(self, session_id: str, *, name: str | None = None) -> builtins.list[ArtifactRecord]:
        """Every version of the session's artifacts, ordered by name then version."""

    @abstractmethod
    async def delete(self, session_id: str, id_or_name: str) -> int:
        """Delete one artifact version by id, or every version of a name; returns how many.
        Raises NotFound."""

    @abstractmethod
    async def blob(self, content_hash: str) -> BlobRecord | None:
        """The blob row, or None."""

    @abstractmethod
    async def blob_data(self, content_hash: str) -> bytes | None:
        """The inline content of a blob (None when it lives in the blob store or is absent)."""

    @abstractmethod
    async def orphan_blobs(self, limit: int = 1000) -> builtins.list[BlobRecord]:
        """Blobs no artifact refers to."""

    @abstractmethod
    async def delete_blobs(self, hashes: Sequence[str]) -> builtins.list[str]:
        """Delete those of ``hashes`` that are still unreferenced; returns them."""


class ReplayRepository(ABC):
    """What runs of a session did, in order, to re-execute them deterministically."""

    @abstractmethod
    async def append(
        self, session_id: str, run_id: str, records: Sequence[tuple[int, str, str, Any]]
    ) -> None:
        """Insert ``(seq, kind, key, data)`` records of a run in one transaction."""

    @abstractmethod
    async def list(self, session_id: str, run_id: str | None = None) -> builtins.list[ReplayRecord]:
        """Records of the session (or one run), in recording order."""


class DefinitionRepository(ABC):
    """Named JSON definitions (agents, workflows); saving a name again replaces it."""

    @abstractmethod
    async def put(self, name: str, definition: dict[str, Any], description: str = "") -> DefinitionRecord:
        """Insert ``name`` (version 1) or replace its definition (version + 1).

        Raises ValidationError for a name that is empty or over 200 characters.
        """

    @abstractmethod
    async def get(self, name: str) -> DefinitionRecord:
        """The definition called ``name``. Raises NotFound."""

    @abstractmethod
    async def list(
        self, limit: int = 100, cursor: str | None = None
    ) -> tuple[builtins.list[DefinitionRecord], str | None]:
        """Definitions ordered by name, and the cursor of the next page (None at the end)."""

    @abstractmethod
    async def delete(self, name: str) -> None:
        """Delete the definition called ``name``. Raises NotFound."""


class MaintenanceRepository(ABC):
    """Whole-table operations for retention, backup and restore."""

    @abstractmethod
    async def purge_runs(self, before: datetime) -> int:
        """Delete finished runs created before ``before`` (their events go with them)."""

    @abstractmethod
    async def purge_events(self, before: datetime) -> int:
        """Delete events older than ``before`` of finished runs; returns how many."""

    @abstractmethod
    async def export_rows(
        self, table: str, *, since: datetime | None = None, limit: int = 1000, cursor: str | None = None
    ) -> tuple[builtins.list[dict[str, Any]], str | None]:
        """Rows of a backed-up table (blobs without their data), changed since ``since``."""

    @abstractmethod
    async def import_rows(self, table: str, rows: Sequence[dict[str, Any]]) -> int:
        """Insert rows, overwriting rows with the same primary key; returns how many."""

    @abstractmethod
    async def wipe(self, tables: Sequence[str]) -> None:
        """Delete every row of ``tables`` in one transaction (children first)."""


class Store(ABC):
    """A database holding every repository; an async context manager.

    ``async with open_store(url) as store`` opens it; a closed store refuses use with a
    StorageError. Opening does not migrate: call :func:`llmspell.storage.migrate.upgrade`.
    """

    scripts: ScriptRepository
    runs: RunRepository
    events: EventRepository
    schedules: ScheduleRepository
    fires: FireRepository
    api_keys: ApiKeyRepository
    state: StateRepository
    sessions: SessionRepository
    artifacts: ArtifactRepository
    replay: ReplayRepository
    maintenance: MaintenanceRepository
    agent_definitions: DefinitionRepository
    workflow_definitions: DefinitionRepository

    @property
    @abstractmethod
    def url(self) -> str:
        """The database URL with any password masked."""

    @abstractmethod
    async def open(self) -> None:
        """Connect (idempotent). Raises StorageError when the database is unreachable."""

    @abstractmethod
    async def aclose(self) -> None:
        """Release every connection; the store cannot be reopened."""

    @abstractmethod
    async def ping(self) -> None:
        """Round-trip to the database. Raises StorageError when it fails."""

    @abstractmethod
    async def migration_status(self) -> tuple[str | None, str | None]:
        """``(current, head)`` migration revisions; ``current`` is None before any upgrade."""

    async def __aenter__(self) -> Store:
        await self.open()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

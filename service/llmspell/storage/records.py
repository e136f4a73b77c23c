"""The records the storage layer reads and writes: frozen, keyword-only dataclasses.

Every timestamp is a timezone-aware UTC ``datetime``; JSON columns hold plain JSON values.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final, Literal

__all__ = [
    "ACTIVE_RUN_STATUSES",
    "API_KEY_SCOPES",
    "DEFAULT_KEY_SCOPES",
    "FIRE_RESULTS",
    "OVERLAP_POLICIES",
    "RUN_STATUSES",
    "SESSION_STATUSES",
    "TERMINAL_RUN_STATUSES",
    "UNSET",
    "ApiKeyRecord",
    "ArtifactRecord",
    "BlobRecord",
    "DefinitionRecord",
    "FireRecord",
    "FireResult",
    "OverlapPolicy",
    "ReplayRecord",
    "RunEventRecord",
    "RunFinish",
    "RunRecord",
    "RunSpec",
    "RunStatus",
    "ScheduleRecord",
    "ScriptRecord",
    "SessionRecord",
    "SessionStatus",
    "StateRecord",
    "StateWrite",
    "Unset",
]

RunStatus = Literal["queued", "running", "succeeded", "failed", "cancelled", "timeout"]
OverlapPolicy = Literal["skip", "queue", "cancel_previous"]
FireResult = Literal["created", "skipped", "missed", "cancelled_previous", "breaker_open"]
SessionStatus = Literal["active", "suspended", "completed", "failed"]

RUN_STATUSES: Final[tuple[RunStatus, ...]] = (
    "queued",
    "running",
    "succeeded",
    "failed",
    "cancelled",
    "timeout",
)
ACTIVE_RUN_STATUSES: Final[tuple[RunStatus, ...]] = ("queued", "running")
TERMINAL_RUN_STATUSES: Final[tuple[RunStatus, ...]] = ("succeeded", "failed", "cancelled", "timeout")
OVERLAP_POLICIES: Final[tuple[OverlapPolicy, ...]] = ("skip", "queue", "cancel_previous")
FIRE_RESULTS: Final[tuple[FireResult, ...]] = (
    "created",
    "skipped",
    "missed",
    "cancelled_previous",
    "breaker_open",
)
API_KEY_SCOPES: Final[tuple[str, ...]] = (
    "runs:read",
    "runs:write",
    "scripts:read",
    "scripts:write",
    "schedules:read",
    "schedules:write",
    "tools:read",
    "tools:invoke",
    "state:read",
    "state:write",
    "sessions:read",
    "sessions:write",
    "agents:read",
    "agents:write",
    "events:read",
    "events:write",
    "admin",
)
SESSION_STATUSES: Final[tuple[SessionStatus, ...]] = ("active", "suspended", "completed", "failed")
DEFAULT_KEY_SCOPES: Final[tuple[str, ...]] = tuple(s for s in API_KEY_SCOPES if s != "admin")


class Unset:
    """Type of :data:`UNSET`: "leave this field as it is" where ``None`` is a real value."""

    _instance: Unset | None = None

    def __new__(cls) -> Unset:
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "UNSET"

    def __bool__(self) -> bool:
        return False


UNSET: Final = Unset()


@dataclass(frozen=True, kw_only=True, slots=True)
class DefinitionRecord:
    """A stored agent or workflow definition (JSON); ``version`` counts its saves from 1."""

    name: str
    definition: dict[str, Any]
    description: str
    version: int
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True, kw_only=True, slots=True)
class ScriptRecord:
    """One version of a stored script; versions count from 1 per name."""

    id: str
    name: str
    version: int
    engine: str
    code: str
    description: str
    created_at: datetime


@dataclass(frozen=True, kw_only=True, slots=True)
class RunSpec:
    """What a new run executes: the input of :meth:`RunRepository.create`.

    ``code`` and ``engine`` are the exact source to run (resolved from a stored script by the
    caller when ``script_name`` is set), so a run never changes when the script is updated.
    ``max_attempts`` is the retry policy for lost leases (1 = never re-run).
    """

    code: str
    engine: str = "lua"
    args: Any = None
    script_name: str | None = None
    script_version: int | None = None
    session_id: str | None = None
    schedule_id: str | None = None
    fire_time: datetime | None = None
    timeout_s: float | None = None
    metadata: dict[str, Any] | None = None
    webhook: str | None = None
    idempotency_key: str | None = None
    max_attempts: int = 1


@dataclass(frozen=True, kw_only=True, slots=True)
class RunRecord:
    """A run as stored: its input, its state in the queue and, once finished, its outcome."""

    id: str
    status: RunStatus
    script_name: str | None
    script_version: int | None
    engine: str
    code: str
    args: Any
    session_id: str | None
    schedule_id: str | None
    fire_time: datetime | None
    timeout_s: float | None
    metadata: dict[str, Any]
    webhook: str | None
    idempotency_key: str | None
    result: Any
    stdout: str | None
    error: dict[str, Any] | None
    usage: dict[str, Any] | None
    duration_ms: float | None
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    worker_id: str | None
    lease_expires_at: datetime | None
    attempts: int
    max_attempts: int
    cancel_requested: bool

    @property
    def finished(self) -> bool:
        """True once the run reached a terminal status."""
        return self.status in TERMINAL_RUN_STATUSES


@dataclass(frozen=True, kw_only=True, slots=True)
class RunFinish:
    """The outcome of a run, for :meth:`RunRepository.finish_many`."""

    run_id: str
    worker_id: str
    status: RunStatus
    result: Any = None
    stdout: str | None = None
    error: dict[str, Any] | None = None
    usage: dict[str, Any] | None = None
    duration_ms: float | None = None
    events: tuple[tuple[int, str, Any], ...] = ()


@dataclass(frozen=True, kw_only=True, slots=True)
class RunEventRecord:
    """One event of a run; ``seq`` is assigned by the run's owner and increases from 1."""

    run_id: str
    seq: int
    type: str
    data: Any
    created_at: datetime


@dataclass(frozen=True, kw_only=True, slots=True)
class ScheduleRecord:
    """A cron or interval schedule of a stored script.

    ``revision`` grows by one on every change made through ``update``, so a replica that
    remembers the revisions it loaded can tell what changed.
    """

    id: str
    name: str
    script_name: str
    args: Any
    cron: str | None
    interval_s: float | None
    timezone: str
    overlap: OverlapPolicy
    catchup_window_s: float
    enabled: bool
    created_at: datetime
    updated_at: datetime
    revision: int
    last_fire_time: datetime | None


@dataclass(frozen=True, kw_only=True, slots=True)
class FireRecord:
    """One decided fire of a schedule; unique per ``(schedule_id, fire_time)``."""

    id: str
    schedule_id: str
    fire_time: datetime
    run_id: str | None
    result: FireResult
    created_at: datetime


@dataclass(frozen=True, kw_only=True, slots=True)
class ApiKeyRecord:
    """An API key without its secret: only ``prefix`` and the SHA-256 of the key are kept."""

    id: str
    name: str
    prefix: str
    scopes: tuple[str, ...]
    created_at: datetime
    revoked_at: datetime | None
    last_used_at: datetime | None

    @property
    def active(self) -> bool:
        """True until the key is revoked."""
        return self.revoked_at is None

    def allows(self, scope: str) -> bool:
        """True when the key holds ``scope`` or ``admin``."""
        return scope in self.scopes or "admin" in self.scopes


@dataclass(frozen=True, kw_only=True, slots=True)
class StateRecord:
    """One state entry: a JSON ``value`` under ``(scope, key)``.

    ``version`` grows by one on every write (optimistic concurrency); ``schema_version`` is
    the format of ``value`` (upgraded by registered migrations); ``size`` is the length of
    its JSON encoding in bytes; an entry past ``expires_at`` is treated as absent.
    """

    scope: str
    key: str
    value: Any
    version: int
    schema_version: int
    size: int
    expires_at: datetime | None
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True, kw_only=True, slots=True)
class StateWrite:
    """One write of :meth:`StateRepository.put_many`.

    ``expected_version``: None writes unconditionally, 0 requires the key to be absent,
    ``n`` requires the stored version to be ``n``. ``delete`` removes the key instead.
    """

    scope: str
    key: str
    value: Any = None
    size: int = 0
    expected_version: int | None = None
    schema_version: int = 1
    expires_at: datetime | None = None
    delete: bool = False


@dataclass(frozen=True, kw_only=True, slots=True)
class SessionRecord:
    """A session: a named context grouping runs, their state and their artifacts."""

    id: str
    name: str
    description: str
    status: SessionStatus
    tags: tuple[str, ...]
    metadata: dict[str, Any]
    created_at: datetime
    updated_at: datetime
    ended_at: datetime | None


@dataclass(frozen=True, kw_only=True, slots=True)
class BlobRecord:
    """Content stored once per SHA-256: inline in the database or as a file of the blob store."""

    hash: str
    size: int
    inline: bool
    created_at: datetime


@dataclass(frozen=True, kw_only=True, slots=True)
class ArtifactRecord:
    """One version of a named artifact of a session; ``content_hash`` names its blob."""

    id: str
    session_id: str
    name: str
    version: int
    type: str
    media_type: str
    content_hash: str
    size: int
    metadata: dict[str, Any]
    created_at: datetime


@dataclass(frozen=True, kw_only=True, slots=True)
class ReplayRecord:
    """One recorded step of a run in a session (``kind``: ``run``, ``llm``, ``tool``, ``outcome``)."""

    session_id: str
    run_id: str
    seq: int
    kind: str
    key: str
    data: Any
    created_at: datetime

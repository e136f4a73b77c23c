"""The schema: SQLAlchemy Core tables, identical on SQLite and PostgreSQL.

Migration ``0001`` creates exactly these tables; a test compares the two.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    DateTime,
    Dialect,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    TypeDecorator,
    UniqueConstraint,
)

__all__ = [
    "JSONValue",
    "UTCDateTime",
    "agent_definitions",
    "api_keys",
    "artifacts",
    "blobs",
    "metadata",
    "replay_records",
    "run_events",
    "runs",
    "schedule_fires",
    "schedules",
    "scripts",
    "sessions",
    "state_entries",
    "workflow_definitions",
]

metadata = MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_N_name)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)


class UTCDateTime(TypeDecorator[datetime]):
    """Aware UTC datetimes on both dialects (SQLite stores them naive, in UTC)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to the store; pass an aware UTC datetime")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


# ``none_as_null``: Python None is SQL NULL, not the JSON literal ``null``.
JSONValue: Any = JSON(none_as_null=True)

scripts = Table(
    "scripts",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("name", String(200), nullable=False),
    Column("version", Integer, nullable=False),
    Column("engine", String(32), nullable=False),
    Column("code", Text, nullable=False),
    Column("description", Text, nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    UniqueConstraint("name", "version"),
)

runs = Table(
    "runs",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("status", String(16), nullable=False),
    Column("script_name", String(200)),
    Column("script_version", Integer),
    Column("engine", String(32), nullable=False),
    Column("code", Text, nullable=False),
    Column("args", JSONValue),
    Column("session_id", String(64)),
    Column("schedule_id", String(32)),
    Column("fire_time", UTCDateTime),
    Column("timeout_s", Float),
    Column("metadata", JSONValue),
    Column("webhook", Text),
    Column("idempotency_key", String(255), unique=True),
    Column("result", JSONValue),
    Column("stdout", Text),
    Column("error", JSONValue),
    Column("usage", JSONValue),
    Column("duration_ms", Float),
    Column("created_at", UTCDateTime, nullable=False),
    Column("started_at", UTCDateTime),
    Column("finished_at", UTCDateTime),
    Column("worker_id", String(128)),
    Column("lease_expires_at", UTCDateTime),
    Column("attempts", Integer, nullable=False),
    Column("max_attempts", Integer, nullable=False),
    Column("cancel_requested", Boolean, nullable=False),
    Index("ix_runs_status_created_at", "status", "created_at"),
    Index("ix_runs_created_at", "created_at"),
)


run_events = Table(
    "run_events",
    metadata,
    Column("run_id", String(32), ForeignKey("runs.id", ondelete="CASCADE"), primary_key=True),
    Column("seq", Integer, primary_key=True),
    Column("type", String(64), nullable=False),
    Column("data", JSONValue),
    Column("created_at", UTCDateTime, nullable=False),
)

schedules = Table(
    "schedules",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("name", String(200), nullable=False, unique=True),
    Column("script_name", String(200), nullable=False),
    Column("args", JSONValue),
    Column("cron", String(200)),
    Column("interval_s", Float),
    Column("timezone", String(64), nullable=False),
    Column("overlap", String(16), nullable=False),
    Column("catchup_window_s", Float, nullable=False),
    Column("enabled", Boolean, nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
    Column("revision", Integer, nullable=False),
    Column("last_fire_time", UTCDateTime),
)

schedule_fires = Table(
    "schedule_fires",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("schedule_id", String(32), ForeignKey("schedules.id", ondelete="CASCADE"), nullable=False),
    Column("fire_time", UTCDateTime, nullable=False),
    Column("run_id", String(32), ForeignKey("runs.id", ondelete="SET NULL")),
    Column("result", String(32), nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    UniqueConstraint("schedule_id", "fire_time"),
)

api_keys = Table(
    "api_keys",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("name", String(200), nullable=False),
    Column("prefix", String(16), nullable=False, index=True),
    Column("key_hash", String(64), nullable=False),
    Column("scopes", JSONValue, nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("revoked_at", UTCDateTime),
    Column("last_used_at", UTCDateTime),
)

# Migration 0002: state, sessions, artifacts and their blobs, replay records.

state_entries = Table(
    "state_entries",
    metadata,
    Column("scope", String(255), primary_key=True),
    Column("key", String(512), primary_key=True),
    Column("value", JSONValue),
    Column("version", Integer, nullable=False),
    Column("schema_version", Integer, nullable=False),
    Column("size", Integer, nullable=False),
    Column("expires_at", UTCDateTime),
    Column("created_at", UTCDateTime, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
    Index("ix_state_entries_expires_at", "expires_at"),
    Index("ix_state_entries_updated_at", "updated_at"),
)

sessions = Table(
    "sessions",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("name", String(200), nullable=False),
    Column("description", Text, nullable=False),
    Column("status", String(16), nullable=False),
    Column("tags", JSONValue, nullable=False),
    Column("metadata", JSONValue, nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
    Column("ended_at", UTCDateTime),
    Index("ix_sessions_status_created_at", "status", "created_at"),
    Index("ix_sessions_created_at", "created_at"),
)

blobs = Table(
    "blobs",
    metadata,
    Column("hash", String(64), primary_key=True),
    Column("size", BigInteger, nullable=False),
    Column("inline", Boolean, nullable=False),
    Column("data", LargeBinary),
    Column("created_at", UTCDateTime, nullable=False),
)

artifacts = Table(
    "artifacts",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("session_id", String(64), ForeignKey("sessions.id", ondelete="CASCADE"), nullable=False),
    Column("name", String(255), nullable=False),
    Column("version", Integer, nullable=False),
    Column("type", String(64), nullable=False),
    Column("media_type", String(255), nullable=False),
    Column("content_hash", String(64), ForeignKey("blobs.hash"), nullable=False, index=True),
    Column("size", BigInteger, nullable=False),
    Column("metadata", JSONValue, nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    UniqueConstraint("session_id", "name", "version"),
    Index("ix_artifacts_created_at", "created_at"),
)

replay_records = Table(
    "replay_records",
    metadata,
    Column("run_id", String(32), primary_key=True),
    Column("seq", Integer, primary_key=True),
    Column("session_id", String(64), ForeignKey("sessions.id", ondelete="CASCADE"), nullable=False),
    Column("kind", String(16), nullable=False),
    Column("key", String(128), nullable=False),
    Column("data", JSONValue),
    Column("created_at", UTCDateTime, nullable=False),
    Index("ix_replay_records_session_id_created_at", "session_id", "created_at"),
)

# Migration 0003: agent and workflow definitions stored by the daemon.


def _definitions(name: str) -> Table:
    return Table(
        name,
        metadata,
        Column("name", String(200), primary_key=True),
        Column("definition", JSONValue, nullable=False),
        Column("description", Text, nullable=False),
        Column("version", Integer, nullable=False),
        Column("created_at", UTCDateTime, nullable=False),
        Column("updated_at", UTCDateTime, nullable=False),
    )


agent_definitions = _definitions("agent_definitions")
workflow_definitions = _definitions("workflow_definitions")


def _partial_index(
    table: Table, name: str, columns: tuple[str, ...], where: Any, *, unique: bool = False
) -> None:
    Index(name, *(table.c[c] for c in columns), unique=unique, sqlite_where=where, postgresql_where=where)


_partial_declared = False


def schema_metadata() -> MetaData:
    """The schema as the migrations make it, partial indexes included (what alembic compares).

    The partial indexes are declared on the first call, not at import: their ``*_where``
    options make SQLAlchemy import both dialects, and a daemon on SQLite would pay for the
    PostgreSQL dialect (~50 ms of its start) to declare indexes only migrations read.
    """
    global _partial_declared
    if not _partial_declared:
        _partial_declared = True
        # Runs: only rows with the column set (migration 0004). Most runs have no script
        # name, no schedule and, once finished, no lease, and their insert skips the index.
        # Queries compare that column with a value, which implies IS NOT NULL on both backends.
        for name, columns, present in (
            ("ix_runs_script_name_created_at", ("script_name", "created_at"), "script_name"),
            ("ix_runs_schedule_id_created_at", ("schedule_id", "created_at"), "schedule_id"),
            ("ix_runs_status_lease_expires_at", ("status", "lease_expires_at"), "lease_expires_at"),
        ):
            _partial_index(runs, name, columns, runs.c[present].is_not(None))
        # At most one active key per name; revoked keys keep theirs for the audit trail.
        _partial_index(
            api_keys, "uq_api_keys_active_name", ("name",), api_keys.c.revoked_at.is_(None), unique=True
        )
    return metadata

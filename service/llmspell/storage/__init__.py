"""Persistence for the daemon: scripts, runs and their events, schedules, fires, API keys.

``async with open_store(url) as store`` gives a :class:`Store` on SQLite (the embedded
default) or PostgreSQL (many replicas); :mod:`llmspell.storage.migrate` creates and
upgrades the schema. Importing this package does not import SQLAlchemy.
"""

from __future__ import annotations

from ._url import backend_name, mask_url, normalize_url, open_store
from .abc import (
    ApiKeyRepository,
    EventRepository,
    FireRepository,
    RunRepository,
    ScheduleRepository,
    ScriptRepository,
    Store,
)
from .records import (
    ACTIVE_RUN_STATUSES,
    API_KEY_SCOPES,
    DEFAULT_KEY_SCOPES,
    FIRE_RESULTS,
    OVERLAP_POLICIES,
    RUN_STATUSES,
    TERMINAL_RUN_STATUSES,
    UNSET,
    ApiKeyRecord,
    FireRecord,
    FireResult,
    OverlapPolicy,
    RunEventRecord,
    RunRecord,
    RunSpec,
    RunStatus,
    ScheduleRecord,
    ScriptRecord,
    Unset,
)

__all__ = [
    "ACTIVE_RUN_STATUSES",
    "API_KEY_SCOPES",
    "DEFAULT_KEY_SCOPES",
    "FIRE_RESULTS",
    "OVERLAP_POLICIES",
    "RUN_STATUSES",
    "TERMINAL_RUN_STATUSES",
    "UNSET",
    "ApiKeyRecord",
    "ApiKeyRepository",
    "EventRepository",
    "FireRecord",
    "FireRepository",
    "FireResult",
    "OverlapPolicy",
    "RunEventRecord",
    "RunRecord",
    "RunRepository",
    "RunSpec",
    "RunStatus",
    "ScheduleRecord",
    "ScheduleRepository",
    "ScriptRecord",
    "ScriptRepository",
    "Store",
    "Unset",
    "backend_name",
    "mask_url",
    "normalize_url",
    "open_store",
]

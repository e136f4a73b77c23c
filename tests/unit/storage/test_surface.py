"""The public surface of ``llmspell.storage`` and its import cost."""

from __future__ import annotations

import subprocess
import sys

import llmspell.storage as storage
from llmspell.storage import UNSET, ApiKeyRecord, Unset

EXPECTED = {
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
    "ApiKeyRepository",
    "ArtifactRecord",
    "ArtifactRepository",
    "BlobRecord",
    "EventRepository",
    "FireRecord",
    "FireRepository",
    "FireResult",
    "MaintenanceRepository",
    "OverlapPolicy",
    "ReplayRecord",
    "ReplayRepository",
    "RunEventRecord",
    "RunRecord",
    "RunRepository",
    "RunSpec",
    "RunStatus",
    "ScheduleRecord",
    "ScheduleRepository",
    "ScriptRecord",
    "ScriptRepository",
    "SessionRecord",
    "SessionRepository",
    "SessionStatus",
    "StateRecord",
    "StateRepository",
    "StateWrite",
    "Store",
    "Unset",
    "backend_name",
    "mask_url",
    "normalize_url",
    "open_store",
}


def test_public_names() -> None:
    assert set(storage.__all__) == EXPECTED
    for name in EXPECTED:
        assert getattr(storage, name) is not None


def test_import_does_not_load_sqlalchemy_or_alembic() -> None:
    code = (
        "import sys, llmspell.storage, llmspell.storage.migrate;"
        "print(sorted(m for m in ('sqlalchemy', 'alembic', 'asyncpg', 'aiosqlite') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_unset_is_a_falsy_singleton() -> None:
    assert Unset() is UNSET and not UNSET and repr(UNSET) == "UNSET"


def test_api_key_scopes_and_admin() -> None:
    from datetime import UTC, datetime

    now = datetime.now(UTC)
    key = ApiKeyRecord(
        id="1",
        name="n",
        prefix="p",
        scopes=("runs:read",),
        created_at=now,
        revoked_at=None,
        last_used_at=None,
    )
    admin = ApiKeyRecord(
        id="2", name="a", prefix="q", scopes=("admin",), created_at=now, revoked_at=now, last_used_at=None
    )
    assert key.allows("runs:read") and not key.allows("runs:write") and key.active
    assert admin.allows("runs:write") and not admin.active

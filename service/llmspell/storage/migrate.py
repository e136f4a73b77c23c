"""Schema migrations, driven by alembic from code (no ``alembic.ini`` needed).

The scripts live in ``llmspell/storage/migrations`` (``migrations/`` at the repository
root links there). Every function is async and opens its own short-lived engine; on
PostgreSQL concurrent upgrades from several replicas are serialised by an advisory lock.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

from ..core.errors import StorageError
from ._url import load_dialect, normalize_url

if TYPE_CHECKING:
    from alembic.config import Config
    from sqlalchemy import Connection

__all__ = [
    "MIGRATIONS_DIR",
    "current",
    "current_revision",
    "downgrade",
    "head_revision",
    "is_current",
    "upgrade",
]

MIGRATIONS_DIR = Path(__file__).with_name("migrations")
_T = TypeVar("_T")


def _config() -> Config:
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    return config


_REVISION = re.compile(r"^revision\s*=\s*[\"']([^\"']+)[\"']", re.MULTILINE)
_DOWN_REVISION = re.compile(r"^down_revision\s*=\s*(?:None|[\"']([^\"']+)[\"'])", re.MULTILINE)


@lru_cache(maxsize=1)
def head_revision() -> str | None:
    """The newest revision shipped with this version of llmspell.

    Read from the scripts' ``revision``/``down_revision`` lines: importing alembic costs
    more than the daemon's whole start-up budget allows when nothing needs migrating.
    """
    revisions: set[str] = set()
    parents: set[str] = set()
    for path in (MIGRATIONS_DIR / "versions").glob("*.py"):
        text = path.read_text(encoding="utf-8")
        revision, parent = _REVISION.search(text), _DOWN_REVISION.search(text)
        if revision is None or parent is None:
            continue
        revisions.add(revision.group(1))
        if parent.group(1):
            parents.add(parent.group(1))
    heads = revisions - parents
    if len(heads) == 1:
        return heads.pop()
    from alembic.script import ScriptDirectory  # not a simple chain: let alembic decide

    return ScriptDirectory.from_config(_config()).get_current_head()


def current_revision(connection: Connection) -> str | None:
    """The revision a database is at (None when never migrated), on a sync connection."""
    from sqlalchemy import inspect, text

    if not inspect(connection).has_table("alembic_version"):
        return None
    versions = connection.execute(text("SELECT version_num FROM alembic_version")).scalars().all()
    if len(versions) > 1:
        raise StorageError(
            f"the database has several schema heads ({', '.join(versions)}); run llmspell db upgrade"
        )
    return versions[0] if versions else None


async def _run(url: str, action: Callable[[Connection], _T]) -> _T:
    from .sql._db import Database

    normalized = normalize_url(url)
    db = Database(normalized, load_dialect(normalized))
    await db.open()
    try:
        async with db.write() as conn:
            return await conn.run_sync(action)
    finally:
        await db.aclose()


def _command(name: str, revision: str, url: str) -> Callable[[Connection], str | None]:
    def action(connection: Connection) -> str | None:
        from alembic import command

        load_dialect(url).lock_for_migration(connection)
        config = _config()
        config.attributes["connection"] = connection
        getattr(command, name)(config, revision)
        return current_revision(connection)

    return action


async def upgrade(url: str, revision: str = "head") -> str | None:
    """Migrate the database at ``url`` up to ``revision``; returns the revision reached.

    Raises StorageError when the database is unreachable, ConfigError for a bad URL.
    """
    migrate = _command("upgrade", revision, normalize_url(url))
    if revision != "head":
        return await _run(url, migrate)
    head = head_revision()

    def upgrade_unless_current(connection: Connection) -> str | None:
        # The common start-up case (already at head) then needs no alembic at all.
        at = current_revision(connection)
        return at if at == head else migrate(connection)

    return await _run(url, upgrade_unless_current)


async def downgrade(url: str, revision: str) -> str | None:
    """Migrate down to ``revision`` (``base`` removes every table); returns the revision reached."""
    return await _run(url, _command("downgrade", revision, normalize_url(url)))


async def current(url: str) -> str | None:
    """The revision the database at ``url`` is at, None before the first upgrade."""
    return await _run(url, current_revision)


async def is_current(url: str) -> bool:
    """True when the database is at the newest revision this llmspell ships."""
    return await current(url) == head_revision()

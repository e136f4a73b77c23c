"""Schema migrations, driven by alembic from code (no ``alembic.ini`` needed).

The scripts live in ``llmspell/storage/migrations`` (``migrations/`` at the repository
root links there). Every function is async and opens its own short-lived engine; on
PostgreSQL concurrent upgrades from several replicas are serialised by an advisory lock.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

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


@lru_cache(maxsize=1)
def head_revision() -> str | None:
    """The newest revision shipped with this version of llmspell."""
    from alembic.script import ScriptDirectory

    return ScriptDirectory.from_config(_config()).get_current_head()


def current_revision(connection: Connection) -> str | None:
    """The revision a database is at (None when never migrated), on a sync connection."""
    from alembic.runtime.migration import MigrationContext

    return MigrationContext.configure(connection).get_current_revision()


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
    return await _run(url, _command("upgrade", revision, normalize_url(url)))


async def downgrade(url: str, revision: str) -> str | None:
    """Migrate down to ``revision`` (``base`` removes every table); returns the revision reached."""
    return await _run(url, _command("downgrade", revision, normalize_url(url)))


async def current(url: str) -> str | None:
    """The revision the database at ``url`` is at, None before the first upgrade."""
    return await _run(url, current_revision)


async def is_current(url: str) -> bool:
    """True when the database is at the newest revision this llmspell ships."""
    return await current(url) == head_revision()

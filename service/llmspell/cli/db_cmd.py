"""``llmspell db upgrade|current|downgrade``: schema migrations of the daemon's database."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
from typing import Annotated, Any, TypeVar

import typer

from ..core.errors import LLMSpellError
from ._common import fail

__all__ = ["DatabaseUrlOption", "register", "resolve_database_url", "run_storage"]

_T = TypeVar("_T")

DatabaseUrlOption = Annotated[
    str | None,
    typer.Option(
        "--database-url",
        help="database URL (default: LLMSPELL_DATABASE_URL, else SQLite under the data dir)",
        show_default=False,
    ),
]


def resolve_database_url(database_url: str | None) -> str:
    """``--database-url``, else the configured URL (the SQLite default under the data dir)."""
    if database_url:
        return database_url
    from ..core.config import get_settings

    settings = get_settings()
    if not settings.database_url:
        settings.resolved_data_dir().mkdir(parents=True, exist_ok=True)
    return settings.resolved_database_url()


def run_storage(database_url: str | None, work: Callable[[str], Coroutine[Any, Any, _T]]) -> tuple[str, _T]:
    """Resolve the URL and run ``work(url)``; an llmspell error becomes one line and an exit code."""
    try:
        url = resolve_database_url(database_url)
        return url, asyncio.run(work(url))
    except LLMSpellError as error:
        fail(error)


def _describe(revision: str | None) -> str:
    return revision or "none (empty database)"


def register(app: typer.Typer) -> None:
    """Add the ``db`` command group to ``app``."""
    db = typer.Typer(name="db", help="Manage the database schema (alembic migrations).", no_args_is_help=True)

    @db.command("upgrade")
    def upgrade(
        revision: Annotated[str, typer.Argument(help="target revision")] = "head",
        database_url: DatabaseUrlOption = None,
    ) -> None:
        """Create or upgrade the schema (the daemon also does this on start)."""
        from ..storage import mask_url, migrate

        url, reached = run_storage(database_url, lambda url: migrate.upgrade(url, revision))
        typer.echo(f"{mask_url(url)} is at revision {_describe(reached)}")

    @db.command("current")
    def current(database_url: DatabaseUrlOption = None) -> None:
        """Show the schema revision of the database and the newest one available."""
        from ..storage import mask_url, migrate

        url, revision = run_storage(database_url, lambda url: migrate.current(url))
        head = migrate.head_revision()
        state = "up to date" if revision == head else "needs 'llmspell db upgrade'"
        typer.echo(f"{mask_url(url)}: revision {_describe(revision)}, head {head} ({state})")

    @db.command("downgrade")
    def downgrade(
        revision: Annotated[str, typer.Argument(help="target revision ('base' drops every table)")],
        database_url: DatabaseUrlOption = None,
    ) -> None:
        """Migrate the schema down to REVISION."""
        from ..storage import mask_url, migrate

        url, reached = run_storage(database_url, lambda url: migrate.downgrade(url, revision))
        typer.echo(f"{mask_url(url)} is at revision {_describe(reached)}")

    app.add_typer(db, name="db")

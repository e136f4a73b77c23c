"""``llmspell state get|set|list|delete|migrate``: persistent state in the configured database."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Annotated, Any, TypeVar

import typer

from ..core.errors import StorageError, ValidationError
from ._common import fail
from ._options import JsonAlias, Output, output_format, print_fields
from .db_cmd import DatabaseUrlOption, run_storage

if TYPE_CHECKING:
    from ..sessions.manager import Persistence

__all__ = ["register", "with_persistence"]

_T = TypeVar("_T")


async def with_persistence(url: str, action: Callable[[Persistence], Awaitable[_T]]) -> _T:
    """Open the store at ``url`` (which must be migrated) and run ``action`` on its services."""
    from ..core.config import get_settings
    from ..sessions.manager import open_persistence
    from ..storage import open_store

    async with open_store(url) as store:
        current, head = await store.migration_status()
        if current != head:
            raise StorageError(
                f"the database at {store.url} is at revision {current or 'none'}, not {head}; "
                "run 'llmspell db upgrade' first"
            )
        persistence = open_persistence(store, get_settings(), cache=False)
        try:
            return await action(persistence)
        finally:
            await persistence.aclose()


def _echo_json(value: Any) -> None:
    typer.echo(json.dumps(value, indent=2, ensure_ascii=False, default=str))


def register(app: typer.Typer) -> None:
    """Add the ``state`` command group to ``app``."""
    state = typer.Typer(name="state", help="Read, write and migrate persistent state.", no_args_is_help=True)

    @state.command("get")
    def get(
        scope: Annotated[str, typer.Argument(help='"global" or "<kind>:<id>", e.g. user:42')],
        key: Annotated[str, typer.Argument()],
        # JSON by default: the output before the option existed, which scripts parse.
        output: Output = "json",
        database_url: DatabaseUrlOption = None,
    ) -> None:
        """Print an entry: value, version, schema version, expiry (JSON by default; -o text for a table)."""
        from ..state.manager import entry_view

        _, record = run_storage(
            database_url, lambda url: with_persistence(url, lambda p: p.state.get_entry(scope, key))
        )
        if record is None:
            fail(f"NOT_FOUND: no state key {key!r} in scope {scope!r}", 1)
        if output == "json":
            _echo_json(entry_view(record))
        else:
            print_fields(entry_view(record), title=f"{scope}/{key}")

    @state.command("set")
    def set_value(
        scope: Annotated[str, typer.Argument()],
        key: Annotated[str, typer.Argument()],
        value: Annotated[str, typer.Argument(help="a JSON value")],
        expected_version: Annotated[
            int | None, typer.Option(help="write only at this version (0: absent)")
        ] = None,
        ttl: Annotated[float | None, typer.Option(help="expire after this many seconds")] = None,
        database_url: DatabaseUrlOption = None,
    ) -> None:
        """Write a JSON value; prints the new version."""
        try:
            parsed = json.loads(value)
        except ValueError as exc:
            fail(ValidationError(f"VALUE must be JSON (quote strings: '\"text\"'): {exc}"))
        _, record = run_storage(
            database_url,
            lambda url: with_persistence(
                url, lambda p: p.state.set(scope, key, parsed, expected_version=expected_version, ttl_s=ttl)
            ),
        )
        typer.echo(f"{scope}/{key} is at version {record.version}")

    @state.command("list")
    def list_keys(
        scope: Annotated[str, typer.Argument()],
        prefix: Annotated[str | None, typer.Option(help="only keys starting with this")] = None,
        database_url: DatabaseUrlOption = None,
    ) -> None:
        """List the keys of a scope."""
        _, keys = run_storage(
            database_url, lambda url: with_persistence(url, lambda p: p.state.list_keys(scope, prefix))
        )
        for key in keys:
            typer.echo(key)

    @state.command("delete")
    def delete(
        scope: Annotated[str, typer.Argument()],
        key: Annotated[str, typer.Argument()],
        database_url: DatabaseUrlOption = None,
    ) -> None:
        """Delete a key."""
        _, deleted = run_storage(
            database_url, lambda url: with_persistence(url, lambda p: p.state.delete(scope, key))
        )
        if not deleted:
            fail(f"NOT_FOUND: no state key {key!r} in scope {scope!r}", 1)
        typer.echo(f"deleted {scope}/{key}")

    @state.command("migrate")
    def migrate(
        dry_run: Annotated[
            bool, typer.Option("--dry-run", help="report what would change, write nothing")
        ] = False,
        output: Output = "text",
        as_json: JsonAlias = False,
        database_url: DatabaseUrlOption = None,
    ) -> None:
        """Upgrade every stored value to the newest schema version of its key."""
        from ..state.migrations import migrate_store

        _, report = run_storage(
            database_url,
            lambda url: with_persistence(
                url, lambda p: migrate_store(p.store, p.state.migrations, dry_run=dry_run)
            ),
        )
        if output_format(output, as_json) == "json":
            _echo_json(report.to_dict())
        else:
            verb = "would upgrade" if dry_run else "upgraded"
            typer.echo(
                f"scanned {report.scanned} values, {verb} {report.upgraded}, "
                f"{report.conflicts} changed meanwhile, {len(report.failed)} failed"
            )
            for failure in report.failed:
                typer.echo(f"  {failure['scope']}/{failure['key']}: {failure['error']}", err=True)
        if report.failed:
            raise typer.Exit(1)

    app.add_typer(state, name="state")

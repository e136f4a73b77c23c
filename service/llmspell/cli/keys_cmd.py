"""``llmspell keys create|list|revoke``: API keys of the daemon (stored hashed)."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Annotated, TypeVar

import typer

from ..core.errors import StorageError
from ._options import JsonAlias, Output, output_format
from .db_cmd import DatabaseUrlOption, run_storage

if TYPE_CHECKING:
    from ..storage import ApiKeyRecord, ApiKeyRepository

__all__ = ["register"]

_T = TypeVar("_T")


async def _with_keys(url: str, action: Callable[[ApiKeyRepository], Awaitable[_T]]) -> _T:
    from ..storage import open_store

    async with open_store(url) as store:
        current, head = await store.migration_status()
        if current != head:
            raise StorageError(
                f"the database at {store.url} is at revision {current or 'none'}, not {head}; "
                "run 'llmspell db upgrade' first"
            )
        return await action(store.api_keys)


def _key_json(record: ApiKeyRecord) -> dict[str, object]:
    return {
        "id": record.id,
        "name": record.name,
        "prefix": record.prefix,
        "scopes": list(record.scopes),
        "created_at": record.created_at.isoformat(),
        "revoked_at": record.revoked_at.isoformat() if record.revoked_at else None,
        "last_used_at": record.last_used_at.isoformat() if record.last_used_at else None,
    }


def _when(value: object) -> str:
    return value.strftime("%Y-%m-%d %H:%M") if hasattr(value, "strftime") else "-"


def register(app: typer.Typer) -> None:
    """Add the ``keys`` command group to ``app``."""
    keys = typer.Typer(name="keys", help="Manage the daemon's API keys.", no_args_is_help=True)

    @keys.command("create")
    def create(
        name: Annotated[str, typer.Argument(help="a name to recognise the key by")],
        scope: Annotated[
            list[str] | None,
            typer.Option(
                "--scope",
                "-s",
                help="runs:read, runs:write, scripts:write, schedules:write, tools:invoke or admin "
                "(repeatable; default: all but admin)",
            ),
        ] = None,
        output: Output = "text",
        as_json: JsonAlias = False,
        database_url: DatabaseUrlOption = None,
    ) -> None:
        """Create a key and print it once (only its hash is stored)."""
        from ..storage import DEFAULT_KEY_SCOPES

        _, (record, raw_key) = run_storage(
            database_url,
            lambda url: _with_keys(url, lambda repo: repo.create(name, list(scope or DEFAULT_KEY_SCOPES))),
        )
        if output_format(output, as_json) == "json":
            typer.echo(json.dumps({**_key_json(record), "key": raw_key}))
            return
        typer.echo(f"Created API key {record.name!r} (id {record.id}, scopes {', '.join(record.scopes)}).")
        typer.echo("Store it now; it cannot be shown again:")
        typer.echo(raw_key)

    @keys.command("list")
    def list_keys(
        output: Output = "text",
        as_json: JsonAlias = False,
        database_url: DatabaseUrlOption = None,
    ) -> None:
        """List every key (revoked ones too); secrets are never shown."""
        _, records = run_storage(database_url, lambda url: _with_keys(url, lambda repo: repo.list()))
        if output_format(output, as_json) == "json":
            typer.echo(json.dumps([_key_json(record) for record in records]))
            return
        from rich.console import Console
        from rich.table import Table

        table = Table("id", "name", "prefix", "scopes", "created", "last used", "status")
        for record in records:
            table.add_row(
                record.id,
                record.name,
                record.prefix,
                ", ".join(record.scopes),
                _when(record.created_at),
                _when(record.last_used_at),
                "active" if record.active else f"revoked {_when(record.revoked_at)}",
            )
        Console(highlight=False, markup=False).print(table)

    @keys.command("revoke")
    def revoke(
        id_or_name: Annotated[str, typer.Argument(metavar="ID_OR_NAME", help="the key's id or name")],
        database_url: DatabaseUrlOption = None,
    ) -> None:
        """Revoke a key; requests using it are refused from then on."""
        _, record = run_storage(
            database_url, lambda url: _with_keys(url, lambda repo: repo.revoke(id_or_name))
        )
        typer.echo(f"Revoked API key {record.name!r} (id {record.id}).")

    app.add_typer(keys, name="keys")

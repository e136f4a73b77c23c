"""``llmspell gc``: one retention pass over the configured database."""

from __future__ import annotations

import json
from typing import Annotated, Any

import typer

from ._options import JsonAlias, Output, output_format
from .db_cmd import DatabaseUrlOption, run_storage
from .state_cmd import with_persistence

__all__ = ["register"]


def register(app: typer.Typer) -> None:
    """Add the ``gc`` command to ``app``."""

    @app.command("gc")
    def gc(
        runs_days: Annotated[float | None, typer.Option(help="delete finished runs older than this")] = None,
        sessions_days: Annotated[
            float | None, typer.Option(help="delete ended sessions older than this")
        ] = None,
        output: Output = "text",
        as_json: JsonAlias = False,
        database_url: DatabaseUrlOption = None,
    ) -> None:
        """Prune old runs, events and ended sessions, expired state and unreferenced blobs
        (retention from the state.* settings; the daemon also does this on a schedule)."""
        from ..core.config import get_settings
        from ..sessions.retention import collect_garbage

        config = get_settings().state
        overrides: dict[str, Any] = {}
        if runs_days is not None:
            overrides["runs_retention_days"] = runs_days
        if sessions_days is not None:
            overrides["sessions_retention_days"] = sessions_days
        config = config.model_copy(update=overrides)
        _, report = run_storage(
            database_url, lambda url: with_persistence(url, lambda p: collect_garbage(p, config))
        )
        if output_format(output, as_json) == "json":
            typer.echo(json.dumps(report))
        else:
            typer.echo("removed " + ", ".join(f"{n} {what}" for what, n in report.items()))

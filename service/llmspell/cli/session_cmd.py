"""``llmspell session list|show|complete|delete|export|replay``: sessions in the configured database."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any, get_args

import typer

from ..core.errors import ValidationError
from ._common import fail
from ._options import JsonAlias, Output, OutputFormat, output_format, print_fields
from .db_cmd import DatabaseUrlOption, run_storage
from .state_cmd import with_persistence

__all__ = ["register"]


def _echo_json(value: Any) -> None:
    typer.echo(json.dumps(value, indent=2, ensure_ascii=False, default=str))


def _view(record: Any) -> dict[str, Any]:
    from ..sessions.manager import session_view

    return session_view(record)


def register(app: typer.Typer) -> None:
    """Add the ``session`` command group to ``app``."""
    session = typer.Typer(
        name="session", help="Inspect, end, export and replay sessions.", no_args_is_help=True
    )

    @session.command("list")
    def list_sessions(
        status: Annotated[str | None, typer.Option(help="active, suspended, completed or failed")] = None,
        tag: Annotated[
            list[str] | None, typer.Option("--tag", help="sessions having this tag (repeatable)")
        ] = None,
        limit: Annotated[int, typer.Option(help="at most this many")] = 50,
        output: Output = "text",
        as_json: JsonAlias = False,
        database_url: DatabaseUrlOption = None,
    ) -> None:
        """List sessions, newest first."""
        _, (records, _cursor) = run_storage(
            database_url,
            lambda url: with_persistence(
                url, lambda p: p.sessions.list(status=status, tags=tag or [], limit=limit)
            ),
        )
        if output_format(output, as_json) == "json":
            _echo_json([_view(r) for r in records])
            return
        from rich.console import Console
        from rich.table import Table

        table = Table("id", "name", "status", "tags", "created")
        for r in records:
            table.add_row(r.id, r.name, r.status, ", ".join(r.tags), r.created_at.strftime("%Y-%m-%d %H:%M"))
        Console(highlight=False, markup=False).print(table)

    @session.command("show")
    def show(
        session_id: Annotated[str, typer.Argument(metavar="ID")],
        # JSON by default: the output before the option existed, which scripts parse.
        output: Output = "json",
        database_url: DatabaseUrlOption = None,
    ) -> None:
        """Print a session and its artifacts (JSON by default; -o text for tables)."""
        from ..sessions.artifacts import artifact_view

        async def fetch(p: Any) -> dict[str, Any]:
            view = _view(await p.sessions.get(session_id))
            view["artifacts"] = [artifact_view(a) for a in await p.artifacts.list(session_id)]
            return view

        _, view = run_storage(database_url, lambda url: with_persistence(url, fetch))
        if output == "json":
            _echo_json(view)
            return
        from rich.console import Console
        from rich.table import Table
        from rich.text import Text

        print_fields({k: v for k, v in view.items() if k != "artifacts"}, title=f"session {session_id}")
        if not view["artifacts"]:
            typer.echo("no artifacts")
            return
        columns = ["name", "version", "type", "media_type", "size", "created_at"]
        table = Table(*columns, title="artifacts")
        for artifact in view["artifacts"]:
            table.add_row(*[Text("" if artifact[c] is None else str(artifact[c])) for c in columns])
        Console(highlight=False, markup=False).print(table)

    @session.command("complete")
    def complete(
        session_id: Annotated[str, typer.Argument(metavar="ID")],
        failed: Annotated[bool, typer.Option("--failed", help="mark it failed instead")] = False,
        database_url: DatabaseUrlOption = None,
    ) -> None:
        """End a session (completed, or failed with --failed)."""
        action = "fail" if failed else "complete"
        _, record = run_storage(
            database_url, lambda url: with_persistence(url, lambda p: getattr(p.sessions, action)(session_id))
        )
        typer.echo(f"session {record.id} is {record.status}")

    @session.command("delete")
    def delete(
        session_id: Annotated[str, typer.Argument(metavar="ID")],
        database_url: DatabaseUrlOption = None,
    ) -> None:
        """Delete a session with its artifacts, state and replay records."""
        run_storage(database_url, lambda url: with_persistence(url, lambda p: p.sessions.delete(session_id)))
        typer.echo(f"deleted session {session_id}")

    @session.command("export")
    def export(
        session_id: Annotated[str, typer.Argument(metavar="ID")],
        output: Annotated[
            Path | None, typer.Option("--output", "-o", help="write to this file (default: stdout)")
        ] = None,
        database_url: DatabaseUrlOption = None,
    ) -> None:
        """Export a session, its state, artifacts (base64 up to 10 MB each) and replay records as JSON.

        Always JSON: this command takes no output format; -o/--output names the file to write.
        """
        # A script passing the format every other command takes would otherwise write a file "json".
        if output is not None and str(output) in get_args(OutputFormat):
            fail(
                ValidationError(
                    f"session export always prints JSON and --output names a file, not a format "
                    f"(got {str(output)!r}); leave it out to print to stdout, or name a file such as "
                    f"{session_id}.json"
                )
            )
        _, document = run_storage(
            database_url, lambda url: with_persistence(url, lambda p: p.sessions.export(session_id))
        )
        text = json.dumps(document, indent=2, ensure_ascii=False, default=str)
        if output is None:
            typer.echo(text)
        else:
            output.write_text(text + "\n", encoding="utf-8")
            typer.echo(f"exported session {session_id} to {output}")

    @session.command("replay")
    def replay(
        session_id: Annotated[str, typer.Argument(metavar="ID")],
        output: Output = "text",
        as_json: JsonAlias = False,
        database_url: DatabaseUrlOption = None,
    ) -> None:
        """Re-execute the session's recorded runs with their recorded LLM answers and tool
        results (no provider call); exit 1 when anything differs."""
        from ..core.config import get_settings
        from ..runtime.replay import replay_session

        # The store goes to the runs as the daemon hands it: a run that fetched a stored
        # agent (Agent.get, workflow steps) finds it again when replayed.
        _, report = run_storage(
            database_url,
            lambda url: with_persistence(
                url,
                lambda p: replay_session(
                    p.store,
                    session_id,
                    settings_loader=get_settings,
                    services={"persistence": p, "store": p.store},
                ),
            ),
        )
        if output_format(output, as_json) == "json":
            _echo_json(report.to_dict())
        else:
            for run in report.runs:
                verdict = (
                    "identical" if not run["differences"] else f"{len(run['differences'])} difference(s)"
                )
                typer.echo(f"run {run['run_id']}: {run['status']}, {run['calls']} recorded calls, {verdict}")
                for difference in run["differences"]:
                    typer.echo(f"  {json.dumps(difference, default=str)}")
        if not report.identical:
            raise typer.Exit(1)

    app.add_typer(session, name="session")

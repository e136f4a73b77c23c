"""Commands that talk to a running daemon: ``runs``, ``scripts``, ``schedules``."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import typer

from ..core.errors import LLMSpellError, NotFound, ValidationError
from ._common import fail
from ._options import Output, OutputFormat, print_fields
from .client import DaemonClient, seg

__all__ = ["register"]

ServerOpt = typer.Option(
    None, "--server", help="Daemon URL (env LLMSPELL_SERVER_URL; default http://127.0.0.1:8080)."
)
KeyOpt = typer.Option(None, "--api-key", help="API key (env LLMSPELL_SERVER_KEY).")

runs_app = typer.Typer(help="Runs on a daemon: list, get, cancel, logs.", no_args_is_help=True)
scripts_app = typer.Typer(help="Stored scripts on a daemon: push, list, get, delete.", no_args_is_help=True)
schedules_app = typer.Typer(
    help="Schedules on a daemon: create, list, pause, resume, trigger, delete.", no_args_is_help=True
)


def _emit(data: Any, output: OutputFormat, columns: list[str] | None = None, title: str = "") -> None:
    if output == "json":
        sys.stdout.write(json.dumps(data, indent=2, default=str) + "\n")
        return
    from rich.console import Console
    from rich.table import Table

    rows = data if isinstance(data, list) else [data]
    if columns is None:
        columns = list(rows[0]) if rows else []
    table = Table(title=title or None)
    for column in columns:
        if column == "id":
            # Ids are what the next command takes: print them whole, never cut to "01a23…".
            width = max([len(column), *(len(_cell(row.get(column))) for row in rows)])
            table.add_column(column, no_wrap=True, min_width=width)
        else:
            table.add_column(column)
    for row in rows:
        table.add_row(*[_cell(row.get(column)) for column in columns])
    Console(markup=False).print(table)


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, dict | list):
        return json.dumps(value, default=str)[:60]
    return str(value)


def _call(server: str | None, api_key: str | None, method: str, path: str, **kwargs: Any) -> Any:
    try:
        with DaemonClient(server, api_key) as client:
            return client.request(method, path, **kwargs)
    except LLMSpellError as exc:
        fail(exc)


def _call_every_page(server: str | None, api_key: str | None, path: str) -> list[Any]:
    """Every item of the list at ``path``, following ``next_cursor`` page after page."""
    items: list[Any] = []
    params: dict[str, Any] = {"limit": 1000}
    while True:
        page = _call(server, api_key, "GET", path, params=params)
        items += page["items"]
        if not page.get("next_cursor"):
            return items
        params["cursor"] = page["next_cursor"]


_RUN_COLUMNS = ["id", "status", "script", "duration_ms", "created_at"]


def _run_row(run: dict[str, Any]) -> dict[str, Any]:
    script = run.get("script") or {}
    duration = run.get("duration_ms")
    if isinstance(duration, int | float):
        duration = round(duration, 1)
    error = run.get("error")
    if isinstance(error, dict) and error.get("code"):
        error = f"{error['code']}: {error.get('message', '')}"
    return {**run, "script": script.get("name") or "(inline)", "duration_ms": duration, "error": error}


@runs_app.command("list")
def runs_list(
    status: str = typer.Option(None, help="Filter by status."),
    script: str = typer.Option(None, help="Filter by stored script name."),
    schedule: str = typer.Option(None, "--schedule", help="Filter by schedule id."),
    limit: int = typer.Option(20, help="How many (newest first)."),
    server: str = ServerOpt,
    api_key: str = KeyOpt,
    output: Output = "text",
) -> None:
    """List runs, newest first."""
    params = {
        k: v
        for k, v in {"status": status, "script": script, "schedule_id": schedule, "limit": limit}.items()
        if v is not None
    }
    page = _call(server, api_key, "GET", "/v1/runs", params=params)
    items = page["items"]
    _emit(items if output == "json" else [_run_row(r) for r in items], output, _RUN_COLUMNS, "runs")


@runs_app.command("get")
def runs_get(run_id: str, server: str = ServerOpt, api_key: str = KeyOpt, output: Output = "text") -> None:
    """Show one run."""
    run = _call(server, api_key, "GET", f"/v1/runs/{seg(run_id)}")
    if output == "json":
        _emit(run, output)
        return
    # One record: a field/value table, so the error and stdout are readable on any terminal.
    row = _run_row(run)
    if isinstance(row.get("stdout"), str):
        row["stdout"] = row["stdout"].rstrip("\n")
    print_fields(
        {field: row.get(field) for field in ["id", "status", "result", "error", "stdout", "duration_ms"]}
    )


@runs_app.command("cancel")
def runs_cancel(run_id: str, server: str = ServerOpt, api_key: str = KeyOpt, output: Output = "text") -> None:
    """Cancel a run (queued: never starts; running: stopped within a second)."""
    run = _call(server, api_key, "POST", f"/v1/runs/{seg(run_id)}/cancel")
    _emit(run, output, ["id", "status", "cancel_requested"] if output == "text" else None)


@runs_app.command("logs")
def runs_logs(
    run_id: str,
    follow: bool = typer.Option(False, "--follow", "-f", help="Keep following until the run ends."),
    after: int = typer.Option(0, help="Start after this event id."),
    server: str = ServerOpt,
    api_key: str = KeyOpt,
    output: Output = "text",
) -> None:
    """Print a run's output and events (``-f`` follows live).

    With ``-f`` the exit code is the run's: 0 succeeded, 1 failed, 124 timeout, 130 cancelled
    (and 130 when interrupted by Ctrl-C or SIGTERM).
    """
    final: str | None = None
    _sigterm_interrupts()
    try:
        with DaemonClient(server, api_key) as client:
            for event in client.events(run_id, after, follow=follow):
                if output == "json":
                    sys.stdout.write(json.dumps(event) + "\n")
                else:
                    _print_event(event)
                sys.stdout.flush()
                if event.get("event") == "end":
                    final = str((event.get("data") or {}).get("status"))
    except LLMSpellError as exc:
        fail(exc)
    except KeyboardInterrupt:
        raise SystemExit(130) from None
    if follow and final is not None:
        from .run_cmd import EXIT_CODES  # the exit codes of 'llmspell run'

        raise SystemExit(EXIT_CODES.get(final, 1))


def _sigterm_interrupts() -> None:
    """SIGTERM stops a follow like Ctrl-C does: exit 130, no traceback."""
    import signal

    def interrupt(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, interrupt)


def _print_event(event: dict[str, Any]) -> None:
    kind, data = event.get("event"), event.get("data") or {}
    if kind == "stdout":
        sys.stdout.write(data.get("text", ""))
    elif kind == "log":
        sys.stderr.write(f"[{data.get('level', 'info')}] {data.get('message', '')}\n")
    elif kind in ("tool", "agent"):
        sys.stderr.write(f"[{kind}] {data.get('name', '')} {data.get('status', '')}\n")
    elif kind == "workflow":
        step = f" {data['step']}" if data.get("step") else ""
        sys.stderr.write(f"[{data.get('type', 'workflow')}] {data.get('workflow', '')}{step}\n")
    elif kind == "error":
        sys.stderr.write(f"{data.get('code')}: {data.get('message')}\n")
    elif kind == "result" and data.get("result") is not None:
        value = data["result"]
        sys.stdout.write((value if isinstance(value, str) else json.dumps(value)) + "\n")
    elif kind == "end":
        sys.stderr.write(f"-- run ended: {data.get('status')}\n")


@scripts_app.command("push")
def scripts_push(
    file: Path = typer.Argument(..., exists=True, dir_okay=False, help="Script file."),
    name: str = typer.Option(None, help="Script name (default: the file name without extension)."),
    description: str = typer.Option("", help="Description."),
    engine: str = typer.Option("lua", help="Script engine."),
    server: str = ServerOpt,
    api_key: str = KeyOpt,
    output: Output = "text",
) -> None:
    """Store a new version of a script (syntax-checked by the daemon)."""
    try:
        code = file.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        fail(ValidationError(f"cannot read the script {file}: {exc}"))
    body = {
        "name": name or file.stem,
        "code": code,
        "engine": engine,
        "description": description,
    }
    script = _call(server, api_key, "POST", "/v1/scripts", json=body)
    _emit(script, output, ["name", "version", "engine", "created_at"] if output == "text" else None)


@scripts_app.command("list")
def scripts_list(server: str = ServerOpt, api_key: str = KeyOpt, output: Output = "text") -> None:
    """List stored scripts (latest versions)."""
    _emit(
        _call_every_page(server, api_key, "/v1/scripts"),
        output,
        ["name", "version", "engine", "description", "created_at"],
        "scripts",
    )


@scripts_app.command("get")
def scripts_get(
    name: str,
    version: int = typer.Option(None, help="Version (default latest)."),
    server: str = ServerOpt,
    api_key: str = KeyOpt,
) -> None:
    """Print a stored script's code."""
    script = _call(
        server, api_key, "GET", f"/v1/scripts/{seg(name)}", params={"version": version} if version else {}
    )
    sys.stdout.write(script["code"] + ("" if script["code"].endswith("\n") else "\n"))


@scripts_app.command("delete")
def scripts_delete(name: str, server: str = ServerOpt, api_key: str = KeyOpt) -> None:
    """Delete every version of a script."""
    _call(server, api_key, "DELETE", f"/v1/scripts/{seg(name)}")
    sys.stdout.write(f"deleted {name}\n")


_SCHEDULE_COLUMNS = [
    "id",
    "name",
    "script",
    "cron",
    "interval_s",
    "timezone",
    "overlap",
    "enabled",
    "last_fire_time",
]


@schedules_app.command("create")
def schedules_create(
    name: str,
    script: str = typer.Option(..., help="Stored script to run."),
    cron: str = typer.Option(None, help="Cron expression (5 fields, or 6 with seconds first)."),
    interval: float = typer.Option(None, "--interval", help="Fire every N seconds."),
    timezone: str = typer.Option("UTC", help="IANA timezone of the cron expression."),
    overlap: str = typer.Option("skip", help="skip | queue | cancel_previous."),
    catchup_window: float = typer.Option(
        0.0, "--catchup-window", help="Seconds within which a missed fire still runs."
    ),
    args: str = typer.Option(None, "--args", help="Script args as JSON (list or object)."),
    server: str = ServerOpt,
    api_key: str = KeyOpt,
    output: Output = "text",
) -> None:
    """Create a schedule of a stored script."""
    body: dict[str, Any] = {
        "name": name,
        "script": script,
        "cron": cron,
        "interval_s": interval,
        "timezone": timezone,
        "overlap": overlap,
        "catchup_window_s": catchup_window,
    }
    if args:
        try:
            body["args"] = json.loads(args)
        except json.JSONDecodeError as exc:
            fail(f"--args is not valid JSON: {exc.msg}")
    schedule = _call(server, api_key, "POST", "/v1/schedules", json=body)
    _emit(schedule, output, _SCHEDULE_COLUMNS if output == "text" else None)


@schedules_app.command("list")
def schedules_list(server: str = ServerOpt, api_key: str = KeyOpt, output: Output = "text") -> None:
    """List schedules."""
    _emit(_call_every_page(server, api_key, "/v1/schedules"), output, _SCHEDULE_COLUMNS, "schedules")


def _on_schedule(server: str | None, api_key: str | None, method: str, ref: str, action: str = "") -> Any:
    """``method`` on the schedule ``ref``: its id, or else its name (the id of the schedule so named)."""
    path = f"/v1/schedules/{{}}{'/' + action if action else ''}"
    try:
        with DaemonClient(server, api_key) as client:
            try:
                return client.request(method, path.format(seg(ref)))
            except NotFound:
                params: dict[str, Any] = {"limit": 1000}
                while True:
                    page = client.request("GET", "/v1/schedules", params=params)
                    for item in page["items"]:
                        if item.get("name") == ref:
                            return client.request(method, path.format(seg(item["id"])))
                    if not page.get("next_cursor"):
                        raise NotFound(
                            f"No schedule with id or name {ref!r}; see 'llmspell schedules list'"
                        ) from None
                    params["cursor"] = page["next_cursor"]
    except LLMSpellError as exc:
        fail(exc)


def _schedule_action(action: str, help_text: str) -> None:
    def command(
        schedule_id: str = typer.Argument(..., metavar="ID_OR_NAME", help="The schedule's id or name."),
        server: str = ServerOpt,
        api_key: str = KeyOpt,
        output: Output = "text",
    ) -> None:
        result = _on_schedule(server, api_key, "POST", schedule_id, action)
        _emit(
            result,
            output,
            (["id", "status"] if action == "trigger" else _SCHEDULE_COLUMNS) if output == "text" else None,
        )

    command.__doc__ = help_text
    schedules_app.command(action)(command)


_schedule_action("pause", "Stop firing a schedule.")
_schedule_action("resume", "Resume firing a schedule.")
_schedule_action("trigger", "Fire a schedule now.")


@schedules_app.command("delete")
def schedules_delete(
    schedule_id: str = typer.Argument(..., metavar="ID_OR_NAME", help="The schedule's id or name."),
    server: str = ServerOpt,
    api_key: str = KeyOpt,
) -> None:
    """Delete a schedule (its runs stay)."""
    _on_schedule(server, api_key, "DELETE", schedule_id)
    sys.stdout.write(f"deleted {schedule_id}\n")


def register(app: typer.Typer) -> None:
    app.add_typer(runs_app, name="runs")
    app.add_typer(scripts_app, name="scripts")
    app.add_typer(schedules_app, name="schedules")

"""``llmspell events``: tail and publish bus events; ``llmspell runs timeline``."""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Iterator
from typing import Any

import typer

from ..core.errors import LLMSpellError, ValidationError
from ._common import fail
from ._options import Output

__all__ = ["register", "sse_events"]

events_app = typer.Typer(help="The event bus of a daemon: tail, publish.", no_args_is_help=True)

ServerOpt = typer.Option(
    None, "--server", help="Daemon URL (env LLMSPELL_SERVER_URL; default http://127.0.0.1:8080)."
)
KeyOpt = typer.Option(None, "--api-key", help="API key (env LLMSPELL_SERVER_KEY).")


def sse_events(server: str | None, api_key: str | None, pattern: str) -> Iterator[dict[str, Any]]:
    """Bus events from ``GET /v1/events?pattern=`` (SSE) as envelopes, until the stream ends."""
    import httpx

    from .client import DEFAULT_SERVER, _problem, transport_error

    base = (server or os.environ.get("LLMSPELL_SERVER_URL") or DEFAULT_SERVER).rstrip("/")
    key = api_key or os.environ.get("LLMSPELL_SERVER_KEY")
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    try:
        with (
            httpx.Client(base_url=base, headers=headers, timeout=None) as http,
            http.stream("GET", "/v1/events", params={"pattern": pattern}) as response,
        ):
            if response.status_code >= 400:
                response.read()
                raise _problem(response)
            for line in response.iter_lines():
                if line.startswith("data: "):
                    yield json.loads(line[6:])
    except (httpx.TransportError, httpx.InvalidURL) as exc:
        raise transport_error(base, exc, "follow events") from None


@events_app.command("tail")
def events_tail(
    pattern: str = typer.Argument("*", help="Glob over event types: tool.*, *.failed, agent.completed."),
    count: int = typer.Option(
        0, "--count", "-n", min=0, help="Stop after this many events (0: follow forever)."
    ),
    server: str = ServerOpt,
    api_key: str = KeyOpt,
    output: Output = "text",
) -> None:
    """Follow bus events matching PATTERN (every replica's, with Redis)."""
    seen = 0
    try:
        for event in sse_events(server, api_key, pattern):
            if output == "json":
                sys.stdout.write(json.dumps(event) + "\n")
            else:
                data = json.dumps(event.get("data"), default=str)
                source = f" [{event['source']}]" if event.get("source") else ""
                sys.stdout.write(f"{event['id']} {event['type']}{source} {data}\n")
            sys.stdout.flush()
            seen += 1
            if count and seen >= count:
                return
    except LLMSpellError as exc:
        fail(exc)
    except KeyboardInterrupt:
        raise SystemExit(130) from None


@events_app.command("publish")
def events_publish(
    event_type: str = typer.Argument(help="Event type, e.g. deploy.finished."),
    data: str = typer.Argument("null", help="JSON data."),
    correlation_id: str = typer.Option("", "--correlation-id"),
    server: str = ServerOpt,
    api_key: str = KeyOpt,
) -> None:
    """Publish one event on the daemon's bus; prints its id."""
    from .client import DaemonClient

    try:
        body = json.loads(data)
    except json.JSONDecodeError as exc:
        fail(ValidationError(f"event data is not valid JSON ({exc.msg}); pass e.g. '{{\"ok\": true}}'"))
    try:
        with DaemonClient(server, api_key) as client:
            event = client.request(
                "POST",
                "/v1/events",
                json={"type": event_type, "data": body, "correlation_id": correlation_id},
            )
    except LLMSpellError as exc:
        fail(exc)
    sys.stdout.write(f"{event['id']}\n")


def runs_timeline(
    run_id: str,
    server: str = ServerOpt,
    api_key: str = KeyOpt,
    output: Output = "text",
) -> None:
    """A run's timeline: status, tool, agent, workflow and hook events with their times."""
    from .client import DaemonClient, seg

    try:
        with DaemonClient(server, api_key) as client:
            timeline = client.request("GET", f"/v1/runs/{seg(run_id)}/timeline")
    except LLMSpellError as exc:
        fail(exc)
    if output == "json":
        sys.stdout.write(json.dumps(timeline, indent=2, default=str) + "\n")
        return
    run = timeline["run"]
    sys.stdout.write(f"run {run['id']}  status {run['status']}  duration {run.get('duration_ms')} ms\n")
    for item in timeline["items"]:
        sys.stdout.write(
            f"{item['offset_ms']:>10.1f} ms  {item['time']}  {item['kind']:<8} {item['summary']}\n"
        )


def register(app: typer.Typer) -> None:
    from .daemon_cmds import runs_app

    app.add_typer(events_app, name="events")
    runs_app.command("timeline")(runs_timeline)

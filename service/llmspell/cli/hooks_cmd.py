"""``llmspell hooks``: hook points, registered hooks and their breakers; daemon-wide hooks."""

from __future__ import annotations

import json
import os
import sys
from typing import Any

import typer

from ..core.errors import LLMSpellError, ValidationError
from ._common import fail
from ._options import Output

__all__ = ["register"]

hooks_app = typer.Typer(help="Hooks: points, registered hooks and breaker states.", no_args_is_help=True)

ServerOpt = typer.Option(
    None, "--server", help="Daemon URL (env LLMSPELL_SERVER_URL); without one, this process's hooks."
)
KeyOpt = typer.Option(None, "--api-key", help="API key with the admin scope (env LLMSPELL_SERVER_KEY).")


def _request(server: str | None, api_key: str | None, method: str, path: str, **kwargs: Any) -> Any:
    from .client import DaemonClient

    try:
        with DaemonClient(server, api_key) as client:
            return client.request(method, path, **kwargs)
    except LLMSpellError as exc:
        fail(exc)


def _local() -> dict[str, Any]:
    """The hook listing of this process: every point, and the configured hooks."""
    from ..core.config import load_settings
    from ..hooks import POINTS_BY_GROUP, HookRegistry
    from ..hooks.builtins import describe_builtins, install_configured

    registry = HookRegistry()
    try:
        install_configured(load_settings(), registry)
    except LLMSpellError as exc:
        fail(exc)
    return {
        "points": {group: list(names) for group, names in POINTS_BY_GROUP.items()},
        "builtins": describe_builtins(),
        "items": registry.list(),
    }


def _print(listing: dict[str, Any]) -> None:
    out = sys.stdout.write
    out("Points\n")
    for group, names in listing["points"].items():
        out(f"  {group:<12} {', '.join(names)}\n")
    out("\nBuilt-in hooks\n")
    for builtin in listing["builtins"]:
        out(f"  {builtin['name']:<12} {builtin['description']}\n")
    out("\nRegistered hooks\n")
    if not listing["items"]:
        out("  (none)\n")
    for item in listing["items"]:
        breaker = item["breaker"]
        out(
            f"  {item['id']:<6} {item['point']:<24} {item['name']:<16} priority {item['priority']:<5} "
            f"{item['source']:<7} breaker {breaker['state']} calls {breaker['calls']} "
            f"errors {breaker['errors']} slow {breaker['slow']} avg {breaker['avg_ms']}ms\n"
        )


@hooks_app.command("list")
def hooks_list(server: str = ServerOpt, api_key: str = KeyOpt, output: Output = "text") -> None:
    """Points, built-ins, and registered hooks with their circuit-breaker state."""
    remote = server or os.environ.get("LLMSPELL_SERVER_URL")
    listing = _request(remote, api_key, "GET", "/v1/hooks") if remote else _local()
    if output == "json":
        sys.stdout.write(json.dumps(listing, indent=2) + "\n")
    else:
        _print(listing)


def _parse_options(pairs: list[str]) -> dict[str, Any]:
    options: dict[str, Any] = {}
    for pair in pairs:
        key, sep, raw = pair.partition("=")
        if not sep or not key:
            fail(ValidationError(f"--option {pair!r} is not key=value (the value may be JSON: rate=5)"))
        try:
            options[key] = json.loads(raw)
        except json.JSONDecodeError:
            options[key] = raw
    return options


@hooks_app.command("add")
def hooks_add(
    name: str = typer.Argument(help="Built-in hook: logging, metrics, debug, security, cost, rate_limit..."),
    point: list[str] = typer.Option([], "--point", "-p", help="Point (repeatable; default: the built-in's)."),
    priority: str | None = typer.Option(None, help="Integer or highest/high/normal/low/lowest."),
    option: list[str] = typer.Option([], "--option", help="key=value option (JSON value; repeatable)."),
    server: str = ServerOpt,
    api_key: str = KeyOpt,
    output: Output = "text",
) -> None:
    """Register a built-in hook daemon-wide (admin)."""
    body: dict[str, Any] = {"name": name, "options": _parse_options(option)}
    if point:
        body["points"] = point
    if priority is not None:
        body["priority"] = int(priority) if priority.lstrip("-").isdigit() else priority
    created = _request(server, api_key, "POST", "/v1/hooks", json=body)
    if output == "json":
        sys.stdout.write(json.dumps(created, indent=2) + "\n")
    else:
        for item in created["items"]:
            sys.stdout.write(f"{item['id']} {item['point']} {item['name']}\n")


@hooks_app.command("remove")
def hooks_remove(hook_id: str, server: str = ServerOpt, api_key: str = KeyOpt) -> None:
    """Unregister a daemon-wide hook by id (admin)."""
    from .client import seg

    _request(server, api_key, "DELETE", f"/v1/hooks/{seg(hook_id)}")
    sys.stdout.write(f"removed {hook_id}\n")


def register(app: typer.Typer) -> None:
    app.add_typer(hooks_app, name="hooks")

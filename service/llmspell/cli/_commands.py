"""Registration of command groups on the typer app (one line per module)."""

from __future__ import annotations

import importlib

import typer

# (module, attribute): a typer.Typer to add as a group, or a function ``register(app)``.
_GROUPS: list[str] = [
    "serve_cmd",
    "daemon_cmds",
    "db_cmd",
    "keys_cmd",
    "version_cmd",
    "config_cmd",
    "service_cmd",
    "providers_cmd",
    "tool_cmd",
    "state_cmd",
    "session_cmd",
    "backup_cmd",
    "gc_cmd",
    "agent_cmd",
    "workflow_cmd",
    "hooks_cmd",
    "events_cmd",
]


def register(app: typer.Typer) -> None:
    """Add every command module listed in ``_GROUPS`` to ``app``."""
    for module_name in _GROUPS:
        module = importlib.import_module(f"llmspell.cli.{module_name}")
        module.register(app)

"""The typer application: every command but the fast ``run``/``exec`` path.

Each command group lives in its own module and is added here.
"""

from __future__ import annotations

import typer

from . import _commands

app = typer.Typer(
    name="llmspell",
    help="Scriptable LLM orchestration: run Lua scripts that drive agents, tools and workflows.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

_commands.register(app)

"""Options shared by CLI commands: the output format.

Every command that can print JSON takes ``--output text|json`` (``-o``); the commands
that used to take a boolean ``--json`` keep it as a hidden alias of ``--output json``.
"""

from __future__ import annotations

from typing import Annotated, Literal

import typer

__all__ = ["JsonAlias", "Output", "OutputFormat", "output_format"]

OutputFormat = Literal["text", "json"]

Output = Annotated[OutputFormat, typer.Option("--output", "-o", help="Output format.")]

JsonAlias = Annotated[bool, typer.Option("--json", hidden=True, help="Same as --output json.")]


def output_format(output: OutputFormat, as_json: bool) -> OutputFormat:
    """The format asked for: ``json`` when the ``--json`` alias was given, else ``--output``."""
    return "json" if as_json else output

"""Options shared by CLI commands: the output format, and the text form of one record.

Every command that can print JSON takes ``--output text|json`` (``-o``); the commands
that used to take a boolean ``--json`` keep it as a hidden alias of ``--output json``.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Annotated, Any, Literal

import typer

__all__ = ["JsonAlias", "Output", "OutputFormat", "output_format", "print_fields"]

OutputFormat = Literal["text", "json"]

Output = Annotated[OutputFormat, typer.Option("--output", "-o", help="Output format.")]

JsonAlias = Annotated[bool, typer.Option("--json", hidden=True, help="Same as --output json.")]


def output_format(output: OutputFormat, as_json: bool) -> OutputFormat:
    """The format asked for: ``json`` when the ``--json`` alias was given, else ``--output``."""
    return "json" if as_json else output


def print_fields(fields: Mapping[str, Any], title: str | None = None) -> None:
    """Print one record as a two-column table: field, value (nested values as indented JSON).

    Cells are plain text: brackets in a stored value are printed, never read as rich markup.
    """
    from rich.console import Console
    from rich.table import Table
    from rich.text import Text

    table = Table("field", "value", title=title)
    for name, value in fields.items():
        table.add_row(Text(name), Text(_cell(value)))
    Console(highlight=False).print(table)


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    return json.dumps(value, indent=2, ensure_ascii=False, default=str)

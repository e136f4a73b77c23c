"""``llmspell providers``: the LLM providers llmspell can use, configured ones first."""

from __future__ import annotations

import json
from typing import Any

import typer

from ..core.errors import LLMSpellError
from ._common import fail
from ._options import Output

__all__ = ["register", "render_table"]


def _yes(value: Any) -> str:
    return "yes" if value is True else ("no" if value is False else str(value))


def render_table(providers: list[dict[str, Any]]) -> None:
    """Print ``providers`` (entries of ``list_providers``) as a rich table."""
    from rich.console import Console
    from rich.table import Table

    table = Table(title="LLM providers")
    for column in ("name", "type", "wire", "base_url", "api key", "vision", "json schema"):
        table.add_column(column)
    for entry in providers:
        caps = entry["capabilities"]
        name = entry["name"] + (" (default)" if entry.get("default") else "")
        if entry["configured"]:
            name += " *"
        table.add_row(
            name,
            entry["type"],
            entry["wire"],
            entry["base_url"] or "(library default)",
            _yes(entry["has_api_key"]),
            "by model" if caps["vision"] else "no",
            "by model" if caps["json_schema"] else "no",
        )
    console = Console(markup=False)
    console.print(table)
    console.print("* configured in llmspell.toml / LLMSPELL_PROVIDERS__*; streaming and tools: all providers")


def register(app: typer.Typer) -> None:
    """Add the ``providers`` command to ``app``."""

    @app.command("providers")
    def providers_command(
        output: Output = "text",
    ) -> None:
        """List the LLM providers (configured and built-in) with endpoints and capabilities; no secrets."""
        from ..core.config import get_settings
        from ..providers import list_providers

        try:
            providers = list_providers(get_settings())
        except LLMSpellError as exc:
            fail(exc)
        if output == "json":
            typer.echo(json.dumps(providers))
            return
        render_table(providers)

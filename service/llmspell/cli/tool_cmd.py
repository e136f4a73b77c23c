"""``llmspell tool``: list, describe, search and invoke tools from the command line."""

from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from ..core.errors import LLMSpellError, ValidationError
from ._common import EXIT_SCRIPT, EXIT_USAGE, fail
from ._options import Output, OutputFormat

__all__ = ["parse_params", "register"]


def parse_params(text: str) -> dict[str, Any]:
    """Parse ``--params``: JSON text, or ``@file`` holding JSON (``@-`` reads stdin).

    Raises:
        ValidationError: unreadable file, invalid JSON, or JSON that is not an object.
    """
    source = "--params"
    if text.startswith("@"):
        name = text[1:]
        source = "stdin" if name == "-" else name
        try:
            text = sys.stdin.read() if name == "-" else Path(name).read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise ValidationError(f"cannot read params file {name!r}: {exc}") from exc
    try:
        params = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ValidationError(
            f"{source} is not valid JSON ({exc.msg} at line {exc.lineno} column {exc.colno}); "
            'pass an object like \'{"input": "2+2"}\''
        ) from exc
    if not isinstance(params, dict):
        raise ValidationError(f"{source} must be a JSON object, not {type(params).__name__}")
    return params


def _summary(tool: Any) -> dict[str, Any]:
    return {
        "name": tool.name,
        "category": tool.category,
        "description": tool.description,
        "security_level": tool.security_level,
    }


def _print_tools(tools: list[Any], output: OutputFormat) -> None:
    rows = [_summary(tool) for tool in tools]
    if output == "json":
        sys.stdout.write(json.dumps(rows, indent=2) + "\n")
        return
    if not rows:
        sys.stdout.write("no tools\n")
        return
    name_w = max(len(r["name"]) for r in rows)
    cat_w = max(len(r["category"]) for r in rows)
    for r in rows:
        description = r["description"] if len(r["description"]) <= 80 else r["description"][:77] + "..."
        sys.stdout.write(
            f"{r['name']:<{name_w}}  {r['category']:<{cat_w}}  {r['security_level']:<10}  {description}\n"
        )


def _context() -> Any:
    from ..core.config import config_sources_present
    from ..core.context import ExecutionContext

    if not config_sources_present():
        from ..core.config import LimitsConfig, SandboxConfig

        return ExecutionContext(limits=LimitsConfig().to_limits(), policy=SandboxConfig().to_policy())
    from ..core.config import get_settings

    settings = get_settings()
    return ExecutionContext(limits=settings.limits.to_limits(), policy=settings.sandbox.to_policy())


def register(app: typer.Typer) -> None:
    """Add the ``tool`` command group to ``app``."""
    tool_app = typer.Typer(name="tool", help="List, describe, search and invoke tools.", no_args_is_help=True)
    app.add_typer(tool_app, name="tool")

    @tool_app.command("list")
    def list_command(
        category: Annotated[str | None, typer.Option("--category", "-c", help="Only this category.")] = None,
        output: Output = "text",
    ) -> None:
        """List the registered tools (name, category, security level, description)."""
        from ..tools import default_registry

        try:
            registry = default_registry()
            if category is not None and category not in registry.categories():
                known = ", ".join(registry.categories())
                raise ValidationError(f"unknown category {category!r}; categories: {known}")
            _print_tools(registry.list(category), output)
        except LLMSpellError as exc:
            fail(exc)

    @tool_app.command("info")
    def info_command(name: str, output: Output = "text") -> None:
        """Describe one tool, with the JSON Schema of its parameters."""
        from ..tools import default_registry

        try:
            tool = default_registry().get(name)
        except LLMSpellError as exc:
            fail(exc)
        info = {**tool.info(), "timeout_s": tool.timeout_s}
        if output == "json":
            sys.stdout.write(json.dumps(info, indent=2) + "\n")
            return
        sys.stdout.write(
            f"{info['name']}  ({info['category']}, {info['security_level']}, "
            f"timeout {info['timeout_s']:g}s)\n"
            f"{info['description']}\n\nparameters (JSON Schema):\n{json.dumps(info['schema'], indent=2)}\n"
        )

    @tool_app.command("search")
    def search_command(text: str, output: Output = "text") -> None:
        """Find tools whose name, category or description match every word of TEXT."""
        from ..tools import default_registry

        try:
            _print_tools(default_registry().search(text), output)
        except LLMSpellError as exc:
            fail(exc)

    @tool_app.command("invoke")
    def invoke_command(
        name: str,
        params: Annotated[
            str, typer.Option("--params", "-p", help="JSON object, or @file with one (@- for stdin).")
        ] = "{}",
        output: Output = "text",
    ) -> None:
        """Invoke a tool and print its result (--output json: the whole envelope).

        Exits 1 when the tool fails, 2 for unusable parameters or an unknown tool.
        """
        from ..tools import default_registry

        try:
            parsed = parse_params(params)
            registry = default_registry()
            registry.get(name)
            ctx = _context()
        except LLMSpellError as exc:
            fail(exc, EXIT_USAGE)
        result = asyncio.run(registry.invoke_envelope(name, parsed, ctx))
        if output == "json":
            sys.stdout.write(json.dumps(result, indent=2, default=str) + "\n")
        elif result["success"]:
            value = result["result"]
            text = value if isinstance(value, str) else json.dumps(value, indent=2, default=str)
            sys.stdout.write(text + "\n")
        if not result["success"]:
            error = result["error"]
            sys.stderr.write(f"llmspell: {error['code']}: {error['message']}\n")
            raise SystemExit(EXIT_SCRIPT)

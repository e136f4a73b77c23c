"""``llmspell workflow``: stored workflows on a daemon, or a local run of a JSON definition.

``workflow run NAME`` runs the daemon's stored workflow; ``workflow run FILE.json`` runs
the definition in the file here (no daemon needed; steps use the built-in tools and
inline agent definitions).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import typer

from ..core.errors import LLMSpellError, ValidationError
from ._common import fail
from ._options import Output
from .client import seg
from .daemon_cmds import KeyOpt, ServerOpt, _call, _call_every_page, _emit

__all__ = ["register"]

workflow_app = typer.Typer(
    help="Workflows: stored on a daemon, or run from a JSON file locally.", no_args_is_help=True
)

_COLUMNS = ["name", "type", "description", "version", "updated_at"]


def _read_json(path: Path, what: str) -> Any:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        fail(ValidationError(f"cannot read {what} {path}: {exc}"))


def _input(value: str | None) -> Any:
    if value is None:
        return None
    try:
        return json.loads(value)
    except ValueError:
        return value  # plain text is a string input


@workflow_app.command("list")
def workflow_list(server: str = ServerOpt, api_key: str = KeyOpt, output: Output = "text") -> None:
    """Stored workflows."""
    items = _call_every_page(server, api_key, "/v1/workflows")
    _emit(items, output, _COLUMNS, "workflows")


@workflow_app.command("create")
def workflow_create(
    name: str = typer.Argument(..., help="The workflow's name."),
    file: Path = typer.Argument(..., help="The definition (the script table form, as JSON)."),
    server: str = ServerOpt,
    api_key: str = KeyOpt,
    output: Output = "text",
) -> None:
    """Store a workflow on the daemon (a new version when the name exists)."""
    body = {"name": name, "definition": _read_json(file, "the workflow definition")}
    _emit(_call(server, api_key, "POST", "/v1/workflows", json=body), output, _COLUMNS, "workflow")


@workflow_app.command("delete")
def workflow_delete(name: str, server: str = ServerOpt, api_key: str = KeyOpt) -> None:
    """Delete a stored workflow."""
    _call(server, api_key, "DELETE", f"/v1/workflows/{seg(name)}")
    sys.stdout.write(f"deleted workflow {name}\n")


@workflow_app.command("run")
def workflow_run(
    target: str = typer.Argument(..., help="A stored workflow's name, or a FILE.json to run locally."),
    input: str = typer.Option(None, "--input", help="The workflow input as JSON (plain text is a string)."),
    server: str = ServerOpt,
    api_key: str = KeyOpt,
    output: Output = "text",
) -> None:
    """Run a workflow; prints its result ``{success, output, outputs, errors, ...}`` as JSON.

    Exits 1 when the workflow did not succeed.
    """
    value = _input(input)
    path = Path(target)
    if target.endswith(".json") or path.is_file():
        if not path.is_file():
            fail(ValidationError(f"no workflow file {target}"))
        try:
            result = _run_local(_read_json(path, "the workflow definition"), value)
        except LLMSpellError as exc:
            fail(exc)
    else:
        result = _call(server, api_key, "POST", f"/v1/workflows/{seg(target)}/execute", json={"input": value})
    if output == "json" or not isinstance(result.get("output"), str):
        _emit(result, "json")
    else:
        sys.stdout.write(result["output"] + "\n")
    if not result.get("success"):
        raise SystemExit(1)


def _run_local(definition: Any, value: Any) -> dict[str, Any]:
    import asyncio

    from ..core.config import load_settings
    from ..core.context import ExecutionContext
    from ..workflows.definition import workflow_from_definition
    from ..workflows.host import LocalHost

    if not isinstance(definition, dict):
        raise ValidationError("a workflow file must hold a JSON object {type, steps, ...}")
    settings = load_settings()
    workflow = workflow_from_definition(definition)
    ctx = ExecutionContext(limits=settings.limits.to_limits(), policy=settings.sandbox.to_policy())
    result: dict[str, Any] = asyncio.run(workflow.execute(value, ctx, host=LocalHost(settings=settings)))
    return result


def register(app: typer.Typer) -> None:
    app.add_typer(workflow_app, name="workflow")

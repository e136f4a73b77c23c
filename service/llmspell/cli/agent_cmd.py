"""``llmspell agent``: stored agents on a daemon (list, create, get, run, delete), or one local run.

``agent run NAME "input"`` asks the daemon's stored agent ``NAME``; with ``--model`` the
agent is built here instead (no daemon needed) from the options given.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import typer

from ..core.errors import LLMSpellError, ValidationError
from ._common import fail
from ._options import Output, print_fields
from .client import DaemonClient, seg
from .daemon_cmds import KeyOpt, ServerOpt, _call, _call_every_page, _emit

__all__ = ["register"]

agent_app = typer.Typer(help="Agents: stored on a daemon, or run locally with --model.", no_args_is_help=True)

_COLUMNS = ["name", "type", "model", "tools", "version", "updated_at"]


@agent_app.command("list")
def agent_list(server: str = ServerOpt, api_key: str = KeyOpt, output: Output = "text") -> None:
    """Stored agents."""
    items = _call_every_page(server, api_key, "/v1/agents")
    _emit(items, output, _COLUMNS, "agents")


@agent_app.command("get")
def agent_get(
    name: str,
    server: str = ServerOpt,
    api_key: str = KeyOpt,
    # JSON by default: the output before the option existed, which scripts parse.
    output: Output = "json",
) -> None:
    """One stored agent, without its API key (JSON by default; -o text for a table)."""
    agent = _call(server, api_key, "GET", f"/v1/agents/{seg(name)}")
    if output == "json":
        _emit(agent, "json")
    else:
        print_fields(agent, title=f"agent {name}")


@agent_app.command("create")
def agent_create(
    name: str = typer.Argument(..., help="The agent's name."),
    model: str = typer.Option(None, "--model", help="provider/model, e.g. openai/gpt-4o-mini."),
    system: str = typer.Option(None, "--system", help="System prompt."),
    tool: list[str] = typer.Option([], "--tool", help="A tool the agent may call (repeat)."),
    base_url: str = typer.Option(None, "--base-url", help="Provider endpoint override."),
    model_key: str = typer.Option(None, "--model-api-key", help="Provider API key (stored, never shown)."),
    file: Path = typer.Option(None, "--file", help="A JSON definition (the POST /v1/agents body)."),
    server: str = ServerOpt,
    api_key: str = KeyOpt,
    output: Output = "text",
) -> None:
    """Store an agent on the daemon (a new version when the name exists)."""
    body = _definition(name, model, system, tool, base_url, model_key, file)
    _emit(_call(server, api_key, "POST", "/v1/agents", json=body), output, _COLUMNS, "agent")


@agent_app.command("delete")
def agent_delete(name: str, server: str = ServerOpt, api_key: str = KeyOpt) -> None:
    """Delete a stored agent."""
    _call(server, api_key, "DELETE", f"/v1/agents/{seg(name)}")
    sys.stdout.write(f"deleted agent {name}\n")


@agent_app.command("run")
def agent_run(
    name: str = typer.Argument(..., help="The stored agent (or the local agent's name with --model)."),
    text: str = typer.Argument(..., help="What to ask."),
    stream: bool = typer.Option(False, "--stream", help="Print the answer as it is generated."),
    session: str = typer.Option(None, "--session", help="Session id: the daemon keeps the conversation."),
    model: str = typer.Option(None, "--model", help="Run locally with this provider/model (no daemon)."),
    system: str = typer.Option(None, "--system", help="System prompt (local run)."),
    tool: list[str] = typer.Option([], "--tool", help="A tool the agent may call (local run; repeat)."),
    base_url: str = typer.Option(None, "--base-url", help="Provider endpoint (local run)."),
    model_key: str = typer.Option(None, "--model-api-key", help="Provider API key (local run)."),
    server: str = ServerOpt,
    api_key: str = KeyOpt,
    output: Output = "text",
) -> None:
    """Ask an agent; prints its answer (``--output json``: the whole output)."""
    try:
        if model is not None:
            definition = _definition(name, model, system, tool, base_url, model_key, None)
            result = _run_local(definition, text, stream and output != "json")
        elif stream and output != "json":
            result = _stream_remote(server, api_key, name, text, session)
        else:
            body: dict[str, Any] = {"input": text, "session_id": session}
            result = _call(server, api_key, "POST", f"/v1/agents/{seg(name)}/execute", json=body)
    except LLMSpellError as exc:
        fail(exc)
    if output == "json":
        _emit(result, "json")
    elif not stream:
        sys.stdout.write(str(result.get("text", "")) + "\n")


def _definition(
    name: str,
    model: str | None,
    system: str | None,
    tools: list[str],
    base_url: str | None,
    model_key: str | None,
    file: Path | None,
) -> dict[str, Any]:
    body: dict[str, Any] = {}
    if file is not None:
        try:
            body = json.loads(file.read_text())
        except (OSError, ValueError) as exc:
            fail(ValidationError(f"cannot read the agent definition {file}: {exc}"))
        if not isinstance(body, dict):
            fail(ValidationError(f"{file} must hold a JSON object"))
    options = {
        "name": name,
        "model": model,
        "system_prompt": system,
        "tools": tools or None,
        "base_url": base_url,
        "api_key": model_key,
    }
    body.update({key: value for key, value in options.items() if value is not None})
    return body


def _run_local(definition: dict[str, Any], text: str, stream: bool) -> dict[str, Any]:
    import asyncio

    from ..agents.definition import config_from_definition, normalize_definition
    from ..agents.llm_agent import LLMAgent
    from ..core.config import load_settings
    from ..core.context import ExecutionContext
    from ..core.types import AgentInput
    from ..tools.registry import default_registry

    settings = load_settings()
    config = config_from_definition(normalize_definition(definition))
    agent = LLMAgent(config, tools=default_registry(), settings=settings)
    ctx = ExecutionContext(limits=settings.limits.to_limits(), policy=settings.sandbox.to_policy())

    async def run() -> dict[str, Any]:
        if not stream:
            return (await agent.execute(AgentInput(text=text), ctx)).to_dict()
        async for delta in agent.stream(AgentInput(text=text), ctx):
            sys.stdout.write(delta)
            sys.stdout.flush()
        sys.stdout.write("\n")
        return agent.last_output.to_dict() if agent.last_output is not None else {}

    return asyncio.run(run())


def _stream_remote(
    server: str | None, api_key: str | None, name: str, text: str, session: str | None
) -> dict[str, Any]:
    import httpx

    from .client import _problem, transport_error

    body = {"input": text, "session_id": session}
    with DaemonClient(server, api_key) as client:
        try:
            with client._http.stream(
                "POST", f"/v1/agents/{seg(name)}/execute/stream", json=body, timeout=None
            ) as response:
                if response.status_code >= 400:
                    response.read()
                    raise _problem(response)
                kind = ""
                result: dict[str, Any] = {}
                for line in response.iter_lines():
                    if line.startswith("event: "):
                        kind = line[7:]
                    elif line.startswith("data: "):
                        data = json.loads(line[6:])
                        if kind == "token":
                            sys.stdout.write(data.get("text", ""))
                            sys.stdout.flush()
                        elif kind == "error":
                            sys.stdout.write("\n")
                            from ..core.errors import error_from_code

                            raise error_from_code(str(data.get("code")), str(data.get("message")))
                        elif kind == "end":
                            sys.stdout.write("\n")
                            result = data.get("output") or {}
                            break
                return result
        except httpx.TransportError as exc:
            raise transport_error(client.server, exc) from None


def register(app: typer.Typer) -> None:
    app.add_typer(agent_app, name="agent")

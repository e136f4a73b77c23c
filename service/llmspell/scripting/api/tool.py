"""``Tool``: run, list, describe and register tools from scripts.

Tools registered by a script (``Tool.register``, ``agent:as_tool``) live in the run's
own registry, layered over the process-wide one, so they are visible to that run's
agents and workflows and gone when the run ends.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from ...core.abc import Tool
from ...core.context import ExecutionContext
from ...core.errors import LLMSpellError, ScriptError, ToolError, ValidationError
from .surface import ApiNamespace, ScriptEnv, ScriptFunction

if TYPE_CHECKING:
    from ...tools.registry import ToolRegistry

__all__ = ["ScriptTool", "build", "toolbox"]


def toolbox(env: ScriptEnv) -> ToolRegistry:
    """The run's registry: its own tools over the process-wide registry (created on first use)."""

    def create() -> ToolRegistry:
        from ...tools.registry import ToolRegistry, default_registry

        return ToolRegistry(parent=default_registry())

    box: ToolRegistry = env.service("tools", create)
    return box


class ScriptTool(Tool):
    """A tool whose implementation is a script function."""

    category = "script"
    security_level = "safe"

    def __init__(
        self, *, name: str, description: str, schema: Mapping[str, Any], fn: Callable[..., Any]
    ) -> None:
        self.name = name
        self.description = description
        self.schema = schema
        self._fn = fn

    async def invoke(self, params: dict[str, Any], ctx: ExecutionContext) -> Any:
        """Call the script function; a plain ``error(...)`` (or an error table of no known code)
        is the tool failing: ``TOOL_ERROR``. Errors of a known code keep it."""
        try:
            return await self._fn(params)
        except ScriptError as exc:
            raise ToolError(exc.message, details=exc.details) from exc
        except LLMSpellError as exc:
            if type(exc) is not LLMSpellError:
                raise
            raise ToolError(exc.message, details=exc.details) from exc


def _summary(tool: Tool) -> dict[str, Any]:
    return {
        "name": tool.name,
        "category": tool.category,
        "description": tool.description,
        "security_level": tool.security_level,
    }


def build(env: ScriptEnv, ctx: ExecutionContext) -> list[ApiNamespace]:
    async def execute(name: str, params: Any = None) -> dict[str, Any]:
        if params is None:
            params = {}
        if not isinstance(params, dict):
            raise ValidationError("Tool.execute params must be a table of named parameters")
        box: ToolRegistry = env.services.get("tools") or toolbox(env)
        tool = box.get(name if type(name) is str else str(name))
        if env.emit is None:  # no run events to build
            return await box.invoke_tool(tool, params, ctx)
        env.event("tool", {"name": tool.name, "status": "started"})
        try:
            result = await box.invoke_tool(tool, params, ctx)
        except Exception as exc:
            env.event("tool", {"name": tool.name, "status": "failed", "error": str(exc)})
            raise
        env.event("tool", {"name": tool.name, "status": "completed"})
        return result

    def list_tools(category: str | None = None) -> list[dict[str, Any]]:
        return [_summary(tool) for tool in toolbox(env).list(category)]

    def get(name: str) -> dict[str, Any] | None:
        tool = toolbox(env).find(str(name))
        return None if tool is None else tool.info()

    def register(spec: Any) -> dict[str, Any]:
        if not isinstance(spec, dict):
            raise ValidationError("Tool.register expects a table {name=, description=, schema=, fn=}")
        name, fn = spec.get("name"), spec.get("fn")
        if not isinstance(name, str) or not name:
            raise ValidationError("Tool.register needs a name", details={"field": "name"})
        if not isinstance(fn, ScriptFunction):
            raise ValidationError(
                "Tool.register needs fn = function(params) ... end", details={"field": "fn"}
            )
        schema = spec.get("schema") or {"type": "object"}
        if not isinstance(schema, dict):
            raise ValidationError("schema must be a JSON Schema table", details={"field": "schema"})
        tool = ScriptTool(name=name, description=str(spec.get("description") or name), schema=schema, fn=fn)
        toolbox(env).register(tool, replace=True)
        return _summary(tool)

    def shortcut(name: str) -> Callable[..., Any] | None:
        if not toolbox(env).exists(name):
            return None

        async def call(params: Any = None) -> dict[str, Any]:
            return await execute(name, params)

        return call

    ns = ApiNamespace(name="Tool", index=shortcut)
    ns.add(execute, "execute", "invoke")
    ns.add(list_tools, "list")
    ns.add(get, "get", "info")
    ns.add(lambda name: toolbox(env).exists(str(name)), "exists")
    ns.add(lambda: toolbox(env).categories(), "categories")
    ns.add(lambda text: [_summary(t) for t in toolbox(env).search(str(text))], "search")
    ns.add(register, "register")
    return [ns]

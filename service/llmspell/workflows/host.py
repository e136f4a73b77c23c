"""The host for workflows run from Python: a tool registry, named agents and workflows, a sink."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable, Mapping
from typing import TYPE_CHECKING, Any

from ..core.abc import BaseAgent, Workflow
from ..core.errors import NotFound, ValidationError
from ..core.types import AgentInput, MediaContent
from .abc import WorkflowHost

if TYPE_CHECKING:
    from ..core.config import Settings
    from ..core.context import ExecutionContext
    from ..tools.registry import ToolRegistry

__all__ = ["LocalHost", "to_agent_input"]


def to_agent_input(value: Any) -> AgentInput:
    """A step input as an :class:`AgentInput`.

    Strings are the text; a table with ``text`` (or ``prompt``) may add ``media`` and
    ``parameters``; any other value is sent as its JSON text.

    Raises:
        ValidationError: ``media`` entries are not media tables.
    """
    if isinstance(value, str):
        return AgentInput(text=value)
    if isinstance(value, dict) and ("text" in value or "prompt" in value):
        media = value.get("media") or []
        if isinstance(media, dict):
            media = [media] if media else []
        return AgentInput(
            text=str(value.get("text", value.get("prompt", ""))),
            media=tuple(MediaContent.from_dict(item) for item in media),
            parameters=dict(value.get("parameters") or {}),
        )
    return AgentInput(text=json.dumps(value, ensure_ascii=False, default=str))


class LocalHost(WorkflowHost):
    """Runs workflows from Python: tools from a registry, agents and workflows from dicts.

    Args:
        tools: the registry (default: the process-wide registry of built-in tools).
        agents: agents reachable by name from ``agent="name"`` steps.
        find_agent: asked for a name that ``agents`` lacks when a step first needs it (the
            daemon builds stored agents with it); what it finds is kept in :attr:`agents`,
            so every later step of that name gets the same agent. None: not found.
        workflows: workflows reachable by name from ``workflow="name"`` steps.
        settings: used to build inline agent definitions (``agent={model=...}``); loaded
            from the environment when needed and not given.
        emit: receives every workflow event dict, or None.
    """

    def __init__(
        self,
        *,
        tools: ToolRegistry | None = None,
        agents: Mapping[str, BaseAgent] | None = None,
        find_agent: Callable[[str], Awaitable[BaseAgent | None]] | None = None,
        workflows: Mapping[str, Workflow] | None = None,
        settings: Settings | None = None,
        emit: Callable[[dict[str, Any]], None] | None = None,
    ) -> None:
        self._tools = tools
        self.agents: dict[str, BaseAgent] = dict(agents or {})
        self._find_agent = find_agent
        self._finding: dict[str, asyncio.Lock] = {}
        self.workflows: dict[str, Workflow] = dict(workflows or {})
        self._settings = settings
        self._emit = emit

    @property
    def emits(self) -> bool:
        return self._emit is not None

    def emit(self, data: dict[str, Any]) -> None:
        if self._emit is not None:
            self._emit(data)

    @property
    def tools(self) -> ToolRegistry:
        """The tool registry (created on first use)."""
        if self._tools is None:
            from ..tools.registry import default_registry

            self._tools = default_registry()
        return self._tools

    async def invoke_tool(self, name: str, params: dict[str, Any], ctx: ExecutionContext) -> dict[str, Any]:
        return await self.tools.invoke(name, params, ctx)

    def check_agent(self, agent: Any) -> None:
        if not isinstance(agent, str | dict | BaseAgent):
            raise ValidationError(
                f"agent must be a name, an agent definition table or an agent, not {type(agent).__name__}",
                details={"field": "agent"},
            )

    async def _named(self, name: str) -> BaseAgent:
        agent = self.agents.get(name)
        if agent is None and self._find_agent is not None:
            # Parallel steps naming the same agent wait for one lookup and share its agent.
            async with self._finding.setdefault(name, asyncio.Lock()):
                agent = self.agents.get(name)
                if agent is None:
                    agent = await self._find_agent(name)
                    if agent is not None:
                        self.agents[name] = agent
        if agent is None:
            raise NotFound.named("agent", name)
        return agent

    async def _agent(self, ref: Any) -> BaseAgent:
        if isinstance(ref, BaseAgent):
            return ref
        if isinstance(ref, str):
            return await self._named(ref)
        if isinstance(ref, dict):
            from ..agents.llm_agent import AgentConfig, LLMAgent

            if self._settings is None:
                from ..core.config import get_settings

                self._settings = get_settings()
            fields = dict(ref)
            fields.setdefault("name", "inline-agent")
            if not fields.get("model"):
                if not self._settings.model:
                    raise ValidationError(
                        "inline agent has no model: set model='provider/model' or LLMSPELL_MODEL",
                        details={"field": "agent.model"},
                    )
                fields["model"] = self._settings.model
            if "tools" in fields:
                fields["tools"] = tuple(fields["tools"] or ())
            try:
                config = AgentConfig(**fields)
            except TypeError as exc:
                raise ValidationError(
                    f"inline agent definition has an unknown field ({exc})", details={"field": "agent"}
                ) from exc
            return LLMAgent(config, tools=self.tools, settings=self._settings)
        self.check_agent(ref)
        raise AssertionError("unreachable")

    async def run_agent(self, agent: Any, input: Any, ctx: ExecutionContext) -> dict[str, Any]:
        target = await self._agent(agent)
        name = getattr(target, "name", "") or ""
        self._agent_event(name, "started")
        try:
            output = await target.execute(to_agent_input(input), ctx)
        except Exception as exc:
            self._agent_event(name, "failed", error=str(exc))
            raise
        self._agent_event(name, "completed", usage=output.usage.to_dict())
        return output.to_dict()

    def _agent_event(self, name: str, status: str, **data: Any) -> None:
        if self._emit is not None:
            self._emit({"type": f"agent.{status}", "agent": name, **data})

    async def find_workflow(self, name: str) -> Workflow | None:
        return self.workflows.get(name)

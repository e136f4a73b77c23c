"""``Agent``: build LLM agents from scripts, run them, stream them, use them as tools.

Agents created by a run are known to that run by name (``Agent.get/list/discover``).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any, ClassVar

from ...core.abc import Tool
from ...core.context import ExecutionContext
from ...core.errors import ValidationError
from ...core.types import AgentInput, MediaContent
from .surface import ApiNamespace, ApiObject, ScriptEnv
from .tool import toolbox

if TYPE_CHECKING:
    from ...agents.llm_agent import LLMAgent

__all__ = ["AgentBuilder", "ScriptAgent", "agent_input", "build"]

# Script field → AgentConfig field (aliases of rs-llmspell spellings included).
_FIELDS = {
    "name": "name",
    "model": "model",
    "system_prompt": "system_prompt",
    "system": "system_prompt",
    "temperature": "temperature",
    "max_tokens": "max_tokens",
    "base_url": "base_url",
    "api_key": "api_key",
    "tools": "tools",
    "max_tool_calls": "max_tool_calls",
    "timeout": "timeout_s",
    "timeout_s": "timeout_s",
    "memory_limit": "memory_limit",
    "response_format": "response_format",
}


def agent_input(value: Any) -> AgentInput:
    """A string or ``{text=, parameters=, media=}`` as an :class:`AgentInput`."""
    if isinstance(value, str):
        return AgentInput(text=value)
    if isinstance(value, dict):
        text = value.get("text", value.get("prompt", ""))
        media = value.get("media") or []
        if isinstance(media, dict):
            media = [media]
        return AgentInput(
            text=str(text),
            media=tuple(MediaContent.from_dict(item) for item in media),
            parameters=dict(value.get("parameters") or {}),
        )
    raise ValidationError("agent input must be a string or a table {text=, media=, parameters=}")


def _count_usage(model: str, usage: Any, cost: float | None) -> None:
    from ...core import metrics

    metrics.LLM_TOKENS.labels(model=model, kind="prompt").inc(usage.prompt_tokens)
    metrics.LLM_TOKENS.labels(model=model, kind="completion").inc(usage.completion_tokens)
    if cost is not None:
        metrics.LLM_COST.labels(model=model).inc(cost)


def _agents(env: ScriptEnv) -> dict[str, ScriptAgent]:
    agents: dict[str, ScriptAgent] = env.service("agents", dict)
    return agents


class _AgentTool(Tool):
    """An agent exposed as a tool taking ``{input}``."""

    category = "agent"
    security_level = "safe"

    def __init__(self, agent: ScriptAgent, name: str) -> None:
        self.schema = {
            "type": "object",
            "properties": {"input": {"type": "string", "description": "What to ask the agent"}},
            "required": ["input"],
            "additionalProperties": False,
        }
        self.name = name
        self.description = f"Ask the agent {agent.agent.config.name!r}"
        self._agent = agent

    async def invoke(self, params: dict[str, Any], ctx: ExecutionContext) -> Any:
        output = await self._agent.execute(params["input"])
        return {"text": output["text"]}


class ScriptAgent(ApiObject):
    """An agent as scripts see it."""

    api_type = "Agent"
    api_methods: ClassVar[dict[str, str]] = {
        "execute": "execute",
        "invoke": "execute",
        "chat": "execute",
        "stream": "stream",
        "history": "history",
        "reset": "reset",
        "state": "state",
        "as_tool": "as_tool",
        "name": "name",
    }

    def __init__(self, env: ScriptEnv, ctx: ExecutionContext, agent: LLMAgent) -> None:
        self._env = env
        self._ctx = ctx
        self.agent = agent

    def name(self) -> str:
        return self.agent.config.name

    async def execute(self, value: Any) -> dict[str, Any]:
        request = agent_input(value)
        self._env.event("agent", {"name": self.name(), "status": "started"})
        try:
            output = await self.agent.execute(request, self._ctx)
        except Exception as exc:
            self._env.event("agent", {"name": self.name(), "status": "failed", "error": str(exc)})
            raise
        self._env.add_usage(output.usage, output.cost)
        _count_usage(output.model or self.agent.config.model, output.usage, output.cost)
        self._env.event(
            "agent", {"name": self.name(), "status": "completed", "usage": output.usage.to_dict()}
        )
        return output.to_dict()

    def stream(self, value: Any) -> AsyncIterator[str]:
        return self.agent.stream(agent_input(value), self._ctx)

    def history(self) -> list[dict[str, Any]]:
        return self.agent.history()

    def reset(self) -> None:
        self.agent.reset()

    def state(self) -> str:
        return self.agent.state

    def as_tool(self, name: str | None = None) -> dict[str, Any]:
        tool = _AgentTool(self, name or f"agent-{self.name()}")
        toolbox(self._env).register(tool, replace=True)
        return {"name": tool.name, "category": tool.category, "description": tool.description}


def create_agent(env: ScriptEnv, ctx: ExecutionContext, spec: dict[str, Any]) -> ScriptAgent:
    """Build a :class:`ScriptAgent` from a script table of agent fields."""
    from ...agents.llm_agent import AgentConfig, LLMAgent

    fields: dict[str, Any] = {}
    for key, value in spec.items():
        target = _FIELDS.get(key)
        if target is None:
            raise ValidationError(f"unknown agent field {key!r}", details={"field": key})
        fields[target] = value
    if "tools" in fields:
        tools = fields["tools"]
        if isinstance(tools, dict) and not tools:
            tools = []
        if not isinstance(tools, list) or not all(isinstance(t, str) for t in tools):
            raise ValidationError("tools must be a list of tool names", details={"field": "tools"})
        fields["tools"] = tuple(tools)
    fields.setdefault("name", f"agent-{len(_agents(env)) + 1}")
    if not fields.get("model"):
        settings = env.settings()
        if not settings.model:
            raise ValidationError(
                'agent has no model: set model="provider/model" or LLMSPELL_MODEL', details={"field": "model"}
            )
        fields["model"] = settings.model
    config = AgentConfig(**fields)
    agent = ScriptAgent(env, ctx, LLMAgent(config, tools=toolbox(env), settings=env.settings()))
    _agents(env)[config.name] = agent
    return agent


class AgentBuilder(ApiObject):
    """``Agent.builder():name(s):model(m)...:build()``."""

    api_type = "AgentBuilder"
    api_methods: ClassVar[dict[str, str]] = {**{key: "set_" + key for key in _FIELDS}, "build": "build"}

    def __init__(self, env: ScriptEnv, ctx: ExecutionContext) -> None:
        self._env = env
        self._ctx = ctx
        self._spec: dict[str, Any] = {}

    def __getattr__(self, attr: str) -> Any:
        if attr.startswith("set_") and attr[4:] in _FIELDS:
            key = attr[4:]

            def setter(value: Any) -> AgentBuilder:
                self._spec[key] = value
                return self

            return setter
        raise AttributeError(attr)

    def build(self) -> ScriptAgent:
        return create_agent(self._env, self._ctx, dict(self._spec))


def build(env: ScriptEnv, ctx: ExecutionContext) -> list[ApiNamespace]:
    def create(spec: Any) -> ScriptAgent:
        if not isinstance(spec, dict):
            raise ValidationError("Agent.create expects a table {name=, model=, ...}")
        return create_agent(env, ctx, spec)

    def describe(agent: ScriptAgent) -> dict[str, Any]:
        config = agent.agent.config
        return {
            "name": config.name,
            "model": config.model,
            "tools": list(config.tools),
            "state": agent.state(),
        }

    def list_agents() -> list[dict[str, Any]]:
        return [describe(agent) for agent in _agents(env).values()]

    def discover(capability: str | None = None) -> list[dict[str, Any]]:
        found = []
        for agent in _agents(env).values():
            info = describe(agent)
            if capability is None or capability in info["tools"] or capability in agent.agent.capabilities():
                found.append(info)
        return found

    ns = ApiNamespace(name="Agent")
    ns.add(lambda: AgentBuilder(env, ctx), "builder")
    ns.add(create, "create", "new")
    ns.add(list_agents, "list")
    ns.add(lambda name: _agents(env).get(str(name)), "get")
    ns.add(discover, "discover")
    return [ns]

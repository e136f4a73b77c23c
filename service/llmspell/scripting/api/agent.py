"""``Agent``: build LLM agents from scripts, run them, stream them, use them as tools.

Agents created by a run are kept in the run's :class:`~llmspell.agents.AgentRegistry`
(``Agent.list/get/discover/delete``). Agent objects have the lifecycle methods
(``initialize/start/pause/resume/stop/terminate/recover``), and ``Agent.pipeline{...}`` /
``Agent.delegate{...}`` compose agents into one. ``Agent.delete``, replacing an agent by
a namesake and the end of the run shut agents down between the BeforeAgentShutdown and
AfterAgentShutdown hook points (reasons ``deleted``, ``replaced``, ``run_end``).

Stored agents: when the host hands the run its store (``ctx.services["store"]``, with
``"store_loop"`` when that store belongs to another event loop; the daemon does so for
every run), a name the run has no agent of is looked up among the store's agent
definitions (``POST /v1/agents``). ``Agent.get`` builds such an agent from its definition,
as ``/v1/agents/{name}/execute`` does, with the run's tools, and adopts it into the run;
``Agent.list``/``Agent.discover`` show the stored agents the run has not adopted after the
run's own. The run's own agent of a name always wins. Nothing is read from the store
until a script asks for a name the run lacks (or lists agents); without a store given by
the host (``llmspell run``) only the run's agents exist.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any, ClassVar

from ...core.abc import Agent, BaseAgent, Tool
from ...core.aio import aclose_iterator
from ...core.context import ExecutionContext
from ...core.errors import NotFound, ValidationError
from ...core.types import AgentInput, AgentOutput, MediaContent
from ...events.agents import agent_completed, agent_failed, agent_started
from .stored import stored_definitions
from .surface import ApiNamespace, ApiObject, ScriptEnv, ScriptFunction
from .tool import toolbox

if TYPE_CHECKING:
    from ...agents.registry import AgentRegistry

__all__ = ["AgentBuilder", "ScriptAgent", "agent_input", "build", "lookup"]


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


def _agents(env: ScriptEnv) -> dict[str, ScriptAgent]:
    agents: dict[str, ScriptAgent] = env.service("agents", dict)
    return agents


def _registry(env: ScriptEnv) -> AgentRegistry:
    def create() -> AgentRegistry:
        from ...agents.registry import AgentRegistry

        return AgentRegistry(tools=toolbox(env), settings=env.settings())

    registry: AgentRegistry = env.service("agent_registry", create)
    return registry


async def _find(env: ScriptEnv, ctx: ExecutionContext, name: str) -> BaseAgent | None:
    """The run's agent called ``name``, else the stored one (built and adopted), else None.

    Raises:
        NotFound: a member of the stored composite ``name`` is not stored.
        ConfigError: the stored definition's model cannot be resolved.
    """
    registry = _registry(env)
    agent = registry.find(name)
    if agent is not None:
        return agent
    stored = stored_definitions(env, ctx)
    if stored is None:
        return None
    from ...agents.definition import agent_from_definition

    try:
        definition = await stored.agent(name)
    except NotFound:
        return None
    agent = await agent_from_definition(definition, stored.agent, tools=toolbox(env), settings=env.settings())
    raced = registry.find(name)
    if raced is not None:  # another task of the run created or fetched it meanwhile
        return raced
    return (await _adopt(env, ctx, agent, definition.get("capabilities"))).agent


def _wrap(env: ScriptEnv, ctx: ExecutionContext, agent: BaseAgent) -> ScriptAgent:
    wrapped = _agents(env).get(agent.name)
    if wrapped is None or wrapped.agent is not agent:
        wrapped = _agents(env)[agent.name] = ScriptAgent(env, ctx, agent)
    return wrapped


async def lookup(env: ScriptEnv, ctx: ExecutionContext, name: str) -> ScriptAgent | None:
    """``Agent.get(name)``: the run's agent, else the host's stored agent, else None.

    Raises:
        NotFound: a member of the stored composite ``name`` is not stored.
        ConfigError: the stored definition's model cannot be resolved.
    """
    agent = await _find(env, ctx, name)
    return None if agent is None else _wrap(env, ctx, agent)


async def _stored_infos(
    env: ScriptEnv, ctx: ExecutionContext, capability: str | None
) -> list[dict[str, Any]]:
    """Info tables of the stored agents the run has no agent of (having ``capability``)."""
    stored = stored_definitions(env, ctx)
    if stored is None:
        return []
    from ...agents.definition import stored_agent_info

    definitions = {record.name: record.definition for record in await stored.all("agent")}
    registry = _registry(env)
    infos: list[dict[str, Any]] = []
    for name, definition in definitions.items():
        if name in registry:
            continue
        info = await stored_agent_info(definition, definitions, settings=env.settings())
        if capability is None or capability in info["capabilities"]:
            infos.append(info)
    return infos


async def _adopt(
    env: ScriptEnv, ctx: ExecutionContext, agent: BaseAgent, capabilities: Any = None
) -> ScriptAgent:
    """Register ``agent`` in the run (shutting a namesake down) and wrap it for the script.

    Raises:
        HookCancelled: a BeforeAgentShutdown hook refused to let the namesake go.
    """
    if isinstance(capabilities, dict) and not capabilities:
        capabilities = []
    if capabilities is not None and (
        not isinstance(capabilities, list) or not all(isinstance(c, str) for c in capabilities)
    ):
        raise ValidationError("capabilities must be a list of strings", details={"field": "capabilities"})
    registry = _registry(env)
    if "agent_shutdown" not in env.services:
        env.services["agent_shutdown"] = True
        env.on_end(lambda: registry.aclose(ctx, reason="run_end"))
    previous = registry.find(agent.name)
    if previous is not None and previous is not agent:
        from ...agents.registry import shutdown_agent

        await shutdown_agent(previous, ctx, reason="replaced")
    registry.register(agent, capabilities=capabilities or (), replace=True)
    wrapped = _agents(env)[agent.name] = ScriptAgent(env, ctx, agent)
    return wrapped


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
        self.description = f"Ask the agent {agent.name()!r}"
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
        "info": "info",
        "capabilities": "capabilities",
        "initialize": "initialize",
        "start": "start",
        "pause": "pause",
        "resume": "resume",
        "stop": "stop",
        "terminate": "terminate",
        "recover": "recover",
    }

    def __init__(self, env: ScriptEnv, ctx: ExecutionContext, agent: BaseAgent) -> None:
        self._env = env
        self._ctx = ctx
        self.agent = agent

    def name(self) -> str:
        return self.agent.name

    def info(self) -> dict[str, Any]:
        return _registry(self._env).info(self.name()) if self.name() in _registry(self._env) else {}

    def capabilities(self) -> list[str]:
        return _registry(self._env).capabilities(self.name())

    def _transition(self, action: str) -> str:
        method = getattr(self.agent, action, None)
        if not callable(method):
            raise ValidationError(f"agent {self.name()!r} has no lifecycle ({action} is not available)")
        return str(method())

    def initialize(self) -> str:
        return self._transition("initialize")

    def start(self) -> str:
        return self._transition("start")

    def pause(self) -> str:
        return self._transition("pause")

    def resume(self) -> str:
        return self._transition("resume")

    def stop(self) -> str:
        return self._transition("stop")

    def terminate(self) -> str:
        return self._transition("terminate")

    def recover(self) -> str:
        return self._transition("recover")

    async def execute(self, value: Any) -> dict[str, Any]:
        request = agent_input(value)
        name = self.name()
        await self._started(name)
        try:
            output = await self.agent.execute(request, self._ctx)
        except Exception as exc:
            await self._failed(name, exc)
            raise
        return await self._completed(name, output)

    def stream(self, value: Any) -> AsyncIterator[str]:
        if isinstance(self.agent, Agent):
            return self._streamed(self.agent, agent_input(value))
        return self._whole(value)

    async def _streamed(self, agent: Agent, request: AgentInput) -> AsyncIterator[str]:
        """The agent's text deltas, each also a ``token`` event ``{agent, text}`` of the run,
        between the ``agent`` events of :meth:`execute` (a stream the script leaves early
        ends without one)."""
        name = self.name()
        await self._started(name)
        try:
            deltas = agent.stream(request, self._ctx)
            try:
                async for delta in deltas:
                    if delta:
                        self._env.event("token", {"agent": name, "text": delta})
                    yield delta
            finally:
                await aclose_iterator(deltas)
        except Exception as exc:
            await self._failed(name, exc)
            raise
        output = getattr(agent, "last_output", None)
        if isinstance(output, AgentOutput):
            await self._completed(name, output)

    async def _whole(self, value: Any) -> AsyncIterator[str]:
        yield (await self.execute(value))["text"]

    async def _started(self, name: str) -> None:
        self._env.event("agent", {"name": name, "status": "started"})
        await agent_started(self._ctx, name)

    async def _failed(self, name: str, exc: Exception) -> None:
        self._env.event("agent", {"name": name, "status": "failed", "error": str(exc)})
        await agent_failed(self._ctx, name, exc)

    async def _completed(self, name: str, output: AgentOutput) -> dict[str, Any]:
        self._env.add_usage(output.usage, output.cost)
        usage = output.usage.to_dict()
        self._env.event("agent", {"name": name, "status": "completed", "usage": usage})
        await agent_completed(self._ctx, name, usage)
        return output.to_dict()

    def history(self) -> list[dict[str, Any]]:
        return self.agent.history() if isinstance(self.agent, Agent) else []

    def reset(self) -> None:
        if isinstance(self.agent, Agent):
            self.agent.reset()

    def state(self) -> str:
        return str(getattr(self.agent, "state", "ready"))

    def as_tool(self, name: str | None = None) -> dict[str, Any]:
        tool = _AgentTool(self, name or f"agent-{self.name()}")
        toolbox(self._env).register(tool, replace=True)
        return {"name": tool.name, "category": tool.category, "description": tool.description}


async def create_agent(env: ScriptEnv, ctx: ExecutionContext, spec: dict[str, Any]) -> ScriptAgent:
    """Build a :class:`ScriptAgent` from a script table of agent fields."""
    from ...agents.llm_agent import AgentConfig, LLMAgent

    spec = dict(spec)
    capabilities = spec.pop("capabilities", None)
    spec.pop("description", None)
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
    return await _adopt(env, ctx, LLMAgent(config, tools=toolbox(env), settings=env.settings()), capabilities)


async def _member(env: ScriptEnv, ctx: ExecutionContext, value: Any, field: str) -> BaseAgent:
    if isinstance(value, ScriptAgent):
        return value.agent
    if isinstance(value, str):
        found = await _find(env, ctx, value)
        if found is None:
            raise NotFound.named("agent", value)
        return found
    raise ValidationError(f"{field} must be an agent or an agent name", details={"field": field})


async def create_composite(env: ScriptEnv, ctx: ExecutionContext, kind: str, spec: Any) -> ScriptAgent:
    """``Agent.pipeline{name=, agents={...}}`` / ``Agent.delegate{name=, agents=, router=, default=}``."""
    from ...agents.composite import DelegateAgent, PipelineAgent

    if not isinstance(spec, dict):
        raise ValidationError(f"Agent.{kind} expects a table {{name=, agents={{...}}}}")
    allowed = {"name", "agents", "description", "capabilities"} | (
        {"router", "default"} if kind == "delegate" else set()
    )
    unknown = sorted(set(spec) - allowed)
    if unknown:
        raise ValidationError(f"unknown {kind} field {unknown[0]!r}", details={"field": unknown[0]})
    members_spec = spec.get("agents")
    if not isinstance(members_spec, list):
        raise ValidationError(f"{kind} needs agents={{agent, ...}}", details={"field": "agents"})
    members = [await _member(env, ctx, item, f"agents[{i}]") for i, item in enumerate(members_spec, 1)]
    name = spec.get("name") or f"{kind}-{len(_registry(env)) + 1}"
    description = str(spec.get("description") or "")
    agent: BaseAgent
    if kind == "pipeline":
        agent = PipelineAgent(name, members, description=description)
    else:
        router = spec.get("router")
        if isinstance(router, ScriptFunction):
            function = router

            async def route(request: AgentInput) -> str:
                return str(await function({"text": request.text, "parameters": request.parameters}))

            router = route
        elif router is not None:
            router = await _member(env, ctx, router, "router")
        agent = DelegateAgent(
            name, members, router=router, default=spec.get("default"), description=description
        )
    return await _adopt(env, ctx, agent, spec.get("capabilities"))


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

    async def build(self) -> ScriptAgent:
        return await create_agent(self._env, self._ctx, dict(self._spec))


def build(env: ScriptEnv, ctx: ExecutionContext) -> list[ApiNamespace]:
    async def create(spec: Any) -> ScriptAgent:
        if not isinstance(spec, dict):
            raise ValidationError("Agent.create expects a table {name=, model=, ...}")
        return await create_agent(env, ctx, spec)

    async def list_agents() -> list[dict[str, Any]]:
        registry = _registry(env)
        own = [registry.info(agent.name) for agent in registry.list()]
        return own + await _stored_infos(env, ctx, None)

    async def discover(capability: str | None = None) -> list[dict[str, Any]]:
        registry = _registry(env)
        own = [registry.info(agent.name) for agent in registry.discover(capability)]
        return own + await _stored_infos(env, ctx, capability)

    async def get(name: Any) -> ScriptAgent | None:
        return await lookup(env, ctx, str(name))

    async def delete(name: Any) -> bool:
        registry = _registry(env)
        if str(name) not in registry:
            return False
        await registry.shutdown(str(name), ctx, reason="deleted")
        _agents(env).pop(str(name), None)
        return True

    async def pipeline(spec: Any) -> ScriptAgent:
        return await create_composite(env, ctx, "pipeline", spec)

    async def delegate(spec: Any) -> ScriptAgent:
        return await create_composite(env, ctx, "delegate", spec)

    ns = ApiNamespace(name="Agent")
    ns.add(lambda: AgentBuilder(env, ctx), "builder")
    ns.add(create, "create", "new")
    ns.add(list_agents, "list")
    ns.add(get, "get")
    ns.add(discover, "discover")
    ns.add(delete, "delete", "remove")
    ns.add(pipeline, "pipeline")
    ns.add(delegate, "delegate")
    return [ns]

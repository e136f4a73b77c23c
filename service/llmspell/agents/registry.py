"""A registry of live agents: create, get, list, discover by capability, delete.

One registry per scope that owns agents (a script run, a Python program). Names are
unique within a registry. Capabilities are what :meth:`AgentRegistry.discover` matches:
the model's (``streaming``, ``tools``, ``vision``, ``json_schema``), the names of the
agent's tools, the composite kind (``delegate``, ``pipeline``) and any capability
declared when the agent was registered.
"""

from __future__ import annotations

import builtins
import logging
from collections.abc import Awaitable, Callable, Iterable, Iterator, Mapping
from typing import TYPE_CHECKING, Any

from ..core.abc import BaseAgent
from ..core.errors import Conflict, LLMSpellError, NotFound, ValidationError
from .composite import CompositeAgent
from .llm_agent import AgentConfig, LLMAgent

if TYPE_CHECKING:
    from ..core.config import Settings
    from ..core.context import ExecutionContext
    from .abc import ToolProvider

__all__ = ["AgentRegistry", "agent_info", "capabilities_of", "shutdown_agent"]

log = logging.getLogger("llmspell.agents")


def _terminate(agent: BaseAgent) -> None:
    terminate = getattr(agent, "terminate", None)
    if callable(terminate) and getattr(agent, "state", None) != "terminated":
        terminate()


async def shutdown_agent(
    agent: BaseAgent | str,
    ctx: ExecutionContext | None,
    *,
    reason: str,
    close: Callable[[], Awaitable[object]] | None = None,
) -> None:
    """Shut ``agent`` down between BeforeAgentShutdown and AfterAgentShutdown.

    ``agent`` is a live agent (terminated when it has a lifecycle) or the name of a stored
    definition (``close`` does the work: deleting or replacing it). Hooks are ``ctx``'s (the
    process's without a ctx); data ``{agent, reason, state}`` (``state`` of a definition is
    ``"stored"``). AfterAgentShutdown only observes.

    Raises:
        HookCancelled: a BeforeAgentShutdown hook refused; the agent is left as it was.
    """
    from ..hooks.registry import hooks_for, process_hooks

    hooks = hooks_for(ctx) if ctx is not None else (process_hooks() if process_hooks().live else None)

    async def finish() -> None:
        if close is not None:
            await close()
        elif isinstance(agent, BaseAgent):
            _terminate(agent)

    if hooks is None:
        await finish()
        return
    name = agent if isinstance(agent, str) else agent.name
    component = ("agent", name)

    def state() -> str:
        return "stored" if isinstance(agent, str) else str(getattr(agent, "state", "ready"))

    data = {"agent": name, "reason": reason, "state": state()}
    if hooks.chain("BeforeAgentShutdown"):
        await hooks.run("BeforeAgentShutdown", component, data, ctx)
    await finish()
    from ..hooks._fire import observe

    await observe(hooks, "AfterAgentShutdown", component, {**data, "state": state()}, ctx)


def capabilities_of(
    agent: BaseAgent, declared: Iterable[str] = (), lookup: Callable[[str], Iterable[str]] | None = None
) -> list[str]:
    """The capabilities :meth:`AgentRegistry.discover` matches for ``agent`` (sorted, unique).

    ``lookup(name)`` gives the declared capabilities of a composite's members.
    """
    found = set(declared)
    if isinstance(agent, LLMAgent):
        found.update(agent.capabilities())
        found.update(agent.config.tools)
    elif isinstance(agent, CompositeAgent):
        found.add(agent.kind)
        for member in agent.members.values():
            found.update(capabilities_of(member, lookup(member.name) if lookup else (), lookup))
    return sorted(found)


def agent_info(
    agent: BaseAgent, declared: Iterable[str] = (), lookup: Callable[[str], Iterable[str]] | None = None
) -> dict[str, Any]:
    """``{name, type, model, tools, state, capabilities[, agents]}`` of a live agent."""
    info: dict[str, Any] = {"name": agent.name, "type": "custom", "model": None, "tools": []}
    if isinstance(agent, LLMAgent):
        info.update(type="llm", model=agent.config.model, tools=list(agent.config.tools))
    elif isinstance(agent, CompositeAgent):
        info.update(type=agent.kind, agents=list(agent.members))
    info["state"] = getattr(agent, "state", "ready")
    info["capabilities"] = capabilities_of(agent, declared, lookup)
    return info


class AgentRegistry:
    """Live agents by name.

    Args:
        tools: the tool source given to agents built by :meth:`create`.
        settings: the configuration given to agents built by :meth:`create`.
    """

    def __init__(self, *, tools: ToolProvider | None = None, settings: Settings | None = None) -> None:
        self._tools = tools
        self._settings = settings
        self._agents: dict[str, BaseAgent] = {}
        self._declared: dict[str, tuple[str, ...]] = {}

    def register(
        self, agent: BaseAgent, *, capabilities: Iterable[str] = (), replace: bool = False
    ) -> BaseAgent:
        """Add ``agent`` under its name, with extra ``capabilities`` for discovery.

        Raises:
            Conflict: the name is taken and ``replace`` is false.
            ValidationError: ``agent`` is not an agent.
        """
        if not isinstance(agent, BaseAgent):
            raise ValidationError(f"only agents can be registered, not {type(agent).__name__}")
        if agent.name in self._agents and not replace:
            raise Conflict(
                f"an agent named {agent.name!r} already exists: pick another name or delete it first",
                details={"agent": agent.name},
            )
        declared = tuple(capabilities)
        if isinstance(capabilities, str) or not all(isinstance(c, str) for c in declared):
            raise ValidationError("capabilities must be a list of strings", details={"field": "capabilities"})
        self._agents[agent.name] = agent
        self._declared[agent.name] = declared
        return agent

    def create(
        self,
        config: AgentConfig | Mapping[str, Any],
        *,
        capabilities: Iterable[str] = (),
        replace: bool = False,
    ) -> LLMAgent:
        """Build an :class:`LLMAgent` from ``config`` (or its fields) and register it.

        Raises:
            ValidationError: a bad field; Conflict: the name is taken; ConfigError: a bad model spec.
        """
        if not isinstance(config, AgentConfig):
            try:
                config = AgentConfig(**dict(config))
            except TypeError as exc:
                raise ValidationError(f"unknown agent field ({exc})", details={"field": "agent"}) from exc
        if config.name in self._agents and not replace:
            raise Conflict(
                f"an agent named {config.name!r} already exists: pick another name or delete it first",
                details={"agent": config.name},
            )
        agent = LLMAgent(config, tools=self._tools, settings=self._settings)
        self.register(agent, capabilities=capabilities, replace=True)
        return agent

    def _declared_of(self, name: str) -> tuple[str, ...]:
        return self._declared.get(name, ())

    def get(self, name: str) -> BaseAgent:
        """The agent called ``name``. Raises NotFound."""
        agent = self._agents.get(name)
        if agent is None:
            raise NotFound.named("agent", name)
        return agent

    def find(self, name: str) -> BaseAgent | None:
        """The agent called ``name``, or None."""
        return self._agents.get(name)

    def list(self) -> list[BaseAgent]:
        """Every agent, in registration order."""
        return list(self._agents.values())

    def info(self, name: str) -> dict[str, Any]:
        """:func:`agent_info` of the agent called ``name``. Raises NotFound."""
        return agent_info(self.get(name), self._declared_of(name), self._declared_of)

    def capabilities(self, name: str) -> builtins.list[str]:
        """The capabilities of the agent called ``name``. Raises NotFound."""
        return capabilities_of(self.get(name), self._declared_of(name), self._declared_of)

    def discover(self, capability: str | None = None) -> builtins.list[BaseAgent]:
        """Agents having ``capability`` (every agent when None), in registration order."""
        if capability is None:
            return self.list()
        return [
            agent
            for name, agent in self._agents.items()
            if capability in capabilities_of(agent, self._declared_of(name), self._declared_of)
        ]

    def delete(self, name: str) -> BaseAgent:
        """Remove the agent called ``name`` and terminate it when it has a lifecycle.

        Raises:
            NotFound: no such agent.
        """
        agent = self._agents.pop(name, None)
        if agent is None:
            raise NotFound.named("agent", name)
        self._declared.pop(name, None)
        _terminate(agent)
        return agent

    async def shutdown(
        self, name: str, ctx: ExecutionContext | None, *, reason: str = "deleted"
    ) -> BaseAgent:
        """:meth:`delete` between the agent shutdown hook points (see :func:`shutdown_agent`).

        Raises:
            NotFound: no such agent.
            HookCancelled: a BeforeAgentShutdown hook refused; the agent stays registered.
        """
        agent = self.get(name)
        await shutdown_agent(agent, ctx, reason=reason)
        if self._agents.get(name) is agent:
            self._agents.pop(name)
            self._declared.pop(name, None)
        return agent

    async def aclose(self, ctx: ExecutionContext | None, *, reason: str = "run_end") -> None:
        """Shut every agent down (the owner is ending) and empty the registry.

        Hook failures and refusals are logged: the agents go away with their owner anyway.
        """
        agents, self._agents = list(self._agents.values()), {}
        self._declared = {}
        for agent in agents:
            try:
                await shutdown_agent(agent, ctx, reason=reason)
            except LLMSpellError as exc:
                log.info("shutting agent %r down at %s: %s", agent.name, reason, exc)
                _terminate(agent)

    def __contains__(self, name: object) -> bool:
        return name in self._agents

    def __len__(self) -> int:
        return len(self._agents)

    def __iter__(self) -> Iterator[str]:
        return iter(self._agents)

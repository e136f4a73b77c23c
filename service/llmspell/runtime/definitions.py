"""Stored agents and workflows of the daemon: definitions in the store, built per request.

:class:`AgentService` and :class:`WorkflowService` are what REST (``/v1/agents``,
``/v1/workflows``) and gRPC (``llmspell.v1.Agents``) call. A request builds fresh
agent objects from the stored definitions, so any replica can serve any request; with
a ``session_id`` the agent's conversation memory is kept in the state store under
scope ``session:<id>``, key ``agent:<name>:history``, and survives across requests and
replicas. API keys of definitions are stored but never returned.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Mapping
from typing import TYPE_CHECKING, Any

from ..core.aio import aclose_iterator
from ..core.context import ExecutionContext
from ..core.errors import LLMSpellError, NotFound, ValidationError
from ..events.abc import RunEvent
from ..events.agents import agent_completed, agent_failed, agent_started
from ..events.bus import InOrderPublisher, live_bus

if TYPE_CHECKING:
    from ..core.abc import BaseAgent, Workflow
    from ..core.config import Settings
    from ..storage.abc import Store
    from ..storage.records import DefinitionRecord
    from ..tools.registry import ToolRegistry

__all__ = ["AgentService", "WorkflowService", "definition_services"]

_MAX_DEPTH = 8


def _iso(record: DefinitionRecord) -> dict[str, Any]:
    return {
        "version": record.version,
        "created_at": record.created_at.isoformat(),
        "updated_at": record.updated_at.isoformat(),
    }


def _page_limit(limit: int) -> int:
    if limit < 1 or limit > 1000:
        raise ValidationError("limit must be between 1 and 1000", details={"field": "limit"})
    return limit


class AgentService:
    """Create, list, get, delete and execute the daemon's stored agents.

    Args:
        store: where definitions (and session memories) live.
        settings: model resolution, prices, limits and sandbox policy for executions.
        tools: the tool registry agents call (default: the built-in tools).
    """

    def __init__(
        self,
        store: Store,
        settings: Settings,
        *,
        tools: ToolRegistry | None = None,
        services: Mapping[str, Any] | None = None,
    ) -> None:
        self._store = store
        self._settings = settings
        self._tools = tools
        self._services = services if services is not None else {}

    @property
    def settings(self) -> Settings:
        """The daemon's settings (model resolution, prices, limits, sandbox policy)."""
        return self._settings

    @property
    def tools(self) -> ToolRegistry:
        """The tool registry (the process's built-in tools unless given)."""
        if self._tools is None:
            from ..tools.registry import default_registry

            self._tools = default_registry()
        return self._tools

    def context(self, session_id: str | None = None) -> ExecutionContext:
        """A fresh execution context with the daemon's limits, sandbox policy and the
        services its runs get (the event bus among them)."""
        return ExecutionContext(
            limits=self._settings.limits.to_limits(),
            policy=self._settings.sandbox.to_policy(),
            session_id=session_id,
            services=dict(self._services),
        )

    # ------------------------------------------------------------------ definitions

    def view(self, record: DefinitionRecord) -> dict[str, Any]:
        """The REST/gRPC shape of a stored agent (no API key: ``has_api_key`` instead)."""
        from ..agents.definition import public_definition

        return {**public_definition(record.definition), **_iso(record)}

    async def create(self, body: Mapping[str, Any]) -> dict[str, Any]:
        """Store an agent definition (a new version when the name exists).

        Raises:
            ValidationError: a malformed field, an unknown tool or an unknown member agent.
        """
        from ..agents.definition import normalize_definition

        definition = normalize_definition(body)
        for index, tool in enumerate(definition.get("tools", ())):
            try:
                self.tools.get(tool)
            except NotFound as exc:
                raise ValidationError(
                    f"tools[{index}]: no tool named {tool!r}; see GET /v1/tools", details={"field": "tools"}
                ) from exc
        for key in ("agents", "router"):
            names = definition.get(key)
            for member in [names] if isinstance(names, str) else names or ():
                try:
                    await self._store.agent_definitions.get(member)
                except NotFound as exc:
                    raise ValidationError(
                        f"{key}: no stored agent named {member!r}; create it first", details={"field": key}
                    ) from exc

        async def put() -> DefinitionRecord:
            return await self._store.agent_definitions.put(
                definition["name"], definition, definition.get("description", "")
            )

        if await self._stored_and_hooked(definition["name"]):
            # A new version replaces the stored agent: BeforeAgentShutdown may refuse it.
            from ..agents.registry import shutdown_agent

            records: list[DefinitionRecord] = []

            async def replace() -> None:
                records.append(await put())

            await shutdown_agent(definition["name"], self.context(), reason="replaced", close=replace)
            return self.view(records[0])
        return self.view(await put())

    async def get(self, name: str) -> dict[str, Any]:
        """A stored agent. Raises NotFound."""
        return self.view(await self._store.agent_definitions.get(name))

    async def list(self, *, limit: int = 100, cursor: str | None = None) -> dict[str, Any]:
        """``{items, next_cursor}`` ordered by name."""
        records, next_cursor = await self._store.agent_definitions.list(_page_limit(limit), cursor)
        return {"items": [self.view(record) for record in records], "next_cursor": next_cursor}

    async def delete(self, name: str) -> None:
        """Delete a stored agent (between the agent shutdown hook points). Raises NotFound,
        HookCancelled (a BeforeAgentShutdown hook refused)."""
        if await self._stored_and_hooked(name):
            from ..agents.registry import shutdown_agent

            stored = self._store.agent_definitions
            await shutdown_agent(name, self.context(), reason="deleted", close=lambda: stored.delete(name))
            return
        await self._store.agent_definitions.delete(name)

    async def _stored_and_hooked(self, name: str) -> bool:
        """True when agent shutdown hooks are registered and ``name`` is stored."""
        from ..hooks.registry import process_hooks

        hooks = process_hooks()
        if not (hooks.chain("BeforeAgentShutdown") or hooks.chain("AfterAgentShutdown")):
            return False
        try:
            await self._store.agent_definitions.get(name)
        except NotFound:
            return False
        return True

    # ------------------------------------------------------------------ building

    async def build(self, name: str) -> BaseAgent:
        """A fresh agent object for the stored definition ``name`` (composites resolved).

        Raises:
            NotFound: no such agent (or member).
            ValidationError: the composites nest deeper than 8 levels (a cycle).
        """
        from ..agents.definition import agent_from_definition

        return await agent_from_definition(
            await self._load(name), self._load, tools=self.tools, settings=self._settings
        )

    async def find(self, name: str) -> BaseAgent | None:
        """Like :meth:`build`, but None when no agent ``name`` is stored.

        Raises:
            NotFound: a member of the stored composite ``name`` is not stored.
            ValidationError: the composites nest deeper than 8 levels (a cycle).
        """
        try:
            definition = await self._load(name)
        except NotFound:
            return None
        from ..agents.definition import agent_from_definition

        return await agent_from_definition(definition, self._load, tools=self.tools, settings=self._settings)

    async def _load(self, name: str) -> dict[str, Any]:
        return (await self._store.agent_definitions.get(name)).definition

    # ------------------------------------------------------------------ executing

    def _memory_key(self, name: str) -> str:
        return f"agent:{name}:history"

    async def _recall(self, agent: BaseAgent, session_id: str | None) -> None:
        from ..agents.llm_agent import LLMAgent

        if session_id is None or not isinstance(agent, LLMAgent):
            return
        entry = await self._store.state.get(f"session:{session_id}", self._memory_key(agent.name))
        if entry is not None and isinstance(entry.value, list):
            agent.load_history(entry.value)

    async def _remember(self, agent: BaseAgent, session_id: str | None) -> None:
        import json

        from ..agents.llm_agent import LLMAgent

        if session_id is None or not isinstance(agent, LLMAgent):
            return
        history = [m for m in agent.history() if m.get("role") != "system"]
        size = len(json.dumps(history, default=str).encode())
        await self._store.state.put(f"session:{session_id}", self._memory_key(agent.name), history, size=size)

    async def execute(self, name: str, input: Any, *, session_id: str | None = None) -> dict[str, Any]:
        """Run the stored agent ``name`` on ``input`` (a string or ``{text, media, parameters}``).

        Returns:
            ``{text, tool_calls, usage, cost, model, finish_reason, metadata}``.

        Raises:
            NotFound: no such agent; ValidationError: bad input; ProviderError,
            LimitExceeded, Timeout: the agent failed.
        """
        from ..workflows.host import to_agent_input

        request = to_agent_input(_check_input(input))
        agent = await self.build(name)
        await self._recall(agent, session_id)
        ctx = self.context(session_id)
        await agent_started(ctx, name)
        try:
            output = await agent.execute(request, ctx)
        except Exception as exc:
            await agent_failed(ctx, name, exc)
            raise
        finally:
            await _request_end(agent, ctx)
        await agent_completed(ctx, name, output.usage.to_dict())
        await self._remember(agent, session_id)
        return output.to_dict()

    async def stream(
        self, name: str, input: Any, *, session_id: str | None = None
    ) -> AsyncIterator[RunEvent]:
        """``token`` events (``{text}``) of the answer, then ``end`` with the whole output.

        A failure after the stream began is an ``error`` event (``{code, message, details}``)
        followed by ``end`` (``{status: "failed"}``); failures before it (unknown agent,
        bad input) raise as :meth:`execute`.
        """
        from ..core.abc import Agent
        from ..workflows.host import to_agent_input

        request = to_agent_input(_check_input(input))
        agent = await self.build(name)
        await self._recall(agent, session_id)
        stream_id = f"agent-{name}-{time.time_ns()}"
        seq = 0

        def event(kind: str, data: dict[str, Any]) -> RunEvent:
            nonlocal seq
            seq += 1
            return RunEvent(run_id=stream_id, id=seq, event=kind, data=data)

        ctx = self.context(session_id)
        await agent_started(ctx, name)
        try:
            if isinstance(agent, Agent):
                deltas = agent.stream(request, ctx)
                try:
                    async for delta in deltas:
                        if delta:
                            yield event("token", {"text": delta})
                finally:
                    await aclose_iterator(deltas)
                output = getattr(agent, "last_output", None)
            else:
                output = await agent.execute(request, ctx)
                yield event("token", {"text": output.text})
            await self._remember(agent, session_id)
        except LLMSpellError as exc:
            await agent_failed(ctx, name, exc)
            yield event("error", exc.to_dict())
            yield event("end", {"status": "failed"})
            return
        finally:
            await _request_end(agent, ctx)
        result = output.to_dict() if output is not None else {}
        await agent_completed(ctx, name, result.get("usage", {}))
        yield event("end", {"status": "succeeded", "output": result})


async def _request_end(agent: BaseAgent, ctx: ExecutionContext) -> None:
    """Shut the agent a request built down (reason ``request_end``); never fails the request."""
    from ..hooks.registry import hooks_for

    if hooks_for(ctx) is None:
        return
    from ..agents.registry import shutdown_agent

    try:
        await shutdown_agent(agent, ctx, reason="request_end")
    except LLMSpellError as exc:
        import logging

        logging.getLogger("llmspell.runtime").info("agent shutdown hook after a request: %s", exc)


def _check_input(value: Any) -> Any:
    if value is None:
        raise ValidationError(
            "input is required: a string or {text, media, parameters}", details={"field": "input"}
        )
    return value


class WorkflowService:
    """Create, list, get, delete and execute the daemon's stored workflows.

    Definitions are the table form of the script API as JSON. Steps reference tools by
    name, stored agents by name (``{"agent": "researcher"}``), and stored workflows by
    name (``{"workflow": "other"}``).

    An execution resolves agent names as a script run's workflow does: when a step first
    needs one (a branch never taken reads nothing; an unknown name fails its step with
    ``NOT_FOUND``), building it once for the whole request (every step of that name, nested
    stored workflows included, asks the same agent), and shuts the agents it built down
    at the end (reason ``request_end``), as ``/v1/agents/{name}/execute`` does.

    Args:
        store: where definitions live.
        agents: builds the stored agents steps refer to.
    """

    def __init__(self, store: Store, agents: AgentService) -> None:
        self._store = store
        self._agents = agents

    def view(self, record: DefinitionRecord) -> dict[str, Any]:
        """``{name, type, description, definition, version, created_at, updated_at}``."""
        return {
            "name": record.name,
            "type": record.definition.get("type"),
            "description": record.description,
            "definition": record.definition,
            **_iso(record),
        }

    async def create(self, name: Any, definition: Any, description: str | None = None) -> dict[str, Any]:
        """Check and store a workflow definition (a new version when the name exists).

        Raises:
            ValidationError: a malformed definition (``details.field`` names where).
        """
        from ..workflows.definition import workflow_from_definition

        if not isinstance(name, str) or not name.strip() or "/" in name:
            raise ValidationError("name must be a non-empty string without '/'", details={"field": "name"})
        if not isinstance(definition, Mapping):
            raise ValidationError(
                "definition must be a workflow object {type, steps, ...}", details={"field": "definition"}
            )
        stored = {**definition, "name": definition.get("name") or name}
        try:
            workflow_from_definition(stored)
        except ValidationError as exc:
            field = exc.details.get("field")
            raise ValidationError(
                f"definition: {exc.message}", details={**exc.details, "field": f"definition.{field}"}
            ) from exc
        text = description if description is not None else str(definition.get("description") or "")
        return self.view(await self._store.workflow_definitions.put(name, stored, text))

    async def get(self, name: str) -> dict[str, Any]:
        """A stored workflow. Raises NotFound."""
        return self.view(await self._store.workflow_definitions.get(name))

    async def list(self, *, limit: int = 100, cursor: str | None = None) -> dict[str, Any]:
        """``{items, next_cursor}`` ordered by name."""
        records, next_cursor = await self._store.workflow_definitions.list(_page_limit(limit), cursor)
        return {"items": [self.view(record) for record in records], "next_cursor": next_cursor}

    async def delete(self, name: str) -> None:
        """Delete a stored workflow. Raises NotFound."""
        await self._store.workflow_definitions.delete(name)

    async def _collect(self, definition: Any, workflows: dict[str, Workflow], depth: int) -> None:
        """Build every stored workflow that ``definition`` names, recursively (agents are
        built when a step needs them)."""
        from ..workflows.definition import workflow_from_definition

        if isinstance(definition, list):
            for item in definition:
                await self._collect(item, workflows, depth)
            return
        if not isinstance(definition, dict):
            return
        nested = definition.get("workflow")
        if isinstance(nested, str) and nested not in workflows:
            if depth > _MAX_DEPTH:
                raise ValidationError(
                    f"workflow {nested!r} nests stored workflows more than {_MAX_DEPTH} deep (a cycle?)"
                )
            stored = (await self._store.workflow_definitions.get(nested)).definition
            workflows[nested] = workflow_from_definition(stored)
            await self._collect(stored, workflows, depth + 1)
        for key, value in definition.items():
            if key not in ("input", "params") and isinstance(value, dict | list):
                await self._collect(value, workflows, depth)

    async def execute(self, name: str, input: Any = None) -> dict[str, Any]:
        """Run the stored workflow ``name``.

        Returns:
            ``{success, output, outputs, errors, duration_ms, execution_id}``; a step naming
            an agent that is not stored fails (``NOT_FOUND`` in ``errors``).

        Raises:
            NotFound: no such workflow, or a stored workflow it names.
        """
        from ..workflows.definition import workflow_from_definition
        from ..workflows.host import LocalHost

        definition = (await self._store.workflow_definitions.get(name)).definition
        workflows: dict[str, Workflow] = {}
        await self._collect(definition, workflows, 0)
        workflow = workflow_from_definition(definition)
        ctx = self._agents.context()
        events = InOrderPublisher(ctx, "workflow")
        host = LocalHost(
            tools=self._agents.tools,
            find_agent=self._agents.find,
            workflows=workflows,
            settings=self._agents.settings,
            emit=(lambda data: events.publish(data["type"], _without_type(data))) if live_bus(ctx) else None,
        )
        try:
            return await workflow.execute(input, ctx, host=host)
        finally:
            await events.drain()
            for agent in host.agents.values():
                await _request_end(agent, ctx)


def _without_type(data: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in data.items() if key != "type"}


def definition_services(control: object) -> tuple[AgentService, WorkflowService]:
    """The agent and workflow services of a control plane (its ``agents``/``workflows``).

    Raises:
        ConfigError: the control plane has none (it is not a daemon with a store).
    """
    from ..core.errors import ConfigError

    agents, workflows = getattr(control, "agents", None), getattr(control, "workflows", None)
    if not isinstance(agents, AgentService) or not isinstance(workflows, WorkflowService):
        raise ConfigError("this server has no agent/workflow services (it needs a daemon with a store)")
    return agents, workflows

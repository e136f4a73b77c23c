"""``Workflow``: build workflows from tables or a builder, run them, offer them as tools.

Workflows run against a host bound to the script's run: tools come from the run's
toolbox (so ``Tool.register`` and ``agent:as_tool`` tools are usable), agents named by
steps (``agent="name"``) are found as ``Agent.get`` finds them (the run's agent of that
name, else the host's stored agent, fetched into the run when the step first runs), and
events go to the run's event stream. Workflows created by a run are known to that run
by name (``Workflow.get/list`` and ``workflow="name"`` steps).

Stored workflows: when the host hands the run its store (``ctx.services["store"]``, with
``"store_loop"``; the daemon does so for every run), reached the way stored agents reach
it (:mod:`.agent`), a name the run has no workflow of is looked up among the store's
workflow definitions (``POST /v1/workflows``). ``Workflow.get`` and ``workflow="name"``
steps build such a workflow from its definition under its stored name and adopt it into
the run (later lookups get the same object); its steps run against this run's host, so
their agents are the run's own, else the stored ones, and their ``workflow="name"`` steps
are resolved the same way when they run. ``Workflow.list`` shows the stored workflows the
run has not adopted after the run's own. The run's own workflow of a name always wins, and
nothing is read from the store until a script asks for a name the run lacks (or lists
workflows); without a store given by the host (``llmspell run``) only the run's workflows
exist. An unknown name is nil for ``Workflow.get`` and fails a step with ``NOT_FOUND``.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any, ClassVar, Literal

from ...core.abc import BaseAgent
from ...core.abc import Workflow as WorkflowABC
from ...core.context import ExecutionContext
from ...core.errors import NotFound, ValidationError
from ...events.bus import InOrderPublisher, live_bus
from .agent import ScriptAgent, create_agent, lookup
from .stored import stored_definitions
from .surface import ApiNamespace, ApiObject, ScriptEnv
from .tool import toolbox

if TYPE_CHECKING:
    from ...storage.records import DefinitionRecord
    from ...workflows import BaseWorkflow, WorkflowBuilder, WorkflowHost

__all__ = ["ScriptWorkflow", "ScriptWorkflowBuilder", "build", "script_host"]

_BUILDER_METHODS = (
    "name",
    "description",
    "type",
    "sequential",
    "parallel",
    "conditional",
    "loop",
    "add_step",
    "add_branch",
    "default",
    "match",
    "error_strategy",
    "retry",
    "max_concurrency",
    "fail_fast",
    "timeout",
    "range",
    "collection",
    "while_",
    "break_if",
    "max_iterations",
    "aggregate",
)


def _workflows(env: ScriptEnv) -> dict[str, ScriptWorkflow]:
    workflows: dict[str, ScriptWorkflow] = env.service("workflows", dict)
    return workflows


async def _stored_record(env: ScriptEnv, ctx: ExecutionContext, name: str) -> DefinitionRecord | None:
    """The stored workflow ``name``; None when not stored or the host gave the run no store.

    Raises:
        StorageError: the store could not be read.
    """
    stored = stored_definitions(env, ctx)
    if stored is None:
        return None
    try:
        return await stored.get("workflow", name)
    except NotFound:
        return None


async def _stored_records(env: ScriptEnv, ctx: ExecutionContext) -> list[DefinitionRecord]:
    """Every stored workflow in name order; empty when the host gave the run no store."""
    stored = stored_definitions(env, ctx)
    return [] if stored is None else await stored.all("workflow")


async def find(env: ScriptEnv, ctx: ExecutionContext, name: str) -> ScriptWorkflow | None:
    """``Workflow.get(name)``: the run's workflow, else the host's stored one (built and
    adopted under ``name``), else None.

    Raises:
        StorageError: the store could not be read.
        ValidationError: the stored definition no longer builds.
    """
    own = _workflows(env).get(name)
    if own is not None:
        return own
    record = await _stored_record(env, ctx, name)
    if record is None:
        return None
    raced = _workflows(env).get(name)
    if raced is not None:  # another task of the run created or fetched it meanwhile
        return raced
    from ...workflows import workflow_from_definition

    definition = {**record.definition, "name": name, "description": record.description}
    workflow = ScriptWorkflow(env, ctx, workflow_from_definition(definition, resolve=_resolve))
    _workflows(env)[name] = workflow
    return workflow


def _agent_value(value: Any) -> Any:
    """The step input as an agent input: text, a ``{text=...}`` table, or JSON text."""
    if isinstance(value, str) or (isinstance(value, dict) and ("text" in value or "prompt" in value)):
        return value
    return json.dumps(value, ensure_ascii=False, default=str)


def script_host(env: ScriptEnv, ctx: ExecutionContext) -> WorkflowHost:
    """The run's workflow host (created on first use)."""
    from ...workflows import WorkflowHost

    class ScriptHost(WorkflowHost):
        """Tools from the run's toolbox, agents as ``Agent.get``, the run's workflows and events."""

        @property
        def emits(self) -> bool:
            return env.emit is not None or live_bus(ctx)

        def emit(self, data: dict[str, Any]) -> None:
            env.event("workflow", data)
            if live_bus(ctx):
                _publish_later(env, ctx, data)

        async def invoke_tool(
            self, name: str, params: dict[str, Any], ctx: ExecutionContext
        ) -> dict[str, Any]:
            box = toolbox(env)
            tool = box.get(name)
            env.event("tool", {"name": tool.name, "status": "started"})
            try:
                result = await box.invoke(tool.name, params, ctx)
            except Exception as exc:
                env.event("tool", {"name": tool.name, "status": "failed", "error": str(exc)})
                raise
            env.event("tool", {"name": tool.name, "status": "completed"})
            return result

        def check_agent(self, agent: Any) -> None:
            if not isinstance(agent, str | dict | ScriptAgent | BaseAgent):
                raise ValidationError(
                    "agent must be an agent (Agent.create{...}), its name or a definition table",
                    details={"field": "agent"},
                )

        async def run_agent(self, agent: Any, input: Any, ctx: ExecutionContext) -> dict[str, Any]:
            value = _agent_value(input)
            if isinstance(agent, ScriptAgent):
                return await agent.execute(value)
            if isinstance(agent, str):
                found = await lookup(env, ctx, agent)
                if found is None:
                    raise NotFound.named("agent", agent)
                return await found.execute(value)
            if isinstance(agent, dict):
                return await (await create_agent(env, ctx, dict(agent))).execute(value)
            if isinstance(agent, BaseAgent):
                from ...workflows import to_agent_input

                output = await agent.execute(to_agent_input(value), ctx)
                env.add_usage(output.usage, output.cost)
                return output.to_dict()
            self.check_agent(agent)
            raise AssertionError("unreachable")

        async def find_workflow(self, name: str) -> WorkflowABC | None:
            found = await find(env, ctx, name)
            return None if found is None else found.workflow

    host: WorkflowHost = env.service("workflow_host", ScriptHost)
    return host


def _publish_later(env: ScriptEnv, ctx: ExecutionContext, data: dict[str, Any]) -> None:
    """Publish workflow event ``data`` (``workflow.step.started``...) on the run's bus, in
    order; the run's end waits for the last."""
    publisher: InOrderPublisher | None = env.services.get("workflow_events")
    if publisher is None:
        publisher = env.services["workflow_events"] = InOrderPublisher(ctx, "workflow")
        env.on_end(publisher.drain)
    publisher.publish(str(data["type"]), {key: value for key, value in data.items() if key != "type"})


def _resolve(kind: Literal["agent", "workflow"], value: Any, field: str) -> Any:
    if kind == "agent":
        if isinstance(value, ScriptAgent | BaseAgent):
            return value
        raise ValidationError(
            f"{field} must be an agent (Agent.builder()...:build()), an agent name or a definition table",
            details={"field": field},
        )
    if isinstance(value, ScriptWorkflow):
        return value.workflow
    if isinstance(value, WorkflowABC):
        return value
    raise ValidationError(
        f"{field} must be a workflow (Workflow.sequential{{...}}...), a workflow name or a definition table",
        details={"field": field},
    )


class ScriptWorkflow(ApiObject):
    """A workflow as scripts see it."""

    api_type = "Workflow"
    api_methods: ClassVar[dict[str, str]] = {
        "execute": "execute",
        "run": "execute",
        "invoke": "execute",
        "as_tool": "as_tool",
        "name": "name",
        "type": "type",
        "describe": "describe",
    }

    def __init__(self, env: ScriptEnv, ctx: ExecutionContext, workflow: BaseWorkflow) -> None:
        self._env = env
        self._ctx = ctx
        self.workflow = workflow

    def name(self) -> str:
        return self.workflow.name

    def type(self) -> str:
        return self.workflow.kind

    def describe(self) -> dict[str, Any]:
        return self.workflow.describe()

    async def execute(self, input: Any = None) -> dict[str, Any]:
        result = await self.workflow.run(input, self._ctx, script_host(self._env, self._ctx))
        return result.to_dict()

    def as_tool(self, name: str | None = None) -> dict[str, Any]:
        from ...workflows import WorkflowTool

        tool = WorkflowTool(self.workflow, script_host(self._env, self._ctx), name)
        toolbox(self._env).register(tool, replace=True)
        return {"name": tool.name, "category": tool.category, "description": tool.description}


def create_workflow(
    env: ScriptEnv, ctx: ExecutionContext, spec: Any, kind: str | None = None
) -> ScriptWorkflow:
    """Build, register and return a workflow from its table form."""
    from ...workflows import workflow_from_definition

    if not isinstance(spec, dict):
        raise ValidationError(f"Workflow.{kind or 'create'} expects a table {{name=, steps={{...}}, ...}}")
    spec = dict(spec)
    if spec.get("name") is None:
        spec["name"] = f"{kind or spec.get('type') or 'workflow'}-{len(_workflows(env)) + 1}"
    workflow = ScriptWorkflow(env, ctx, workflow_from_definition(spec, kind=kind, resolve=_resolve))
    _workflows(env)[workflow.name()] = workflow
    return workflow


class ScriptWorkflowBuilder(ApiObject):
    """``Workflow.builder():name(s):sequential():add_step{...}:build()``."""

    api_type = "WorkflowBuilder"
    api_methods: ClassVar[dict[str, str]] = {
        **{name: name for name in _BUILDER_METHODS},
        "while": "while_",
        "build": "build",
    }

    def __init__(self, env: ScriptEnv, ctx: ExecutionContext) -> None:
        from ...workflows import WorkflowBuilder

        self._env = env
        self._ctx = ctx
        self._builder: WorkflowBuilder = WorkflowBuilder()

    def __getattr__(self, attr: str) -> Any:
        if attr in _BUILDER_METHODS:
            method = getattr(self._builder, attr)

            def call(*args: Any) -> ScriptWorkflowBuilder:
                method(*args)
                return self

            return call
        raise AttributeError(attr)

    def build(self) -> ScriptWorkflow:
        spec = self._builder.definition()
        spec.setdefault("type", "sequential")
        return create_workflow(self._env, self._ctx, spec)


def build(env: ScriptEnv, ctx: ExecutionContext) -> list[ApiNamespace]:
    def maker(kind: str) -> Any:
        return lambda spec=None: create_workflow(env, ctx, spec, kind)

    async def list_workflows() -> list[dict[str, Any]]:
        own = _workflows(env)
        infos: list[dict[str, Any]] = [
            {"name": wf.name(), "type": wf.type(), "description": wf.workflow.description}
            for wf in own.values()
        ]
        infos += [
            {"name": record.name, "type": record.definition.get("type"), "description": record.description}
            for record in await _stored_records(env, ctx)
            if record.name not in own
        ]
        return infos

    async def get(name: Any) -> ScriptWorkflow | None:
        return await find(env, ctx, str(name))

    def types() -> list[str]:
        from ...workflows import TYPES

        return list(TYPES)

    ns = ApiNamespace(name="Workflow")
    for kind in ("sequential", "parallel", "conditional", "loop"):
        ns.add(maker(kind), kind)
    ns.add(lambda spec=None: create_workflow(env, ctx, spec), "create", "new")
    ns.add(lambda: ScriptWorkflowBuilder(env, ctx), "builder")
    ns.add(list_workflows, "list")
    ns.add(get, "get")
    ns.add(types, "types")
    return [ns]

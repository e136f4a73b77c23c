"""The four kinds of step: tool, agent, nested workflow and function."""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from ..core.errors import NotFound, ValidationError, error_from_code
from ._base import BaseWorkflow, Nested
from ._templates import Renderer, compile_value
from .abc import Step

if TYPE_CHECKING:
    from ..core.abc import Workflow
    from ._base import Execution, Scope

__all__ = ["AgentStep", "FunctionStep", "ToolStep", "WorkflowStep", "call_function"]


async def call_function(fn: Callable[..., Any], *args: Any) -> Any:
    """Call a script function or a Python callable (sync or async) and return its result."""
    result = fn(*args)
    if inspect.isawaitable(result):
        result = await result
    return result


class _BaseStep(Step):
    """Name, options and the compiled ``input`` shared by every kind of step."""

    def __init__(
        self,
        *,
        name: str,
        input: Any = None,
        timeout: float | None = None,
        retries: int | None = None,
        required: bool = True,
        description: str = "",
    ) -> None:
        self.name = name
        self.timeout = timeout
        self.retries = retries
        self.required = required
        self.description = description
        self.input = input
        self._render: Renderer | None
        self._render, self._constant = compile_value(input, f"steps.{name}.input")

    def render(self, scope: Scope) -> Any:
        """The step's input with templates resolved against ``scope``."""
        if self._render is None:
            return self._constant
        return self._render(scope)

    def _options(self) -> dict[str, Any]:
        data: dict[str, Any] = {"name": self.name}
        if self.input is not None:
            data["input"] = self.input
        if self.timeout is not None:
            data["timeout"] = self.timeout
        if self.retries is not None:
            data["retries"] = self.retries
        if not self.required:
            data["required"] = False
        if self.description:
            data["description"] = self.description
        return data


class ToolStep(_BaseStep):
    """Invoke a tool with the step's ``input`` as parameters; the output is the tool envelope."""

    kind = "tool"

    def __init__(self, *, tool: str, **options: Any) -> None:
        super().__init__(**options)
        self.tool = tool

    async def run(self, ex: Execution, scope: Scope) -> Any:
        params = self.render(scope)
        if params is None:
            params = {}
        if not isinstance(params, dict):
            raise ValidationError(
                f"step {self.name!r}: tool parameters must be a table of named values, "
                f"got {type(params).__name__}",
                details={"step": self.name, "field": "input"},
            )
        return await ex.host.invoke_tool(self.tool, params, ex.ctx)

    def describe(self) -> dict[str, Any]:
        return {**self._options(), "tool": self.tool}


class AgentStep(_BaseStep):
    """Ask an agent; the input defaults to the workflow's input; the output is the agent output."""

    kind = "agent"

    def __init__(self, *, agent: Any, **options: Any) -> None:
        if options.get("input") is None:
            options["input"] = "{{input}}"
        super().__init__(**options)
        self.agent = agent

    async def run(self, ex: Execution, scope: Scope) -> Any:
        return await ex.host.run_agent(self.agent, self.render(scope), ex.ctx)

    def describe(self) -> dict[str, Any]:
        agent = self.agent
        if not isinstance(agent, str | dict):
            name = getattr(agent, "name", "")
            agent = f"<agent {name() if callable(name) else name}>"
        return {**self._options(), "agent": agent}


class WorkflowStep(_BaseStep):
    """Run a nested workflow (an object or a registered name).

    Its input is the step's ``input``, or the enclosing workflow's input when absent. The
    step's output is the nested workflow's ``output``; its ``outputs`` are kept too
    (``{{steps.<name>.outputs.<step>}}``). A failed nested workflow fails the step with
    the nested workflow's first error.
    """

    kind = "workflow"

    def __init__(self, *, workflow: Workflow | str, **options: Any) -> None:
        super().__init__(**options)
        self.workflow = workflow

    async def _target(self, ex: Execution) -> Workflow:
        if not isinstance(self.workflow, str):
            return self.workflow
        found = await ex.host.find_workflow(self.workflow)
        if found is None:
            raise NotFound(
                f"step {self.name!r}: no workflow named {self.workflow!r}; create it before running this one",
                details={"kind": "workflow", "name": self.workflow, "step": self.name},
            )
        return found

    async def run(self, ex: Execution, scope: Scope) -> Any:
        target = await self._target(ex)
        value = scope.input if self.input is None else self.render(scope)
        if isinstance(target, BaseWorkflow):
            result = (await target.run(value, ex.ctx, ex.host, depth=ex.depth + 1)).to_dict()
        else:
            result = await target.execute(value, ex.ctx)
        if not result.get("success"):
            errors = result.get("errors") or []
            first = errors[0] if errors else {"code": "INTERNAL", "message": "failed", "step": "?"}
            raise error_from_code(
                str(first.get("code", "INTERNAL")),
                f"workflow {target.name!r} failed at step {first.get('step')!r}: {first.get('message')}",
                {"step": self.name, "errors": errors},
            )
        return Nested(result.get("output"), dict(result.get("outputs") or {}))

    def describe(self) -> dict[str, Any]:
        workflow = self.workflow
        described: Any = workflow if isinstance(workflow, str) else _describe_workflow(workflow)
        return {**self._options(), "workflow": described}


def _describe_workflow(workflow: Workflow) -> Any:
    if isinstance(workflow, BaseWorkflow):
        return workflow.describe()
    return f"<workflow {workflow.name}>"


class FunctionStep(_BaseStep):
    """Call ``fn(ctx)`` (a script function or a Python callable); its return value is the output.

    ``ctx`` holds ``input``, ``steps`` (records ``{output}``), ``loop`` (inside loops),
    ``workflow``, ``execution_id``, ``step`` and, when the step has an
    ``input``, the rendered value as ``params``.
    """

    kind = "fn"

    def __init__(self, *, fn: Callable[..., Any], **options: Any) -> None:
        super().__init__(**options)
        self.fn = fn

    async def run(self, ex: Execution, scope: Scope) -> Any:
        params = None if self.input is None else self.render(scope)
        return await call_function(self.fn, scope.context(step=self.name, params=params))

    def describe(self) -> dict[str, Any]:
        return {**self._options(), "fn": "<function>"}

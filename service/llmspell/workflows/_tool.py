"""A workflow offered as a tool (to agents, or to ``Tool.execute``)."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from ..core.abc import Tool
from ..core.errors import ToolError, error_from_code
from ._base import BaseWorkflow

if TYPE_CHECKING:
    from ..core.context import ExecutionContext
    from .abc import WorkflowHost

__all__ = ["WorkflowTool", "tool_name"]


def tool_name(workflow_name: str) -> str:
    """The default tool name of a workflow: ``workflow-<name>`` in kebab-case."""
    slug = re.sub(r"[^a-z0-9]+", "-", workflow_name.lower()).strip("-") or "unnamed"
    return f"workflow-{slug}"


class WorkflowTool(Tool):
    """Runs the workflow with ``{input}`` as its input; the tool's result is the workflow's output.

    A workflow that does not succeed fails the tool with its first error's code.
    """

    category = "workflow"
    security_level = "safe"
    timeout_s = 3600.0  # the run's deadline and the steps' own timeouts bound it
    schema = {
        "type": "object",
        "properties": {"input": {"description": "The workflow's input (text or a JSON value)"}},
        "additionalProperties": False,
    }

    def __init__(self, workflow: BaseWorkflow, host: WorkflowHost, name: str | None = None) -> None:
        self.name = name or tool_name(workflow.name)
        self.description = workflow.description or f"Run the {workflow.kind} workflow {workflow.name!r}"
        self.workflow = workflow
        self._host = host

    async def invoke(self, params: dict[str, Any], ctx: ExecutionContext) -> Any:
        result = await self.workflow.run(params.get("input"), ctx, self._host)
        if not result.success:
            if not result.errors:
                raise ToolError(f"workflow {self.workflow.name!r} failed")
            first = result.errors[0]
            raise error_from_code(
                first["code"],
                f"workflow {self.workflow.name!r} failed at step {first['step']!r}: {first['message']}",
                {"errors": result.errors},
            )
        return result.output

"""Workflows: sequential, parallel, conditional and loop compositions of steps.

Steps are tool calls, agent calls, nested workflows and functions; inputs pass data with
``{{...}}`` templates. Build a workflow from its table/JSON form, the builder, or the
classes, and run it with a host (``LocalHost`` from Python)::

    from llmspell.workflows import workflow_from_definition

    wf = workflow_from_definition({
        "type": "sequential", "name": "calc",
        "steps": [{"name": "add", "tool": "calculator", "input": {"input": "{{input}}"}}],
    })
    result = await wf.execute("1 + 2")   # {"success": True, "output": {...}, ...}
"""

from __future__ import annotations

from ._base import BaseWorkflow, ErrorStrategy, WorkflowResult
from ._builder import WorkflowBuilder
from ._conditional import ConditionalWorkflow, GuardedBranch
from ._conditions import Condition, compile_condition
from ._loop import LoopWorkflow, RangeSpec
from ._parallel import Branch, ParallelWorkflow
from ._sequential import SequentialWorkflow
from ._steps import AgentStep, FunctionStep, ToolStep, WorkflowStep
from ._tool import WorkflowTool, tool_name
from .abc import Step, WorkflowHost
from .definition import TYPES, ObjectResolver, parse_error_strategy, workflow_from_definition
from .host import LocalHost, to_agent_input

__all__ = [
    "TYPES",
    "AgentStep",
    "BaseWorkflow",
    "Branch",
    "Condition",
    "ConditionalWorkflow",
    "ErrorStrategy",
    "FunctionStep",
    "GuardedBranch",
    "LocalHost",
    "LoopWorkflow",
    "ObjectResolver",
    "ParallelWorkflow",
    "RangeSpec",
    "SequentialWorkflow",
    "Step",
    "ToolStep",
    "WorkflowBuilder",
    "WorkflowHost",
    "WorkflowResult",
    "WorkflowStep",
    "WorkflowTool",
    "compile_condition",
    "parse_error_strategy",
    "to_agent_input",
    "tool_name",
    "workflow_from_definition",
]

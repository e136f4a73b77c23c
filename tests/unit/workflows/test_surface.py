"""The public surface of llmspell.workflows."""

from __future__ import annotations

import llmspell.workflows as workflows


def test_public_names() -> None:
    assert sorted(workflows.__all__) == sorted(
        [
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
    )
    for name in workflows.__all__:
        assert getattr(workflows, name) is not None
    assert workflows.TYPES == ("sequential", "parallel", "conditional", "loop")

"""Sequential workflows: steps one after another, each seeing the outputs before it."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ._base import BaseWorkflow, Execution, Scope, run_steps
from .abc import Step

__all__ = ["SequentialWorkflow"]


class SequentialWorkflow(BaseWorkflow):
    """Run ``steps`` in order; ``output`` is the last step's, ``outputs`` maps step → output.

    Args:
        steps: the steps, names unique.
        **options: ``name``, ``description``, ``error_strategy``, ``timeout``.
    """

    kind = "sequential"

    def __init__(self, *, steps: Sequence[Step], **options: Any) -> None:
        super().__init__(**options)
        self.steps = tuple(steps)

    async def _body(self, ex: Execution, scope: Scope) -> tuple[bool, Any, dict[str, Any]]:
        ok, output = await run_steps(self.steps, ex, scope)
        return ok, output, {name: record["output"] for name, record in scope.steps.items()}

    def _describe_body(self) -> dict[str, Any]:
        return {"steps": [step.describe() for step in self.steps]}

"""Conditional workflows: branches guarded by conditions, first-match or all-match."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

from ._base import BaseWorkflow, Execution, Scope, run_steps
from ._conditions import Condition
from .abc import Step

__all__ = ["ConditionalWorkflow", "GuardedBranch", "MatchMode"]

MatchMode = Literal["first", "all"]


@dataclass(frozen=True, kw_only=True, slots=True)
class GuardedBranch:
    """Steps that run when ``when`` holds.

    Attributes:
        name: the branch's name (events and ``describe``).
        when: the guard.
        steps: run in order when the guard holds.
    """

    name: str
    when: Condition
    steps: tuple[Step, ...]

    def describe(self) -> dict[str, Any]:
        """JSON form."""
        return {"name": self.name, "when": self.when.describe(), "steps": [s.describe() for s in self.steps]}


class ConditionalWorkflow(BaseWorkflow):
    """Run the first branch whose condition holds (``match="first"``) or every such branch
    in order (``match="all"``); ``default`` runs when none holds.

    Conditions are evaluated against the workflow's input (and, under ``match="all"``,
    the outputs of branches already run). ``output`` is the last step's output of the last
    branch run (None when nothing ran); ``outputs`` maps each step that ran to its output.

    Args:
        branches: the guarded branches, in order.
        default: steps run when no condition holds (may be empty).
        match: ``first`` or ``all``.
        **options: ``name``, ``description``, ``error_strategy``, ``timeout``.
    """

    kind = "conditional"

    def __init__(
        self,
        *,
        branches: Sequence[GuardedBranch],
        default: Sequence[Step] = (),
        match: MatchMode = "first",
        **options: Any,
    ) -> None:
        super().__init__(**options)
        self.branches = tuple(branches)
        self.default = tuple(default)
        self.match = match

    async def _body(self, ex: Execution, scope: Scope) -> tuple[bool, Any, dict[str, Any]]:
        ok, output, matched = True, None, False
        for branch in self.branches:
            if not await branch.when.test(scope):
                continue
            matched = True
            ex.event("branch.selected", branch.name)
            branch_ok, output = await run_steps(branch.steps, ex, scope)
            ok = ok and branch_ok
            if self.match == "first" or (not branch_ok and ex.strategy.kind != "continue"):
                break
        if not matched and self.default:
            ex.event("branch.selected", "default")
            ok, output = await run_steps(self.default, ex, scope)
        return ok, output, {name: record["output"] for name, record in scope.steps.items()}

    def _describe_body(self) -> dict[str, Any]:
        data: dict[str, Any] = {"match": self.match, "branches": [b.describe() for b in self.branches]}
        if self.default:
            data["default"] = [step.describe() for step in self.default]
        return data

"""The fluent builder: another way to write the table form (both build the same workflow)."""

from __future__ import annotations

from typing import Any

from ..core.errors import ValidationError
from ._base import BaseWorkflow
from .definition import TYPES, ObjectResolver, workflow_from_definition

__all__ = ["WorkflowBuilder"]


class WorkflowBuilder:
    """Collects a definition call by call; :meth:`build` parses it like the table form.

    Example::

        wf = (WorkflowBuilder().name("calc").sequential()
              .add_step({"name": "add", "tool": "calculator", "input": {"input": "1+2"}})
              .build())
    """

    def __init__(self) -> None:
        self._spec: dict[str, Any] = {}

    def _set(self, key: str, value: Any) -> WorkflowBuilder:
        self._spec[key] = value
        return self

    def name(self, name: str) -> WorkflowBuilder:
        """Set the name."""
        return self._set("name", name)

    def description(self, text: str) -> WorkflowBuilder:
        """Set the description."""
        return self._set("description", text)

    def type(self, kind: str) -> WorkflowBuilder:
        """Set the type (``sequential``, ``parallel``, ``conditional``, ``loop``)."""
        if kind not in TYPES:
            raise ValidationError(
                f"type must be one of {', '.join(TYPES)}, got {kind!r}", details={"field": "type"}
            )
        return self._set("type", kind)

    def sequential(self) -> WorkflowBuilder:
        """Make it a sequential workflow."""
        return self.type("sequential")

    def parallel(self) -> WorkflowBuilder:
        """Make it a parallel workflow."""
        return self.type("parallel")

    def conditional(self) -> WorkflowBuilder:
        """Make it a conditional workflow."""
        return self.type("conditional")

    def loop(self) -> WorkflowBuilder:
        """Make it a loop workflow."""
        return self.type("loop")

    def add_step(self, step: Any) -> WorkflowBuilder:
        """Append a step (to the loop body for loops)."""
        if self._spec.get("type") == "conditional":
            raise ValidationError(
                "conditional workflows take branches: use add_branch{when=, steps={...}} or default{...}",
                details={"field": "steps"},
            )
        key = "body" if self._spec.get("type") == "loop" else "steps"
        self._spec.setdefault(key, []).append(step)
        return self

    def add_branch(self, branch: Any) -> WorkflowBuilder:
        """Append a branch (parallel ``{name=, steps=}`` or conditional ``{when=, steps=}``)."""
        self._spec.setdefault("branches", []).append(branch)
        return self

    def default(self, steps: Any) -> WorkflowBuilder:
        """Steps a conditional workflow runs when no branch matches."""
        return self._set("default", steps)

    def match(self, mode: str) -> WorkflowBuilder:
        """``first`` (default) or ``all`` for conditional workflows."""
        return self._set("match", mode)

    def error_strategy(self, strategy: Any) -> WorkflowBuilder:
        """``fail_fast``, ``continue``, ``retry`` or ``{type=, attempts=, backoff_ms=}``."""
        return self._set("error_strategy", strategy)

    def retry(self, options: Any) -> WorkflowBuilder:
        """Retry options ``{attempts=, backoff_ms=, backoff_factor=}``."""
        return self._set("retry", options)

    def max_concurrency(self, n: int) -> WorkflowBuilder:
        """Branches of a parallel workflow running at once."""
        return self._set("max_concurrency", n)

    def fail_fast(self, flag: bool) -> WorkflowBuilder:
        """Whether a failing required branch cancels the others."""
        return self._set("fail_fast", flag)

    def timeout(self, seconds: float) -> WorkflowBuilder:
        """Bound of the whole workflow."""
        return self._set("timeout", seconds)

    def range(self, spec: Any) -> WorkflowBuilder:
        """Loop over ``{from=, to=, step=}``."""
        return self._set("range", spec)

    def collection(self, items: Any) -> WorkflowBuilder:
        """Loop over a list (or a template yielding one)."""
        return self._set("collection", items)

    def while_(self, condition: Any) -> WorkflowBuilder:
        """Loop while ``condition`` holds (tested before each iteration)."""
        return self._set("while", condition)

    def break_if(self, condition: Any) -> WorkflowBuilder:
        """Stop the loop after an iteration where ``condition`` holds."""
        return self._set("break_if", condition)

    def max_iterations(self, n: int) -> WorkflowBuilder:
        """Hard bound on loop iterations."""
        return self._set("max_iterations", n)

    def aggregate(self, mode: str) -> WorkflowBuilder:
        """``all`` (default) or ``last``."""
        return self._set("aggregate", mode)

    def definition(self) -> dict[str, Any]:
        """The table form collected so far."""
        return dict(self._spec)

    def build(self, *, resolve: ObjectResolver | None = None) -> BaseWorkflow:
        """Parse the collected definition (``sequential`` when no type was chosen).

        Raises:
            ValidationError: as :func:`workflow_from_definition`.
        """
        spec = self.definition()
        spec.setdefault("type", "sequential")
        return workflow_from_definition(spec, resolve=resolve)

"""Loop workflows: a body of steps repeated over a range, a collection, or while a condition holds.

Each iteration runs the body in a child scope where ``{{loop.item}}`` and
``{{loop.index}}`` (1-based) are set. ``break_if`` is tested after each iteration;
``while`` before each one. ``max_iterations`` (default 1000) always bounds the loop; when
it is reached the loop stops without error.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

from ..core.errors import ValidationError
from ._base import BaseWorkflow, Execution, Scope, run_steps
from ._conditions import Condition
from ._templates import Renderer
from .abc import Step

__all__ = ["Aggregate", "LoopWorkflow", "RangeSpec"]

Aggregate = Literal["all", "last"]
DEFAULT_MAX_ITERATIONS = 1000


@dataclass(frozen=True, kw_only=True, slots=True)
class RangeSpec:
    """``from``..``to`` inclusive by ``step``, like Lua's numeric ``for``."""

    start: float
    stop: float
    step: float = 1

    def values(self) -> Any:
        """The numbers of the range (ints when all three bounds are integral)."""
        value, stop, step = self.start, self.stop, self.step
        integral = all(float(v).is_integer() for v in (value, stop, step))
        while (step > 0 and value <= stop) or (step < 0 and value >= stop):
            yield int(value) if integral else value
            value += step


class LoopWorkflow(BaseWorkflow):
    """Repeat ``body``; exactly one of ``range``, ``collection`` or ``while_`` drives it.

    ``aggregate="all"`` makes ``output`` the list of every iteration's output and
    ``outputs`` map each body step to the list of its outputs; ``"last"`` keeps only the
    last iteration's.

    Args:
        body: the steps of one iteration.
        range: a numeric range.
        collection: a list, or a renderer producing one at run time (a template).
        while_: a condition tested before each iteration.
        break_if: a condition tested after each iteration.
        max_iterations: hard bound on iterations.
        aggregate: ``all`` or ``last``.
        **options: ``name``, ``description``, ``error_strategy``, ``timeout``.
    """

    kind = "loop"

    def __init__(
        self,
        *,
        body: Sequence[Step],
        range: RangeSpec | None = None,
        collection: list[Any] | Renderer | None = None,
        collection_source: Any = None,
        while_: Condition | None = None,
        break_if: Condition | None = None,
        max_iterations: int = DEFAULT_MAX_ITERATIONS,
        aggregate: Aggregate = "all",
        **options: Any,
    ) -> None:
        super().__init__(**options)
        self.body = tuple(body)
        self.range = range
        self.collection = collection
        self._collection_source = collection if collection_source is None else collection_source
        self.while_ = while_
        self.break_if = break_if
        self.max_iterations = max_iterations
        self.aggregate = aggregate

    def _items(self, scope: Scope) -> Any:
        if self.range is not None:
            return self.range.values()
        if self.collection is None:
            return None
        items = self.collection if isinstance(self.collection, list) else self.collection(scope)
        if isinstance(items, dict) and not items:
            items = []
        if not isinstance(items, list):
            raise ValidationError(
                f"loop {self.name!r}: collection must be a list, got {type(items).__name__}",
                details={"field": "collection"},
            )
        return iter(items)

    async def _body(self, ex: Execution, scope: Scope) -> tuple[bool, Any, dict[str, Any]]:
        items = self._items(scope)
        ok = True
        outputs: list[Any] = []
        per_step: dict[str, list[Any]] = {}
        last_steps: dict[str, Any] = {}
        index = 0
        while index < self.max_iterations:
            index += 1
            if items is not None:
                item = next(items, _END)
                if item is _END:
                    break
                loop = {"item": item, "index": index}
            else:
                loop = {"index": index}
                probe = scope.child(loop=loop)
                probe.steps = dict(last_steps)
                assert self.while_ is not None
                if not await self.while_.test(probe):
                    break
            child = scope.child(loop=loop)
            ex.event("loop.iteration", index=index)
            iteration_ok, output = await run_steps(self.body, ex, child)
            outputs.append(output)
            last_steps = child.steps
            for name, record in child.steps.items():
                per_step.setdefault(name, []).append(record["output"])
            if not iteration_ok:
                ok = False
                if ex.strategy.kind != "continue":
                    break
            if self.break_if is not None and await self.break_if.test(child):
                break
        if self.aggregate == "last":
            last = {name: record["output"] for name, record in last_steps.items()}
            return ok, (outputs[-1] if outputs else None), last
        return ok, outputs, dict(per_step)

    def _describe_body(self) -> dict[str, Any]:
        data: dict[str, Any] = {}
        if self.range is not None:
            data["range"] = {"from": self.range.start, "to": self.range.stop, "step": self.range.step}
        elif self.while_ is not None:
            data["while"] = self.while_.describe()
        else:
            data["collection"] = self._collection_source
        data["body"] = [step.describe() for step in self.body]
        if self.break_if is not None:
            data["break_if"] = self.break_if.describe()
        data["max_iterations"] = self.max_iterations
        data["aggregate"] = self.aggregate
        return data


_END = object()

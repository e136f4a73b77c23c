"""Parallel workflows: branches run concurrently on the event loop.

Each branch is a list of steps run in order. ``max_concurrency`` bounds how many
branches run at once. With ``fail_fast`` the first failing required branch cancels the
others; without it every branch runs to its end. Optional branches (``required=false``)
report their errors without failing the workflow.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from contextlib import AbstractAsyncContextManager, nullcontext
from dataclasses import dataclass
from typing import Any

from ..core.errors import Timeout
from ._base import BaseWorkflow, Execution, Scope, run_steps
from .abc import Step

__all__ = ["Branch", "ParallelWorkflow"]


@dataclass(frozen=True, kw_only=True, slots=True)
class Branch:
    """A named list of steps inside a parallel or conditional workflow.

    Attributes:
        name: the branch's key in ``outputs``.
        steps: run in order.
        required: a failed optional branch does not fail the workflow.
        timeout: seconds the whole branch may take, or None.
    """

    name: str
    steps: tuple[Step, ...]
    required: bool = True
    timeout: float | None = None

    def describe(self) -> dict[str, Any]:
        """JSON form."""
        data: dict[str, Any] = {"name": self.name, "steps": [step.describe() for step in self.steps]}
        if not self.required:
            data["required"] = False
        if self.timeout is not None:
            data["timeout"] = self.timeout
        return data


class _FailFast(Exception):
    """Raised inside the task group to cancel the other branches."""


class ParallelWorkflow(BaseWorkflow):
    """Run branches concurrently; ``output`` and ``outputs`` map branch name → branch output.

    Args:
        branches: the branches (a plain step list becomes one branch per step).
        max_concurrency: branches running at once (None: all).
        fail_fast: cancel the rest when a required branch fails.
        single_steps: True when built from ``steps=`` (affects :meth:`describe` only).
        **options: ``name``, ``description``, ``error_strategy``, ``timeout``.
    """

    kind = "parallel"

    def __init__(
        self,
        *,
        branches: Sequence[Branch],
        max_concurrency: int | None = None,
        fail_fast: bool = True,
        single_steps: bool = False,
        **options: Any,
    ) -> None:
        super().__init__(**options)
        self.branches = tuple(branches)
        self.max_concurrency = max_concurrency
        self.fail_fast = fail_fast
        self._single_steps = single_steps

    async def _branch(
        self, branch: Branch, ex: Execution, scope: Scope, gate: AbstractAsyncContextManager[Any]
    ) -> tuple[bool, Any]:
        async with gate:
            child = scope.child(branch=branch.name)
            if branch.timeout is None:
                return await run_steps(branch.steps, ex, child)
            try:
                async with asyncio.timeout(branch.timeout):
                    return await run_steps(branch.steps, ex, child)
            except TimeoutError:
                ex.ctx.check()
                error = Timeout(
                    f"branch {branch.name!r} exceeded its {branch.timeout:g}s timeout; raise its timeout",
                    details={"branch": branch.name, "timeout_s": branch.timeout},
                )
                ex.fail(branch.name, error, branch=branch.name)
                return False, None

    async def _body(self, ex: Execution, scope: Scope) -> tuple[bool, Any, dict[str, Any]]:
        results: dict[str, tuple[bool, Any]] = {}
        semaphore = asyncio.Semaphore(self.max_concurrency) if self.max_concurrency else None

        async def run(branch: Branch) -> None:
            gate: AbstractAsyncContextManager[Any] = semaphore if semaphore is not None else nullcontext()
            results[branch.name] = outcome = await self._branch(branch, ex, scope, gate)
            if self.fail_fast and branch.required and not outcome[0]:
                raise _FailFast

        try:
            async with asyncio.TaskGroup() as group:
                for branch in self.branches:
                    group.create_task(run(branch), name=f"workflow:{self.name}:{branch.name}")
        except BaseExceptionGroup as group_error:
            # A branch raised something other than the fail-fast signal (cancellation, the
            # run's deadline): that ends the workflow, unwrapped from the group.
            for error in group_error.exceptions:
                if not isinstance(error, _FailFast):
                    raise error from None
        # Branches cancelled by fail_fast have no result; the one that failed decides.
        ok = all(
            results[branch.name][0] for branch in self.branches if branch.required and branch.name in results
        )
        outputs = {name: output for name, (_, output) in results.items()}
        ordered = {branch.name: outputs[branch.name] for branch in self.branches if branch.name in outputs}
        return ok, ordered, dict(ordered)

    def _describe_body(self) -> dict[str, Any]:
        data: dict[str, Any] = {"fail_fast": self.fail_fast}
        if self.max_concurrency is not None:
            data["max_concurrency"] = self.max_concurrency
        if self._single_steps:
            data["steps"] = [branch.steps[0].describe() for branch in self.branches]
        else:
            data["branches"] = [branch.describe() for branch in self.branches]
        return data

"""The machinery every workflow shares: scopes, one execution, the step runner, results.

A step runs under the workflow's error strategy: ``fail_fast`` stops at the first failing
required step, ``continue`` records the failure and goes on, ``retry`` tries again with
backoff before failing like ``fail_fast``. Cancellation and the run's deadline are never
retried or swallowed: they stop the whole workflow.

With hooks registered, each step that succeeds in a list of steps is a checkpoint of that
list (WorkflowCheckpoint); a required step whose failure stops the list fires
WorkflowRollback with the last checkpoint, and a ``retry`` answer rolls the list back to it
(the records after it are dropped) and runs the steps after it again (``_hooked.py``).
"""

from __future__ import annotations

import asyncio
import time
import uuid
from abc import abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar, Literal

from ..core.abc import Workflow
from ..core.context import ExecutionContext
from ..core.errors import Cancelled, LLMSpellError, NotFound, ScriptError, Timeout, ValidationError

if TYPE_CHECKING:
    from ..hooks.registry import HookRegistry
    from .abc import Step, WorkflowHost

__all__ = [
    "BaseWorkflow",
    "ErrorStrategy",
    "Execution",
    "Nested",
    "Scope",
    "WorkflowResult",
    "run_steps",
]

StrategyKind = Literal["fail_fast", "continue", "retry"]
MAX_DEPTH = 32
# Errors that say the same thing however often they are retried.
_NOT_RETRIED = (ValidationError, NotFound)


@dataclass(frozen=True, kw_only=True, slots=True)
class ErrorStrategy:
    """What happens when a step fails.

    Attributes:
        kind: ``fail_fast``, ``continue`` or ``retry``.
        attempts: total attempts per step under ``retry`` (first try included).
        backoff_ms: wait before the first retry.
        backoff_factor: multiplier of the wait for each later retry.
        max_backoff_ms: upper bound of one wait.
    """

    kind: StrategyKind = "fail_fast"
    attempts: int = 3
    backoff_ms: float = 100.0
    backoff_factor: float = 2.0
    max_backoff_ms: float = 10_000.0

    def delay_s(self, retry: int) -> float:
        """Seconds to wait before retry number ``retry`` (1-based)."""
        delay = self.backoff_ms * self.backoff_factor ** (retry - 1)
        return min(delay, self.max_backoff_ms) / 1000.0

    def describe(self) -> dict[str, Any]:
        """JSON form (the fields that matter for ``kind``)."""
        if self.kind != "retry":
            return {"type": self.kind}
        return {
            "type": "retry",
            "attempts": self.attempts,
            "backoff_ms": self.backoff_ms,
            "backoff_factor": self.backoff_factor,
            "max_backoff_ms": self.max_backoff_ms,
        }


class Scope:
    """The data templates and conditions see: the input, step records, the loop position.

    Branches and loop iterations get a child scope, so they see the steps of the
    enclosing workflow; a nested workflow starts a fresh scope (it is a reusable unit).
    """

    __slots__ = ("branch", "checkpoint", "ex", "input", "loop", "parent", "steps")

    def __init__(
        self,
        ex: Execution,
        input: Any,
        *,
        parent: Scope | None = None,
        loop: dict[str, Any] | None = None,
        branch: str | None = None,
    ) -> None:
        self.ex = ex
        self.branch = branch
        self.input = input
        self.parent = parent
        self.loop = loop
        self.steps: dict[str, dict[str, Any]] = {}
        # (index of the next step, records kept, checkpoint number, step) of the last checkpoint.
        self.checkpoint: tuple[int, int, int, str] | None = None

    def child(self, *, loop: dict[str, Any] | None = None, branch: str | None = None) -> Scope:
        """A scope for a branch or a loop iteration."""
        return Scope(self.ex, self.input, parent=self, loop=loop, branch=branch or self.branch)

    def find(self, name: str) -> dict[str, Any] | None:
        """The record ``{output, ...}`` of step ``name`` here or in an enclosing scope."""
        scope: Scope | None = self
        while scope is not None:
            record = scope.steps.get(name)
            if record is not None:
                return record
            scope = scope.parent
        return None

    def find_loop(self) -> dict[str, Any] | None:
        """``{item, index}`` of the innermost loop iteration, or None outside loops."""
        scope: Scope | None = self
        while scope is not None:
            if scope.loop is not None:
                return scope.loop
            scope = scope.parent
        return None

    def visible_steps(self) -> dict[str, dict[str, Any]]:
        """Every step record in reach, inner scopes winning."""
        chain: list[Scope] = []
        scope: Scope | None = self
        while scope is not None:
            chain.append(scope)
            scope = scope.parent
        merged: dict[str, dict[str, Any]] = {}
        for item in reversed(chain):
            merged.update(item.steps)
        return merged

    def workflow_info(self) -> dict[str, Any]:
        """``{name, execution_id}`` of the running workflow."""
        return {"name": self.ex.name, "execution_id": self.ex.execution_id}

    def context(self, *, step: str | None = None, params: Any = None) -> dict[str, Any]:
        """The table handed to script functions and condition functions."""
        data: dict[str, Any] = {
            "input": self.input,
            "steps": self.visible_steps(),
            "workflow": self.ex.name,
            "execution_id": self.ex.execution_id,
        }
        loop = self.find_loop()
        if loop is not None:
            data["loop"] = loop
        if step is not None:
            data["step"] = step
        if params is not None:
            data["params"] = params
        return data


@dataclass(kw_only=True, slots=True)
class Execution:
    """One run of one workflow: its ids, host, context and the errors so far."""

    name: str
    execution_id: str
    ctx: ExecutionContext
    host: WorkflowHost
    strategy: ErrorStrategy
    depth: int = 0
    errors: list[dict[str, Any]] = field(default_factory=list)
    emits: bool = False
    checkpoints: int = 0

    def event(self, event: str, step: str | None = None, **data: Any) -> None:
        """Emit ``workflow.<event>`` when the host has a sink."""
        if not self.emits:
            return
        payload: dict[str, Any] = {
            "type": f"workflow.{event}",
            "workflow": self.name,
            "execution_id": self.execution_id,
        }
        if step is not None:
            payload["step"] = step
        for key, value in data.items():
            if value is not None:
                payload[key] = value
        self.host.emit(payload)

    def fail(self, step: str, error: LLMSpellError, *, attempts: int = 1, branch: str | None = None) -> None:
        """Record ``error`` as the failure of ``step`` (in ``branch`` of a parallel workflow)."""
        record: dict[str, Any] = {
            "step": step,
            "code": error.code,
            "message": error.message,
            "details": error.details,
            "attempts": attempts,
        }
        if branch is not None:
            record["branch"] = branch
        self.errors.append(record)


@dataclass(frozen=True, slots=True)
class Nested:
    """A nested workflow's output and per-step outputs (both kept in the step's record)."""

    output: Any
    outputs: dict[str, Any]


@dataclass(frozen=True, kw_only=True, slots=True)
class WorkflowResult:
    """What one execution produced (``to_dict`` is the shape scripts and REST see)."""

    success: bool
    output: Any
    outputs: dict[str, Any]
    errors: list[dict[str, Any]]
    duration_ms: float
    execution_id: str

    def to_dict(self) -> dict[str, Any]:
        """``{success, output, outputs, errors, duration_ms, execution_id}``."""
        return {
            "success": self.success,
            "output": self.output,
            "outputs": self.outputs,
            "errors": self.errors,
            "duration_ms": round(self.duration_ms, 3),
            "execution_id": self.execution_id,
        }


def _is_fatal(error: LLMSpellError, ctx: ExecutionContext) -> bool:
    """Cancellation and the run's own deadline end the run; nothing may retry them."""
    if isinstance(error, Cancelled):
        return True
    if isinstance(error, Timeout) or error.code == "LIMIT_EXCEEDED":
        return ctx.cancel_token.cancelled or (ctx.deadline is not None and ctx.remaining() == 0)
    return False


async def _attempt(step: Step, ex: Execution, scope: Scope) -> Any:
    if step.timeout is None:
        return await step.run(ex, scope)
    try:
        async with asyncio.timeout(step.timeout):
            return await step.run(ex, scope)
    except TimeoutError:
        ex.ctx.check()
        raise Timeout(
            f"step {step.name!r} exceeded its {step.timeout:g}s timeout; raise the step's timeout",
            details={"step": step.name, "timeout_s": step.timeout},
        ) from None


async def run_step(step: Step, ex: Execution, scope: Scope) -> bool:
    """Run ``step`` under the error strategy, record its output in ``scope``; True on success.

    Raises:
        Cancelled, Timeout: the run was cancelled or its deadline passed (never retried).
    """
    strategy = ex.strategy
    if step.retries is not None:
        attempts = 1 + step.retries
    else:
        attempts = strategy.attempts if strategy.kind == "retry" else 1
    attempt = 1
    hooks = _hooks(ex.ctx)
    while True:
        ex.ctx.check()
        if ex.emits:
            ex.event("step.started", step.name, attempt=attempt, kind=step.kind, branch=scope.branch)
        started = time.perf_counter()
        try:
            if hooks is None:
                output = await _attempt(step, ex, scope)
            else:
                from ._hooked import hooked_attempt

                output = await hooked_attempt(hooks, step, ex, scope, attempt)
        except LLMSpellError as exc:
            error: LLMSpellError = exc
        except Exception as exc:  # a Python function step raising a foreign exception
            error = ScriptError(
                f"step {step.name!r} raised {type(exc).__name__}: {exc}", details={"step": step.name}
            )
        else:
            scope.steps[step.name] = (
                {"output": output.output, "outputs": output.outputs}
                if isinstance(output, Nested)
                else {"output": output}
            )
            if ex.emits:
                ex.event(
                    "step.completed",
                    step.name,
                    attempt=attempt,
                    duration_ms=_ms(started),
                    branch=scope.branch,
                )
            return True
        if _is_fatal(error, ex.ctx):
            raise error
        retry = attempt < attempts and not isinstance(error, _NOT_RETRIED) and error.code != "CANCELLED"
        if ex.emits:
            ex.event(
                "step.failed",
                step.name,
                attempt=attempt,
                duration_ms=_ms(started),
                error={"code": error.code, "message": error.message},
                will_retry=retry,
                branch=scope.branch,
            )
        if not retry:
            ex.fail(step.name, error, attempts=attempt, branch=scope.branch)
            scope.steps[step.name] = {"output": None, "error": {"code": error.code, "message": error.message}}
            return False
        await asyncio.sleep(strategy.delay_s(attempt))
        attempt += 1


async def run_steps(steps: Sequence[Step], ex: Execution, scope: Scope) -> tuple[bool, Any]:
    """Run ``steps`` in order; returns (no required step failed, last step's output)."""
    ok = True
    output: Any = None
    hooks = _hooks(ex.ctx)
    if hooks is not None:
        from ._hooked import hooked_steps

        return await hooked_steps(hooks, steps, ex, scope)
    for step in steps:
        if await run_step(step, ex, scope):
            output = scope.steps[step.name]["output"]
            continue
        output = None
        if step.required:
            ok = False
            if ex.strategy.kind != "continue":
                break
    return ok, output


def _hooks(ctx: ExecutionContext) -> HookRegistry | None:
    from ..hooks.registry import hooks_for

    return hooks_for(ctx)


def _ms(started: float) -> float:
    return round((time.perf_counter() - started) * 1000.0, 3)


class BaseWorkflow(Workflow):
    """Shared plumbing: ids, events, the error strategy, the workflow-level timeout.

    Subclasses implement :meth:`_body`.

    Args:
        name: the workflow's name (events and ``Workflow.get`` use it).
        description: free text.
        error_strategy: how failing steps are handled.
        timeout: seconds the whole workflow may take, or None.
    """

    kind: ClassVar[str] = "workflow"

    def __init__(
        self,
        *,
        name: str,
        description: str = "",
        error_strategy: ErrorStrategy | None = None,
        timeout: float | None = None,
    ) -> None:
        self.name = name
        self.description = description
        self.error_strategy = error_strategy or ErrorStrategy()
        self.timeout = timeout

    @abstractmethod
    async def _body(self, ex: Execution, scope: Scope) -> tuple[bool, Any, dict[str, Any]]:
        """Run the steps; returns (success, output, outputs)."""

    @abstractmethod
    def _describe_body(self) -> dict[str, Any]:
        """The type-specific part of :meth:`describe`."""

    def describe(self) -> dict[str, Any]:
        """The normalised definition as JSON-compatible data (functions as placeholders)."""
        data: dict[str, Any] = {"type": self.kind, "name": self.name}
        if self.description:
            data["description"] = self.description
        data["error_strategy"] = self.error_strategy.describe()
        if self.timeout is not None:
            data["timeout"] = self.timeout
        data.update(self._describe_body())
        return data

    async def execute(
        self, input: Any = None, ctx: ExecutionContext | None = None, *, host: WorkflowHost | None = None
    ) -> dict[str, Any]:
        """Run the workflow; returns ``{success, output, outputs, errors, duration_ms, execution_id}``.

        Step failures are reported in the result, never raised.

        Raises:
            Cancelled, Timeout: the run was cancelled or its deadline passed.
        """
        if host is None:
            from .host import LocalHost

            host = LocalHost()
        result = await self.run(input, ctx or ExecutionContext(), host)
        return result.to_dict()

    async def run(
        self, input: Any, ctx: ExecutionContext, host: WorkflowHost, *, depth: int = 0
    ) -> WorkflowResult:
        """Like :meth:`execute`, returning a :class:`WorkflowResult`; ``depth`` counts nesting."""
        if depth > MAX_DEPTH:
            from ..core.errors import LimitExceeded

            raise LimitExceeded(
                f"workflows nested more than {MAX_DEPTH} deep (does {self.name!r} contain itself?)",
                details={"workflow": self.name},
            )
        ex = Execution(
            name=self.name,
            execution_id=uuid.uuid4().hex,
            ctx=ctx,
            host=host,
            strategy=self.error_strategy,
            depth=depth,
            emits=host.emits,
        )
        hooks = _hooks(ctx)
        if hooks is not None:
            from ._hooked import before_start

            replaced, input = await before_start(hooks, ex, input)
            if replaced:
                return WorkflowResult(
                    success=True,
                    output=input,
                    outputs={},
                    errors=[],
                    duration_ms=0.0,
                    execution_id=ex.execution_id,
                )
        ex.event("started", kind=self.kind)
        started = time.perf_counter()
        scope = Scope(ex, input)
        try:
            if self.timeout is None:
                ok, output, outputs = await self._body(ex, scope)
            else:
                ok, output, outputs = await self._timed_body(ex, scope)
        except LLMSpellError as exc:
            if _is_fatal(exc, ctx):
                ex.event(
                    "completed",
                    success=False,
                    duration_ms=_ms(started),
                    error={"code": exc.code, "message": exc.message},
                )
                raise
            # A condition, a loop collection or a nested lookup failed outside any step:
            # reported like a failed step named after the workflow.
            ex.fail(self.name, exc)
            ok, output, outputs = False, None, {name: rec["output"] for name, rec in scope.steps.items()}
        except Exception as exc:  # a Python condition function raising a foreign exception
            ex.fail(self.name, ScriptError(f"workflow {self.name!r}: {type(exc).__name__}: {exc}"))
            ok, output, outputs = False, None, {name: rec["output"] for name, rec in scope.steps.items()}
        duration = (time.perf_counter() - started) * 1000.0
        ex.event("completed", success=ok, duration_ms=round(duration, 3))
        result = WorkflowResult(
            success=ok,
            output=output,
            outputs=outputs,
            errors=ex.errors,
            duration_ms=duration,
            execution_id=ex.execution_id,
        )
        if hooks is not None:
            from ._hooked import after_complete

            result = await after_complete(hooks, ex, result)
        return result

    async def _timed_body(self, ex: Execution, scope: Scope) -> tuple[bool, Any, dict[str, Any]]:
        assert self.timeout is not None
        try:
            async with asyncio.timeout(self.timeout):
                return await self._body(ex, scope)
        except TimeoutError:
            ex.ctx.check()
            error = Timeout(
                f"workflow {self.name!r} exceeded its {self.timeout:g}s timeout; raise its timeout",
                details={"workflow": self.name, "timeout_s": self.timeout},
            )
            ex.fail(self.name, error)
            return False, None, {name: rec["output"] for name, rec in scope.steps.items()}

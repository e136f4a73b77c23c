"""Workflow hook points (imported only when hooks are registered; see docs/hooks.md).

Component ``("workflow", <name>)``. BeforeWorkflowStart ``{workflow, input}`` (modified
input, cancel, replace = the workflow's output); BeforeWorkflowStage ``{workflow, step,
attempt}`` (cancel = the step fails with CANCELLED, replace = skip the step with that
output); AfterWorkflowStage ``{workflow, step, result}`` (modified/replace the output,
retry); WorkflowError ``{workflow, step, error}`` (replace = recover, retry);
WorkflowStageTransition ``{workflow, from, to}``; AfterWorkflowComplete ``{workflow,
result}`` (modified ``result.output``); WorkflowCheckpoint ``{workflow, execution_id, step,
index, branch, outputs}`` after each step that succeeded (cancel = the workflow stops with
CANCELLED); WorkflowRollback ``{workflow, execution_id, step, error, checkpoint, outputs,
attempt}`` when a failed required step stops its list (retry = roll back to the checkpoint
and run the steps after it again, at most ``max_attempts`` rollbacks).
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from ..core.errors import LLMSpellError
from ..hooks._fire import observed, watching
from ..hooks.abc import HookCancelled
from ._base import Execution, Nested, Scope, WorkflowResult, _attempt, _is_fatal, run_step

if TYPE_CHECKING:
    from ..hooks.registry import HookRegistry
    from .abc import Step

__all__ = ["after_complete", "before_start", "hooked_attempt", "hooked_steps", "transition"]


def _plain(output: Any) -> Any:
    return output.output if isinstance(output, Nested) else output


async def before_start(hooks: HookRegistry, ex: Execution, input: Any) -> tuple[bool, Any]:
    """``(True, output)`` when a hook replaced the workflow, else ``(False, input)``."""
    if not hooks.chain("BeforeWorkflowStart"):
        return False, input
    pre = await hooks.run(
        "BeforeWorkflowStart", ("workflow", ex.name), {"workflow": ex.name, "input": input}, ex.ctx
    )
    if pre.kind == "replace":
        return True, pre.result
    return False, pre.data.get("input", input) if isinstance(pre.data, dict) else input


async def after_complete(hooks: HookRegistry, ex: Execution, result: WorkflowResult) -> WorkflowResult:
    if not hooks.chain("AfterWorkflowComplete"):
        return result
    data = {"workflow": ex.name, "result": result.to_dict()}
    post = await hooks.run("AfterWorkflowComplete", ("workflow", ex.name), data, ex.ctx)
    if post.kind == "modified" and isinstance(post.data, dict) and isinstance(post.data.get("result"), dict):
        return replace(result, output=post.data["result"].get("output"))
    return result


async def transition(hooks: HookRegistry, ex: Execution, before: str, after: str) -> None:
    if hooks.chain("WorkflowStageTransition"):
        data = {"workflow": ex.name, "from": before, "to": after}
        await hooks.run("WorkflowStageTransition", ("workflow", ex.name), data, ex.ctx)


async def hooked_attempt(hooks: HookRegistry, step: Step, ex: Execution, scope: Scope, attempt: int) -> Any:
    """One attempt of ``step`` between BeforeWorkflowStage, AfterWorkflowStage and WorkflowError.

    Raises:
        HookCancelled: a BeforeWorkflowStage hook cancelled the step.
        LLMSpellError: the step failed and no WorkflowError hook recovered it.
    """
    component = ("workflow", ex.name)
    base = {"workflow": ex.name, "step": step.name}
    pre = await hooks.run(
        "BeforeWorkflowStage", component, {**base, "attempt": attempt}, ex.ctx, attempt=attempt
    )
    if pre.kind == "replace":
        return pre.result
    tries = 1
    while True:
        try:
            attempt_call = _attempt(step, ex, scope)
            if watching(hooks):
                output = await observed(hooks, ex.ctx, component, attempt_call, {"step": step.name})
            else:
                output = await attempt_call
        except LLMSpellError as exc:
            if _is_fatal(exc, ex.ctx) or not hooks.chain("WorkflowError"):
                raise
            outcome = await hooks.run(
                "WorkflowError", component, {**base, "error": exc.to_dict()}, ex.ctx, attempt=tries
            )
            if outcome.kind == "replace":
                return outcome.result
            if outcome.kind == "retry" and tries < outcome.max_attempts:
                await asyncio.sleep(outcome.delay_ms / 1000.0)
                tries += 1
                continue
            raise
        if not hooks.chain("AfterWorkflowStage"):
            return output
        post = await hooks.run(
            "AfterWorkflowStage", component, {**base, "result": _plain(output)}, ex.ctx, attempt=tries
        )
        if post.kind == "modified" and isinstance(post.data, dict):
            return post.data.get("result")
        if post.kind == "replace":
            return post.result
        if post.kind == "retry" and tries < post.max_attempts:
            await asyncio.sleep(post.delay_ms / 1000.0)
            tries += 1
            continue
        return output


async def hooked_steps(
    hooks: HookRegistry, steps: Sequence[Step], ex: Execution, scope: Scope
) -> tuple[bool, Any]:
    """:func:`~llmspell.workflows._base.run_steps` with transitions, checkpoints and rollbacks."""
    ok = True
    output: Any = None
    rollbacks = 0
    index = 0
    while index < len(steps):
        step = steps[index]
        if index:
            await transition(hooks, ex, steps[index - 1].name, step.name)
        if await run_step(step, ex, scope):
            output = scope.steps[step.name]["output"]
            index += 1
            await checkpoint(hooks, ex, scope, step.name, index)
            continue
        output = None
        if step.required:
            if ex.strategy.kind != "continue":
                rollbacks += 1
                resume = await rollback(hooks, ex, scope, step.name, rollbacks)
                if resume is not None:
                    index = resume
                    output = scope.steps[steps[index - 1].name]["output"] if index else None
                    continue
                ok = False
                break
            ok = False
        index += 1
    return ok, output


def _outputs(scope: Scope) -> dict[str, Any]:
    return {name: record.get("output") for name, record in scope.steps.items()}


async def checkpoint(hooks: HookRegistry, ex: Execution, scope: Scope, step: str, next_index: int) -> None:
    """Record a checkpoint of ``scope`` after ``step`` and fire WorkflowCheckpoint.

    Raises:
        HookCancelled: a hook stopped the workflow here.
    """
    ex.checkpoints += 1
    scope.checkpoint = (next_index, len(scope.steps), ex.checkpoints, step)
    if not hooks.chain("WorkflowCheckpoint"):
        return
    data = {
        "workflow": ex.name,
        "execution_id": ex.execution_id,
        "step": step,
        "index": ex.checkpoints,
        "branch": scope.branch,
        "outputs": _outputs(scope),
    }
    await hooks.run("WorkflowCheckpoint", ("workflow", ex.name), data, ex.ctx)


async def rollback(hooks: HookRegistry, ex: Execution, scope: Scope, step: str, attempt: int) -> int | None:
    """Fire WorkflowRollback for the failure of ``step``; on ``retry`` roll ``scope`` back to
    its last checkpoint and return the index of the step to run next, else None."""
    if not hooks.chain("WorkflowRollback"):
        return None
    mark = scope.checkpoint
    kept = list(scope.steps)[: mark[1] if mark is not None else 0]
    failure = scope.steps.get(step, {}).get("error")
    data = {
        "workflow": ex.name,
        "execution_id": ex.execution_id,
        "step": step,
        "branch": scope.branch,
        "error": failure,
        "checkpoint": None if mark is None else {"step": mark[3], "index": mark[2]},
        "outputs": {name: scope.steps[name].get("output") for name in kept},
        "attempt": attempt,
    }
    try:
        outcome = await hooks.run("WorkflowRollback", ("workflow", ex.name), data, ex.ctx, attempt=attempt)
    except HookCancelled:
        return None  # the failure stands, as without an answer
    if outcome.kind != "retry" or attempt >= outcome.max_attempts:
        return None
    dropped = set(scope.steps) - set(kept)
    for name in dropped:
        del scope.steps[name]
    branch = scope.branch
    ex.errors[:] = [e for e in ex.errors if not (e["step"] in dropped and e.get("branch") == branch)]
    if outcome.delay_ms > 0:
        await asyncio.sleep(outcome.delay_ms / 1000.0)
    return mark[0] if mark is not None else 0

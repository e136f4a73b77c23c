"""Workflow hook points (imported only when hooks are registered; see docs/hooks.md).

Component ``("workflow", <name>)``. BeforeWorkflowStart ``{workflow, input}`` (modified
input, cancel, replace = the workflow's output); BeforeWorkflowStage ``{workflow, step,
attempt}`` (cancel = the step fails with CANCELLED, replace = skip the step with that
output); AfterWorkflowStage ``{workflow, step, result}`` (modified/replace the output,
retry); WorkflowError ``{workflow, step, error}`` (replace = recover, retry);
WorkflowStageTransition ``{workflow, from, to}``; AfterWorkflowComplete ``{workflow,
result}`` (modified ``result.output``).
"""

from __future__ import annotations

import asyncio
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from ..core.errors import LLMSpellError
from ._base import Execution, Nested, Scope, WorkflowResult, _attempt, _is_fatal

if TYPE_CHECKING:
    from ..hooks.registry import HookRegistry
    from .abc import Step

__all__ = ["after_complete", "before_start", "hooked_attempt", "transition"]


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
            output = await _attempt(step, ex, scope)
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

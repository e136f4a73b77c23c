"""Running a component call between its before/after/error hook points.

Components call :func:`around` only when :func:`~llmspell.hooks.hooks_for` returned a
registry, so the unhooked path costs nothing. The call receives the (possibly modified)
point data and returns the result; every result kind is applied here, once for all
components.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from ..core.errors import Cancelled, LLMSpellError, ValidationError
from .abc import HookResult
from .cache import result_cache

if TYPE_CHECKING:
    from ..core.context import ExecutionContext
    from .registry import HookRegistry

__all__ = ["around"]

log = logging.getLogger("llmspell.hooks")

Call = Callable[[dict[str, Any]], Awaitable[Any]]


async def around(
    registry: HookRegistry,
    ctx: ExecutionContext,
    *,
    component: tuple[str, str],
    points: tuple[str, str, str],
    data: dict[str, Any],
    call: Call,
    redirect: Callable[[str], Call] | None = None,
) -> Any:
    """Fire ``points`` = (before, after, error) around ``call(data)``.

    - before: ``modified`` changes ``data``; ``replace`` returns ``result`` without
      calling; ``redirect`` calls ``redirect(target)`` instead; ``cache`` answers from the
      result cache or stores the call's result; ``fork`` also calls each branch.
    - after (data + ``result``): ``modified`` takes ``data["result"]``; ``replace`` takes
      ``result``; ``retry`` calls again.
    - error (data + ``error``): ``replace`` recovers with ``result``; ``retry`` calls again;
      otherwise the error propagates.

    Raises:
        HookCancelled: a hook answered ``cancel``.
    """
    before, after, error = points
    chain = registry.chain
    if not chain(before):
        pre: HookResult = HookResult("continue", data)
    else:
        pre = await registry.run(before, component, data, ctx)
    kind = pre.kind
    if kind == "replace":
        return pre.result
    if pre.data is not data:
        if not isinstance(pre.data, dict):
            raise ValidationError(
                f"a {before} hook must keep the data a table, got {type(pre.data).__name__}"
            )
        data = pre.data
    runner = call
    if kind == "redirect":
        if redirect is None:
            raise ValidationError(f"{component[0]} calls cannot be redirected (hook at {before})")
        runner = redirect(pre.target)
    cache_key = ""
    if kind == "cache":
        cache_key = f"{component[0]}:{component[1]}:{pre.key}"
        hit, value = result_cache().get(cache_key)
        if hit:
            return value
    forks: list[asyncio.Task[Any]] = []
    if kind == "fork":
        forks = [
            asyncio.ensure_future(_quiet(runner, dict(branch)))
            for branch in pre.branches
            if isinstance(branch, dict)
        ]
    attempt = 1
    try:
        while True:
            try:
                result = await runner(data)
            except (Cancelled, asyncio.CancelledError):
                raise
            except LLMSpellError as exc:
                outcome = await registry.run(
                    error, component, {**data, "error": exc.to_dict()}, ctx, attempt=attempt
                )
                if outcome.kind == "replace":
                    return outcome.result
                if outcome.kind == "retry" and attempt < outcome.max_attempts:
                    attempt = await _backoff(attempt, outcome.delay_ms)
                    continue
                raise
            if not chain(after):
                if cache_key:
                    result_cache().put(cache_key, result, pre.ttl_s)
                return result
            post = await registry.run(after, component, {**data, "result": result}, ctx, attempt=attempt)
            if post.kind == "modified" and isinstance(post.data, dict):
                result = post.data.get("result")
            elif post.kind == "replace":
                result = post.result
            elif post.kind == "retry" and attempt < post.max_attempts:
                attempt = await _backoff(attempt, post.delay_ms)
                continue
            if cache_key:
                result_cache().put(cache_key, result, pre.ttl_s)
            return result
    finally:
        if forks:
            await asyncio.gather(*forks, return_exceptions=True)


async def _backoff(attempt: int, delay_ms: float) -> int:
    if delay_ms > 0:
        await asyncio.sleep(delay_ms / 1000.0)
    return attempt + 1


async def _quiet(runner: Call, data: dict[str, Any]) -> Any:
    try:
        return await runner(data)
    except Exception:
        log.info("a forked call failed", exc_info=True)
        return None

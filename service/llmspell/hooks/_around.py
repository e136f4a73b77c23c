"""Running a component call between its before/after/error hook points.

Components call :func:`around` (or :func:`around_stream` for a call whose result arrives
as a stream) only when :func:`~llmspell.hooks.hooks_for` returned a registry, so the
unhooked path costs nothing. The call receives the (possibly modified) point data and
returns the result; every result kind is applied here, once for all components.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncGenerator, Awaitable, Callable, Coroutine
from contextlib import aclosing
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar

from ..core.errors import Cancelled, LLMSpellError, ValidationError
from .abc import HookContext, HookResult
from .cache import result_cache

if TYPE_CHECKING:
    from ..core.context import ExecutionContext
    from .registry import HookRegistry, RegisteredHook

__all__ = ["UNFIRED", "Relay", "Settled", "around", "around_stream", "run_around"]

log = logging.getLogger("llmspell.hooks")

T = TypeVar("T")
Call = Callable[[dict[str, Any]], Awaitable[Any]]
UNFIRED: Any = object()  # run_around: the before point is still to fire


def around(
    registry: HookRegistry,
    ctx: ExecutionContext,
    *,
    component: tuple[str, str],
    points: tuple[str, str, str],
    data: dict[str, Any],
    call: Call,
    redirect: Callable[[str], Call] | None = None,
    branch: Call | None = None,
) -> Coroutine[Any, Any, Any]:
    """Fire ``points`` = (before, after, error) around ``call(data)``; await the result.

    - before: ``modified`` changes ``data``; ``replace`` returns ``result`` without
      calling; ``redirect`` calls ``redirect(target)`` instead; ``cache`` answers from the
      result cache or stores the call's result; ``fork`` also calls ``branch`` (default:
      ``call``) on each branch's data, concurrently, and awaits them before returning; the
      result is the call's own (a branch's is dropped; a failed branch is logged).
    - after (data + ``result``): ``modified`` takes ``data["result"]``; ``replace`` takes
      ``result``; ``retry`` calls again.
    - error (data + ``error``): ``replace`` recovers with ``result``; ``retry`` calls again;
      otherwise the error propagates.

    Points with no hook cost one cached lookup for the three (pass the same ``points``
    tuple each time); chains of synchronous hooks run without creating a coroutine (as
    :meth:`HookRegistry.dispatch`).

    Raises:
        HookCancelled: a hook answered ``cancel``.
    """
    return run_around(
        registry, ctx, component, points, registry.chains(points), data, call, redirect, branch=branch
    )


async def run_around(
    registry: HookRegistry,
    ctx: ExecutionContext,
    component: tuple[str, str],
    points: tuple[str, str, str],
    chains: tuple[tuple[RegisteredHook, ...], ...],
    data: dict[str, Any],
    call: Call,
    redirect: Callable[[str], Call] | None,
    fired: Any = UNFIRED,
    *,
    branch: Call | None = None,
) -> Any:
    """:func:`around` with the points' chains already looked up (``registry.chains(points)``).

    ``fired``: what :meth:`HookRegistry.dispatch` answered for the before point when the
    caller fired it already (a caller with only before hooks calls directly when they all
    continue, and hands over the rest). ``branch``: what a ``fork`` calls, as in :func:`around`.
    """
    before, after, error = points
    hooks, after_hooks = chains[0], chains[1]
    correlation_id, run_id = ctx.correlation_id, ctx.run_id
    if fired is UNFIRED:
        fired = (
            registry.fire(hooks, HookContext(before, component, data, correlation_id, run_id, 1, ctx))
            if hooks
            else None
        )
    pre: HookResult | None = fired if fired is None or isinstance(fired, HookResult) else await fired
    runner = call
    cache_key = ""
    forks: list[asyncio.Task[Any]] = []
    if pre is not None:
        kind = pre.kind
        if kind == "replace":
            return pre.result
        data = _data_after(pre, data, before)
        if kind == "redirect":
            if redirect is None:
                raise ValidationError(f"{component[0]} calls cannot be redirected (hook at {before})")
            runner = redirect(pre.target)
        elif kind == "cache":
            cache_key = f"{component[0]}:{component[1]}:{pre.key}"
            hit, value = result_cache().get(cache_key)
            if hit:
                return value
        elif kind == "fork":
            forked = call if branch is None else branch
            forks = [
                asyncio.ensure_future(_quiet(forked, dict(given)))
                for given in pre.branches
                if isinstance(given, dict)
            ]
    attempt = 1
    try:
        while True:
            try:
                result = await runner(data)
            except (Cancelled, asyncio.CancelledError):
                raise
            except LLMSpellError as exc:
                failed = {**data, "error": exc.to_dict()}
                outcome = await registry.run(error, component, failed, ctx, attempt=attempt)
                if outcome.kind == "replace":
                    return outcome.result
                if outcome.kind == "retry" and attempt < outcome.max_attempts:
                    attempt = await _backoff(attempt, outcome.delay_ms)
                    continue
                raise
            if after_hooks:
                hctx = HookContext(
                    after, component, {**data, "result": result}, correlation_id, run_id, attempt, ctx
                )
                fired = registry.fire(after_hooks, hctx)
                post = fired if fired is None or isinstance(fired, HookResult) else await fired
                if post is None:
                    pass
                elif post.kind == "modified" and isinstance(post.data, dict):
                    result = post.data.get("result")
                elif post.kind == "replace":
                    result = post.result
                elif post.kind == "retry" and attempt < post.max_attempts:
                    attempt = await _backoff(attempt, post.delay_ms)
                    continue
            if pre is not None and cache_key:
                result_cache().put(cache_key, result, pre.ttl_s)
            return result
    finally:
        if forks:
            await asyncio.gather(*forks, return_exceptions=True)


@dataclass(frozen=True, slots=True)
class Settled:
    """The last item :func:`around_stream` yields: the call's result as the hooks left it.

    Attributes:
        result: the call's own result, or what a hook answered or changed it to.
        sent: whether items of the call went out before it settled.
    """

    result: Any
    sent: bool


class Relay:
    """Passes on the items of :func:`around_stream` but the last, kept as :attr:`settled`::

    relay = Relay()
    async for item in relay.items(around_stream(...)):
        yield item
    relay.settled.result
    """

    __slots__ = ("_settled",)

    def __init__(self) -> None:
        self._settled: Settled | None = None

    async def items(self, stream: AsyncGenerator[Any, None]) -> AsyncGenerator[Any, None]:
        async with aclosing(stream):
            async for item in stream:
                if isinstance(item, Settled):
                    self._settled = item
                else:
                    yield item

    @property
    def settled(self) -> Settled:
        """The call's outcome (the stream settles or raises, so it is there once it ended)."""
        assert self._settled is not None, "the stream has not settled"
        return self._settled


async def around_stream(
    registry: HookRegistry,
    ctx: ExecutionContext,
    *,
    component: tuple[str, str],
    points: tuple[str, str, str],
    data: dict[str, Any],
    call: Callable[[dict[str, Any]], AsyncGenerator[T, None]],
    result: Callable[[], Any],
    branch: Call,
) -> AsyncGenerator[T | Settled, None]:
    """:func:`around` for a call whose result arrives as a stream of items.

    Yields the items of ``call(data)`` as they come, then one :class:`Settled`: the result
    (``result()`` is the call's own, read once its items ran out) after the hooks. The
    points act as in :func:`around`, except that items which went out are not taken back:

    - before: ``modified`` changes ``data``; ``replace`` and a ``cache`` hit settle without
      calling (no item); ``fork`` awaits ``branch`` (not streamed) on each branch's data
      before settling; ``redirect`` is refused.
    - after (data + ``result``): ``modified``/``replace`` change the settled result only;
      ``retry`` calls again only while no item went out (else the result stands).
    - error (data + ``error``): ``replace`` settles with its result; ``retry`` calls again
      only while no item went out (else the error propagates).

    Raises:
        HookCancelled: a hook answered ``cancel`` (at the before point: nothing was called).
        ValidationError: a before hook answered ``redirect`` or did not keep the data a table.
    """
    before, after, error = points
    before_hooks, after_hooks, error_hooks = registry.chains(points)
    cache_key = ""
    ttl_s = 0.0
    forks: list[asyncio.Future[Any]] = []
    if before_hooks:
        pre = await registry.run(before, component, data, ctx)
        kind = pre.kind
        if kind == "replace":
            yield Settled(pre.result, sent=False)
            return
        data = _data_after(pre, data, before)
        if kind == "redirect":
            raise ValidationError(f"{component[0]} calls cannot be redirected (hook at {before})")
        if kind == "cache":
            cache_key, ttl_s = f"{component[0]}:{component[1]}:{pre.key}", pre.ttl_s
            hit, value = result_cache().get(cache_key)
            if hit:
                yield Settled(value, sent=False)
                return
        elif kind == "fork":
            forks = [
                asyncio.ensure_future(_quiet(branch, dict(given)))
                for given in pre.branches
                if isinstance(given, dict)
            ]
    sent = False
    attempt = 1
    try:
        while True:
            try:
                async with aclosing(call(data)) as items:
                    async for item in items:
                        sent = True
                        yield item
                value = result()
            except (Cancelled, asyncio.CancelledError):
                raise
            except LLMSpellError as exc:
                if not error_hooks:
                    raise
                failed = {**data, "error": exc.to_dict()}
                outcome = await registry.run(error, component, failed, ctx, attempt=attempt)
                if outcome.kind == "replace":
                    yield Settled(outcome.result, sent)
                    return
                if outcome.kind == "retry" and attempt < outcome.max_attempts and not sent:
                    attempt = await _backoff(attempt, outcome.delay_ms)
                    continue
                raise
            if after_hooks:
                post = await registry.run(after, component, {**data, "result": value}, ctx, attempt=attempt)
                if post.kind == "modified" and isinstance(post.data, dict):
                    value = post.data.get("result")
                elif post.kind == "replace":
                    value = post.result
                elif post.kind == "retry" and attempt < post.max_attempts:
                    if not sent:
                        attempt = await _backoff(attempt, post.delay_ms)
                        continue
                    log.info("a %s hook answered retry after the stream went out; the result stands", after)
            if cache_key:
                result_cache().put(cache_key, value, ttl_s)
            yield Settled(value, sent)
            return
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


def _data_after(pre: HookResult, data: dict[str, Any], before: str) -> dict[str, Any]:
    """The call's data after the ``before`` hooks: theirs when they changed it (a table)."""
    changed: object = pre.data
    if changed is data:
        return data
    if not isinstance(changed, dict):
        raise ValidationError(f"a {before} hook must keep the data a table, got {type(changed).__name__}")
    return changed

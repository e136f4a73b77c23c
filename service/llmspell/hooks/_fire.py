"""Firing the observing points (limits, security, performance, memory, configuration).

Components call these only after :func:`~llmspell.hooks.hooks_for` returned a registry,
so the unhooked path never reaches this module. An observing point never changes the
call it observes: whatever its hooks answer or raise, the original error or result
stands (a hook's ``cancel`` is logged, not raised) — except :func:`configuration_change`,
whose ``cancel`` refuses the change.

- :func:`observed` awaits a component call, fires ``ResourceLimitExceeded`` /
  ``SecurityViolation`` when it fails with ``LIMIT_EXCEEDED``/``TIMEOUT`` /
  ``SANDBOX_VIOLATION`` and ``PerformanceThresholdExceeded`` when it took longer than
  ``ctx.limits.slow_call_ms``; :func:`observed_stream` does the same for a stream.
- :func:`report_error` fires the error points once per error object, however many layers
  the error crosses.
- :func:`watch_memory` is the daemon's loop firing ``MemoryUsageHigh`` on process RSS.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import AsyncGenerator, Awaitable, Callable
from contextlib import aclosing
from typing import TYPE_CHECKING, Any, TypeVar

from ..core.errors import LLMSpellError

if TYPE_CHECKING:
    from ..core.context import ExecutionContext
    from .registry import HookRegistry

__all__ = [
    "configuration_change",
    "limit_data",
    "observe",
    "observed",
    "observed_stream",
    "process_rss_mb",
    "report_error",
    "watch_memory",
    "watching",
]

log = logging.getLogger("llmspell.hooks")

T = TypeVar("T")

_REPORTED = "_llmspell_hook_reported"
_CONFIG = ("system", "config")
_DAEMON = ("system", "daemon")
_WATCHED = ("PerformanceThresholdExceeded", "ResourceLimitExceeded", "SecurityViolation")


def watching(registry: HookRegistry) -> bool:
    """True when :func:`observed` has anything to fire (callers skip the wrapper otherwise)."""
    return registry.active(_WATCHED)  # one cached lookup: this runs on every hooked call


async def observe(
    registry: HookRegistry,
    point: str,
    component: tuple[str, str],
    data: dict[str, Any],
    ctx: ExecutionContext | None,
) -> None:
    """Fire ``point`` for its observers; nothing a hook answers or raises reaches the caller."""
    if not registry.chain(point):
        return
    try:
        await registry.run(point, component, data, ctx)
    except LLMSpellError as exc:
        log.info("a %s hook answered %s; the observed outcome stands", point, exc.code)


def limit_data(error: LLMSpellError) -> dict[str, Any]:
    """``{limit, value, code, message, details}`` of a ``LIMIT_EXCEEDED``/``TIMEOUT`` error.

    ``limit`` names the limit (``details["resource"]`` where the raiser set it, ``timeout_s``
    for timeouts, else ``"unknown"``); ``value`` is its configured value when known.
    """
    details = dict(error.details)
    details.pop("fatal", None)
    limit = details.get("resource")
    value = details.get("limit")
    if error.code == "TIMEOUT":
        limit = limit or "timeout_s"
        value = details.get("timeout_s", value)
    if not isinstance(value, int | float) or isinstance(value, bool):
        value = None
    return {
        "limit": str(limit or "unknown"),
        "value": value,
        "code": error.code,
        "message": error.message,
        "details": details,
    }


async def report_error(
    registry: HookRegistry, ctx: ExecutionContext | None, error: LLMSpellError, component: tuple[str, str]
) -> None:
    """Fire ``ResourceLimitExceeded`` (``LIMIT_EXCEEDED``, ``TIMEOUT``) or ``SecurityViolation``
    (``SANDBOX_VIOLATION``) for ``error`` raised by ``component``; once per error object."""
    code = error.code
    if code == "SANDBOX_VIOLATION":
        point = "SecurityViolation"
    elif code in ("LIMIT_EXCEEDED", "TIMEOUT"):
        point = "ResourceLimitExceeded"
    else:
        return
    if getattr(error, _REPORTED, False):
        return
    setattr(error, _REPORTED, True)
    if not registry.chain(point):
        return
    if point == "SecurityViolation":
        details = dict(error.details)
        data: dict[str, Any] = {
            "kind": str(details.get("kind") or "sandbox"),
            "code": code,
            "message": error.message,
            "details": details,
        }
    else:
        data = limit_data(error)
        if data["value"] is None and ctx is not None:
            # A run limit the raiser did not quote (the prelude's budget, the run's deadline).
            configured = getattr(ctx.limits, data["limit"], None)
            if isinstance(configured, int | float) and not isinstance(configured, bool):
                data["value"] = configured
    data["component"] = {"type": component[0], "name": component[1]}
    await observe(registry, point, component, data, ctx)


async def observed(
    registry: HookRegistry,
    ctx: ExecutionContext,
    component: tuple[str, str],
    call: Awaitable[T],
    data: dict[str, Any] | None = None,
) -> T:
    """Await ``call``, firing the error points on failure and ``PerformanceThresholdExceeded``
    (``{type, name, duration_ms, threshold_ms, failed, ...data}``) when it was slow."""
    started = time.perf_counter()
    try:
        result = await call
    except LLMSpellError as exc:
        await report_error(registry, ctx, exc, component)
        await _slow(registry, ctx, component, started, data, failed=True)
        raise
    await _slow(registry, ctx, component, started, data, failed=False)
    return result


async def observed_stream(
    registry: HookRegistry,
    ctx: ExecutionContext,
    component: tuple[str, str],
    items: AsyncGenerator[T, None],
    data: dict[str, Any] | None = None,
    *,
    last: Callable[[T], bool] | None = None,
) -> AsyncGenerator[T, None]:
    """:func:`observed` for a stream: yield ``items``, firing the error points if it fails
    and ``PerformanceThresholdExceeded`` if it took longer than the threshold.

    The duration is the time spent producing the items, from the first step to the end
    (the time the reader held the stream between two items is not counted). The end is
    the end of ``items``, or the item ``last`` accepts (a reader may stop there). A stream
    closed before its end (the reader stopped) fires nothing, as a cancelled call.
    """
    busy = 0.0
    mark = time.perf_counter()
    try:
        async with aclosing(items):
            async for item in items:
                busy += time.perf_counter() - mark
                if last is not None and last(item):
                    await _slow(registry, ctx, component, time.perf_counter() - busy, data, failed=False)
                    yield item
                    return
                yield item
                mark = time.perf_counter()
    except LLMSpellError as exc:
        busy += time.perf_counter() - mark
        await report_error(registry, ctx, exc, component)
        await _slow(registry, ctx, component, time.perf_counter() - busy, data, failed=True)
        raise
    busy += time.perf_counter() - mark
    await _slow(registry, ctx, component, time.perf_counter() - busy, data, failed=False)


async def _slow(
    registry: HookRegistry,
    ctx: ExecutionContext,
    component: tuple[str, str],
    started: float,
    data: dict[str, Any] | None,
    *,
    failed: bool,
) -> None:
    threshold = ctx.limits.slow_call_ms
    if threshold is None:
        return
    elapsed_ms = (time.perf_counter() - started) * 1000.0
    if elapsed_ms <= threshold or not registry.chain("PerformanceThresholdExceeded"):
        return
    payload = {
        **(data or {}),
        "type": component[0],
        "name": component[1],
        "duration_ms": round(elapsed_ms, 3),
        "threshold_ms": threshold,
        "failed": failed,
    }
    await observe(registry, "PerformanceThresholdExceeded", component, payload, ctx)


async def configuration_change(section: str, action: str, value: Any) -> Any:
    """Fire ``ConfigurationChange`` ``{section, action, value}`` on the process hooks before a
    runtime change; returns the value to apply (``modified`` changes it).

    Raises:
        HookCancelled: a hook refused the change.
    """
    from .registry import process_hooks

    registry = process_hooks()
    if not registry.chain("ConfigurationChange"):
        return value
    data = {"section": section, "action": action, "value": value}
    outcome = await registry.run("ConfigurationChange", _CONFIG, data)
    if isinstance(outcome.data, dict) and "value" in outcome.data:
        return outcome.data["value"]
    return value


def process_rss_mb() -> float | None:
    """The resident set size of this process in MiB (None where it cannot be read)."""
    try:
        with open("/proc/self/statm", "rb") as statm:
            pages = int(statm.read().split()[1])
        return pages * os.sysconf("SC_PAGE_SIZE") / (1024 * 1024)
    except (OSError, ValueError, IndexError):
        pass
    try:
        import psutil

        rss: int = psutil.Process().memory_info().rss
        return rss / (1024 * 1024)
    except Exception:  # psutil missing or refused
        return None


async def watch_memory(threshold_mb: float, replica: str, *, interval_s: float = 5.0) -> None:
    """Every ``interval_s``, fire ``MemoryUsageHigh`` ``{kind="process", rss_mb, threshold_mb,
    replica}`` (process hooks, component ``("system", "daemon")``) when the process RSS
    crosses ``threshold_mb``; it fires again only after RSS fell below 90 % of the mark."""
    import asyncio

    from .registry import process_hooks

    high = False
    while True:
        await asyncio.sleep(interval_s)
        rss = process_rss_mb()
        if rss is None:
            log.info("process memory cannot be read here; MemoryUsageHigh will not fire")
            return
        if rss > threshold_mb and not high:
            high = True
            data = {
                "kind": "process",
                "rss_mb": round(rss, 1),
                "threshold_mb": threshold_mb,
                "replica": replica,
            }
            await observe(process_hooks(), "MemoryUsageHigh", _DAEMON, data, None)
        elif high and rss < threshold_mb * 0.9:
            high = False

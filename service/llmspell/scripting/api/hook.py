"""``Hook``: register, list and fire hooks from scripts.

Each run gets its own hook registry layered over the host's (the process or daemon
registry), installed as ``ctx.services["hooks"]`` so every component the run calls fires
the run's hooks; they vanish with the run. Data-changing hook executions are recorded
as ``hook`` run events (the run's timeline).
"""

from __future__ import annotations

import asyncio
from asyncio import _get_running_loop  # None outside a loop (a hook fired from synchronous code)
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any, ClassVar

from ...core.context import ExecutionContext
from ...core.errors import ValidationError
from ...hooks.results import coerce_result
from .surface import ApiNamespace, ApiObject, ScriptEnv, ScriptFunction

if TYPE_CHECKING:
    from ...hooks import HookContext, HookRegistry, HookResult, RegisteredHook

__all__ = ["HookHandle", "build", "run_hooks"]


def run_hooks(env: ScriptEnv, ctx: ExecutionContext) -> HookRegistry:
    """The run's hook registry (created on first use and installed in ``ctx.services``)."""

    def create() -> HookRegistry:
        from ...hooks import HookHistory, HookRegistry, process_hooks

        parent = ctx.services.get("hooks") or process_hooks()
        history = HookHistory(max_records=1000, sink=lambda record: env.event("hook", record))
        registry = HookRegistry(
            parent=parent,
            budget_s=parent.budget_s,
            failure_threshold=parent.failure_threshold,
            reset_s=parent.reset_s,
            history=history,
        )
        ctx.services["hooks"] = registry
        return registry

    registry: HookRegistry = env.service("hooks", create)
    return registry


class _ScriptHook:
    """A script function as a hook: gets the context table, answers a result table.

    The function runs in the script's runtime, nested in whatever call of the script fired
    the point. With an engine offering ``call_hook(hctx) -> (done, value)`` (Lua), a
    function that does not await answers synchronously: no coroutine, no event-loop round
    trip, and the registry's dispatch stays synchronous; otherwise an awaitable is returned.

    The function always runs on the run's own event loop (the one that registered it): a
    component firing the point from another loop (the daemon's state calls run on the API
    loop) hands the call over and waits for it.
    """

    __slots__ = ("_fast", "_fn", "_loop", "name")

    def __init__(self, fn: ScriptFunction, name: str) -> None:
        self._fn = fn
        self._fast: Callable[[HookContext], tuple[bool, Any]] | None = getattr(fn, "call_hook", None)
        self.name = name
        try:
            self._loop: asyncio.AbstractEventLoop | None = asyncio.get_running_loop()
        except RuntimeError:
            self._loop = None

    def __call__(self, hctx: HookContext) -> HookResult | Awaitable[HookResult] | None:
        loop = self._loop
        if loop is not None and loop is not _get_running_loop():
            return self._elsewhere(hctx, loop)
        if self._fast is None:
            return self._call(hctx)
        done, value = self._fast(hctx)
        if done:  # nil (continue, the usual answer) goes back as None: nothing to convert
            return None if value is None else coerce_result(value)
        return self._finish(value)

    async def _elsewhere(self, hctx: HookContext, loop: asyncio.AbstractEventLoop) -> HookResult:
        if loop.is_closed():
            raise ValidationError(f"hook {self.name!r} outlived its run")
        return await asyncio.wrap_future(asyncio.run_coroutine_threadsafe(self._call(hctx), loop))

    async def _call(self, hctx: HookContext) -> HookResult:
        return coerce_result(await self._fn(hctx))

    async def _finish(self, pending: Awaitable[Any]) -> HookResult:
        return coerce_result(await pending)


class HookHandle(ApiObject):
    """What ``Hook.register`` returns: ``handle:unregister()``, ``handle:info()``."""

    api_type: ClassVar[str] = "hook"
    api_methods: ClassVar[dict[str, str]] = {"unregister": "unregister", "info": "info", "id": "hook_id"}

    def __init__(self, entry: RegisteredHook) -> None:
        self.entry = entry

    def unregister(self) -> bool:
        return self.entry.unregister()

    def info(self) -> dict[str, Any]:
        return self.entry.info()

    def hook_id(self) -> str:
        return self.entry.id


def build(env: ScriptEnv, ctx: ExecutionContext) -> list[ApiNamespace]:
    def register(point: Any, fn: Any, priority: Any = None) -> HookHandle:
        options: dict[str, Any] = {}
        if isinstance(priority, dict):
            options, priority = priority, priority.get("priority")
        if not isinstance(fn, ScriptFunction):
            raise ValidationError(
                "Hook.register(point, function(ctx) ... end [, priority]) needs a function",
                details={"field": "fn"},
            )
        name = str(options.get("name") or f"{env.script_name}:{point}")
        entry = run_hooks(env, ctx).register(
            str(point),
            _ScriptHook(fn, name),
            priority=priority,
            name=name,
            source="script",
            budget_s=_seconds(options.get("budget_ms")),
        )
        return HookHandle(entry)

    def unregister(handle: Any) -> bool:
        hook_id = handle.entry.id if isinstance(handle, HookHandle) else handle
        if not isinstance(hook_id, str):
            raise ValidationError("Hook.unregister expects a handle from Hook.register or its id")
        return run_hooks(env, ctx).unregister(hook_id)

    def list_hooks(point: Any = None) -> list[dict[str, Any]]:
        return run_hooks(env, ctx).list(None if point is None else str(point))

    async def fire(point: Any, data: Any = None, component: Any = None) -> dict[str, Any]:
        from ...hooks import normalize_point

        name = normalize_point(point)
        result = await run_hooks(env, ctx).run(name, ("script", str(component or env.script_name)), data, ctx)
        return result.to_dict() | {"data": result.data}

    def points() -> list[str]:
        from ...hooks import POINTS

        return sorted(POINTS)

    ns = ApiNamespace(name="Hook")
    ns.add(register, "register")
    ns.add(unregister, "unregister")
    ns.add(list_hooks, "list")
    ns.add(fire, "fire", "invoke")
    ns.add(points, "points")
    return [ns]


def _seconds(ms: Any) -> float | None:
    if ms is None:
        return None
    if not isinstance(ms, int | float) or isinstance(ms, bool) or ms <= 0:
        raise ValidationError("budget_ms must be a positive number", details={"field": "budget_ms"})
    return float(ms) / 1000.0

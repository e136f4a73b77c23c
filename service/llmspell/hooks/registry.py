"""The hook registry: registration, priorities, per-run layering and dispatch.

One process-wide registry (:func:`process_hooks`) holds hooks from Python (the
:func:`hook` decorator), from configuration and from admins (REST). A run that registers
hooks gets its own registry whose parent is the process one, carried to components in
``ctx.services["hooks"]``; components call :func:`hooks_for` (a couple of attribute reads
when nothing is registered) and dispatch only when it returns a registry.

Ordering: lower ``priority`` runs first (``highest`` = -100, ``high`` = -50, ``normal`` =
0, ``low`` = 50, ``lowest`` = 100); equal priorities run in registration order, across
the run and process registries alike.
"""

from __future__ import annotations

import inspect
import itertools
import logging
import threading
import time
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass, field, replace
from types import BuiltinFunctionType, CoroutineType, FunctionType, MethodType
from typing import TYPE_CHECKING, Any, TypeVar

from ..core.aio import Resumed
from ..core.errors import Cancelled, LimitExceeded, SandboxViolation, Timeout, ValidationError
from .abc import TERMINAL, Hook, HookCancelled, HookContext, HookResult
from .breaker import CircuitBreaker
from .points import normalize_point
from .results import coerce_result

if TYPE_CHECKING:
    from ..core.context import ExecutionContext
    from .history import HookHistory

__all__ = [
    "PRIORITIES",
    "HookFn",
    "HookRegistry",
    "RegisteredHook",
    "hook",
    "hooks_for",
    "invoke",
    "process_hooks",
]

log = logging.getLogger("llmspell.hooks")

HookFn = Callable[[HookContext], Any]
PRIORITIES = {"highest": -100, "high": -50, "normal": 0, "low": 50, "lowest": 100}
_PASS_THROUGH = (LimitExceeded, Cancelled, Timeout, SandboxViolation, HookCancelled)
_SEQ = itertools.count(1)
_clock = time.perf_counter
# Plain synchronous hooks answering None run in groups timed by one clock pair; a group
# slower than this has its hooks timed one by one from their next call (see fire).
_GROUP_S = 0.001
_PLAIN = (FunctionType, MethodType, BuiltinFunctionType)
_UNCALLED: Any = object()
T = TypeVar("T")
# Bumped (under a registry's lock) by every change to any registry: a registry's resolved
# chains are valid while it is unchanged, which also covers changes to its parent.
_GENERATIONS = itertools.count(1)
_generation = 0


def _priority(value: object) -> int:
    if value is None:
        return 0
    if isinstance(value, str) and value.lower() in PRIORITIES:
        return PRIORITIES[value.lower()]
    if isinstance(value, int | float) and not isinstance(value, bool) and float(value).is_integer():
        return int(value)
    raise ValidationError(
        f"hook priority must be an integer or one of {', '.join(PRIORITIES)}, got {value!r}",
        details={"field": "priority"},
    )


@dataclass(eq=False, kw_only=True, slots=True)
class RegisteredHook:
    """A hook in a registry; also the handle ``register`` returns.

    ``groupable``: a plain synchronous function whose budget is at least ``_GROUP_S``,
    which dispatch may time together with its neighbours; ``timed``: time its next call
    on its own (always for the others, and while its breaker has failures recorded).
    """

    id: str
    point: str
    fn: HookFn
    priority: int
    seq: int
    name: str
    source: str
    is_async: bool
    breaker: CircuitBreaker
    registry: HookRegistry | None = None
    options: dict[str, Any] = field(default_factory=dict)
    groupable: bool = False
    timed: bool = True

    def unregister(self) -> bool:
        """Remove the hook; False when it was already gone."""
        return self.registry.unregister(self.id) if self.registry is not None else False

    def info(self) -> dict[str, Any]:
        """``{id, point, name, priority, source, breaker={state, calls, errors, slow, avg_ms}}``."""
        return {
            "id": self.id,
            "point": self.point,
            "name": self.name,
            "priority": self.priority,
            "source": self.source,
            "breaker": self.breaker.snapshot(),
        }


class HookRegistry:
    """Hooks by point, optionally layered over a ``parent`` registry.

    Args:
        parent: a registry whose hooks also fire (the process registry under a run's).
        budget_s: default latency budget of a hook call (over it counts as a failure).
        failure_threshold: consecutive failures (or overruns) that open a hook's breaker.
        reset_s: how long an opened hook is skipped before a half-open trial.
        history: where data-changing hook executions are recorded (default: the parent's).
    """

    def __init__(
        self,
        *,
        parent: HookRegistry | None = None,
        budget_s: float | None = 1.0,
        failure_threshold: int = 5,
        reset_s: float = 30.0,
        history: HookHistory | None = None,
    ) -> None:
        self._own: dict[str, tuple[RegisteredHook, ...]] = {}
        # The parent's dict itself (mutated in place), so ``live`` needs no method call.
        self._inherited: dict[str, tuple[RegisteredHook, ...]] = parent._own if parent is not None else {}
        self._parent = parent
        self._resolved: dict[str, tuple[RegisteredHook, ...]] = {}
        self._active: dict[tuple[str, ...], bool] = {}
        self._many: dict[tuple[str, ...], tuple[tuple[RegisteredHook, ...], ...]] = {}
        self._derived: dict[Callable[[HookRegistry], Any], Any] = {}
        self._resolved_at = -1
        self._lock = threading.Lock()
        self._by_id: dict[str, RegisteredHook] = {}
        self.budget_s = budget_s
        self.failure_threshold = failure_threshold
        self.reset_s = reset_s
        self._history = history

    @property
    def parent(self) -> HookRegistry | None:
        return self._parent

    @property
    def live(self) -> bool:
        """True when any hook (here or in the parent) is registered."""
        return bool(self._own or self._inherited)

    @property
    def history(self) -> HookHistory | None:
        if self._history is not None:
            return self._history
        return self._parent.history if self._parent is not None else None

    @history.setter
    def history(self, value: HookHistory | None) -> None:
        self._history = value

    # ------------------------------------------------------------------ registration

    def register(
        self,
        point: str,
        fn: HookFn | Hook,
        *,
        priority: int | str | None = 0,
        name: str | None = None,
        source: str = "python",
        budget_s: float | None = None,
        failure_threshold: int | None = None,
        reset_s: float | None = None,
        options: dict[str, Any] | None = None,
    ) -> RegisteredHook:
        """Add ``fn`` at ``point``; returns the handle (``handle.unregister()``).

        ``fn(ctx)`` may be sync or async and returns a :class:`HookResult`, None, or the
        script shapes (``"continue"``, ``{"action": "modified", "data": ...}``).

        Raises:
            ValidationError: unknown point, bad priority, or ``fn`` not callable.
        """
        point = normalize_point(point)
        if not callable(fn):
            raise ValidationError(
                "a hook must be a function taking the hook context", details={"field": "fn"}
            )
        seq = next(_SEQ)
        label = name or getattr(fn, "name", None) or getattr(fn, "__name__", None) or "hook"
        hook_budget = budget_s if budget_s is not None else getattr(fn, "budget_s", None)
        breaker = CircuitBreaker(
            f"hook:{label}:{seq}",
            failure_threshold=failure_threshold or self.failure_threshold,
            budget_s=hook_budget if hook_budget is not None else self.budget_s,
            reset_s=reset_s if reset_s is not None else self.reset_s,
        )
        is_async = _is_async(fn)
        groupable = not is_async and type(fn) in _PLAIN and breaker.limit_s >= _GROUP_S
        entry = RegisteredHook(
            id=f"h{seq}",
            point=point,
            fn=fn,
            priority=_priority(priority),
            seq=seq,
            name=str(label),
            source=source,
            is_async=is_async,
            breaker=breaker,
            registry=self,
            options=dict(options or {}),
            groupable=groupable,
            timed=not groupable,
        )
        with self._lock:
            chain = (*self._own.get(point, ()), entry)
            self._own[point] = tuple(sorted(chain, key=_order))
            self._by_id[entry.id] = entry
            _changed()
        return entry

    def unregister(self, handle: RegisteredHook | str) -> bool:
        """Remove a hook of this registry by handle or id; False when absent."""
        hook_id = handle.id if isinstance(handle, RegisteredHook) else str(handle)
        with self._lock:
            entry = self._by_id.pop(hook_id, None)
            if entry is None:
                return False
            chain = tuple(h for h in self._own.get(entry.point, ()) if h is not entry)
            if chain:
                self._own[entry.point] = chain
            else:
                self._own.pop(entry.point, None)
            _changed()
        return True

    def get(self, hook_id: str) -> RegisteredHook | None:
        """The hook ``hook_id`` of this registry or its parent."""
        found = self._by_id.get(hook_id)
        if found is None and self._parent is not None:
            return self._parent.get(hook_id)
        return found

    def clear(self) -> None:
        """Remove every hook of this registry (not of the parent)."""
        with self._lock:
            self._own.clear()
            self._by_id.clear()
            _changed()

    def chain(self, point: str) -> tuple[RegisteredHook, ...]:
        """The hooks that fire at ``point``, in execution order (resolved once per change)."""
        if self._resolved_at != _generation:
            self._forget()
        resolved = self._resolved  # a result computed from older hooks lands in an older dict
        found = resolved.get(point)
        if found is None:
            found = resolved[point] = self._merge(point)
        return found

    def active(self, points: tuple[str, ...]) -> bool:
        """True when any of ``points`` has a hook: one cached lookup for a component's
        whole set of points (pass the same tuple object each time)."""
        if self._resolved_at != _generation:
            self._forget()
        cache = self._active
        found = cache.get(points)
        if found is None:
            found = cache[points] = any(self.chain(point) for point in points)
        return found

    def chains(self, points: tuple[str, ...]) -> tuple[tuple[RegisteredHook, ...], ...]:
        """:meth:`chain` of each of ``points``, in one cached lookup (pass the same tuple
        object each time: a component's fixed set of points)."""
        if self._resolved_at != _generation:
            self._forget()
        cache = self._many
        found = cache.get(points)
        if found is None:
            found = cache[points] = tuple(self.chain(point) for point in points)
        return found

    def derived(self, compute: Callable[[HookRegistry], T]) -> T:
        """``compute(self)``, cached until any registry changes: what a component derives
        from its chains (which layers its call needs), in one cached lookup per call
        (``compute`` is the key: pass the same function each time)."""
        if self._resolved_at != _generation:
            self._forget()
        cache = self._derived
        found = cache.get(compute, _UNCALLED)
        if found is _UNCALLED:
            found = cache[compute] = compute(self)
        return found  # type: ignore[no-any-return]

    def _forget(self) -> None:
        # Caches first, then the generation they belong to (threads read in that order too).
        generation = _generation
        self._resolved = {}
        self._active = {}
        self._many = {}
        self._derived = {}
        self._resolved_at = generation

    def _merge(self, point: str) -> tuple[RegisteredHook, ...]:
        own = self._own.get(point, ())
        inherited = self._inherited.get(point, ())
        if not inherited:
            return own
        if not own:
            return inherited
        return tuple(sorted(own + inherited, key=_order))

    def list(self, point: str | None = None) -> list[dict[str, Any]]:
        """Every hook (own and inherited) as ``info()`` dicts, by point then order."""
        points = sorted(set(self._own) | set(self._inherited)) if point is None else [normalize_point(point)]
        return [entry.info() for p in points for entry in self.chain(p)]

    # ------------------------------------------------------------------ dispatch

    async def run(
        self,
        point: str,
        component: tuple[str, str],
        data: Any,
        ctx: ExecutionContext | None = None,
        *,
        attempt: int = 1,
    ) -> HookResult:
        """Run the chain at ``point`` and return the outcome.

        The returned result's ``data`` is the point's data after every ``modified``; its
        ``kind`` is the first terminal result's kind, else ``modified`` when any hook
        changed the data, else ``continue``. A hook that raises is counted by its breaker
        and skipped (the chain goes on), except for the pass-through errors documented on
        :class:`~llmspell.hooks.abc.Hook`.
        """
        outcome = self.dispatch(point, component, data, ctx, attempt=attempt)
        if outcome is not None and not isinstance(outcome, HookResult):
            outcome = await outcome
        return HookResult("continue", data) if outcome is None else outcome

    def dispatch(
        self,
        point: str,
        component: tuple[str, str],
        data: Any,
        ctx: ExecutionContext | None = None,
        *,
        attempt: int = 1,
    ) -> HookResult | Awaitable[HookResult | None] | None:
        """:meth:`run` for hot paths: synchronous while every hook answers synchronously.

        Returns None when no hook changed anything (the caller keeps ``data``; hooks may
        have mutated it in place), else the :class:`HookResult` :meth:`run` would return;
        an awaitable of the same as soon as a hook answers with one (async hooks).

        Raises:
            HookCancelled: a hook answered ``cancel``.
        """
        hooks = self.chain(point)
        if not hooks:
            return None
        if ctx is None:
            return self.fire(hooks, HookContext(point, component, data, "", "", attempt, None))
        return self.fire(
            hooks, HookContext(point, component, data, ctx.correlation_id, ctx.run_id, attempt, ctx)
        )

    def fire(
        self, hooks: tuple[RegisteredHook, ...], hctx: HookContext, changed: bool = False
    ) -> HookResult | Coroutine[Any, Any, HookResult | None] | None:
        """:meth:`dispatch` of a chain already looked up (:meth:`chains`) with its context.

        Plain synchronous hooks that answer None run in groups timed by one clock pair (each
        breaker counts the call and an even share of the time): a group within ``_GROUP_S``
        (1 ms, at most any such hook's budget) had no slow hook; a slower group has its
        hooks timed one by one from their next call, so a hook that stays slow is still
        counted and opened, one call later. Hooks with failures recorded, and hooks that
        are not plain functions (async, script, hook objects), are timed one by one
        (:meth:`_fire_each`); a plain one timed within ``_GROUP_S`` with a clean breaker
        goes back to the groups.
        """
        clock = _clock
        start = clock()
        entry: RegisteredHook | None = None
        try:
            for entry in hooks:
                if entry.timed:
                    value = _UNCALLED
                    break
                value = entry.fn(hctx)
                if value is not None:
                    break
            else:  # the usual case: every hook continued
                _grouped(hooks, clock() - start)
                return HookResult("modified", hctx.data) if changed else None
        except _PASS_THROUGH:
            assert entry is not None
            _grouped(hooks[: hooks.index(entry) + 1], clock() - start)
            raise
        except Exception:
            assert entry is not None
            index = hooks.index(entry)
            now = clock()
            _grouped(hooks[:index], now - start)  # with its time: a failure needs none
            entry.breaker.failure()
            entry.timed = True
            _failed(entry, hctx.point)
            return self._fire_each(hooks[index + 1 :], hctx, changed, now)
        assert entry is not None
        index = hooks.index(entry)
        if not index:  # nothing ran in a group: the first hook is timed from the start
            return self._fire_each(hooks, hctx, changed, start, value)
        now = clock()
        # A grouped hook answered (not None): the group before it gets the time up to now
        # and the answer is handled as that hook's, timed from now. Were they slow, the
        # group is timed one by one next time, and so is this hook, which comes after it.
        _grouped(hooks[:index], now - start)
        return self._fire_each(hooks[index:], hctx, changed, now, value)

    def _fire_each(
        self,
        hooks: tuple[RegisteredHook, ...],
        hctx: HookContext,
        changed: bool,
        now: float,
        value: Any = _UNCALLED,
    ) -> HookResult | Coroutine[Any, Any, HookResult | None] | None:
        """Run ``hooks``, each timed on its own; hands over to :meth:`_fire_async` at the
        first awaitable answer. ``value``: the first hook's answer when it was called
        already (at ``now``).

        One clock read per hook: each hook is timed from the previous read. A breaker
        with no recorded failure is closed, so a healthy hook costs one attribute test.
        """
        clock = _clock
        for entry in hooks:
            breaker = entry.breaker
            troubled = breaker._failures
            try:
                if value is _UNCALLED:
                    if troubled and not breaker.allow():
                        continue
                    value = entry.fn(hctx)
                if value is not None and type(value) is not HookResult:
                    if type(value) is CoroutineType:
                        # Stepped at once, as `await` would: an async hook that finishes
                        # without suspending (most do) keeps the dispatch synchronous.
                        try:
                            first = value.send(None)
                        except StopIteration as stop:
                            value = stop.value
                        else:
                            resumed = Resumed(value, first)
                            return self._fire_async(hooks, hctx, entry, resumed, now, changed)
                    elif entry.is_async or inspect.isawaitable(value):
                        return self._fire_async(hooks, hctx, entry, value, now, changed)
                    if value is not None and type(value) is not HookResult:
                        value = coerce_result(value)
            except _PASS_THROUGH:
                _passed_through(entry, now)
                raise
            except Exception:
                _hook_failed(entry, hctx.point, now)
                value = _UNCALLED
                now = clock()
                continue
            end = clock()
            elapsed = end - now
            now = end
            if troubled or elapsed > breaker.limit_s:
                breaker.success(elapsed)
            else:  # the common case, inlined: a closed breaker with nothing to reset
                breaker.calls += 1
                breaker.total_s += elapsed
            if breaker._failures:
                entry.timed = True
            elif elapsed <= _GROUP_S and entry.groupable:
                entry.timed = False
            if value is None:
                value = _UNCALLED
                continue
            kind = value.kind
            value, result = _UNCALLED, value
            if kind == "continue" or kind == "skipped":
                continue
            final = self._act(entry, hctx, result)
            if final is not None:
                return final
            changed = True
            now = clock()
        return HookResult("modified", hctx.data) if changed else None

    async def _fire_async(
        self,
        hooks: tuple[RegisteredHook, ...],
        hctx: HookContext,
        entry: RegisteredHook,
        pending: Any,
        started: float,
        changed: bool,
    ) -> HookResult | None:
        """Await ``entry``'s answer, act on it, then run the rest of the chain."""
        breaker = entry.breaker
        result: HookResult | None = None
        try:
            value = await pending
            result = value if type(value) is HookResult else coerce_result(value)
        except _PASS_THROUGH:
            _passed_through(entry, started)
            raise
        except Exception:
            _hook_failed(entry, hctx.point, started)
        else:
            breaker.success(_clock() - started)
            if breaker._failures:  # slow
                entry.timed = True
            if result.kind != "continue" and result.kind != "skipped":
                final = self._act(entry, hctx, result)
                if final is not None:
                    return final
                changed = True
        rest = self.fire(hooks[hooks.index(entry) + 1 :], hctx, changed)
        if rest is None or isinstance(rest, HookResult):
            return rest
        return await rest

    def _act(self, entry: RegisteredHook, hctx: HookContext, result: HookResult) -> HookResult | None:
        """Record a result other than continue/skipped; None when the chain goes on (modified)."""
        self._record(entry, hctx, result)
        kind = result.kind
        if kind == "modified":
            hctx.data = result.data
            return None
        if kind == "cancel":
            point, component = hctx.point, hctx.component
            raise HookCancelled(
                result.reason or f"cancelled by hook {entry.name!r} at {point}",
                details={"hook": entry.name, "point": point, "component": list(component)},
            )
        return replace(result, data=hctx.data) if kind in TERMINAL and result.data is None else result

    def _record(self, entry: RegisteredHook, hctx: HookContext, result: HookResult) -> None:
        history = self.history
        if history is not None:
            history.record(entry, hctx, result)


def _order(entry: RegisteredHook) -> tuple[int, int]:
    return entry.priority, entry.seq


def _grouped(group: tuple[RegisteredHook, ...], elapsed: float) -> None:
    """Count a call of each hook of ``group``, timed together in ``elapsed`` seconds."""
    if group:
        share = elapsed / len(group)
        for entry in group:
            breaker = entry.breaker
            breaker.calls += 1
            breaker.total_s += share
        if elapsed > _GROUP_S:
            _regroup(group)


def _passed_through(entry: RegisteredHook, started: float) -> None:
    """A hook raised cancellation or a run-stopping error: it ran, maybe slowly."""
    entry.breaker.success(_clock() - started)
    entry.timed = True


def _hook_failed(entry: RegisteredHook, point: str, started: float) -> None:
    """A hook raised: counted against its breaker and reported."""
    entry.breaker.failure(_clock() - started)
    entry.timed = True
    _failed(entry, point)


def _regroup(group: tuple[RegisteredHook, ...]) -> None:
    """A group overran ``_GROUP_S``: someone may have overrun its budget, so each hook is
    timed on its own from its next call."""
    for entry in group:
        entry.timed = True


def _changed() -> None:
    global _generation
    _generation = next(_GENERATIONS)  # atomic: two registries changing at once still move it


def _failed(entry: RegisteredHook, point: str) -> None:
    log.warning("hook %s at %s failed; continuing without it", entry.name, point, exc_info=True)


def _is_async(fn: object) -> bool:
    if inspect.iscoroutinefunction(fn):
        return True
    return inspect.iscoroutinefunction(type(fn).__call__)


_PROCESS = HookRegistry()


def process_hooks() -> HookRegistry:
    """The process-wide registry (Python decorators, configuration, admin REST hooks)."""
    return _PROCESS


def hooks_for(ctx: ExecutionContext | None) -> HookRegistry | None:
    """The registry to dispatch on for ``ctx`` (None: a call outside any run, which sees the
    process's hooks), or None when no hook is registered at all.

    This is the cheap guard components put in front of every hook point.
    """
    registry: HookRegistry = _PROCESS if ctx is None else ctx.services.get("hooks") or _PROCESS
    return registry if registry._own or registry._inherited else None


async def invoke(point: str, component: tuple[str, str], data: Any, ctx: ExecutionContext) -> HookResult:
    """Fire ``point`` for ``component`` with ``data`` in the run of ``ctx``.

    The API for components that wire their own points (workflows, state, sessions): use
    ``result.data`` as the (possibly modified) data and act on ``result.kind`` when the
    point supports it (``replace`` → ``result.result``; ``retry`` → call again).

    Raises:
        HookCancelled: a hook answered ``cancel`` (code ``CANCELLED``).
    """
    registry = hooks_for(ctx)
    if registry is None:
        return HookResult("continue", data)
    outcome = registry.dispatch(point, component, data, ctx)
    if outcome is not None and not isinstance(outcome, HookResult):
        outcome = await outcome
    return HookResult("continue", data) if outcome is None else outcome


def hook(
    point: str, *, priority: int | str = 0, name: str | None = None, registry: HookRegistry | None = None
) -> Callable[[HookFn], HookFn]:
    """Decorator: register a function (sync or async) as a hook of the process registry.

    Example::

        @hook("BeforeToolExecution", priority="high")
        def no_shell(ctx):
            if ctx.component[1] == "process-executor":
                return HookResult.cancel("no shell here")
    """

    def decorate(fn: HookFn) -> HookFn:
        (registry or _PROCESS).register(point, fn, priority=priority, name=name or fn.__name__)
        return fn

    return decorate

"""Built-in hooks by name, for configuration (``[[hooks]]``), REST admins and Python.

``register_builtin(registry, "caching", options={"ttl_s": 60})`` registers the built-in at
its default points (or ``points``) and priority. Composites take their members as
``options.hooks = [{name, options}]``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ..core.errors import ValidationError
from .abc import Hook

if TYPE_CHECKING:
    from ..core.config import Settings
    from .registry import HookRegistry, RegisteredHook

__all__ = [
    "BUILTINS",
    "Builtin",
    "create_builtin",
    "describe_builtins",
    "install_configured",
    "register_builtin",
]

_BEFORE = ("BeforeToolExecution", "BeforeAgentExecution", "BeforeLLMRequest")
_COMPOSITES = ("sequential", "parallel", "first_match", "voting")


@dataclass(frozen=True, slots=True)
class Builtin:
    """A built-in hook: how to build it, where it goes by default, what it does."""

    name: str
    points: tuple[str, ...]
    priority: int | str
    description: str


BUILTINS: dict[str, Builtin] = {
    b.name: b
    for b in (
        Builtin(
            "logging",
            (*_BEFORE, "AfterToolExecution", "AfterAgentExecution", "ToolError", "AgentError"),
            "highest",
            "log each call (PII redacted)",
        ),
        Builtin(
            "metrics",
            (*_BEFORE, "ToolError", "AgentError", "WorkflowError"),
            "highest",
            "count firings in llmspell_hook_results_total",
        ),
        Builtin(
            "debug",
            (*_BEFORE, "AfterToolExecution", "AfterAgentExecution", "AfterLLMRequest"),
            "highest",
            "trace firings in memory and at debug level",
        ),
        Builtin("security", _BEFORE, "highest", "deny-lists (tools, models, input patterns); PII-free logs"),
        Builtin(
            "cost",
            ("BeforeAgentExecution", "BeforeLLMRequest", "AfterAgentExecution"),
            "high",
            "tokens and money per run/session/agent/API key; budgets",
        ),
        Builtin(
            "rate_limit",
            ("BeforeToolExecution", "BeforeLLMRequest"),
            "high",
            "token bucket per provider/tool/key (Redis-shared when configured)",
        ),
        Builtin(
            "retry",
            ("ToolError", "AgentError", "WorkflowError"),
            "normal",
            "retry retryable errors with exponential backoff",
        ),
        Builtin("caching", _BEFORE, "lowest", "answer repeated calls from the result cache (TTL)"),
        *(
            Builtin(kind, (), "normal", f"composite: {kind.replace('_', '-')} over options.hooks")
            for kind in _COMPOSITES
        ),
    )
}


def create_builtin(name: str, options: dict[str, Any] | None = None, *, redis_url: str | None = None) -> Hook:
    """A new built-in hook ``name`` configured by ``options``.

    Raises:
        ValidationError: unknown name or options.
    """
    options = dict(options or {})
    if name in _COMPOSITES:
        return _composite(name, options, redis_url)
    factories: dict[str, Callable[[dict[str, Any]], Hook]] = _factories(redis_url)
    factory = factories.get(name)
    if factory is None:
        raise ValidationError(
            f"unknown built-in hook {name!r}; use one of {', '.join(BUILTINS)}", details={"field": "name"}
        )
    try:
        return factory(options)
    except TypeError as exc:
        raise ValidationError(
            f"bad options for the {name} hook: {exc}", details={"field": "options"}
        ) from exc


def _factories(redis_url: str | None) -> dict[str, Callable[[dict[str, Any]], Hook]]:
    from .builtin_control import CachingHook, RateLimitHook, RetryHook
    from .builtin_cost import CostHook
    from .builtin_observe import LoggingHook, MetricsHook, SecurityHook, TraceHook

    return {
        "logging": LoggingHook.from_options,
        "metrics": MetricsHook.from_options,
        "debug": TraceHook.from_options,
        "security": SecurityHook.from_options,
        "cost": CostHook.from_options,
        "rate_limit": lambda options: RateLimitHook.from_options(options, redis_url=redis_url),
        "retry": RetryHook.from_options,
        "caching": CachingHook.from_options,
    }


def _composite(kind: str, options: dict[str, Any], redis_url: str | None) -> Hook:
    from .composite import FirstMatchHook, ParallelHook, SequentialHook, VotingHook

    specs = options.pop("hooks", None)
    if not isinstance(specs, list) or not specs:
        raise ValidationError(
            f"a {kind} hook needs options.hooks = [{{name=..., options={{...}}}}, ...]",
            details={"field": "hooks"},
        )
    members: list[Hook] = []
    for spec in specs:
        if not isinstance(spec, dict) or not isinstance(spec.get("name"), str):
            raise ValidationError(f"each of the {kind} hook's hooks needs a name", details={"field": "hooks"})
        members.append(create_builtin(spec["name"], spec.get("options"), redis_url=redis_url))
    if kind == "voting":
        threshold = options.pop("threshold", 0.5)
        if options:
            raise ValidationError(f"unknown option(s) {sorted(options)} for the voting hook")
        return VotingHook(members, threshold=float(threshold))
    if options:
        raise ValidationError(f"unknown option(s) {sorted(options)} for the {kind} hook")
    if kind == "sequential":
        return SequentialHook(members)
    return ParallelHook(members) if kind == "parallel" else FirstMatchHook(members)


def register_builtin(
    registry: HookRegistry,
    name: str,
    *,
    points: list[str] | tuple[str, ...] | None = None,
    priority: int | str | None = None,
    options: dict[str, Any] | None = None,
    source: str = "config",
    redis_url: str | None = None,
) -> list[RegisteredHook]:
    """Register built-in ``name`` at each of ``points`` (default: its own); one hook object
    is shared by all points, so its state (cost totals, buckets) is too.

    Raises:
        ValidationError: unknown name, points or options; a composite without points.
    """
    spec = BUILTINS.get(name)
    if spec is None:
        raise ValidationError(
            f"unknown built-in hook {name!r}; use one of {', '.join(BUILTINS)}", details={"field": "name"}
        )
    targets = tuple(points) if points else spec.points
    if not targets:
        raise ValidationError(f"the {name} hook needs points = [...]", details={"field": "points"})
    hook = create_builtin(name, options, redis_url=redis_url)
    entries = []
    for point in targets:
        entries.append(
            registry.register(
                point,
                hook,
                priority=spec.priority if priority is None else priority,
                name=hook.name,
                source=source,
                options=dict(options or {}),
            )
        )
    return entries


def install_configured(settings: Settings, registry: HookRegistry) -> list[RegisteredHook]:
    """Register every ``[[hooks]]`` entry of ``settings`` (in order) in ``registry``."""
    entries: list[RegisteredHook] = []
    for item in settings.hooks:
        entries += register_builtin(
            registry,
            item.name,
            points=item.points,
            priority=item.priority,
            options=item.options,
            source="config",
            redis_url=settings.redis_url,
        )
    return entries


def describe_builtins() -> list[dict[str, Any]]:
    """``[{name, points, priority, description}]`` of every built-in."""
    return [
        {"name": b.name, "points": list(b.points), "priority": b.priority, "description": b.description}
        for b in BUILTINS.values()
    ]

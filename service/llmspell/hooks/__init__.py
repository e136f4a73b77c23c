"""Hooks: named interception points fired by every component.

See docs/hooks.md for the points, the data each carries and how results act.
"""

from __future__ import annotations

from .abc import Hook, HookCancelled, HookContext, HookResult
from .breaker import CircuitBreaker
from .cache import ResultCache, result_cache
from .history import HookHistory, HookRecord, ReplayOutcome, replay
from .points import POINTS, POINTS_BY_GROUP, normalize_point
from .registry import (
    PRIORITIES,
    HookRegistry,
    RegisteredHook,
    hook,
    hooks_for,
    invoke,
    process_hooks,
)
from .results import coerce_result

__all__ = [
    "POINTS",
    "POINTS_BY_GROUP",
    "PRIORITIES",
    "CircuitBreaker",
    "Hook",
    "HookCancelled",
    "HookContext",
    "HookHistory",
    "HookRecord",
    "HookRegistry",
    "HookResult",
    "RegisteredHook",
    "ReplayOutcome",
    "ResultCache",
    "coerce_result",
    "hook",
    "hooks_for",
    "invoke",
    "normalize_point",
    "process_hooks",
    "replay",
    "result_cache",
]

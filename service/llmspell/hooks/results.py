"""Turning what a hook returns (Python objects or script values) into a HookResult."""

from __future__ import annotations

from typing import Any

from ..core.errors import ValidationError
from .abc import CONTINUE, SKIPPED, HookResult

__all__ = ["coerce_result"]

_ALIASES = {
    "continue": "continue",
    "modified": "modified",
    "modify": "modified",
    "skip": "skipped",
    "skipped": "skipped",
    "cancel": "cancel",
    "replace": "replace",
    "redirect": "redirect",
    "retry": "retry",
    "fork": "fork",
    "cache": "cache",
}


def _number(value: Any, name: str, default: float) -> float:
    if value is None:
        return default
    if isinstance(value, int | float) and not isinstance(value, bool) and value >= 0:
        return float(value)
    raise ValidationError(
        f"hook result field {name!r} must be a non-negative number", details={"field": name}
    )


def coerce_result(value: Any) -> HookResult:
    """``value`` as a :class:`HookResult`.

    Accepts a HookResult, None (continue), an action name (``"continue"``, ``"skip"``),
    or a table ``{action=..., data=, reason=, result=, target=, delay_ms=, max_attempts=,
    branches=, key=, ttl_s=}``.

    Raises:
        ValidationError: an unknown action or a malformed field.
    """
    if value is None:
        return CONTINUE
    if isinstance(value, HookResult):
        return value
    if isinstance(value, str):
        action = _ALIASES.get(value.lower())
        if action == "continue":
            return CONTINUE
        if action == "skipped":
            return SKIPPED
        if action is None:
            raise _bad(value)
        value = {"action": action}
    if not isinstance(value, dict):
        raise ValidationError(
            "a hook must return nil, an action name or a table {action=...}", details={"field": "action"}
        )
    action = _ALIASES.get(str(value.get("action", "continue")).lower())
    if action is None:
        raise _bad(value.get("action"))
    if action == "continue":
        return CONTINUE
    if action == "skipped":
        return SKIPPED
    if action == "modified":
        if "data" not in value:
            raise ValidationError("a 'modified' hook result needs data=...", details={"field": "data"})
        return HookResult(kind="modified", data=value["data"])
    if action == "cancel":
        return HookResult(kind="cancel", reason=str(value.get("reason") or ""))
    if action == "replace":
        return HookResult(kind="replace", result=value.get("result"))
    if action == "redirect":
        target = value.get("target")
        if not isinstance(target, str) or not target:
            raise ValidationError("a 'redirect' hook result needs target='name'", details={"field": "target"})
        return HookResult(kind="redirect", target=target)
    if action == "retry":
        attempts = _number(value.get("max_attempts"), "max_attempts", 3.0)
        return HookResult(
            kind="retry", delay_ms=_number(value.get("delay_ms"), "delay_ms", 0.0), max_attempts=int(attempts)
        )
    if action == "fork":
        branches = value.get("branches")
        if not isinstance(branches, list):
            raise ValidationError("a 'fork' hook result needs branches={...}", details={"field": "branches"})
        return HookResult(kind="fork", branches=tuple(branches))
    key = value.get("key")
    if not isinstance(key, str) or not key:
        raise ValidationError("a 'cache' hook result needs key='...'", details={"field": "key"})
    return HookResult(kind="cache", key=key, ttl_s=_number(value.get("ttl_s"), "ttl_s", 60.0))


def _bad(action: Any) -> ValidationError:
    return ValidationError(
        f"unknown hook action {action!r}: use continue, modified, skip, cancel, replace, redirect, retry, "
        "fork or cache",
        details={"field": "action"},
    )

"""State scopes (``global``, ``user:<id>``, ...) and JSON encoding of values."""

from __future__ import annotations

import json
from typing import Any, Final

from ..core.errors import LimitExceeded, ValidationError

__all__ = ["SCOPE_KINDS", "check_key", "check_scope", "encode_value"]

#: Kinds of scope; every one but ``global`` takes an id: ``user:42``, ``custom:cache``.
SCOPE_KINDS: Final[tuple[str, ...]] = ("global", "user", "session", "agent", "workflow", "tool", "custom")
_FORMS = 'use "global" or "<kind>:<id>" with kind one of user, session, agent, workflow, tool, custom'


def check_scope(scope: Any) -> str:
    """``scope`` when it is a valid scope string. Raises ValidationError."""
    if not isinstance(scope, str) or not scope:
        raise ValidationError(f"state scope must be a string: {_FORMS}", details={"field": "scope"})
    if scope == "global":
        return scope
    kind, sep, ident = scope.partition(":")
    if not sep or kind not in SCOPE_KINDS or kind == "global" or not ident or len(scope) > 255:
        raise ValidationError(f"invalid state scope {scope!r}: {_FORMS}", details={"field": "scope"})
    return scope


def check_key(key: Any) -> str:
    """``key`` when it is a non-empty string of at most 512 characters. Raises ValidationError."""
    if isinstance(key, (int, float)) and not isinstance(key, bool):
        key = str(key)
    if not isinstance(key, str) or not key or len(key) > 512:
        raise ValidationError("state key must be a string of 1 to 512 characters", details={"field": "key"})
    return key


def encode_value(value: Any, max_bytes: int | None) -> int:
    """The byte size of ``value`` as compact JSON.

    Raises:
        ValidationError: ``value`` is not JSON-compatible.
        LimitExceeded: it is larger than ``max_bytes``.
    """
    try:
        size = len(json.dumps(value, separators=(",", ":"), ensure_ascii=False, allow_nan=False).encode())
    except (TypeError, ValueError) as exc:
        raise ValidationError(f"state values must be JSON-compatible: {exc}") from exc
    if max_bytes is not None and size > max_bytes:
        raise LimitExceeded(
            f"state value of {size} bytes exceeds the limit of {max_bytes}: store large content as an "
            "artifact or raise state.max_value_bytes",
            details={"size": size, "limit": max_bytes, "status": 413},  # a size: 413 over HTTP
        )
    return size

"""``JSON.parse`` / ``JSON.stringify`` (``JSON.null`` and ``JSON.array`` come from the engine)."""

from __future__ import annotations

import json
from typing import Any

from ...core.context import ExecutionContext
from ...core.errors import ValidationError
from .surface import NULL, ApiNamespace, ScriptEnv

__all__ = ["build", "nulls_to_sentinel"]


def nulls_to_sentinel(value: Any) -> Any:
    """Replace every JSON null with :data:`NULL` so that it survives as ``JSON.null``."""
    if value is None:
        return NULL
    if isinstance(value, dict):
        return {key: nulls_to_sentinel(item) for key, item in value.items()}
    if isinstance(value, list):
        return [nulls_to_sentinel(item) for item in value]
    return value


def parse(text: Any) -> Any:
    """``JSON.parse(s)``; bad JSON raises VALIDATION naming line and column."""
    if not isinstance(text, str):
        raise ValidationError(f"JSON.parse expects a string, got {type(text).__name__}")
    try:
        return nulls_to_sentinel(json.loads(text))
    except json.JSONDecodeError as exc:
        raise ValidationError(
            f"invalid JSON at line {exc.lineno} column {exc.colno}: {exc.msg}",
            details={"line": exc.lineno, "column": exc.colno},
        ) from None


def stringify(value: Any, options: Any = None) -> str:
    """``JSON.stringify(v [, {indent=2}])``."""
    indent = None
    if isinstance(options, dict) and options.get("indent") is not None:
        indent = int(options["indent"])
    try:
        return json.dumps(value, indent=indent, ensure_ascii=False, allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise ValidationError(f"cannot encode as JSON: {exc}") from None


def build(env: ScriptEnv, ctx: ExecutionContext) -> list[ApiNamespace]:
    ns = ApiNamespace(name="JSON")
    ns.add(parse, "parse", "decode")
    ns.add(stringify, "stringify", "encode")
    return [ns]

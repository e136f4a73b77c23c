"""The one result envelope every tool invocation returns."""

from __future__ import annotations

from typing import Any

__all__ = ["envelope"]


def envelope(
    *,
    success: bool,
    operation: str | None = None,
    result: Any = None,
    message: str | None = None,
    error: dict[str, Any] | None = None,
    metadata: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Build ``{success, operation, result, message, error, metadata}``.

    All six keys are always present so callers (scripts, REST, the CLI) see one shape.

    Args:
        success: whether the tool did what was asked.
        operation: the operation that ran (``"evaluate"``, ``"read"``...), when the tool has several.
        result: the JSON-compatible result.
        message: a short human sentence about the outcome.
        error: ``LLMSpellError.to_dict()`` of the failure (``{code, message, details}``).
        metadata: extra JSON-compatible facts (tool name, duration...); ``{}`` when omitted.

    Returns:
        The envelope dict.
    """
    return {
        "success": success,
        "operation": operation,
        "result": result,
        "message": message,
        "error": error,
        "metadata": {} if metadata is None else metadata,
    }

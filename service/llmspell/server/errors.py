"""Errors as HTTP problems (``application/problem+json``), mapped at one place."""

from __future__ import annotations

from typing import Any

from ..core.errors import LLMSpellError

__all__ = ["HTTP_STATUS", "error_problem", "http_status", "problem"]

HTTP_STATUS: dict[str, int] = {
    "VALIDATION": 400,
    "CONFIG_ERROR": 400,
    "SCRIPT_ERROR": 400,
    "UNAUTHENTICATED": 401,
    "PERMISSION_DENIED": 403,
    "SANDBOX_VIOLATION": 403,
    "NOT_FOUND": 404,
    "CONFLICT": 409,
    "CANCELLED": 409,
    "LIMIT_EXCEEDED": 429,
    "TOOL_ERROR": 422,
    "PROVIDER_ERROR": 502,
    "STORAGE_ERROR": 503,
    "TIMEOUT": 504,
}

_TITLES = {
    400: "Bad Request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not Found",
    409: "Conflict",
    413: "Content Too Large",
    422: "Unprocessable Content",
    429: "Too Many Requests",
    500: "Internal Server Error",
    502: "Bad Gateway",
    503: "Service Unavailable",
    504: "Gateway Timeout",
}


def http_status(error: LLMSpellError) -> int:
    """The HTTP status of ``error`` (``details.status`` may pin it, e.g. 413 for sizes)."""
    pinned = error.details.get("status")
    if isinstance(pinned, int) and 400 <= pinned < 600:
        return pinned
    return HTTP_STATUS.get(error.code, 500)


def problem(status: int, code: str, detail: str, **extra: Any) -> dict[str, Any]:
    """A problem+json body ``{type, title, status, detail, code}``."""
    body = {
        "type": f"https://llmspell.dev/problems/{code.lower().replace('_', '-')}",
        "title": _TITLES.get(status, "Error"),
        "status": status,
        "detail": detail,
        "code": code,
    }
    body.update(extra)
    return body


def error_problem(error: LLMSpellError) -> tuple[int, dict[str, Any]]:
    """The HTTP status and problem body of ``error``."""
    status = http_status(error)
    details = {k: v for k, v in error.details.items() if k != "status"}
    return status, problem(status, error.code, error.message, **({"details": details} if details else {}))

"""The error tree of llmspell. Every error carries a stable ``code``.

::

    LLMSpellError (INTERNAL)
     ├── ValidationError     VALIDATION
 │    └── ScriptSyntaxError VALIDATION  (details: line)
     ├── NotFound            NOT_FOUND        (also LookupError)
     ├── ToolError           TOOL_ERROR
     ├── ProviderError       PROVIDER_ERROR
     ├── SandboxViolation    SANDBOX_VIOLATION
     ├── LimitExceeded       LIMIT_EXCEEDED
     ├── Timeout             TIMEOUT
     ├── Cancelled           CANCELLED
     ├── Conflict            CONFLICT
     ├── StorageError        STORAGE_ERROR
     ├── ConfigError         CONFIG_ERROR
 ├── Unauthenticated     UNAUTHENTICATED  (401)
 ├── PermissionDenied    PERMISSION_DENIED (403)
     └── ScriptError         SCRIPT_ERROR     (a runtime error raised by script code)

Scripts see these as tables ``{code, message, details}``; REST maps them to problem+json,
gRPC to status codes, the CLI to one line and an exit code. Foreign errors are translated
at one boundary each (lupa, httpx, SQLAlchemy), keeping the cause with ``raise ... from``.
"""

from __future__ import annotations

from typing import Any, ClassVar

__all__ = [
    "Cancelled",
    "ConfigError",
    "Conflict",
    "LLMSpellError",
    "LimitExceeded",
    "NotFound",
    "PermissionDenied",
    "ProviderError",
    "SandboxViolation",
    "ScriptError",
    "ScriptSyntaxError",
    "StorageError",
    "Timeout",
    "ToolError",
    "Unauthenticated",
    "ValidationError",
    "error_from_code",
]


class LLMSpellError(Exception):
    """Base of every llmspell error.

    Args:
        message: one human sentence saying what went wrong and, where possible, how to fix it.
        details: JSON-compatible extra data (the bad field, the limit, the line...).
    """

    code: ClassVar[str] = "INTERNAL"

    def __init__(self, message: str, *, details: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.details: dict[str, Any] = dict(details or {})

    def to_dict(self) -> dict[str, Any]:
        """The JSON shape used by scripts, REST and the CLI's JSON output."""
        return {"code": self.code, "message": self.message, "details": self.details}

    def __str__(self) -> str:
        return f"{self.code}: {self.message}"


class ValidationError(LLMSpellError):
    """Input does not match what was expected (schema, JSON, arguments)."""

    code = "VALIDATION"


class ScriptSyntaxError(ValidationError):
    """Script source does not compile; ``details`` holds ``line`` (and ``source``)."""


class NotFound(LLMSpellError, LookupError):
    """A named thing does not exist."""

    code = "NOT_FOUND"

    @classmethod
    def named(cls, kind: str, name: str) -> NotFound:
        """``NotFound.named("script", "x")`` → "No script named 'x'"."""
        return cls(f"No {kind} named {name!r}", details={"kind": kind, "name": name})


class ToolError(LLMSpellError):
    """A tool ran and failed."""

    code = "TOOL_ERROR"


class ProviderError(LLMSpellError):
    """An LLM provider failed or answered something unusable."""

    code = "PROVIDER_ERROR"


class SandboxViolation(LLMSpellError):
    """A script or tool tried something the sandbox forbids."""

    code = "SANDBOX_VIOLATION"


class LimitExceeded(LLMSpellError):
    """A configured limit (memory, instructions, output, size, budget) was exceeded."""

    code = "LIMIT_EXCEEDED"


class Timeout(LLMSpellError):
    """A deadline passed."""

    code = "TIMEOUT"


class Cancelled(LLMSpellError):
    """The work was cancelled (by a user, a hook or shutdown)."""

    code = "CANCELLED"


class Conflict(LLMSpellError):
    """A write lost an optimistic-concurrency race or hit a unique constraint."""

    code = "CONFLICT"


class StorageError(LLMSpellError):
    """The database or blob store failed."""

    code = "STORAGE_ERROR"


class Unauthenticated(LLMSpellError):
    """No credentials, or credentials that are not valid (HTTP 401)."""

    code = "UNAUTHENTICATED"


class PermissionDenied(LLMSpellError):
    """Valid credentials without the needed scope (HTTP 403)."""

    code = "PERMISSION_DENIED"


class ConfigError(LLMSpellError):
    """Configuration is missing or wrong."""

    code = "CONFIG_ERROR"


class ScriptError(LLMSpellError):
    """Script code raised an error (``error("...")``) or failed at run time."""

    code = "SCRIPT_ERROR"


_BY_CODE: dict[str, type[LLMSpellError]] = {
    cls.code: cls
    for cls in (
        LLMSpellError,
        ValidationError,
        NotFound,
        ToolError,
        ProviderError,
        SandboxViolation,
        LimitExceeded,
        Timeout,
        Cancelled,
        Conflict,
        StorageError,
        ConfigError,
        ScriptError,
        Unauthenticated,
        PermissionDenied,
    )
}


def error_from_code(code: str, message: str, details: dict[str, Any] | None = None) -> LLMSpellError:
    """Rebuild an error from its code (e.g. an error table a script raised)."""
    return _BY_CODE.get(code, LLMSpellError)(message, details=details)

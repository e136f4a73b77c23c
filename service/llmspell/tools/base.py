"""Shared plumbing for concrete tools: :class:`BaseTool` and the :class:`ToolOutput` marker."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

from ..core.abc import SecurityLevel, Tool
from ..core.errors import ConfigError, ValidationError

__all__ = ["NAME_PATTERN", "BaseTool", "ToolOutput"]

NAME_PATTERN = re.compile(r"^[a-z][a-z0-9]*(?:-[a-z0-9]+)*$")
"""Canonical tool names: lower-case kebab-case (``file-operations``)."""

_T = TypeVar("_T")


@dataclass(frozen=True, kw_only=True, slots=True)
class ToolOutput:
    """What a tool returns when it wants to fill more of the envelope than ``result``.

    Attributes:
        result: the JSON-compatible result.
        operation: the operation that ran (``"evaluate"``, ``"read"``...).
        message: a short human sentence about the outcome.
        metadata: extra JSON-compatible facts, merged into the envelope's metadata.
    """

    result: Any = None
    operation: str | None = None
    message: str | None = None
    metadata: dict[str, Any] | None = None


class BaseTool(Tool):
    """Base class of the built-in tools.

    Subclasses set ``name`` (kebab-case), ``category``, ``description``, ``schema`` (a JSON
    Schema, draft 7, for an object with ``additionalProperties: false``), ``security_level``
    and ``timeout_s``, and implement :meth:`invoke`. The registry validates parameters
    against ``schema`` before ``invoke`` runs, so ``invoke`` only checks what the schema
    cannot express (parameters required by one operation only: :meth:`require`).

    Heavy third-party imports belong inside ``invoke`` so that registering every tool
    stays cheap; a missing optional dependency is reported with :meth:`missing_dependency`.
    """

    schema: Mapping[str, Any] = {"type": "object", "properties": {}, "additionalProperties": False}
    security_level: SecurityLevel = "safe"
    timeout_s: float = 30.0

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        name = cls.__dict__.get("name")
        if name is not None and not NAME_PATTERN.match(name):
            raise TypeError(f"tool name {name!r} of {cls.__qualname__} must be lower-case kebab-case")

    @staticmethod
    def require(params: Mapping[str, Any], *keys: str, operation: str | None = None) -> None:
        """Raise ``ValidationError`` naming the first of ``keys`` missing from ``params``.

        Args:
            params: the validated parameters.
            keys: parameter names the current operation needs.
            operation: the operation, quoted in the message.
        """
        for key in keys:
            if params.get(key) is None:
                where = f" for operation {operation!r}" if operation else ""
                raise ValidationError(
                    f"parameter {key!r} is required{where}",
                    details={"field": key, "operation": operation},
                )

    def missing_dependency(self, extra: str) -> ConfigError:
        """The error to raise when an optional dependency is not installed.

        Example:
            ``raise self.missing_dependency("media") from exc`` →
            ``pip install 'llmspell[media]' to use image-processor``.
        """
        return ConfigError(
            f"pip install 'llmspell[{extra}]' to use {self.name}",
            details={"tool": self.name, "extra": extra},
        )

    @staticmethod
    async def run_blocking(fn: Callable[..., _T], *args: Any) -> _T:
        """Run blocking I/O or long CPU work in a worker thread so the event loop stays free."""
        import asyncio  # kept off the registry's import path

        return await asyncio.to_thread(fn, *args)

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name!r}>"

"""What agents need from their surroundings.

:class:`ToolProvider` types the tool registry an agent calls (``tools/registry.py`` and the
per-run toolbox of ``scripting`` both satisfy it) without importing either.
"""

from __future__ import annotations

from typing import Any, Protocol, runtime_checkable

from ..core.abc import Tool
from ..core.context import ExecutionContext

__all__ = ["ToolProvider"]


@runtime_checkable
class ToolProvider(Protocol):
    """A source of tools addressed by name."""

    def get(self, name: str) -> Tool:
        """The tool called ``name``.

        Raises:
            NotFound: no such tool.
        """
        ...

    async def invoke_envelope(
        self, name: str, params: dict[str, Any], ctx: ExecutionContext
    ) -> dict[str, Any]:
        """Run the tool; returns ``{success, operation, result, message, error, metadata}``.

        Tool failures come back as ``success: false`` with ``error``; only ``Cancelled``
        (and the run's own deadline) raise.
        """
        ...

"""Tools: the registry, the sandbox, the result envelope and the built-in catalogue.

Example::

    from llmspell.tools import default_registry
    from llmspell.core.context import ExecutionContext

    env = await default_registry().invoke("calculator", {"input": "2 + 3 * 4"}, ExecutionContext())
    env["result"]  # {"value": 14, ...}
"""

from __future__ import annotations

from .base import BaseTool, ToolOutput
from .envelope import envelope
from .registry import ToolRegistry, canonical_name, default_registry

__all__ = [
    "BaseTool",
    "ToolOutput",
    "ToolRegistry",
    "canonical_name",
    "default_registry",
    "envelope",
]

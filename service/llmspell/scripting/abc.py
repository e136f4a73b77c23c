"""The language-agnostic script engine interface.

An engine compiles and executes script source inside a fresh sandboxed state per run,
injecting the API surface described in :mod:`llmspell.scripting.api`. Engines register in
:mod:`llmspell.scripting.factory` (built-in table) or through the ``llmspell.engines``
entry-point group.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import Any

from ..core.context import ExecutionContext
from .api.surface import ScriptEnv

__all__ = ["EngineCapabilities", "ScriptEngineBridge", "ScriptResult"]


@dataclass(frozen=True, kw_only=True, slots=True)
class EngineCapabilities:
    """What an engine supports."""

    language: str
    version: str
    streaming: bool = True
    async_calls: bool = True
    file_extensions: tuple[str, ...] = ()


@dataclass(kw_only=True, slots=True)
class ScriptResult:
    """The outcome of a successful execution (failures raise ``LLMSpellError``)."""

    value: Any = None
    metadata: dict[str, Any] = field(default_factory=dict)


class ScriptEngineBridge(ABC):
    """One scripting language.

    Engines are cheap to construct and hold no per-run state: every :meth:`execute` creates
    a fresh sandboxed interpreter, so nothing leaks between runs.
    """

    name: str

    @property
    @abstractmethod
    def capabilities(self) -> EngineCapabilities:
        """Language, version and features."""

    @abstractmethod
    def check_syntax(self, source: str, chunk_name: str = "script") -> None:
        """Compile without running.

        Raises:
            ScriptSyntaxError: with ``details["line"]`` when the source does not compile.
        """

    @abstractmethod
    async def execute(self, source: str, env: ScriptEnv, ctx: ExecutionContext) -> ScriptResult:
        """Run ``source`` to completion with the API surface of ``env`` injected.

        Raises:
            ScriptSyntaxError: the source does not compile.
            ScriptError: the script raised an error.
            Timeout, LimitExceeded, Cancelled, SandboxViolation: the run was stopped.
            Any other ``LLMSpellError`` the script let escape (e.g. ``TOOL_ERROR``).
        """

    def release_idle(self) -> None:  # noqa: B027 - optional: engines keeping no runtimes need nothing
        """Drop the runtimes this thread keeps idle past their keep time (runtime threads
        call it periodically)."""

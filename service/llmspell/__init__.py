"""llmspell: scriptable LLM orchestration.

Library mode: :func:`run` (sync) and :func:`arun` (async) execute a script and return its
:class:`~llmspell.runtime.runner.RunOutcome`; components live in their packages
(``llmspell.tools``, ``llmspell.agents``, ``llmspell.providers``...).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

if TYPE_CHECKING:
    from .runtime.runner import RunOutcome

__all__ = ["__version__", "arun", "run"]


async def arun(
    source: str, *, engine: str = "lua", args: list[str] | None = None, **options: Any
) -> RunOutcome:
    """Run script ``source`` and return its outcome (errors are in ``outcome.error``)."""
    from .runtime.runner import execute_script

    return await execute_script(source, engine=engine, args=args, **options)


def run(source: str, *, engine: str = "lua", args: list[str] | None = None, **options: Any) -> RunOutcome:
    """Synchronous :func:`arun` (not for use inside a running event loop)."""
    import asyncio

    return asyncio.run(arun(source, engine=engine, args=args, **options))

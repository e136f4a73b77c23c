"""Helpers shared by CLI commands: one-line errors and exit codes."""

from __future__ import annotations

import sys
from typing import NoReturn

from ..core.errors import LLMSpellError

__all__ = ["EXIT_SCRIPT", "EXIT_USAGE", "fail"]

EXIT_SCRIPT = 1
EXIT_USAGE = 2
_USAGE_CODES = frozenset({"CONFIG_ERROR", "VALIDATION", "NOT_FOUND", "UNAUTHENTICATED", "PERMISSION_DENIED"})


def fail(error: LLMSpellError | str, code: int | None = None) -> NoReturn:
    """Print one line to stderr and exit (2 for usage/config errors, else 1)."""
    if isinstance(error, LLMSpellError):
        sys.stderr.write(f"llmspell: {error.code}: {error.message}\n")
        exit_code = code if code is not None else (EXIT_USAGE if error.code in _USAGE_CODES else EXIT_SCRIPT)
    else:
        sys.stderr.write(f"llmspell: {error}\n")
        exit_code = code if code is not None else EXIT_USAGE
    raise SystemExit(exit_code)

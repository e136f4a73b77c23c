"""The ``llmspell`` command.

``run`` and ``exec`` take a fast path (argparse, no typer/pydantic import) so that a
script that needs neither the database nor an LLM starts in well under 150 ms; every
other command goes through the typer app in :mod:`llmspell.cli.app`.
"""

from __future__ import annotations

import sys

__all__ = ["main"]


def main(argv: list[str] | None = None) -> None:
    """Entry point of the console script."""
    args = list(sys.argv[1:] if argv is None else argv)
    if args and args[0] in ("run", "exec"):
        from .run_cmd import main_run

        raise SystemExit(main_run(args))
    from ..core.errors import LLMSpellError
    from .app import app

    try:
        app(args=args, prog_name="llmspell")
    except LLMSpellError as exc:
        # Commands print their own errors; this catches what one let escape.
        from ._common import fail

        fail(exc)


if __name__ == "__main__":
    main()

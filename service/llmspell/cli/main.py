"""The ``llmspell`` command.

``run`` and ``exec`` take a fast path (argparse, no typer/pydantic import) so that a
script that needs neither the database nor an LLM starts in well under 150 ms; so does
``serve`` (its start to /ready is timed); every other command, and ``serve --help``, goes
through the typer app in :mod:`llmspell.cli.app`.
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
    if args and args[0] == "serve":
        # Start-up builds a long-lived heap (imports, app, ORM metadata) with little garbage:
        # collecting while it grows only walks it again and again. serve.py freezes it
        # and turns the collector back on before serving.
        import gc

        gc.disable()
        if not {"--help", "-h"} & set(args):
            from ._serve import main_serve

            raise SystemExit(main_serve(args[1:]))
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

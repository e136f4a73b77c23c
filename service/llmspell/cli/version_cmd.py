"""Global options (``--trace``, ``--log-format``, ``--version``) and ``llmspell version``.

The options live on the app callback, so they come before the command:
``llmspell --trace debug db upgrade``. ``run``/``exec`` parse their own ``--trace`` on the
fast path (see :mod:`llmspell.cli.run_cmd`).
"""

from __future__ import annotations

import json
import platform
import sys
import traceback
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Annotated, Literal

import typer

from ..core.errors import LLMSpellError
from ._common import fail
from ._options import Output

__all__ = ["register", "user_errors", "version_info"]


def version_info() -> dict[str, str]:
    """Versions of llmspell, Python, the Lua engine (lupa's lua54 module) and the platform."""
    from importlib.metadata import PackageNotFoundError, version

    from .. import __version__

    try:
        lupa_version = version("lupa")
    except PackageNotFoundError:
        lupa_version = "unknown"
    try:
        import lupa.lua54

        lua = str(lupa.lua54.LuaRuntime().lua_implementation).removeprefix("Lua ")
    except ImportError as exc:
        lua = f"unavailable ({exc})"
    return {
        "llmspell": __version__,
        "python": f"{platform.python_version()} ({platform.python_implementation()})",
        "lua": f"{lua} (lupa {lupa_version})",
        "platform": platform.platform(),
    }


@contextmanager
def user_errors() -> Iterator[None]:
    """Turn an :class:`LLMSpellError` into one stderr line and exit code 2 (or 1).

    With ``--trace debug`` the Python traceback is printed first.
    """
    try:
        yield
    except LLMSpellError as exc:
        from ..core.logging import tracebacks_enabled

        if tracebacks_enabled():
            traceback.print_exc(file=sys.stderr)
        fail(exc)


def _show_version(value: bool) -> None:
    if value:
        typer.echo(f"llmspell {version_info()['llmspell']}")
        raise typer.Exit()


def register(app: typer.Typer) -> None:
    """Install the global options callback and the ``version`` command on ``app``."""

    @app.callback()
    def global_options(
        trace: Annotated[
            str,
            typer.Option(
                "--trace",
                metavar="LEVEL",
                envvar="LLMSPELL_LOG_LEVEL",
                help="Log level: trace, debug, info, warn or error. 'debug' also shows Python tracebacks.",
            ),
        ] = "warn",
        log_format: Annotated[
            Literal["text", "json"],
            typer.Option(
                "--log-format",
                envvar="LLMSPELL_LOG_FORMAT",
                help="Log line format: text (compact, for terminals) or json (one object per line).",
            ),
        ] = "text",
        show_version: Annotated[
            bool,
            typer.Option(
                "--version", is_eager=True, callback=_show_version, help="Print the version and exit."
            ),
        ] = False,
    ) -> None:
        from ..core.logging import configure_logging

        with user_errors():
            configure_logging(trace, json=log_format == "json")

    @app.command("version")
    def version_command(
        output: Output = "text",
    ) -> None:
        """Print the versions of llmspell, Python and Lua, and the platform."""
        info = version_info()
        if output == "json":
            typer.echo(json.dumps(info))
            return
        typer.echo(f"llmspell {info['llmspell']}")
        for key in ("python", "lua", "platform"):
            typer.echo(f"{key.capitalize():<9}{info[key]}")

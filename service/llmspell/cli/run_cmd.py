"""``llmspell run FILE`` and ``llmspell exec CODE``: the fast path (argparse, light imports).

Exit codes: 0 ok, 1 script error, 2 usage/config error, 124 timeout, 130 cancelled.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import sys
import threading
from pathlib import Path
from typing import Any

__all__ = ["EXIT_CODES", "main_run"]

EXIT_OK, EXIT_SCRIPT, EXIT_USAGE, EXIT_TIMEOUT, EXIT_CANCELLED = 0, 1, 2, 124, 130
EXIT_CODES = {
    "succeeded": EXIT_OK,
    "failed": EXIT_SCRIPT,
    "timeout": EXIT_TIMEOUT,
    "cancelled": EXIT_CANCELLED,
}
_WATCHDOG_GRACE_S = 2.0
_USAGE_CODES = frozenset({"CONFIG_ERROR"})


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> Any:
        self.print_usage(sys.stderr)
        sys.stderr.write(f"llmspell {self.prog.split()[-1]}: error: {message}\n")
        raise SystemExit(EXIT_USAGE)


def _parser(command: str) -> argparse.ArgumentParser:
    if command == "run":
        parser = _Parser(
            prog="llmspell run",
            description="Run a script file in a fresh sandboxed runtime.",
            epilog="Arguments after FILE (or after --) reach the script as ARGS/arg. "
            "Exit codes: 0 ok, 1 script error, 2 usage/config error, 124 timeout, 130 cancelled.",
        )
        parser.add_argument("file", metavar="FILE", help="script file (- reads standard input)")
    else:
        parser = _Parser(
            prog="llmspell exec",
            description="Run a snippet of script code given on the command line.",
            epilog="Exit codes: 0 ok, 1 script error, 2 usage/config error, 124 timeout, 130 cancelled.",
        )
        parser.add_argument("code", metavar="CODE", help="script source")
    parser.add_argument(
        "--engine", default=None, help="script engine (default: from the file extension, lua)"
    )
    parser.add_argument("--output", choices=("text", "json"), default="text", help="output format")
    parser.add_argument(
        "--timeout", type=float, default=None, metavar="S", help="wall-clock limit in seconds"
    )
    parser.add_argument("--memory-mb", type=int, default=None, metavar="N", help="script memory limit in MiB")
    parser.add_argument(
        "--trace", default=None, metavar="LEVEL", help="log level: trace|debug|info|warn|error"
    )
    parser.add_argument("script_args", nargs="*", metavar="ARG", help="arguments for the script (after --)")
    return parser


def _load_limits(timeout: float | None, memory_mb: int | None) -> tuple[Any, Any]:
    """Limits and sandbox policy: from configuration only when a config source exists."""
    from ..core.config_files import config_sources_present
    from ..core.context import Limits, SandboxPolicy

    limits, policy = Limits(), SandboxPolicy(file_roots=(str(Path.cwd().resolve()),))
    if config_sources_present():
        from ..core.config import get_settings

        settings = get_settings()
        limits, policy = settings.limits.to_limits(), settings.sandbox.to_policy()
    overrides: dict[str, Any] = {}
    if timeout is not None:
        overrides["timeout_s"] = timeout if timeout > 0 else None
    if memory_mb is not None:
        overrides["memory_mb"] = memory_mb if memory_mb > 0 else None
    if overrides:
        from dataclasses import replace

        limits = replace(limits, **overrides)
    return limits, policy


class _LiveStdout:
    def write(self, text: str) -> None:
        sys.stdout.write(text)
        sys.stdout.flush()


def _error_line(source_name: str, error: Any) -> str:
    details = error.details or {}
    line = details.get("line")
    where = details.get("file") or source_name
    prefix = f"{where}:{line}" if line else f"{where}"
    return f"{prefix}: {error.code}: {error.message}"


def _start_watchdog(timeout_s: float | None, source_name: str, output: str) -> None:
    """Last line of defence: a C-level loop the hooks cannot stop still ends the process."""
    if timeout_s is None:
        return

    def fire() -> None:
        message = f"deadline of {timeout_s}s exceeded (watchdog)"
        if output == "json":
            error = {"code": "TIMEOUT", "message": message, "details": {}}
            body = {"status": "timeout", "result": None, "stdout": "", "error": error}
            sys.stdout.write(json.dumps(body) + "\n")
        else:
            sys.stderr.write(f"{source_name}: TIMEOUT: {message}\n")
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(EXIT_TIMEOUT)

    timer = threading.Timer(timeout_s + _WATCHDOG_GRACE_S, fire)
    timer.daemon = True
    timer.start()


async def _run(source: str, source_name: str, engine: str, script_args: list[str], options: Any) -> int:
    from ..core.context import ExecutionContext
    from ..runtime.runner import execute_script

    limits, policy = _load_limits(options.timeout, options.memory_mb)
    ctx = ExecutionContext(limits=limits, policy=policy)

    def interrupt(signum: int, frame: Any) -> None:
        # Runs between Python bytecodes, i.e. also inside the count hook of a busy script.
        ctx.cancel_token.cancel("interrupted" if signum == signal.SIGINT else "terminated")

    signal.signal(signal.SIGINT, interrupt)
    signal.signal(signal.SIGTERM, interrupt)
    _start_watchdog(limits.timeout_s, source_name, options.output)
    outcome = await execute_script(
        source,
        engine=engine,
        script_name=source_name,
        args=script_args,
        ctx=ctx,
        stdout=_LiveStdout() if options.output == "text" else None,
    )
    if options.output == "json":
        sys.stdout.write(json.dumps(outcome.to_dict(), default=str) + "\n")
    elif outcome.error is None and outcome.result is not None:
        value = outcome.result
        sys.stdout.write((value if isinstance(value, str) else json.dumps(value, default=str)) + "\n")
    if outcome.error is not None and options.output == "text":
        sys.stderr.write(_error_line(source_name, outcome.error) + "\n")
    sys.stdout.flush()
    if outcome.error is not None and outcome.error.code in _USAGE_CODES:
        return EXIT_USAGE
    return EXIT_CODES[outcome.status]


def main_run(argv: list[str]) -> int:
    """Run ``llmspell run|exec ...``; returns the exit code."""
    command, rest = argv[0], argv[1:]
    after: list[str] = []
    if "--" in rest:
        cut = rest.index("--")
        rest, after = rest[:cut], rest[cut + 1 :]
    options = _parser(command).parse_args(rest)
    script_args = [*options.script_args, *after]
    if options.trace:
        from ..core.logging import configure_logging

        configure_logging(options.trace)
    if command == "run":
        path = options.file
        try:
            source = sys.stdin.read() if path == "-" else Path(path).read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
            sys.stderr.write(f"llmspell run: cannot read {path}: {reason}\n")
            return EXIT_USAGE
        source_name = "stdin" if path == "-" else os.path.basename(path)
    else:
        source, source_name = options.code, "exec"
    from ..core.errors import LLMSpellError
    from ..scripting.factory import create_engine, engine_for_path

    engine = options.engine or engine_for_path(source_name)
    try:
        create_engine(engine)
        return asyncio.run(_run(source, source_name, engine, script_args, options))
    except LLMSpellError as exc:
        sys.stderr.write(f"llmspell {command}: {exc}\n")
        return EXIT_USAGE
    except KeyboardInterrupt:
        sys.stderr.write(f"{source_name}: CANCELLED: interrupted\n")
        return EXIT_CANCELLED

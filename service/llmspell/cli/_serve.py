"""``llmspell serve`` without typer: the daemon's start-up is timed (≤ 1 s to /ready), and
the typer app with every command module costs ~0.2 s to import. ``serve --help`` still
goes through typer (serve_cmd.py), which declares the same options;
tests/unit/test_serve_fast_path.py keeps the two in step."""

from __future__ import annotations

import argparse

from ._common import EXIT_USAGE

__all__ = ["OPTIONS", "main_serve", "start"]

#: Flag → (destination, type); a type of ``bool`` is a switch.
OPTIONS: dict[str, tuple[str, type]] = {
    "--host": ("host", str),
    "--port": ("port", int),
    "--grpc-port": ("grpc_port", int),
    "--database-url": ("database_url", str),
    "--redis-url": ("redis_url", str),
    "--workers": ("workers", int),
    "--no-migrate": ("no_migrate", bool),
    "--allow-insecure-bind": ("allow_insecure_bind", bool),
}


def start(
    *,
    host: str | None = None,
    port: int | None = None,
    grpc_port: int | None = None,
    database_url: str | None = None,
    redis_url: str | None = None,
    workers: int | None = None,
    no_migrate: bool = False,
    allow_insecure_bind: bool = False,
) -> None:
    """Run the daemon until SIGTERM/SIGINT with the settings overridden by these options."""
    import asyncio

    from ..core.config import load_settings
    from ..core.errors import LLMSpellError
    from ..server.serve import serve as run_daemon
    from ..server.serve import use_event_loop
    from ._common import fail

    try:
        settings = load_settings()
        overrides = {
            "host": host,
            "port": port,
            "grpc_port": grpc_port,
            "workers": workers,
            "allow_insecure_bind": allow_insecure_bind or None,
        }
        server = settings.server.model_copy(update={k: v for k, v in overrides.items() if v is not None})
        updates: dict[str, object] = {"server": server}
        if database_url:
            updates["database_url"] = database_url
        if redis_url:
            updates["redis_url"] = redis_url
        settings = settings.model_copy(update=updates)
        use_event_loop(settings.server.event_loop)
        asyncio.run(run_daemon(settings, migrate=not no_migrate))
    except LLMSpellError as exc:
        fail(exc)
    except KeyboardInterrupt:
        pass


def main_serve(argv: list[str]) -> int:
    """``llmspell serve [OPTIONS]`` (``argv`` without ``serve``); returns the exit code."""
    parser = argparse.ArgumentParser(prog="llmspell serve", add_help=False)
    for flag, (dest, kind) in OPTIONS.items():
        if kind is bool:
            parser.add_argument(flag, dest=dest, action="store_true")
        else:
            parser.add_argument(flag, dest=dest, type=kind, default=None)
    try:
        options = parser.parse_args(argv)
    except SystemExit:
        return EXIT_USAGE  # argparse printed the one-line error; `serve --help` lists the options
    start(**vars(options))
    return 0

"""``llmspell serve``: run the daemon."""

from __future__ import annotations

import typer

from ._common import fail

__all__ = ["register"]


def register(app: typer.Typer) -> None:
    @app.command()
    def serve(
        host: str = typer.Option(None, help="REST/gRPC bind address (default 127.0.0.1)."),
        port: int = typer.Option(None, help="REST port (default 8080)."),
        grpc_port: int = typer.Option(
            None, "--grpc-port", help="gRPC port (default 50051; 0 disables gRPC)."
        ),
        database_url: str = typer.Option(
            None, "--database-url", help="Database URL (default: SQLite in the data dir)."
        ),
        redis_url: str = typer.Option(None, "--redis-url", help="Redis URL for cross-replica events."),
        workers: int = typer.Option(None, help="Runtime threads (default 1; 0 = one per core)."),
        no_migrate: bool = typer.Option(False, "--no-migrate", help="Do not upgrade the database on start."),
        allow_insecure_bind: bool = typer.Option(
            False, "--allow-insecure-bind", help="Allow a non-loopback bind without API keys."
        ),
    ) -> None:
        """Run the daemon: REST, gRPC, the run queue worker and the scheduler."""
        import asyncio

        from ..core.config import load_settings
        from ..core.errors import LLMSpellError
        from ..server.serve import serve as run_daemon
        from ..server.serve import use_event_loop

        try:
            settings = load_settings()
            server = settings.server.model_copy(
                update={
                    k: v
                    for k, v in {
                        "host": host,
                        "port": port,
                        "grpc_port": grpc_port,
                        "workers": workers,
                        "allow_insecure_bind": allow_insecure_bind or None,
                    }.items()
                    if v is not None
                }
            )
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

"""``llmspell serve``: run the daemon."""

from __future__ import annotations

import typer

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
        from ._serve import start

        start(
            host=host,
            port=port,
            grpc_port=grpc_port,
            database_url=database_url,
            redis_url=redis_url,
            workers=workers,
            no_migrate=no_migrate,
            allow_insecure_bind=allow_insecure_bind,
        )

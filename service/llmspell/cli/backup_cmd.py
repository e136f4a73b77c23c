"""``llmspell backup create|list|restore|verify|prune``: backups of the configured database."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Annotated, Any

import typer

from ..core.errors import LLMSpellError
from ._common import fail
from ._options import JsonAlias, Output, output_format
from .db_cmd import DatabaseUrlOption, run_storage
from .state_cmd import with_persistence

__all__ = ["register"]

DirOption = Annotated[
    Path | None,
    typer.Option("--dir", help="backup directory (default: state.backup_dir, else <data_dir>/backups)"),
]


def _directory(given: Path | None) -> Path:
    if given is not None:
        return given
    from ..core.config import get_settings

    settings = get_settings()
    configured = settings.state.backup_dir
    return Path(configured).expanduser() if configured else settings.resolved_data_dir() / "backups"


def _size(path: str) -> str:
    return f"{Path(path).stat().st_size / 1e6:.1f} MB" if Path(path).exists() else "-"


def register(app: typer.Typer) -> None:
    """Add the ``backup`` command group to ``app``."""
    backup = typer.Typer(
        name="backup",
        help="Back up and restore state, sessions, artifacts, scripts and schedules.",
        no_args_is_help=True,
    )

    @backup.command("create")
    def create(
        incremental: Annotated[
            bool, typer.Option("--incremental", help="only what changed since the newest backup")
        ] = False,
        directory: DirOption = None,
        output: Output = "text",
        as_json: JsonAlias = False,
        database_url: DatabaseUrlOption = None,
    ) -> None:
        """Write one compressed, checksummed backup file."""
        from ..state.backup import create_backup

        target = _directory(directory)
        _, manifest = run_storage(
            database_url,
            lambda url: with_persistence(
                url, lambda p: create_backup(p.store, p.artifacts.blobs, target, incremental=incremental)
            ),
        )
        if output_format(output, as_json) == "json":
            typer.echo(json.dumps({**manifest.to_dict(), "path": manifest.path}, indent=2))
            return
        counts = ", ".join(f"{n} {table}" for table, n in manifest.counts.items())
        typer.echo(f"{manifest.kind} backup {manifest.path} ({_size(manifest.path)}): {counts}")

    @backup.command("list")
    def list_all(
        directory: DirOption = None,
        output: Output = "text",
        as_json: JsonAlias = False,
    ) -> None:
        """List backups, oldest first."""
        from ..state.backup import list_backups

        manifests = list_backups(_directory(directory))
        if output_format(output, as_json) == "json":
            typer.echo(json.dumps([{**m.to_dict(), "path": m.path} for m in manifests], indent=2))
            return
        for m in manifests:
            base = f" (on {m.base})" if m.base else ""
            typer.echo(f"{m.id}  {m.kind}{base}  {_size(m.path)}  {m.path}")

    @backup.command("verify")
    def verify(file: Annotated[Path, typer.Argument(metavar="FILE")]) -> None:
        """Check every member of a backup against its checksums."""
        from ..state.backup import verify_backup

        try:
            manifest = asyncio.run(verify_backup(file))
        except LLMSpellError as error:
            fail(error, 1)
        typer.echo(f"{file}: ok ({len(manifest.members)} members, {manifest.kind} backup {manifest.id})")

    @backup.command("restore")
    def restore(
        file: Annotated[Path, typer.Argument(metavar="FILE")],
        replace: Annotated[
            bool, typer.Option("--replace", help="empty the backed-up tables first (default: merge)")
        ] = False,
        database_url: DatabaseUrlOption = None,
    ) -> None:
        """Restore a backup into the database (migrate it first with 'llmspell db upgrade')."""
        from ..core.config import get_settings
        from ..state.backup import restore_backup

        inline = get_settings().state.inline_max_bytes

        def work(p: Any) -> Any:
            return restore_backup(
                p.store,
                p.artifacts.blobs,
                file,
                mode="replace" if replace else "merge",
                inline_max_bytes=inline,
            )

        _, manifest = run_storage(database_url, lambda url: with_persistence(url, work))
        mode = "replaced with" if replace else "merged"
        typer.echo(f"restored ({mode}) {manifest.kind} backup {manifest.id}")

    @backup.command("prune")
    def prune(
        keep: Annotated[int, typer.Option(help="full backups to keep (with their incrementals)")] = 7,
        max_age_days: Annotated[
            float | None, typer.Option(help="also drop full backups older than this")
        ] = None,
        directory: DirOption = None,
    ) -> None:
        """Apply the retention policy to the backup directory."""
        from ..state.backup import prune_backups

        try:
            removed = prune_backups(_directory(directory), keep=keep, max_age_days=max_age_days)
        except LLMSpellError as error:
            fail(error)
        typer.echo(f"removed {len(removed)} backup(s)")
        for manifest in removed:
            typer.echo(f"  {manifest.path}")

    app.add_typer(backup, name="backup")

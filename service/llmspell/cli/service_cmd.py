"""``llmspell service install``: write a systemd unit or a launchd plist for ``llmspell serve``.

The templates ship in ``llmspell/cli/templates``; the files under ``systemd/`` in the
repository are these templates rendered with the defaults (a test keeps them equal).
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from importlib.resources import files
from pathlib import Path
from string import Template
from typing import Annotated, Literal

import typer

from ..core.errors import ConfigError, ValidationError
from .version_cmd import user_errors

__all__ = [
    "LAUNCHD_DEFAULTS",
    "SYSTEMD_DEFAULTS",
    "ServiceFile",
    "ServiceOptions",
    "register",
    "render_service_files",
    "stop_timeout_s",
]

Manager = Literal["systemd", "launchd"]

# systemd/launchd must not kill the daemon before its own graceful shutdown is over.
_STOP_MARGIN_S = 10
_USER = re.compile(r"^[a-z_][a-z0-9_-]{0,31}$")
_UNSAFE_PATH = re.compile(r"[\s\"'\\$%;]")
_PLIST_TARGET = Path("/Library/LaunchDaemons/com.llmspell.serve.plist")


@dataclass(frozen=True, kw_only=True)
class ServiceOptions:
    """Values substituted into the templates."""

    prefix: str = "/opt/llmspell"
    user: str = "llmspell"
    data_dir: str = "/var/lib/llmspell"
    config_dir: str = "/etc/llmspell"
    log_dir: str = "/var/log/llmspell"
    shutdown_grace_s: float = 20.0


SYSTEMD_DEFAULTS = ServiceOptions()
LAUNCHD_DEFAULTS = ServiceOptions(
    data_dir="/usr/local/var/llmspell", config_dir="/usr/local/etc/llmspell", log_dir="/usr/local/var/log"
)


@dataclass(frozen=True, kw_only=True)
class ServiceFile:
    """One rendered file: where it goes by default, and its text."""

    name: str
    target: Path
    text: str
    secret: bool = False


def stop_timeout_s(shutdown_grace_s: float) -> int:
    """TimeoutStopSec / ExitTimeOut for a daemon whose graceful shutdown takes ``shutdown_grace_s``."""
    return math.ceil(shutdown_grace_s) + _STOP_MARGIN_S


def _check(options: ServiceOptions) -> None:
    if not _USER.match(options.user):
        raise ValidationError(f"invalid --user {options.user!r}: use a system user name such as 'llmspell'")
    for flag, value in (
        ("--prefix", options.prefix),
        ("--data-dir", options.data_dir),
        ("--config-dir", options.config_dir),
        ("--log-dir", options.log_dir),
    ):
        if not value.startswith("/") or _UNSAFE_PATH.search(value):
            raise ValidationError(f"invalid {flag} {value!r}: use an absolute path without spaces or quotes")


def _render(template_name: str, options: ServiceOptions, *, xml: bool = False) -> str:
    source = (files("llmspell.cli") / "templates" / template_name).read_text(encoding="utf-8")
    grace = options.shutdown_grace_s
    values = {
        "prefix": options.prefix,
        "user": options.user,
        "group": options.user,
        "data_dir": options.data_dir,
        "config_dir": options.config_dir,
        "log_dir": options.log_dir,
        "shutdown_grace": f"{grace:g}",
        "stop_timeout": str(stop_timeout_s(grace)),
    }
    if xml:
        from xml.sax.saxutils import escape

        values = {key: escape(value) for key, value in values.items()}
    return Template(source).substitute(values)


def render_service_files(manager: Manager, options: ServiceOptions) -> list[ServiceFile]:
    """Render the files of ``manager`` with ``options``.

    Raises:
        ValidationError: for a user name or path that cannot go into a unit file.
    """
    _check(options)
    if manager == "systemd":
        return [
            ServiceFile(
                name="llmspell.service",
                target=Path("/etc/systemd/system/llmspell.service"),
                text=_render("llmspell.service", options),
            ),
            ServiceFile(
                name="llmspell.env",
                target=Path(options.config_dir) / "llmspell.env",
                text=_render("llmspell.env.example", options),
                secret=True,
            ),
        ]
    return [
        ServiceFile(
            name="com.llmspell.serve.plist",
            target=_PLIST_TARGET,
            text=_render("com.llmspell.serve.plist", options, xml=True),
        )
    ]


def _next_steps(manager: Manager, options: ServiceOptions, written: list[Path]) -> list[str]:
    if manager == "systemd":
        return [
            f"useradd --system --home-dir {options.data_dir} --shell /usr/sbin/nologin {options.user}",
            "systemctl daemon-reload && systemctl enable --now llmspell",
            "journalctl -u llmspell -f",
        ]
    plist = written[0] if written else _PLIST_TARGET
    return [f"sudo mkdir -p {options.data_dir} {options.log_dir}", f"sudo launchctl bootstrap system {plist}"]


def _write(rendered: list[ServiceFile], output_dir: Path | None, force: bool) -> list[Path]:
    written: list[Path] = []
    for item in rendered:
        path = output_dir / item.name if output_dir is not None else item.target
        if path.exists() and item.secret:
            typer.echo(f"kept {path} (existing settings are never overwritten)")
            continue
        if path.exists() and not force:
            raise ConfigError(f"{path} exists: pass --force to overwrite it")
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(item.text, encoding="utf-8")
            if item.secret:
                path.chmod(0o640)
        except OSError as exc:
            raise ConfigError(
                f"cannot write {path}: {exc.strerror or exc} (run as root, or pass --output-dir)"
            ) from exc
        typer.echo(f"wrote {path}")
        written.append(path)
    return written


def register(app: typer.Typer) -> None:
    """Add the ``service`` command group to ``app``."""
    group = typer.Typer(
        name="service", help="Install llmspell serve as a system service.", no_args_is_help=True
    )
    app.add_typer(group)

    @group.command("install")
    def install(
        systemd: Annotated[
            bool, typer.Option("--systemd", help="Write a systemd unit and its env file.")
        ] = False,
        launchd: Annotated[bool, typer.Option("--launchd", help="Write a launchd plist (macOS).")] = False,
        prefix: Annotated[
            str, typer.Option("--prefix", help="Install prefix; the daemon runs PREFIX/.venv/bin/llmspell.")
        ] = SYSTEMD_DEFAULTS.prefix,
        user: Annotated[
            str, typer.Option("--user", help="System user the daemon runs as.")
        ] = SYSTEMD_DEFAULTS.user,
        data_dir: Annotated[
            str | None, typer.Option("--data-dir", help="Data directory (default per service manager).")
        ] = None,
        output_dir: Annotated[
            Path | None,
            typer.Option("--output-dir", help="Write the files here instead of their system locations."),
        ] = None,
        dry_run: Annotated[
            bool, typer.Option("--dry-run", help="Print the files instead of writing them.")
        ] = False,
        force: Annotated[bool, typer.Option("--force", help="Overwrite an existing unit or plist.")] = False,
        shutdown_grace: Annotated[
            float | None,
            typer.Option(
                "--shutdown-grace",
                metavar="S",
                help="The daemon's server.shutdown_grace_s; the stop timeout allows 10 s more.",
                show_default=False,
            ),
        ] = None,
    ) -> None:
        """Write the service files for `llmspell serve` (systemd or launchd)."""
        from ..core.config import ServerConfig

        with user_errors():
            if systemd == launchd:
                raise ValidationError("pass exactly one of --systemd or --launchd")
            manager: Manager = "systemd" if systemd else "launchd"
            base = SYSTEMD_DEFAULTS if systemd else LAUNCHD_DEFAULTS
            options = ServiceOptions(
                prefix=prefix.rstrip("/") or "/",
                user=user,
                data_dir=(data_dir or base.data_dir).rstrip("/") or "/",
                config_dir=base.config_dir,
                log_dir=base.log_dir,
                shutdown_grace_s=ServerConfig().shutdown_grace_s
                if shutdown_grace is None
                else shutdown_grace,
            )
            rendered = render_service_files(manager, options)
            if dry_run:
                for item in rendered:
                    target = output_dir / item.name if output_dir is not None else item.target
                    typer.echo(f"# --- {target}")
                    typer.echo(item.text, nl=False)
                return
            written = _write(rendered, output_dir, force)
        typer.echo("next steps:")
        for step in _next_steps(manager, options, written):
            typer.echo(f"  {step}")

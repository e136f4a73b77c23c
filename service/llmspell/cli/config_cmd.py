"""``llmspell config show|validate|init``: inspect, check and create ``llmspell.toml``.

``init`` writes every setting of :class:`~llmspell.core.config.Settings` with its default,
commented out, so the file is generated from the model and never drifts from it.
"""

from __future__ import annotations

import json
import os
import re
import tomllib
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any
from urllib.parse import urlsplit, urlunsplit

import typer

from ..core.errors import ConfigError
from ._options import Output
from .version_cmd import user_errors

if TYPE_CHECKING:
    from pydantic import BaseModel

    from ..core.config import Settings

__all__ = ["init_template", "masked_config", "register", "render_toml", "validate_file"]

_MASK = "**********"
_BARE_KEY = re.compile(r"^[A-Za-z0-9_-]+$")

_HEADER = """\
# llmspell configuration (written by `llmspell config init`).
#
# Every setting is listed with its default, commented out: uncomment a line to change it.
# Environment variables override this file: LLMSPELL_<NAME>, with __ between nested names,
# e.g. LLMSPELL_LIMITS__TIMEOUT_S=60 or LLMSPELL_SERVER__PORT=9000.
# Files read (first found): $LLMSPELL_CONFIG, ./llmspell.toml, ~/.config/llmspell/llmspell.toml.
# Check it with `llmspell config validate`; see the effective values with `llmspell config show`.
"""

# One line per setting; keys are dotted paths, "*" stands for a name chosen by the user.
_HELP: dict[str, str] = {
    "default_provider": "Provider of a bare model name: 'gpt-4o-mini' means <default_provider>/gpt-4o-mini.",
    "model": "Model used when a script names none, as provider/model.",
    "base_url": "Base URL of the default provider (an OpenAI-compatible server, for instance).",
    "api_key": "API key of the default provider; better set in the environment (LLMSPELL_API_KEY).",
    "data_dir": "Directory for the embedded SQLite database and artifact files.",
    "database_url": "Database of the daemon; unset means SQLite under data_dir. Postgres: postgresql+asyncpg://...",
    "redis_url": "Redis for events shared by several `llmspell serve` replicas; unset means in-process.",
    "log_level": "Log level: trace, debug, info, warn or error.",
    "providers": "Named providers: a script's model 'local/qwen' uses [providers.local].",
    "providers.*.type": "Wire protocol: openai (any OpenAI-compatible server), anthropic, ollama, ...",
    "providers.*.base_url": "Base URL of the provider's API.",
    "providers.*.api_key": "API key (prefer api_key_env).",
    "providers.*.api_key_env": "Name of the environment variable holding the API key.",
    "providers.*.timeout_s": "Timeout of one request, in seconds.",
    "providers.*.max_retries": "Retries of a failed request (rate limits, 5xx, connection errors).",
    "prices": "Prices in USD per million tokens for models the built-in price table lacks.",
    "prices.*.input_per_mtok": "USD per million input tokens.",
    "prices.*.output_per_mtok": "USD per million output tokens.",
    "limits": "Per-run limits (a run is stopped with TIMEOUT or LIMIT_EXCEEDED).",
    "limits.timeout_s": "Wall-clock limit of one run, in seconds.",
    "limits.memory_mb": "Memory cap of the script engine, in MiB.",
    "limits.instruction_budget": "Script instructions per run.",
    "limits.output_bytes": "Bytes a run may print or return.",
    "limits.max_string_bytes": "Largest string a script may build.",
    "limits.max_tool_calls": "Tool calls one agent invocation may make.",
    "sandbox": "What tools may touch.",
    "sandbox.file_roots": "Directories file tools may read and write (relative to the working directory).",
    "sandbox.network_allow": "Hosts web tools may reach (empty: any public host).",
    "sandbox.network_deny_private": "Refuse private, loopback and link-local addresses.",
    "sandbox.process_allow": "Commands the process tool may run (empty: none).",
    "sandbox.max_file_bytes": "Largest file a tool may read or write.",
    "sandbox.max_response_bytes": "Largest HTTP response a tool may read.",
    "server": "The daemon (`llmspell serve`).",
    "server.host": "Bind address; anything but loopback needs API keys (or allow_insecure_bind).",
    "server.port": "REST port.",
    "server.grpc_port": "gRPC port (0 disables gRPC).",
    "server.allow_insecure_bind": "Allow a non-loopback bind without API keys (development only).",
    "server.max_body_bytes": "Largest request body (413 beyond).",
    "server.max_script_bytes": "Largest script source (413 beyond).",
    "server.workers": "Runtime threads; 0 means one per core.",
    "server.lease_s": "Lease of a claimed run; a replica that stops renewing it loses the run.",
    "server.max_concurrent_runs": "Runs executing at once in this replica.",
    "server.shutdown_grace_s": "On SIGTERM, time given to running runs before they are handed back.",
    "server.public_paths": "Paths served without an API key.",
    "server.schedule_breaker_failures": "Consecutive failed runs that open a schedule's breaker (0: never).",
    "server.schedule_breaker_reset_s": "Seconds an open schedule breaker waits before a trial run.",
    "state": "State, sessions, artifacts and retention (docs/state.md).",
    "state.max_value_bytes": "Largest state value.",
    "state.max_scope_bytes": "Bytes one state scope may hold.",
    "state.max_scope_keys": "Keys one state scope may hold.",
    "state.cache_size": "Entries of the in-process state cache.",
    "state.cache_ttl_s": "Lifetime of a cached state entry, in seconds.",
    "state.blob_dir": "Directory of artifact blobs; unset means <data_dir>/blobs.",
    "state.inline_max_bytes": "Artifacts up to this size are stored in the database.",
    "state.record_sessions": "Record each run's session.",
    "state.collect_artifacts": "Keep the files a run writes as session artifacts.",
    "state.backup_dir": "Directory of state backups; unset means <data_dir>/backups.",
    "state.runs_retention_days": "Days finished runs are kept (unset: forever).",
    "state.events_retention_days": "Days run events are kept (unset: forever).",
    "state.sessions_retention_days": "Days sessions are kept (unset: forever).",
    "state.gc_interval_s": "How often the daemon deletes what is past retention, in seconds.",
}

# Shown (commented out) for settings whose default is unset, and for the name-keyed tables.
_EXAMPLES: dict[str, Any] = {
    "model": "openai/gpt-4o-mini",
    "base_url": "http://127.0.0.1:11434/v1",
    "api_key": "sk-...",
    "database_url": "postgresql+asyncpg://llmspell@127.0.0.1:5432/llmspell",
    "redis_url": "redis://127.0.0.1:6379/0",
    "providers": {
        "local": {"type": "openai", "base_url": "http://127.0.0.1:11434/v1", "api_key_env": "OLLAMA_KEY"}
    },
    "prices": {"local/qwen": {"input_per_mtok": 0.0, "output_per_mtok": 0.0}},
    "state.max_scope_bytes": 10_000_000,
    "state.max_scope_keys": 10_000,
    "state.blob_dir": "/var/lib/llmspell/blobs",
    "state.backup_dir": "/var/lib/llmspell/backups",
}


def _toml_key(key: str) -> str:
    return key if _BARE_KEY.match(key) else json.dumps(key)


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, list | tuple):
        return "[" + ", ".join(_toml_value(item) for item in value) + "]"
    if isinstance(value, dict):
        inner = ", ".join(f"{_toml_key(k)} = {_toml_value(v)}" for k, v in value.items() if v is not None)
        return "{" + inner + "}"
    raise ConfigError(f"cannot write {type(value).__name__} values as TOML")


def render_toml(data: dict[str, Any]) -> str:
    """Render a nested mapping as TOML: scalars first, then one table per nested mapping.

    ``None`` (unset) values are written as comments, since TOML has no null.
    """
    lines: list[str] = []
    _render_table(data, [], lines)
    return "\n".join(lines).strip() + "\n"


def _render_table(data: dict[str, Any], path: list[str], lines: list[str]) -> None:
    tables = {k: v for k, v in data.items() if isinstance(v, dict) and v}
    if path and (any(k not in tables for k in data) or not tables):
        lines.extend(["", "[" + ".".join(_toml_key(p) for p in path) + "]"])
    for key, value in data.items():
        if key in tables:
            continue
        if value is None:
            lines.append(f"# {_toml_key(key)} is unset")
        elif isinstance(value, dict):
            lines.append(f"{_toml_key(key)} = {{}}")
        else:
            lines.append(f"{_toml_key(key)} = {_toml_value(value)}")
    for key, value in tables.items():
        _render_table(value, [*path, key], lines)


def _mask_url(url: str) -> str:
    parts = urlsplit(url)
    if parts.password is None:
        return url
    user = parts.username or ""
    host = parts.hostname or ""
    if ":" in host:
        host = f"[{host}]"
    netloc = f"{user}:{_MASK}@{host}" + (f":{parts.port}" if parts.port else "")
    return urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))


def masked_config(settings: Settings) -> dict[str, Any]:
    """The effective configuration as JSON data, with API keys and URL passwords masked."""
    data = settings.public_dict()
    for key in ("database_url", "redis_url"):
        if isinstance(data.get(key), str):
            data[key] = _mask_url(data[key])
    for provider in data.get("providers", {}).values():
        if isinstance(provider.get("base_url"), str):
            provider["base_url"] = _mask_url(provider["base_url"])
    return data


def _model_fields(model: type[BaseModel]) -> Iterator[tuple[str, Any, str | None]]:
    """(name, default, description) of each field of ``model``."""
    for name, field in model.model_fields.items():
        yield name, field.get_default(call_default_factory=True), field.description


def _commented(path: str, description: str | None, lines: list[str]) -> None:
    text = description or _HELP.get(path)
    if text:
        lines.append(f"# {text}")


def _default_line(name: str, value: Any, path: str) -> str:
    if value is None:
        example = _EXAMPLES.get(path)
        if example is None:
            return f"# {_toml_key(name)} is unset by default"
        return f"# {_toml_key(name)} = {_toml_value(example)}  # unset by default"
    if hasattr(value, "get_secret_value"):
        return f"# {_toml_key(name)} = {_toml_value(_EXAMPLES.get(path, ''))}"
    return f"# {_toml_key(name)} = {_toml_value(value)}"


def init_template() -> str:
    """A commented ``llmspell.toml`` listing every setting and its default."""
    from pydantic import BaseModel

    from ..core.config import Settings

    top: list[str] = []
    sections: list[str] = []
    for name, default, description in _model_fields(Settings):
        if isinstance(default, BaseModel):
            sections.append("")
            _commented(name, description, sections)
            sections.append(f"[{name}]")
            for sub, sub_default, sub_description in _model_fields(type(default)):
                _commented(f"{name}.{sub}", sub_description, sections)
                sections.append(_default_line(sub, sub_default, f"{name}.{sub}"))
        elif isinstance(default, dict) and name in _EXAMPLES:
            sections.append("")
            _commented(name, description, sections)
            for entry, table in _EXAMPLES[name].items():
                sections.append(f"# [{name}.{_toml_key(entry)}]")
                for key, value in table.items():
                    sections.append(f"# {_toml_key(key)} = {_toml_value(value)}")
        else:
            top.append("")
            _commented(name, description, top)
            top.append(_default_line(name, default, name))
    return _HEADER + "\n".join(top) + "\n" + "\n".join(sections) + "\n"


@contextmanager
def _only_file(path: Path) -> Iterator[None]:
    """Let the settings loader see ``path`` and nothing else (no LLMSPELL_* variables)."""
    saved = {key: value for key, value in os.environ.items() if key.startswith("LLMSPELL_")}
    for key in saved:
        del os.environ[key]
    os.environ["LLMSPELL_CONFIG"] = str(path)
    try:
        yield
    finally:
        os.environ.pop("LLMSPELL_CONFIG", None)
        os.environ.update(saved)


def validate_file(path: Path) -> Settings:
    """Validate one configuration file on its own (environment variables are not applied).

    Raises:
        ConfigError: naming the file and the first bad key.
    """
    from ..core.config import load_settings

    try:
        tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError(f"cannot read {path}: {exc.strerror or exc}") from exc
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: invalid TOML: {exc}") from exc
    with _only_file(path):
        try:
            return load_settings()
        except ConfigError as exc:
            raise ConfigError(f"{path}: {exc.message}") from exc


def register(app: typer.Typer) -> None:
    """Add the ``config`` command group to ``app``."""
    group = typer.Typer(
        name="config", help="Show, validate and create the configuration file.", no_args_is_help=True
    )
    app.add_typer(group)

    @group.command("show")
    def show(output: Output = "text") -> None:
        """Print the effective configuration (file, environment, defaults), secrets masked."""
        from ..core.config import config_file_path, load_settings

        with user_errors():
            path = config_file_path()
            data = masked_config(load_settings())
        source = str(path.resolve()) if path is not None else None
        if output == "json":
            typer.echo(json.dumps({"file": source, "config": data}, indent=2))
            return
        typer.echo(f"# file: {source or 'none (defaults and LLMSPELL_* environment variables)'}")
        typer.echo(render_toml(data), nl=False)

    @group.command("validate")
    def validate(
        file: Annotated[
            Path | None,
            typer.Argument(
                metavar="[FILE]",
                help="File to check on its own; default: the effective configuration (file + environment).",
                show_default=False,
            ),
        ] = None,
    ) -> None:
        """Check a configuration; exit 0 when valid, 2 with the bad key when not."""
        from ..core.config import config_file_path, load_settings

        with user_errors():
            if file is not None:
                validate_file(file)
                typer.echo(f"valid: {file}")
                return
            path = config_file_path()
            load_settings()
        typer.echo(f"valid: {path}" if path is not None else "valid (no configuration file)")

    @group.command("init")
    def init(
        path: Annotated[Path, typer.Option("--path", "-p", help="Where to write the file.")] = Path(
            "llmspell.toml"
        ),
        force: Annotated[bool, typer.Option("--force", help="Overwrite an existing file.")] = False,
    ) -> None:
        """Write a commented llmspell.toml with every setting and its default."""
        with user_errors():
            if path.exists() and not force:
                raise ConfigError(f"{path} exists: pass --force to overwrite it")
            try:
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_text(init_template(), encoding="utf-8")
            except OSError as exc:
                raise ConfigError(f"cannot write {path}: {exc.strerror or exc}") from exc
        typer.echo(f"wrote {path}")

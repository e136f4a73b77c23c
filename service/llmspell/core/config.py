"""Configuration: ``llmspell.toml`` + ``LLMSPELL_*`` environment variables (pydantic-settings).

Precedence (highest first): explicit overrides, environment (``LLMSPELL_X``, nested with
``__`` as in ``LLMSPELL_LIMITS__TIMEOUT_S``), the TOML file, defaults. The file is the one
named by ``LLMSPELL_CONFIG``, else ``./llmspell.toml``, else ``~/.config/llmspell/llmspell.toml``.

This module imports pydantic-settings (~250 ms); the CLI's script path only imports it
when a configuration source exists (see :func:`config_sources_present`).
"""

from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

from .config_files import config_file_path, config_sources_present
from .context import Limits, SandboxPolicy
from .errors import ConfigError

__all__ = [
    "HookConfig",
    "LimitsConfig",
    "ProviderConfig",
    "SandboxConfig",
    "ServerConfig",
    "Settings",
    "StateConfig",
    "config_file_path",
    "config_sources_present",
    "get_settings",
    "load_settings",
]

_DEFAULT_LIMITS = Limits()


class ProviderConfig(BaseModel):
    """A named provider: ``type`` picks the wire protocol (``openai`` = OpenAI-compatible)."""

    type: str = "openai"
    base_url: str | None = None
    api_key: SecretStr | None = None
    api_key_env: str | None = None
    timeout_s: float = 60.0
    max_retries: int = 3

    def resolved_api_key(self) -> str | None:
        if self.api_key is not None:
            return self.api_key.get_secret_value()
        if self.api_key_env:
            return os.environ.get(self.api_key_env)
        return None


class PriceConfig(BaseModel):
    """USD per million tokens."""

    input_per_mtok: float
    output_per_mtok: float


class LimitsConfig(BaseModel):
    timeout_s: float | None = _DEFAULT_LIMITS.timeout_s
    memory_mb: int | None = _DEFAULT_LIMITS.memory_mb
    instruction_budget: int | None = _DEFAULT_LIMITS.instruction_budget
    output_bytes: int | None = _DEFAULT_LIMITS.output_bytes
    max_tool_calls: int = _DEFAULT_LIMITS.max_tool_calls
    slow_call_ms: float | None = Field(
        default=_DEFAULT_LIMITS.slow_call_ms,
        description="A tool, agent, LLM or workflow-step call slower than this (ms) fires the "
        "PerformanceThresholdExceeded hook point; unset: never.",
    )
    memory_high_fraction: float | None = Field(
        default=_DEFAULT_LIMITS.memory_high_fraction,
        gt=0,
        le=1,
        description="Share of memory_mb past which a run's script memory fires the MemoryUsageHigh "
        "hook point; unset: never.",
    )

    def to_limits(self) -> Limits:
        return Limits(
            timeout_s=self.timeout_s,
            memory_mb=self.memory_mb,
            instruction_budget=self.instruction_budget,
            output_bytes=self.output_bytes,
            max_tool_calls=self.max_tool_calls,
            slow_call_ms=self.slow_call_ms,
            memory_high_fraction=self.memory_high_fraction,
        )


class SandboxConfig(BaseModel):
    file_roots: list[str] = Field(default_factory=lambda: ["."])
    network_allow: list[str] = Field(default_factory=list)
    network_deny_private: bool = True
    process_allow: list[str] = Field(default_factory=list)
    max_file_bytes: int = 50_000_000
    max_response_bytes: int = 10_000_000

    def to_policy(self) -> SandboxPolicy:
        return SandboxPolicy(
            file_roots=tuple(str(Path(root).expanduser().resolve()) for root in self.file_roots),
            network_allow=tuple(self.network_allow),
            network_deny_private=self.network_deny_private,
            process_allow=tuple(self.process_allow),
            max_file_bytes=self.max_file_bytes,
            max_response_bytes=self.max_response_bytes,
        )


class ServerConfig(BaseModel):
    host: str = "127.0.0.1"
    port: int = 8080
    grpc_port: int = 50051
    allow_insecure_bind: bool = False
    max_body_bytes: int = 1_048_576
    max_script_bytes: int = 262_144
    # Runtime threads; 0 → one per core. One is the default: scripts mostly run Python API
    # calls and wait on I/O, where more threads only contend for the GIL (docs/architecture.md).
    workers: int = 1
    lease_s: float = 30.0
    max_concurrent_runs: int = 1000
    shutdown_grace_s: float = 20.0
    public_paths: list[str] = Field(default_factory=lambda: ["/health", "/ready", "/metrics"])
    event_loop: Literal["auto", "uvloop", "asyncio"] = "auto"  # auto: uvloop when installed
    proxy_headers: bool = False  # trust X-Forwarded-For/-Proto (behind a reverse proxy)
    rss_high_mb: float | None = Field(
        default=None,
        gt=0,
        description="Resident memory of the daemon (MiB) past which the MemoryUsageHigh hook point "
        "fires (checked every 5 s); unset: never.",
    )
    schedule_breaker_failures: int = Field(
        default=5,
        ge=0,
        description="Consecutive failed (or timed-out) runs of a schedule that open its circuit "
        "breaker: its fires are then recorded as breaker_open, not run; 0: never.",
    )
    schedule_breaker_reset_s: float = Field(
        default=300.0,
        gt=0,
        description="How long an open schedule breaker stays open after the last failure; the "
        "next fire after that runs as a trial (a success closes it, a failure opens it again).",
    )


class StateConfig(BaseModel):
    """State, sessions, artifacts and retention (see docs/state.md)."""

    max_value_bytes: int = 1_048_576
    max_scope_bytes: int | None = None
    max_scope_keys: int | None = None
    cache_size: int = 10_000
    cache_ttl_s: float = 30.0
    blob_dir: str | None = None  # default: <data_dir>/blobs
    inline_max_bytes: int = 262_144
    max_artifact_bytes: int | None = None
    record_sessions: bool = True
    collect_artifacts: bool = False
    backup_dir: str | None = None  # default: <data_dir>/backups
    runs_retention_days: float | None = 30.0
    events_retention_days: float | None = 7.0
    sessions_retention_days: float | None = 90.0
    gc_interval_s: float | None = 3600.0


class HookConfig(BaseModel):
    """A built-in hook from configuration (``[[hooks]]`` tables): see docs/hooks.md."""

    model_config = ConfigDict(extra="forbid")

    name: str
    points: list[str] | None = None  # None: the built-in's default points
    priority: int | str | None = None
    options: dict[str, Any] = Field(default_factory=dict)


class Settings(BaseSettings):
    """The effective configuration."""

    model_config = SettingsConfigDict(
        env_prefix="LLMSPELL_", env_nested_delimiter="__", extra="forbid", validate_default=True
    )

    default_provider: str = "openai"
    model: str | None = None
    base_url: str | None = None
    api_key: SecretStr | None = None
    providers: dict[str, ProviderConfig] = Field(default_factory=dict)
    prices: dict[str, PriceConfig] = Field(default_factory=dict)
    limits: LimitsConfig = Field(default_factory=LimitsConfig)
    sandbox: SandboxConfig = Field(default_factory=SandboxConfig)
    server: ServerConfig = Field(default_factory=ServerConfig)
    state: StateConfig = Field(default_factory=StateConfig)
    hooks: list[HookConfig] = Field(default_factory=list)
    data_dir: str = "~/.local/share/llmspell"
    database_url: str | None = None
    redis_url: str | None = None
    log_level: Literal["trace", "debug", "info", "warn", "warning", "error"] = "warn"

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        path = config_file_path()
        sources: list[PydanticBaseSettingsSource] = [init_settings, env_settings]
        if path is not None:
            sources.append(TomlConfigSettingsSource(settings_cls, toml_file=path))
        return tuple(sources)

    def resolved_data_dir(self) -> Path:
        return Path(self.data_dir).expanduser()

    def resolved_database_url(self) -> str:
        """``database_url`` or the embedded SQLite file under ``data_dir``."""
        if self.database_url:
            return self.database_url
        return f"sqlite+aiosqlite:///{self.resolved_data_dir() / 'llmspell.db'}"

    def public_dict(self) -> dict[str, Any]:
        """The configuration with secrets masked (for ``config show`` and ``Config.get``)."""
        return self.model_dump(mode="json")


def load_settings(**overrides: Any) -> Settings:
    """Read the configuration; any problem becomes one ``CONFIG_ERROR`` line."""
    try:
        return Settings(**overrides)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(part) for part in first["loc"])
        raise ConfigError(f"invalid configuration at {where}: {first['msg']}") from exc
    except ValueError as exc:  # TOML syntax errors
        raise ConfigError(f"invalid configuration file: {exc}") from exc


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide configuration, read once."""
    return load_settings()

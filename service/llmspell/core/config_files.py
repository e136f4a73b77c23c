"""Where configuration comes from, answered without importing pydantic (the CLI's fast path)."""

from __future__ import annotations

import os
from pathlib import Path

from .errors import ConfigError

__all__ = ["config_file_path", "config_sources_present"]


def config_file_path() -> Path | None:
    """The configuration file in effect, or None when there is none."""
    explicit = os.environ.get("LLMSPELL_CONFIG")
    if explicit:
        path = Path(explicit).expanduser()
        if not path.is_file():
            raise ConfigError(f"LLMSPELL_CONFIG names {explicit!r}, which is not a file")
        return path
    for candidate in (Path("llmspell.toml"), Path.home() / ".config" / "llmspell" / "llmspell.toml"):
        if candidate.is_file():
            return candidate
    return None


def config_sources_present() -> bool:
    """True when a config file or any ``LLMSPELL_*`` variable could change the defaults."""
    if any(key.startswith("LLMSPELL_") for key in os.environ):
        return True
    return config_file_path() is not None

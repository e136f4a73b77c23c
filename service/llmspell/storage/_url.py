"""Database URLs: normalisation, masking and the static table of backends.

Imports nothing heavy: SQLAlchemy is loaded only when a store is opened.
"""

from __future__ import annotations

import importlib
import re
from typing import TYPE_CHECKING, Any, Final
from urllib.parse import urlsplit, urlunsplit

from ..core.errors import ConfigError

if TYPE_CHECKING:
    from .abc import Store

__all__ = ["backend_name", "load_dialect", "mask_url", "normalize_url", "open_store"]

# Backend name → "module:attribute" of its dialect, imported on first use.
_BACKENDS: Final[dict[str, str]] = {
    "sqlite": "llmspell.storage.sql.sqlite:SQLiteDialect",
    "postgresql": "llmspell.storage.sql.postgres:PostgresDialect",
}
_SCHEMES: Final[dict[str, tuple[str, str]]] = {
    "sqlite": ("sqlite", "sqlite+aiosqlite"),
    "sqlite+aiosqlite": ("sqlite", "sqlite+aiosqlite"),
    "postgres": ("postgresql", "postgresql+asyncpg"),
    "postgresql": ("postgresql", "postgresql+asyncpg"),
    "postgresql+asyncpg": ("postgresql", "postgresql+asyncpg"),
}
_HINT = "use sqlite+aiosqlite:///path/to/llmspell.db or postgresql+asyncpg://user:pass@host/db"


def _split(url: str) -> tuple[str, str]:
    scheme, sep, rest = url.partition("://")
    if not sep or not scheme:
        raise ConfigError(f"Database URL {mask_url(url)!r} has no scheme; {_HINT}")
    return scheme.lower(), rest


def normalize_url(url: str) -> str:
    """The URL with its async driver: ``postgres://`` → ``postgresql+asyncpg://`` etc.

    A libpq ``sslmode=`` parameter becomes asyncpg's ``ssl=``.

    Raises ConfigError for an unsupported scheme.
    """
    scheme, rest = _split(url.strip())
    if scheme not in _SCHEMES:
        raise ConfigError(f"Unsupported database URL scheme {scheme!r}; {_HINT}")
    backend, driver = _SCHEMES[scheme]
    if backend == "postgresql" and "sslmode=" in rest:
        # libpq spells it sslmode; asyncpg takes the same values as ssl.
        rest = re.sub(r"([?&])sslmode=", r"\1ssl=", rest)
    return f"{driver}://{rest}"


def backend_name(url: str) -> str:
    """``sqlite`` or ``postgresql`` for a supported URL."""
    scheme, _ = _split(normalize_url(url))
    return _SCHEMES[scheme][0]


def mask_url(url: str) -> str:
    """The URL with its password replaced by ``***`` (safe for logs and errors)."""
    try:
        parts = urlsplit(url)
        if parts.password is None:
            return url
        netloc = parts.netloc.replace(f":{parts.password}@", ":***@", 1)
        return urlunsplit(parts._replace(netloc=netloc))
    except ValueError:
        return "<unparseable database URL>"


def load_dialect(url: str) -> Any:
    """An instance of the dialect serving ``url`` (imports SQLAlchemy)."""
    module_name, _, attribute = _BACKENDS[backend_name(url)].partition(":")
    return getattr(importlib.import_module(module_name), attribute)()


def open_store(url: str | None = None) -> Store:
    """The store for ``url`` (default: the configured database), ready for ``async with``.

    Example::

        async with open_store("sqlite+aiosqlite:///llmspell.db") as store:
            run = await store.runs.get(run_id)

    Raises ConfigError for an unsupported URL. Does not migrate the schema.
    """
    if url is None:
        from ..core.config import get_settings

        url = get_settings().resolved_database_url()
    normalized = normalize_url(url)
    from .sql import SQLStore

    return SQLStore(normalized, load_dialect(normalized))

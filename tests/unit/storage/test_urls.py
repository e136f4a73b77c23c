"""URL normalisation, masking and backend choice (no database needed)."""

from __future__ import annotations

import pytest
from llmspell.core.errors import ConfigError
from llmspell.storage import backend_name, mask_url, normalize_url, open_store


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("sqlite:///x.db", "sqlite+aiosqlite:///x.db"),
        ("sqlite+aiosqlite:////abs/x.db", "sqlite+aiosqlite:////abs/x.db"),
        ("postgres://u:p@h:5432/db", "postgresql+asyncpg://u:p@h:5432/db"),
        ("postgresql://u@h/db", "postgresql+asyncpg://u@h/db"),
        ("PostgreSQL+asyncpg://u@h/db", "postgresql+asyncpg://u@h/db"),
        ("  postgres://h/db  ", "postgresql+asyncpg://h/db"),
        ("postgres://h/db?sslmode=require&x=1", "postgresql+asyncpg://h/db?ssl=require&x=1"),
    ],
)
def test_normalize_url(given: str, expected: str) -> None:
    assert normalize_url(given) == expected


@pytest.mark.parametrize("bad", ["mysql://h/db", "x.db", "://nothing", "postgresql+psycopg://h/db"])
def test_unsupported_urls_are_config_errors(bad: str) -> None:
    with pytest.raises(ConfigError, match="sqlite\\+aiosqlite:///"):
        normalize_url(bad)


def test_backend_name() -> None:
    assert backend_name("postgres://h/db") == "postgresql"
    assert backend_name("sqlite:///x.db") == "sqlite"


def test_mask_url_hides_the_password() -> None:
    assert (
        mask_url("postgresql+asyncpg://user:s3cret@host:5432/db")
        == "postgresql+asyncpg://user:***@host:5432/db"
    )
    assert mask_url("sqlite+aiosqlite:///x.db") == "sqlite+aiosqlite:///x.db"
    assert mask_url("postgresql://user@host/db") == "postgresql://user@host/db"


def test_open_store_does_not_connect_and_masks() -> None:
    store = open_store("postgres://user:pw@127.0.0.1:1/db")
    assert store.url == "postgresql+asyncpg://user:***@127.0.0.1:1/db"
    assert "pw" not in repr(store)


def test_open_store_rejects_bad_scheme_before_importing_anything() -> None:
    with pytest.raises(ConfigError, match="Unsupported database URL scheme 'redis'"):
        open_store("redis://127.0.0.1/0")


@pytest.mark.parametrize("url", ["sqlite+aiosqlite://", "sqlite+aiosqlite:///:memory:"])
def test_in_memory_sqlite_is_refused(url: str) -> None:
    from llmspell.storage._url import load_dialect

    with pytest.raises(ConfigError, match="in-memory SQLite is not supported"):
        load_dialect(url).create_engine(url)

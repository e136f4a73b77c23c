"""Pytest fixtures for the machine's services: PostgreSQL, Redis, and a migrated ``store``.

PostgreSQL (127.0.0.1:5432, user ``postgres``, trust auth) and Redis (127.0.0.1:6379) must
be up; ``make test`` starts them. A fixture that cannot reach one fails the test with a
message saying so; nothing is skipped silently.

- ``postgres_url``: a fresh, empty database ``llmspell_t_<random>`` for the session.
- ``make_postgres_url``: a factory of further fresh databases (all dropped at the end).
- ``redis_url``: ``redis://127.0.0.1:6379/15``; with ``redis_key_prefix``, a unique key
  prefix whose keys are deleted after the test (the database is never flushed, since
  other test sessions may share it).
- ``store_url`` / ``store``: a migrated, empty database per test, parametrized over
  ``sqlite`` and ``postgres`` (the latter marked ``postgres``).
"""

from __future__ import annotations

import asyncio
import secrets
import shutil
import socket
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path

import pytest
from llmspell.storage import Store, open_store

PG_HOST, PG_PORT, PG_USER = "127.0.0.1", 5432, "postgres"
REDIS_HOST, REDIS_PORT, REDIS_DB = "127.0.0.1", 6379, 15
_TABLES = (
    "api_keys",
    "schedule_fires",
    "schedules",
    "run_events",
    "runs",
    "scripts",
    "replay_records",
    "artifacts",
    "blobs",
    "sessions",
    "state_entries",
)


def _require(host: str, port: int, what: str) -> None:
    try:
        socket.create_connection((host, port), timeout=2).close()
    except OSError as exc:
        pytest.fail(
            f"{what} is not reachable at {host}:{port} ({exc}); start it (make test does) and rerun",
            pytrace=False,
        )


async def _pg_admin(statement: str) -> None:
    import asyncpg

    conn = await asyncpg.connect(host=PG_HOST, port=PG_PORT, user=PG_USER, database="postgres")
    try:
        await conn.execute(statement)
    finally:
        await conn.close()


@pytest.fixture(scope="session")
def make_postgres_url() -> Iterator[Callable[[], str]]:
    """A factory: each call creates a fresh empty database and returns its URL."""
    _require(PG_HOST, PG_PORT, "PostgreSQL")
    created: list[str] = []

    def make() -> str:
        name = f"llmspell_t_{secrets.token_hex(6)}"
        asyncio.run(_pg_admin(f'CREATE DATABASE "{name}"'))
        created.append(name)
        return f"postgresql+asyncpg://{PG_USER}@{PG_HOST}:{PG_PORT}/{name}"

    yield make
    for name in created:
        asyncio.run(_pg_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@pytest.fixture(scope="session")
def postgres_url(make_postgres_url: Callable[[], str]) -> str:
    """A fresh, empty PostgreSQL database for the whole session (not migrated)."""
    return make_postgres_url()


@pytest.fixture(scope="session")
def redis_url() -> str:
    """The machine's Redis, database 15 (shared: use ``redis_key_prefix`` for your keys)."""
    _require(REDIS_HOST, REDIS_PORT, "Redis")
    return f"redis://{REDIS_HOST}:{REDIS_PORT}/{REDIS_DB}"


@pytest.fixture
def redis_key_prefix(redis_url: str) -> Iterator[str]:
    """A unique key prefix; every key under it is deleted after the test."""
    import redis

    prefix = f"llmspell_t_{secrets.token_hex(6)}:"
    yield prefix
    client = redis.Redis.from_url(redis_url)
    try:
        keys = list(client.scan_iter(match=f"{prefix}*", count=1000))
        if keys:
            client.delete(*keys)
    finally:
        client.close()


@pytest.fixture(scope="session")
def _sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from llmspell.storage import migrate

    path = tmp_path_factory.mktemp("store-template") / "template.db"
    asyncio.run(migrate.upgrade(f"sqlite+aiosqlite:///{path}"))
    return path


@pytest.fixture(scope="session")
def _store_postgres_url(make_postgres_url: Callable[[], str]) -> str:
    from llmspell.storage import migrate

    url = make_postgres_url()
    asyncio.run(migrate.upgrade(url))
    return url


async def _truncate(url: str) -> None:
    import asyncpg

    conn = await asyncpg.connect(url.replace("postgresql+asyncpg://", "postgresql://", 1))
    try:
        await conn.execute(f"TRUNCATE {', '.join(_TABLES)} CASCADE")
    finally:
        await conn.close()


@pytest.fixture(
    params=[
        pytest.param("sqlite", id="sqlite"),
        pytest.param("postgres", id="postgres", marks=pytest.mark.postgres),
    ]
)
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """The URL of a migrated, empty database, once per backend."""
    if request.param == "sqlite":
        path = tmp_path / "llmspell.db"
        shutil.copyfile(request.getfixturevalue("_sqlite_template"), path)
        return f"sqlite+aiosqlite:///{path}"
    url: str = request.getfixturevalue("_store_postgres_url")
    asyncio.run(_truncate(url))
    return url


@pytest.fixture
async def store(store_url: str) -> AsyncIterator[Store]:
    """An open :class:`~llmspell.storage.Store` on an empty, migrated database."""
    async with open_store(store_url) as opened:
        yield opened

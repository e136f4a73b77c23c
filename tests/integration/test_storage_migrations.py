"""Migrations on both backends: upgrade, current, downgrade, and schema = models."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from llmspell.core.errors import StorageError
from llmspell.storage import migrate, open_store
from sqlalchemy import inspect
from sqlalchemy.ext.asyncio import create_async_engine

_TABLES = {"alembic_version", "api_keys", "run_events", "runs", "schedule_fires", "schedules", "scripts"}
_TABLES |= {"state_entries", "sessions", "blobs", "artifacts", "replay_records"}  # 0002
_TABLES |= {"agent_definitions", "workflow_definitions"}  # 0003


@pytest.fixture(
    params=[
        pytest.param("sqlite", id="sqlite"),
        pytest.param("postgres", id="postgres", marks=pytest.mark.postgres),
    ]
)
def empty_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite+aiosqlite:///{tmp_path / 'sub' / 'fresh.db'}"
    make: Callable[[], str] = request.getfixturevalue("make_postgres_url")
    return make()


async def _tables(url: str) -> set[str]:
    engine = create_async_engine(url)
    try:
        async with engine.connect() as conn:
            return set(await conn.run_sync(lambda c: inspect(c).get_table_names()))
    finally:
        await engine.dispose()


async def _schema_diff(url: str) -> list[Any]:
    from alembic.autogenerate import compare_metadata
    from alembic.runtime.migration import MigrationContext
    from llmspell.storage.sql._tables import schema_metadata

    engine = create_async_engine(url)
    try:
        async with engine.connect() as conn:
            return await conn.run_sync(
                lambda c: compare_metadata(
                    MigrationContext.configure(c, opts={"compare_type": True}), schema_metadata()
                )
            )
    finally:
        await engine.dispose()


async def test_upgrade_current_downgrade(empty_url: str) -> None:
    head = migrate.head_revision()
    assert head == "0004"
    assert await migrate.current(empty_url) is None
    assert not await migrate.is_current(empty_url)
    assert await migrate.upgrade(empty_url) == head
    assert await migrate.current(empty_url) == head and await migrate.is_current(empty_url)
    assert await _tables(empty_url) == _TABLES
    assert await migrate.upgrade(empty_url) == head
    assert await migrate.downgrade(empty_url, "base") is None
    assert await _tables(empty_url) == {"alembic_version"}
    assert await migrate.current(empty_url) is None


async def test_migration_matches_the_models(empty_url: str) -> None:
    await migrate.upgrade(empty_url)
    assert await _schema_diff(empty_url) == []


async def test_concurrent_upgrades_are_safe(empty_url: str) -> None:
    results = await asyncio.gather(*(migrate.upgrade(empty_url) for _ in range(3)))
    assert results == ["0004"] * 3


async def test_new_sqlite_files_opened_by_several_connections_at_once(tmp_path: Path) -> None:
    # The first connections race to switch a new file to WAL; the losers must wait, not fail.
    for i in range(10):
        url = f"sqlite+aiosqlite:///{tmp_path}/race-{i}.db"
        assert await asyncio.gather(*(migrate.upgrade(url) for _ in range(4))) == ["0004"] * 4


async def test_store_reports_migration_status(empty_url: str) -> None:
    async with open_store(empty_url) as store:
        assert await store.migration_status() == (None, "0004")
        await migrate.upgrade(empty_url)
        assert await store.migration_status() == ("0004", "0004")
        await store.ping()


async def test_closed_store_refuses_use(empty_url: str) -> None:
    store = open_store(empty_url)
    with pytest.raises(StorageError, match="not open"):
        await store.ping()
    async with store:
        await store.ping()
    with pytest.raises(StorageError, match="closed; open a new one"):
        await store.ping()
    with pytest.raises(StorageError, match="closed"):
        await store.open()


async def test_unreachable_database_is_a_storage_error() -> None:
    with pytest.raises(StorageError, match=r"cannot reach the database|check that it is reachable"):
        async with open_store("postgresql://postgres:secret@127.0.0.1:1/none"):
            pass
    with pytest.raises(StorageError) as caught:
        await migrate.upgrade("postgres://postgres:secret@127.0.0.1:1/none")
    assert "secret" not in str(caught.value)


async def test_sqlite_uses_wal_and_foreign_keys(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'x.db'}"
    await migrate.upgrade(url)
    async with open_store(url) as store:
        from sqlalchemy import text

        async with store._db.read() as conn:  # type: ignore[attr-defined]
            assert (await conn.execute(text("PRAGMA journal_mode"))).scalar() == "wal"
            assert (await conn.execute(text("PRAGMA foreign_keys"))).scalar() == 1
            assert (await conn.execute(text("PRAGMA busy_timeout"))).scalar() > 0


async def test_sqlite_run_queries_use_the_partial_indexes(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'plans.db'}"
    await migrate.upgrade(url)
    plans = {
        "SELECT id FROM runs WHERE script_name = :a ORDER BY created_at DESC": "ix_runs_script_name_created_at",
        "SELECT id FROM runs WHERE schedule_id = :a AND status = :b": "ix_runs_schedule_id_created_at",
        "SELECT id FROM runs WHERE status = :a AND lease_expires_at < :b": "ix_runs_status_lease_expires_at",
    }
    async with open_store(url) as store:
        from sqlalchemy import text

        async with store._db.read() as conn:  # type: ignore[attr-defined]
            for query, index in plans.items():
                rows = (await conn.execute(text(f"EXPLAIN QUERY PLAN {query}"), {"a": "x", "b": "y"})).all()
                assert any(f"USING INDEX {index}" in str(row[-1]) for row in rows), (query, rows)


@pytest.fixture
def postgres_url(make_postgres_url: Callable[[], str]) -> str:
    return make_postgres_url()


@pytest.mark.postgres
async def test_postgres_run_indexes_are_partial(postgres_url: str) -> None:
    url = postgres_url
    await migrate.upgrade(url)
    engine = create_async_engine(url)
    try:
        async with engine.connect() as conn:
            rows = await conn.run_sync(lambda c: inspect(c).get_indexes("runs"))
    finally:
        await engine.dispose()
    where = {row["name"]: (row.get("dialect_options") or {}).get("postgresql_where") for row in rows}
    assert "script_name IS NOT NULL" in str(where["ix_runs_script_name_created_at"])
    assert "schedule_id IS NOT NULL" in str(where["ix_runs_schedule_id_created_at"])
    assert "lease_expires_at IS NOT NULL" in str(where["ix_runs_status_lease_expires_at"])
    assert where["ix_runs_status_created_at"] is None

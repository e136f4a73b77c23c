"""The hot paths that run compiled statements on the driver (Database.fetch/execute_many):
same values and errors as SQLAlchemy's execution, and a healthy pool after failures."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from llmspell.core.errors import StorageError, ValidationError
from llmspell.storage import RunSpec, Store, open_store
from llmspell.storage.records import RunFinish
from llmspell.storage.sql._db import Database
from llmspell.storage.sql._runs import run_record
from llmspell.storage.sql._tables import runs
from sqlalchemy import select


def _db(store: Store) -> Database:
    db: Database = store._db  # type: ignore[attr-defined]
    return db


async def test_state_values_refused_like_sqlalchemy_refuses_them(store: Store) -> None:
    with pytest.raises(ValidationError, match="invalid value"):
        await store.state.put("global", "k", {"not json": object()}, size=1)
    naive = datetime.now() + timedelta(hours=1)
    with pytest.raises(ValidationError, match="naive datetime"):
        await store.state.put("global", "k", 1, size=1, expires_at=naive)
    assert await store.state.get("global", "k") is None


async def test_state_round_trip_through_the_driver(store: Store) -> None:
    expires = datetime.now(UTC) + timedelta(hours=1)
    written = await store.state.put("global", "k", {"a": [1, 2.5, None, "x"]}, size=9, expires_at=expires)
    read = await store.state.get("global", "k")
    assert read == written
    assert read is not None and read.value == {"a": [1, 2.5, None, "x"]}
    assert read.expires_at == expires and read.expires_at.tzinfo is UTC
    assert read.updated_at.tzinfo is UTC
    await store.state.put("global", "none", None, size=4)
    none = await store.state.get("global", "none")
    assert none is not None and none.value is None and none.version == 1


async def test_runs_read_through_the_driver_equal_sqlalchemy_rows(store: Store) -> None:
    created = await store.runs.create_many(
        [RunSpec(code="return 1", args={"n": 1}, metadata={"m": "x"}, timeout_s=2.5) for _ in range(3)]
    )
    (claimed, *_) = await store.runs.claim("w", 1, 30)
    finish = RunFinish(
        run_id=claimed.id,
        worker_id="w",
        status="succeeded",
        result={"r": [1]},
        stdout="out",
        usage={"tokens": 3},
        duration_ms=1.25,
        events=((1, "end", {"status": "succeeded"}),),
    )
    assert await store.runs.finish_many([finish]) == [True]
    db = _db(store)
    for run in created:
        got = await store.runs.get(run.id)
        # The same row read by SQLAlchemy's own execution.
        row = await db.run(
            lambda conn, i=run.id: conn.execute(select(runs).where(runs.c.id == i)).one(), write=False
        )
        assert got == run_record(row)
        if run.id != claimed.id:
            assert got == run  # create_many returns what it stored
    done = await store.runs.get(claimed.id)
    assert (done.status, done.result, done.stdout, done.usage, done.duration_ms) == (
        "succeeded",
        {"r": [1]},
        "out",
        {"tokens": 3},
        1.25,
    )
    assert done.finished_at is not None and done.finished_at.tzinfo is UTC
    assert done.lease_expires_at is None and done.cancel_requested is False
    assert [(e.seq, e.type) for e in await store.events.list(claimed.id)] == [(1, "end")]


async def test_finish_by_a_stale_worker_writes_nothing(store: Store) -> None:
    await store.runs.create(RunSpec(code="x"))
    (run,) = await store.runs.claim("w1", 1, 30)
    stale = RunFinish(run_id=run.id, worker_id="w2", status="failed", events=((1, "end", None),))
    assert await store.runs.finish_many([stale]) == [False]
    assert (await store.runs.get(run.id)).status == "running"
    assert await store.events.list(run.id) == []


@pytest.mark.postgres
async def test_reads_survive_connections_the_server_dropped(_store_postgres_url: str) -> None:
    import asyncpg

    async with open_store(_store_postgres_url) as store:
        await store.state.put("global", "k", 1, size=1)
        for _ in range(3):  # several pooled connections
            await asyncio.gather(*(store.state.get("global", "k") for _ in range(3)))
        admin = await asyncpg.connect(_store_postgres_url.replace("postgresql+asyncpg://", "postgresql://"))
        try:
            await admin.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                "WHERE datname = current_database() AND pid <> pg_backend_pid()"
            )
        finally:
            await admin.close()
        record = await store.state.get("global", "k")  # retried on a fresh connection
        assert record is not None and record.value == 1
        assert (await store.state.put("global", "k", 2, size=1)).version == 2


@pytest.mark.postgres
async def test_a_cancelled_statement_leaves_the_pool_usable(_store_postgres_url: str) -> None:
    async with open_store(_store_postgres_url) as store:
        db = _db(store)

        async def sleep(conn: Any) -> Any:
            return await conn.fetch("SELECT pg_sleep(10)")

        slow = asyncio.ensure_future(db.on_driver(sleep, write=False))
        await asyncio.sleep(0.2)
        slow.cancel()
        with pytest.raises(asyncio.CancelledError):
            await slow
        for i in range(8):  # more than the pool holds: no connection came back broken
            assert (await store.state.put("global", f"k{i}", i, size=1)).value == i


@pytest.mark.postgres
async def test_driver_errors_are_translated(_store_postgres_url: str) -> None:
    async with open_store(_store_postgres_url) as store:
        db = _db(store)

        async def bad(conn: Any) -> Any:
            return await conn.fetch("SELECT * FROM no_such_table")

        with pytest.raises(StorageError, match="no_such_table"):
            await db.on_driver(bad, write=False)
        with pytest.raises(ValidationError, match="rejected by the database"):
            await db.on_driver(lambda conn: conn.fetch("SELECT 1 / 0"), write=False)
        assert await store.state.get("global", "absent") is None


@pytest.mark.postgres
async def test_text_postgres_cannot_hold_is_a_validation_error(_store_postgres_url: str) -> None:
    # A NUL in a name is the caller's mistake (400), not an unreachable database (503).
    async with open_store(_store_postgres_url) as store:
        with pytest.raises(ValidationError, match="rejected by the database"):
            await store.scripts.put("a\x00b", "return 1")
        with pytest.raises(ValidationError, match="rejected by the database"):
            await store.schedules.get("x\x00")
        assert await store.state.get("global", "absent") is None


@pytest.mark.postgres
async def test_held_connections_go_back_to_the_pool(
    _store_postgres_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from llmspell.storage.sql import _db as db_module

    async with open_store(_store_postgres_url) as store:
        pool = _db(store).engine.sync_engine.pool
        await asyncio.gather(*(store.state.get("global", f"k{i}") for i in range(8)))
        assert 0 < pool.checkedout() <= db_module._HOLD_MAX  # kept for the next hot statement
        monkeypatch.setattr(db_module, "_HOLD_S", 0.0)  # too old: handed back after their next use
        await asyncio.gather(*(store.state.get("global", f"k{i}") for i in range(8)))
        assert pool.checkedout() == 0
        await store.state.get("global", "k")
        assert pool.checkedout() == 0
        monkeypatch.undo()
        await store.state.get("global", "k")
        assert pool.checkedout() == 1
    assert pool.checkedout() == 0  # closing the store returns them


async def test_driver_cursor_errors_are_translated_as_sqlalchemys(store: Store) -> None:
    from llmspell.core.errors import Conflict
    from llmspell.storage.sql._db import driver_cursor
    from sqlalchemy import Connection

    db = _db(store)
    if not db.embedded:
        pytest.skip("driver_cursor serves SQLite's inline transaction bodies")
    [run] = await store.runs.create_many([RunSpec(code="return 1")])

    def duplicate(conn: Connection) -> None:
        with driver_cursor(conn) as cursor:
            cursor.execute("INSERT INTO runs SELECT * FROM runs WHERE id = ?", (run.id,))

    with pytest.raises(Conflict, match="already exists"):
        await db.run(duplicate, write=True)

    def broken(conn: Connection) -> None:
        with driver_cursor(conn) as cursor:
            cursor.execute("UPDATE no_such_table SET x = 1")

    with pytest.raises(StorageError, match="no such table"):
        await db.run(broken, write=True)
    # The failed bodies were rolled back and the connection is usable.
    assert (await store.runs.get(run.id)).status == "queued"

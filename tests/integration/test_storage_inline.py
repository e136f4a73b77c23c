"""SQLite's inline transactions: they never block the event loop on another process's lock."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path

from llmspell.storage import migrate, open_store


async def test_write_waits_off_the_loop_while_another_process_holds_the_lock(tmp_path: Path) -> None:
    path = tmp_path / "locked.db"
    url = f"sqlite+aiosqlite:///{path}"
    await migrate.upgrade(url)
    async with open_store(url) as store:
        await store.state.put("global", "k", 1, size=1)
        other = sqlite3.connect(path, isolation_level=None)
        other.execute("BEGIN IMMEDIATE")  # another writer, as a second process would be
        write = asyncio.ensure_future(store.state.put("global", "k", 2, size=1))
        done, _ = await asyncio.wait({write}, timeout=0.3)
        assert not done, "the write must wait for the lock, not fail or skip it"
        # The loop kept running meanwhile, and reads are not blocked by a writer (WAL).
        got = await store.state.get("global", "k")
        assert got is not None and got.value == 1
        other.execute("COMMIT")
        other.close()
        record = await write
        assert record.version == 2
        got = await store.state.get("global", "k")
        assert got is not None and got.value == 2


async def test_the_wal_is_checkpointed_off_the_loop(tmp_path: Path) -> None:
    from llmspell.storage.sql._db import Database

    path = tmp_path / "wal.db"
    url = f"sqlite+aiosqlite:///{path}"
    await migrate.upgrade(url)
    async with open_store(url) as store:
        db: Database = store._db  # type: ignore[attr-defined]
        checkpoints = db.checkpoints
        assert checkpoints is not None and checkpoints.alive
        # The store's own connections never checkpoint inside a commit.
        off = await db.run(
            lambda conn: conn.exec_driver_sql("PRAGMA wal_autocheckpoint").scalar(), write=False
        )
        assert off == 0
        for i in range(300):
            await store.state.put("global", f"k{i}", "x" * 2000, size=2000)
        # Until the checkpoint thread copied the log into the database file.
        deadline = asyncio.get_running_loop().time() + 10
        while not (checkpoints.last[0] > 0 and checkpoints.last[0] == checkpoints.last[1]):
            assert asyncio.get_running_loop().time() < deadline, checkpoints.last
            await asyncio.sleep(0.05)
        probe = sqlite3.connect(path)
        assert probe.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()[0] == 0
        probe.close()
    assert not checkpoints.alive
    # Everything is in the database file once the store closed.
    check = sqlite3.connect(path)
    assert check.execute("SELECT count(*) FROM state_entries").fetchone()[0] >= 300
    check.close()

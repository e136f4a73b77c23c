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

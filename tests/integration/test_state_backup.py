"""Backup and restore: round trips on every backend, across backends, incremental, corruption."""

from __future__ import annotations

import hashlib
import os
import tarfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from llmspell.core.errors import NotFound, ValidationError
from llmspell.sessions import ArtifactManager, FileBlobStore
from llmspell.state import StateManager
from llmspell.state.backup import create_backup, list_backups, prune_backups, restore_backup, verify_backup
from llmspell.storage import Store, migrate, open_store

BIG = 300_000  # over the inline threshold: goes to the blob directory


async def _populate(store: Store, blobs: FileBlobStore) -> dict[str, Any]:
    state = StateManager(store)
    artifacts = ArtifactManager(store, blobs)
    await state.set("global", "config", {"a": [1, 2, {"b": None}], "s": "é"})
    await state.set("user:1", "k", 42, ttl_s=3600)
    session = await store.sessions.create(name="s", tags=["t"], metadata={"m": 1})
    big = os.urandom(BIG)
    first = await artifacts.put(session.id, "big.bin", big)
    second = await artifacts.put(session.id, "note.txt", "hello")
    await artifacts.put(session.id, "note.txt", "hello again")
    await store.replay.append(session.id, "run1", [(1, "llm", "k", {"text": "x"})])
    await store.scripts.put("script", "return 1")
    await store.schedules.create(name="every", script_name="script", interval_s=60)
    return {"session": session.id, "big": big, "ids": (first.id, second.id)}


async def _snapshot(store: Store, blobs: FileBlobStore) -> dict[str, Any]:
    artifacts = ArtifactManager(store, blobs)
    entries, _ = await store.state.list(None, limit=100)
    sessions, _ = await store.sessions.list(limit=100)
    content = {}
    for session in sessions:
        for record in await artifacts.list(session.id):
            content[(record.name, record.version)] = hashlib.sha256(await artifacts.read(record)).hexdigest()
    return {
        "state": [(e.scope, e.key, e.value, e.version, e.expires_at) for e in entries],
        "sessions": [(s.id, s.name, s.tags, s.metadata, s.created_at) for s in sessions],
        "content": content,
        "scripts": [(s.name, s.version, s.code) for s in (await store.scripts.list())[0]],
        "schedules": [(s.name, s.interval_s) for s in (await store.schedules.list())[0]],
        "replay": [(r.run_id, r.kind, r.data) for s in sessions for r in await store.replay.list(s.id)],
    }


async def test_backup_wipe_restore_round_trip(store: Store, tmp_path: Path) -> None:
    blobs = FileBlobStore(tmp_path / "blobs")
    made = await _populate(store, blobs)
    before = await _snapshot(store, blobs)
    manifest = await create_backup(store, blobs, tmp_path / "backups")
    assert manifest.counts["state_entries"] == 2 and manifest.counts["blobs"] == 3
    assert (await verify_backup(Path(manifest.path))).id == manifest.id

    await store.maintenance.wipe(["scripts", "schedules", "sessions", "artifacts", "blobs", "state_entries"])
    for path in (tmp_path / "blobs").glob("*/*"):
        path.unlink()
    assert (await store.state.list(None))[0] == []

    await restore_backup(store, blobs, Path(manifest.path))
    assert await _snapshot(store, blobs) == before
    restored = await ArtifactManager(store, blobs).get(made["session"], "big.bin")
    assert await ArtifactManager(store, blobs).read(restored) == made["big"]
    # Restoring again (merge) changes nothing; replace also yields the same data.
    await restore_backup(store, blobs, Path(manifest.path))
    await restore_backup(store, blobs, Path(manifest.path), mode="replace")
    assert await _snapshot(store, blobs) == before


@pytest.fixture
def pg_url(make_postgres_url: Callable[[], str]) -> str:
    return make_postgres_url()


@pytest.mark.postgres
async def test_sqlite_to_postgres_and_back(tmp_path: Path, pg_url: str) -> None:
    sqlite_url = f"sqlite+aiosqlite:///{tmp_path / 'a.db'}"
    back_url = f"sqlite+aiosqlite:///{tmp_path / 'b.db'}"
    for url in (sqlite_url, pg_url, back_url):
        await migrate.upgrade(url)
    blobs_a, blobs_b, blobs_c = (FileBlobStore(tmp_path / name) for name in ("ba", "bb", "bc"))
    async with open_store(sqlite_url) as source:
        await _populate(source, blobs_a)
        expected = await _snapshot(source, blobs_a)
        first = await create_backup(source, blobs_a, tmp_path / "k1")
    async with open_store(pg_url) as middle:
        await restore_backup(middle, blobs_b, Path(first.path))
        assert await _snapshot(middle, blobs_b) == expected
        second = await create_backup(middle, blobs_b, tmp_path / "k2")
    async with open_store(back_url) as target:
        await restore_backup(target, blobs_c, Path(second.path))
        assert await _snapshot(target, blobs_c) == expected


async def test_incremental_backups_apply_on_the_base(store: Store, tmp_path: Path) -> None:
    blobs = FileBlobStore(tmp_path / "blobs")
    backups = tmp_path / "backups"
    with pytest.raises(NotFound, match="create a full one"):
        await create_backup(store, blobs, backups, incremental=True)
    made = await _populate(store, blobs)
    full = await create_backup(store, blobs, backups)
    state = StateManager(store)
    await state.set("global", "later", "new")
    await state.set("global", "config", "changed")
    await ArtifactManager(store, blobs).put(made["session"], "late.txt", "late")
    incremental = await create_backup(store, blobs, backups, incremental=True)
    assert incremental.base == full.id and incremental.counts["state_entries"] == 2
    assert incremental.counts["scripts"] == 0
    expected = await _snapshot(store, blobs)

    await store.maintenance.wipe(["scripts", "schedules", "sessions", "artifacts", "blobs", "state_entries"])
    for backup in list_backups(backups):
        await restore_backup(store, blobs, Path(backup.path))
    assert await _snapshot(store, blobs) == expected


async def test_verify_detects_corruption_and_prune_keeps_newest(store: Store, tmp_path: Path) -> None:
    blobs = FileBlobStore(tmp_path / "blobs")
    await _populate(store, blobs)
    backups = tmp_path / "backups"
    manifests = [await create_backup(store, blobs, backups) for _ in range(3)]
    incremental = await create_backup(store, blobs, backups, incremental=True)
    assert [m.id for m in list_backups(backups)] == [m.id for m in [*manifests, incremental]]

    # Rewrite one member with other bytes of the same size.
    path = Path(manifests[0].path)
    broken = tmp_path / "broken.tar.gz"
    with tarfile.open(path, "r:gz") as source, tarfile.open(broken, "w:gz") as target:
        for info in source.getmembers():
            data = source.extractfile(info).read()  # type: ignore[union-attr]
            if info.name == "tables/state_entries.jsonl":
                data = data.replace(b"42", b"43")
            import io

            target.addfile(info, io.BytesIO(data))
    with pytest.raises(ValidationError, match=r"state_entries\.jsonl does not match its checksum"):
        await verify_backup(broken)
    with pytest.raises(ValidationError, match="not a readable llmspell backup"):
        (tmp_path / "junk.tar.gz").write_bytes(b"junk")
        await verify_backup(tmp_path / "junk.tar.gz")
    with pytest.raises(ValidationError):
        await restore_backup(store, blobs, broken)

    removed = prune_backups(backups, keep=1)
    assert {m.id for m in removed} == {manifests[0].id, manifests[1].id}
    assert [m.id for m in list_backups(backups)] == [manifests[2].id, incremental.id]
    with pytest.raises(ValidationError):
        prune_backups(backups, keep=0)

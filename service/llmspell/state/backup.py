"""Backups: one gzip-compressed, checksummed tar of state, sessions, artifacts, scripts and
schedules, restorable into any backend (SQLite → PostgreSQL and back).

Layout: ``blobs/<sha256>`` (artifact content) first, then ``tables/<table>.jsonl``, then
``manifest.json`` with the SHA-256 of every member. A copy of the manifest is written next
to the file (``<file>.json``) so that listing does not read whole archives. An
incremental backup holds the rows changed since its base backup started; restoring it
applies on top of the base (deletions are not carried by incrementals).
Runs and their events are history, not state: they are not backed up.
"""

from __future__ import annotations

import asyncio
import hashlib
import io
import json
import os
import tarfile
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, Literal

from ..core.errors import NotFound, StorageError, ValidationError

if TYPE_CHECKING:
    from ..sessions.abc import BlobStore
    from ..storage.abc import Store

__all__ = [
    "BACKUP_FORMAT",
    "BackupManifest",
    "create_backup",
    "list_backups",
    "prune_backups",
    "restore_backup",
    "verify_backup",
]

BACKUP_FORMAT = 1
#: Tables exported as JSONL, parents first (blob rows are rebuilt from ``blobs/`` members).
TABLES: tuple[str, ...] = ("scripts", "schedules", "sessions", "artifacts", "state_entries", "replay_records")
_WIPED: tuple[str, ...] = (*TABLES[:3], "blobs", *TABLES[3:])
_PAGE = 1000
_SUFFIX = ".tar.gz"


@dataclass(kw_only=True, slots=True)
class BackupManifest:
    """What a backup holds."""

    id: str
    kind: Literal["full", "incremental"]
    started_at: str
    finished_at: str = ""
    since: str | None = None
    base: str | None = None
    source: str = ""
    counts: dict[str, int] = field(default_factory=dict)
    blob_bytes: int = 0
    members: dict[str, str] = field(default_factory=dict)
    format: int = BACKUP_FORMAT
    path: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {
            "format": self.format,
            "id": self.id,
            "kind": self.kind,
            "started_at": self.started_at,
            "finished_at": self.finished_at,
            "since": self.since,
            "base": self.base,
            "source": self.source,
            "counts": self.counts,
            "blob_bytes": self.blob_bytes,
            "members": self.members,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any], path: str = "") -> BackupManifest:
        fields = {k: data[k] for k in cls.__slots__ if k in data and k != "path"}
        return cls(**fields, path=path)


class _Hashing(io.RawIOBase):
    """A readable file that hashes what is read through it."""

    def __init__(self, inner: IO[bytes]) -> None:
        self._inner = inner
        self.digest = hashlib.sha256()

    def readable(self) -> bool:
        return True

    def read(self, size: int = -1) -> bytes:
        data = self._inner.read(size)
        self.digest.update(data)
        return data


def _add(tar: tarfile.TarFile, name: str, size: int, source: IO[bytes]) -> str:
    info = tarfile.TarInfo(name)
    info.size = size
    info.mtime = int(time.time())
    reader = _Hashing(source)
    tar.addfile(info, reader)
    return reader.digest.hexdigest()


async def create_backup(
    store: Store,
    blobs: BlobStore,
    directory: Path,
    *,
    incremental: bool = False,
    compresslevel: int = 1,
) -> BackupManifest:
    """Write a backup file into ``directory``; returns its manifest.

    With ``incremental``, only rows changed since the newest backup in ``directory`` started
    (NotFound when there is none). Raises StorageError when the file cannot be written.
    """
    directory.mkdir(parents=True, exist_ok=True)
    started = datetime.now(UTC)
    since: datetime | None = None
    base: str | None = None
    if incremental:
        previous = list_backups(directory)
        if not previous:
            raise NotFound(f"no backup in {directory} to base an incremental backup on: create a full one")
        since, base = datetime.fromisoformat(previous[-1].started_at), previous[-1].id
    stamp = started.strftime("%Y%m%dT%H%M%S%fZ")
    kind: Literal["full", "incremental"] = "incremental" if incremental else "full"
    manifest = BackupManifest(
        id=f"{stamp}-{kind}",
        kind=kind,
        started_at=started.isoformat(),
        since=since.isoformat() if since else None,
        base=base,
        source=store.url,
    )
    final = directory / f"llmspell-backup-{manifest.id}{_SUFFIX}"
    partial = final.with_suffix(".partial")
    try:
        with tarfile.open(partial, "w:gz", compresslevel=compresslevel) as tar:
            await _write_blobs(store, blobs, tar, manifest, since)
            for table in TABLES:
                await _write_table(store, tar, table, manifest, since)
            manifest.finished_at = datetime.now(UTC).isoformat()
            body = json.dumps(manifest.to_dict(), indent=2).encode()
            await asyncio.to_thread(_add, tar, "manifest.json", len(body), io.BytesIO(body))
        os.replace(partial, final)
    except OSError as exc:
        partial.unlink(missing_ok=True)
        raise StorageError(f"cannot write the backup {final}: {exc}") from exc
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
    Path(f"{final}.json").write_text(json.dumps(manifest.to_dict(), indent=2))
    manifest.path = str(final)
    return manifest


async def _write_blobs(
    store: Store, blobs: BlobStore, tar: tarfile.TarFile, manifest: BackupManifest, since: datetime | None
) -> None:
    from ..sessions.blobs import FileBlobStore

    cursor: str | None = None
    count = 0
    while True:
        rows, cursor = await store.maintenance.export_rows("blobs", since=since, limit=_PAGE, cursor=cursor)
        for row in rows:
            content_hash, size = row["hash"], int(row["size"])
            name = f"blobs/{content_hash}"
            if row["inline"]:
                data = await store.artifacts.blob_data(content_hash) or b""
                digest = await asyncio.to_thread(_add, tar, name, len(data), io.BytesIO(data))
            elif isinstance(blobs, FileBlobStore):
                path = blobs.path(content_hash)
                digest = await asyncio.to_thread(_add_file, tar, name, size, path)
            else:
                digest = await _add_streamed(tar, name, size, blobs, content_hash)
            manifest.members[name] = digest
            manifest.blob_bytes += size
            count += 1
        if cursor is None:
            break
    manifest.counts["blobs"] = count


def _add_file(tar: tarfile.TarFile, name: str, size: int, path: Path) -> str:
    try:
        with path.open("rb") as handle:
            return _add(tar, name, size, handle)
    except FileNotFoundError:
        raise StorageError(
            f"blob {path.name} is missing from {path.parent.parent}; the backup stopped"
        ) from None


async def _add_streamed(
    tar: tarfile.TarFile, name: str, size: int, blobs: BlobStore, content_hash: str
) -> str:
    with tempfile.TemporaryFile() as spool:
        async for chunk in blobs.read(content_hash):
            await asyncio.to_thread(spool.write, chunk)
        spool.seek(0)
        return await asyncio.to_thread(_add, tar, name, size, spool)


async def _write_table(
    store: Store, tar: tarfile.TarFile, table: str, manifest: BackupManifest, since: datetime | None
) -> None:
    with tempfile.SpooledTemporaryFile(max_size=8 << 20) as spool:
        cursor: str | None = None
        count = 0
        while True:
            rows, cursor = await store.maintenance.export_rows(table, since=since, limit=_PAGE, cursor=cursor)
            spool.write("".join(json.dumps(row, separators=(",", ":")) + "\n" for row in rows).encode())
            count += len(rows)
            if cursor is None:
                break
        size = spool.tell()
        spool.seek(0)
        name = f"tables/{table}.jsonl"
        manifest.members[name] = await asyncio.to_thread(_add, tar, name, size, spool)
        manifest.counts[table] = count


def _members(path: Path) -> Iterator[tuple[tarfile.TarInfo, IO[bytes] | None]]:
    try:
        with tarfile.open(path, "r|gz") as tar:
            for info in tar:
                yield info, tar.extractfile(info)
    except FileNotFoundError:
        raise NotFound.named("backup", str(path)) from None
    except (tarfile.TarError, EOFError, OSError) as exc:
        raise ValidationError(f"{path} is not a readable llmspell backup: {exc}") from exc


def _verify(path: Path) -> BackupManifest:
    digests: dict[str, str] = {}
    manifest: dict[str, Any] | None = None
    for info, handle in _members(path):
        if handle is None:
            continue
        if info.name == "manifest.json":
            manifest = json.loads(handle.read())
            continue
        digest = hashlib.sha256()
        for chunk in iter(lambda h=handle: h.read(1 << 20), b""):  # type: ignore[misc]
            digest.update(chunk)
        digests[info.name] = digest.hexdigest()
    if manifest is None:
        raise ValidationError(f"{path} has no manifest: the backup is incomplete")
    if manifest.get("format") != BACKUP_FORMAT:
        raise ValidationError(f"{path} is in backup format {manifest.get('format')}, not {BACKUP_FORMAT}")
    expected: dict[str, str] = manifest["members"]
    for name, checksum in expected.items():
        if digests.get(name) != checksum:
            problem = "is missing" if name not in digests else "does not match its checksum"
            raise ValidationError(
                f"backup {path.name} is corrupt: {name} {problem}", details={"member": name}
            )
    extra = set(digests) - set(expected)
    if extra:
        raise ValidationError(f"backup {path.name} holds unlisted members such as {sorted(extra)[0]}")
    return BackupManifest.from_dict(manifest, str(path))


async def verify_backup(path: Path) -> BackupManifest:
    """Check every member against the manifest's checksums. Raises ValidationError, NotFound."""
    return await asyncio.to_thread(_verify, path)


async def restore_backup(
    store: Store,
    blobs: BlobStore,
    path: Path,
    *,
    mode: Literal["merge", "replace"] = "merge",
    inline_max_bytes: int = 262_144,
) -> BackupManifest:
    """Restore a verified backup. ``replace`` empties the backed-up tables first; ``merge``
    overwrites rows with the same key and keeps the others."""
    if mode not in ("merge", "replace"):
        raise ValidationError("restore mode must be 'merge' or 'replace'")
    manifest = await verify_backup(path)
    if mode == "replace":
        await store.maintenance.wipe(_WIPED)
    queue: asyncio.Queue[tuple[str, Any] | None] = asyncio.Queue(maxsize=8)
    loop = asyncio.get_running_loop()
    reader = loop.run_in_executor(None, _read_for_restore, path, queue, loop, inline_max_bytes)
    pending_inline: list[dict[str, Any]] = []
    try:
        while (item := await queue.get()) is not None:
            kind, payload = item
            if kind == "inline":
                pending_inline.append(payload)
                if len(pending_inline) >= 200:
                    await store.maintenance.import_rows("blobs", pending_inline)
                    pending_inline = []
            elif kind == "file":
                content_hash, size, spool = payload
                await _restore_file(blobs, content_hash, spool)
                now = datetime.now(UTC).isoformat()
                row = {"hash": content_hash, "size": size, "inline": False, "data": None, "created_at": now}
                await store.maintenance.import_rows("blobs", [row])
            elif kind == "rows":
                if pending_inline:
                    await store.maintenance.import_rows("blobs", pending_inline)
                    pending_inline = []
                table, rows = payload
                await store.maintenance.import_rows(table, rows)
        if pending_inline:
            await store.maintenance.import_rows("blobs", pending_inline)
    finally:
        # On failure keep draining so that the reader thread is never left blocked on a full queue.
        while not reader.done():
            try:
                item = await asyncio.wait_for(queue.get(), 0.1)
            except TimeoutError:
                continue
            if item is None:
                break
            if item[0] == "file":
                item[1][2].close()
        await reader
    return manifest


async def _restore_file(blobs: BlobStore, content_hash: str, spool: IO[bytes]) -> None:
    try:
        if await blobs.exists(content_hash):
            return
        writer = await blobs.writer()
        try:
            while chunk := await asyncio.to_thread(spool.read, 1 << 20):
                await writer.write(chunk)
            await writer.commit(content_hash)
        except BaseException:
            await writer.abort()
            raise
    finally:
        spool.close()


def _read_for_restore(
    path: Path, queue: asyncio.Queue[tuple[str, Any] | None], loop: asyncio.AbstractEventLoop, inline_max: int
) -> None:
    def put(item: tuple[str, Any] | None) -> None:
        asyncio.run_coroutine_threadsafe(queue.put(item), loop).result()

    now = datetime.now(UTC).isoformat()
    try:
        for info, handle in _members(path):
            if handle is None or info.name == "manifest.json":
                continue
            if info.name.startswith("blobs/"):
                content_hash = info.name.removeprefix("blobs/")
                if info.size <= inline_max:
                    data = handle.read()
                    put(
                        (
                            "inline",
                            {
                                "hash": content_hash,
                                "size": info.size,
                                "inline": True,
                                "data": data,
                                "created_at": now,
                            },
                        )
                    )
                else:
                    spool = tempfile.TemporaryFile()  # noqa: SIM115 - closed by the consumer
                    for chunk in iter(lambda h=handle: h.read(1 << 20), b""):  # type: ignore[misc]
                        spool.write(chunk)
                    spool.seek(0)
                    put(("file", (content_hash, info.size, spool)))
            elif info.name.startswith("tables/"):
                table = info.name.removeprefix("tables/").removesuffix(".jsonl")
                batch: list[dict[str, Any]] = []
                for line in handle:
                    batch.append(json.loads(line))
                    if len(batch) >= 2000:
                        put(("rows", (table, batch)))
                        batch = []
                if batch:
                    put(("rows", (table, batch)))
    finally:
        put(None)


def list_backups(directory: Path) -> list[BackupManifest]:
    """The backups in ``directory``, oldest first (from their manifest copies)."""
    found = []
    for sidecar in sorted(directory.glob(f"llmspell-backup-*{_SUFFIX}.json")):
        archive = Path(str(sidecar).removesuffix(".json"))
        if not archive.exists():
            continue
        try:
            found.append(BackupManifest.from_dict(json.loads(sidecar.read_text()), str(archive)))
        except (ValueError, TypeError):
            continue
    return sorted(found, key=lambda m: m.started_at)


def prune_backups(
    directory: Path, *, keep: int = 7, max_age_days: float | None = None
) -> list[BackupManifest]:
    """Delete backups beyond the newest ``keep`` full ones (with their incrementals) and, with
    ``max_age_days``, full backups older than that (never the newest). Returns the removed."""
    if keep < 1:
        raise ValidationError("keep at least one backup (--keep 1 or more)")
    backups = list_backups(directory)
    fulls = [m for m in backups if m.kind == "full"]
    kept = {m.id for m in fulls[-keep:]}
    if max_age_days is not None:
        cutoff = datetime.now(UTC) - timedelta(days=max_age_days)
        kept = {m.id for m in fulls if m.id in kept and datetime.fromisoformat(m.started_at) >= cutoff}
        if fulls:
            kept.add(fulls[-1].id)
    removed = []
    chain_root: dict[str, str] = {}
    for manifest in backups:
        root = manifest.id if manifest.kind == "full" else chain_root.get(manifest.base or "", "")
        chain_root[manifest.id] = root
        if root not in kept:
            Path(manifest.path).unlink(missing_ok=True)
            Path(f"{manifest.path}.json").unlink(missing_ok=True)
            removed.append(manifest)
    return removed

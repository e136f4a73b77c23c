"""The blob store on a local directory: ``<root>/<hash[:2]>/<hash>``.

Writes go to a temporary file in ``<root>/tmp`` and are renamed into place on commit, so
a reader never sees a partial blob. File I/O runs in threads, off the event loop.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import tempfile
from collections.abc import AsyncIterator
from pathlib import Path
from typing import BinaryIO

from ..core.errors import NotFound, StorageError, ValidationError
from .abc import BlobStore, BlobWriter

__all__ = ["FileBlobStore"]

_HASH = re.compile(r"^[0-9a-f]{64}$")


def _check(content_hash: str) -> str:
    if not _HASH.match(content_hash):
        raise ValidationError("a blob name is the lowercase hex SHA-256 of its content")
    return content_hash


class _FileWriter(BlobWriter):
    def __init__(self, store: FileBlobStore, handle: BinaryIO, path: Path) -> None:
        self._store = store
        self._handle = handle
        self._path = path
        self._done = False

    async def write(self, data: bytes) -> None:
        try:
            await asyncio.to_thread(self._handle.write, data)
        except OSError as exc:
            await self.abort()
            raise StorageError(f"cannot write to the blob directory {self._store.root}: {exc}") from exc

    async def commit(self, content_hash: str) -> None:
        target = self._store.path(content_hash)

        def publish() -> None:
            self._handle.flush()
            os.fsync(self._handle.fileno())
            self._handle.close()
            target.parent.mkdir(parents=True, exist_ok=True)
            if target.exists():
                self._path.unlink(missing_ok=True)
            else:
                os.replace(self._path, target)

        try:
            await asyncio.to_thread(publish)
        except OSError as exc:
            raise StorageError(f"cannot store a blob in {self._store.root}: {exc}") from exc
        finally:
            self._done = True

    async def abort(self) -> None:
        if self._done:
            return
        self._done = True

        def discard() -> None:
            self._handle.close()
            self._path.unlink(missing_ok=True)

        with contextlib.suppress(OSError):
            await asyncio.to_thread(discard)


class FileBlobStore(BlobStore):
    """Blobs as files under ``root`` (created on first write).

    Args:
        root: the blob directory (``state.blob_dir``, default ``<data_dir>/blobs``).
    """

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root).expanduser()

    def path(self, content_hash: str) -> Path:
        """Where the blob ``content_hash`` is (or would be) stored."""
        return self.root / content_hash[:2] / _check(content_hash)

    async def writer(self) -> BlobWriter:
        def open_temp() -> tuple[BinaryIO, Path]:
            tmp = self.root / "tmp"
            tmp.mkdir(parents=True, exist_ok=True)
            fd, name = tempfile.mkstemp(dir=tmp, prefix="upload-")
            return os.fdopen(fd, "wb"), Path(name)

        try:
            handle, path = await asyncio.to_thread(open_temp)
        except OSError as exc:
            raise StorageError(
                f"cannot write to the blob directory {self.root}: {exc}; "
                "set state.blob_dir to a writable path"
            ) from exc
        return _FileWriter(self, handle, path)

    async def read(self, content_hash: str, chunk_size: int = 1 << 20) -> AsyncIterator[bytes]:
        path = self.path(content_hash)
        try:
            handle = await asyncio.to_thread(path.open, "rb")
        except FileNotFoundError:
            raise NotFound.named("blob", content_hash) from None
        except OSError as exc:
            raise StorageError(f"cannot read blob {content_hash} in {self.root}: {exc}") from exc
        try:
            while True:
                chunk = await asyncio.to_thread(handle.read, chunk_size)
                if not chunk:
                    return
                yield chunk
        finally:
            handle.close()

    async def exists(self, content_hash: str) -> bool:
        return await asyncio.to_thread(self.path(content_hash).exists)

    async def delete(self, content_hash: str) -> bool:
        path = self.path(content_hash)

        def remove() -> bool:
            try:
                path.unlink()
            except FileNotFoundError:
                return False
            return True

        return await asyncio.to_thread(remove)

    def __repr__(self) -> str:
        return f"FileBlobStore({str(self.root)!r})"

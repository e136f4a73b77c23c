"""Where large artifact content lives: a content-addressed blob store.

Blobs are named by the SHA-256 of their content, so writing the same content twice
stores it once. Content is streamed both ways; nothing needs the whole blob in memory.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import AsyncIterator

__all__ = ["BlobStore", "BlobWriter"]


class BlobWriter(ABC):
    """A blob being written: :meth:`write` chunks, then :meth:`commit` or :meth:`abort`."""

    @abstractmethod
    async def write(self, data: bytes) -> None:
        """Append ``data``. Raises StorageError."""

    @abstractmethod
    async def commit(self, content_hash: str) -> None:
        """Publish the written content under ``content_hash`` (a no-op copy when it exists)."""

    @abstractmethod
    async def abort(self) -> None:
        """Discard what was written (idempotent)."""


class BlobStore(ABC):
    """Content-addressed blobs (a directory, or an S3-compatible bucket)."""

    @abstractmethod
    async def writer(self) -> BlobWriter:
        """A writer for a new blob."""

    @abstractmethod
    def read(self, content_hash: str, chunk_size: int = 1 << 20) -> AsyncIterator[bytes]:
        """The blob's content in chunks. Raises NotFound (on first iteration) when absent."""

    @abstractmethod
    async def exists(self, content_hash: str) -> bool:
        """True when the blob is stored."""

    @abstractmethod
    async def delete(self, content_hash: str) -> bool:
        """Remove the blob; False when it was absent."""

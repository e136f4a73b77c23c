"""Artifacts: versioned, content-addressed files of a session.

Content up to ``inline_max_bytes`` is kept in the database; larger content streams into
the blob store while it is hashed, so a 1 GB upload needs one chunk of memory. Storing
the same bytes twice (any name, any session) keeps one copy.
"""

from __future__ import annotations

import hashlib
import json
import mimetypes
from collections.abc import AsyncIterable, AsyncIterator
from typing import TYPE_CHECKING, Any

from ..core.errors import LimitExceeded, NotFound, ValidationError
from ..storage.records import ArtifactRecord

if TYPE_CHECKING:
    from ..storage.abc import Store
    from .abc import BlobStore, BlobWriter

__all__ = ["ArtifactManager", "artifact_view"]

Content = bytes | str | AsyncIterable[bytes]


def artifact_view(record: ArtifactRecord) -> dict[str, Any]:
    """The REST/script JSON shape of an artifact (without content)."""
    return {
        "id": record.id,
        "session_id": record.session_id,
        "name": record.name,
        "version": record.version,
        "type": record.type,
        "media_type": record.media_type,
        "content_hash": record.content_hash,
        "size": record.size,
        "metadata": record.metadata,
        "created_at": record.created_at.isoformat(),
    }


async def _chunks(content: Content, chunk_size: int) -> AsyncIterator[bytes]:
    if isinstance(content, str):
        content = content.encode()
    if isinstance(content, bytes):
        for start in range(0, len(content), chunk_size):
            yield content[start : start + chunk_size]
        return
    async for chunk in content:
        if chunk:
            yield bytes(chunk)


class ArtifactManager:
    """Store, read, list and delete artifacts.

    Args:
        store: an open store.
        blobs: where content larger than ``inline_max_bytes`` goes.
        inline_max_bytes: the largest content kept in the database.
        max_bytes: the largest artifact accepted (None: no limit).
        chunk_size: the read size of streamed content.
    """

    def __init__(
        self,
        store: Store,
        blobs: BlobStore,
        *,
        inline_max_bytes: int = 262_144,
        max_bytes: int | None = None,
        chunk_size: int = 1 << 20,
    ) -> None:
        self.store = store
        self.blobs = blobs
        self.inline_max_bytes = inline_max_bytes
        self.max_bytes = max_bytes
        self.chunk_size = chunk_size

    async def put(
        self,
        session_id: str,
        name: str,
        content: Content,
        *,
        type: str = "file",
        media_type: str | None = None,
        metadata: dict[str, Any] | None = None,
    ) -> ArtifactRecord:
        """Store ``content`` as the next version of ``name`` in the session.

        Raises:
            NotFound: no such session.
            LimitExceeded: the content is larger than ``max_bytes``.
        """
        await self.store.sessions.get(session_id)
        if media_type is None:
            guessed, _ = mimetypes.guess_type(name)
            media_type = guessed or ("text/plain" if isinstance(content, str) else "application/octet-stream")
        digest = hashlib.sha256()
        size = 0
        buffered: list[bytes] = []
        writer: BlobWriter | None = None
        try:
            async for chunk in _chunks(content, self.chunk_size):
                size += len(chunk)
                if self.max_bytes is not None and size > self.max_bytes:
                    raise LimitExceeded(
                        f"artifact {name!r} exceeds {self.max_bytes} bytes",
                        details={"limit": self.max_bytes, "status": 413},
                    )
                digest.update(chunk)
                if writer is None and size <= self.inline_max_bytes:
                    buffered.append(chunk)
                    continue
                if writer is None:
                    writer = await self.blobs.writer()
                    for early in buffered:
                        await writer.write(early)
                    buffered = []
                await writer.write(chunk)
            content_hash = digest.hexdigest()
            if writer is not None:
                await writer.commit(content_hash)
                writer = None
        except BaseException:
            if writer is not None:
                await writer.abort()
            raise
        inline = b"".join(buffered) if size <= self.inline_max_bytes else None
        return await self.store.artifacts.add(
            session_id=session_id,
            name=name,
            type=type,
            media_type=media_type,
            content_hash=content_hash,
            size=size,
            metadata=metadata,
            inline_data=inline,
        )

    async def get(self, session_id: str, id_or_name: str, version: int | None = None) -> ArtifactRecord:
        """An artifact of the session by id, or by name (latest or given ``version``). Raises NotFound."""
        if version is None:
            try:
                record = await self.store.artifacts.get(id_or_name)
            except NotFound:
                pass
            else:
                if record.session_id == session_id:
                    return record
        return await self.store.artifacts.get_by_name(session_id, id_or_name, version)

    async def open(self, record: ArtifactRecord) -> AsyncIterator[bytes]:
        """The artifact's content in chunks (from the database or the blob store)."""
        blob = await self.store.artifacts.blob(record.content_hash)
        if blob is not None and blob.inline:
            data = await self.store.artifacts.blob_data(record.content_hash) or b""
            for start in range(0, len(data), self.chunk_size):
                yield data[start : start + self.chunk_size]
            return
        async for chunk in self.blobs.read(record.content_hash, self.chunk_size):
            yield chunk

    async def read(self, record: ArtifactRecord, max_bytes: int | None = None) -> bytes:
        """The whole content. Raises LimitExceeded above ``max_bytes`` (stream it instead)."""
        if max_bytes is not None and record.size > max_bytes:
            raise LimitExceeded(
                f"artifact {record.name!r} has {record.size} bytes, over the {max_bytes} that can be "
                "loaded at once: download it from /v1/sessions/{id}/artifacts/{artifact_id}",
                details={"size": record.size, "limit": max_bytes},
            )
        return b"".join([chunk async for chunk in self.open(record)])

    async def list(self, session_id: str, *, name: str | None = None) -> list[ArtifactRecord]:
        """Every version of the session's artifacts (NotFound for an unknown session)."""
        await self.store.sessions.get(session_id)
        return await self.store.artifacts.list(session_id, name=name)

    async def delete(self, session_id: str, id_or_name: str) -> int:
        """Delete one version (by id) or every version of a name; frees unreferenced content."""
        count = await self.store.artifacts.delete(session_id, id_or_name)
        await self.collect_garbage()
        return count

    async def collect_garbage(self) -> int:
        """Delete blobs no artifact refers to (rows and files); returns how many."""
        removed = 0
        while True:
            orphans = await self.store.artifacts.orphan_blobs(1000)
            if not orphans:
                return removed
            deleted = await self.store.artifacts.delete_blobs([blob.hash for blob in orphans])
            for blob in orphans:
                if blob.hash in deleted and not blob.inline:
                    await self.blobs.delete(blob.hash)
            removed += len(deleted)
            if len(orphans) < 1000:
                return removed


def encode_content(content: Any) -> tuple[bytes | str, str | None]:
    """Script content as bytes and a media type: strings as is, tables as JSON."""
    if isinstance(content, (str, bytes)):
        return content, None
    try:
        return json.dumps(content, ensure_ascii=False), "application/json"
    except (TypeError, ValueError) as exc:
        raise ValidationError(f"artifact content must be a string or a JSON-compatible table: {exc}") from exc

"""Artifact versions and content-addressed blobs on SQL."""

from __future__ import annotations

import builtins
import re
from collections.abc import Sequence
from typing import Any

from sqlalchemy import Row, and_, delete, exists, func, insert, select

from ...core.errors import NotFound, ValidationError
from ..abc import ArtifactRepository
from ..records import ArtifactRecord, BlobRecord
from ._db import Database, new_id, utcnow
from ._tables import artifacts, blobs, sessions

__all__ = ["SQLArtifactRepository"]

_HASH = re.compile(r"^[0-9a-f]{64}$")


def _record(row: Row[Any]) -> ArtifactRecord:
    values = dict(row._mapping)
    values["metadata"] = values["metadata"] or {}
    return ArtifactRecord(**values)


def _blob(row: Any) -> BlobRecord:
    return BlobRecord(hash=row.hash, size=row.size, inline=row.inline, created_at=row.created_at)


class SQLArtifactRepository(ArtifactRepository):
    """:class:`ArtifactRepository` over the ``artifacts`` and ``blobs`` tables."""

    def __init__(self, db: Database) -> None:
        self._db = db

    async def add(
        self,
        *,
        session_id: str,
        name: str,
        type: str,
        media_type: str,
        content_hash: str,
        size: int,
        metadata: dict[str, Any] | None = None,
        inline_data: bytes | None = None,
    ) -> ArtifactRecord:
        if not name or len(name) > 255:
            raise ValidationError("artifact name must be 1 to 255 characters", details={"field": "name"})
        if not type or len(type) > 64:
            raise ValidationError("artifact type must be 1 to 64 characters", details={"field": "type"})
        if not _HASH.match(content_hash):
            raise ValidationError("content_hash must be a lowercase hex SHA-256")
        now = utcnow()
        dialect = self._db.dialect
        async with self._db.write() as conn:
            found = await conn.scalar(select(sessions.c.id).where(sessions.c.id == session_id))
            if found is None:
                raise NotFound.named("session", session_id)
            blob = dialect.insert(blobs).values(
                hash=content_hash,
                size=size,
                inline=inline_data is not None,
                data=inline_data,
                created_at=now,
            )
            await conn.execute(blob.on_conflict_do_nothing(index_elements=["hash"]))
            await dialect.lock_key(conn, f"artifact:{session_id}:{name}")
            latest = await conn.scalar(
                select(func.max(artifacts.c.version)).where(
                    artifacts.c.session_id == session_id, artifacts.c.name == name
                )
            )
            record = ArtifactRecord(
                id=new_id(),
                session_id=session_id,
                name=name,
                version=(latest or 0) + 1,
                type=type,
                media_type=media_type or "application/octet-stream",
                content_hash=content_hash,
                size=size,
                metadata=dict(metadata or {}),
                created_at=now,
            )
            await conn.execute(
                insert(artifacts).values({f: getattr(record, f) for f in ArtifactRecord.__slots__})
            )
        return record

    async def get(self, artifact_id: str) -> ArtifactRecord:
        async with self._db.read() as conn:
            row = (await conn.execute(select(artifacts).where(artifacts.c.id == artifact_id))).first()
        if row is None:
            raise NotFound.named("artifact", artifact_id)
        return _record(row)

    async def get_by_name(self, session_id: str, name: str, version: int | None = None) -> ArtifactRecord:
        query = select(artifacts).where(artifacts.c.session_id == session_id, artifacts.c.name == name)
        if version is None:
            query = query.order_by(artifacts.c.version.desc()).limit(1)
        else:
            query = query.where(artifacts.c.version == version)
        async with self._db.read() as conn:
            row = (await conn.execute(query)).first()
        if row is None:
            raise NotFound(
                f"No artifact named {name!r}"
                + ("" if version is None else f" with version {version}")
                + f" in session {session_id!r}",
                details={"kind": "artifact", "name": name, "session_id": session_id, "version": version},
            )
        return _record(row)

    async def list(self, session_id: str, *, name: str | None = None) -> builtins.list[ArtifactRecord]:
        query = select(artifacts).where(artifacts.c.session_id == session_id)
        if name is not None:
            query = query.where(artifacts.c.name == name)
        query = query.order_by(artifacts.c.name, artifacts.c.version)
        async with self._db.read() as conn:
            rows = (await conn.execute(query)).all()
        return [_record(row) for row in rows]

    async def delete(self, session_id: str, id_or_name: str) -> int:
        where = and_(
            artifacts.c.session_id == session_id,
            (artifacts.c.id == id_or_name) | (artifacts.c.name == id_or_name),
        )
        async with self._db.write() as conn:
            result = await conn.execute(delete(artifacts).where(where).returning(artifacts.c.id))
            count = len(result.all())
        if count == 0:
            raise NotFound(
                f"No artifact {id_or_name!r} in session {session_id!r}",
                details={"kind": "artifact", "name": id_or_name, "session_id": session_id},
            )
        return count

    async def blob(self, content_hash: str) -> BlobRecord | None:
        query = select(blobs.c.hash, blobs.c.size, blobs.c.inline, blobs.c.created_at).where(
            blobs.c.hash == content_hash
        )
        async with self._db.read() as conn:
            row = (await conn.execute(query)).first()
        return None if row is None else _blob(row)

    async def blob_data(self, content_hash: str) -> bytes | None:
        async with self._db.read() as conn:
            data = await conn.scalar(select(blobs.c.data).where(blobs.c.hash == content_hash))
        return None if data is None else bytes(data)

    def _orphans(self) -> Any:
        return ~exists().where(artifacts.c.content_hash == blobs.c.hash)

    async def orphan_blobs(self, limit: int = 1000) -> builtins.list[BlobRecord]:
        query = (
            select(blobs.c.hash, blobs.c.size, blobs.c.inline, blobs.c.created_at)
            .where(self._orphans())
            .order_by(blobs.c.hash)
            .limit(limit)
        )
        async with self._db.read() as conn:
            return [_blob(row) for row in (await conn.execute(query)).all()]

    async def delete_blobs(self, hashes: Sequence[str]) -> builtins.list[str]:
        if not hashes:
            return []
        statement = (
            delete(blobs).where(blobs.c.hash.in_(list(hashes)), self._orphans()).returning(blobs.c.hash)
        )
        async with self._db.write() as conn:
            return [row.hash for row in (await conn.execute(statement)).all()]

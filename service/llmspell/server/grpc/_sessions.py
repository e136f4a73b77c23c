"""``llmspell.v1.Sessions``: sessions and their artifacts (streamed upload and download).

The same persistence calls as REST ``/v1/sessions`` (``server/routes/sessions.py``), over
the daemon's :class:`~llmspell.sessions.Persistence`; records in the same JSON shapes
(``session_view``/``artifact_view``) become messages through ``record_to_message``.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, AsyncIterable, AsyncIterator
from contextlib import aclosing
from typing import TYPE_CHECKING, cast

import grpc
from google.protobuf import empty_pb2

from ...core.errors import ConfigError, ValidationError
from ...sessions import artifact_view, session_view
from ._boundary import Servicer, rpc
from ._convert import from_struct, record_to_message, required
from .gen.llmspell.v1 import sessions_pb2

if TYPE_CHECKING:
    from ...sessions import Persistence
    from ...storage.records import ArtifactRecord, SessionRecord

__all__ = ["SessionsServicer"]

_DEFAULT_LIMIT = 50
_MAX_LIMIT = 1000


def session_to_message(record: SessionRecord) -> sessions_pb2.Session:
    """A session record as a ``Session`` (the REST JSON shape)."""
    return record_to_message(session_view(record), sessions_pb2.Session())


def artifact_to_message(record: ArtifactRecord) -> sessions_pb2.Artifact:
    """An artifact record as an ``Artifact`` (the REST JSON shape, without content)."""
    return record_to_message(artifact_view(record), sessions_pb2.Artifact())


def _limit(limit: int) -> int:
    if limit == 0:
        return _DEFAULT_LIMIT
    if not 1 <= limit <= _MAX_LIMIT:
        raise ValidationError(
            f"limit must be between 1 and {_MAX_LIMIT} (0 for the default {_DEFAULT_LIMIT})",
            details={"field": "limit", "value": limit},
        )
    return limit


def _version(request: sessions_pb2.ArtifactRequest) -> int | None:
    if not request.HasField("version"):
        return None
    if request.version < 1:
        raise ValidationError("version must be 1 or more", details={"field": "version"})
    return request.version


async def _content(messages: AsyncIterator[sessions_pb2.UploadArtifactRequest]) -> AsyncIterator[bytes]:
    """The chunks after the header, as they arrive (one message in memory at a time)."""
    async for message in messages:
        if message.WhichOneof("part") != "chunk":
            raise ValidationError(
                "only the first UploadArtifactRequest carries the header; send the content as chunk messages",
                details={"field": "header"},
            )
        if message.chunk:
            yield message.chunk


class SessionsServicer(Servicer):
    """The ``Sessions`` service over the daemon's persistence services."""

    @property
    def _persistence(self) -> Persistence:
        from ...sessions import Persistence

        found = getattr(self._control, "persistence", None)
        if not isinstance(found, Persistence):
            raise ConfigError("this server has no session services (it needs a daemon with a store)")
        return found

    # Sessions ---------------------------------------------------------------------------

    @rpc("sessions:write")
    async def Create(
        self, request: sessions_pb2.CreateSessionRequest, context: grpc.aio.ServicerContext
    ) -> sessions_pb2.Session:
        record = await self._persistence.sessions.create(
            request.name,
            description=request.description,
            tags=list(request.tags),
            metadata=from_struct(request.metadata),
        )
        return session_to_message(record)

    @rpc("sessions:read")
    async def List(
        self, request: sessions_pb2.ListSessionsRequest, context: grpc.aio.ServicerContext
    ) -> sessions_pb2.ListSessionsResponse:
        records, next_cursor = await self._persistence.sessions.list(
            status=request.status if request.HasField("status") else None,
            tags=list(request.tag),
            limit=_limit(request.limit),
            cursor=request.cursor if request.HasField("cursor") else None,
        )
        response = sessions_pb2.ListSessionsResponse(items=[session_to_message(r) for r in records])
        if next_cursor:
            response.next_cursor = next_cursor
        return response

    @rpc("sessions:read")
    async def Get(
        self, request: sessions_pb2.SessionIdRequest, context: grpc.aio.ServicerContext
    ) -> sessions_pb2.Session:
        return session_to_message(await self._persistence.sessions.get(required(request.id, "id")))

    @rpc("sessions:write")
    async def Update(
        self, request: sessions_pb2.UpdateSessionRequest, context: grpc.aio.ServicerContext
    ) -> sessions_pb2.Session:
        record = await self._persistence.sessions.update(
            required(request.id, "id"),
            tags=list(request.tags.values) if request.HasField("tags") else None,
            metadata=from_struct(request.metadata) if request.HasField("metadata") else None,
        )
        return session_to_message(record)

    async def _transition(self, request: sessions_pb2.SessionIdRequest, action: str) -> sessions_pb2.Session:
        move = getattr(self._persistence.sessions, action)
        record: SessionRecord = await move(required(request.id, "id"))
        return session_to_message(record)

    @rpc("sessions:write")
    async def Complete(
        self, request: sessions_pb2.SessionIdRequest, context: grpc.aio.ServicerContext
    ) -> sessions_pb2.Session:
        return await self._transition(request, "complete")

    @rpc("sessions:write")
    async def Suspend(
        self, request: sessions_pb2.SessionIdRequest, context: grpc.aio.ServicerContext
    ) -> sessions_pb2.Session:
        return await self._transition(request, "suspend")

    @rpc("sessions:write")
    async def Resume(
        self, request: sessions_pb2.SessionIdRequest, context: grpc.aio.ServicerContext
    ) -> sessions_pb2.Session:
        return await self._transition(request, "resume")

    @rpc("sessions:write")
    async def Fail(
        self, request: sessions_pb2.SessionIdRequest, context: grpc.aio.ServicerContext
    ) -> sessions_pb2.Session:
        return await self._transition(request, "fail")

    @rpc("sessions:write")
    async def Delete(
        self, request: sessions_pb2.SessionIdRequest, context: grpc.aio.ServicerContext
    ) -> empty_pb2.Empty:
        await self._persistence.sessions.delete(required(request.id, "id"))
        return empty_pb2.Empty()

    @rpc("sessions:read")
    async def Export(
        self, request: sessions_pb2.SessionIdRequest, context: grpc.aio.ServicerContext
    ) -> sessions_pb2.SessionExport:
        document = await self._persistence.sessions.export(required(request.id, "id"))
        return record_to_message(document, sessions_pb2.SessionExport())

    # Artifacts --------------------------------------------------------------------------

    @rpc("sessions:read")
    async def ListArtifacts(
        self, request: sessions_pb2.ListArtifactsRequest, context: grpc.aio.ServicerContext
    ) -> sessions_pb2.ListArtifactsResponse:
        records = await self._persistence.artifacts.list(
            required(request.session_id, "session_id"),
            name=request.name if request.HasField("name") else None,
        )
        return sessions_pb2.ListArtifactsResponse(items=[artifact_to_message(r) for r in records])

    @rpc("sessions:write")
    async def UploadArtifact(
        self,
        request_iterator: AsyncIterable[sessions_pb2.UploadArtifactRequest],
        context: grpc.aio.ServicerContext,
    ) -> sessions_pb2.Artifact:
        messages = aiter(request_iterator)
        first = await anext(messages, None)
        if first is None or first.WhichOneof("part") != "header":
            raise ValidationError(
                "the first UploadArtifactRequest must carry the header {session_id, name, type, "
                "media_type, metadata}; the content follows as chunk messages",
                details={"field": "header"},
            )
        header = first.header
        record = await self._persistence.artifacts.put(
            required(header.session_id, "header.session_id"),
            required(header.name, "header.name"),
            _content(messages),
            type=header.type or "file",
            media_type=header.media_type or None,
            metadata=from_struct(header.metadata),
        )
        return artifact_to_message(record)

    @rpc("sessions:read")
    async def DownloadArtifact(
        self, request: sessions_pb2.ArtifactRequest, context: grpc.aio.ServicerContext
    ) -> AsyncIterator[sessions_pb2.ArtifactChunk]:
        persistence = self._persistence
        record = await persistence.artifacts.get(
            required(request.session_id, "session_id"),
            required(request.artifact_id, "artifact_id"),
            _version(request),
        )
        chunks = cast(AsyncGenerator[bytes, None], persistence.artifacts.open(record))
        async with aclosing(chunks):
            # A missing blob fails here, before the record is sent (as REST fails before its headers).
            first = await anext(chunks, b"")
            yield sessions_pb2.ArtifactChunk(artifact=artifact_to_message(record))
            if first:
                yield sessions_pb2.ArtifactChunk(data=first)
            async for chunk in chunks:
                yield sessions_pb2.ArtifactChunk(data=chunk)

    @rpc("sessions:read")
    async def GetArtifactMetadata(
        self, request: sessions_pb2.ArtifactRequest, context: grpc.aio.ServicerContext
    ) -> sessions_pb2.Artifact:
        record = await self._persistence.artifacts.get(
            required(request.session_id, "session_id"),
            required(request.artifact_id, "artifact_id"),
            _version(request),
        )
        return artifact_to_message(record)

    @rpc("sessions:write")
    async def DeleteArtifact(
        self, request: sessions_pb2.DeleteArtifactRequest, context: grpc.aio.ServicerContext
    ) -> empty_pb2.Empty:
        await self._persistence.artifacts.delete(
            required(request.session_id, "session_id"), required(request.artifact_id, "artifact_id")
        )
        return empty_pb2.Empty()

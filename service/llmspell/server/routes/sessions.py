"""``/v1/sessions``: sessions and their artifacts (streamed upload and download)."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any, Literal

from fastapi import APIRouter, Depends, Query, Request, Response
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, ConfigDict, Field

from ...core.errors import ValidationError
from ..pages import page
from .state import persistence, require

if TYPE_CHECKING:
    from ...sessions.manager import Persistence

router = APIRouter(prefix="/v1/sessions", tags=["sessions"])

__all__ = ["router"]

SessionStatus = Literal["active", "suspended", "completed", "failed"]


class SessionBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = ""
    description: str = ""
    tags: list[str] = Field(default_factory=list)
    metadata: dict[str, Any] = Field(default_factory=dict)


class SessionPatch(BaseModel):
    model_config = ConfigDict(extra="forbid")
    tags: list[str] | None = None
    metadata: dict[str, Any] | None = Field(None, description="merged into the session's metadata")


class ArtifactBody(BaseModel):
    """A JSON upload; for large or binary content POST the raw bytes with ``?name=`` instead."""

    model_config = ConfigDict(extra="forbid")
    name: str
    type: str = "file"
    content: str | None = None
    content_base64: str | None = None
    media_type: str | None = None
    metadata: dict[str, Any] = Field(default_factory=dict)


def _views() -> Any:
    from ...sessions import artifact_view, session_view

    return session_view, artifact_view


@router.post("", status_code=201, dependencies=[require("sessions:write")])
async def create_session(body: SessionBody, p: Persistence = Depends(persistence)) -> dict[str, Any]:
    """Create an ``active`` session."""
    session_view, _ = _views()
    record = await p.sessions.create(
        body.name, description=body.description, tags=body.tags, metadata=body.metadata
    )
    view: dict[str, Any] = session_view(record)
    return view


@router.get("", dependencies=[require("sessions:read")])
async def list_sessions(
    p: Persistence = Depends(persistence),
    status: SessionStatus | None = None,
    tag: list[str] = Query(default_factory=list, description="repeatable: sessions having every tag"),
    limit: int = Query(50, ge=1, le=1000),
    cursor: str | None = None,
) -> dict[str, Any]:
    """Sessions, newest first: ``{items, next_cursor}``."""
    session_view, _ = _views()
    records, next_cursor = await p.sessions.list(status=status, tags=tag, limit=limit, cursor=cursor)
    return {"items": [session_view(r) for r in records], "next_cursor": next_cursor}


@router.get("/{session_id}", dependencies=[require("sessions:read")])
async def get_session(session_id: str, p: Persistence = Depends(persistence)) -> dict[str, Any]:
    """One session."""
    session_view, _ = _views()
    view: dict[str, Any] = session_view(await p.sessions.get(session_id))
    return view


@router.patch("/{session_id}", dependencies=[require("sessions:write")])
async def update_session(
    session_id: str, body: SessionPatch, p: Persistence = Depends(persistence)
) -> dict[str, Any]:
    """Replace tags and/or merge metadata."""
    session_view, _ = _views()
    record = await p.sessions.update(session_id, tags=body.tags, metadata=body.metadata)
    view: dict[str, Any] = session_view(record)
    return view


async def _transition(session_id: str, action: str, p: Persistence) -> dict[str, Any]:
    session_view, _ = _views()
    view: dict[str, Any] = session_view(await getattr(p.sessions, action)(session_id))
    return view


@router.post("/{session_id}/complete", dependencies=[require("sessions:write")])
async def complete_session(session_id: str, p: Persistence = Depends(persistence)) -> dict[str, Any]:
    """Mark the session completed (as is when it is; 400 VALIDATION when it failed)."""
    return await _transition(session_id, "complete", p)


@router.post("/{session_id}/suspend", dependencies=[require("sessions:write")])
async def suspend_session(session_id: str, p: Persistence = Depends(persistence)) -> dict[str, Any]:
    """Suspend an active session."""
    return await _transition(session_id, "suspend", p)


@router.post("/{session_id}/resume", dependencies=[require("sessions:write")])
async def resume_session(session_id: str, p: Persistence = Depends(persistence)) -> dict[str, Any]:
    """Resume a suspended session."""
    return await _transition(session_id, "resume", p)


@router.post("/{session_id}/fail", dependencies=[require("sessions:write")])
async def fail_session(session_id: str, p: Persistence = Depends(persistence)) -> dict[str, Any]:
    """Mark the session failed."""
    return await _transition(session_id, "fail", p)


@router.delete("/{session_id}", status_code=204, dependencies=[require("sessions:write")])
async def delete_session(session_id: str, p: Persistence = Depends(persistence)) -> Response:
    """Delete the session with its artifacts, state and replay records."""
    await p.sessions.delete(session_id)
    return Response(status_code=204)


@router.get("/{session_id}/export", dependencies=[require("sessions:read")])
async def export_session(session_id: str, p: Persistence = Depends(persistence)) -> dict[str, Any]:
    """The session, its state, artifacts (base64 up to 10 MB each) and replay records."""
    return await p.sessions.export(session_id)


@router.get("/{session_id}/artifacts", dependencies=[require("sessions:read")])
async def list_artifacts(
    session_id: str,
    p: Persistence = Depends(persistence),
    name: str | None = None,
    limit: int = Query(1000, ge=1, le=1000),
    cursor: str | None = None,
) -> dict[str, Any]:
    """The session's artifact versions by name and version: ``{items, next_cursor}``."""
    _, artifact_view = _views()
    records = await p.artifacts.list(session_id, name=name)
    chosen, next_cursor = page(records, lambda r: (r.name, r.version), 2, limit, cursor)
    return {"items": [artifact_view(r) for r in chosen], "next_cursor": next_cursor}


@router.post("/{session_id}/artifacts", status_code=201, dependencies=[require("sessions:write")])
async def upload_artifact(
    session_id: str,
    request: Request,
    p: Persistence = Depends(persistence),
    name: str | None = Query(None, description="raw upload: the artifact's name (the body is the content)"),
    type: str = Query("file", description="raw upload: the artifact's type"),
    metadata: str | None = Query(None, description="raw upload: JSON object of metadata"),
) -> dict[str, Any]:
    """Store an artifact: the raw body streamed (``?name=``, media type from Content-Type), or a
    JSON body ``{name, type, content | content_base64, media_type, metadata}``."""
    _, artifact_view = _views()
    if name is not None:
        meta = _metadata(metadata)
        content_type = request.headers.get("content-type")
        record = await p.artifacts.put(
            session_id, name, request.stream(), type=type, media_type=content_type, metadata=meta
        )
    else:
        body = ArtifactBody.model_validate_json(await _small_body(request))
        record = await p.artifacts.put(
            session_id,
            body.name,
            _json_content(body),
            type=body.type,
            media_type=body.media_type,
            metadata=body.metadata,
        )
    view: dict[str, Any] = artifact_view(record)
    return view


async def _small_body(request: Request) -> bytes:
    limit = request.app.state.control.settings.server.max_body_bytes
    data = b""
    async for chunk in request.stream():
        data += chunk
        if len(data) > limit:
            from ...core.errors import LimitExceeded

            raise LimitExceeded(
                f"JSON artifact bodies are limited to {limit} bytes: POST the raw content with ?name=",
                details={"status": 413},
            )
    return data


def _metadata(text: str | None) -> dict[str, Any]:
    if not text:
        return {}
    try:
        value = json.loads(text)
    except ValueError:
        value = None
    if not isinstance(value, dict):
        raise ValidationError("metadata must be a JSON object", details={"field": "metadata"})
    return value


def _json_content(body: ArtifactBody) -> bytes | str:
    if (body.content is None) == (body.content_base64 is None):
        raise ValidationError("give exactly one of content and content_base64")
    if body.content is not None:
        return body.content
    import base64
    import binascii

    try:
        return base64.b64decode(body.content_base64 or "", validate=True)
    except (binascii.Error, ValueError):
        raise ValidationError("content_base64 is not valid base64") from None


@router.get("/{session_id}/artifacts/{artifact_id}", dependencies=[require("sessions:read")])
async def download_artifact(
    session_id: str,
    artifact_id: str,
    p: Persistence = Depends(persistence),
    version: int | None = Query(None, ge=1),
) -> StreamingResponse:
    """The content (streamed) with its media type; ``artifact_id`` may also be a name."""
    record = await p.artifacts.get(session_id, artifact_id, version)
    chunks = p.artifacts.open(record)
    first = await anext(chunks, b"")  # a missing blob fails here, as a problem response

    async def body() -> AsyncIterator[bytes]:
        if first:
            yield first
        async for chunk in chunks:
            yield chunk

    headers = {
        "Content-Length": str(record.size),
        "ETag": f'"{record.content_hash}"',
        "X-Artifact-Id": record.id,
        "X-Artifact-Version": str(record.version),
        "Content-Disposition": f"attachment; filename*=UTF-8''{_quote(record.name)}",
    }
    return StreamingResponse(body(), media_type=record.media_type, headers=headers)


@router.get("/{session_id}/artifacts/{artifact_id}/metadata", dependencies=[require("sessions:read")])
async def artifact_metadata(
    session_id: str,
    artifact_id: str,
    p: Persistence = Depends(persistence),
    version: int | None = Query(None, ge=1),
) -> dict[str, Any]:
    """The artifact's record without its content."""
    _, artifact_view = _views()
    view: dict[str, Any] = artifact_view(await p.artifacts.get(session_id, artifact_id, version))
    return view


@router.delete(
    "/{session_id}/artifacts/{artifact_id}", status_code=204, dependencies=[require("sessions:write")]
)
async def delete_artifact(
    session_id: str, artifact_id: str, p: Persistence = Depends(persistence)
) -> Response:
    """Delete one version (by id) or every version (by name)."""
    await p.artifacts.delete(session_id, artifact_id)
    return Response(status_code=204)


def _quote(name: str) -> str:
    from urllib.parse import quote

    return quote(name, safe="")

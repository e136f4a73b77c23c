"""``/v1/state``: scoped, versioned state entries (``ETag``/``If-Match`` carry the version)."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any

from fastapi import APIRouter, Depends, Header, Query, Request, Response
from pydantic import BaseModel, ConfigDict, Field

from ...core.errors import NotFound, ValidationError
from ...state.manager import entry_view

if TYPE_CHECKING:
    from ...sessions.manager import Persistence

router = APIRouter(prefix="/v1/state", tags=["state"])

__all__ = ["entry_view", "persistence", "router"]


async def persistence(request: Request) -> Persistence:
    """The daemon's state/session/artifact services, created on first use.

    The read-through cache is on when Redis is configured (replicas invalidate each other).
    """
    state = request.app.state
    found: Persistence | None = getattr(state.control, "persistence", None) or getattr(
        state, "persistence", None
    )
    if found is not None:
        return found
    lock = state.__dict__.setdefault("_persistence_lock", asyncio.Lock())
    async with lock:
        found = getattr(state, "persistence", None)
        if found is None:
            from ...sessions.manager import open_persistence

            daemon = state.control
            found = open_persistence(daemon.store, daemon.settings)
            await found.state.start()
            state.persistence = found
    return found


def require(scope: str) -> Any:
    from ..deps import require as require_scope

    return Depends(require_scope(scope))


def _if_match(header: str | None) -> int | None:
    if header is None or not header.strip():
        return None
    text = header.strip().removeprefix("W/").strip('"')
    if text == "*":
        return None
    try:
        return int(text)
    except ValueError:
        raise ValidationError('If-Match must be an entry version such as "3"') from None


class PutBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    value: Any = None
    expected_version: int | None = Field(None, ge=0, description="0 = the key must not exist")
    ttl_s: float | None = Field(None, gt=0)


@router.get("/{scope}", dependencies=[require("state:read")])
async def list_entries(
    scope: str,
    p: Persistence = Depends(persistence),
    prefix: str | None = None,
    limit: int = Query(100, ge=1, le=1000),
    cursor: str | None = None,
) -> dict[str, Any]:
    """The live entries of a scope, ordered by key: ``{scope, keys, items, next_cursor}``."""
    entries, next_cursor = await p.state.list_entries(scope, prefix=prefix, limit=limit, cursor=cursor)
    return {
        "scope": scope,
        "keys": [entry.key for entry in entries],
        "items": [entry_view(entry) for entry in entries],
        "next_cursor": next_cursor,
    }


@router.get("/{scope}/{key:path}", dependencies=[require("state:read")])
async def get_entry(
    scope: str, key: str, response: Response, p: Persistence = Depends(persistence)
) -> dict[str, Any]:
    """One entry; ``ETag`` is its version."""
    record = await p.state.get_entry(scope, key)
    if record is None:
        raise NotFound(f"No state key {key!r} in scope {scope!r}", details={"scope": scope, "key": key})
    response.headers["ETag"] = f'"{record.version}"'
    return entry_view(record)


@router.put("/{scope}/{key:path}", dependencies=[require("state:write")])
async def put_entry(
    scope: str,
    key: str,
    body: PutBody,
    response: Response,
    p: Persistence = Depends(persistence),
    if_match: str | None = Header(default=None),
) -> dict[str, Any]:
    """Write a value; ``expected_version`` (or ``If-Match``) makes it conditional (409 CONFLICT)."""
    expected = body.expected_version if body.expected_version is not None else _if_match(if_match)
    record = await p.state.set(scope, key, body.value, expected_version=expected, ttl_s=body.ttl_s)
    response.headers["ETag"] = f'"{record.version}"'
    return entry_view(record)


@router.delete("/{scope}/{key:path}", status_code=204, dependencies=[require("state:write")])
async def delete_entry(
    scope: str,
    key: str,
    p: Persistence = Depends(persistence),
    expected_version: int | None = Query(None, ge=1),
    if_match: str | None = Header(default=None),
) -> Response:
    """Delete a key (404 when absent; 409 on a version mismatch)."""
    expected = expected_version if expected_version is not None else _if_match(if_match)
    if not await p.state.delete(scope, key, expected_version=expected):
        raise NotFound(f"No state key {key!r} in scope {scope!r}", details={"scope": scope, "key": key})
    return Response(status_code=204)

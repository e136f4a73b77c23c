"""``/v1/hooks``: daemon-wide hooks (admin): list points and hooks, add a built-in, remove one."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Response
from pydantic import BaseModel, ConfigDict, Field

from ...core.errors import NotFound
from ..deps import require

router = APIRouter(prefix="/v1/hooks", tags=["hooks"], dependencies=[Depends(require("admin"))])


class RegisterBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(min_length=1, max_length=100, description="A built-in hook: logging, caching...")
    points: list[str] | None = Field(default=None, description="Points (default: the built-in's own)")
    priority: int | str | None = None
    options: dict[str, Any] = Field(default_factory=dict)


@router.get("")
async def list_hooks() -> dict[str, Any]:
    """``{points: {group: [point]}, builtins: [{name, points, description}], items: [hook]}``."""
    from ...hooks import POINTS_BY_GROUP, process_hooks
    from ...hooks.builtins import describe_builtins

    return {
        "points": {group: list(names) for group, names in POINTS_BY_GROUP.items()},
        "builtins": describe_builtins(),
        "items": process_hooks().list(),
    }


@router.post("", status_code=201)
async def register_hook(body: RegisterBody) -> dict[str, Any]:
    """Register a built-in hook in the daemon's process registry; ``{items: [hook]}`` (one per point).

    A ConfigurationChange hook sees ``{section="hooks", action="add", value=body}`` first: it may
    change the body or refuse (409 ``CANCELLED``).
    """
    from ...hooks import process_hooks
    from ...hooks._fire import configuration_change
    from ...hooks.builtins import register_builtin

    spec = await configuration_change("hooks", "add", body.model_dump())
    body = RegisterBody.model_validate(spec) if isinstance(spec, dict) else body
    entries = register_builtin(
        process_hooks(),
        body.name,
        points=body.points,
        priority=body.priority,
        options=body.options,
        source="admin",
    )
    return {"items": [entry.info() for entry in entries]}


@router.delete("/{hook_id}", status_code=204)
async def unregister_hook(hook_id: str) -> Response:
    """Remove a daemon-wide hook by id (a ConfigurationChange hook sees ``action="remove"`` first)."""
    from ...hooks import process_hooks
    from ...hooks._fire import configuration_change

    entry = process_hooks().get(hook_id)
    if entry is not None:
        await configuration_change("hooks", "remove", entry.info())
    if not process_hooks().unregister(hook_id):
        raise NotFound(
            f"no daemon-wide hook {hook_id!r}; list them with GET /v1/hooks", details={"hook": hook_id}
        )
    return Response(status_code=204)

"""``/v1/scripts``: stored, versioned scripts."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Query, Response
from pydantic import BaseModel, ConfigDict

from ...runtime.abc import ControlPlane
from ..deps import control, require

router = APIRouter(prefix="/v1/scripts", tags=["scripts"])


class ScriptBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str
    code: str
    engine: str = "lua"
    description: str = ""


@router.post("", status_code=201, dependencies=[Depends(require("scripts:write"))])
async def put_script(body: ScriptBody, plane: ControlPlane = Depends(control)) -> dict[str, Any]:
    """Store a new version (syntax-checked; 400 with the line when it does not compile)."""
    return await plane.put_script(body.name, body.code, body.engine, body.description)


@router.get("", dependencies=[Depends(require("scripts:read"))])
async def list_scripts(
    plane: ControlPlane = Depends(control), limit: int = Query(50, ge=1, le=1000), cursor: str | None = None
) -> dict[str, Any]:
    """Latest version of each script: ``{items, next_cursor}``."""
    return await plane.list_scripts(limit=limit, cursor=cursor)


@router.get("/{name}", dependencies=[Depends(require("scripts:read"))])
async def get_script(
    name: str, plane: ControlPlane = Depends(control), version: int | None = Query(None, ge=1)
) -> dict[str, Any]:
    """A script (latest version unless ``?version=``)."""
    return await plane.get_script(name, version)


@router.delete("/{name}", status_code=204, dependencies=[Depends(require("scripts:write"))])
async def delete_script(name: str, plane: ControlPlane = Depends(control)) -> Response:
    """Delete every version."""
    await plane.delete_script(name)
    return Response(status_code=204)

"""``/v1/tools``: the tool catalogue and invocation."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends
from pydantic import BaseModel, ConfigDict, Field

from ...runtime.abc import ControlPlane
from ..deps import control, require

router = APIRouter(prefix="/v1/tools", tags=["tools"])


class InvokeBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    params: dict[str, Any] = Field(default_factory=dict)


@router.get("", dependencies=[Depends(require("tools:read"))])
async def list_tools(plane: ControlPlane = Depends(control), category: str | None = None) -> dict[str, Any]:
    """``{items: [{name, category, description, security_level}]}``."""
    return {"items": await plane.list_tools(category)}


@router.get("/{name}", dependencies=[Depends(require("tools:read"))])
async def get_tool(name: str, plane: ControlPlane = Depends(control)) -> dict[str, Any]:
    """A tool with its JSON Schema."""
    return await plane.get_tool(name)


@router.post("/{name}/invoke", dependencies=[Depends(require("tools:invoke"))])
async def invoke_tool(name: str, body: InvokeBody, plane: ControlPlane = Depends(control)) -> dict[str, Any]:
    """The tool envelope ``{success, operation, result, message, error, metadata}``."""
    return await plane.invoke_tool(name, body.params)

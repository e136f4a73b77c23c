"""``llmspell.v1.Scripts``: stored, versioned scripts."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import grpc
from google.protobuf import empty_pb2

from ...core.errors import ValidationError
from ._boundary import Servicer, rpc
from ._convert import record_to_message, required
from .gen.llmspell.v1 import scripts_pb2

__all__ = ["ScriptsServicer", "script_to_message"]

_DEFAULT_LIMIT = 50


def script_to_message(record: Mapping[str, Any]) -> scripts_pb2.Script:
    """A script record as a ``Script`` message."""
    return record_to_message(record, scripts_pb2.Script())


class ScriptsServicer(Servicer):
    """The ``Scripts`` service over a :class:`ControlPlane`."""

    @rpc("scripts:write")
    async def Put(
        self, request: scripts_pb2.PutScriptRequest, context: grpc.aio.ServicerContext
    ) -> scripts_pb2.Script:
        record = await self._control.put_script(
            required(request.name, "name"),
            request.code,
            engine=request.engine or "lua",
            description=request.description,
        )
        return script_to_message(record)

    @rpc("scripts:read")
    async def Get(
        self, request: scripts_pb2.GetScriptRequest, context: grpc.aio.ServicerContext
    ) -> scripts_pb2.Script:
        version = request.version if request.HasField("version") else None
        if version is not None and version < 1:
            # As GET /v1/scripts/{name}?version= (ge=1): a bad version, not an unknown one.
            raise ValidationError("version must be 1 or more", details={"field": "version"})
        return script_to_message(await self._control.get_script(required(request.name, "name"), version))

    @rpc("scripts:read")
    async def List(
        self, request: scripts_pb2.ListScriptsRequest, context: grpc.aio.ServicerContext
    ) -> scripts_pb2.ListScriptsResponse:
        page = await self._control.list_scripts(
            limit=request.limit or _DEFAULT_LIMIT,
            cursor=request.cursor if request.HasField("cursor") else None,
        )
        response = scripts_pb2.ListScriptsResponse(
            items=[script_to_message(item) for item in page.get("items", ())]
        )
        if page.get("next_cursor"):
            response.next_cursor = str(page["next_cursor"])
        return response

    @rpc("scripts:write")
    async def Delete(
        self, request: scripts_pb2.DeleteScriptRequest, context: grpc.aio.ServicerContext
    ) -> empty_pb2.Empty:
        await self._control.delete_script(required(request.name, "name"))
        return empty_pb2.Empty()

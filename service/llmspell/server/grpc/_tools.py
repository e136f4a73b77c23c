"""``llmspell.v1.Tools``: discover and invoke built-in tools."""

from __future__ import annotations

import grpc

from ._boundary import Servicer, rpc
from ._convert import from_struct, record_to_message, required
from .gen.llmspell.v1 import tools_pb2

__all__ = ["ToolsServicer"]


class ToolsServicer(Servicer):
    """The ``Tools`` service over a :class:`ControlPlane`."""

    @rpc("tools:read")
    async def List(
        self, request: tools_pb2.ListToolsRequest, context: grpc.aio.ServicerContext
    ) -> tools_pb2.ListToolsResponse:
        category = request.category if request.HasField("category") else None
        tools = await self._control.list_tools(category)
        return tools_pb2.ListToolsResponse(
            items=[record_to_message(tool, tools_pb2.ToolInfo()) for tool in tools]
        )

    @rpc("tools:read")
    async def Get(
        self, request: tools_pb2.GetToolRequest, context: grpc.aio.ServicerContext
    ) -> tools_pb2.ToolInfo:
        return record_to_message(
            await self._control.get_tool(required(request.name, "name")), tools_pb2.ToolInfo()
        )

    @rpc("tools:invoke")
    async def Invoke(
        self, request: tools_pb2.InvokeToolRequest, context: grpc.aio.ServicerContext
    ) -> tools_pb2.ToolResult:
        envelope = await self._control.invoke_tool(
            required(request.name, "name"), from_struct(request.params)
        )
        return record_to_message(envelope, tools_pb2.ToolResult())

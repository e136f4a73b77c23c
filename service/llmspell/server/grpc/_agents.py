"""``llmspell.v1.Agents``: execute the daemon's stored agents, whole or streamed."""

from __future__ import annotations

import base64
from collections.abc import AsyncIterator
from typing import Any

import grpc

from ...runtime.definitions import AgentService, definition_services
from ._boundary import Servicer, rpc
from ._convert import from_struct, record_to_message, required, to_struct
from .gen.llmspell.v1 import agents_pb2

__all__ = ["AgentsServicer"]


def _input(request: agents_pb2.ExecuteAgentRequest) -> dict[str, Any]:
    """The REST input shape ``{text, media, parameters}`` of a gRPC request."""
    given = request.input
    media = []
    for item in given.media:
        entry: dict[str, Any] = {"kind": item.kind or "binary", "mime_type": item.mime_type or None}
        if item.HasField("text"):
            entry["text"] = item.text
        if item.HasField("data"):
            entry["data"] = base64.b64encode(item.data).decode("ascii")
        if item.HasField("url"):
            entry["url"] = item.url
        media.append(entry)
    return {"text": given.text, "media": media, "parameters": from_struct(given.parameters)}


class AgentsServicer(Servicer):
    """The ``Agents`` service over the daemon's :class:`AgentService`."""

    @property
    def _agents(self) -> AgentService:
        return definition_services(self._control)[0]

    @rpc("agents:write")
    async def Execute(
        self, request: agents_pb2.ExecuteAgentRequest, context: grpc.aio.ServicerContext
    ) -> agents_pb2.AgentOutput:
        session = request.session_id if request.HasField("session_id") else None
        output = await self._agents.execute(
            required(request.name, "name"), _input(request), session_id=session
        )
        return record_to_message(output, agents_pb2.AgentOutput())

    @rpc("agents:write")
    async def ExecuteStream(
        self, request: agents_pb2.ExecuteAgentRequest, context: grpc.aio.ServicerContext
    ) -> AsyncIterator[agents_pb2.AgentEvent]:
        session = request.session_id if request.HasField("session_id") else None
        events = self._agents.stream(required(request.name, "name"), _input(request), session_id=session)
        async for event in events:
            yield agents_pb2.AgentEvent(id=event.id, event=event.event, data=to_struct(event.data))

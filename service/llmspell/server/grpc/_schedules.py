"""``llmspell.v1.Schedules``: cron and interval schedules of stored scripts."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import grpc
from google.protobuf import empty_pb2

from ...core.errors import ValidationError
from ...runtime.abc import ScheduleSpec
from ._boundary import Servicer, rpc
from ._convert import from_value, record_to_message, required
from ._runs import run_to_message, runs_page_to_message
from .gen.llmspell.v1 import runs_pb2, schedules_pb2

__all__ = ["SchedulesServicer", "schedule_spec", "schedule_to_message"]

_DEFAULT_LIMIT = 50
_OPTIONAL_FIELDS = (
    "name",
    "script",
    "cron",
    "interval_s",
    "timezone",
    "overlap",
    "catchup_window_s",
    "enabled",
)


def schedule_spec(message: schedules_pb2.ScheduleSpec) -> ScheduleSpec:
    """The :class:`ScheduleSpec` of a message: only the fields present are set."""
    fields: dict[str, Any] = {
        name: getattr(message, name) for name in _OPTIONAL_FIELDS if message.HasField(name)
    }
    if message.HasField("args"):
        args = from_value(message.args)
        if args is not None and not isinstance(args, list | dict):
            raise ValidationError("args must be a JSON list or object", details={"field": "args"})
        fields["args"] = args
    return ScheduleSpec(**fields)


def schedule_to_message(record: Mapping[str, Any]) -> schedules_pb2.Schedule:
    """A schedule record as a ``Schedule`` (``script_name`` is accepted for ``script``)."""
    if "script" not in record and "script_name" in record:
        record = {"script": record["script_name"], **record}
    return record_to_message(record, schedules_pb2.Schedule())


class SchedulesServicer(Servicer):
    """The ``Schedules`` service over a :class:`ControlPlane`."""

    @rpc("schedules:write")
    async def Create(
        self, request: schedules_pb2.ScheduleSpec, context: grpc.aio.ServicerContext
    ) -> schedules_pb2.Schedule:
        return schedule_to_message(await self._control.create_schedule(schedule_spec(request)))

    @rpc("schedules:read")
    async def Get(
        self, request: schedules_pb2.ScheduleIdRequest, context: grpc.aio.ServicerContext
    ) -> schedules_pb2.Schedule:
        return schedule_to_message(await self._control.get_schedule(required(request.id, "id")))

    @rpc("schedules:read")
    async def List(
        self, request: schedules_pb2.ListSchedulesRequest, context: grpc.aio.ServicerContext
    ) -> schedules_pb2.ListSchedulesResponse:
        page = await self._control.list_schedules(
            request.limit or 1000, request.cursor if request.HasField("cursor") else None
        )
        response = schedules_pb2.ListSchedulesResponse(
            items=[schedule_to_message(item) for item in page.get("items", ())]
        )
        if page.get("next_cursor"):
            response.next_cursor = str(page["next_cursor"])
        return response

    @rpc("schedules:write")
    async def Update(
        self, request: schedules_pb2.UpdateScheduleRequest, context: grpc.aio.ServicerContext
    ) -> schedules_pb2.Schedule:
        record = await self._control.update_schedule(required(request.id, "id"), schedule_spec(request.patch))
        return schedule_to_message(record)

    @rpc("schedules:write")
    async def Delete(
        self, request: schedules_pb2.ScheduleIdRequest, context: grpc.aio.ServicerContext
    ) -> empty_pb2.Empty:
        await self._control.delete_schedule(required(request.id, "id"))
        return empty_pb2.Empty()

    @rpc("schedules:write")
    async def Pause(
        self, request: schedules_pb2.ScheduleIdRequest, context: grpc.aio.ServicerContext
    ) -> schedules_pb2.Schedule:
        return schedule_to_message(
            await self._control.set_schedule_enabled(required(request.id, "id"), False)
        )

    @rpc("schedules:write")
    async def Resume(
        self, request: schedules_pb2.ScheduleIdRequest, context: grpc.aio.ServicerContext
    ) -> schedules_pb2.Schedule:
        return schedule_to_message(await self._control.set_schedule_enabled(required(request.id, "id"), True))

    @rpc("schedules:write")
    async def Trigger(
        self, request: schedules_pb2.ScheduleIdRequest, context: grpc.aio.ServicerContext
    ) -> runs_pb2.Run:
        return run_to_message(await self._control.trigger_schedule(required(request.id, "id")))

    @rpc("schedules:read")
    async def Runs(
        self, request: schedules_pb2.ScheduleRunsRequest, context: grpc.aio.ServicerContext
    ) -> runs_pb2.ListRunsResponse:
        page = await self._control.schedule_runs(
            required(request.id, "id"),
            limit=request.limit or _DEFAULT_LIMIT,
            cursor=request.cursor if request.HasField("cursor") else None,
        )
        return runs_page_to_message(page)

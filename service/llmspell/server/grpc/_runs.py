"""``llmspell.v1.Runs``: create, wait, stream, follow, inspect and cancel runs."""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from typing import Any

import grpc

from ...core.aio import aclose_iterator
from ...core.errors import ValidationError
from ...runtime.abc import RunEvent, RunRequest
from ._boundary import Servicer, metadata_value, rpc
from ._convert import fill_struct, from_struct, from_value, record_to_message, required
from .gen.llmspell.v1 import runs_pb2

__all__ = ["RunsServicer", "event_to_message", "run_request", "run_to_message", "runs_page_to_message"]

_DEFAULT_LIMIT = 50


def run_request(request: runs_pb2.CreateRunRequest, context: grpc.aio.ServicerContext) -> RunRequest:
    """The :class:`RunRequest` of a ``CreateRunRequest`` (Create, Wait and Stream)."""
    script = request.script
    source = script.WhichOneof("source") if request.HasField("script") else None
    if source is None:
        raise ValidationError(
            "script is required: set script.code (inline source) or script.name (a stored script)",
            details={"field": "script"},
        )
    args: Any = from_value(request.args) if request.HasField("args") else None
    if args is None:
        args = []
    if not isinstance(args, list | dict):
        raise ValidationError("args must be a JSON list or object", details={"field": "args"})
    idempotency_key = (
        request.idempotency_key
        if request.HasField("idempotency_key")
        else metadata_value(context, "idempotency-key")
    )
    common: dict[str, Any] = {
        "args": args,
        "session_id": request.session_id if request.HasField("session_id") else None,
        "timeout_s": request.timeout_s if request.HasField("timeout_s") else None,
        "webhook": request.webhook if request.HasField("webhook") else None,
        "metadata": from_struct(request.metadata),
        "idempotency_key": idempotency_key or None,
    }
    if request.HasField("max_attempts"):
        common["max_attempts"] = request.max_attempts
    if source == "code":
        return RunRequest(code=script.code, engine=script.engine or "lua", **common)
    return RunRequest(
        script_name=required(script.name, "script.name"),
        script_version=script.version if script.HasField("version") else None,
        **common,
    )


def run_to_message(record: Mapping[str, Any]) -> runs_pb2.Run:
    """A run record as a ``Run`` (a nested ``script: {name, version, engine}`` is flattened)."""
    script = record.get("script")
    if isinstance(script, Mapping):
        record = {
            "script_name": script.get("name"),
            "script_version": script.get("version"),
            "engine": script.get("engine"),
            **{key: value for key, value in record.items() if key != "script"},
        }
    return record_to_message(record, runs_pb2.Run())


def runs_page_to_message(page: Mapping[str, Any]) -> runs_pb2.ListRunsResponse:
    """A ``{items, next_cursor}`` page of runs as a ``ListRunsResponse``."""
    response = runs_pb2.ListRunsResponse(items=[run_to_message(item) for item in page.get("items", ())])
    if page.get("next_cursor"):
        response.next_cursor = str(page["next_cursor"])
    return response


def event_to_message(event: RunEvent) -> runs_pb2.RunEvent:
    """A run event as a ``RunEvent`` message."""
    message = runs_pb2.RunEvent(run_id=event.run_id, id=event.id, event=event.event)
    if event.data:
        fill_struct(message.data, event.data)
    return message


def _after(request: runs_pb2.RunEventsRequest, context: grpc.aio.ServicerContext) -> int:
    if request.after < 0:
        raise ValidationError("after must be an event id (0 or more)", details={"field": "after"})
    if request.after:
        return request.after
    return _last_event_id(context)


def _last_event_id(context: grpc.aio.ServicerContext) -> int:
    header = metadata_value(context, "last-event-id")
    if not header:
        return 0
    try:
        after = int(header)
    except ValueError:
        raise ValidationError(
            f"last-event-id must be an event id (an integer), got {header!r}",
            details={"field": "last-event-id"},
        ) from None
    return max(after, 0)


async def _relay(events: AsyncIterator[RunEvent]) -> AsyncIterator[runs_pb2.RunEvent]:
    try:
        async for event in events:
            yield event_to_message(event)
    finally:
        await aclose_iterator(events)  # a client that hung up releases the subscription now


class RunsServicer(Servicer):
    """The ``Runs`` service over a :class:`ControlPlane`."""

    @rpc("runs:write")
    async def Create(
        self, request: runs_pb2.CreateRunRequest, context: grpc.aio.ServicerContext
    ) -> runs_pb2.Run:
        return run_to_message(await self._control.create_run(run_request(request, context)))

    @rpc("runs:write")
    async def Wait(
        self, request: runs_pb2.CreateRunRequest, context: grpc.aio.ServicerContext
    ) -> runs_pb2.Run:
        return run_to_message(await self._control.wait_run(run_request(request, context)))

    @rpc("runs:write")
    async def Stream(
        self, request: runs_pb2.CreateRunRequest, context: grpc.aio.ServicerContext
    ) -> AsyncIterator[runs_pb2.RunEvent]:
        create = run_request(request, context)
        after = _last_event_id(context)
        if create.idempotency_key is not None and after > 0:
            # A retry of an idempotent stream resumes after the last event it received.
            run = await self._control.create_run(create)
            events = self._control.run_events(run["id"], after, follow=True)
        else:
            events = self._control.stream_run(create)
        async for message in _relay(events):
            yield message

    @rpc("runs:read")
    async def Events(
        self, request: runs_pb2.RunEventsRequest, context: grpc.aio.ServicerContext
    ) -> AsyncIterator[runs_pb2.RunEvent]:
        run_id = required(request.run_id, "run_id")
        follow = request.follow if request.HasField("follow") else True
        events = self._control.run_events(run_id, after=_after(request, context), follow=follow)
        async for message in _relay(events):
            yield message

    @rpc("runs:read")
    async def Get(self, request: runs_pb2.GetRunRequest, context: grpc.aio.ServicerContext) -> runs_pb2.Run:
        return run_to_message(await self._control.get_run(required(request.id, "id")))

    @rpc("runs:read")
    async def List(
        self, request: runs_pb2.ListRunsRequest, context: grpc.aio.ServicerContext
    ) -> runs_pb2.ListRunsResponse:
        page = await self._control.list_runs(
            status=request.status if request.HasField("status") else None,
            script=request.script if request.HasField("script") else None,
            schedule_id=request.schedule_id if request.HasField("schedule_id") else None,
            limit=request.limit or _DEFAULT_LIMIT,
            cursor=request.cursor if request.HasField("cursor") else None,
        )
        return runs_page_to_message(page)

    @rpc("runs:write")
    async def Cancel(
        self, request: runs_pb2.CancelRunRequest, context: grpc.aio.ServicerContext
    ) -> runs_pb2.Run:
        return run_to_message(await self._control.cancel_run(required(request.id, "id")))

"""The gRPC face of a real ``llmspell serve`` (SQLite, no API keys), through the generated stubs."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import grpc
import pytest
from fakes.daemon import Daemon, start_daemon
from google.protobuf import json_format, struct_pb2
from grpc_health.v1 import health_pb2, health_pb2_grpc
from llmspell.server.grpc.gen.llmspell.v1 import (
    runs_pb2,
    runs_pb2_grpc,
    schedules_pb2,
    schedules_pb2_grpc,
    scripts_pb2,
    scripts_pb2_grpc,
    tools_pb2,
    tools_pb2_grpc,
)


@pytest.fixture(scope="module")
def daemon(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Daemon]:
    running = start_daemon(Path(tmp_path_factory.mktemp("grpc-daemon")))
    yield running
    assert running.stop() == 0, running.log()


@pytest.fixture
async def channel(daemon: Daemon) -> AsyncIterator[grpc.aio.Channel]:
    async with grpc.aio.insecure_channel(f"127.0.0.1:{daemon.grpc_port}") as opened:
        yield opened


def _dict(message: object) -> dict[str, object]:
    return json_format.MessageToDict(message, preserving_proto_field_name=True)  # type: ignore[arg-type]


def _inline(code: str) -> runs_pb2.CreateRunRequest:
    return runs_pb2.CreateRunRequest(script=runs_pb2.ScriptRef(code=code, engine="lua"))


async def test_health(channel: grpc.aio.Channel) -> None:
    health = health_pb2_grpc.HealthStub(channel)
    answer = await health.Check(health_pb2.HealthCheckRequest(service="llmspell.v1.Runs"))
    assert answer.status == health_pb2.HealthCheckResponse.SERVING


async def test_wait_stream_events_get(channel: grpc.aio.Channel, daemon: Daemon) -> None:
    runs = runs_pb2_grpc.RunsStub(channel)
    done = await runs.Wait(_inline("print('hi') return {n = 1 + 1}"), timeout=30)
    assert done.status == "succeeded", daemon.log()
    assert _dict(done)["result"] == {"n": 2.0} and done.stdout == "hi\n"

    failed = await runs.Wait(_inline("error('boom')"), timeout=30)
    assert failed.status == "failed" and "boom" in failed.error.message

    events = [event async for event in runs.Stream(_inline("print('streamed') return 7"), timeout=30)]
    assert events[-1].event == "end" and [e.id for e in events] == list(range(1, len(events) + 1))
    assert any(e.event == "stdout" for e in events)
    run_id = events[0].run_id

    replay = [e async for e in runs.Events(runs_pb2.RunEventsRequest(run_id=run_id, after=1), timeout=30)]
    assert [e.id for e in replay] == [e.id for e in events[1:]]

    got = await runs.Get(runs_pb2.GetRunRequest(id=run_id), timeout=30)
    assert (got.status, got.engine, _dict(got)["result"]) == ("succeeded", "lua", 7.0)
    assert got.created_at and got.finished_at
    listed = await runs.List(runs_pb2.ListRunsRequest(limit=2), timeout=30)
    assert listed.items[0].id == run_id and listed.HasField("next_cursor")


async def test_scripts_and_schedules(channel: grpc.aio.Channel) -> None:
    scripts = scripts_pb2_grpc.ScriptsStub(channel)
    with pytest.raises(grpc.aio.AioRpcError) as bad:
        await scripts.Put(scripts_pb2.PutScriptRequest(name="broken", code="return ("), timeout=30)
    assert bad.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    trailing = dict(bad.value.trailing_metadata() or ())
    assert trailing["llmspell-error-code"] == "VALIDATION"
    assert json.loads(trailing["llmspell-error-details"])["line"] == 1

    stored = await scripts.Put(scripts_pb2.PutScriptRequest(name="grpc-job", code="return 5"), timeout=30)
    assert (stored.name, stored.version, stored.engine) == ("grpc-job", 1, "lua")
    assert (await scripts.Get(scripts_pb2.GetScriptRequest(name="grpc-job"), timeout=30)).code == "return 5"

    schedules = schedules_pb2_grpc.SchedulesStub(channel)
    created = await schedules.Create(
        schedules_pb2.ScheduleSpec(name="grpc-every-hour", script="grpc-job", interval_s=3600, enabled=False),
        timeout=30,
    )
    assert (created.script, created.interval_s, created.enabled) == ("grpc-job", 3600.0, False)
    ident = schedules_pb2.ScheduleIdRequest(id=created.id)
    run = await schedules.Trigger(ident, timeout=30)
    assert run.schedule_id == created.id and run.script_name == "grpc-job"
    fired = await schedules.Runs(schedules_pb2.ScheduleRunsRequest(id=created.id), timeout=30)
    assert [r.id for r in fired.items] == [run.id]
    await schedules.Delete(ident, timeout=30)

    # Schedules.List pages by name with limit and cursor, as GET /v1/schedules does.
    made = [
        await schedules.Create(
            schedules_pb2.ScheduleSpec(
                name=f"grpc-page-{i}", script="grpc-job", interval_s=3600, enabled=False
            ),
            timeout=30,
        )
        for i in range(3)
    ]
    first = await schedules.List(schedules_pb2.ListSchedulesRequest(limit=2), timeout=30)
    assert [s.name for s in first.items] == ["grpc-page-0", "grpc-page-1"] and first.HasField("next_cursor")
    rest = await schedules.List(
        schedules_pb2.ListSchedulesRequest(limit=2, cursor=first.next_cursor), timeout=30
    )
    assert [s.name for s in rest.items] == ["grpc-page-2"] and not rest.HasField("next_cursor")
    with pytest.raises(grpc.aio.AioRpcError) as bad_cursor:
        await schedules.List(schedules_pb2.ListSchedulesRequest(cursor="nonsense!"), timeout=30)
    assert bad_cursor.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    for schedule in made:
        await schedules.Delete(schedules_pb2.ScheduleIdRequest(id=schedule.id), timeout=30)
    await scripts.Delete(scripts_pb2.DeleteScriptRequest(name="grpc-job"), timeout=30)
    with pytest.raises(grpc.aio.AioRpcError) as gone:
        await scripts.Get(scripts_pb2.GetScriptRequest(name="grpc-job"), timeout=30)
    assert gone.value.code() == grpc.StatusCode.NOT_FOUND


async def test_tools(channel: grpc.aio.Channel) -> None:
    tools = tools_pb2_grpc.ToolsStub(channel)
    listed = await tools.List(tools_pb2.ListToolsRequest(), timeout=30)
    names = {t.name for t in listed.items}
    assert "calculator" in names
    info = await tools.Get(tools_pb2.GetToolRequest(name="calculator"), timeout=30)
    assert _dict(info)["schema"]["type"] == "object"  # type: ignore[index]
    params = json_format.ParseDict({"input": "2 * 21"}, struct_pb2.Struct())
    result = await tools.Invoke(tools_pb2.InvokeToolRequest(name="calculator", params=params), timeout=30)
    assert result.success, result
    assert json.dumps(_dict(result)["result"]).find("42") >= 0


def _status(caught: pytest.ExceptionInfo[grpc.aio.AioRpcError]) -> tuple[grpc.StatusCode, str | None]:
    trailing = dict(caught.value.trailing_metadata() or ())
    code = trailing.get("llmspell-error-code")
    return caught.value.code(), code if isinstance(code, str) else None


async def test_non_finite_numbers_are_invalid_argument(channel: grpc.aio.Channel) -> None:
    """Protobuf doubles carry NaN and infinities: the control plane refuses them (as it does
    for REST), so they are never stored (a stored NaN made every later List fail) nor INTERNAL."""
    runs = runs_pb2_grpc.RunsStub(channel)
    for timeout_s in (float("nan"), float("inf")):
        request = runs_pb2.CreateRunRequest(script=runs_pb2.ScriptRef(code="return 1"), timeout_s=timeout_s)
        for rpc in (runs.Create, runs.Wait):
            with pytest.raises(grpc.aio.AioRpcError) as caught:
                await rpc(request, timeout=30)
            assert _status(caught) == (grpc.StatusCode.INVALID_ARGUMENT, "VALIDATION")
            assert "timeout_s" in (caught.value.details() or "")
        with pytest.raises(grpc.aio.AioRpcError) as streamed:
            [event async for event in runs.Stream(request, timeout=30)]
        assert _status(streamed) == (grpc.StatusCode.INVALID_ARGUMENT, "VALIDATION")

    scripts = scripts_pb2_grpc.ScriptsStub(channel)
    await scripts.Put(scripts_pb2.PutScriptRequest(name="grpc-finite", code="return 1"), timeout=30)
    schedules = schedules_pb2_grpc.SchedulesStub(channel)
    bad_specs = [
        schedules_pb2.ScheduleSpec(name="nan-interval", script="grpc-finite", interval_s=float("nan")),
        schedules_pb2.ScheduleSpec(name="inf-interval", script="grpc-finite", interval_s=float("inf")),
        schedules_pb2.ScheduleSpec(
            name="nan-catchup", script="grpc-finite", interval_s=60, catchup_window_s=float("nan")
        ),
    ]
    for spec in bad_specs:
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await schedules.Create(spec, timeout=30)
        assert _status(caught) == (grpc.StatusCode.INVALID_ARGUMENT, "VALIDATION"), spec
    made = await schedules.Create(
        schedules_pb2.ScheduleSpec(name="finite", script="grpc-finite", interval_s=60, enabled=False),
        timeout=30,
    )
    with pytest.raises(grpc.aio.AioRpcError) as patched:
        await schedules.Update(
            schedules_pb2.UpdateScheduleRequest(
                id=made.id, patch=schedules_pb2.ScheduleSpec(catchup_window_s=float("-inf"))
            ),
            timeout=30,
        )
    assert _status(patched) == (grpc.StatusCode.INVALID_ARGUMENT, "VALIDATION")
    listed = await schedules.List(schedules_pb2.ListSchedulesRequest(), timeout=30)
    assert [s.name for s in listed.items if s.name in {"finite", "nan-catchup"}] == ["finite"]
    await schedules.Delete(schedules_pb2.ScheduleIdRequest(id=made.id), timeout=30)
    await scripts.Delete(scripts_pb2.DeleteScriptRequest(name="grpc-finite"), timeout=30)


async def test_error_quoting_a_huge_input_keeps_its_status(channel: grpc.aio.Channel) -> None:
    """The status message quoting a 100 kB id is cut: the trailers stay under the client's
    metadata limit, so the answer is NOT_FOUND with its code, not RESOURCE_EXHAUSTED."""
    runs = runs_pb2_grpc.RunsStub(channel)
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await runs.Get(runs_pb2.GetRunRequest(id="x" * 100_000), timeout=30)
    assert _status(caught) == (grpc.StatusCode.NOT_FOUND, "NOT_FOUND")
    details = caught.value.details() or ""
    assert details.startswith("No run named 'xxx") and details.endswith("...") and len(details) <= 1024
    scripts = scripts_pb2_grpc.ScriptsStub(channel)
    with pytest.raises(grpc.aio.AioRpcError) as wide:
        await scripts.Get(scripts_pb2.GetScriptRequest(name="é" * 20_000), timeout=30)
    assert _status(wide) == (grpc.StatusCode.NOT_FOUND, "NOT_FOUND")


async def test_bad_version_and_after_are_invalid_argument_as_in_rest(channel: grpc.aio.Channel) -> None:
    """REST declares ``?version=`` ge=1 and ``?after=`` ge=0 (400): the same values over
    gRPC are INVALID_ARGUMENT, not NOT_FOUND or a silent replay from the start."""
    scripts = scripts_pb2_grpc.ScriptsStub(channel)
    await scripts.Put(scripts_pb2.PutScriptRequest(name="grpc-versions", code="return 1"), timeout=30)
    for version in (0, -1):
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await scripts.Get(scripts_pb2.GetScriptRequest(name="grpc-versions", version=version), timeout=30)
        assert _status(caught) == (grpc.StatusCode.INVALID_ARGUMENT, "VALIDATION")
    await scripts.Delete(scripts_pb2.DeleteScriptRequest(name="grpc-versions"), timeout=30)

    runs = runs_pb2_grpc.RunsStub(channel)
    done = await runs.Wait(
        runs_pb2.CreateRunRequest(script=runs_pb2.ScriptRef(code="return 1"), idempotency_key="grpc-after"),
        timeout=30,
    )
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        [e async for e in runs.Events(runs_pb2.RunEventsRequest(run_id=done.id, after=-1), timeout=30)]
    assert _status(caught) == (grpc.StatusCode.INVALID_ARGUMENT, "VALIDATION")


async def test_max_attempts_as_in_the_rest_body(channel: grpc.aio.Channel) -> None:
    """``max_attempts`` (the REST body's retry policy, 1-10) is a CreateRunRequest field."""
    runs = runs_pb2_grpc.RunsStub(channel)
    for bad in (0, 11):
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await runs.Create(
                runs_pb2.CreateRunRequest(script=runs_pb2.ScriptRef(code="return 1"), max_attempts=bad),
                timeout=30,
            )
        assert _status(caught) == (grpc.StatusCode.INVALID_ARGUMENT, "VALIDATION")
        assert "max_attempts" in (caught.value.details() or "")
    done = await runs.Wait(
        runs_pb2.CreateRunRequest(script=runs_pb2.ScriptRef(code="return 3"), max_attempts=3), timeout=30
    )
    assert done.status == "succeeded"

"""The gRPC face end to end: a real grpc.aio server on 127.0.0.1, the generated stubs as
client, the real Authenticator, and an in-memory ControlPlane (a test implementation of
the Python interface, not a network mock)."""

from __future__ import annotations

import asyncio
import itertools
import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import grpc
import pytest
from google.protobuf import empty_pb2, json_format, struct_pb2
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc
from llmspell.core.errors import (
    Conflict,
    LLMSpellError,
    NotFound,
    ScriptSyntaxError,
    ValidationError,
    error_from_code,
)
from llmspell.runtime.abc import ControlPlane, RunEvent, RunRequest, ScheduleSpec
from llmspell.server.auth import Authenticator
from llmspell.server.grpc import (
    SERVICE_NAMES,
    bound_port,
    set_serving,
    start_grpc_server,
    stop_grpc_server,
)
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
from llmspell.storage.records import ApiKeyRecord
from prometheus_client import REGISTRY

# In-memory control plane ---------------------------------------------------------------


def _now() -> datetime:
    return datetime.now(UTC)


class MemoryControl(ControlPlane):
    """Every ControlPlane operation over dicts. Runs execute when ``finish`` is called
    (Wait and Stream call it themselves); ``get_run("raise:CODE")`` raises that error."""

    def __init__(self) -> None:
        self.runs: dict[str, dict[str, Any]] = {}
        self.events: dict[str, list[RunEvent]] = {}
        self.changed = asyncio.Condition()
        self.scripts: dict[str, list[dict[str, Any]]] = {}
        self.schedules: dict[str, dict[str, Any]] = {}
        self.closed_subscriptions = 0
        self.requests: list[RunRequest] = []
        self._ids = itertools.count(1)

    # runs
    async def _emit(self, run_id: str, event: str, data: dict[str, Any]) -> None:
        async with self.changed:
            events = self.events.setdefault(run_id, [])
            events.append(RunEvent(run_id=run_id, id=len(events) + 1, event=event, data=data))
            self.changed.notify_all()

    async def create_run(self, request: RunRequest) -> dict[str, Any]:
        self.requests.append(request)
        if request.idempotency_key:
            for run in self.runs.values():
                if run["idempotency_key"] == request.idempotency_key:
                    return run
        if request.script_name is not None and request.script_name not in self.scripts:
            raise NotFound.named("script", request.script_name)
        run_id = f"run-{next(self._ids)}"
        self.runs[run_id] = {
            "id": run_id,
            "status": "queued",
            "script_name": request.script_name,
            "script_version": request.script_version,
            "engine": request.engine,
            "args": request.args,
            "session_id": request.session_id,
            "schedule_id": None,
            "timeout_s": request.timeout_s,
            "metadata": request.metadata,
            "idempotency_key": request.idempotency_key,
            "result": None,
            "stdout": None,
            "error": None,
            "usage": None,
            "duration_ms": None,
            "created_at": _now(),
            "started_at": None,
            "finished_at": None,
            "attempts": 0,
        }
        await self._emit(run_id, "status", {"status": "queued"})
        return self.runs[run_id]

    async def finish(self, run_id: str, *, fail: bool = False) -> dict[str, Any]:
        run = self.runs[run_id]
        await self._emit(run_id, "status", {"status": "running"})
        await self._emit(run_id, "stdout", {"text": "hello\n"})
        if fail:
            run.update(
                status="failed", error={"code": "SCRIPT_ERROR", "message": "boom", "details": {"line": 3}}
            )
            await self._emit(run_id, "error", run["error"])
        else:
            run.update(status="succeeded", result={"answer": 42, "args": run["args"]}, stdout="hello\n")
            await self._emit(run_id, "result", {"result": run["result"]})
        run.update(usage={"prompt_tokens": 3, "completion_tokens": 4}, duration_ms=1.5, finished_at=_now())
        await self._emit(run_id, "end", {"status": run["status"]})
        return run

    async def wait_run(self, request: RunRequest) -> dict[str, Any]:
        run = await self.create_run(request)
        return await self.finish(run["id"], fail=request.code == "error('boom')")

    async def stream_run(self, request: RunRequest) -> AsyncIterator[RunEvent]:
        run = await self.create_run(request)
        finishing = asyncio.create_task(self.finish(run["id"]))
        async for event in self.run_events(run["id"]):
            yield event
        await finishing

    async def run_events(self, run_id: str, after: int = 0, follow: bool = True) -> AsyncIterator[RunEvent]:
        if run_id not in self.runs:
            raise NotFound.named("run", run_id)
        try:
            while True:
                async with self.changed:
                    pending = [e for e in self.events.get(run_id, []) if e.id > after]
                    if not pending and follow:
                        await self.changed.wait()
                        continue
                for event in pending:
                    yield event
                    after = event.id
                    if event.event == "end":
                        return
                if not follow:
                    return
        finally:
            self.closed_subscriptions += 1

    async def get_run(self, run_id: str) -> dict[str, Any]:
        if run_id.startswith("raise:"):
            code = run_id.removeprefix("raise:")
            if code == "PYTHON":
                raise RuntimeError("secret internal detail")
            raise error_from_code(code, f"{code} happened", {"why": code.lower()})
        if run_id not in self.runs:
            raise NotFound.named("run", run_id)
        return self.runs[run_id]

    async def list_runs(
        self,
        *,
        status: str | None = None,
        script: str | None = None,
        schedule_id: str | None = None,
        limit: int = 50,
        cursor: str | None = None,
    ) -> dict[str, Any]:
        runs = [
            r
            for r in reversed(self.runs.values())
            if (status is None or r["status"] == status)
            and (script is None or r["script_name"] == script)
            and (schedule_id is None or r["schedule_id"] == schedule_id)
        ]
        start = int(cursor or 0)
        page = runs[start : start + limit]
        more = start + limit < len(runs)
        return {"items": page, "next_cursor": str(start + limit) if more else None}

    async def cancel_run(self, run_id: str) -> dict[str, Any]:
        run = await self.get_run(run_id)
        run["status"] = "cancelled"
        await self._emit(run_id, "end", {"status": "cancelled"})
        return run

    # scripts
    async def put_script(
        self, name: str, code: str, engine: str = "lua", description: str = ""
    ) -> dict[str, Any]:
        if "!!" in code:
            raise ScriptSyntaxError("syntax error near '!!' (line 1)", details={"line": 1})
        versions = self.scripts.setdefault(name, [])
        record = {
            "id": f"script-{next(self._ids)}",
            "name": name,
            "version": len(versions) + 1,
            "engine": engine,
            "code": code,
            "description": description,
            "created_at": _now(),
        }
        versions.append(record)
        return record

    async def get_script(self, name: str, version: int | None = None) -> dict[str, Any]:
        versions = self.scripts.get(name)
        if not versions or (version is not None and not 1 <= version <= len(versions)):
            raise NotFound.named("script", name)
        return versions[-1] if version is None else versions[version - 1]

    async def list_scripts(self, *, limit: int = 50, cursor: str | None = None) -> dict[str, Any]:
        items = [{k: v for k, v in versions[-1].items() if k != "code"} for versions in self.scripts.values()]
        return {"items": items[:limit], "next_cursor": "more" if len(items) > limit else None}

    async def delete_script(self, name: str) -> None:
        if self.scripts.pop(name, None) is None:
            raise NotFound.named("script", name)

    # schedules
    async def create_schedule(self, spec: ScheduleSpec) -> dict[str, Any]:
        if spec.name is None or spec.script is None or (spec.cron is None) == (spec.interval_s is None):
            raise ValidationError("a schedule needs name, script and exactly one of cron and interval_s")
        if any(s["name"] == spec.name for s in self.schedules.values()):
            raise Conflict(f"a schedule named {spec.name!r} exists")
        schedule_id = f"sched-{next(self._ids)}"
        self.schedules[schedule_id] = {
            "id": schedule_id,
            "name": spec.name,
            "script_name": spec.script,
            "args": spec.args if spec.args is not None else [],
            "cron": spec.cron,
            "interval_s": spec.interval_s,
            "timezone": spec.timezone or "UTC",
            "overlap": spec.overlap or "skip",
            "catchup_window_s": spec.catchup_window_s or 0.0,
            "enabled": True if spec.enabled is None else spec.enabled,
            "created_at": _now(),
            "updated_at": _now(),
            "revision": 1,
            "last_fire_time": None,
        }
        return self.schedules[schedule_id]

    async def get_schedule(self, schedule_id: str) -> dict[str, Any]:
        if schedule_id not in self.schedules:
            raise NotFound.named("schedule", schedule_id)
        return self.schedules[schedule_id]

    async def list_schedules(self, limit: int = 1000, cursor: str | None = None) -> dict[str, Any]:
        return {"items": list(self.schedules.values()), "next_cursor": None}

    async def update_schedule(self, schedule_id: str, spec: ScheduleSpec) -> dict[str, Any]:
        schedule = await self.get_schedule(schedule_id)
        for field in (
            "name",
            "args",
            "cron",
            "interval_s",
            "timezone",
            "overlap",
            "catchup_window_s",
            "enabled",
        ):
            value = getattr(spec, field)
            if value is not None:
                schedule[field] = value
        if spec.script is not None:
            schedule["script_name"] = spec.script
        schedule["revision"] += 1
        return schedule

    async def delete_schedule(self, schedule_id: str) -> None:
        await self.get_schedule(schedule_id)
        del self.schedules[schedule_id]

    async def set_schedule_enabled(self, schedule_id: str, enabled: bool) -> dict[str, Any]:
        schedule = await self.get_schedule(schedule_id)
        schedule["enabled"] = enabled
        return schedule

    async def trigger_schedule(self, schedule_id: str) -> dict[str, Any]:
        schedule = await self.get_schedule(schedule_id)
        run = await self.create_run(RunRequest(script_name=schedule["script_name"], args=schedule["args"]))
        run["schedule_id"] = schedule_id
        return run

    async def schedule_runs(
        self, schedule_id: str, *, limit: int = 50, cursor: str | None = None
    ) -> dict[str, Any]:
        await self.get_schedule(schedule_id)
        return await self.list_runs(schedule_id=schedule_id, limit=limit, cursor=cursor)

    # tools
    _TOOLS = (
        {
            "name": "calculator",
            "category": "utility",
            "description": "Evaluate arithmetic.",
            "schema": {"type": "object", "properties": {"expression": {"type": "string"}}},
            "security_level": "safe",
        },
        {
            "name": "file-operations",
            "category": "filesystem",
            "description": "Read and write files.",
            "schema": {"type": "object"},
            "security_level": "restricted",
        },
    )

    async def list_tools(self, category: str | None = None) -> list[dict[str, Any]]:
        return [
            {k: v for k, v in tool.items() if k != "schema"}
            for tool in self._TOOLS
            if category is None or tool["category"] == category
        ]

    async def get_tool(self, name: str) -> dict[str, Any]:
        for tool in self._TOOLS:
            if tool["name"] == name:
                return dict(tool)
        raise NotFound.named("tool", name)

    async def invoke_tool(self, name: str, params: dict[str, Any]) -> dict[str, Any]:
        await self.get_tool(name)
        if "expression" not in params:
            error = ValidationError("expression is required").to_dict()
            return {
                "success": False,
                "operation": None,
                "result": None,
                "message": None,
                "error": error,
                "metadata": {},
            }
        return {
            "success": True,
            "operation": "evaluate",
            "result": {"params": params},
            "message": "ok",
            "error": None,
            "metadata": {"tool": name},
        }

    async def ready(self) -> dict[str, Any]:
        return {"ready": True, "checks": {}}


# Auth: the real Authenticator over a dict of keys ----------------------------------------


class _KeyRepo:
    def __init__(self, keys: dict[str, tuple[str, ...]]) -> None:
        self._keys = keys

    async def any_active(self) -> bool:
        return bool(self._keys)

    async def verify(self, raw_key: str) -> ApiKeyRecord | None:
        scopes = self._keys.get(raw_key)
        if scopes is None:
            return None
        return ApiKeyRecord(
            id=f"key-{raw_key}",
            name=raw_key,
            prefix=raw_key[:4],
            scopes=scopes,
            created_at=_now(),
            revoked_at=None,
            last_used_at=None,
        )


class _KeyStore:
    def __init__(self, keys: dict[str, tuple[str, ...]]) -> None:
        self.api_keys = _KeyRepo(keys)


ADMIN = (("authorization", "Bearer admin-key"),)


class Env:
    def __init__(self, control: MemoryControl, server: grpc.aio.Server, channel: grpc.aio.Channel) -> None:
        self.control = control
        self.server = server
        self.channel = channel
        self.runs = runs_pb2_grpc.RunsStub(channel)
        self.scripts = scripts_pb2_grpc.ScriptsStub(channel)
        self.schedules = schedules_pb2_grpc.SchedulesStub(channel)
        self.tools = tools_pb2_grpc.ToolsStub(channel)


async def _start(keys: dict[str, tuple[str, ...]]) -> tuple[MemoryControl, grpc.aio.Server, grpc.aio.Channel]:
    control = MemoryControl()
    auth = Authenticator(_KeyStore(keys))  # type: ignore[arg-type]
    await auth.refresh()
    server = await start_grpc_server(control, auth, "127.0.0.1", 0)
    channel = grpc.aio.insecure_channel(f"127.0.0.1:{bound_port(server)}")
    return control, server, channel


@pytest.fixture
async def env() -> AsyncIterator[Env]:
    keys = {
        "admin-key": ("admin",),
        "reader": ("runs:read", "scripts:read", "schedules:read", "tools:read"),
        **{f"only-{scope}": (scope,) for scope in _ALL_SCOPES},
    }
    control, server, channel = await _start(keys)
    yield Env(control, server, channel)
    await channel.close()
    await stop_grpc_server(server, grace=None)


@pytest.fixture
async def keyless() -> AsyncIterator[Env]:
    control, server, channel = await _start({})
    yield Env(control, server, channel)
    await channel.close()
    await stop_grpc_server(server, grace=None)


def _value(obj: Any) -> struct_pb2.Value:
    return json_format.ParseDict(obj, struct_pb2.Value())


def _struct(obj: dict[str, Any]) -> struct_pb2.Struct:
    return json_format.ParseDict(obj, struct_pb2.Struct())


def _dict(message: Any) -> dict[str, Any]:
    return json_format.MessageToDict(message, preserving_proto_field_name=True)


async def _collect(call: Any) -> list[runs_pb2.RunEvent]:
    return [event async for event in call]


# Runs -----------------------------------------------------------------------------------


async def test_create_get_list_cancel(env: Env) -> None:
    request = runs_pb2.CreateRunRequest(
        script=runs_pb2.ScriptRef(code="return 1"),
        args=_value({"city": "Oslo"}),
        session_id="s1",
        timeout_s=5,
        metadata=_struct({"team": "a"}),
    )
    run = await env.runs.Create(request, metadata=ADMIN)
    assert (run.status, run.engine, run.session_id, run.timeout_s) == ("queued", "lua", "s1", 5.0)
    assert _dict(run)["args"] == {"city": "Oslo"} and _dict(run)["metadata"] == {"team": "a"}
    assert run.created_at.endswith("+00:00") and not run.HasField("finished_at")
    sent = env.control.requests[-1]
    assert (sent.code, sent.engine, sent.args, sent.metadata) == (
        "return 1",
        "lua",
        {"city": "Oslo"},
        {"team": "a"},
    )

    got = await env.runs.Get(runs_pb2.GetRunRequest(id=run.id), metadata=ADMIN)
    assert got == run

    second = await env.runs.Create(
        runs_pb2.CreateRunRequest(script=runs_pb2.ScriptRef(code="x")), metadata=ADMIN
    )
    page = await env.runs.List(runs_pb2.ListRunsRequest(limit=1), metadata=ADMIN)
    assert [r.id for r in page.items] == [second.id] and page.next_cursor == "1"
    rest = await env.runs.List(runs_pb2.ListRunsRequest(limit=1, cursor=page.next_cursor), metadata=ADMIN)
    assert [r.id for r in rest.items] == [run.id] and not rest.HasField("next_cursor")

    cancelled = await env.runs.Cancel(runs_pb2.CancelRunRequest(id=run.id), metadata=ADMIN)
    assert cancelled.status == "cancelled"
    only_queued = await env.runs.List(runs_pb2.ListRunsRequest(status="queued"), metadata=ADMIN)
    assert [r.id for r in only_queued.items] == [second.id]


async def test_create_stored_script_and_idempotency(env: Env) -> None:
    await env.scripts.Put(scripts_pb2.PutScriptRequest(name="daily", code="return 1"), metadata=ADMIN)
    request = runs_pb2.CreateRunRequest(
        script=runs_pb2.ScriptRef(name="daily", version=1), args=_value(["a", "b"]), idempotency_key="k1"
    )
    first = await env.runs.Create(request, metadata=ADMIN)
    again = await env.runs.Create(request, metadata=ADMIN)
    assert again.id == first.id and (first.script_name, first.script_version) == ("daily", 1)
    assert _dict(first)["args"] == ["a", "b"]
    # The key may also come as metadata, like the REST Idempotency-Key header.
    by_header = runs_pb2.CreateRunRequest(script=runs_pb2.ScriptRef(name="daily"))
    h1 = await env.runs.Create(by_header, metadata=(*ADMIN, ("idempotency-key", "k2")))
    h2 = await env.runs.Create(by_header, metadata=(*ADMIN, ("idempotency-key", "k2")))
    assert h1.id == h2.id != first.id and env.control.requests[-1].script_version is None


async def test_wait_returns_finished_run(env: Env) -> None:
    run = await env.runs.Wait(
        runs_pb2.CreateRunRequest(script=runs_pb2.ScriptRef(code="return 42"), args=_value(["x"])),
        metadata=ADMIN,
    )
    assert run.status == "succeeded" and run.stdout == "hello\n" and run.duration_ms == 1.5
    assert _dict(run)["result"] == {"answer": 42, "args": ["x"]}
    assert _dict(run)["usage"] == {"prompt_tokens": 3, "completion_tokens": 4}
    failed = await env.runs.Wait(
        runs_pb2.CreateRunRequest(script=runs_pb2.ScriptRef(code="error('boom')")), metadata=ADMIN
    )
    assert failed.status == "failed"
    assert (failed.error.code, failed.error.message, _dict(failed.error)["details"]) == (
        "SCRIPT_ERROR",
        "boom",
        {"line": 3},
    )


async def test_stream_yields_every_event_until_end(env: Env) -> None:
    call = env.runs.Stream(
        runs_pb2.CreateRunRequest(script=runs_pb2.ScriptRef(code="return 1")), metadata=ADMIN
    )
    events = await _collect(call)
    assert [e.id for e in events] == [1, 2, 3, 4, 5]
    assert [e.event for e in events] == ["status", "status", "stdout", "result", "end"]
    assert _dict(events[3])["data"] == {"result": {"answer": 42, "args": []}}
    assert await call.code() == grpc.StatusCode.OK


async def test_events_replay_after_and_follow_live(env: Env) -> None:
    run = await env.runs.Create(
        runs_pb2.CreateRunRequest(script=runs_pb2.ScriptRef(code="x")), metadata=ADMIN
    )
    follower = asyncio.create_task(
        _collect(env.runs.Events(runs_pb2.RunEventsRequest(run_id=run.id), metadata=ADMIN))
    )
    await env.control.finish(run.id)
    live = await asyncio.wait_for(follower, 5)
    assert [(e.id, e.event) for e in live] == [
        (1, "status"),
        (2, "status"),
        (3, "stdout"),
        (4, "result"),
        (5, "end"),
    ]

    after = await _collect(env.runs.Events(runs_pb2.RunEventsRequest(run_id=run.id, after=3), metadata=ADMIN))
    assert [e.id for e in after] == [4, 5]
    by_header = await _collect(
        env.runs.Events(runs_pb2.RunEventsRequest(run_id=run.id), metadata=(*ADMIN, ("last-event-id", "4")))
    )
    assert [e.id for e in by_header] == [5]


async def test_events_without_follow_returns_what_exists(env: Env) -> None:
    run = await env.runs.Create(
        runs_pb2.CreateRunRequest(script=runs_pb2.ScriptRef(code="x")), metadata=ADMIN
    )
    events = await _collect(
        env.runs.Events(runs_pb2.RunEventsRequest(run_id=run.id, follow=False), metadata=ADMIN)
    )
    assert [(e.id, e.event) for e in events] == [(1, "status")]


async def test_client_hang_up_closes_the_subscription(env: Env) -> None:
    run = await env.runs.Create(
        runs_pb2.CreateRunRequest(script=runs_pb2.ScriptRef(code="x")), metadata=ADMIN
    )
    call = env.runs.Events(runs_pb2.RunEventsRequest(run_id=run.id), metadata=ADMIN)
    first = await call.read()
    assert first.id == 1
    call.cancel()
    deadline = asyncio.get_running_loop().time() + 5
    while env.control.closed_subscriptions == 0:
        assert asyncio.get_running_loop().time() < deadline, "the server kept the subscription open"
        await asyncio.sleep(0.01)


async def test_run_request_validation(env: Env) -> None:
    with pytest.raises(grpc.aio.AioRpcError) as missing:
        await env.runs.Create(runs_pb2.CreateRunRequest(), metadata=ADMIN)
    assert missing.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "script is required" in (missing.value.details() or "")
    with pytest.raises(grpc.aio.AioRpcError) as bad_args:
        await env.runs.Create(
            runs_pb2.CreateRunRequest(script=runs_pb2.ScriptRef(code="x"), args=_value("text")),
            metadata=ADMIN,
        )
    assert bad_args.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    with pytest.raises(grpc.aio.AioRpcError) as bad_header:
        await _collect(
            env.runs.Events(runs_pb2.RunEventsRequest(run_id="r"), metadata=(*ADMIN, ("last-event-id", "x")))
        )
    assert bad_header.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    with pytest.raises(grpc.aio.AioRpcError) as unknown:
        await _collect(env.runs.Events(runs_pb2.RunEventsRequest(run_id="nope"), metadata=ADMIN))
    assert unknown.value.code() == grpc.StatusCode.NOT_FOUND
    assert unknown.value.details() == "No run named 'nope'"


# Scripts, schedules, tools ---------------------------------------------------------------


async def test_scripts(env: Env) -> None:
    v1 = await env.scripts.Put(
        scripts_pb2.PutScriptRequest(name="hello", code="return 1", description="first"), metadata=ADMIN
    )
    v2 = await env.scripts.Put(scripts_pb2.PutScriptRequest(name="hello", code="return 2"), metadata=ADMIN)
    assert (v1.version, v2.version, v2.engine, v1.description) == (1, 2, "lua", "first")
    latest = await env.scripts.Get(scripts_pb2.GetScriptRequest(name="hello"), metadata=ADMIN)
    first = await env.scripts.Get(scripts_pb2.GetScriptRequest(name="hello", version=1), metadata=ADMIN)
    assert (latest.code, first.code) == ("return 2", "return 1")
    listing = await env.scripts.List(scripts_pb2.ListScriptsRequest(), metadata=ADMIN)
    assert [(s.name, s.version, s.HasField("code")) for s in listing.items] == [("hello", 2, False)]
    with pytest.raises(grpc.aio.AioRpcError) as syntax:
        await env.scripts.Put(scripts_pb2.PutScriptRequest(name="bad", code="x !! y"), metadata=ADMIN)
    assert syntax.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    trailing = dict(syntax.value.trailing_metadata() or ())
    assert trailing["llmspell-error-code"] == "VALIDATION"
    assert json.loads(trailing["llmspell-error-details"]) == {"line": 1}
    assert (
        await env.scripts.Delete(scripts_pb2.DeleteScriptRequest(name="hello"), metadata=ADMIN)
        == empty_pb2.Empty()
    )
    with pytest.raises(grpc.aio.AioRpcError) as gone:
        await env.scripts.Get(scripts_pb2.GetScriptRequest(name="hello"), metadata=ADMIN)
    assert gone.value.code() == grpc.StatusCode.NOT_FOUND


async def test_schedules(env: Env) -> None:
    await env.scripts.Put(scripts_pb2.PutScriptRequest(name="job", code="return 1"), metadata=ADMIN)
    spec = schedules_pb2.ScheduleSpec(
        name="nightly", script="job", cron="0 3 * * *", timezone="Europe/Oslo", args=_value({"n": 2})
    )
    created = await env.schedules.Create(spec, metadata=ADMIN)
    assert (created.name, created.script, created.cron, created.timezone, created.enabled) == (
        "nightly",
        "job",
        "0 3 * * *",
        "Europe/Oslo",
        True,
    )
    assert not created.HasField("interval_s") and _dict(created)["args"] == {"n": 2}
    with pytest.raises(grpc.aio.AioRpcError) as taken:
        await env.schedules.Create(spec, metadata=ADMIN)
    assert taken.value.code() == grpc.StatusCode.ALREADY_EXISTS

    ident = schedules_pb2.ScheduleIdRequest(id=created.id)
    assert await env.schedules.Get(ident, metadata=ADMIN) == created
    listing = await env.schedules.List(schedules_pb2.ListSchedulesRequest(), metadata=ADMIN)
    assert [s.id for s in listing.items] == [created.id]

    patch = schedules_pb2.UpdateScheduleRequest(
        id=created.id, patch=schedules_pb2.ScheduleSpec(overlap="queue")
    )
    updated = await env.schedules.Update(patch, metadata=ADMIN)
    assert (updated.overlap, updated.cron, updated.revision) == ("queue", "0 3 * * *", 2)

    assert (await env.schedules.Pause(ident, metadata=ADMIN)).enabled is False
    assert (await env.schedules.Resume(ident, metadata=ADMIN)).enabled is True

    run = await env.schedules.Trigger(ident, metadata=ADMIN)
    assert (run.status, run.schedule_id, run.script_name) == ("queued", created.id, "job")
    runs = await env.schedules.Runs(schedules_pb2.ScheduleRunsRequest(id=created.id), metadata=ADMIN)
    assert [r.id for r in runs.items] == [run.id]

    assert await env.schedules.Delete(ident, metadata=ADMIN) == empty_pb2.Empty()
    with pytest.raises(grpc.aio.AioRpcError) as gone:
        await env.schedules.Get(ident, metadata=ADMIN)
    assert gone.value.code() == grpc.StatusCode.NOT_FOUND


async def test_tools(env: Env) -> None:
    listing = await env.tools.List(tools_pb2.ListToolsRequest(), metadata=ADMIN)
    assert [(t.name, t.security_level, t.HasField("schema")) for t in listing.items] == [
        ("calculator", "safe", False),
        ("file-operations", "restricted", False),
    ]
    only = await env.tools.List(tools_pb2.ListToolsRequest(category="filesystem"), metadata=ADMIN)
    assert [t.name for t in only.items] == ["file-operations"]
    tool = await env.tools.Get(tools_pb2.GetToolRequest(name="calculator"), metadata=ADMIN)
    assert _dict(tool)["schema"] == {"type": "object", "properties": {"expression": {"type": "string"}}}

    params = _struct({"expression": "1+2", "precision": 3, "nested": {"flag": True, "xs": [1, 2.5]}})
    result = await env.tools.Invoke(
        tools_pb2.InvokeToolRequest(name="calculator", params=params), metadata=ADMIN
    )
    assert result.success and (result.operation, result.message) == ("evaluate", "ok")
    # Integral numbers reach the tool as int, not float.
    received = _dict(result)["result"]["params"]
    assert received == {"expression": "1+2", "precision": 3, "nested": {"flag": True, "xs": [1, 2.5]}}
    assert _dict(result)["metadata"] == {"tool": "calculator"} and not result.HasField("error")

    failed = await env.tools.Invoke(tools_pb2.InvokeToolRequest(name="calculator"), metadata=ADMIN)
    assert not failed.success and failed.error.code == "VALIDATION"
    with pytest.raises(grpc.aio.AioRpcError) as missing:
        await env.tools.Get(tools_pb2.GetToolRequest(name="nope"), metadata=ADMIN)
    assert missing.value.code() == grpc.StatusCode.NOT_FOUND


# Auth -------------------------------------------------------------------------------------

_ALL_SCOPES = (
    "runs:read",
    "runs:write",
    "scripts:read",
    "scripts:write",
    "schedules:read",
    "schedules:write",
    "tools:read",
    "tools:invoke",
)

# (service, method, request, scope): every RPC of the served services.
_RPCS: list[tuple[str, str, Any, str]] = [
    ("runs", "Create", runs_pb2.CreateRunRequest(script=runs_pb2.ScriptRef(code="x")), "runs:write"),
    ("runs", "Wait", runs_pb2.CreateRunRequest(script=runs_pb2.ScriptRef(code="x")), "runs:write"),
    ("runs", "Stream", runs_pb2.CreateRunRequest(script=runs_pb2.ScriptRef(code="x")), "runs:write"),
    ("runs", "Events", runs_pb2.RunEventsRequest(run_id="r"), "runs:read"),
    ("runs", "Get", runs_pb2.GetRunRequest(id="r"), "runs:read"),
    ("runs", "List", runs_pb2.ListRunsRequest(), "runs:read"),
    ("runs", "Cancel", runs_pb2.CancelRunRequest(id="r"), "runs:write"),
    ("scripts", "Put", scripts_pb2.PutScriptRequest(name="s", code="x"), "scripts:write"),
    ("scripts", "Get", scripts_pb2.GetScriptRequest(name="s"), "scripts:read"),
    ("scripts", "List", scripts_pb2.ListScriptsRequest(), "scripts:read"),
    ("scripts", "Delete", scripts_pb2.DeleteScriptRequest(name="s"), "scripts:write"),
    ("schedules", "Create", schedules_pb2.ScheduleSpec(name="n"), "schedules:write"),
    ("schedules", "Get", schedules_pb2.ScheduleIdRequest(id="s"), "schedules:read"),
    ("schedules", "List", schedules_pb2.ListSchedulesRequest(), "schedules:read"),
    ("schedules", "Update", schedules_pb2.UpdateScheduleRequest(id="s"), "schedules:write"),
    ("schedules", "Delete", schedules_pb2.ScheduleIdRequest(id="s"), "schedules:write"),
    ("schedules", "Pause", schedules_pb2.ScheduleIdRequest(id="s"), "schedules:write"),
    ("schedules", "Resume", schedules_pb2.ScheduleIdRequest(id="s"), "schedules:write"),
    ("schedules", "Trigger", schedules_pb2.ScheduleIdRequest(id="s"), "schedules:write"),
    ("schedules", "Runs", schedules_pb2.ScheduleRunsRequest(id="s"), "schedules:read"),
    ("tools", "List", tools_pb2.ListToolsRequest(), "tools:read"),
    ("tools", "Get", tools_pb2.GetToolRequest(name="calculator"), "tools:read"),
    ("tools", "Invoke", tools_pb2.InvokeToolRequest(name="calculator"), "tools:invoke"),
]


async def _status(env: Env, service: str, method: str, request: Any, metadata: Any) -> grpc.StatusCode:
    call = getattr(getattr(env, service), method)(request, metadata=metadata)
    try:
        if method in ("Stream", "Events"):
            await _collect(call)
        else:
            await call
    except grpc.aio.AioRpcError as exc:
        return exc.code()
    return grpc.StatusCode.OK


def test_every_served_rpc_is_in_the_scope_table() -> None:
    served = {
        f"{service.name}.{method.name}"
        for module in (runs_pb2, scripts_pb2, schedules_pb2, tools_pb2)
        for service in module.DESCRIPTOR.services_by_name.values()
        for method in service.methods
    }
    table = {f"{service.capitalize()}.{method}" for service, method, _, _ in _RPCS}
    assert table == served


@pytest.mark.parametrize(
    ("service", "method", "request_", "scope"), _RPCS, ids=[f"{s}.{m}" for s, m, _, _ in _RPCS]
)
async def test_scopes(env: Env, service: str, method: str, request_: Any, scope: str) -> None:
    for other in _ALL_SCOPES:
        code = await _status(env, service, method, request_, (("authorization", f"Bearer only-{other}"),))
        if other == scope:
            assert code != grpc.StatusCode.PERMISSION_DENIED, f"{other} should allow {service}.{method}"
        else:
            assert code == grpc.StatusCode.PERMISSION_DENIED, f"{other} should not allow {service}.{method}"


@pytest.mark.parametrize(
    ("service", "method", "request_", "scope"), _RPCS, ids=[f"{s}.{m}" for s, m, _, _ in _RPCS]
)
async def test_missing_or_wrong_key_is_unauthenticated(
    env: Env, service: str, method: str, request_: Any, scope: str
) -> None:
    assert await _status(env, service, method, request_, ()) == grpc.StatusCode.UNAUTHENTICATED
    wrong = (("authorization", "Bearer not-a-key"),)
    assert await _status(env, service, method, request_, wrong) == grpc.StatusCode.UNAUTHENTICATED


async def test_auth_metadata_forms(env: Env) -> None:
    request = runs_pb2.ListRunsRequest()
    assert await _status(env, "runs", "List", request, (("x-api-key", "reader"),)) == grpc.StatusCode.OK
    assert (
        await _status(env, "runs", "List", request, (("authorization", "bearer reader"),))
        == grpc.StatusCode.OK
    )
    with pytest.raises(grpc.aio.AioRpcError) as denied:
        await env.runs.Cancel(runs_pb2.CancelRunRequest(id="r"), metadata=(("x-api-key", "reader"),))
    assert denied.value.code() == grpc.StatusCode.PERMISSION_DENIED
    assert "runs:write" in (denied.value.details() or "")
    assert dict(denied.value.trailing_metadata() or ())["llmspell-error-code"] == "PERMISSION_DENIED"
    with pytest.raises(grpc.aio.AioRpcError) as missing:
        await env.runs.List(request)
    assert dict(missing.value.trailing_metadata() or ())["llmspell-error-code"] == "UNAUTHENTICATED"


async def test_no_keys_configured_means_anonymous_access(keyless: Env) -> None:
    page = await keyless.runs.List(runs_pb2.ListRunsRequest())
    assert list(page.items) == []


# Error mapping ----------------------------------------------------------------------------

_MAPPING = [
    ("VALIDATION", grpc.StatusCode.INVALID_ARGUMENT),
    ("NOT_FOUND", grpc.StatusCode.NOT_FOUND),
    ("CONFLICT", grpc.StatusCode.ALREADY_EXISTS),
    ("UNAUTHENTICATED", grpc.StatusCode.UNAUTHENTICATED),
    ("PERMISSION_DENIED", grpc.StatusCode.PERMISSION_DENIED),
    ("SANDBOX_VIOLATION", grpc.StatusCode.PERMISSION_DENIED),
    ("LIMIT_EXCEEDED", grpc.StatusCode.RESOURCE_EXHAUSTED),
    ("TIMEOUT", grpc.StatusCode.DEADLINE_EXCEEDED),
    ("CANCELLED", grpc.StatusCode.CANCELLED),
    ("CONFIG_ERROR", grpc.StatusCode.FAILED_PRECONDITION),
    ("PROVIDER_ERROR", grpc.StatusCode.UNAVAILABLE),
    ("STORAGE_ERROR", grpc.StatusCode.UNAVAILABLE),
    ("TOOL_ERROR", grpc.StatusCode.INTERNAL),
    ("SCRIPT_ERROR", grpc.StatusCode.INTERNAL),
    ("INTERNAL", grpc.StatusCode.INTERNAL),
]


@pytest.mark.parametrize(("code", "status"), _MAPPING)
async def test_error_mapping(env: Env, code: str, status: grpc.StatusCode) -> None:
    assert error_from_code(code, "x").code == code  # the error tree knows every code above
    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await env.runs.Get(runs_pb2.GetRunRequest(id=f"raise:{code}"), metadata=ADMIN)
    error = raised.value
    assert (error.code(), error.details()) == (status, f"{code} happened")
    trailing = dict(error.trailing_metadata() or ())
    assert trailing["llmspell-error-code"] == code
    assert json.loads(trailing["llmspell-error-details"]) == {"why": code.lower()}


async def test_foreign_exception_is_internal_without_leaking(
    env: Env, caplog: pytest.LogCaptureFixture
) -> None:
    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await env.runs.Get(runs_pb2.GetRunRequest(id="raise:PYTHON"), metadata=ADMIN)
    assert raised.value.code() == grpc.StatusCode.INTERNAL
    assert "secret" not in (raised.value.details() or "")
    assert dict(raised.value.trailing_metadata() or ())["llmspell-error-code"] == "INTERNAL"
    assert any("secret internal detail" in str(r.exc_info) for r in caplog.records if r.exc_info)


async def test_bad_record_is_internal(env: Env) -> None:
    env.control.runs["odd"] = {"id": 7, "status": "queued"}  # id must be a string
    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await env.runs.Get(runs_pb2.GetRunRequest(id="odd"), metadata=ADMIN)
    assert raised.value.code() == grpc.StatusCode.INTERNAL
    assert "cannot encode a Run record" in (raised.value.details() or "")


# Health, reflection, metrics, lifecycle -------------------------------------------------


async def test_health_serving_and_set_serving(env: Env) -> None:
    health = health_pb2_grpc.HealthStub(env.channel)
    for service in ("", *SERVICE_NAMES):
        answer = await health.Check(health_pb2.HealthCheckRequest(service=service))
        assert answer.status == health_pb2.HealthCheckResponse.SERVING, service
    await set_serving(env.server, False)
    answer = await health.Check(health_pb2.HealthCheckRequest(service="llmspell.v1.Runs"))
    assert answer.status == health_pb2.HealthCheckResponse.NOT_SERVING
    await set_serving(env.server, True)
    answer = await health.Check(health_pb2.HealthCheckRequest(service=""))
    assert answer.status == health_pb2.HealthCheckResponse.SERVING


async def test_reflection_lists_the_services(env: Env) -> None:
    stub = reflection_pb2_grpc.ServerReflectionStub(env.channel)

    async def requests() -> AsyncIterator[reflection_pb2.ServerReflectionRequest]:
        yield reflection_pb2.ServerReflectionRequest(list_services="")
        yield reflection_pb2.ServerReflectionRequest(file_containing_symbol="llmspell.v1.Runs")

    responses = [r async for r in stub.ServerReflectionInfo(requests())]
    names = {s.name for s in responses[0].list_services_response.service}
    assert names == {
        "llmspell.v1.Runs",
        "llmspell.v1.Scripts",
        "llmspell.v1.Schedules",
        "llmspell.v1.Tools",
        "llmspell.v1.Agents",
        "llmspell.v1.Sessions",
        "grpc.health.v1.Health",
        "grpc.reflection.v1alpha.ServerReflection",
    }
    assert responses[1].file_descriptor_response.file_descriptor_proto  # the schema is served too


async def test_metrics_record_method_and_code(env: Env) -> None:
    def count(method: str, code: str) -> float:
        labels = {"method": f"/llmspell.v1.{method}", "code": code}
        return REGISTRY.get_sample_value("llmspell_grpc_request_duration_seconds_count", labels) or 0.0

    before = (count("Runs/List", "OK"), count("Runs/Get", "NOT_FOUND"), count("Runs/Stream", "OK"))
    await env.runs.List(runs_pb2.ListRunsRequest(), metadata=ADMIN)
    with pytest.raises(grpc.aio.AioRpcError):
        await env.runs.Get(runs_pb2.GetRunRequest(id="nope"), metadata=ADMIN)
    await _collect(
        env.runs.Stream(runs_pb2.CreateRunRequest(script=runs_pb2.ScriptRef(code="x")), metadata=ADMIN)
    )
    after = (count("Runs/List", "OK"), count("Runs/Get", "NOT_FOUND"), count("Runs/Stream", "OK"))
    assert [b - a for a, b in zip(before, after, strict=True)] == [1.0, 1.0, 1.0]


async def test_taken_port_is_a_config_error(env: Env) -> None:
    from llmspell.core.errors import ConfigError

    auth = Authenticator(_KeyStore({}))  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="grpc_port"):
        await start_grpc_server(env.control, auth, "127.0.0.1", bound_port(env.server))


async def test_stop_reports_not_serving_then_stops(env: Env) -> None:
    health = health_pb2_grpc.HealthStub(env.channel)
    watch = health.Watch(health_pb2.HealthCheckRequest(service=""))
    assert (await watch.read()).status == health_pb2.HealthCheckResponse.SERVING
    await stop_grpc_server(env.server, grace=1.0)
    update = await watch.read()
    assert update is grpc.aio.EOF or update.status == health_pb2.HealthCheckResponse.NOT_SERVING
    with pytest.raises(LLMSpellError):
        await set_serving(grpc.aio.server(), True)

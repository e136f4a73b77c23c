"""The hook points issue 7 wired: each fires from the real component with the documented data,
and the results the docs promise (cancel, modified, retry, replace) act."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from fakes.llm_server import FakeLLMServer
from llmspell.agents import AgentConfig, LLMAgent
from llmspell.core.abc import Tool
from llmspell.core.config import ProviderConfig, Settings
from llmspell.core.context import ExecutionContext, Limits
from llmspell.core.errors import LimitExceeded
from llmspell.core.types import AgentInput
from llmspell.hooks import HookCancelled, HookContext, HookRegistry, HookResult, process_hooks
from llmspell.runtime.runner import RunOutcome, execute_script
from llmspell.tools.registry import ToolRegistry, default_registry
from llmspell.workflows import LocalHost, workflow_from_definition


def recorder(registry: HookRegistry, *points: str) -> list[tuple[str, Any]]:
    """Register a hook on each point that keeps ``(point, data)``."""
    seen: list[tuple[str, Any]] = []
    for point in points:
        registry.register(point, lambda c: seen.append((c.point, c.data)))
    return seen


def run_ctx(registry: HookRegistry, **limits: Any) -> ExecutionContext:
    ctx = ExecutionContext(limits=Limits(timeout_s=10, **limits))
    ctx.services["hooks"] = registry
    return ctx


async def lua(
    source: str,
    *,
    registry: HookRegistry | None = None,
    settings: Settings | None = None,
    limits: dict[str, Any] | None = None,
) -> RunOutcome:
    ctx = ExecutionContext(limits=Limits(**{"timeout_s": 10, "memory_mb": 32, **(limits or {})}))
    if registry is not None:
        ctx.services["hooks"] = registry
    return await execute_script(
        source,
        script_name="t.lua",
        ctx=ctx,
        settings_loader=(lambda: settings) if settings is not None else None,
    )


def fake_settings(fake: FakeLLMServer) -> Settings:
    return Settings(
        providers={"fake": ProviderConfig(type="openai", base_url=fake.base_url, api_key="sk", max_retries=0)}
    )


# Agents -------------------------------------------------------------------------------


async def test_agent_shutdown_on_replace_delete_and_run_end(fake_llm: FakeLLMServer) -> None:
    registry = HookRegistry(parent=process_hooks())
    seen = recorder(registry, "BeforeAgentShutdown", "AfterAgentShutdown")
    registry.register(
        "BeforeAgentShutdown",
        lambda c: HookResult.cancel("keep it") if c.data["agent"] == "keeper" else None,
    )
    outcome = await lua(
        """
        local function make(name) return Agent.create{name=name, model="fake/gpt-4o-mini"} end
        make("a")
        make("a")                          -- replaces the first "a"
        make("b")
        make("keeper")
        assert(Agent.delete("b"))
        local ok, err = pcall(Agent.delete, "keeper")
        local names = {}
        for _, info in ipairs(Agent.list()) do names[#names + 1] = info.name end
        return {ok = ok, code = err.code, names = names}
        """,
        registry=registry,
        settings=fake_settings(fake_llm),
    )
    assert outcome.error is None, outcome.error
    assert outcome.result == {"ok": False, "code": "CANCELLED", "names": ["a", "keeper"]}
    shutdowns = [(point, data["agent"], data["reason"], data["state"]) for point, data in seen]
    assert shutdowns[:4] == [
        ("BeforeAgentShutdown", "a", "replaced", "uninitialized"),
        ("AfterAgentShutdown", "a", "replaced", "terminated"),
        ("BeforeAgentShutdown", "b", "deleted", "uninitialized"),
        ("AfterAgentShutdown", "b", "deleted", "terminated"),
    ]
    # The refused delete fired Before only; at the end of the run both survivors go.
    assert shutdowns[4] == ("BeforeAgentShutdown", "keeper", "deleted", "uninitialized")
    assert shutdowns[5:] == [
        ("BeforeAgentShutdown", "a", "run_end", "uninitialized"),
        ("AfterAgentShutdown", "a", "run_end", "terminated"),
        ("BeforeAgentShutdown", "keeper", "run_end", "uninitialized"),
    ]


async def test_agent_shutdown_costs_nothing_without_hooks(fake_llm: FakeLLMServer) -> None:
    outcome = await lua(
        'local a = Agent.create{name="x", model="fake/gpt-4o-mini"}; Agent.delete("x"); return a:state()',
        settings=fake_settings(fake_llm),
    )
    assert outcome.error is None and outcome.result == "terminated"


# Workflows ----------------------------------------------------------------------------


def flaky_workflow(failures: int, strategy: str = "fail_fast") -> tuple[Any, list[int]]:
    calls: list[int] = []

    def flaky(ctx: dict[str, Any]) -> str:
        calls.append(1)
        if len(calls) <= failures:
            from llmspell.core.errors import ToolError

            raise ToolError("transient")
        return "three"

    wf = workflow_from_definition(
        {
            "type": "sequential",
            "name": "pipe",
            "error_strategy": strategy,
            "steps": [
                {"name": "one", "fn": lambda c: "one"},
                {"name": "two", "fn": lambda c: "two"},
                {"name": "three", "fn": flaky},
            ],
        }
    )
    return wf, calls


async def test_workflow_checkpoints_and_rollback_retry() -> None:
    registry = HookRegistry()
    seen = recorder(registry, "WorkflowCheckpoint", "WorkflowRollback")
    registry.register("WorkflowRollback", lambda c: HookResult.retry(delay_ms=1, max_attempts=3))
    wf, calls = flaky_workflow(failures=2)
    result = await wf.execute("in", run_ctx(registry), host=LocalHost())
    assert result["success"] and result["output"] == "three" and result["errors"] == []
    assert len(calls) == 3
    points = [(p, d["step"], d.get("index"), d.get("attempt")) for p, d in seen]
    assert points == [
        ("WorkflowCheckpoint", "one", 1, None),
        ("WorkflowCheckpoint", "two", 2, None),
        ("WorkflowRollback", "three", None, 1),
        ("WorkflowRollback", "three", None, 2),
        ("WorkflowCheckpoint", "three", 3, None),
    ]
    checkpoint = seen[1][1]
    assert checkpoint["outputs"] == {"one": "one", "two": "two"} and checkpoint["execution_id"]
    rollback = seen[2][1]
    assert rollback["checkpoint"] == {"step": "two", "index": 2}
    assert rollback["outputs"] == {"one": "one", "two": "two"}  # the failed step's record is not in it
    assert rollback["error"]["code"] == "TOOL_ERROR"


async def test_workflow_rollback_gives_up_and_checkpoint_cancel_stops() -> None:
    registry = HookRegistry()
    registry.register("WorkflowRollback", lambda c: HookResult.retry(max_attempts=2))
    wf, calls = flaky_workflow(failures=5)
    result = await wf.execute(None, run_ctx(registry), host=LocalHost())
    assert not result["success"] and len(calls) == 2
    assert [e["step"] for e in result["errors"]] == ["three"]
    assert result["outputs"] == {"one": "one", "two": "two", "three": None}

    # Under "continue" a failing step does not stop the list: no rollback.
    rollbacks = recorder(registry, "WorkflowRollback")
    wf, calls = flaky_workflow(failures=5, strategy="continue")
    await wf.execute(None, run_ctx(registry), host=LocalHost())
    assert rollbacks == [] and len(calls) == 1

    # A cancel answer (or none) leaves the failure as it is.
    refusing = HookRegistry()
    refusing.register("WorkflowRollback", lambda c: HookResult.cancel("no rollback"))
    wf, calls = flaky_workflow(failures=5)
    result = await wf.execute(None, run_ctx(refusing), host=LocalHost())
    assert not result["success"] and len(calls) == 1 and result["errors"][0]["code"] == "TOOL_ERROR"

    stopping = HookRegistry()
    stopping.register(
        "WorkflowCheckpoint", lambda c: HookResult.cancel("enough") if c.data["step"] == "one" else None
    )
    wf, calls = flaky_workflow(failures=0)
    result = await wf.execute(None, run_ctx(stopping), host=LocalHost())
    assert not result["success"] and calls == []
    assert result["errors"][0]["code"] == "CANCELLED" and result["errors"][0]["message"] == "enough"


# Events -------------------------------------------------------------------------------


async def test_event_points_from_lua_publish() -> None:
    registry = HookRegistry()
    seen = recorder(registry, "BeforeEventEmit", "AfterEventEmit")
    registry.register(
        "BeforeEventEmit",
        lambda c: (
            HookResult.cancel("no secrets")
            if c.data["type"] == "secret.x"
            else HookResult.modified({**c.data, "data": {"n": c.data["data"]["n"] * 10}})
        ),
    )
    outcome = await lua(
        """
        local sub = Event.subscribe("order.*")
        local id = Event.publish("order.created", {n = 4})
        local got = Event.receive(sub, 1000)
        local ok, err = pcall(Event.publish, "secret.x", {n = 1})
        return {id = id, n = got.data.n, ok = ok, code = err.code}
        """,
        registry=registry,
    )
    assert outcome.error is None, outcome.error
    assert (
        outcome.result["n"] == 40 and outcome.result["ok"] is False and outcome.result["code"] == "CANCELLED"
    )
    after = [d for p, d in seen if p == "AfterEventEmit"]
    assert len(after) == 1 and after[0]["id"] == outcome.result["id"] and after[0]["data"] == {"n": 40}
    assert [d["type"] for p, d in seen if p == "BeforeEventEmit"] == ["order.created", "secret.x"]


async def test_event_handler_error_retry_and_replace() -> None:
    registry = HookRegistry()
    seen = recorder(registry, "EventHandlerError")

    def answer(ctx: HookContext) -> HookResult:
        return HookResult.replace(None) if ctx.data["data"] == "drop" else HookResult.retry(max_attempts=2)

    registry.register("EventHandlerError", answer)
    outcome = await lua(
        """
        local sub = Event.subscribe("full.*", {capacity = 1, overflow = "fail"})
        Event.publish("full.a", "first")
        local dropped = Event.publish("full.b", "drop")          -- refused, a hook drops it
        local ok, err = pcall(Event.publish, "full.c", "again")  -- refused twice, then raised
        return {dropped = dropped == nil, ok = ok, code = err.code}
        """,
        registry=registry,
    )
    assert outcome.error is None, outcome.error
    assert outcome.result == {"dropped": True, "ok": False, "code": "LIMIT_EXCEEDED"}
    assert [(d["type"], d["error"]["code"]) for _, d in seen] == [
        ("full.b", "LIMIT_EXCEEDED"),
        ("full.c", "LIMIT_EXCEEDED"),
        ("full.c", "LIMIT_EXCEEDED"),
    ]


async def test_component_events_go_through_the_event_points() -> None:
    from llmspell.events import open_event_bus

    bus = open_event_bus(None)
    sub = await bus.subscribe("tool.*")
    registry = HookRegistry()
    registry.register(
        "BeforeEventEmit", lambda c: HookResult.cancel("quiet") if c.data["type"] == "tool.started" else None
    )
    ctx = run_ctx(registry)
    ctx.services["event_bus"] = bus
    await ToolRegistry(parent=default_registry()).invoke("calculator", {"input": "1+1"}, ctx)
    event = await sub.receive(1.0)
    assert event is not None and event.type == "tool.completed"  # tool.started was cancelled, not the tool
    await bus.aclose()


# Limits and security ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("source", "limits", "limit", "value"),
    [
        ("while true do end", {"instruction_budget": 200_000}, "instruction_budget", 200_000),
        ('for i = 1, 100 do print(("x"):rep(100)) end', {"output_bytes": 1000}, "output_bytes", 1000),
        ("local t = {} for i = 1, 1e8 do t[i] = i end", {"memory_mb": 8}, "memory_mb", 8),
        ("while true do end", {"timeout_s": 0.2}, "timeout_s", 0.2),
    ],
)
async def test_run_limits_fire_resource_limit_exceeded(
    source: str, limits: dict[str, Any], limit: str, value: Any
) -> None:
    registry = HookRegistry(parent=process_hooks())
    # A process hook: the script is stopped, so its own hooks cannot be relied on.
    seen = recorder(process_hooks(), "ResourceLimitExceeded")
    outcome = await lua(source, registry=registry, limits=limits)
    assert outcome.error is not None and outcome.error.code in ("LIMIT_EXCEEDED", "TIMEOUT")
    assert len(seen) == 1, seen
    data = seen[0][1]
    assert (data["limit"], data["value"], data["code"]) == (limit, value, outcome.error.code)
    assert data["component"] == {"type": "script", "name": "t.lua"}


async def test_agent_tool_call_limit_fires_before_the_error(fake_llm: FakeLLMServer) -> None:
    for _ in range(3):
        fake_llm.push_tool_calls([{"name": "calculator", "arguments": {"input": "1+1"}}])
    registry = HookRegistry()
    seen = recorder(registry, "ResourceLimitExceeded")
    agent = LLMAgent(
        AgentConfig(name="looper", model="fake/gpt-4o-mini", tools=("calculator",), max_tool_calls=1),
        tools=ToolRegistry(parent=default_registry()),
        settings=fake_settings(fake_llm),
    )
    with pytest.raises(LimitExceeded):
        await agent.execute(AgentInput(text="loop"), run_ctx(registry))
    assert len(seen) == 1
    data = seen[0][1]
    assert (data["limit"], data["value"], data["component"]) == (
        "tool_calls",
        1,
        {"type": "agent", "name": "looper"},
    )


async def test_sandbox_refusals_fire_security_violation(tmp_path: Any) -> None:
    outcome = await lua(
        """
        local seen = {}
        Hook.register("SecurityViolation", function(ctx)
          seen[#seen + 1] = ctx.data.kind .. ":" .. ctx.data.message
          return {action = "cancel", reason = "ignored: the refusal stands"}
        end)
        local ok1, e1 = pcall(function() return io.open("/etc/passwd") end)
        local ok2, e2 = pcall(load, "\\27Lua")
        local ok3, e3 = pcall(Tool.execute, "file-operations", {operation = "read", path = "/etc/passwd"})
        return {seen = seen, codes = {e1.code, e2.code, e3.code}, oks = {ok1, ok2, ok3}}
        """
    )
    assert outcome.error is None, outcome.error
    result = outcome.result
    assert result["codes"] == ["SANDBOX_VIOLATION"] * 3 and result["oks"] == [False] * 3
    assert result["seen"][:2] == [
        "script:io is not available in the sandbox",
        "script:binary chunks cannot be loaded",
    ]
    assert len(result["seen"]) == 3 and result["seen"][2].startswith("file:")


async def test_a_violation_that_ends_the_run_is_reported_once() -> None:
    seen = recorder(process_hooks(), "SecurityViolation")
    outcome = await lua('return Tool.execute("file-operations", {operation = "read", path = "/etc/passwd"})')
    assert outcome.error is not None and outcome.error.code == "SANDBOX_VIOLATION"
    assert len(seen) == 1 and seen[0][1]["component"] == {"type": "tool", "name": "file-operations"}

    seen.clear()
    outcome = await lua("return debug.traceback()")
    assert outcome.error is not None and outcome.error.code == "SANDBOX_VIOLATION"
    assert [d["message"] for _, d in seen] == ["debug is not available in the sandbox"]


# Performance and memory ---------------------------------------------------------------


class Napper(Tool):
    name = "napper"
    category = "test"
    description = "Sleeps 50 ms"
    schema: dict[str, Any] = {"type": "object", "properties": {}}

    async def invoke(self, params: dict[str, Any], ctx: ExecutionContext) -> Any:
        await asyncio.sleep(0.05)
        return "rested"


async def test_slow_calls_fire_performance_threshold(fake_llm: FakeLLMServer) -> None:
    registry = HookRegistry()
    seen = recorder(registry, "PerformanceThresholdExceeded")
    ctx = run_ctx(registry, slow_call_ms=30)
    fake_llm.set_latency(60)
    agent = LLMAgent(AgentConfig(name="slow", model="fake/gpt-4o-mini"), settings=fake_settings(fake_llm))
    await agent.execute(AgentInput(text="hi"), ctx)
    tools = ToolRegistry(parent=default_registry())
    tools.register(Napper())
    await tools.invoke("calculator", {"input": "1+1"}, ctx)  # fast: nothing fires
    await tools.invoke("napper", {}, ctx)
    wf = workflow_from_definition(
        {"type": "sequential", "name": "w", "steps": [{"name": "nap", "fn": lambda c: asyncio.sleep(0.05)}]}
    )
    await wf.execute(None, ctx, host=LocalHost())
    kinds = [(d["type"], d["name"]) for _, d in seen]
    assert kinds == [("llm", "fake/gpt-4o-mini"), ("agent", "slow"), ("tool", "napper"), ("workflow", "w")]
    assert all(d["duration_ms"] > 30 and d["threshold_ms"] == 30 and not d["failed"] for _, d in seen)
    assert seen[3][1]["step"] == "nap"

    seen.clear()
    await agent.execute(AgentInput(text="hi"), run_ctx(registry, slow_call_ms=None))
    assert seen == []


async def test_lua_memory_high_fires_once() -> None:
    outcome = await lua(
        """
        local seen = {}
        Hook.register("MemoryUsageHigh", function(ctx) seen[#seen + 1] = ctx.data end)
        local t = {}
        for i = 1, 60000 do t[i] = {i} end   -- ~ 5 MB of 16
        Tool.execute("calculator", {input = "1"})  -- an await: the hook task gets its turn
        return seen
        """,
        limits={"memory_mb": 16, "memory_high_fraction": 0.25},
    )
    assert outcome.error is None, outcome.error
    assert len(outcome.result) == 1
    data = outcome.result[0]
    assert data["kind"] == "script" and data["limit_mb"] == 16 and data["used_mb"] > 4


async def test_daemon_memory_watch_fires_on_process_rss() -> None:
    from llmspell.hooks._fire import process_rss_mb, watch_memory

    rss = process_rss_mb()
    assert rss is not None and rss > 1
    fired = asyncio.Event()
    seen = recorder(process_hooks(), "MemoryUsageHigh")
    process_hooks().register("MemoryUsageHigh", lambda c: fired.set())
    task = asyncio.create_task(watch_memory(1.0, "r1", interval_s=0.01))
    try:
        await asyncio.wait_for(fired.wait(), 5)
    finally:
        task.cancel()
    data = seen[0][1]
    assert data["kind"] == "process" and data["rss_mb"] > 1 and data["replica"] == "r1"


# Configuration ------------------------------------------------------------------------


async def test_admin_hook_changes_fire_configuration_change() -> None:
    from llmspell.server.routes.hooks import RegisterBody, register_hook, unregister_hook

    seen = recorder(process_hooks(), "ConfigurationChange")

    def policy(ctx: HookContext) -> HookResult | None:
        value = ctx.data["value"]
        if ctx.data["action"] == "add" and value["name"] == "debug":
            return HookResult.cancel("no debug hooks in production")
        if ctx.data["action"] == "add":
            return HookResult.modified({**ctx.data, "value": {**value, "priority": "lowest"}})
        return None

    process_hooks().register("ConfigurationChange", policy)
    with pytest.raises(HookCancelled, match="no debug hooks"):
        await register_hook(RegisterBody(name="debug"))
    created = await register_hook(RegisterBody(name="metrics", points=["BeforeToolExecution"]))
    item = created["items"][0]
    assert item["priority"] == 100  # the hook changed the body
    await unregister_hook(item["id"])
    assert process_hooks().get(item["id"]) is None
    assert [(d["section"], d["action"]) for _, d in seen] == [
        ("hooks", "add"),
        ("hooks", "add"),
        ("hooks", "remove"),
    ]
    assert seen[2][1]["value"]["id"] == item["id"]

"""Hook registry: results of every kind on real tool calls, priorities, breaker, history."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest
from llmspell.core.context import ExecutionContext
from llmspell.core.errors import LimitExceeded, ToolError, ValidationError
from llmspell.hooks import (
    POINTS,
    CircuitBreaker,
    HookCancelled,
    HookContext,
    HookHistory,
    HookRegistry,
    HookResult,
    hook,
    hooks_for,
    invoke,
    normalize_point,
    process_hooks,
    replay,
)
from llmspell.tools import default_registry


def run_ctx(registry: HookRegistry | None = None) -> ExecutionContext:
    ctx = ExecutionContext()
    if registry is not None:
        ctx.services["hooks"] = registry
    return ctx


async def calc(expr: str, ctx: ExecutionContext) -> Any:
    envelope = await default_registry().invoke("calculator", {"input": expr}, ctx)
    return envelope["result"]["value"]


def test_points_cover_every_component() -> None:
    assert len(POINTS) >= 40
    assert normalize_point("before_tool_execution") == "BeforeToolExecution"
    assert normalize_point("after_llm_request") == "AfterLLMRequest"
    assert normalize_point("custom:mine") == "custom:mine"
    with pytest.raises(ValidationError, match="unknown hook point"):
        normalize_point("BeforeToolExecutoin")


async def test_nothing_registered_means_no_dispatch() -> None:
    assert hooks_for(run_ctx()) is None
    assert hooks_for(run_ctx(HookRegistry(parent=process_hooks()))) is None
    handle = process_hooks().register("SessionStart", lambda c: None)
    assert hooks_for(run_ctx(HookRegistry(parent=process_hooks()))) is not None
    handle.unregister()


async def test_modified_changes_the_tool_input() -> None:
    reg = HookRegistry()
    reg.register("BeforeToolExecution", lambda c: HookResult.modified({**c.data, "params": {"input": "6*7"}}))
    assert await calc("1+1", run_ctx(reg)) == 42


async def test_modified_after_changes_the_output() -> None:
    reg = HookRegistry()

    def double(c: HookContext) -> HookResult:
        result = dict(c.data["result"])
        result["result"] = {"value": c.data["result"]["result"]["value"] * 2}
        return HookResult.modified({**c.data, "result": result})

    reg.register("AfterToolExecution", double)
    assert await calc("2+3", run_ctx(reg)) == 10


async def test_cancel_raises_cancelled_to_the_caller() -> None:
    reg = HookRegistry()
    reg.register("BeforeToolExecution", lambda c: HookResult.cancel("not today"))
    with pytest.raises(HookCancelled) as info:
        await calc("1+1", run_ctx(reg))
    assert info.value.code == "CANCELLED"
    assert info.value.message == "not today"


async def test_replace_skips_the_call() -> None:
    reg = HookRegistry()
    reg.register("BeforeToolExecution", lambda c: HookResult.replace({"result": {"value": "cached"}}))
    assert await calc("1/0", run_ctx(reg)) == "cached"


async def test_redirect_calls_another_tool() -> None:
    reg = HookRegistry()
    seen: list[str] = []
    reg.register(
        "BeforeToolExecution", lambda c: seen.append(c.component[1]) or HookResult.redirect("calculator")
    )
    envelope = await default_registry().invoke("calculator", {"input": "3*3"}, run_ctx(reg))
    assert envelope["result"]["value"] == 9
    assert envelope["metadata"]["tool"] == "calculator"
    with pytest.raises(Exception, match="No tool named 'nope'"):
        reg.clear()
        reg.register("BeforeToolExecution", lambda c: HookResult.redirect("nope"))
        await calc("1", run_ctx(reg))


async def test_retry_on_error_runs_the_call_again() -> None:
    reg = HookRegistry()
    attempts: list[int] = []

    def fix(c: HookContext) -> HookResult:
        attempts.append(c.attempt)
        return HookResult.retry(delay_ms=1, max_attempts=3)

    reg.register("ToolError", fix)
    with pytest.raises(ValidationError):
        await default_registry().invoke("calculator", {"input": 5}, run_ctx(reg))
    assert attempts == [1, 2, 3]


async def test_error_point_may_recover_with_replace() -> None:
    reg = HookRegistry()
    reg.register("ToolError", lambda c: HookResult.replace({"recovered": c.data["error"]["code"]}))
    assert await default_registry().invoke("calculator", {"input": 5}, run_ctx(reg)) == {
        "recovered": "VALIDATION"
    }


async def test_cache_answers_the_second_call_from_the_cache() -> None:
    reg = HookRegistry()
    reg.register("BeforeToolExecution", lambda c: HookResult.cache(key=c.data["params"]["input"], ttl_s=60))
    calls: list[int] = []
    reg.register("AfterToolExecution", lambda c: calls.append(1))
    ctx = run_ctx(reg)
    assert await calc("2+2", ctx) == 4
    assert await calc("2+2", ctx) == 4
    assert calls == [1]  # the second call never ran


async def test_fork_also_runs_the_branches() -> None:
    reg = HookRegistry()
    seen: list[str] = []

    def fork(c: HookContext) -> HookResult | None:
        if c.data["params"]["input"] == "1+1":
            return HookResult.fork([{"tool": "calculator", "params": {"input": "2+2"}}])
        return None

    reg.register("BeforeToolExecution", fork)
    reg.register("AfterToolExecution", lambda c: seen.append(c.data["params"]["input"]))
    assert await calc("1+1", run_ctx(reg)) == 2
    assert sorted(seen) == ["1+1"]  # branches run the bare call, without re-entering the hooks


async def test_skipped_and_continue_let_the_chain_go_on() -> None:
    reg = HookRegistry()
    order: list[str] = []
    reg.register("BeforeToolExecution", lambda c: order.append("a") or HookResult.skipped())
    reg.register("BeforeToolExecution", lambda c: order.append("b") or "continue")
    assert await calc("1+1", run_ctx(reg)) == 2
    assert order == ["a", "b"]


async def test_priorities_order_execution_across_layers() -> None:
    order: list[str] = []
    process_hooks().register("BeforeToolExecution", lambda c: order.append("process-normal"))
    reg = HookRegistry(parent=process_hooks())
    reg.register("BeforeToolExecution", lambda c: order.append("low"), priority="low")
    reg.register("BeforeToolExecution", lambda c: order.append("first"), priority=-1000)
    reg.register("BeforeToolExecution", lambda c: order.append("normal-2"))
    reg.register("BeforeToolExecution", lambda c: order.append("high"), priority="high")
    await calc("1+1", run_ctx(reg))
    assert order == ["first", "high", "process-normal", "normal-2", "low"]
    assert [h["priority"] for h in reg.list("BeforeToolExecution")] == [-1000, -50, 0, 0, 50]


async def test_async_hooks_and_decorator() -> None:
    @hook("BeforeToolExecution", priority="high")
    async def lower(c: HookContext) -> HookResult:
        await asyncio.sleep(0)
        return HookResult.modified({**c.data, "params": {"input": "7*6"}})

    assert await calc("0", run_ctx()) == 42
    assert process_hooks().list()[0]["name"] == "lower"


async def test_failing_hook_is_skipped_and_policy_errors_pass_through() -> None:
    reg = HookRegistry()

    def broken(c: HookContext) -> None:
        raise RuntimeError("bug in hook")

    reg.register("BeforeToolExecution", broken)
    assert await calc("1+1", run_ctx(reg)) == 2
    assert reg.list()[0]["breaker"]["errors"] == 1

    def budget(c: HookContext) -> None:
        raise LimitExceeded("budget spent")

    reg.register("BeforeToolExecution", budget)
    with pytest.raises(LimitExceeded):
        await calc("1+1", run_ctx(reg))


async def test_slow_hook_is_opened_then_comes_back_half_open() -> None:
    reg = HookRegistry(budget_s=0.02, failure_threshold=2, reset_s=0.2)
    delay = [0.05]
    calls: list[float] = []

    async def slow(c: HookContext) -> None:
        calls.append(time.monotonic())
        await asyncio.sleep(delay[0])

    handle = reg.register("BeforeToolExecution", slow)
    ctx = run_ctx(reg)
    await calc("1+1", ctx)
    await calc("1+1", ctx)
    assert handle.breaker.state == "open"
    await calc("1+1", ctx)
    assert len(calls) == 2  # skipped while open
    deadline = time.monotonic() + 5
    while handle.breaker.state != "half_open":
        assert time.monotonic() < deadline, "breaker never went half-open"
        await asyncio.sleep(0.01)
    delay[0] = 0.0
    await calc("1+1", ctx)  # the half-open trial runs, is fast, and closes the breaker
    assert len(calls) == 3
    assert handle.breaker.state == "closed"
    assert reg.list()[0]["breaker"]["slow"] == 2


def test_breaker_guards_a_dependency() -> None:
    now = [0.0]
    breaker = CircuitBreaker("dep", failure_threshold=1, reset_s=10, clock=lambda: now[0])
    with pytest.raises(ToolError), breaker.guard():
        raise ToolError("down")
    with pytest.raises(Exception, match="paused by its circuit breaker"), breaker.guard():
        pass
    now[0] = 11
    with breaker.guard():
        pass
    assert breaker.state == "closed"


async def test_invoke_for_components_and_custom_points() -> None:
    ctx = run_ctx()
    untouched = await invoke("BeforeStateWrite", ("state", "global"), {"key": "k", "value": 1}, ctx)
    assert (untouched.kind, untouched.data) == ("continue", {"key": "k", "value": 1})
    process_hooks().register("custom:audit", lambda c: HookResult.modified({"seen": c.data}))
    result = await invoke("custom:audit", ("workflow", "w"), 5, ctx)
    assert (result.kind, result.data) == ("modified", {"seen": 5})
    process_hooks().register("BeforeStateWrite", lambda c: HookResult.cancel("read-only"))
    with pytest.raises(HookCancelled):
        await invoke("BeforeStateWrite", ("state", "global"), {}, ctx)


async def test_history_records_changes_with_correlation_and_replays() -> None:
    sink: list[dict[str, Any]] = []
    reg = HookRegistry(history=HookHistory(sink=sink.append))
    reg.register("BeforeToolExecution", lambda c: HookResult.modified({**c.data, "params": {"input": "2*2"}}))
    reg.register("AfterToolExecution", lambda c: None)  # continue: not recorded
    ctx = run_ctx(reg)
    await calc("1+1", ctx)
    records = reg.history.records(ctx.correlation_id)  # type: ignore[union-attr]
    assert len(records) == 1 and sink[0]["point"] == "BeforeToolExecution"
    assert records[0].input["params"] == {"input": "1+1"}
    assert records[0].result["action"] == "modified"
    outcome = await replay(records[0], reg)
    assert outcome.same

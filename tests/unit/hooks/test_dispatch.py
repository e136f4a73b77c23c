"""Hook dispatch: the synchronous fast path, resolved-chain caching, breaker accounting."""

from __future__ import annotations

import asyncio
from dataclasses import replace

import pytest
from llmspell.core.context import ExecutionContext
from llmspell.core.errors import LimitExceeded
from llmspell.hooks import HookCancelled, HookContext, HookRegistry, HookResult, process_hooks
from llmspell.tools import default_registry

POINT = "BeforeToolExecution"
COMPONENT = ("tool", "calculator")


def test_sync_chain_answers_without_a_coroutine() -> None:
    reg = HookRegistry()
    seen: list[int] = []
    reg.register(POINT, lambda c: seen.append(1))
    reg.register(POINT, lambda c: HookResult.modified({**c.data, "n": 2}))
    reg.register(POINT, lambda c: seen.append(c.data["n"]) or "continue")
    outcome = reg.dispatch(POINT, COMPONENT, {"n": 1})
    assert isinstance(outcome, HookResult)
    assert (outcome.kind, outcome.data, seen) == ("modified", {"n": 2}, [1, 2])
    assert reg.dispatch(POINT, COMPONENT, {"n": 1}) is not None
    assert HookRegistry().dispatch(POINT, COMPONENT, {}) is None  # nothing registered
    untouched = HookRegistry()
    untouched.register(POINT, lambda c: None)
    assert untouched.dispatch(POINT, COMPONENT, {}) is None  # every hook continued


def test_async_hook_that_does_not_suspend_is_stepped_synchronously() -> None:
    reg = HookRegistry()

    async def quick(c: HookContext) -> HookResult:
        return HookResult.modified({"quick": True})

    handle = reg.register(POINT, quick)
    assert handle.is_async
    outcome = reg.dispatch(POINT, COMPONENT, {})
    assert isinstance(outcome, HookResult) and outcome.data == {"quick": True}
    assert handle.breaker.calls == 1


async def test_suspending_hook_hands_over_to_the_loop_and_the_chain_goes_on() -> None:
    reg = HookRegistry()
    order: list[str] = []

    async def slow(c: HookContext) -> HookResult:
        order.append("slow-start")
        await asyncio.sleep(0.001)
        order.append("slow-end")
        return HookResult.modified({**c.data, "slow": True})

    reg.register(POINT, lambda c: order.append("first"))
    slow_handle = reg.register(POINT, slow)
    reg.register(POINT, lambda c: order.append(f"last:{c.data.get('slow')}"))
    outcome = reg.dispatch(POINT, COMPONENT, {})
    assert not isinstance(outcome, HookResult) and outcome is not None
    assert order == ["first", "slow-start"]  # stepped once already, like `await` would
    result = await outcome
    assert order == ["first", "slow-start", "slow-end", "last:True"]
    assert result is not None and result.data == {"slow": True}
    assert slow_handle.breaker.calls == 1 and slow_handle.breaker.total_s >= 0.001


async def test_failures_in_sync_and_async_hooks_are_counted_and_skipped() -> None:
    reg = HookRegistry()

    def broken(c: HookContext) -> None:
        raise RuntimeError("bug")

    async def broken_later(c: HookContext) -> None:
        await asyncio.sleep(0)
        raise RuntimeError("bug after a suspension")

    first = reg.register(POINT, broken)
    second = reg.register(POINT, broken_later)
    third = reg.register(POINT, lambda c: "not an action")  # coerce_result refuses it
    reg.register(POINT, lambda c: HookResult.modified("reached"))
    result = await reg.run(POINT, COMPONENT, {})
    assert result.data == "reached"
    assert [h.breaker.errors for h in (first, second, third)] == [1, 1, 1]

    def budget(c: HookContext) -> None:
        raise LimitExceeded("spent")

    reg.register(POINT, budget, priority="highest")
    with pytest.raises(LimitExceeded):
        reg.dispatch(POINT, COMPONENT, {})


def test_cancel_raises_from_the_synchronous_path() -> None:
    reg = HookRegistry()
    reg.register(POINT, lambda c: HookResult.cancel("no"))
    with pytest.raises(HookCancelled, match="no"):
        reg.dispatch(POINT, COMPONENT, {})


def test_open_breaker_is_skipped_then_a_success_closes_it() -> None:
    reg = HookRegistry(failure_threshold=1, reset_s=0.0)
    calls: list[int] = []
    fail = [True]

    def flaky(c: HookContext) -> None:
        calls.append(1)
        if fail[0]:
            raise RuntimeError("down")

    handle = reg.register(POINT, flaky)
    reg.dispatch(POINT, COMPONENT, {})
    assert handle.breaker._state == "open"
    fail[0] = False
    reg.dispatch(POINT, COMPONENT, {})  # reset_s=0: the half-open trial runs and succeeds
    assert handle.breaker.state == "closed" and len(calls) == 2
    assert handle.breaker._failures == 0


def test_resolved_chains_follow_changes_in_the_registry_and_its_parent() -> None:
    parent = HookRegistry()
    child = HookRegistry(parent=parent)
    points = ("BeforeToolExecution", "AfterToolExecution")
    assert child.chains(points) == ((), ()) and not child.active(points)
    handle = parent.register("AfterToolExecution", lambda c: None)
    assert child.chain("AfterToolExecution") == (handle,)
    assert child.active(points) and child.chains(points)[1] == (handle,)
    mine = child.register("AfterToolExecution", lambda c: None, priority="high")
    assert child.chain("AfterToolExecution") == (mine, handle)
    handle.unregister()
    assert child.chains(points) == ((), (mine,))
    child.clear()
    assert not child.active(points)


def test_hook_context_takes_positions_or_names_and_copies() -> None:
    by_position = HookContext(POINT, COMPONENT, {"a": 1}, "corr", "run", 2, None)
    by_name = HookContext(
        point=POINT, component=COMPONENT, data={"a": 1}, correlation_id="corr", run_id="run", attempt=2
    )
    assert by_position == by_name and replace(by_name, attempt=3).attempt == 3
    assert by_position.to_dict()["component"] == {"type": "tool", "name": "calculator"}


async def test_tool_points_fire_only_where_hooks_listen() -> None:
    """Each layer of the tool path is added only for points with hooks, in any combination."""
    tools = default_registry()
    reg = HookRegistry(parent=process_hooks())
    ctx = ExecutionContext()
    ctx.services["hooks"] = reg
    seen: list[str] = []
    reg.register("SessionStart", lambda c: None)  # the registry is live, no tool point is
    envelope = await tools.invoke("calculator", {"input": "2+2"}, ctx)
    assert envelope["result"]["value"] == 4
    reg.register("AfterToolExecution", lambda c: seen.append(c.point))
    reg.register("ToolError", lambda c: HookResult.replace({"recovered": True}))
    assert (await tools.invoke("calculator", {"input": "1+1"}, ctx))["result"]["value"] == 2
    assert await tools.invoke("calculator", {"input": "1/"}, ctx) == {"recovered": True}
    reg.register("ToolValidation", lambda c: HookResult.modified({**c.data, "params": {"input": "5*5"}}))
    assert (await tools.invoke("calculator", {"input": "1+1"}, ctx))["result"]["value"] == 25
    assert seen == ["AfterToolExecution", "AfterToolExecution"]

"""Hook dispatch: the synchronous fast path, resolved-chain caching, breaker accounting."""

from __future__ import annotations

import asyncio
from dataclasses import replace

import pytest
from llmspell.core.context import ExecutionContext
from llmspell.core.errors import LimitExceeded
from llmspell.hooks import HookCancelled, HookContext, HookRegistry, HookResult, process_hooks
from llmspell.hooks import registry as hook_registry
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


class FakeClock:
    """Stands in for the registry's clock: hooks "take" time by advancing it."""

    def __init__(self) -> None:
        self.now = 0.0
        self.reads = 0

    def __call__(self) -> float:
        self.reads += 1
        return self.now


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> FakeClock:
    fake = FakeClock()
    monkeypatch.setattr(hook_registry, "_clock", fake)
    return fake


def test_plain_hooks_answering_none_share_one_clock_pair(clock: FakeClock) -> None:
    reg = HookRegistry()

    def quick(c: HookContext) -> None:
        clock.now += 0.0001

    handles = [reg.register(POINT, quick) for _ in range(5)]
    assert reg.dispatch(POINT, COMPONENT, {}) is None
    assert clock.reads == 2
    for handle in handles:  # each gets the call and an even share of the group's time
        assert handle.breaker.calls == 1 and handle.breaker.total_s == pytest.approx(0.0001)
        assert handle.info()["breaker"]["avg_ms"] == pytest.approx(0.1)

    async def coro_hook(c: HookContext) -> None:
        return None

    timed = reg.register(POINT, coro_hook)  # not a plain function: timed on its own
    clock.reads = 0
    assert reg.dispatch(POINT, COMPONENT, {}) is None
    assert clock.reads == 3 and timed.breaker.calls == 1


def test_a_slow_hook_in_a_group_is_still_counted_and_opened(clock: FakeClock) -> None:
    """A group over 1 ms is timed hook by hook from the next call: the slow hook is opened
    one call later than alone, and its fast neighbours are not blamed."""
    reg = HookRegistry(failure_threshold=2, reset_s=60)
    ran: list[str] = []

    def fast(c: HookContext) -> None:
        ran.append("fast")

    def slow(c: HookContext) -> None:
        ran.append("slow")
        clock.now += 2.0  # over the default 1 s budget

    first = reg.register(POINT, fast)
    laggard = reg.register(POINT, slow)
    last = reg.register(POINT, fast)
    for _ in range(3):
        reg.dispatch(POINT, COMPONENT, {})
    assert laggard.breaker.state == "open" and laggard.breaker.slow == 2
    ran.clear()
    reg.dispatch(POINT, COMPONENT, {})
    assert ran == ["fast", "fast"]  # skipped while open
    for handle in (first, last):
        breaker = handle.breaker
        assert (breaker.state, breaker.calls, breaker.slow, breaker.errors) == ("closed", 4, 0, 0)
    assert not first.timed and first.groupable  # back in a group after a quick call alone


def test_a_failed_plain_hook_is_timed_alone_until_it_succeeds(clock: FakeClock) -> None:
    reg = HookRegistry()
    fail = [True]

    def flaky(c: HookContext) -> None:
        if fail[0]:
            raise RuntimeError("down")

    handle = reg.register(POINT, flaky)
    follower = reg.register(POINT, lambda c: None)
    assert not handle.timed
    reg.dispatch(POINT, COMPONENT, {})
    assert handle.breaker.errors == 1 and handle.timed and follower.breaker.calls == 1
    fail[0] = False
    reg.dispatch(POINT, COMPONENT, {})
    assert handle.breaker._failures == 0 and not handle.timed
    assert (handle.breaker.calls, follower.breaker.calls) == (2, 2)

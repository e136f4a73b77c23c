"""A streamed agent execution fires the hook points of ``execute`` (docs/hooks.md, "Streamed
executions"), against the fake LLM server."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest
from fakes.llm_server import FakeLLMServer
from llmspell.agents import AgentConfig, LLMAgent
from llmspell.core.config import ProviderConfig, Settings
from llmspell.core.context import ExecutionContext, Limits
from llmspell.core.errors import LimitExceeded, ProviderError
from llmspell.core.types import AgentInput
from llmspell.hooks import HookCancelled, HookContext, HookRegistry, HookResult
from llmspell.runtime.runner import execute_script
from llmspell.tools.registry import ToolRegistry, default_registry

POINTS = (
    "BeforeAgentInit",
    "AfterAgentInit",
    "BeforeAgentExecution",
    "BeforeLLMRequest",
    "AfterLLMRequest",
    "AfterAgentExecution",
    "AgentError",
)


def fake_settings(fake: FakeLLMServer) -> Settings:
    return Settings(
        providers={"fake": ProviderConfig(type="openai", base_url=fake.base_url, api_key="sk", max_retries=0)}
    )


def make_agent(fake: FakeLLMServer, name: str = "helper", **config: Any) -> LLMAgent:
    tools = ToolRegistry(parent=default_registry()) if config.get("tools") else None
    return LLMAgent(
        AgentConfig(name=name, model="fake/gpt-4o-mini", **config), tools=tools, settings=fake_settings(fake)
    )


def hooked(registry: HookRegistry, **limits: Any) -> ExecutionContext:
    ctx = ExecutionContext(limits=Limits(timeout_s=10, **limits))
    ctx.services["hooks"] = registry
    return ctx


def recorder(registry: HookRegistry, *points: str) -> list[tuple[str, Any]]:
    seen: list[tuple[str, Any]] = []
    for point in points:
        registry.register(point, lambda c: seen.append((c.point, c.data)))
    return seen


async def deltas(stream: AsyncIterator[str], pause_s: float = 0.0) -> list[str]:
    out: list[str] = []
    async for delta in stream:
        out.append(delta)
        if pause_s:
            await asyncio.sleep(pause_s)
    return out


async def test_stream_fires_the_points_of_execute_with_the_same_data(fake_llm: FakeLLMServer) -> None:
    registry = HookRegistry()
    seen = recorder(registry, *POINTS)
    output = await make_agent(fake_llm).execute(AgentInput(text="hello there"), hooked(registry))
    executed, seen[:] = list(seen), []
    agent = make_agent(fake_llm)
    streamed = await deltas(agent.stream(AgentInput(text="hello there"), hooked(registry)))
    assert len(streamed) > 1 and "".join(streamed) == output.text == "Echo: hello there"
    assert [point for point, _ in seen] == [point for point, _ in executed] == list(POINTS[:-1])
    for (point, data), (_, expected) in zip(seen, executed, strict=True):
        if point == "AfterAgentExecution":
            assert data.keys() == expected.keys() and data["result"].keys() == expected["result"].keys()
            assert data["result"]["text"] == expected["result"]["text"]
        else:
            assert data == expected, point
    assert agent.last_output is not None and agent.last_output.text == "Echo: hello there"


async def test_before_agent_execution_redacts_and_cancels_streams(fake_llm: FakeLLMServer) -> None:
    registry = HookRegistry()

    def guard(c: HookContext) -> HookResult | None:
        text = c.data["input"]["text"]
        if "secret" in text:
            return HookResult.cancel("no secrets")
        return HookResult.modified(
            {**c.data, "input": {**c.data["input"], "text": text.replace("555", "***")}}
        )

    registry.register("BeforeAgentExecution", guard)
    agent = make_agent(fake_llm)
    text = "".join(await deltas(agent.stream(AgentInput(text="call 555 now"), hooked(registry))))
    assert text == "Echo: call *** now"
    assert fake_llm.requests[-1]["messages"][-1]["content"] == "call *** now"

    with pytest.raises(HookCancelled):
        await deltas(agent.stream(AgentInput(text="the secret"), hooked(registry)))
    assert len(fake_llm.requests) == 1  # the model was not called
    assert agent.state == "ready" and len(agent.history()) == 2


async def test_replace_and_cache_answer_a_stream_without_the_model(fake_llm: FakeLLMServer) -> None:
    registry = HookRegistry()
    handle = registry.register("BeforeAgentExecution", lambda c: HookResult.replace({"text": "from a hook"}))
    agent = make_agent(fake_llm)
    assert await deltas(agent.stream(AgentInput(text="hi"), hooked(registry))) == ["from a hook"]
    assert agent.last_output is not None and agent.last_output.text == "from a hook"
    assert agent.last_output.metadata["changed_by_hook"] is True
    assert fake_llm.requests == []

    handle.unregister()
    registry.register("BeforeAgentExecution", lambda c: HookResult.cache(c.data["input"]["text"], 60))
    first = await deltas(agent.stream(AgentInput(text="a b c"), hooked(registry)))
    again = await deltas(agent.stream(AgentInput(text="a b c"), hooked(registry)))
    assert len(first) > 1 and again == ["Echo: a b c"] and len(fake_llm.requests) == 1
    # execute and stream share the cache entry (same key, same result shape)
    output = await agent.execute(AgentInput(text="a b c"), hooked(registry))
    assert output.text == "Echo: a b c" and len(fake_llm.requests) == 1


async def test_fork_runs_branches_beside_the_stream(fake_llm: FakeLLMServer) -> None:
    registry = HookRegistry()
    registry.register(
        "BeforeAgentExecution",
        lambda c: HookResult(kind="fork", branches=({**c.data, "input": {"text": "branch"}},)),
    )
    agent = make_agent(fake_llm)
    text = "".join(await deltas(agent.stream(AgentInput(text="main"), hooked(registry))))
    assert text == "Echo: main"
    assert sorted(r["messages"][-1]["content"] for r in fake_llm.requests) == ["branch", "main"]
    assert agent.last_output is not None and agent.last_output.text == "Echo: main"


async def test_a_forked_branch_is_not_the_last_output_of_a_failed_stream(fake_llm: FakeLLMServer) -> None:
    registry = HookRegistry()
    failed = asyncio.Event()

    async def hold_branch(c: HookContext) -> None:
        if c.data["messages"][-1]["content"] == "branch":
            await failed.wait()  # the branch ends after the main stream failed

    registry.register(
        "BeforeAgentExecution",
        lambda c: HookResult.fork([{**c.data, "input": {"text": "branch"}}]),
    )
    registry.register("BeforeLLMRequest", hold_branch)
    registry.register("AgentError", lambda c: failed.set())
    agent = make_agent(fake_llm)
    fake_llm.fail_next(500)
    with pytest.raises(ProviderError):
        await deltas(agent.stream(AgentInput(text="main"), hooked(registry)))
    assert [r["messages"][-1]["content"] for r in fake_llm.requests] == ["main", "branch"]
    assert agent.last_output is None


async def test_after_agent_execution_changes_the_output_not_the_sent_deltas(fake_llm: FakeLLMServer) -> None:
    registry = HookRegistry()
    registry.register(
        "AfterAgentExecution",
        lambda c: HookResult.modified(
            {**c.data, "result": {**c.data["result"], "text": c.data["result"]["text"].upper()}}
        ),
    )
    agent = make_agent(fake_llm)
    text = "".join(await deltas(agent.stream(AgentInput(text="hi"), hooked(registry))))
    assert text == "Echo: hi"
    assert agent.last_output is not None and agent.last_output.text == "ECHO: HI"
    assert agent.last_output.metadata["changed_by_hook"] is True


async def test_agent_error_retries_only_what_did_not_go_out(fake_llm: FakeLLMServer) -> None:
    registry = HookRegistry()
    errors = recorder(registry, "AgentError")
    registry.register("AgentError", lambda c: HookResult.retry(max_attempts=2))
    fake_llm.fail_next(500)
    agent = make_agent(fake_llm)
    text = "".join(await deltas(agent.stream(AgentInput(text="hi"), hooked(registry))))
    assert text == "Echo: hi" and len(errors) == 1
    assert errors[0][1]["error"]["code"] == "PROVIDER_ERROR"

    # A failure after deltas went out is not retried: the reader would see the answer twice.
    def second_delta_fails(c: HookContext) -> None:
        if c.data["text"] != "Echo: ":
            raise LimitExceeded("too many tokens")

    registry.register("LLMTokenStream", second_delta_fails)
    errors.clear()
    got: list[str] = []
    with pytest.raises(LimitExceeded):
        async for delta in agent.stream(AgentInput(text="again"), hooked(registry)):
            got.append(delta)
    assert got == ["Echo: "] and len(errors) == 1 and len(fake_llm.requests) == 3


async def test_llm_request_points_act_on_each_streamed_round(fake_llm: FakeLLMServer) -> None:
    registry = HookRegistry()
    seen = recorder(registry, "BeforeLLMRequest", "AfterLLMRequest")

    def rewrite(c: HookContext) -> HookResult:
        messages = [dict(m) for m in c.data["messages"]]
        if messages[-1]["role"] == "user":
            messages[-1]["content"] = messages[-1]["content"].replace("2+2", "3+3")
        return HookResult.modified({**c.data, "messages": messages})

    registry.register("BeforeLLMRequest", rewrite)
    agent = make_agent(fake_llm, tools=("calculator",))
    text = "".join(await deltas(agent.stream(AgentInput(text="calc: 2+2"), hooked(registry))))
    assert text.startswith("The answer is") and '"3+3"' in text
    assert [point for point, _ in seen] == ["BeforeLLMRequest", "AfterLLMRequest"] * 2
    assert seen[1][1]["result"] == {"text": "", "finish_reason": "tool_calls"}
    assert seen[3][1]["result"] == {"text": text, "finish_reason": "stop"}

    registry.register("BeforeLLMRequest", lambda c: HookResult.replace({"text": "canned"}))
    before = len(fake_llm.requests)
    assert await deltas(make_agent(fake_llm).stream(AgentInput(text="hi"), hooked(registry))) == ["canned"]
    assert len(fake_llm.requests) == before


async def test_watchers_observe_the_whole_stream(fake_llm: FakeLLMServer) -> None:
    registry = HookRegistry()
    slow = recorder(registry, "PerformanceThresholdExceeded")
    limits = recorder(registry, "ResourceLimitExceeded")
    fake_llm.set_latency(60)
    await deltas(
        make_agent(fake_llm, name="slow").stream(AgentInput(text="hi"), hooked(registry, slow_call_ms=30))
    )
    assert [(d["type"], d["name"]) for _, d in slow] == [("llm", "fake/gpt-4o-mini"), ("agent", "slow")]
    assert all(d["duration_ms"] > 30 and not d["failed"] for _, d in slow)

    # The reader's time between deltas is not the call's.
    fake_llm.set_latency(0)
    slow.clear()
    stream = make_agent(fake_llm).stream(AgentInput(text="a b c d"), hooked(registry, slow_call_ms=150))
    assert len(await deltas(stream, pause_s=0.06)) >= 4
    assert slow == []

    for _ in range(2):
        fake_llm.push_tool_calls([{"name": "calculator", "arguments": {"input": "1+1"}}])
    looper = make_agent(fake_llm, name="looper", tools=("calculator",), max_tool_calls=1)
    with pytest.raises(LimitExceeded):
        await deltas(looper.stream(AgentInput(text="loop"), hooked(registry)))
    assert [(d["limit"], d["value"], d["component"]) for _, d in limits] == [
        ("tool_calls", 1, {"type": "agent", "name": "looper"})
    ]


async def test_a_script_hook_applies_to_agent_stream(fake_llm: FakeLLMServer) -> None:
    registry = HookRegistry()
    ctx = ExecutionContext(limits=Limits(timeout_s=10, memory_mb=32))
    ctx.services["hooks"] = registry
    outcome = await execute_script(
        """
        Hook.register("BeforeAgentExecution", function(ctx)
          local input = ctx.data.input
          input.text = string.gsub(input.text, "%d", "#")
          return {action = "modified", data = ctx.data}
        end)
        local a = Agent.create{name = "x", model = "fake/gpt-4o-mini"}
        local parts = {}
        for chunk in a:stream("pin 1234") do parts[#parts + 1] = chunk end
        return table.concat(parts)
        """,
        script_name="t.lua",
        ctx=ctx,
        settings_loader=lambda: fake_settings(fake_llm),
    )
    assert outcome.error is None, outcome.error
    assert outcome.result == "Echo: pin ####"

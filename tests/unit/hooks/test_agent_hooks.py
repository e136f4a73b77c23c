"""Agent and LLM hook points on a real agent against the fake LLM server."""

from __future__ import annotations

import asyncio

import pytest
from fakes.llm_server import FakeLLMServer
from llmspell.agents import AgentConfig, LLMAgent
from llmspell.core.config import ProviderConfig, Settings
from llmspell.core.context import ExecutionContext
from llmspell.core.errors import ProviderError
from llmspell.core.types import AgentInput
from llmspell.hooks import HookContext, HookRegistry, HookResult
from llmspell.tools.registry import ToolRegistry, default_registry


def agent(fake_llm: FakeLLMServer, tools: tuple[str, ...] = ()) -> LLMAgent:
    settings = Settings(
        providers={
            "fake": ProviderConfig(type="openai", base_url=fake_llm.base_url, api_key="sk", max_retries=0)
        }
    )
    return LLMAgent(
        AgentConfig(name="helper", model="fake/gpt-4o-mini", tools=tools),
        settings=settings,
        tools=ToolRegistry(parent=default_registry()) if tools else None,
    )


async def test_agent_and_llm_points_fire_and_act(fake_llm: FakeLLMServer) -> None:
    reg = HookRegistry()
    seen: list[str] = []
    for point in (
        "BeforeAgentInit",
        "AfterAgentInit",
        "BeforeAgentExecution",
        "AfterAgentExecution",
        "BeforeLLMRequest",
        "AfterLLMRequest",
    ):
        reg.register(point, lambda c: seen.append(c.point))

    def rewrite(c: HookContext) -> HookResult:
        messages = [dict(m) for m in c.data["messages"]]
        messages[-1]["content"] = "rewritten"
        return HookResult.modified({**c.data, "messages": messages})

    reg.register("BeforeLLMRequest", rewrite)
    reg.register(
        "AfterAgentExecution",
        lambda c: HookResult.modified(
            {**c.data, "result": {**c.data["result"], "text": c.data["result"]["text"].upper()}}
        ),
    )
    ctx = ExecutionContext()
    ctx.services["hooks"] = reg
    output = await agent(fake_llm).execute(AgentInput(text="hello"), ctx)
    assert output.text == "ECHO: REWRITTEN"
    assert seen == [
        "BeforeAgentInit",
        "AfterAgentInit",
        "BeforeAgentExecution",
        "BeforeLLMRequest",
        "AfterLLMRequest",
        "AfterAgentExecution",
    ]


async def test_replace_skips_the_model_call(fake_llm: FakeLLMServer) -> None:
    reg = HookRegistry()
    reg.register("BeforeLLMRequest", lambda c: HookResult.replace({"text": "from cache"}))
    ctx = ExecutionContext()
    ctx.services["hooks"] = reg
    output = await agent(fake_llm).execute(AgentInput(text="hello"), ctx)
    assert output.text == "from cache"
    assert fake_llm.requests == []


async def test_token_stream_hook_changes_deltas(fake_llm: FakeLLMServer) -> None:
    reg = HookRegistry()
    reg.register("LLMTokenStream", lambda c: HookResult.modified({**c.data, "text": c.data["text"].upper()}))
    ctx = ExecutionContext()
    ctx.services["hooks"] = reg
    text = "".join([delta async for delta in agent(fake_llm).stream(AgentInput(text="hello"), ctx)])
    assert text == "ECHO: HELLO"


def forking(reg: HookRegistry, release: str) -> None:
    """A BeforeAgentExecution fork to the input "a longer branch", whose model call waits
    for the main call to reach ``release`` (AfterAgentExecution or AgentError): the
    branch ends after the main call, whatever the server's timing."""
    over = asyncio.Event()

    async def hold_branch(c: HookContext) -> None:
        if c.data["messages"][-1]["content"] == "a longer branch":
            await over.wait()

    reg.register(
        "BeforeAgentExecution",
        lambda c: HookResult.fork([{**c.data, "input": {"text": "a longer branch"}}]),
    )
    reg.register("BeforeLLMRequest", hold_branch)
    reg.register(release, lambda c: over.set())


async def test_a_forked_branch_is_not_the_output_of_execute(fake_llm: FakeLLMServer) -> None:
    plain = await agent(fake_llm).execute(AgentInput(text="main"), ExecutionContext())
    fake_llm.reset()
    reg = HookRegistry()
    forking(reg, "AfterAgentExecution")
    ctx = ExecutionContext()
    ctx.services["hooks"] = reg
    forked = agent(fake_llm)
    output = await forked.execute(AgentInput(text="main"), ctx)
    asked = [r["messages"][-1]["content"] for r in fake_llm.requests]
    assert asked == ["main", "a longer branch"]  # the branch ran, after the main call
    assert output.text == "Echo: main" and output.usage == plain.usage
    assert "changed_by_hook" not in output.metadata
    assert forked.last_output is output


async def test_a_forked_branch_is_not_the_last_output_of_a_failed_execute(fake_llm: FakeLLMServer) -> None:
    reg = HookRegistry()
    forking(reg, "AgentError")
    ctx = ExecutionContext()
    ctx.services["hooks"] = reg
    forked = agent(fake_llm)
    fake_llm.fail_next(500)
    with pytest.raises(ProviderError):
        await forked.execute(AgentInput(text="main"), ctx)
    assert [r["messages"][-1]["content"] for r in fake_llm.requests] == ["main", "a longer branch"]
    assert forked.last_output is None


async def test_a_forked_model_call_is_not_the_answer_execute_acts_on(fake_llm: FakeLLMServer) -> None:
    # A pooled connection: the main call's request goes out before the branch's.
    await agent(fake_llm).execute(AgentInput(text="warm up"), ExecutionContext())
    fake_llm.reset()
    reg = HookRegistry()

    def fork(c: HookContext) -> HookResult | None:
        last = c.data["messages"][-1]
        if last["content"] != "calc: 2+2":
            return None
        return HookResult.fork([{**c.data, "messages": [*c.data["messages"][:-1], {**last, "content": "x"}]}])

    reg.register("BeforeLLMRequest", fork)
    fake_llm.push_tool_calls([{"name": "calculator", "arguments": {"input": "2+2"}}])
    fake_llm.push_text("from the branch", latency_ms=200)  # the second request (the branch's) ends last
    ctx = ExecutionContext()
    ctx.services["hooks"] = reg
    output = await agent(fake_llm, tools=("calculator",)).execute(AgentInput(text="calc: 2+2"), ctx)
    assert [r["messages"][-1]["content"] for r in fake_llm.requests][:2] == ["calc: 2+2", "x"]
    assert [call.name for call in output.tool_calls] == ["calculator"]
    assert output.text.startswith("The answer is") and "from the branch" not in output.text

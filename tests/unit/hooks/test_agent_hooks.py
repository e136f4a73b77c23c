"""Agent and LLM hook points on a real agent against the fake LLM server."""

from __future__ import annotations

from fakes.llm_server import FakeLLMServer
from llmspell.agents import AgentConfig, LLMAgent
from llmspell.core.config import ProviderConfig, Settings
from llmspell.core.context import ExecutionContext
from llmspell.core.types import AgentInput
from llmspell.hooks import HookContext, HookRegistry, HookResult


def agent(fake_llm: FakeLLMServer) -> LLMAgent:
    settings = Settings(
        providers={
            "fake": ProviderConfig(type="openai", base_url=fake_llm.base_url, api_key="sk", max_retries=0)
        }
    )
    return LLMAgent(AgentConfig(name="helper", model="fake/gpt-4o-mini"), settings=settings)


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

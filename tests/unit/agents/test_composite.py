"""Composite agents (delegate, pipeline) from Python and from Lua, against the fake LLM server."""

from __future__ import annotations

from typing import Any

import pytest
from fakes.llm_server import FakeLLMServer
from llmspell.agents import AgentConfig, DelegateAgent, LLMAgent, PipelineAgent
from llmspell.core.config import Settings
from llmspell.core.context import ExecutionContext
from llmspell.core.errors import NotFound, ValidationError
from llmspell.core.types import AgentInput


def agent(fake_llm: FakeLLMServer, name: str, prompt: str | None = None) -> LLMAgent:
    config = AgentConfig(
        name=name, model="openai/fake", base_url=fake_llm.base_url, api_key="sk-test", system_prompt=prompt
    )
    return LLMAgent(config, settings=Settings())


@pytest.fixture
def run_lua() -> Any:
    from llmspell.core.context import Limits
    from llmspell.runtime.runner import execute_script

    async def run(source: str) -> Any:
        ctx = ExecutionContext(limits=Limits(timeout_s=10, memory_mb=64, output_bytes=200_000))
        return await execute_script(source, script_name="t.lua", ctx=ctx)

    return run


async def test_pipeline_feeds_each_answer_to_the_next(fake_llm: FakeLLMServer) -> None:
    pipeline = PipelineAgent(
        "chain", [agent(fake_llm, "one"), agent(fake_llm, "two"), agent(fake_llm, "three")]
    )
    output = await pipeline.execute(AgentInput(text="hi"), ExecutionContext())
    assert output.text == "Echo: Echo: Echo: hi"
    assert [r["messages"][-1]["content"] for r in fake_llm.requests] == ["hi", "Echo: hi", "Echo: Echo: hi"]
    assert output.metadata["members"] == ["one", "two", "three"]
    assert output.usage.prompt_tokens > 0 and output.cost is None  # no price for "fake": unknown, not 0
    assert pipeline.history() == [
        {"role": "user", "content": "hi"},
        {"role": "assistant", "content": "Echo: Echo: Echo: hi"},
    ]
    assert pipeline.state == "ready"


async def test_pipeline_streams_the_last_member(fake_llm: FakeLLMServer) -> None:
    pipeline = PipelineAgent("chain", [agent(fake_llm, "one"), agent(fake_llm, "two")])
    deltas = [d async for d in pipeline.stream(AgentInput(text="a b c"), ExecutionContext())]
    assert len(deltas) > 1 and "".join(deltas) == "Echo: Echo: a b c"
    assert pipeline.last_output is not None and pipeline.last_output.text == "Echo: Echo: a b c"
    assert pipeline.last_output.metadata["members"] == ["one", "two"]


async def test_delegate_routes_by_name_function_and_router_agent(fake_llm: FakeLLMServer) -> None:
    math, poet = agent(fake_llm, "math", "M"), agent(fake_llm, "poet", "P")
    by_name = DelegateAgent("desk", [math, poet], default="math")
    await by_name.execute(AgentInput(text="ask the poet about rain"), ExecutionContext())
    assert fake_llm.requests[-1]["messages"][0]["content"] == "P"
    await by_name.execute(AgentInput(text="no name here"), ExecutionContext())
    assert fake_llm.requests[-1]["messages"][0]["content"] == "M"

    by_function = DelegateAgent(
        "desk2", [math, poet], router=lambda req: "poet" if "?" in req.text else "math"
    )
    await by_function.execute(AgentInput(text="why?"), ExecutionContext())
    assert fake_llm.requests[-1]["messages"][0]["content"] == "P"

    fake_llm.push_text("poet")
    by_agent = DelegateAgent("desk3", [math, poet], router=agent(fake_llm, "router"))
    output = await by_agent.execute(AgentInput(text="write a verse"), ExecutionContext())
    assert "one of: math, poet" in fake_llm.requests[-2]["messages"][-1]["content"]
    assert fake_llm.requests[-1]["messages"][0]["content"] == "P" and output.text == "Echo: write a verse"
    assert output.metadata["members"] == ["poet"]


async def test_delegate_errors(fake_llm: FakeLLMServer) -> None:
    members = [agent(fake_llm, "a"), agent(fake_llm, "b")]
    with pytest.raises(ValidationError, match="default 'c' is not a member"):
        DelegateAgent("d", members, default="c")
    with pytest.raises(ValidationError, match="distinct names"):
        PipelineAgent("p", [members[0], members[0]])
    with pytest.raises(ValidationError, match="at least one member"):
        PipelineAgent("p", [])
    wrong = DelegateAgent("d", members, router=lambda req: "zed")
    with pytest.raises(NotFound, match="chose 'zed'"):
        await wrong.execute(AgentInput(text="x"), ExecutionContext())
    assert wrong.state == "error"
    assert wrong.recover() == "ready"


async def test_composite_lifecycle_refuses_when_paused(fake_llm: FakeLLMServer) -> None:
    pipeline = PipelineAgent("chain", [agent(fake_llm, "one")])
    pipeline.start()
    pipeline.pause()
    with pytest.raises(ValidationError, match="'chain' is paused"):
        await pipeline.execute(AgentInput(text="x"), ExecutionContext())
    pipeline.resume()
    assert (await pipeline.execute(AgentInput(text="x"), ExecutionContext())).text == "Echo: x"
    pipeline.terminate()
    with pytest.raises(ValidationError, match="terminated"):
        await pipeline.execute(AgentInput(text="x"), ExecutionContext())


async def test_lua_pipeline_and_delegate(run_lua: Any, fake_llm: FakeLLMServer) -> None:
    source = f"""
    local function make(name, prompt)
      return Agent.create{{name = name, model = "openai/fake", base_url = "{fake_llm.base_url}",
                          api_key = "sk-test", system_prompt = prompt}}
    end
    local one, two = make("one", "A"), make("two", "B")
    local chain = Agent.pipeline{{name = "chain", agents = {{one, "two"}}}}
    local piped = chain:execute("hi")
    local desk = Agent.delegate{{name = "desk", agents = {{one, two}},
      router = function(input) if input.text:find("second") then return "two" end return "one" end}}
    local routed = desk:execute("the second one please")
    local chunks = {{}}
    for chunk in chain:stream("x y") do chunks[#chunks + 1] = chunk end
    local found = {{}}
    for _, info in ipairs(Agent.discover("delegate")) do found[#found + 1] = info.name end
    local ok, err = pcall(Agent.pipeline, {{name = "bad", agents = {{"ghost"}}}})
    return {{piped = piped.text, members = piped.metadata.members, routed = routed.metadata.members[1],
             streamed = table.concat(chunks), found = found, err = err.code, state = chain:state()}}
    """
    outcome = await run_lua(source)
    assert outcome.error is None, outcome.error
    result = outcome.result
    assert result["piped"] == "Echo: Echo: hi" and result["members"] == ["one", "two"]
    assert result["routed"] == "two" and result["streamed"] == "Echo: Echo: x y"
    assert result["found"] == ["desk"] and result["err"] == "NOT_FOUND" and result["state"] == "ready"

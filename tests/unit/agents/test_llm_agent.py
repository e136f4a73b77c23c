"""LLMAgent against the fake server, over the direct httpx path and the litellm path."""

from __future__ import annotations

import asyncio
import json
import threading
import time
from typing import Any

import pytest
from fakes.llm_server import FakeLLMServer
from llmspell.agents import AgentConfig, LLMAgent
from llmspell.core.config import Settings
from llmspell.core.context import ExecutionContext, Limits
from llmspell.core.errors import Cancelled, ConfigError, LimitExceeded, Timeout, ValidationError
from llmspell.core.types import AgentInput, MediaContent

from .conftest import Toolbox


def make_agent(
    settings: Settings, toolbox: Toolbox | None, provider: str = "fake", **fields: Any
) -> LLMAgent:
    fields.setdefault("name", "helper")
    fields.setdefault("model", f"{provider}/gpt-4o-mini")
    return LLMAgent(AgentConfig(**fields), tools=toolbox, settings=settings)


def ctx(**limits: Any) -> ExecutionContext:
    return ExecutionContext(limits=Limits(**limits)) if limits else ExecutionContext()


# -- the loop, on both wire paths ---------------------------------------------------------


async def test_text_answer_usage_cost_and_state(settings: Settings, provider: str) -> None:
    agent = make_agent(settings, None, provider, system_prompt="Be brief.")
    assert agent.state == "uninitialized"
    output = await agent.execute(AgentInput(text="hello"), ctx())
    assert output.text == "Echo: hello"
    assert output.finish_reason == "stop"
    assert output.usage.total_tokens > 0
    assert output.cost is not None and output.cost > 0
    assert output.model == f"{provider}/gpt-4o-mini"
    assert output.metadata["llm_calls"] == 1
    assert agent.state == "ready"


async def test_single_tool_call(
    settings: Settings, toolbox: Toolbox, fake_llm: FakeLLMServer, provider: str
) -> None:
    agent = make_agent(settings, toolbox, provider, tools=("calculator",))
    output = await agent.execute(AgentInput(text="calc: 2+3"), ctx())
    assert output.text == "The answer is 5"
    assert [(c.name, c.arguments, c.result) for c in output.tool_calls] == [
        ("calculator", {"input": "2+3"}, 5)
    ]
    assert output.metadata["llm_calls"] == 2
    first, second = fake_llm.requests
    assert output.usage.prompt_tokens > 0 and len(second["messages"]) == 3
    assert second["messages"][1]["tool_calls"][0]["function"]["name"] == "calculator"
    tool_message = second["messages"][2]
    assert tool_message["role"] == "tool"
    assert tool_message["tool_call_id"] == second["messages"][1]["tool_calls"][0]["id"]
    assert json.loads(tool_message["content"]) == {"success": True, "result": 5}
    assert first["tools"][0]["function"]["parameters"]["required"] == ["input"]


async def test_parallel_tool_calls_run_concurrently(
    settings: Settings, toolbox: Toolbox, fake_llm: FakeLLMServer, provider: str
) -> None:
    fake_llm.push_tool_calls(
        [{"name": "sleeper", "arguments": {"ms": 300}}, {"name": "sleeper", "arguments": {"ms": 300}}]
    )
    agent = make_agent(settings, toolbox, provider, tools=("sleeper",))
    output = await agent.execute(AgentInput(text="sleep twice"), ctx())
    spans = toolbox.tools["sleeper"].spans  # type: ignore[attr-defined]
    assert len(spans) == 2
    assert max(start for start, _ in spans) < min(end for _, end in spans)  # overlapping
    assert output.text == "The answer is slept"
    ids = [m["tool_call_id"] for m in fake_llm.requests[-1]["messages"] if m["role"] == "tool"]
    assert len(set(ids)) == 2


async def test_several_rounds(
    settings: Settings, toolbox: Toolbox, fake_llm: FakeLLMServer, provider: str
) -> None:
    fake_llm.push_tool_calls([{"name": "calculator", "arguments": {"input": "1+1"}}])
    fake_llm.push_tool_calls([{"name": "calculator", "arguments": {"input": "2+2"}}])
    fake_llm.push_text("Two sums done.")
    agent = make_agent(settings, toolbox, provider, tools=("calculator",))
    output = await agent.execute(AgentInput(text="do it"), ctx())
    assert output.text == "Two sums done."
    assert [c.result for c in output.tool_calls] == [2, 4]
    assert output.metadata["llm_calls"] == 3


async def test_tool_failure_is_fed_back(
    settings: Settings, toolbox: Toolbox, fake_llm: FakeLLMServer, provider: str
) -> None:
    fake_llm.push_tool_calls([{"name": "broken", "arguments": {}}])
    agent = make_agent(settings, toolbox, provider, tools=("broken",))
    output = await agent.execute(AgentInput(text="try"), ctx())
    payload = json.loads(fake_llm.requests[-1]["messages"][-1]["content"])
    assert payload["success"] is False
    assert payload["error"]["code"] == "TOOL_ERROR" and "on fire" in payload["error"]["message"]
    assert output.tool_calls[0].result == {"error": payload["error"]}
    assert output.text.startswith("The answer is")
    assert agent.state == "ready"


async def test_max_tool_calls(
    settings: Settings, toolbox: Toolbox, fake_llm: FakeLLMServer, provider: str
) -> None:
    for _ in range(3):
        fake_llm.push_tool_calls([{"name": "calculator", "arguments": {"input": "1+1"}}])
    agent = make_agent(settings, toolbox, provider, tools=("calculator",), max_tool_calls=2)
    with pytest.raises(LimitExceeded, match="limit of 2 tool calls") as caught:
        await agent.execute(AgentInput(text="loop"), ctx())
    assert caught.value.details["limit"] == 2
    assert len(toolbox.calls) == 2
    assert agent.state == "error"


async def test_retries_honour_retry_after(settings: Settings, fake_llm: FakeLLMServer, provider: str) -> None:
    fake_llm.fail_next(429, 1, retry_after=0.4)
    fake_llm.fail_next(500, 1)
    agent = make_agent(settings, None, provider)
    started = time.monotonic()
    output = await agent.execute(AgentInput(text="persist"), ctx())
    assert output.text == "Echo: persist"
    assert len(fake_llm.requests) == 3
    assert time.monotonic() - started >= 0.4


async def test_stream_without_tools(settings: Settings, provider: str) -> None:
    agent = make_agent(settings, None, provider)
    deltas = [delta async for delta in agent.stream(AgentInput(text="a b c"), ctx())]
    assert len(deltas) >= 3 and "".join(deltas) == "Echo: a b c"
    assert agent.last_output is not None and agent.last_output.usage.total_tokens > 0
    assert agent.history()[-1] == {"role": "assistant", "content": "Echo: a b c"}
    assert agent.state == "ready"


async def test_stream_with_tool_calls(settings: Settings, toolbox: Toolbox, provider: str) -> None:
    agent = make_agent(settings, toolbox, provider, tools=("calculator",))
    deltas = [delta async for delta in agent.stream(AgentInput(text="calc: 20+22"), ctx())]
    assert "".join(deltas) == "The answer is 42"
    assert agent.last_output is not None
    assert [c.result for c in agent.last_output.tool_calls] == [42]


# -- bounds ---------------------------------------------------------------------------------


async def test_agent_timeout(settings: Settings, fake_llm: FakeLLMServer) -> None:
    fake_llm.set_latency(3000)
    agent = make_agent(settings, None, timeout_s=0.3)
    started = time.monotonic()
    with pytest.raises(Timeout, match=r"timeout of 0\.3s"):
        await agent.execute(AgentInput(text="slow"), ctx())
    assert time.monotonic() - started < 1.5
    assert agent.state == "error"


async def test_run_deadline(settings: Settings, fake_llm: FakeLLMServer) -> None:
    fake_llm.set_latency(3000)
    agent = make_agent(settings, None)
    started = time.monotonic()
    with pytest.raises(Timeout):
        await agent.execute(AgentInput(text="slow"), ctx(timeout_s=0.3))
    assert time.monotonic() - started < 1.5


async def test_stream_timeout(settings: Settings, fake_llm: FakeLLMServer) -> None:
    fake_llm.set_latency(3000)
    agent = make_agent(settings, None, timeout_s=0.3)
    with pytest.raises(Timeout):
        async for _ in agent.stream(AgentInput(text="slow"), ctx()):
            pass


async def test_cancellation_from_another_thread(settings: Settings, fake_llm: FakeLLMServer) -> None:
    fake_llm.set_latency(3000)
    agent = make_agent(settings, None)
    context = ctx()
    timer = threading.Timer(0.2, context.cancel_token.cancel, args=("user pressed stop",))
    timer.start()
    started = time.monotonic()
    with pytest.raises(Cancelled, match="user pressed stop"):
        await agent.execute(AgentInput(text="slow"), context)
    assert time.monotonic() - started < 1.0
    timer.join()
    # The model call is awaited in this task: the cancellation it used is withdrawn.
    task = asyncio.current_task()
    assert task is not None and task.cancelling() == 0


async def test_cancelling_the_task_is_not_turned_into_an_error(
    settings: Settings, fake_llm: FakeLLMServer
) -> None:
    fake_llm.set_latency(3000)
    agent = make_agent(settings, None, timeout_s=5)
    task = asyncio.ensure_future(agent.execute(AgentInput(text="slow"), ctx()))
    await asyncio.sleep(0.2)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task


async def test_timeout_then_the_same_task_can_call_again(settings: Settings, fake_llm: FakeLLMServer) -> None:
    fake_llm.set_latency(3000)
    agent = make_agent(settings, None, timeout_s=0.3)
    with pytest.raises(Timeout, match=r"timeout of 0\.3s"):
        await agent.execute(AgentInput(text="slow"), ctx())
    fake_llm.set_latency(0)
    output = await agent.execute(AgentInput(text="again"), ctx())
    assert output.text == "Echo: again"


# -- tools edge cases ---------------------------------------------------------------------


async def test_unknown_tool_and_bad_arguments_are_fed_back(
    settings: Settings, toolbox: Toolbox, fake_llm: FakeLLMServer
) -> None:
    fake_llm.push_tool_calls(
        [{"name": "rm_rf", "arguments": {}}, {"name": "calculator", "arguments": "{not json"}]
    )
    agent = make_agent(settings, toolbox, tools=("calculator",))
    await agent.execute(AgentInput(text="x"), ctx())
    tool_messages = [m for m in fake_llm.requests[-1]["messages"] if m["role"] == "tool"]
    codes = [json.loads(m["content"])["error"]["code"] for m in tool_messages]
    assert codes == ["NOT_FOUND", "VALIDATION"]
    assert toolbox.calls == []


async def test_tool_names_are_made_wire_safe(settings: Settings, fake_llm: FakeLLMServer) -> None:
    from .conftest import Calculator

    dotted = Calculator()
    dotted.name = "math.add"
    box = Toolbox(dotted)
    fake_llm.push_tool_calls([{"name": "math_add", "arguments": {"input": "3+4"}}])
    agent = make_agent(settings, box, tools=("math.add",))
    output = await agent.execute(AgentInput(text="x"), ctx())
    assert fake_llm.requests[0]["tools"][0]["function"]["name"] == "math_add"
    assert output.tool_calls[0].name == "math.add" and output.tool_calls[0].result == 7


async def test_tools_without_registry(settings: Settings) -> None:
    agent = make_agent(settings, None, tools=("calculator",))
    with pytest.raises(ConfigError, match="no tool registry"):
        await agent.execute(AgentInput(text="x"), ctx())


# -- memory, media, lifecycle ---------------------------------------------------------------


async def test_history_reset_and_memory_limit(
    settings: Settings, toolbox: Toolbox, fake_llm: FakeLLMServer
) -> None:
    agent = make_agent(settings, toolbox, system_prompt="sys", tools=("calculator",), memory_limit=4)
    await agent.execute(AgentInput(text="first"), ctx())
    await agent.execute(AgentInput(text="second"), ctx())
    assert [m["role"] for m in agent.history()] == ["system", "user", "assistant", "user", "assistant"]
    assert fake_llm.requests[-1]["messages"][1] == {"role": "user", "content": "first"}
    await agent.execute(AgentInput(text="calc: 1+2"), ctx())  # user, assistant(tool call), tool, assistant
    roles = [m["role"] for m in agent.history()]
    assert roles == ["system", "user", "assistant", "tool", "assistant"]
    assert agent.history()[1]["content"] == "calc: 1+2"
    agent.reset()
    assert agent.history() == [{"role": "system", "content": "sys"}]
    await agent.execute(AgentInput(text="again"), ctx())
    assert [m["role"] for m in fake_llm.requests[-1]["messages"]] == ["system", "user"]


async def test_image_to_vision_model(settings: Settings, fake_llm: FakeLLMServer) -> None:
    agent = make_agent(settings, None, model="fake/gpt-4o-mini")
    image = MediaContent(kind="image", mime_type="image/png", data=b"\x89PNG")
    output = await agent.execute(AgentInput(text="describe", media=(image,)), ctx())
    assert output.text == "Echo: describe"
    parts = fake_llm.requests[-1]["messages"][0]["content"]
    assert parts[0] == {"type": "text", "text": "describe"}
    assert parts[1] == {"type": "image_url", "image_url": {"url": "data:image/png;base64,iVBORw=="}}


async def test_image_to_non_vision_model_is_refused(settings: Settings, fake_llm: FakeLLMServer) -> None:
    agent = make_agent(settings, None, model="fake/gpt-3.5-turbo")
    image = MediaContent(kind="image", url="https://example.com/cat.png")
    with pytest.raises(ValidationError, match="does not accept images"):
        await agent.execute(AgentInput(text="describe", media=(image,)), ctx())
    assert fake_llm.requests == []


async def test_parameters_override_sampling(settings: Settings, fake_llm: FakeLLMServer) -> None:
    agent = make_agent(settings, None, temperature=0.1, response_format={"type": "json_object"})
    await agent.execute(AgentInput(text="x", parameters={"temperature": 0.9, "max_tokens": 7}), ctx())
    body = fake_llm.requests[-1]
    assert (body["temperature"], body["max_tokens"], body["response_format"]) == (
        0.9,
        7,
        {"type": "json_object"},
    )


async def test_concurrent_executes_on_one_agent(settings: Settings, fake_llm: FakeLLMServer) -> None:
    fake_llm.set_latency(100)
    agent = make_agent(settings, None)
    outputs = await asyncio.gather(*(agent.execute(AgentInput(text=f"q{i}"), ctx()) for i in range(5)))
    assert sorted(o.text for o in outputs) == [f"Echo: q{i}" for i in range(5)]
    assert agent.state == "ready"
    assert len(agent.history()) == 10


async def test_terminated_agent_refuses_work(settings: Settings) -> None:
    agent = make_agent(settings, None)
    agent.terminate()
    assert agent.state == "terminated"
    with pytest.raises(ValidationError, match="create a new agent"):
        await agent.execute(AgentInput(text="x"), ctx())


def test_bad_spec_and_config_fail_early(settings: Settings) -> None:
    with pytest.raises(ConfigError, match="unknown provider 'nowhere'"):
        make_agent(settings, None, model="nowhere/x")
    with pytest.raises(ValidationError, match="temperature"):
        AgentConfig(name="a", model="fake/m", temperature=5)
    with pytest.raises(ValidationError, match="max_tool_calls"):
        AgentConfig(name="a", model="fake/m", max_tool_calls=-1)
    assert AgentConfig(name="a", model="fake/m", max_tokens=10.0).max_tokens == 10
    assert "sk-" not in repr(AgentConfig(name="a", model="fake/m", api_key="sk-secret"))


def test_capabilities_for_discovery(settings: Settings) -> None:
    assert "vision" in make_agent(settings, None, model="fake/gpt-4o").capabilities()
    assert "vision" not in make_agent(settings, None, model="fake/gpt-3.5-turbo").capabilities()

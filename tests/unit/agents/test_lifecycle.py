"""The agent lifecycle state machine, alone and driving a real LLMAgent."""

from __future__ import annotations

import asyncio
import time

import pytest
from fakes.llm_server import FakeLLMServer
from llmspell.agents import AgentConfig, Lifecycle, LLMAgent
from llmspell.core.config import Settings
from llmspell.core.context import ExecutionContext
from llmspell.core.errors import Cancelled, ValidationError
from llmspell.core.types import AgentInput


def test_transitions_follow_the_table() -> None:
    life = Lifecycle("a")
    assert life.state == "uninitialized"
    assert life.initialize() == "ready"
    assert life.start() == "running"
    assert life.pause() == "paused"
    assert life.resume() == "running"
    assert life.stop() == "ready"
    life.end(life.begin(), failed=True)
    assert life.state == "error"
    assert life.recover() == "ready"
    assert life.terminate() == "terminated"


@pytest.mark.parametrize(
    ("setup", "action", "state"),
    [
        ((), "start", "uninitialized"),
        ((), "pause", "uninitialized"),
        (("initialize",), "initialize", "ready"),
        (("initialize",), "resume", "ready"),
        (("initialize",), "stop", "ready"),
        (("initialize",), "recover", "ready"),
        (("initialize", "start"), "start", "running"),
        (("initialize", "start", "pause"), "pause", "paused"),
        (("initialize", "terminate"), "start", "terminated"),
        (("initialize", "terminate"), "terminate", "terminated"),
    ],
)
def test_invalid_transitions_name_the_state(setup: tuple[str, ...], action: str, state: str) -> None:
    life = Lifecycle("bob")
    for step in setup:
        getattr(life, step)()
    with pytest.raises(ValidationError, match=rf"cannot {action} agent 'bob' in state '{state}'") as caught:
        getattr(life, action)()
    assert caught.value.code == "VALIDATION"
    assert caught.value.details["state"] == state
    assert life.state == state


def test_requests_refused_while_paused_or_terminated() -> None:
    life = Lifecycle("a", initialized=True)
    life.start()
    life.pause()
    with pytest.raises(ValidationError, match="is paused: call resume"):
        life.begin()
    life.terminate()
    with pytest.raises(ValidationError, match="terminated: create a new agent"):
        life.begin()


def test_busy_shows_running_and_failure_leaves_error() -> None:
    life = Lifecycle("a")
    generation = life.begin()
    assert life.state == "running"
    life.end(generation, failed=False)
    assert life.state == "ready"


async def test_pause_holds_a_request_until_resume() -> None:
    life = Lifecycle("a", initialized=True)
    life.start()
    generation = life.begin()
    life.pause()
    waiter = asyncio.ensure_future(life.checkpoint(generation, None))
    await asyncio.sleep(0.05)
    assert not waiter.done()
    life.resume()
    await asyncio.wait_for(waiter, 1)
    assert life.state == "running"


async def test_stop_cancels_a_paused_request() -> None:
    life = Lifecycle("a", initialized=True)
    life.start()
    generation = life.begin()
    life.pause()
    waiter = asyncio.ensure_future(life.checkpoint(generation, None))
    await asyncio.sleep(0.02)
    life.stop()
    with pytest.raises(Cancelled, match="stopped"):
        await asyncio.wait_for(waiter, 1)
    life.end(generation, failed=True)
    assert life.state == "ready"


def make(fake_llm: FakeLLMServer, **fields: object) -> LLMAgent:
    config = AgentConfig(
        name="life", model="openai/fake", base_url=fake_llm.base_url, api_key="sk-test", **fields
    )
    return LLMAgent(config, settings=Settings())


async def test_llm_agent_lifecycle(fake_llm: FakeLLMServer) -> None:
    agent = make(fake_llm)
    assert agent.state == "uninitialized"
    assert agent.initialize() == "ready"
    assert agent.start() == "running"
    output = await agent.execute(AgentInput(text="hi"), ExecutionContext())
    assert output.text == "Echo: hi" and agent.state == "running"
    agent.pause()
    with pytest.raises(ValidationError, match="paused"):
        await agent.execute(AgentInput(text="again"), ExecutionContext())
    assert agent.resume() == "running"
    assert agent.stop() == "ready"
    assert agent.terminate() == "terminated" and agent.history() == []
    with pytest.raises(ValidationError, match="cannot recover agent 'life' in state 'terminated'"):
        agent.recover()


class _Tools:
    def get(self, name: str) -> object:
        from llmspell.tools.registry import default_registry

        return default_registry().get(name)

    async def invoke_envelope(
        self, name: str, params: dict[str, object], ctx: ExecutionContext
    ) -> dict[str, object]:
        return {"success": True, "result": 2}


async def _paused_after_first_answer(fake_llm: FakeLLMServer) -> tuple[LLMAgent, asyncio.Future[object]]:
    """An agent paused while its request waits between the tool round and the second model call."""
    fake_llm.push_tool_calls([{"name": "calculator", "arguments": {"input": "1+1"}}])
    fake_llm.set_latency(150)
    config = AgentConfig(
        name="p", model="openai/fake", base_url=fake_llm.base_url, api_key="k", tools=("calculator",)
    )
    agent = LLMAgent(config, tools=_Tools(), settings=Settings())  # type: ignore[arg-type]
    task = asyncio.ensure_future(agent.execute(AgentInput(text="go"), ExecutionContext()))
    await asyncio.sleep(0.05)
    assert agent.state == "running"
    agent.pause()
    deadline = time.monotonic() + 3
    while not fake_llm.requests and time.monotonic() < deadline:
        await asyncio.sleep(0.01)
    await asyncio.sleep(0.3)  # the first answer is in; the second call must not start while paused
    assert len(fake_llm.requests) == 1 and not task.done()
    return agent, task


async def test_llm_agent_pause_mid_request_then_resume(fake_llm: FakeLLMServer) -> None:
    agent, task = await _paused_after_first_answer(fake_llm)
    agent.resume()
    output = await asyncio.wait_for(task, 3)
    assert len(fake_llm.requests) == 2 and output.tool_calls[0].result == 2  # type: ignore[attr-defined]
    assert agent.state == "ready"


async def test_llm_agent_stop_mid_request_cancels_it(fake_llm: FakeLLMServer) -> None:
    agent, task = await _paused_after_first_answer(fake_llm)
    agent.stop()
    with pytest.raises(Cancelled, match="'p' was stopped"):
        await asyncio.wait_for(task, 3)
    assert agent.state == "ready" and len(fake_llm.requests) == 1

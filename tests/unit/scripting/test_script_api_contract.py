"""The script API against its contract (shared/SCRIPT-API.md): names, shapes and error codes."""

from __future__ import annotations

from typing import Any

from fakes.llm_server import FakeLLMServer
from llmspell.core.config import Settings
from llmspell.core.context import ExecutionContext, Limits
from llmspell.runtime.runner import execute_script

Runner = Any  # the run_lua fixture of conftest.py


async def test_a_failing_script_tool_raises_tool_error(run_lua: Runner) -> None:
    outcome = await run_lua(
        """
        Tool.register{name="boom", fn=function(p) error("kaboom") end}
        Tool.register{name="odd", fn=function(p) error({code="WHATEVER", message="odd"}) end}
        Tool.register{name="picky", fn=function(p) error({code="VALIDATION", message="bad x"}) end}
        local _, e1 = pcall(Tool.execute, "boom", {})
        local _, e2 = pcall(Tool.execute, "odd", {})
        local _, e3 = pcall(Tool.execute, "picky", {})
        return {e1.code, e1.message, e2.code, e2.message, e3.code, tostring(e1)}
        """
    )
    assert outcome.error is None, outcome.error
    code1, message1, code2, message2, code3, text1 = outcome.result
    assert code1 == "TOOL_ERROR" and "kaboom" in message1 and text1.startswith("TOOL_ERROR: ")
    assert (code2, message2) == ("TOOL_ERROR", "odd")
    assert code3 == "VALIDATION"  # a contract code raised on purpose stays as it is


def _settings(fake: FakeLLMServer) -> Settings:
    return Settings(model="openai/fake", base_url=fake.base_url, api_key="sk-test")


async def test_agents_publish_agent_events_on_the_bus(fake_llm: FakeLLMServer) -> None:
    source = """
    local sub = Event.subscribe("agent.*")
    local a = Agent.create{name="eva", model="openai/fake"}
    a:execute("hi")
    local types = {}
    while true do
      local ev = Event.receive(sub, 200)
      if not ev then break end
      types[#types + 1] = ev.type .. ":" .. tostring(ev.data.agent)
    end
    local failing = Agent.create{name="dead", model="openai/fake", base_url="http://127.0.0.1:1/v1"}
    pcall(failing.execute, failing, "x")
    local ev = Event.receive(sub, 200)
    types[#types + 1] = ev and ev.type .. ":" .. tostring(ev.data.agent)
    ev = Event.receive(sub, 200)
    types[#types + 1] = ev and ev.type .. ":" .. ev.data.error.code
    return types
    """
    outcome = await execute_script(
        source,
        ctx=ExecutionContext(limits=Limits(timeout_s=10)),
        settings_loader=lambda: _settings(fake_llm),
    )
    assert outcome.error is None, outcome.error
    assert outcome.result == [
        "agent.started:eva",
        "agent.completed:eva",
        "agent.started:dead",
        "agent.failed:PROVIDER_ERROR",
    ]


async def test_workflows_publish_step_events_on_the_bus(run_lua: Runner) -> None:
    outcome = await run_lua(
        """
        local sub = Event.subscribe("workflow.*")
        local wf = Workflow.sequential{name="wfe", steps={
          {name="calc", tool="calculator", input={input="1+1"}},
          {name="bad", tool="calculator", input={input="1/0"}},
        }, error_strategy="continue"}
        wf:execute()
        local seen = {}
        while true do
          local ev = Event.receive(sub, 200)
          if not ev then break end
          seen[#seen + 1] = ev.type .. ":" .. tostring(ev.data.step)
        end
        return seen
        """
    )
    assert outcome.error is None, outcome.error
    steps = [item for item in outcome.result if item.startswith("workflow.step.")]
    assert steps == [
        "workflow.step.started:calc",
        "workflow.step.completed:calc",
        "workflow.step.started:bad",
        "workflow.step.failed:bad",
    ]
    assert outcome.result[0] == "workflow.started:nil" and outcome.result[-1] == "workflow.completed:nil"


async def test_a_streamed_agent_reports_tokens_usage_and_agent_events(fake_llm: FakeLLMServer) -> None:
    from llmspell.core import metrics

    source = """
    local sub = Event.subscribe("agent.*")
    local a = Agent.create{name="streamer", model="openai/fake"}
    local chunks = {}
    for chunk in a:stream("hello there") do chunks[#chunks + 1] = chunk end
    local bus = {}
    while true do
      local ev = Event.receive(sub, 200)
      if not ev then break end
      bus[#bus + 1] = ev.type
    end
    return {text = table.concat(chunks), bus = bus}
    """
    tokens = metrics.LLM_TOKENS.labels(model="openai/fake", kind="completion")
    before = tokens._value.get()
    events: list[tuple[str, dict[str, Any]]] = []
    outcome = await execute_script(
        source,
        ctx=ExecutionContext(limits=Limits(timeout_s=10)),
        settings_loader=lambda: _settings(fake_llm),
        emit=lambda kind, data: events.append((kind, data)),
    )
    assert outcome.error is None, outcome.error
    assert outcome.result["bus"] == ["agent.started", "agent.completed"]
    streamed = [data["text"] for kind, data in events if kind == "token"]
    assert len(streamed) > 1 and "".join(streamed) == outcome.result["text"]
    assert all(data["agent"] == "streamer" for kind, data in events if kind == "token")
    agent_events = [data for kind, data in events if kind == "agent"]
    assert [e["status"] for e in agent_events] == ["started", "completed"]
    assert agent_events[-1]["usage"]["completion_tokens"] == outcome.usage.completion_tokens > 0
    assert tokens._value.get() - before == outcome.usage.completion_tokens

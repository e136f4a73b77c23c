"""Workflows from Lua scripts against the fake LLM server (real engine, real tools, real HTTP)."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest
from fakes.llm_server import FakeLLMServer
from llmspell.agents import AgentConfig, LLMAgent
from llmspell.core.config import ProviderConfig, Settings
from llmspell.core.context import ExecutionContext, Limits
from llmspell.runtime.runner import RunOutcome, execute_script
from llmspell.workflows import LocalHost, workflow_from_definition


def settings_for(fake: FakeLLMServer, retries: int = 0) -> Settings:
    """A ``fake`` provider that gives up at once on 5xx (so workflow retries are what recover)."""
    return Settings(
        providers={
            "fake": ProviderConfig(
                type="openai", base_url=fake.base_url, api_key="sk-test", max_retries=retries
            )
        }
    )


async def run(
    source: str, fake: FakeLLMServer, *, events: list[tuple[str, dict[str, Any]]] | None = None, **subs: Any
) -> RunOutcome:
    for key, value in {"BASE_URL": fake.base_url, **subs}.items():
        source = source.replace(f"${key}", str(value))
    settings = settings_for(fake)
    sink = None if events is None else (lambda kind, data: events.append((kind, data)))
    outcome = await execute_script(
        source,
        script_name="wf.lua",
        ctx=ExecutionContext(limits=Limits(timeout_s=20)),
        settings_loader=lambda: settings,
        emit=sink,
    )
    assert outcome.error is None, outcome.error
    return outcome


AGENT = 'Agent.create{name="%s", model="openai/fake", base_url="$BASE_URL", api_key="sk-test"}'


async def test_nested_workflows_three_deep(fake_llm: FakeLLMServer) -> None:
    outcome = await run(
        f"""
        local writer = {AGENT % "writer"}
        local level3 = Workflow.sequential{{name="level3", steps={{
          {{name="double", tool="calculator", input={{input="2*x", variables={{x="{{{{input}}}}"}}}}}},
          {{name="tell", agent=writer, input="value is {{{{steps.double.output.result.value}}}}"}},
        }}}}
        local level2 = Workflow.sequential{{name="level2", steps={{
          {{name="add", tool="calculator", input={{input="{{{{input}}}} + 1"}}}},
          {{name="deeper", workflow=level3, input="{{{{steps.add.output.result.value}}}}"}},
        }}}}
        local level1 = Workflow.sequential{{name="level1", steps={{
          {{name="start", fn=function(ctx) return ctx.input * 10 end}},
          {{name="middle", workflow=level2, input="{{{{steps.start.output}}}}"}},
          {{name="finish", fn=function(ctx) return ctx.steps.middle.outputs.deeper.text end}},
        }}}}
        local r = level1:execute(2)
        return {{success=r.success, output=r.output, n=#r.errors}}
        """,
        fake_llm,
    )
    assert outcome.result == {"success": True, "output": "Echo: value is 42", "n": 0}
    assert fake_llm.requests[0]["messages"][-1]["content"] == "value is 42"


async def test_conditional_on_a_lua_function(fake_llm: FakeLLMServer) -> None:
    outcome = await run(
        """
        local router = Workflow.conditional{name="router", branches={
          {name="urgent", when=function(ctx) return ctx.input.priority > 5 end,
           steps={{name="page", fn=function(ctx) return "paged " .. ctx.input.who end}}},
          {name="mail", when={key="channel", equals="mail"},
           steps={{name="send", fn=function(ctx) return "mailed " .. ctx.input.who end}}},
        }, default={{name="log", fn=function(ctx) return "logged" end}}}
        return {
          router:execute{priority=9, who="ann", channel="mail"}.output,
          router:execute{priority=1, who="bob", channel="mail"}.output,
          router:execute{priority=1, who="cy"}.output,
        }
        """,
        fake_llm,
    )
    assert outcome.result == ["paged ann", "mailed bob", "logged"]


async def test_condition_function_errors_fail_the_workflow(fake_llm: FakeLLMServer) -> None:
    outcome = await run(
        """
        local wf = Workflow.conditional{name="c", branches={
          {when=function(ctx) error("no way") end, steps={{fn=function() return 1 end}}},
        }}
        local r = wf:execute({})
        return {success=r.success, code=r.errors[1].code, message=r.errors[1].message}
        """,
        fake_llm,
    )
    assert outcome.result["success"] is False and outcome.result["code"] == "SCRIPT_ERROR"
    assert "no way" in outcome.result["message"]


async def test_loop_with_break(fake_llm: FakeLLMServer) -> None:
    outcome = await run(
        """
        local total = 0
        local loop = Workflow.loop{name="sum", range={from=1, to=100},
          body={{name="acc", fn=function(ctx) total = total + ctx.loop.item; return total end}},
          break_if=function(ctx) return ctx.steps.acc.output >= 10 end}
        local r = loop:execute()
        local each = Workflow.loop{name="each", collection={"a", "b", "c"},
          body={{name="up", fn=function(ctx) return ctx.loop.index .. ctx.loop.item:upper() end}},
          aggregate="last"}
        local w = Workflow.loop{name="w", ["while"]=function(ctx) return ctx.loop.index <= 2 end,
          body={{name="i", fn=function(ctx) return ctx.loop.index end}}}
        return {sum=r.output, each=each:execute().output, w=w:execute().output}
        """,
        fake_llm,
    )
    assert outcome.result == {"sum": [1, 3, 6, 10], "each": "3C", "w": [1, 2]}


async def test_templates_resolve_nested_fields(fake_llm: FakeLLMServer) -> None:
    outcome = await run(
        f"""
        local a = {AGENT % "a"}
        local wf = Workflow.sequential{{name="t", steps={{
          {{name="data", fn=function(ctx) return {{user={{name="Ann", tags={{"x", "y"}}}}, n=3}} end}},
          {{name="calc", tool="calculator", input={{input="n * 2", variables={{n="{{{{steps.data.output.n}}}}"}}}}}},
          {{name="ask", agent=a,
           input="{{{{steps.data.output.user.name}}}} has {{{{steps.calc.output.result.value}}}} ({{{{steps.data.output.user.tags.2}}}})"}},
          {{name="keep", fn=function(ctx) return ctx.params end,
           input={{whole="{{{{steps.data.output.user}}}}", n="{{{{steps.calc.output.result.value}}}}", text="{{{{steps.ask.output.text}}}}"}}}},
        }}}}
        return wf:execute().output
        """,
        fake_llm,
    )
    assert outcome.result == {
        "whole": {"name": "Ann", "tags": ["x", "y"]},
        "n": 6,
        "text": "Echo: Ann has 6 (y)",
    }


async def test_retry_recovers_from_an_injected_500(fake_llm: FakeLLMServer) -> None:
    events: list[tuple[str, dict[str, Any]]] = []
    fake_llm.fail_next(500, 1)
    outcome = await run(
        """
        local flaky = Agent.create{name="flaky", model="fake/gpt-4o-mini"}
        local attempts = 0
        local wf = Workflow.sequential{name="r", error_strategy="retry", retry={attempts=3, backoff_ms=10}, steps={
          {name="ask", agent=flaky, input="hello"},
          {name="count", fn=function(ctx)
            attempts = attempts + 1
            if attempts < 2 then error("first try fails") end
            return attempts
          end},
        }}
        local r = wf:execute()
        return {success=r.success, text=r.outputs.ask.text, attempts=r.outputs.count}
        """,
        fake_llm,
        events=events,
    )
    assert outcome.result == {"success": True, "text": "Echo: hello", "attempts": 2}
    failed = [d for kind, d in events if kind == "workflow" and d["type"] == "workflow.step.failed"]
    assert [(d["step"], d["error"]["code"], d["will_retry"]) for d in failed] == [
        ("ask", "PROVIDER_ERROR", True),
        ("count", "SCRIPT_ERROR", True),
    ]


async def test_retry_exhausted_reports_the_provider_error(fake_llm: FakeLLMServer) -> None:
    fake_llm.fail_next(500, 5)
    outcome = await run(
        """
        local flaky = Agent.create{name="flaky", model="fake/gpt-4o-mini"}
        local wf = Workflow.sequential{name="r", error_strategy={type="retry", attempts=2, backoff_ms=1},
          steps={{name="ask", agent=flaky, input="hello"}}}
        local r = wf:execute()
        return {success=r.success, error=r.errors[1]}
        """,
        fake_llm,
    )
    assert outcome.result["success"] is False
    assert outcome.result["error"]["code"] == "PROVIDER_ERROR" and outcome.result["error"]["attempts"] == 2


async def test_parallel_agents_run_concurrently(fake_llm: FakeLLMServer) -> None:
    fake_llm.set_latency(200)
    outcome = await run(
        """
        local steps = {}
        for i = 1, 4 do
          local agent = Agent.create{name="agent-" .. i, model="openai/fake", base_url="$BASE_URL", api_key="sk-test"}
          steps[i] = {name="a" .. i, agent=agent, input="topic " .. i}
        end
        local wf = Workflow.parallel{name="fan", steps=steps, max_concurrency=4}
        local r = wf:execute()
        return {success=r.success, ms=r.duration_ms, texts={r.output.a1.text, r.output.a4.text}}
        """,
        fake_llm,
    )
    assert outcome.result["success"] and outcome.result["texts"] == ["Echo: topic 1", "Echo: topic 4"]
    assert outcome.result["ms"] < 600, outcome.result["ms"]
    assert len(fake_llm.requests) == 4


async def test_events_reach_the_run_stream(fake_llm: FakeLLMServer) -> None:
    events: list[tuple[str, dict[str, Any]]] = []
    await run(
        f"""
        local a = {AGENT % "a"}
        Workflow.sequential{{name="ev", steps={{
          {{name="calc", tool="calculator", input={{input="1+1"}}}},
          {{name="ask", agent=a, input="hi"}},
        }}}}:execute()
        """,
        fake_llm,
        events=events,
    )
    kinds = [(kind, data.get("type") or data.get("status")) for kind, data in events]
    assert kinds == [
        ("workflow", "workflow.started"),
        ("workflow", "workflow.step.started"),
        ("tool", "started"),
        ("tool", "completed"),
        ("workflow", "workflow.step.completed"),
        ("workflow", "workflow.step.started"),
        ("agent", "started"),
        ("agent", "completed"),
        ("workflow", "workflow.step.completed"),
        ("workflow", "workflow.completed"),
    ]
    assert all(data["workflow"] == "ev" for kind, data in events if kind == "workflow")


async def test_workflow_as_a_tool_of_an_agent(fake_llm: FakeLLMServer) -> None:
    fake_llm.push_tool_calls([{"name": "double-it", "arguments": {"input": "21"}}])
    outcome = await run(
        """
        local wf = Workflow.sequential{name="doubler", steps={
          {name="d", tool="calculator", input={input="2 * {{input}}"}},
          {name="v", fn=function(ctx) return ctx.steps.d.output.result.value end},
        }}
        local info = wf:as_tool("double-it")
        local agent = Agent.create{name="user", model="openai/fake", base_url="$BASE_URL", api_key="sk-test",
          tools={"double-it"}}
        local out = agent:execute("double 21")
        return {tool=info.name, text=out.text, call=out.tool_calls[1].result, via=Tool.execute("double-it", {input="5"}).result}
        """,
        fake_llm,
    )
    assert outcome.result == {"tool": "double-it", "text": "The answer is 42", "call": 42, "via": 10}


async def test_registry_names_objects_and_errors(fake_llm: FakeLLMServer) -> None:
    outcome = await run(
        f"""
        local a = {AGENT % "named"}
        local inner = Workflow.sequential{{name="inner", steps={{{{agent="named", input="by name"}}}}}}
        local outer = Workflow.sequential{{steps={{{{workflow="inner"}}, {{workflow=inner}}}}}}
        local r = outer:execute()
        local ok, err = pcall(Workflow.sequential, {{name="bad", steps={{{{tool="calculator", timeout=-1}}}}}})
        local ok2, err2 = pcall(Workflow.sequential, {{steps={{{{agent={{1, 2}}}}}}}})
        local ok3, err3 = pcall(Workflow.sequential, {{steps={{{{workflow=a}}}}}})
        return {{
          output=r.output.text, name=outer:name(), type=outer:type(), got=Workflow.get("inner"):name(),
          missing=Workflow.get("nope"), list=Workflow.list(), types=Workflow.types(),
          err=err.code, field=err.details.field, err2=err2.code, err3=err3.message,
        }}
        """,
        fake_llm,
    )
    result = outcome.result
    assert result["output"] == "Echo: by name"
    assert result["name"] == "sequential-2" and result["type"] == "sequential" and result["got"] == "inner"
    assert "missing" not in result
    assert [w["name"] for w in result["list"]] == ["inner", "sequential-2"]
    assert result["types"] == ["sequential", "parallel", "conditional", "loop"]
    assert (result["err"], result["field"]) == ("VALIDATION", "steps[1].timeout")
    assert result["err2"] == "VALIDATION"
    assert "steps[1].workflow must be a workflow" in result["err3"]


async def test_builder_and_table_are_the_same_workflow_in_lua(fake_llm: FakeLLMServer) -> None:
    outcome = await run(
        """
        local check = function(ctx) return ctx.input > 1 end
        local body = {name="sq", fn=function(ctx) return ctx.loop.item * ctx.loop.item end}
        local t = Workflow.loop{name="sq", range={from=1, to=4}, body={body}, break_if=check,
          max_iterations=10, aggregate="all", error_strategy="continue"}
        local b = Workflow.builder():name("sq"):loop():range{from=1, to=4}:add_step(body):break_if(check)
          :max_iterations(10):aggregate("all"):error_strategy("continue"):build()
        local p1 = Workflow.parallel{name="p", max_concurrency=2, steps={{name="x", tool="calculator", input={input="1"}}}}
        local p2 = Workflow.builder():name("p"):parallel():max_concurrency(2)
          :add_step{name="x", tool="calculator", input={input="1"}}:build()
        return {t=t:describe(), b=b:describe(), p1=p1:describe(), p2=p2:describe(),
          out1=t:execute(0).output, out2=b:execute(0).output}
        """,
        fake_llm,
    )
    result = outcome.result
    assert result["t"] == result["b"] and result["p1"] == result["p2"]
    assert result["out1"] == result["out2"] == [1, 4, 9, 16]


def _stable(value: Any) -> Any:
    """Drop what differs between two runs of the same workflow (ids, timings, nulls)."""
    if isinstance(value, dict):
        return {
            k: _stable(v)
            for k, v in value.items()
            if v is not None and k != "execution_id" and not k.endswith("duration_ms") and k != "latency_ms"
        }
    if isinstance(value, list):
        return [_stable(v) for v in value]
    return value


DEFINITION = {
    "type": "sequential",
    "name": "shared",
    "steps": [
        {"name": "calc", "tool": "calculator", "input": {"input": "{{input.a}} * {{input.b}}"}},
        {"name": "ask", "agent": "echo", "input": "result {{steps.calc.output.result.value}}"},
        {
            "name": "fan",
            "workflow": {
                "type": "parallel",
                "name": "fan",
                "steps": [
                    {"name": "left", "agent": "echo", "input": "left {{input}}"},
                    {"name": "right", "tool": "calculator", "input": {"input": "{{input}} + 1"}},
                ],
            },
            "input": "{{steps.calc.output.result.value}}",
        },
        {
            "name": "route",
            "workflow": {
                "type": "conditional",
                "name": "route",
                "branches": [
                    {
                        "when": {"key": "text", "contains": "result 6"},
                        "steps": [{"name": "six", "agent": "echo", "input": "six"}],
                    }
                ],
                "default": [{"name": "other", "agent": "echo", "input": "other"}],
            },
            "input": "{{steps.ask.output}}",
        },
        {
            "name": "each",
            "workflow": {
                "type": "loop",
                "name": "each",
                "collection": ["x", "y"],
                "body": [{"name": "say", "agent": "echo", "input": "{{loop.index}}={{loop.item}}"}],
            },
        },
    ],
}


async def test_same_workflow_from_lua_and_python(fake_llm: FakeLLMServer) -> None:
    settings = settings_for(fake_llm)
    agent = LLMAgent(AgentConfig(name="echo", model="fake/gpt-4o-mini"), tools=None, settings=settings)
    python_result = await workflow_from_definition(DEFINITION).execute(
        {"a": 2, "b": 3}, host=LocalHost(agents={"echo": agent}, settings=settings)
    )
    assert python_result["success"], python_result["errors"]
    outcome = await run(
        """
        Agent.create{name="echo", model="fake/gpt-4o-mini"}
        local wf = Workflow.create(JSON.parse([[$DEFINITION]]))
        return wf:execute{a=2, b=3}
        """,
        fake_llm,
        DEFINITION=json.dumps(DEFINITION),
    )
    assert _stable(outcome.result) == _stable(python_result)
    assert python_result["outputs"]["route"]["text"] == "Echo: six"
    assert [item["text"] for item in python_result["outputs"]["each"]] == ["Echo: 1=x", "Echo: 2=y"]


async def test_cancellation_stops_a_parallel_workflow(fake_llm: FakeLLMServer) -> None:
    fake_llm.set_latency(3000)
    ctx = ExecutionContext(limits=Limits(timeout_s=0.5))
    started = time.monotonic()
    source = """
        local steps = {}
        for i = 1, 3 do
          steps[i] = {agent=Agent.create{name="a" .. i, model="fake/gpt-4o-mini"}, input="x"}
        end
        return Workflow.parallel{steps=steps}:execute()
    """
    outcome = await execute_script(source, ctx=ctx, settings_loader=lambda: settings_for(fake_llm))
    assert outcome.status == "timeout" and time.monotonic() - started < 2.0


@pytest.mark.parametrize("value", ["plain", 3])
async def test_agent_objects_and_workflow_objects_are_not_json(fake_llm: FakeLLMServer, value: Any) -> None:
    outcome = await run(
        f"""
        local wf = Workflow.sequential{{name="w", steps={{}}}}
        local ok, err = pcall(JSON.stringify, {{wf=wf}})
        return {{ok=ok, code=err.code, wf=wf, value={json.dumps(value)}}}
        """,
        fake_llm,
    )
    assert outcome.result == {"ok": False, "code": "VALIDATION", "wf": "<Workflow>", "value": value}


async def test_parallel_lua_function_steps_interleave(fake_llm: FakeLLMServer) -> None:
    fake_llm.set_latency(200)
    outcome = await run(
        """
        local steps = {}
        for i = 1, 4 do
          local agent = Agent.create{name="fn-agent-" .. i, model="openai/fake", base_url="$BASE_URL", api_key="sk-test"}
          steps[i] = {name="f" .. i, fn=function(ctx)
            local text = agent:execute("call " .. i).text
            return text .. " via " .. ctx.step
          end}
        end
        local r = Workflow.parallel{name="fns", steps=steps}:execute()
        return {ms=r.duration_ms, out=r.output}
        """,
        fake_llm,
    )
    assert outcome.result["out"] == {f"f{i}": f"Echo: call {i} via f{i}" for i in range(1, 5)}
    assert outcome.result["ms"] < 600, outcome.result["ms"]

"""Running workflows from Python: each pattern, error strategies, timeouts, events, nesting."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest
from fakes.llm_server import FakeLLMServer
from llmspell.core.context import ExecutionContext, Limits
from llmspell.core.errors import Cancelled, Timeout, ToolError
from llmspell.workflows import LocalHost, WorkflowTool, workflow_from_definition

RESULT_KEYS = {"success", "output", "outputs", "errors", "duration_ms", "execution_id"}


def flaky(failures: int) -> tuple[list[int], Any]:
    """A step function failing its first ``failures`` calls; returns (calls, fn)."""
    calls: list[int] = []

    def fn(ctx: dict[str, Any]) -> str:
        calls.append(len(calls) + 1)
        if len(calls) <= failures:
            raise ToolError(f"transient failure {len(calls)}")
        return f"ok after {len(calls)}"

    return calls, fn


# -- sequential and error strategies ---------------------------------------------------------


async def test_sequential_result_shape_and_tool_steps(host: LocalHost) -> None:
    wf = workflow_from_definition(
        {
            "type": "sequential",
            "name": "calc",
            "steps": [
                {"name": "add", "tool": "calculator", "input": {"input": "{{input}}"}},
                {
                    "name": "double",
                    "tool": "calculator",
                    "input": {"input": "2*x", "variables": {"x": "{{steps.add.output.result.value}}"}},
                },
            ],
        }
    )
    result = await wf.execute("1+2", host=host)
    assert set(result) == RESULT_KEYS
    assert result["success"] and result["errors"] == []
    assert result["output"]["result"]["value"] == 6
    assert result["outputs"]["add"]["result"]["value"] == 3
    assert len(result["execution_id"]) == 32 and result["duration_ms"] >= 0


async def test_fail_fast_stops_and_continue_goes_on(host: LocalHost) -> None:
    steps = [
        {"name": "bad", "tool": "broken"},
        {"name": "after", "fn": lambda ctx: "ran"},
    ]
    stopped = await workflow_from_definition({"type": "sequential", "steps": steps}).execute(host=host)
    assert not stopped["success"] and "after" not in stopped["outputs"]
    assert stopped["errors"][0]["step"] == "bad" and stopped["errors"][0]["code"] == "TOOL_ERROR"
    assert stopped["outputs"]["bad"] is None
    went_on = await workflow_from_definition(
        {"type": "sequential", "error_strategy": "continue", "steps": steps}
    ).execute(host=host)
    assert not went_on["success"] and went_on["outputs"]["after"] == "ran" and went_on["output"] == "ran"
    optional = [{**steps[0], "required": False}, steps[1]]
    ok = await workflow_from_definition({"type": "sequential", "steps": optional}).execute(host=host)
    assert ok["success"] and len(ok["errors"]) == 1 and ok["output"] == "ran"


async def test_retry_strategy_recovers_and_counts_attempts(host: LocalHost, recorder: Any) -> None:
    calls, fn = flaky(2)
    wf = workflow_from_definition(
        {
            "type": "sequential",
            "error_strategy": {"type": "retry", "attempts": 3, "backoff_ms": 1},
            "steps": [{"name": "flaky", "fn": fn}],
        }
    )
    result = await wf.execute(host=host)
    assert result["success"] and result["output"] == "ok after 3" and calls == [1, 2, 3]
    failed = [e for e in recorder.events if e["type"] == "workflow.step.failed"]
    assert [(e["attempt"], e["will_retry"]) for e in failed] == [(1, True), (2, True)]


async def test_retry_gives_up_after_attempts_and_step_retries_override(host: LocalHost) -> None:
    calls, fn = flaky(5)
    wf = workflow_from_definition(
        {
            "type": "sequential",
            "error_strategy": "retry",
            "retry": {"attempts": 2, "backoff_ms": 1},
            "steps": [{"fn": fn}],
        }
    )
    result = await wf.execute(host=host)
    assert not result["success"] and calls == [1, 2] and result["errors"][0]["attempts"] == 2
    calls, fn = flaky(1)
    per_step = workflow_from_definition({"type": "sequential", "steps": [{"fn": fn, "retries": 1}]})
    assert (await per_step.execute(host=host))["success"] and calls == [1, 2]


async def test_validation_errors_are_not_retried(host: LocalHost) -> None:
    wf = workflow_from_definition(
        {
            "type": "sequential",
            "error_strategy": "retry",
            "steps": [{"tool": "calculator", "input": {"nope": 1}}],
        }
    )
    result = await wf.execute(host=host)
    assert result["errors"][0]["code"] == "VALIDATION" and result["errors"][0]["attempts"] == 1


async def test_step_timeout(host: LocalHost) -> None:
    wf = workflow_from_definition(
        {
            "type": "sequential",
            "steps": [{"name": "slow", "tool": "sleeper", "input": {"ms": 2000}, "timeout": 0.05}],
        }
    )
    started = time.monotonic()
    result = await wf.execute(host=host)
    assert time.monotonic() - started < 1.0
    assert result["errors"][0]["code"] == "TIMEOUT" and "slow" in result["errors"][0]["message"]


async def test_workflow_timeout(host: LocalHost) -> None:
    wf = workflow_from_definition(
        {
            "type": "sequential",
            "name": "w",
            "timeout": 0.05,
            "steps": [{"tool": "sleeper", "input": {"ms": 2000}}],
        }
    )
    result = await wf.execute(host=host)
    assert not result["success"] and result["errors"][0]["code"] == "TIMEOUT"


async def test_run_deadline_and_cancellation_stop_the_workflow(host: LocalHost) -> None:
    calls, fn = flaky(100)
    slow = workflow_from_definition(
        {
            "type": "sequential",
            "error_strategy": "retry",
            "steps": [{"tool": "sleeper", "input": {"ms": 5000}}],
        }
    )
    with pytest.raises(Timeout):
        await slow.execute(ctx=ExecutionContext(limits=Limits(timeout_s=0.1)), host=host)
    ctx = ExecutionContext()
    ctx.cancel_token.cancel("stop")
    with pytest.raises(Cancelled):
        await workflow_from_definition({"type": "sequential", "steps": [{"fn": fn}]}).execute(
            ctx=ctx, host=host
        )
    assert calls == []


async def test_python_exceptions_become_script_errors(host: LocalHost) -> None:
    result = await workflow_from_definition(
        {"type": "sequential", "steps": [{"name": "boom", "fn": lambda ctx: 1 / 0}]}
    ).execute(host=host)
    assert result["errors"][0]["code"] == "SCRIPT_ERROR"
    assert "ZeroDivisionError" in result["errors"][0]["message"]


async def test_async_function_steps(host: LocalHost) -> None:
    async def fn(ctx: dict[str, Any]) -> Any:
        await asyncio.sleep(0)
        return {"got": ctx["input"], "step": ctx["step"], "workflow": ctx["workflow"]}

    result = await workflow_from_definition(
        {"type": "sequential", "name": "w", "steps": [{"name": "f", "fn": fn}]}
    ).execute("hi", host=host)
    assert result["output"] == {"got": "hi", "step": "f", "workflow": "w"}


# -- parallel ----------------------------------------------------------------------------------


async def test_parallel_runs_concurrently(host: LocalHost, sleeper: Any) -> None:
    wf = workflow_from_definition(
        {
            "type": "parallel",
            "steps": [{"name": f"s{i}", "tool": "sleeper", "input": {"ms": 200, "tag": i}} for i in range(4)],
        }
    )
    started = time.monotonic()
    result = await wf.execute(host=host)
    elapsed = time.monotonic() - started
    assert result["success"] and elapsed < 0.6, elapsed
    assert sleeper.peak == 4
    assert {k: v["result"] for k, v in result["output"].items()} == {"s0": 0, "s1": 1, "s2": 2, "s3": 3}
    assert list(result["outputs"]) == ["s0", "s1", "s2", "s3"]


async def test_parallel_max_concurrency(host: LocalHost, sleeper: Any) -> None:
    wf = workflow_from_definition(
        {
            "type": "parallel",
            "max_concurrency": 2,
            "steps": [{"name": f"s{i}", "tool": "sleeper", "input": {"ms": 50}} for i in range(6)],
        }
    )
    assert (await wf.execute(host=host))["success"]
    assert sleeper.peak == 2 and len(sleeper.spans) == 6


async def test_parallel_branches_see_each_other_only_within_the_branch(host: LocalHost) -> None:
    wf = workflow_from_definition(
        {
            "type": "parallel",
            "branches": [
                {
                    "name": "math",
                    "steps": [
                        {"name": "add", "tool": "calculator", "input": {"input": "{{input.a}}+1"}},
                        {
                            "name": "fmt",
                            "fn": lambda ctx: f"= {ctx['steps']['add']['output']['result']['value']}",
                        },
                    ],
                },
                {"name": "echo", "steps": [{"name": "e", "fn": lambda ctx: ctx["input"]["a"]}]},
            ],
        }
    )
    result = await wf.execute({"a": 41}, host=host)
    assert result["output"] == {"math": "= 42", "echo": 41}


async def test_parallel_fail_fast_cancels_the_others(host: LocalHost, sleeper: Any) -> None:
    wf = workflow_from_definition(
        {
            "type": "parallel",
            "branches": [
                {"name": "slow", "steps": [{"tool": "sleeper", "input": {"ms": 3000}}]},
                {"name": "bad", "steps": [{"tool": "broken"}]},
            ],
        }
    )
    started = time.monotonic()
    result = await wf.execute(host=host)
    assert time.monotonic() - started < 1.0
    assert not result["success"] and result["errors"][0]["branch"] == "bad"
    assert "slow" not in result["outputs"] and sleeper.spans == []


async def test_parallel_without_fail_fast_and_optional_branches(host: LocalHost) -> None:
    branches = [
        {"name": "ok", "steps": [{"tool": "sleeper", "input": {"ms": 30, "tag": "done"}}]},
        {"name": "bad", "required": False, "steps": [{"tool": "broken"}]},
    ]
    result = await workflow_from_definition(
        {"type": "parallel", "fail_fast": False, "branches": branches}
    ).execute(host=host)
    assert result["success"] and result["outputs"]["ok"]["result"] == "done"
    assert result["errors"][0]["branch"] == "bad"
    required = [branches[0], {**branches[1], "required": True}]
    result = await workflow_from_definition(
        {"type": "parallel", "fail_fast": False, "branches": required}
    ).execute(host=host)
    assert not result["success"] and result["outputs"]["ok"]["result"] == "done"


async def test_parallel_branch_timeout(host: LocalHost) -> None:
    wf = workflow_from_definition(
        {
            "type": "parallel",
            "fail_fast": False,
            "branches": [
                {
                    "name": "slow",
                    "timeout": 0.05,
                    "required": False,
                    "steps": [{"tool": "sleeper", "input": {"ms": 3000}}],
                },
                {"name": "fast", "steps": [{"tool": "sleeper", "input": {"ms": 1, "tag": "f"}}]},
            ],
        }
    )
    started = time.monotonic()
    result = await wf.execute(host=host)
    assert time.monotonic() - started < 1.0
    assert (
        result["success"]
        and result["errors"][0]["code"] == "TIMEOUT"
        and result["errors"][0]["branch"] == "slow"
    )


# -- conditional ----------------------------------------------------------------------------


def router(match: str = "first") -> Any:
    return workflow_from_definition(
        {
            "type": "conditional",
            "match": match,
            "branches": [
                {
                    "name": "big",
                    "when": {"key": "n", "greater_than": 10},
                    "steps": [{"name": "a", "fn": lambda c: "big"}],
                },
                {
                    "name": "even",
                    "when": lambda ctx: ctx["input"]["n"] % 2 == 0,
                    "steps": [{"name": "b", "fn": lambda c: "even"}],
                },
                {
                    "name": "tagged",
                    "when": {"key": "input.tag", "exists": True},
                    "steps": [{"name": "c", "fn": lambda c: "tag"}],
                },
            ],
            "default": [{"name": "d", "fn": lambda c: "default"}],
        }
    )


@pytest.mark.parametrize(
    ("input", "first", "all_outputs"),
    [
        ({"n": 12}, "big", {"a": "big", "b": "even"}),
        ({"n": 4}, "even", {"b": "even"}),
        ({"n": 3, "tag": "x"}, "tag", {"c": "tag"}),
        ({"n": 3}, "default", {"d": "default"}),
    ],
)
async def test_conditional_first_and_all_match(
    host: LocalHost, input: dict[str, Any], first: str, all_outputs: dict[str, Any]
) -> None:
    assert (await router().execute(input, host=host))["output"] == first
    result = await router("all").execute(input, host=host)
    assert result["outputs"] == all_outputs and result["success"]


async def test_declarative_condition_tests(host: LocalHost) -> None:
    def wf(when: Any) -> Any:
        return workflow_from_definition(
            {"type": "conditional", "branches": [{"when": when, "steps": [{"fn": lambda c: "yes"}]}]}
        )

    cases = [
        ({"key": "s", "equals": "a"}, {"s": "a"}, "yes"),
        ({"key": "s", "not_equals": "a"}, {"s": "a"}, None),
        ({"key": "s", "contains": "ell"}, {"s": "hello"}, "yes"),
        ({"key": "l", "contains": 2}, {"l": [1, 2]}, "yes"),
        ({"key": "n", "less_than": 1}, {"n": 0}, "yes"),
        ({"key": "n", "less_than": 1}, {"n": "0"}, None),
        ({"key": "missing", "exists": False}, {}, "yes"),
        ({"key": "input.deep.x", "equals": 1}, {"deep": {"x": 1}}, "yes"),
    ]
    for when, input, expected in cases:
        assert (await wf(when).execute(input, host=host))["output"] == expected, when


# -- loop -------------------------------------------------------------------------------------


async def test_loop_range_collection_and_aggregates(host: LocalHost) -> None:
    square = [{"name": "sq", "fn": lambda ctx: ctx["loop"]["item"] ** 2}]
    rng = workflow_from_definition({"type": "loop", "range": {"from": 1, "to": 7, "step": 3}, "body": square})
    assert (await rng.execute(host=host))["output"] == [1, 16, 49]
    down = workflow_from_definition(
        {"type": "loop", "range": {"from": 3, "to": 1, "step": -1}, "body": square}
    )
    assert (await down.execute(host=host))["outputs"] == {"sq": [9, 4, 1]}
    coll = workflow_from_definition(
        {"type": "loop", "collection": "{{input.items}}", "body": square, "aggregate": "last"}
    )
    result = await coll.execute({"items": [2, 5]}, host=host)
    assert result["output"] == 25 and result["outputs"] == {"sq": 25}
    empty = await coll.execute({"items": []}, host=host)
    assert empty["success"] and empty["output"] is None
    bad = await coll.execute({"items": "nope"}, host=host)
    assert not bad["success"] and bad["errors"][0]["code"] == "VALIDATION"


async def test_loop_while_break_and_max_iterations(host: LocalHost) -> None:
    counter = workflow_from_definition(
        {
            "type": "loop",
            "while": lambda ctx: ctx["loop"]["index"] <= 3,
            "body": [{"name": "i", "fn": lambda ctx: ctx["loop"]["index"] * 10}],
        }
    )
    assert (await counter.execute(host=host))["output"] == [10, 20, 30]
    chained = workflow_from_definition(
        {
            "type": "loop",
            "while": lambda ctx: not ctx["steps"] or ctx["steps"]["v"]["output"] < 100,
            "body": [{"name": "v", "fn": lambda ctx: 2 ** ctx["loop"]["index"]}],
        }
    )
    assert (await chained.execute(host=host))["output"] == [2, 4, 8, 16, 32, 64, 128]
    breaking = workflow_from_definition(
        {
            "type": "loop",
            "range": {"from": 1, "to": 100},
            "body": [{"name": "v", "fn": lambda ctx: ctx["loop"]["item"]}],
            "break_if": {"key": "steps.v.output", "equals": 4},
        }
    )
    assert (await breaking.execute(host=host))["output"] == [1, 2, 3, 4]
    bounded = workflow_from_definition(
        {
            "type": "loop",
            "while": True,
            "max_iterations": 5,
            "body": [{"fn": lambda ctx: ctx["loop"]["index"]}],
        }
    )
    assert (await bounded.execute(host=host))["output"] == [1, 2, 3, 4, 5]


async def test_loop_failure_stops_or_continues(host: LocalHost) -> None:
    def body(ctx: dict[str, Any]) -> int:
        if ctx["loop"]["item"] == 2:
            raise ToolError("two is bad")
        return int(ctx["loop"]["item"])

    spec = {"type": "loop", "collection": [1, 2, 3], "body": [{"name": "b", "fn": body}]}
    stopped = await workflow_from_definition(spec).execute(host=host)
    assert not stopped["success"] and stopped["output"] == [1, None]
    went_on = await workflow_from_definition({**spec, "error_strategy": "continue"}).execute(host=host)
    assert not went_on["success"] and went_on["output"] == [1, None, 3]


async def test_loop_body_sees_enclosing_steps(host: LocalHost) -> None:
    wf = workflow_from_definition(
        {
            "type": "sequential",
            "steps": [
                {"name": "base", "fn": lambda ctx: 100},
                {
                    "name": "each",
                    "workflow": {
                        "type": "loop",
                        "collection": "{{input}}",
                        "body": [{"name": "add", "fn": lambda ctx: ctx["loop"]["item"] + ctx["input"][0]}],
                    },
                    "input": [1, 2],
                },
            ],
        }
    )
    assert (await wf.execute(host=host))["output"] == [2, 3]


# -- nesting, named workflows, as tool, events ----------------------------------------------


async def test_nested_three_deep(host: LocalHost) -> None:
    level3 = {
        "type": "sequential",
        "name": "l3",
        "steps": [{"name": "deep", "tool": "calculator", "input": {"input": "{{input}}*2"}}],
    }
    level2 = {
        "type": "sequential",
        "name": "l2",
        "steps": [{"name": "inner", "workflow": level3, "input": "{{input}}+1"}],
    }
    level1 = workflow_from_definition(
        {
            "type": "sequential",
            "name": "l1",
            "steps": [
                {"name": "middle", "workflow": level2},
                {
                    "name": "read",
                    "fn": lambda ctx: ctx["steps"]["middle"]["outputs"]["inner"]["result"]["value"],
                },
            ],
        }
    )
    result = await level1.execute("3", host=host)  # 3+1*2
    assert result["success"] and result["output"] == 5
    assert result["outputs"]["middle"]["result"]["expression"] == "3+1*2"


async def test_nested_failure_names_the_inner_step(host: LocalHost) -> None:
    inner = {"type": "sequential", "name": "inner", "steps": [{"name": "bad", "tool": "broken"}]}
    result = await workflow_from_definition(
        {"type": "sequential", "steps": [{"name": "outer", "workflow": inner}]}
    ).execute(host=host)
    error = result["errors"][0]
    assert error["step"] == "outer" and error["code"] == "TOOL_ERROR"
    assert "workflow 'inner' failed at step 'bad'" in error["message"]


async def test_named_workflows_and_recursion_guard(host: LocalHost) -> None:
    host.workflows["double"] = workflow_from_definition(
        {"type": "sequential", "name": "double", "steps": [{"fn": lambda ctx: ctx["input"] * 2}]}
    )
    wf = workflow_from_definition({"type": "sequential", "steps": [{"workflow": "double", "input": 21}]})
    assert (await wf.execute(host=host))["output"] == 42
    missing = workflow_from_definition({"type": "sequential", "steps": [{"workflow": "nope"}]})
    assert (await missing.execute(host=host))["errors"][0]["code"] == "NOT_FOUND"
    host.workflows["self"] = workflow_from_definition(
        {"type": "sequential", "name": "self", "steps": [{"workflow": "self"}]}
    )
    result = await host.workflows["self"].execute(host=host)
    assert not result["success"] and result["errors"][0]["code"] == "LIMIT_EXCEEDED"


async def test_workflow_as_tool(host: LocalHost) -> None:
    wf = workflow_from_definition(
        {"type": "sequential", "name": "Shout It", "steps": [{"fn": lambda ctx: str(ctx["input"]).upper()}]}
    )
    tool = WorkflowTool(wf, host)
    assert tool.name == "workflow-shout-it"
    host.tools.register(tool)
    envelope = await host.tools.invoke("workflow-shout-it", {"input": "hey"}, ExecutionContext())
    assert envelope["result"] == "HEY"
    failing = workflow_from_definition({"type": "sequential", "name": "f", "steps": [{"tool": "broken"}]})
    host.tools.register(WorkflowTool(failing, host, "failing"))
    with pytest.raises(ToolError, match="workflow 'f' failed at step 'step_1'"):
        await host.tools.invoke("failing", {}, ExecutionContext())


async def test_events(host: LocalHost, recorder: Any) -> None:
    wf = workflow_from_definition(
        {
            "type": "sequential",
            "name": "ev",
            "error_strategy": "continue",
            "steps": [{"name": "a", "fn": lambda ctx: 1}, {"name": "b", "tool": "broken"}],
        }
    )
    result = await wf.execute(host=host)
    assert recorder.types() == [
        "workflow.started",
        "workflow.step.started",
        "workflow.step.completed",
        "workflow.step.started",
        "workflow.step.failed",
        "workflow.completed",
    ]
    for event in recorder.events:
        assert event["workflow"] == "ev" and event["execution_id"] == result["execution_id"]
    steps = [e for e in recorder.events if e["type"].startswith("workflow.step.")]
    assert [e["step"] for e in steps] == ["a", "a", "b", "b"]
    assert steps[3]["error"]["code"] == "TOOL_ERROR" and recorder.events[-1]["success"] is False


async def test_inline_agent_without_model_is_a_clear_error(host: LocalHost) -> None:
    from llmspell.core.config import Settings

    no_model = LocalHost(settings=Settings(model=None))
    wf = workflow_from_definition({"type": "sequential", "steps": [{"agent": {"system_prompt": "x"}}]})
    result = await wf.execute("hi", host=no_model)
    assert result["errors"][0]["code"] == "VALIDATION" and "LLMSPELL_MODEL" in result["errors"][0]["message"]
    unknown = await workflow_from_definition({"type": "sequential", "steps": [{"agent": "ghost"}]}).execute(
        host=host
    )
    assert unknown["errors"][0]["code"] == "NOT_FOUND"


async def test_find_agent_is_asked_once_for_a_name_the_host_lacks(fake_llm: FakeLLMServer) -> None:
    from llmspell.agents import AgentConfig, LLMAgent
    from llmspell.core.abc import BaseAgent

    def echo(name: str) -> LLMAgent:
        config = AgentConfig(name=name, model="openai/fake", base_url=fake_llm.base_url, api_key="sk")
        return LLMAgent(config)

    asked: list[str] = []

    async def find(name: str) -> BaseAgent | None:
        asked.append(name)
        await asyncio.sleep(0.01)  # parallel steps arrive while the first lookup is under way
        return echo(name) if name == "stored" else None

    host = LocalHost(agents={"own": echo("own")}, find_agent=find)
    steps = [{"name": f"s{i}", "agent": "stored", "input": f"q{i}"} for i in range(3)]
    steps.append({"name": "own", "agent": "own", "input": "mine"})
    result = await workflow_from_definition({"type": "parallel", "steps": steps}).execute(host=host)
    assert result["success"] is True, result
    assert result["outputs"]["s0"]["text"] == "Echo: q0" and result["outputs"]["own"]["text"] == "Echo: mine"
    assert asked == ["stored"] and set(host.agents) == {"own", "stored"}
    missing = workflow_from_definition({"type": "sequential", "steps": [{"agent": "ghost"}]})
    assert (await missing.execute(host=host))["errors"][0]["code"] == "NOT_FOUND"
    assert asked == ["stored", "ghost"]

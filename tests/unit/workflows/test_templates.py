"""Templates: whole-string values keep their type, embedded ones stringify, paths are checked."""

from __future__ import annotations

from typing import Any

import pytest
from llmspell.core.errors import ValidationError
from llmspell.workflows import LocalHost, workflow_from_definition


async def run_fn_steps(input: Any, probe_input: Any) -> Any:
    """Run [producer step, probe step whose rendered input is returned] and give the probe's output."""
    wf = workflow_from_definition(
        {
            "type": "sequential",
            "name": "t",
            "steps": [
                {
                    "name": "fetch",
                    "fn": lambda ctx: {"result": {"value": 7, "items": ["a", "b"]}, "ok": True},
                },
                {"name": "probe", "fn": lambda ctx: ctx["params"], "input": probe_input},
            ],
        }
    )
    result = await wf.execute(input, host=LocalHost())
    assert result["success"], result["errors"]
    return result["output"]


@pytest.mark.parametrize(
    ("template", "expected"),
    [
        ("{{input}}", {"n": 1}),
        ("{{input.n}}", 1),
        ("{{steps.fetch.output}}", {"result": {"value": 7, "items": ["a", "b"]}, "ok": True}),
        ("{{steps.fetch.output.result.value}}", 7),
        ("{{ steps.fetch.output.result.items.2 }}", "b"),
        ("{{steps.fetch.output.ok}}", True),
        ("v={{steps.fetch.output.result.value}}", "v=7"),
        ("{{input.n}}+{{steps.fetch.output.result.value}}", "1+7"),
        (
            "ok: {{steps.fetch.output.ok}} items: {{steps.fetch.output.result.items}}",
            'ok: true items: ["a","b"]',
        ),
        ("no template", "no template"),
        ("{{workflow.name}}", "t"),
    ],
)
async def test_template_values(template: str, expected: Any) -> None:
    assert await run_fn_steps({"n": 1}, template) == expected


async def test_templates_inside_tables_and_lists() -> None:
    probe = {"a": "{{input.n}}", "list": ["{{steps.fetch.output.result.value}}", "x-{{input.n}}"], "k": 5}
    assert await run_fn_steps({"n": 2}, probe) == {"a": 2, "list": [7, "x-2"], "k": 5}


@pytest.mark.parametrize(
    ("template", "message"),
    [
        ("{{steps.missing.output}}", "no step named 'missing'"),
        ("{{steps.fetch.output.result.nope}}", "steps.fetch.output.result has no field 'nope'"),
        ("{{steps.fetch.output.result.items.3}}", "has no field '3'"),
        ("{{loop.item}}", "only valid inside a loop"),
    ],
)
async def test_unresolvable_templates_fail_the_step(template: str, message: str) -> None:
    wf = workflow_from_definition(
        {
            "type": "sequential",
            "steps": [
                {"name": "fetch", "fn": lambda ctx: {"result": {"value": 7, "items": ["a", "b"]}}},
                {"name": "probe", "fn": lambda ctx: ctx["params"], "input": template},
            ],
        }
    )
    result = await wf.execute({}, host=LocalHost())
    assert not result["success"]
    [error] = result["errors"]
    assert error["step"] == "probe" and error["code"] == "VALIDATION"
    assert message in error["message"]


@pytest.mark.parametrize(
    ("template", "message"),
    [
        ("{{nothing.here}}", "must start with input, steps, loop or workflow"),
        ("{{steps}}", "needs a step name"),
        ("{{input..x}}", "empty segment"),
    ],
)
def test_malformed_templates_are_rejected_at_definition(template: str, message: str) -> None:
    with pytest.raises(ValidationError) as info:
        workflow_from_definition(
            {"type": "sequential", "steps": [{"name": "s", "tool": "calculator", "input": template}]}
        )
    assert message in info.value.message
    assert info.value.details["field"] == "steps.s.input"


async def test_loop_templates() -> None:
    wf = workflow_from_definition(
        {
            "type": "loop",
            "collection": ["x", "y"],
            "body": [
                {"name": "echo", "fn": lambda ctx: ctx["params"], "input": "{{loop.index}}:{{loop.item}}"}
            ],
        }
    )
    assert (await wf.execute(None, host=LocalHost()))["output"] == ["1:x", "2:y"]

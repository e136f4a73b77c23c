"""Definitions: clear VALIDATION errors naming the field; builder and table forms agree."""

from __future__ import annotations

from typing import Any

import pytest
from llmspell.core.errors import ValidationError
from llmspell.workflows import (
    ConditionalWorkflow,
    ErrorStrategy,
    LoopWorkflow,
    ParallelWorkflow,
    SequentialWorkflow,
    WorkflowBuilder,
    parse_error_strategy,
    workflow_from_definition,
)


def noop(ctx: dict[str, Any]) -> None:
    return None


@pytest.mark.parametrize(
    ("spec", "field"),
    [
        ({"type": "nope"}, "type"),
        ({"type": "sequential", "stepz": []}, "stepz"),
        ({"type": "sequential", "steps": "x"}, "steps"),
        ({"type": "sequential", "steps": [{"name": "a"}]}, "steps[1]"),
        ({"type": "sequential", "steps": [{"tool": "calculator", "agent": "x"}]}, "steps[1]"),
        ({"type": "sequential", "steps": [{"tool": ""}]}, "steps[1].tool"),
        ({"type": "sequential", "steps": [{"tool": "t", "timeout": -1}]}, "steps[1].timeout"),
        ({"type": "sequential", "steps": [{"tool": "t", "retries": 1.5}]}, "steps[1].retries"),
        ({"type": "sequential", "steps": [{"tool": "t", "required": "yes"}]}, "steps[1].required"),
        ({"type": "sequential", "steps": [{"tool": "t", "bogus": 1}]}, "steps[1].bogus"),
        (
            {"type": "sequential", "steps": [{"name": "a", "tool": "t"}, {"name": "a", "tool": "t"}]},
            "steps[2].name",
        ),
        ({"type": "sequential", "steps": [{"fn": "not callable"}]}, "steps[1].fn"),
        ({"type": "sequential", "steps": [{"agent": 42}]}, "steps[1].agent"),
        ({"type": "sequential", "error_strategy": "sometimes"}, "error_strategy"),
        (
            {"type": "sequential", "error_strategy": {"type": "retry", "attempts": 0}},
            "error_strategy.attempts",
        ),
        ({"type": "parallel"}, "steps"),
        ({"type": "parallel", "steps": [], "branches": []}, "steps"),
        ({"type": "parallel", "steps": [], "max_concurrency": 0}, "max_concurrency"),
        ({"type": "parallel", "branches": [{"name": "a"}, {"name": "a"}]}, "branches[2].name"),
        ({"type": "parallel", "branches": [{"steps": [], "weight": 1}]}, "branches[1].weight"),
        ({"type": "conditional", "branches": []}, "branches"),
        ({"type": "conditional", "branches": [{"steps": []}]}, "branches[1].when"),
        ({"type": "conditional", "branches": [{"when": {"equals": 1}, "steps": []}]}, "branches[1].when.key"),
        ({"type": "conditional", "branches": [{"when": {"key": "k"}, "steps": []}]}, "branches[1].when"),
        (
            {"type": "conditional", "branches": [{"when": {"key": "k", "like": 1}, "steps": []}]},
            "branches[1].when.like",
        ),
        ({"type": "conditional", "branches": [{"when": 3, "steps": []}]}, "branches[1].when"),
        ({"type": "conditional", "branches": [{"when": True, "steps": []}], "match": "some"}, "match"),
        ({"type": "loop", "body": []}, "range"),
        ({"type": "loop", "range": {"to": 3}, "collection": [], "body": []}, "range"),
        ({"type": "loop", "range": {"to": 3}}, "body"),
        ({"type": "loop", "range": {"from": 1}, "body": []}, "range.to"),
        ({"type": "loop", "range": {"to": 3, "step": 0}, "body": []}, "range.step"),
        ({"type": "loop", "range": {"to": "x"}, "body": []}, "range.to"),
        ({"type": "loop", "collection": 5, "body": []}, "collection"),
        ({"type": "loop", "range": {"to": 3}, "body": [], "aggregate": "sum"}, "aggregate"),
        ({"type": "loop", "range": {"to": 3}, "body": [], "max_iterations": 0}, "max_iterations"),
        (
            {"type": "sequential", "steps": [{"workflow": {"type": "loop", "range": {"to": 1}}}]},
            "steps[1].workflow.body",
        ),
    ],
)
def test_validation_errors_name_the_field(spec: dict[str, Any], field: str) -> None:
    with pytest.raises(ValidationError) as info:
        workflow_from_definition(spec)
    assert info.value.details["field"] == field
    assert info.value.message.startswith(field) or field in info.value.message


def test_kind_argument_and_type_mismatch() -> None:
    assert isinstance(workflow_from_definition({"steps": []}, kind="sequential"), SequentialWorkflow)
    with pytest.raises(ValidationError, match="built as 'parallel'"):
        workflow_from_definition({"type": "sequential", "steps": []}, kind="parallel")


def test_types_and_defaults() -> None:
    seq = workflow_from_definition({"type": "sequential", "steps": [{"tool": "calculator"}, {"fn": noop}]})
    assert isinstance(seq, SequentialWorkflow)
    assert [s.name for s in seq.steps] == ["step_1", "step_2"]
    assert seq.name == "sequential" and seq.error_strategy == ErrorStrategy()
    par = workflow_from_definition({"type": "parallel", "name": "p", "steps": [{"name": "a", "fn": noop}]})
    assert isinstance(par, ParallelWorkflow) and par.fail_fast and par.max_concurrency is None
    cond = workflow_from_definition({"type": "conditional", "branches": [{"when": True, "steps": {}}]})
    assert isinstance(cond, ConditionalWorkflow) and cond.match == "first"
    loop = workflow_from_definition({"type": "loop", "while": noop, "steps": [{"fn": noop}]})
    assert isinstance(loop, LoopWorkflow) and loop.max_iterations == 1000 and loop.aggregate == "all"


def test_error_strategy_forms() -> None:
    assert parse_error_strategy(None) == ErrorStrategy(kind="fail_fast")
    assert parse_error_strategy("continue").kind == "continue"
    assert parse_error_strategy("retry", {"attempts": 5, "backoff_ms": 1}) == ErrorStrategy(
        kind="retry", attempts=5, backoff_ms=1.0
    )
    table = parse_error_strategy({"type": "retry", "max_attempts": 2, "backoff_factor": 3})
    assert (table.attempts, table.backoff_factor) == (2, 3.0)
    assert parse_error_strategy(None, {"attempts": 4}).kind == "retry"
    assert ErrorStrategy(backoff_ms=100, backoff_factor=2, max_backoff_ms=250).delay_s(3) == 0.25


def test_builder_and_table_build_the_same_workflow() -> None:
    check = {"key": "steps.first.output", "equals": 3}
    table = {
        "type": "sequential",
        "name": "same",
        "error_strategy": "retry",
        "retry": {"attempts": 2, "backoff_ms": 5},
        "steps": [
            {"name": "first", "tool": "calculator", "input": {"input": "1+2"}},
            {"name": "second", "fn": noop, "timeout": 2, "retries": 1},
            {
                "name": "inner",
                "workflow": {
                    "type": "conditional",
                    "name": "route",
                    "branches": [{"name": "three", "when": check, "steps": [{"name": "x", "fn": noop}]}],
                    "default": [{"name": "y", "fn": noop}],
                },
            },
        ],
    }
    route = (
        WorkflowBuilder()
        .name("route")
        .conditional()
        .add_branch({"name": "three", "when": check, "steps": [{"name": "x", "fn": noop}]})
        .default([{"name": "y", "fn": noop}])
        .build()
    )
    built = (
        WorkflowBuilder()
        .name("same")
        .sequential()
        .error_strategy("retry")
        .retry({"attempts": 2, "backoff_ms": 5})
        .add_step({"name": "first", "tool": "calculator", "input": {"input": "1+2"}})
        .add_step({"name": "second", "fn": noop, "timeout": 2, "retries": 1})
        .add_step({"name": "inner", "workflow": route})
        .build()
    )
    assert built.describe() == workflow_from_definition(table).describe()


def test_builder_loop_and_parallel() -> None:
    loop = (
        WorkflowBuilder().loop().range({"from": 1, "to": 3}).add_step({"fn": noop}).aggregate("last").build()
    )
    assert (
        loop.describe()
        == workflow_from_definition(
            {"type": "loop", "range": {"from": 1, "to": 3}, "body": [{"fn": noop}], "aggregate": "last"}
        ).describe()
    )
    par = (
        WorkflowBuilder()
        .parallel()
        .max_concurrency(2)
        .fail_fast(False)
        .add_step({"name": "a", "fn": noop})
        .build()
    )
    assert par.describe()["max_concurrency"] == 2 and par.describe()["fail_fast"] is False
    with pytest.raises(ValidationError, match="add_branch"):
        WorkflowBuilder().conditional().add_step({"fn": noop})
    with pytest.raises(ValidationError, match="type must be one of"):
        WorkflowBuilder().type("graph")


def test_describe_is_json_compatible() -> None:
    import json

    wf = workflow_from_definition(
        {
            "type": "loop",
            "name": "l",
            "collection": "{{input.items}}",
            "body": [{"name": "s", "fn": noop}, {"name": "a", "agent": {"model": "openai/x"}}],
            "break_if": noop,
        }
    )
    data = json.loads(json.dumps(wf.describe()))
    assert data["collection"] == "{{input.items}}"
    assert data["body"][0]["fn"] == "<function>" and data["break_if"] == "<function>"
    assert data["body"][1]["agent"] == {"model": "openai/x"}

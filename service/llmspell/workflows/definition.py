"""Workflow definitions (the table form scripts write, as JSON for REST) → workflow objects.

Every mistake is a ``VALIDATION`` error whose message and ``details.field`` name the
field (``steps[2].tool``), so a script author or a REST client can fix it at once.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, Literal, cast

from ..core.abc import BaseAgent, Workflow
from ..core.errors import ValidationError
from ._base import BaseWorkflow, ErrorStrategy
from ._conditional import ConditionalWorkflow, GuardedBranch, MatchMode
from ._conditions import compile_condition
from ._loop import DEFAULT_MAX_ITERATIONS, Aggregate, LoopWorkflow, RangeSpec
from ._parallel import Branch, ParallelWorkflow
from ._sequential import SequentialWorkflow
from ._steps import AgentStep, FunctionStep, ToolStep, WorkflowStep
from ._templates import compile_value
from .abc import Step

__all__ = ["TYPES", "ObjectResolver", "parse_error_strategy", "workflow_from_definition"]

TYPES = ("sequential", "parallel", "conditional", "loop")

ObjectResolver = Callable[[Literal["agent", "workflow"], Any, str], Any]
"""Maps an agent or workflow object found in a definition to what steps hold; raises
``ValidationError`` (naming the field given as third argument) for unusable values."""

_COMMON = {"type", "name", "description", "error_strategy", "retry", "timeout"}
_FIELDS: dict[str, set[str]] = {
    "sequential": _COMMON | {"steps"},
    "parallel": _COMMON | {"steps", "branches", "max_concurrency", "fail_fast"},
    "conditional": _COMMON | {"branches", "default", "match", "mode"},
    "loop": _COMMON
    | {"range", "collection", "while", "while_", "body", "steps", "break_if", "max_iterations", "aggregate"},
}
_STEP_KINDS = ("tool", "agent", "workflow", "fn")
_STEP_FIELDS = {*_STEP_KINDS, "name", "input", "params", "timeout", "retries", "required", "description"}
_STRATEGIES = {"fail_fast": "fail_fast", "fail-fast": "fail_fast", "continue": "continue", "retry": "retry"}
_RETRY_FIELDS = {"type", "attempts", "max_attempts", "backoff_ms", "backoff_factor", "max_backoff_ms"}


def _fail(field: str, message: str) -> ValidationError:
    return ValidationError(f"{field} {message}", details={"field": field})


def _number(value: Any, field: str, *, positive: bool = True) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise _fail(field, f"must be a number, got {value!r}")
    if positive and value <= 0:
        raise _fail(field, f"must be greater than 0, got {value!r}")
    return value


def _integer(value: Any, field: str, *, minimum: int) -> int:
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise _fail(field, f"must be an integer >= {minimum}, got {value!r}")
    return value


def _text(value: Any, field: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise _fail(field, "must be a non-empty string")
    return value


def _list(value: Any, field: str) -> list[Any]:
    if isinstance(value, dict) and not value:  # an empty script table
        return []
    if not isinstance(value, list | tuple):
        raise _fail(field, "must be a list")
    return list(value)


def _bool(value: Any, field: str) -> bool:
    if not isinstance(value, bool):
        raise _fail(field, f"must be true or false, got {value!r}")
    return value


def parse_error_strategy(value: Any, retry: Any = None, field: str = "error_strategy") -> ErrorStrategy:
    """``"fail_fast"|"continue"|"retry"`` or ``{type=, attempts=, backoff_ms=, ...}``.

    ``retry`` (a table of the same retry fields) is merged in, for ``error_strategy="retry",
    retry={attempts=5}``.

    Raises:
        ValidationError: an unknown strategy or a bad retry field.
    """
    options: dict[str, Any] = {}
    if value is None:
        kind = "retry" if retry is not None else "fail_fast"
    elif isinstance(value, str):
        kind = value
    elif isinstance(value, dict):
        unknown = sorted(set(value) - _RETRY_FIELDS)
        if unknown:
            raise _fail(
                f"{field}.{unknown[0]}", f"is not a strategy option ({', '.join(sorted(_RETRY_FIELDS))})"
            )
        kind = value.get("type", "retry")
        options.update({k: v for k, v in value.items() if k != "type"})
    else:
        raise _fail(
            field, "must be 'fail_fast', 'continue', 'retry' or a table {type=, attempts=, backoff_ms=}"
        )
    if kind not in _STRATEGIES:
        raise _fail(field, f"must be 'fail_fast', 'continue' or 'retry', got {kind!r}")
    if retry is not None:
        if not isinstance(retry, dict):
            raise _fail("retry", "must be a table {attempts=, backoff_ms=, backoff_factor=}")
        unknown = sorted(set(retry) - _RETRY_FIELDS)
        if unknown:
            raise _fail(f"retry.{unknown[0]}", "is not a retry option")
        options.update(retry)
    fields: dict[str, Any] = {"kind": _STRATEGIES[kind]}
    attempts = options.get("attempts", options.get("max_attempts"))
    if attempts is not None:
        fields["attempts"] = _integer(attempts, f"{field}.attempts", minimum=1)
    for name in ("backoff_ms", "max_backoff_ms"):
        if name in options:
            fields[name] = float(_number(options[name], f"{field}.{name}", positive=False))
    if "backoff_factor" in options:
        fields["backoff_factor"] = float(_number(options["backoff_factor"], f"{field}.backoff_factor"))
    return ErrorStrategy(**fields)


class _Parser:
    def __init__(self, resolve: ObjectResolver | None) -> None:
        self._resolve = resolve

    def _object(self, kind: Literal["agent", "workflow"], value: Any, field: str) -> Any:
        if self._resolve is not None:
            return self._resolve(kind, value, field)
        expected = BaseAgent if kind == "agent" else Workflow
        if not isinstance(value, expected):
            raise _fail(field, f"must be a {kind} name, a definition table or a {kind} object")
        return value

    def steps(self, value: Any, field: str) -> tuple[Step, ...]:
        steps = tuple(self.step(item, f"{field}[{i}]", i) for i, item in enumerate(_list(value, field), 1))
        seen: set[str] = set()
        for i, step in enumerate(steps, 1):
            if step.name in seen:
                raise _fail(
                    f"{field}[{i}].name", f"repeats the step name {step.name!r}; step names must be unique"
                )
            seen.add(step.name)
        return steps

    def step(self, spec: Any, field: str, index: int) -> Step:
        if isinstance(spec, BaseWorkflow):  # a workflow object used directly as a step
            spec = {"name": spec.name, "workflow": spec}
        if not isinstance(spec, dict):
            raise _fail(field, "must be a step table {name=, tool=|agent=|workflow=|fn=, input=}")
        unknown = sorted(set(spec) - _STEP_FIELDS)
        if unknown:
            raise _fail(
                f"{field}.{unknown[0]}",
                "is not a step field (name, tool, agent, workflow, fn, input, "
                "timeout, retries, required, description)",
            )
        kinds = [kind for kind in _STEP_KINDS if spec.get(kind) is not None]
        if len(kinds) != 1:
            raise _fail(field, "needs exactly one of tool=, agent=, workflow= or fn=")
        kind = kinds[0]
        options: dict[str, Any] = {
            "name": _text(spec["name"], f"{field}.name") if "name" in spec else f"step_{index}",
            "input": spec.get("input", spec.get("params")),
            "required": _bool(spec.get("required", True), f"{field}.required"),
            "description": str(spec.get("description") or ""),
        }
        if spec.get("timeout") is not None:
            options["timeout"] = float(_number(spec["timeout"], f"{field}.timeout"))
        if spec.get("retries") is not None:
            options["retries"] = _integer(spec["retries"], f"{field}.retries", minimum=0)
        target = spec[kind]
        if kind == "tool":
            return ToolStep(tool=_text(target, f"{field}.tool"), **options)
        if kind == "agent":
            if isinstance(target, str):
                _text(target, f"{field}.agent")
            elif not isinstance(target, dict):
                target = self._object("agent", target, f"{field}.agent")
            return AgentStep(agent=target, **options)
        if kind == "workflow":
            if isinstance(target, str):
                _text(target, f"{field}.workflow")
            elif isinstance(target, dict):
                target = self.workflow(target, None, f"{field}.workflow")
            else:
                target = self._object("workflow", target, f"{field}.workflow")
            return WorkflowStep(workflow=target, **options)
        if not callable(target):
            raise _fail(f"{field}.fn", "must be a function(ctx)")
        return FunctionStep(fn=target, **options)

    def workflow(self, spec: Any, kind: str | None, field: str = "") -> BaseWorkflow:
        prefix = f"{field}." if field else ""
        if not isinstance(spec, Mapping):
            raise _fail(field or "definition", "must be a table")
        spec = dict(spec)
        kind = kind or spec.get("type")
        if kind not in TYPES:
            raise _fail(f"{prefix}type", f"must be one of {', '.join(TYPES)}, got {kind!r}")
        if spec.get("type", kind) != kind:
            raise _fail(f"{prefix}type", f"is {spec['type']!r} but the workflow is built as {kind!r}")
        unknown = sorted(set(spec) - _FIELDS[kind])
        if unknown:
            raise _fail(f"{prefix}{unknown[0]}", f"is not a field of {kind} workflows")
        common: dict[str, Any] = {
            "name": _text(spec["name"], f"{prefix}name") if spec.get("name") is not None else kind,
            "description": str(spec.get("description") or ""),
            "error_strategy": parse_error_strategy(
                spec.get("error_strategy"), spec.get("retry"), f"{prefix}error_strategy"
            ),
        }
        if spec.get("timeout") is not None:
            common["timeout"] = float(_number(spec["timeout"], f"{prefix}timeout"))
        builder = getattr(self, "_" + kind)
        built: BaseWorkflow = builder(spec, prefix, common)
        return built

    def _sequential(self, spec: dict[str, Any], prefix: str, common: dict[str, Any]) -> BaseWorkflow:
        return SequentialWorkflow(steps=self.steps(spec.get("steps", []), f"{prefix}steps"), **common)

    def _parallel(self, spec: dict[str, Any], prefix: str, common: dict[str, Any]) -> BaseWorkflow:
        has_steps, has_branches = spec.get("steps") is not None, spec.get("branches") is not None
        if has_steps == has_branches:
            raise _fail(f"{prefix}steps", "or branches is needed (exactly one of them)")
        if has_steps:
            steps = self.steps(spec["steps"], f"{prefix}steps")
            branches = [Branch(name=s.name, steps=(s,), required=s.required) for s in steps]
        else:
            branches = [
                self._branch(item, f"{prefix}branches[{i}]", i)
                for i, item in enumerate(_list(spec["branches"], f"{prefix}branches"), 1)
            ]
            names = [branch.name for branch in branches]
            for i, name in enumerate(names, 1):
                if names.index(name) != i - 1:
                    raise _fail(f"{prefix}branches[{i}].name", f"repeats the branch name {name!r}")
        concurrency = spec.get("max_concurrency")
        return ParallelWorkflow(
            branches=branches,
            max_concurrency=None
            if concurrency is None
            else _integer(concurrency, f"{prefix}max_concurrency", minimum=1),
            fail_fast=_bool(spec.get("fail_fast", True), f"{prefix}fail_fast"),
            single_steps=has_steps,
            **common,
        )

    def _branch(self, spec: Any, field: str, index: int) -> Branch:
        if not isinstance(spec, dict):
            raise _fail(field, "must be a branch table {name=, steps={...}}")
        unknown = sorted(set(spec) - {"name", "steps", "required", "timeout"})
        if unknown:
            raise _fail(f"{field}.{unknown[0]}", "is not a branch field (name, steps, required, timeout)")
        timeout = spec.get("timeout")
        return Branch(
            name=_text(spec["name"], f"{field}.name") if "name" in spec else f"branch_{index}",
            steps=self.steps(spec.get("steps", []), f"{field}.steps"),
            required=_bool(spec.get("required", True), f"{field}.required"),
            timeout=None if timeout is None else float(_number(timeout, f"{field}.timeout")),
        )

    def _conditional(self, spec: dict[str, Any], prefix: str, common: dict[str, Any]) -> BaseWorkflow:
        branches = []
        for i, item in enumerate(_list(spec.get("branches", []), f"{prefix}branches"), 1):
            field = f"{prefix}branches[{i}]"
            if not isinstance(item, dict):
                raise _fail(field, "must be a branch table {when=, steps={...}}")
            unknown = sorted(set(item) - {"name", "when", "condition", "steps"})
            if unknown:
                raise _fail(f"{field}.{unknown[0]}", "is not a branch field (name, when, steps)")
            when = item.get("when", item.get("condition"))
            if when is None:
                raise _fail(f"{field}.when", "is required: a function(ctx) or {key=, equals=}")
            branches.append(
                GuardedBranch(
                    name=_text(item["name"], f"{field}.name") if "name" in item else f"branch_{i}",
                    when=compile_condition(when, f"{field}.when"),
                    steps=self.steps(item.get("steps", []), f"{field}.steps"),
                )
            )
        if not branches:
            raise _fail(f"{prefix}branches", "needs at least one branch {when=, steps={...}}")
        match = spec.get("match", spec.get("mode", "first"))
        match = {"first": "first", "first_match": "first", "all": "all", "all_match": "all"}.get(match, match)
        if match not in ("first", "all"):
            raise _fail(f"{prefix}match", f"must be 'first' or 'all', got {match!r}")
        default = spec.get("default")
        if isinstance(default, dict) and "steps" in default:
            default = default["steps"]
        return ConditionalWorkflow(
            branches=branches,
            default=self.steps(default, f"{prefix}default") if default is not None else (),
            match=cast(MatchMode, match),
            **common,
        )

    def _loop(self, spec: dict[str, Any], prefix: str, common: dict[str, Any]) -> BaseWorkflow:
        while_cond = spec.get("while", spec.get("while_"))
        given = (("range", spec.get("range")), ("collection", spec.get("collection")), ("while", while_cond))
        drivers = [key for key, value in given if value is not None]
        if len(drivers) != 1:
            raise _fail(f"{prefix}range", "or collection or while is needed (exactly one of them)")
        options: dict[str, Any] = {}
        if drivers == ["range"]:
            options["range"] = self._range(spec["range"], f"{prefix}range")
        elif drivers == ["collection"]:
            source = spec["collection"]
            render, constant = compile_value(source, f"{prefix}collection")
            if render is None:
                constant = _list(constant, f"{prefix}collection")
            options["collection"] = render if render is not None else constant
            options["collection_source"] = source
        else:
            options["while_"] = compile_condition(while_cond, f"{prefix}while")
        body_key = "body" if spec.get("body") is not None else "steps"
        if spec.get(body_key) is None:
            raise _fail(f"{prefix}body", "is required: the steps of one iteration")
        if spec.get("break_if") is not None:
            options["break_if"] = compile_condition(spec["break_if"], f"{prefix}break_if")
        aggregate = spec.get("aggregate", "all")
        if aggregate not in ("all", "last"):
            raise _fail(f"{prefix}aggregate", f"must be 'all' or 'last', got {aggregate!r}")
        return LoopWorkflow(
            body=self.steps(spec[body_key], f"{prefix}{body_key}"),
            max_iterations=_integer(
                spec.get("max_iterations", DEFAULT_MAX_ITERATIONS), f"{prefix}max_iterations", minimum=1
            ),
            aggregate=cast(Aggregate, aggregate),
            **options,
            **common,
        )

    def _range(self, value: Any, field: str) -> RangeSpec:
        if not isinstance(value, dict):
            raise _fail(field, "must be a table {from=, to=, step=}")
        unknown = sorted(set(value) - {"from", "to", "step", "start", "stop"})
        if unknown:
            raise _fail(f"{field}.{unknown[0]}", "is not a range field (from, to, step)")
        if value.get("to", value.get("stop")) is None:
            raise _fail(f"{field}.to", "is required")
        start = _number(value.get("from", value.get("start", 1)), f"{field}.from", positive=False)
        stop = _number(value.get("to", value.get("stop")), f"{field}.to", positive=False)
        step = _number(value.get("step", 1), f"{field}.step", positive=False)
        if step == 0:
            raise _fail(f"{field}.step", "must not be 0")
        return RangeSpec(start=float(start), stop=float(stop), step=float(step))


def workflow_from_definition(
    spec: Mapping[str, Any], *, kind: str | None = None, resolve: ObjectResolver | None = None
) -> BaseWorkflow:
    """Build a workflow from its table/JSON form.

    Args:
        spec: ``{type=, name=, steps=...}`` as documented in docs/workflows.md.
        kind: the type when the caller already knows it (``Workflow.sequential{...}``).
        resolve: maps agent/workflow objects in ``spec`` (the script API passes its own);
            by default agents must be ``BaseAgent`` and workflows ``Workflow`` instances.

    Raises:
        ValidationError: the definition is malformed (``details.field`` names where).
    """
    return _Parser(resolve).workflow(spec, kind)

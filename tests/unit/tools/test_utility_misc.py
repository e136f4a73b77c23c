"""diff-calculator, data-validator, template-engine."""

from __future__ import annotations

from typing import Any

import pytest
from llmspell.core.context import ExecutionContext
from llmspell.core.errors import LimitExceeded, SandboxViolation, ValidationError
from llmspell.tools import default_registry


async def run(tool: str, **params: Any) -> Any:
    env = await default_registry().invoke(tool, params, ExecutionContext())
    assert env["success"] is True
    return env["result"]


async def test_unified_and_ndiff() -> None:
    result = await run("diff-calculator", input="a\nb\nc\n", other="a\nB\nc\n")
    assert result["added"] == 1 and result["removed"] == 1 and result["equal"] is False
    assert result["diff"] == "--- a\n+++ b\n@@ -1,3 +1,3 @@\n a\n-b\n+B\n c"
    ndiff = await run("diff-calculator", operation="ndiff", input="x\n", other="y\n")
    assert ndiff["diff"].splitlines() == ["- x", "+ y"]
    same = await run("diff-calculator", operation="similarity", input="abcd", other="abcd")
    assert same == {"ratio": 1.0, "equal": True}


async def test_json_diff() -> None:
    result = await run(
        "diff-calculator",
        operation="json",
        input={"a": 1, "b": [1, 2], "n": {"x": 1}},
        other='{"a": 1.5, "b": [1], "n": {"x": 1, "y": 2}}',
    )
    assert result["changes"] == [
        {"path": "a", "op": "changed", "old": 1, "new": 1.5},
        {"path": "b[1]", "op": "removed", "old": 2},
        {"path": "n.y", "op": "added", "new": 2},
    ]
    assert (await run("diff-calculator", operation="json", input=[1], other=[1]))["equal"] is True


async def test_diff_refusals() -> None:
    registry, ctx = default_registry(), ExecutionContext()
    with pytest.raises(ValidationError, match="two strings"):
        await registry.invoke("diff-calculator", {"input": 1, "other": "x"}, ctx)
    with pytest.raises(ValidationError, match="not valid JSON"):
        await registry.invoke("diff-calculator", {"operation": "json", "input": "{", "other": "{}"}, ctx)
    with pytest.raises(ValidationError, match="'other'"):
        await registry.invoke("diff-calculator", {"input": "x"}, ctx)


async def test_schema_validation() -> None:
    schema = {
        "type": "object",
        "properties": {
            "age": {"type": "integer", "minimum": 0},
            "email": {"type": "string", "format": "email"},
        },
        "required": ["age"],
    }
    ok = await run("data-validator", input={"age": 3, "email": "a@b.c"}, schema=schema)
    assert ok == {"valid": True, "errors": []}
    bad = await run("data-validator", input={"age": -1, "email": "nope"}, schema=schema)
    assert bad["valid"] is False
    assert {(e["path"], e["rule"]) for e in bad["errors"]} == {("$.age", "minimum"), ("$.email", "format")}


async def test_rules_validation() -> None:
    rules = {
        "name": {"type": "string", "required": True, "min_length": 2},
        "site": {"type": "string", "format": "uri"},
        "score": {"type": "number", "max": 10},
    }
    result = await run(
        "data-validator",
        operation="rules",
        input=[{"name": "Al", "site": "https://x.org"}, {"name": "B", "site": "nope", "score": 11}],
        rules=rules,
    )
    assert result["valid"] is False
    assert [e["path"] for e in result["errors"]] == ["$[1].name", "$[1].score", "$[1].site"]


async def test_validator_refusals() -> None:
    registry, ctx = default_registry(), ExecutionContext()
    with pytest.raises(ValidationError, match="not a valid JSON Schema"):
        await registry.invoke("data-validator", {"input": 1, "schema": {"type": "nonsense"}}, ctx)
    with pytest.raises(ValidationError, match="unknown rule 'maxx'"):
        await registry.invoke(
            "data-validator", {"operation": "rules", "input": {}, "rules": {"a": {"maxx": 1}}}, ctx
        )
    with pytest.raises(ValidationError, match="'schema' is required"):
        await registry.invoke("data-validator", {"input": 1}, ctx)
    with pytest.raises(ValidationError, match="cannot use the schema"):
        await registry.invoke(
            "data-validator", {"input": 1, "schema": {"$ref": "https://example.com/s.json"}}, ctx
        )


async def test_template_rendering() -> None:
    text = await run(
        "template-engine",
        input="Hello {{ name | upper }}!{% for i in items %} {{ loop.index }}={{ i }}{% endfor %}",
        variables={"name": "ada", "items": ["x", "y"]},
    )
    assert text == "Hello ADA! 1=x 2=y"
    assert (
        await run("template-engine", input="{{ v }}", variables={"v": "<b>"}, autoescape=True) == "&lt;b&gt;"
    )
    assert await run("template-engine", input="[{{ missing }}]") == "[]"


@pytest.mark.parametrize(
    ("params", "error", "fragment"),
    [
        ({"input": "{% for %}"}, ValidationError, "syntax error on line 1"),
        ({"input": "{{ missing }}", "strict": True}, ValidationError, "undefined"),
        ({"input": "{{ 'x' * 10000000 }}"}, LimitExceeded, "repetition"),
        ({"input": "{{ 2 ** 100000 }}"}, LimitExceeded, "power"),
        (
            {"input": "{% for i in range(10) %}{% for j in range(999999) %}{% endfor %}{% endfor %}"},
            LimitExceeded,
            "range",
        ),
        (
            {"input": "{% for i in range(5000) %}xxxxxxxxxx{% endfor %}", "max_output": 1000},
            LimitExceeded,
            "1000",
        ),
        ({"input": "{{ ''.__class__.__mro__[1].__subclasses__() }}"}, SandboxViolation, "unsafe"),
        ({"input": "{{ cycler.__init__.__globals__.os.popen('id').read() }}"}, SandboxViolation, "unsafe"),
    ],
)
async def test_template_refusals(params: dict[str, Any], error: type[Exception], fragment: str) -> None:
    with pytest.raises(error, match=fragment):
        await default_registry().invoke("template-engine", params, ExecutionContext())

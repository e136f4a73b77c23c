"""json-processor and data-transformer."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from llmspell.core.context import ExecutionContext, SandboxPolicy
from llmspell.core.errors import SandboxViolation, ValidationError
from llmspell.tools import default_registry

DOC = {"people": [{"name": "Ann", "age": 31, "city": "Oslo"}, {"name": "Bo", "age": 25, "city": "Rome"}]}
ROWS = [
    {"name": "a", "team": "red", "score": 3, "meta": {"x": 1}},
    {"name": "b", "team": "blue", "score": 9, "meta": {"x": 2}},
    {"name": "c", "team": "red", "score": 5, "meta": {"x": 3}},
    {"name": "d", "team": None, "score": 1, "meta": {}},
]


@pytest.fixture
def ctx(tmp_path: Path) -> ExecutionContext:
    return ExecutionContext(policy=SandboxPolicy(file_roots=(str(tmp_path),)))


async def run(ctx: ExecutionContext, tool: str, **params: Any) -> Any:
    env = await default_registry().invoke(tool, params, ctx)
    assert env["success"] is True and env["operation"] == params["operation"]
    return env["result"]


async def test_query_on_values_text_and_files(ctx: ExecutionContext, tmp_path: Path) -> None:
    assert await run(
        ctx, "json-processor", operation="query", input=DOC, query="people[?age > `30`].name"
    ) == ["Ann"]
    assert (
        await run(ctx, "json-processor", operation="query", input=json.dumps(DOC), query="length(people)")
        == 2
    )
    (tmp_path / "d.json").write_text(json.dumps(DOC))
    assert (
        await run(ctx, "json-processor", operation="query", path="d.json", query="people[1].city") == "Rome"
    )


async def test_transform_merge_format_keys(ctx: ExecutionContext) -> None:
    shaped = await run(
        ctx, "json-processor", operation="transform", input=DOC, mapping={"names": "people[].name"}
    )
    assert shaped == {"names": ["Ann", "Bo"]}
    each = await run(
        ctx, "json-processor", operation="transform", input=DOC["people"], mapping={"who": "name"}, each=True
    )
    assert each == [{"who": "Ann"}, {"who": "Bo"}]
    merged = await run(
        ctx,
        "json-processor",
        operation="merge",
        input={"a": {"b": 1, "l": [1]}},
        other={"a": {"c": 2, "l": [2]}},
    )
    assert merged == {"a": {"b": 1, "c": 2, "l": [2]}}
    concat = await run(
        ctx, "json-processor", operation="merge", input={"l": [1]}, other={"l": [2]}, arrays="concat"
    )
    assert concat == {"l": [1, 2]}
    assert (
        await run(ctx, "json-processor", operation="minify", input={"b": 1, "a": [1, 2]}, sort_keys=True)
        == '{"a":[1,2],"b":1}'
    )
    assert await run(ctx, "json-processor", operation="format", input={"a": 1}, indent=1) == '{\n "a": 1\n}'
    assert await run(ctx, "json-processor", operation="keys", input=DOC) == ["people"]


async def test_validate(ctx: ExecutionContext) -> None:
    assert await run(ctx, "json-processor", operation="validate", input='{"a": 1}') == {
        "valid": True,
        "errors": [],
    }
    broken = await run(ctx, "json-processor", operation="validate", input='{"a": }')
    assert broken["valid"] is False and "line 1 column 7" in broken["errors"][0]["message"]
    schema = {"type": "object", "required": ["b"]}
    checked = await run(ctx, "json-processor", operation="validate", input={"a": 1}, schema=schema)
    assert checked["valid"] is False and checked["errors"][0]["rule"] == "required"


async def test_json_processor_refusals(ctx: ExecutionContext) -> None:
    registry = default_registry()
    with pytest.raises(ValidationError, match="invalid JMESPath"):
        await registry.invoke(
            "json-processor", {"operation": "query", "input": DOC, "query": "people[?"}, ctx
        )
    with pytest.raises(ValidationError, match="not valid JSON"):
        await registry.invoke("json-processor", {"operation": "query", "input": "{oops", "query": "a"}, ctx)
    with pytest.raises(ValidationError, match="'query' is required"):
        await registry.invoke("json-processor", {"operation": "query", "input": DOC}, ctx)
    with pytest.raises(SandboxViolation):
        await registry.invoke(
            "json-processor", {"operation": "query", "path": "/etc/hostname", "query": "a"}, ctx
        )


async def test_transformer_operations(ctx: ExecutionContext) -> None:
    names = lambda rows: [r["name"] for r in rows]  # noqa: E731
    filtered = await run(
        ctx,
        "data-transformer",
        operation="filter",
        input=ROWS,
        where=[{"field": "score", "op": "gte", "value": 3}, {"field": "team", "value": "red"}],
    )
    assert names(filtered) == ["a", "c"]
    assert names(
        await run(ctx, "data-transformer", operation="sort", input=ROWS, by="score", descending=True)
    ) == ["b", "c", "a", "d"]
    groups = await run(ctx, "data-transformer", operation="group", input=ROWS, by="team")
    assert sorted(groups) == ["blue", "null", "red"] and names(groups["red"]) == ["a", "c"]
    assert await run(ctx, "data-transformer", operation="pick", input=ROWS[:1], fields=["name"]) == [
        {"name": "a"}
    ]
    assert (
        "meta"
        not in (await run(ctx, "data-transformer", operation="omit", input=ROWS[:1], fields=["meta"]))[0]
    )
    flat = await run(ctx, "data-transformer", operation="flatten", input=ROWS[:1])
    assert flat == [{"name": "a", "team": "red", "score": 3, "meta.x": 1}]
    assert await run(ctx, "data-transformer", operation="flatten", input=[[1, [2]], 3], depth=2) == [1, 2, 3]
    mapped = await run(
        ctx, "data-transformer", operation="map", input=ROWS[:2], mapping={"n": "name", "x": "meta.x"}
    )
    assert mapped == [{"n": "a", "x": 1}, {"n": "b", "x": 2}]
    assert names(await run(ctx, "data-transformer", operation="unique", input=ROWS, by="team")) == [
        "a",
        "b",
        "d",
    ]
    assert (await run(ctx, "data-transformer", operation="rename", input=ROWS[:1], mapping={"name": "id"}))[
        0
    ]["id"] == "a"
    assert names(await run(ctx, "data-transformer", operation="limit", input=ROWS, offset=1, limit=2)) == [
        "b",
        "c",
    ]
    assert await run(ctx, "data-transformer", operation="count", input=json.dumps(ROWS)) == 4


async def test_transformer_refusals(ctx: ExecutionContext) -> None:
    registry = default_registry()
    with pytest.raises(ValidationError, match="works on a JSON array"):
        await registry.invoke("data-transformer", {"operation": "count", "input": {"a": 1}}, ctx)
    with pytest.raises(ValidationError, match="'where' is required"):
        await registry.invoke("data-transformer", {"operation": "filter", "input": []}, ctx)
    with pytest.raises(ValidationError, match="where"):
        await registry.invoke(
            "data-transformer",
            {"operation": "filter", "input": [], "where": [{"field": "a", "op": "like"}]},
            ctx,
        )
    with pytest.raises(ValidationError, match="invalid regex"):
        await registry.invoke(
            "data-transformer",
            {
                "operation": "filter",
                "input": [{"a": "x"}],
                "where": [{"field": "a", "op": "regex", "value": "("}],
            },
            ctx,
        )

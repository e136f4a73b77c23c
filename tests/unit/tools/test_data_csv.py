"""csv-analyzer."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from llmspell.core.context import ExecutionContext, SandboxPolicy
from llmspell.core.errors import SandboxViolation, ValidationError
from llmspell.tools import default_registry

CSV = "name,dept,salary\nann,eng,100\nbo,ops,80\ncy,eng,120\ndi,ops,\n"


@pytest.fixture
def ctx(tmp_path: Path) -> ExecutionContext:
    return ExecutionContext(policy=SandboxPolicy(file_roots=(str(tmp_path),)))


async def run(ctx: ExecutionContext, **params: Any) -> Any:
    env = await default_registry().invoke("csv-analyzer", params, ctx)
    assert env["success"] is True and env["operation"] == params["operation"]
    return env


async def test_info_and_stats(ctx: ExecutionContext) -> None:
    info = (await run(ctx, operation="info", input=CSV))["result"]
    assert info["columns"] == ["name", "dept", "salary"] and info["row_count"] == 4
    stats = (await run(ctx, operation="stats", input=CSV))["result"]
    assert stats["salary"]["type"] == "number" and stats["salary"]["mean"] == 100.0
    assert stats["salary"]["non_empty"] == 3 and stats["dept"]["top"][0] == {"value": "eng", "count": 2}


async def test_filter_sort_group(ctx: ExecutionContext) -> None:
    filtered = (
        await run(ctx, operation="filter", input=CSV, where=[{"field": "salary", "op": "gt", "value": 90}])
    )["result"]
    assert [r["name"] for r in filtered["rows"]] == ["ann", "cy"] and filtered["count"] == 2
    ordered = (await run(ctx, operation="sort", input=CSV, by="salary", descending=True, columns=["name"]))[
        "result"
    ]
    assert ordered["rows"] == [{"name": "cy"}, {"name": "ann"}, {"name": "bo"}, {"name": "di"}]
    groups = (await run(ctx, operation="group", input=CSV, by="dept", aggregate={"salary": "mean"}))["result"]
    assert groups == [
        {"dept": "eng", "count": 2, "salary_mean": 110.0},
        {"dept": "ops", "count": 2, "salary_mean": 80.0},
    ]
    limited = (await run(ctx, operation="to_json", input=CSV, limit=1))["result"]
    assert limited["truncated"] is True and limited["rows"] == [
        {"name": "ann", "dept": "eng", "salary": "100"}
    ]


async def test_files_delimiters_and_headerless(ctx: ExecutionContext, tmp_path: Path) -> None:
    (tmp_path / "d.tsv").write_text("1\t2\n3\t4\n")
    env = await run(ctx, operation="to_json", path="d.tsv", delimiter="\t", has_header=False)
    assert env["result"]["rows"] == [{"col1": "1", "col2": "2"}, {"col1": "3", "col2": "4"}]
    assert env["metadata"]["row_count"] == 2
    thousands = (await run(ctx, operation="stats", input='v\n"1,200.5"\n3\n'))["result"]
    assert thousands["v"]["sum"] == 1203.5


async def test_refusals(ctx: ExecutionContext) -> None:
    registry = default_registry()
    with pytest.raises(ValidationError, match="unknown column 'pay'"):
        await registry.invoke("csv-analyzer", {"operation": "sort", "input": CSV, "by": "pay"}, ctx)
    with pytest.raises(ValidationError, match="pass 'input'"):
        await registry.invoke("csv-analyzer", {"operation": "info"}, ctx)
    with pytest.raises(SandboxViolation):
        await registry.invoke("csv-analyzer", {"operation": "info", "path": "../x.csv"}, ctx)
    with pytest.raises(ValidationError, match="delimiter"):
        await registry.invoke("csv-analyzer", {"operation": "info", "input": CSV, "delimiter": ";;"}, ctx)

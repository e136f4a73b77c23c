"""statistical-analyzer."""

from __future__ import annotations

from typing import Any

import pytest
from llmspell.core.context import ExecutionContext
from llmspell.core.errors import ValidationError
from llmspell.tools import default_registry


async def stats(**params: Any) -> Any:
    env = await default_registry().invoke("statistical-analyzer", params, ExecutionContext())
    assert env["success"] is True
    return env["result"]


async def test_summary() -> None:
    result = await stats(input=[2, 4, 4, 4, 5, 5, 7, 9])
    assert (
        result["count"] == 8 and result["mean"] == 5.0 and result["median"] == 4.5 and result["mode"] == 4.0
    )
    assert result["stdev"] == pytest.approx(2.138, abs=1e-3) and result["variance"] == pytest.approx(
        4.571, abs=1e-3
    )
    assert (result["min"], result["max"], result["range"]) == (2.0, 9.0, 7.0)
    assert (result["q1"], result["q3"]) == (4.0, 5.5)


async def test_single_operations() -> None:
    assert await stats(operation="mean", input=[1, 2, 3]) == 2.0
    assert await stats(operation="mode", input=[1, 1, 2, 2, 3]) == [1.0, 2.0]
    assert await stats(operation="percentiles", input=list(range(1, 101)), percentiles=[50, 90]) == {
        "p50": 50.5,
        "p90": pytest.approx(90.1),
    }
    hist = await stats(operation="histogram", input=[0, 1, 2, 3, 4, 10], bins=2)
    assert [b["count"] for b in hist] == [5, 1] and hist[0]["start"] == 0.0 and hist[1]["end"] == 10.0
    fields = await stats(operation="mean", input=[{"v": {"x": 2}}, {"v": {"x": 4}}], field="v.x")
    assert fields == 3.0


async def test_correlation_and_outliers() -> None:
    corr = await stats(operation="correlation", input=[1, 2, 3, 4], other=[2, 4, 6, 8])
    assert (
        corr["pearson"] == pytest.approx(1.0)
        and corr["slope"] == pytest.approx(2.0)
        and corr["intercept"] == pytest.approx(0.0)
    )
    data = [10.0] * 20 + [100.0]
    result = await stats(operation="outliers", input=data, threshold=3)
    assert [o["index"] for o in result["outliers"]] == [20] and result["high"] == 1
    assert len(await stats(operation="zscores", input=[1, 2, 3])) == 3


@pytest.mark.parametrize(
    ("params", "fragment"),
    [
        ({"input": []}, "non-empty array"),
        ({"input": [1, "x"]}, r"'input\[1\]' is not a finite number"),
        ({"input": [1, True]}, "not a finite number"),
        ({"operation": "stdev", "input": [1]}, "at least two"),
        ({"operation": "correlation", "input": [1, 2]}, "'other' is required"),
        ({"operation": "correlation", "input": [1, 2], "other": [1]}, "same length"),
        ({"operation": "correlation", "input": [1, 1], "other": [1, 2]}, "undefined"),
        ({"operation": "histogram", "input": [1], "bins": 0}, "bins"),
    ],
)
async def test_refusals(params: dict[str, Any], fragment: str) -> None:
    with pytest.raises(ValidationError, match=fragment):
        await default_registry().invoke("statistical-analyzer", params, ExecutionContext())

"""statistical-analyzer: descriptive statistics, percentiles, correlation and histograms."""

from __future__ import annotations

import math
import statistics
from collections import Counter
from typing import Any

from ...core.context import ExecutionContext
from ...core.errors import ValidationError
from ..base import BaseTool, ToolOutput
from .data_common import get_field

__all__ = ["StatisticalAnalyzerTool", "histogram", "percentile", "summary"]

MAX_VALUES = 5_000_000
_OPERATIONS = (
    "summary",
    "mean",
    "median",
    "mode",
    "stdev",
    "variance",
    "percentiles",
    "correlation",
    "histogram",
    "zscores",
    "outliers",
)


def percentile(ordered: list[float], p: float) -> float:
    """The ``p``-th percentile (0-100) of sorted data, linear interpolation between ranks."""
    if not ordered:
        raise ValidationError("percentile of no data")
    rank = (len(ordered) - 1) * p / 100.0
    low = math.floor(rank)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


def histogram(values: list[float], bins: int) -> list[dict[str, Any]]:
    """Equal-width bins ``[{start, end, count}]`` covering min..max."""
    low, high = min(values), max(values)
    width = (high - low) / bins or 1.0
    counts = [0] * bins
    for value in values:
        counts[min(int((value - low) / width), bins - 1)] += 1
    return [
        {"start": low + i * width, "end": low + (i + 1) * width, "count": c} for i, c in enumerate(counts)
    ]


def summary(values: list[float]) -> dict[str, Any]:
    """Count, sum, min, max, range, mean, median, mode, stdev, variance and quartiles."""
    ordered = sorted(values)
    n = len(values)
    return {
        "count": n,
        "sum": math.fsum(values),
        "min": ordered[0],
        "max": ordered[-1],
        "range": ordered[-1] - ordered[0],
        "mean": statistics.fmean(values),
        "median": statistics.median(ordered),
        "mode": statistics.multimode(values)[0],
        "stdev": statistics.stdev(values) if n > 1 else 0.0,
        "variance": statistics.variance(values) if n > 1 else 0.0,
        "q1": percentile(ordered, 25),
        "q3": percentile(ordered, 75),
    }


def _numbers(raw: Any, field: str, key: str | None) -> list[float]:
    if not isinstance(raw, list) or not raw:
        raise ValidationError(f"'{field}' must be a non-empty array of numbers", details={"field": field})
    if len(raw) > MAX_VALUES:
        raise ValidationError(f"'{field}' has more than {MAX_VALUES} values", details={"field": field})
    values = []
    for index, item in enumerate(raw):
        value = get_field(item, key) if key else item
        if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
            raise ValidationError(
                f"'{field}[{index}]' is not a finite number: {value!r}",
                details={"field": f"{field}[{index}]"},
            )
        values.append(float(value))
    return values


class StatisticalAnalyzerTool(BaseTool):
    """Descriptive statistics over arrays of numbers."""

    name = "statistical-analyzer"
    category = "data"
    description = (
        "Statistics of an array of numbers (or of one field of records): summary, mean, median, mode, stdev, "
        "variance, percentiles, correlation with another array, histogram, z-scores, outliers."
    )
    schema = {
        "type": "object",
        "properties": {
            "operation": {"type": "string", "enum": list(_OPERATIONS), "default": "summary"},
            "input": {"type": "array", "description": "Numbers, or records with 'field'."},
            "field": {"type": "string", "minLength": 1, "description": "Dotted field of each record to use."},
            "other": {"type": "array", "description": "The second series (correlation)."},
            "percentiles": {
                "type": "array",
                "items": {"type": "number", "minimum": 0, "maximum": 100},
                "default": [25, 50, 75, 90, 95, 99],
            },
            "bins": {"type": "integer", "minimum": 1, "maximum": 1000, "default": 10},
            "threshold": {
                "type": "number",
                "exclusiveMinimum": 0,
                "default": 3.0,
                "description": "z-score cut.",
            },
        },
        "required": ["input"],
        "additionalProperties": False,
    }

    async def invoke(self, params: dict[str, Any], ctx: ExecutionContext) -> Any:
        operation = params.get("operation", "summary")
        values = _numbers(params["input"], "input", params.get("field"))
        return ToolOutput(
            operation=operation,
            result=self._compute(operation, values, params),
            metadata={"count": len(values)},
        )

    def _compute(self, operation: str, values: list[float], params: dict[str, Any]) -> Any:
        n = len(values)
        if operation == "summary":
            return summary(values)
        if operation == "mean":
            return statistics.fmean(values)
        if operation == "median":
            return statistics.median(values)
        if operation == "mode":
            return statistics.multimode(values)
        if operation in ("stdev", "variance", "zscores", "outliers") and n < 2:
            raise ValidationError(f"{operation} needs at least two values", details={"field": "input"})
        if operation == "stdev":
            return statistics.stdev(values)
        if operation == "variance":
            return statistics.variance(values)
        if operation == "percentiles":
            ordered = sorted(values)
            return {
                f"p{p:g}": percentile(ordered, p) for p in params.get("percentiles", [25, 50, 75, 90, 95, 99])
            }
        if operation == "histogram":
            return histogram(values, params.get("bins", 10))
        if operation == "correlation":
            self.require(params, "other", operation=operation)
            other = _numbers(params["other"], "other", params.get("field"))
            if len(other) != n or n < 2:
                raise ValidationError(
                    "correlation needs two arrays of the same length (at least 2)", details={"field": "other"}
                )
            try:
                r = statistics.correlation(values, other)
            except statistics.StatisticsError as exc:
                raise ValidationError(f"correlation is undefined: {exc}", details={"field": "input"}) from exc
            slope, intercept = statistics.linear_regression(values, other)
            return {"pearson": r, "r_squared": r * r, "slope": slope, "intercept": intercept}
        mean, stdev = statistics.fmean(values), statistics.stdev(values)
        scores = [(v - mean) / stdev if stdev else 0.0 for v in values]
        if operation == "zscores":
            return scores
        threshold = params.get("threshold", 3.0)
        outliers = [
            {"index": i, "value": v, "zscore": z}
            for i, (v, z) in enumerate(zip(values, scores, strict=True))
            if abs(z) > threshold
        ]
        counts = Counter("high" if o["zscore"] > 0 else "low" for o in outliers)
        return {"outliers": outliers, "high": counts["high"], "low": counts["low"], "threshold": threshold}

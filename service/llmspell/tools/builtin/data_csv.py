"""csv-analyzer: column statistics, filtering, grouping and sorting of CSV text or files."""

from __future__ import annotations

import csv
import io
import math
import re
import statistics
from collections import Counter
from typing import Any

from ...core.context import ExecutionContext
from ...core.errors import LimitExceeded, ValidationError
from ..base import BaseTool, ToolOutput
from .data_common import CONDITION_SCHEMA, MAX_TEXT_CHARS, matches, read_text

__all__ = ["CsvAnalyzerTool", "parse_csv", "to_number"]

MAX_ROWS = 1_000_000
_THOUSANDS = re.compile(r"^[-+]?\d{1,3}(,\d{3})+(\.\d+)?$")
_AGGREGATES = ("count", "sum", "mean", "min", "max", "median")


def to_number(value: Any) -> float | None:
    """The cell as a finite number, or None when it is not numeric."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return float(value)
    if not isinstance(value, str) or not value.strip():
        return None
    text = value.strip()
    try:
        number = float(text)
    except ValueError:
        if not _THOUSANDS.match(text):
            return None
        number = float(text.replace(",", ""))
    return number if math.isfinite(number) else None


def parse_csv(
    text: str, *, delimiter: str = ",", has_header: bool = True
) -> tuple[list[str], list[dict[str, str]]]:
    """Parse CSV text into column names and rows (``col1``, ``col2``... without a header)."""
    if len(text) > MAX_TEXT_CHARS:
        raise LimitExceeded(f"CSV text is longer than {MAX_TEXT_CHARS} characters")
    try:
        reader = csv.reader(io.StringIO(text), delimiter=delimiter)
        rows = []
        for row in reader:
            rows.append(row)
            if len(rows) > MAX_ROWS + 1:
                raise LimitExceeded(f"CSV has more than {MAX_ROWS} rows")
    except csv.Error as exc:
        raise ValidationError(f"invalid CSV: {exc}", details={"field": "input"}) from exc
    rows = [row for row in rows if row]
    if not rows:
        return [], []
    width = max(len(row) for row in rows)
    if has_header:
        header = [name.strip() or f"col{i + 1}" for i, name in enumerate(rows[0])]
        header += [f"col{i + 1}" for i in range(len(header), width)]
        body = rows[1:]
    else:
        header = [f"col{i + 1}" for i in range(width)]
        body = rows
    return header, [dict(zip(header, row + [""] * (width - len(row)), strict=True)) for row in body]


def _column_stats(values: list[str]) -> dict[str, Any]:
    non_empty = [v for v in values if v.strip()]
    numbers = [n for n in (to_number(v) for v in non_empty) if n is not None]
    stats: dict[str, Any] = {"count": len(values), "non_empty": len(non_empty), "unique": len(set(non_empty))}
    if non_empty and len(numbers) == len(non_empty):
        stats.update(
            type="number",
            min=min(numbers),
            max=max(numbers),
            sum=math.fsum(numbers),
            mean=statistics.fmean(numbers),
            median=statistics.median(numbers),
            stdev=statistics.stdev(numbers) if len(numbers) > 1 else 0.0,
        )
    else:
        stats["type"] = "text"
        stats["top"] = [{"value": v, "count": c} for v, c in Counter(non_empty).most_common(5)]
    return stats


def _aggregate(rows: list[dict[str, str]], column: str, function: str) -> Any:
    if function == "count":
        return len(rows)
    numbers = [n for n in (to_number(row.get(column)) for row in rows) if n is not None]
    if not numbers:
        return None
    if function == "sum":
        return math.fsum(numbers)
    if function == "mean":
        return statistics.fmean(numbers)
    if function == "median":
        return statistics.median(numbers)
    return min(numbers) if function == "min" else max(numbers)


class CsvAnalyzerTool(BaseTool):
    """Analyze CSV data."""

    name = "csv-analyzer"
    category = "data"
    description = (
        "Analyze CSV text or a CSV file: info, per-column stats, filter rows by conditions, group with "
        "aggregates, sort, convert to JSON rows."
    )
    schema = {
        "type": "object",
        "properties": {
            "operation": {"type": "string", "enum": ["info", "stats", "filter", "group", "sort", "to_json"]},
            "input": {"type": "string", "description": "CSV text."},
            "path": {"type": "string", "minLength": 1, "description": "A CSV file in the sandbox."},
            "encoding": {"type": "string", "default": "utf-8"},
            "delimiter": {"type": "string", "minLength": 1, "maxLength": 1, "default": ","},
            "has_header": {"type": "boolean", "default": True},
            "where": {"type": "array", "items": CONDITION_SCHEMA},
            "by": {"type": "string", "minLength": 1, "description": "Column to group or sort by."},
            "aggregate": {
                "type": "object",
                "additionalProperties": {"type": "string", "enum": list(_AGGREGATES)},
                "description": "Column → count/sum/mean/min/max/median (group).",
            },
            "descending": {"type": "boolean", "default": False},
            "columns": {"type": "array", "items": {"type": "string"}, "description": "Only these columns."},
            "limit": {"type": "integer", "minimum": 0, "maximum": MAX_ROWS, "default": 1000},
        },
        "required": ["operation"],
        "additionalProperties": False,
    }

    async def invoke(self, params: dict[str, Any], ctx: ExecutionContext) -> Any:
        operation = params["operation"]
        text = await read_text(params, ctx) or ""
        header, rows = await self.run_blocking(
            lambda: parse_csv(
                text, delimiter=params.get("delimiter", ","), has_header=params.get("has_header", True)
            )
        )
        columns = params.get("columns") or header
        missing = [c for c in [*columns, *([params["by"]] if "by" in params else [])] if c not in header]
        if missing:
            raise ValidationError(
                f"unknown column {missing[0]!r}; columns are: {', '.join(header)}",
                details={"field": "columns"},
            )
        limit = params.get("limit", 1000)
        meta = {"columns": header, "row_count": len(rows)}
        if operation == "info":
            result: Any = {"columns": header, "row_count": len(rows), "sample": rows[:5]}
        elif operation == "stats":
            result = {col: _column_stats([row[col] for row in rows]) for col in columns}
        elif operation == "group":
            self.require(params, "by", operation=operation)
            result = self._group(rows, params["by"], params.get("aggregate", {}))
        else:
            if operation == "filter":
                self.require(params, "where", operation=operation)
                rows = [row for row in rows if matches(row, params["where"])]
            elif operation == "sort":
                self.require(params, "by", operation=operation)
                rows = self._sorted(rows, params["by"], params.get("descending", False))
            selected = [{c: row[c] for c in columns} for row in rows[:limit]]
            result = {"rows": selected, "count": len(rows), "truncated": len(rows) > limit}
        return ToolOutput(operation=operation, result=result, metadata=meta)

    @staticmethod
    def _sorted(rows: list[dict[str, str]], by: str, descending: bool) -> list[dict[str, str]]:
        numeric = all(to_number(row[by]) is not None for row in rows if row[by].strip())

        def key(row: dict[str, str]) -> tuple[int, Any]:
            cell = row[by]
            if not cell.strip():
                return (1, 0)
            return (0, to_number(cell)) if numeric else (0, cell)

        ordered = sorted(rows, key=key, reverse=descending)
        if descending:  # empty cells stay last either way
            ordered = [r for r in ordered if r[by].strip()] + [r for r in ordered if not r[by].strip()]
        return ordered

    @staticmethod
    def _group(rows: list[dict[str, str]], by: str, aggregate: dict[str, str]) -> list[dict[str, Any]]:
        groups: dict[str, list[dict[str, str]]] = {}
        for row in rows:
            groups.setdefault(row[by], []).append(row)
        out = []
        for key, members in groups.items():
            entry: dict[str, Any] = {by: key, "count": len(members)}
            for column, function in aggregate.items():
                if function != "count" and column not in members[0]:
                    raise ValidationError(
                        f"unknown column {column!r} in aggregate", details={"field": "aggregate"}
                    )
                entry[f"{column}_{function}"] = _aggregate(members, column, function)
            out.append(entry)
        return out

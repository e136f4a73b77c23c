"""json-processor (JMESPath queries, transform, validate, merge, format) and data-transformer."""

from __future__ import annotations

import json
from functools import lru_cache
from typing import Any

from ...core.context import ExecutionContext
from ...core.errors import LimitExceeded, ValidationError
from ..base import BaseTool, ToolOutput
from .data_common import CONDITION_SCHEMA, get_field, matches, parse_json_text, read_text
from .utility_misc import validate_json_schema

__all__ = ["DataTransformerTool", "JsonProcessorTool", "deep_merge", "jmespath_search"]

MAX_ITEMS = 1_000_000


@lru_cache(maxsize=256)
def _compiled_query(expression: str) -> Any:
    import jmespath
    from jmespath.exceptions import JMESPathError

    try:
        return jmespath.compile(expression)
    except JMESPathError as exc:
        raise ValidationError(
            f"invalid JMESPath expression {expression!r}: {exc}", details={"field": "query"}
        ) from exc


def jmespath_search(expression: str, data: Any) -> Any:
    """Evaluate a JMESPath expression (compiled once per expression text)."""
    from jmespath.exceptions import JMESPathError

    compiled = _compiled_query(expression)
    try:
        return compiled.search(data)
    except JMESPathError as exc:
        raise ValidationError(f"JMESPath query failed: {exc}", details={"field": "query"}) from exc


def deep_merge(base: Any, other: Any, *, arrays: str = "replace") -> Any:
    """Merge ``other`` into ``base``: objects recursively, arrays replaced or concatenated."""
    if isinstance(base, dict) and isinstance(other, dict):
        merged = dict(base)
        for key, value in other.items():
            merged[key] = deep_merge(base[key], value, arrays=arrays) if key in base else value
        return merged
    if arrays == "concat" and isinstance(base, list) and isinstance(other, list):
        return [*base, *other]
    return other


def _data(value: Any, field: str = "input") -> Any:
    return parse_json_text(value, field) if isinstance(value, str) else value


class JsonProcessorTool(BaseTool):
    """Query and reshape JSON."""

    name = "json-processor"
    category = "data"
    description = (
        "Process JSON: query with JMESPath, transform into a new shape, validate (syntax or JSON Schema), "
        "deep-merge, pretty-print or minify. Input is a JSON value, JSON text, or a file path."
    )
    schema = {
        "type": "object",
        "properties": {
            "operation": {
                "type": "string",
                "enum": ["query", "transform", "validate", "merge", "format", "minify", "keys"],
            },
            "input": {"description": "A JSON value, or JSON text when a string."},
            "path": {
                "type": "string",
                "minLength": 1,
                "description": "Read JSON text from this file instead.",
            },
            "encoding": {"type": "string", "default": "utf-8"},
            "query": {
                "type": "string",
                "minLength": 1,
                "maxLength": 10_000,
                "description": "JMESPath expression.",
            },
            "mapping": {
                "type": "object",
                "additionalProperties": {"type": "string"},
                "description": "Output field → JMESPath expression (transform).",
            },
            "each": {"type": "boolean", "default": False, "description": "Transform each array item."},
            "schema": {"type": "object", "description": "JSON Schema (validate)."},
            "other": {"description": "The value merged into input (merge)."},
            "arrays": {"type": "string", "enum": ["replace", "concat"], "default": "replace"},
            "indent": {"type": "integer", "minimum": 0, "maximum": 16, "default": 2},
            "sort_keys": {"type": "boolean", "default": False},
        },
        "required": ["operation"],
        "additionalProperties": False,
    }

    async def invoke(self, params: dict[str, Any], ctx: ExecutionContext) -> Any:
        operation = params["operation"]
        if operation == "validate":
            return ToolOutput(operation=operation, result=await self._validate(params, ctx))
        if "path" in params and "input" not in params:
            data = parse_json_text(await read_text(params, ctx) or "", "path")
        else:
            self.require(params, "input", operation=operation)
            data = _data(params["input"])
        if operation == "query":
            self.require(params, "query", operation=operation)
            result: Any = jmespath_search(params["query"], data)
        elif operation == "transform":
            self.require(params, "mapping", operation=operation)
            mapping: dict[str, str] = params["mapping"]
            if params.get("each", False):
                if not isinstance(data, list):
                    raise ValidationError("'each' needs 'input' to be an array", details={"field": "input"})
                result = [{k: jmespath_search(q, item) for k, q in mapping.items()} for item in data]
            else:
                result = {key: jmespath_search(query, data) for key, query in mapping.items()}
        elif operation == "merge":
            self.require(params, "other", operation=operation)
            result = deep_merge(data, _data(params["other"], "other"), arrays=params.get("arrays", "replace"))
        elif operation == "format":
            result = json.dumps(
                data,
                indent=params.get("indent", 2),
                sort_keys=params.get("sort_keys", False),
                ensure_ascii=False,
            )
        elif operation == "minify":
            result = json.dumps(
                data, separators=(",", ":"), sort_keys=params.get("sort_keys", False), ensure_ascii=False
            )
        else:  # keys
            if not isinstance(data, dict):
                raise ValidationError("operation 'keys' needs a JSON object", details={"field": "input"})
            result = list(data)
        return ToolOutput(operation=operation, result=result)

    async def _validate(self, params: dict[str, Any], ctx: ExecutionContext) -> dict[str, Any]:
        value = params.get("input")
        try:
            if isinstance(value, str) or "path" in params:
                data = parse_json_text(await read_text(params, ctx) or "")
            else:
                self.require(params, "input", operation="validate")
                data = value
        except ValidationError as exc:
            if exc.details.get("field") in ("input", "path") and "line" in exc.details:
                return {"valid": False, "errors": [{"path": "$", "message": exc.message, "rule": "syntax"}]}
            raise
        if "schema" not in params:
            return {"valid": True, "errors": []}
        return await self.run_blocking(validate_json_schema, data, params["schema"])


_TRANSFORM_OPS = [
    "map",
    "filter",
    "sort",
    "group",
    "flatten",
    "pick",
    "omit",
    "unique",
    "rename",
    "limit",
    "count",
]


def _flatten_object(value: dict[str, Any], separator: str, prefix: str = "") -> dict[str, Any]:
    flat: dict[str, Any] = {}
    for key, item in value.items():
        name = f"{prefix}{separator}{key}" if prefix else str(key)
        if isinstance(item, dict) and item:
            flat.update(_flatten_object(item, separator, name))
        else:
            flat[name] = item
    return flat


def _sort_key(value: Any) -> tuple[int, Any]:
    # None last, numbers before strings, everything else by its JSON text.
    if value is None:
        return (3, 0)
    if isinstance(value, bool | int | float):
        return (0, value)
    if isinstance(value, str):
        return (1, value)
    return (2, json.dumps(value, sort_keys=True))


class DataTransformerTool(BaseTool):
    """Reshape arrays of JSON records."""

    name = "data-transformer"
    category = "data"
    description = (
        "Transform JSON arrays of records: map (JMESPath per item), filter (conditions), sort, group, "
        "flatten, pick/omit fields, unique, rename, limit, count."
    )
    schema = {
        "type": "object",
        "properties": {
            "operation": {"type": "string", "enum": _TRANSFORM_OPS},
            "input": {"description": "A JSON array (or JSON text of one)."},
            "path": {
                "type": "string",
                "minLength": 1,
                "description": "Read JSON text from this file instead.",
            },
            "encoding": {"type": "string", "default": "utf-8"},
            "mapping": {"type": "object", "additionalProperties": {"type": "string"}},
            "where": {"type": "array", "items": CONDITION_SCHEMA},
            "by": {
                "type": "string",
                "minLength": 1,
                "description": "Field (dotted path) to sort/group/unique by.",
            },
            "descending": {"type": "boolean", "default": False},
            "fields": {"type": "array", "items": {"type": "string"}},
            "separator": {"type": "string", "default": "."},
            "depth": {"type": "integer", "minimum": 1, "maximum": 100, "default": 1},
            "limit": {"type": "integer", "minimum": 0},
            "offset": {"type": "integer", "minimum": 0, "default": 0},
        },
        "required": ["operation"],
        "additionalProperties": False,
    }

    async def invoke(self, params: dict[str, Any], ctx: ExecutionContext) -> Any:
        operation = params["operation"]
        if "input" in params:
            data = _data(params["input"])
        else:
            data = parse_json_text(await read_text(params, ctx) or "", "path")
        if not isinstance(data, list):
            raise ValidationError(
                f"{self.name} works on a JSON array; got {type(data).__name__}", details={"field": "input"}
            )
        if len(data) > MAX_ITEMS:
            raise LimitExceeded(f"more than {MAX_ITEMS} items")
        result = self._apply(operation, data, params)
        count = len(result) if isinstance(result, list | dict) else None
        return ToolOutput(
            operation=operation, result=result, metadata={"input_count": len(data), "count": count}
        )

    def _apply(self, operation: str, data: list[Any], params: dict[str, Any]) -> Any:
        if operation == "map":
            self.require(params, "mapping", operation=operation)
            return [{k: jmespath_search(q, item) for k, q in params["mapping"].items()} for item in data]
        if operation == "filter":
            self.require(params, "where", operation=operation)
            return [item for item in data if matches(item, params["where"])]
        if operation == "sort":
            by = params.get("by")
            return sorted(
                data,
                key=lambda item: _sort_key(get_field(item, by) if by else item),
                reverse=params.get("descending", False),
            )
        if operation == "group":
            self.require(params, "by", operation=operation)
            groups: dict[str, list[Any]] = {}
            for item in data:
                value = get_field(item, params["by"])
                groups.setdefault(value if isinstance(value, str) else json.dumps(value), []).append(item)
            return groups
        if operation == "flatten":
            if all(isinstance(item, dict) for item in data):
                return [_flatten_object(item, params.get("separator", ".")) for item in data]
            flat: list[Any] = data
            for _ in range(params.get("depth", 1)):
                flat = [x for item in flat for x in (item if isinstance(item, list) else [item])]
            return flat
        if operation in ("pick", "omit"):
            self.require(params, "fields", operation=operation)
            fields = set(params["fields"])
            pick = operation == "pick"
            return [
                {k: v for k, v in item.items() if (k in fields) == pick} if isinstance(item, dict) else item
                for item in data
            ]
        if operation == "unique":
            seen: set[str] = set()
            unique = []
            for item in data:
                marker = json.dumps(get_field(item, params["by"]) if "by" in params else item, sort_keys=True)
                if marker not in seen:
                    seen.add(marker)
                    unique.append(item)
            return unique
        if operation == "rename":
            self.require(params, "mapping", operation=operation)
            names: dict[str, str] = params["mapping"]
            return [
                {names.get(k, k): v for k, v in item.items()} if isinstance(item, dict) else item
                for item in data
            ]
        if operation == "limit":
            offset = params.get("offset", 0)
            limit = params.get("limit")
            return data[offset : None if limit is None else offset + limit]
        return len(data)  # count

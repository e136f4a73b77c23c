"""The api-tester tool: one request plus assertions on status, headers, JSON paths and latency."""

from __future__ import annotations

import json
from typing import Any

from llmspell.core.context import ExecutionContext
from llmspell.core.errors import ToolError, ValidationError
from llmspell.tools.base import BaseTool, ToolOutput
from llmspell.tools.builtin.web_common import json_path_get
from llmspell.tools.builtin.web_http import REQUEST_PROPERTIES, send_request

__all__ = ["ApiTesterTool", "run_checks"]

_JSON_TYPES: dict[str, tuple[type, ...]] = {
    "string": (str,),
    "number": (int, float),
    "integer": (int,),
    "boolean": (bool,),
    "array": (list,),
    "object": (dict,),
    "null": (type(None),),
}

_JSON_CHECK: dict[str, Any] = {
    "type": "object",
    "properties": {
        "path": {"type": "string", "minLength": 1, "description": "e.g. $.data.items[0].name"},
        "equals": {},
        "not_equals": {},
        "exists": {"type": "boolean"},
        "contains": {"description": "Substring of a string, element of an array, key of an object."},
        "type": {"type": "string", "enum": list(_JSON_TYPES)},
        "length": {"type": "integer", "minimum": 0},
        "gt": {"type": "number"},
        "lt": {"type": "number"},
    },
    "required": ["path"],
    "additionalProperties": False,
}

EXPECT_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "status": {
            "oneOf": [
                {"type": "integer", "minimum": 100, "maximum": 599},
                {"type": "array", "items": {"type": "integer", "minimum": 100, "maximum": 599}},
            ]
        },
        "headers": {
            "type": "object",
            "additionalProperties": {"type": "string"},
            "description": "Header name → exact value ('*' only requires presence).",
        },
        "json": {"type": "array", "items": _JSON_CHECK},
        "body_contains": {"oneOf": [{"type": "string"}, {"type": "array", "items": {"type": "string"}}]},
        "max_latency_ms": {"type": "number", "exclusiveMinimum": 0},
        "json_schema": {"type": "object", "description": "JSON Schema the body must satisfy."},
    },
    "additionalProperties": False,
}


def _check(name: str, passed: bool, expected: Any, actual: Any) -> dict[str, Any]:
    return {"check": name, "passed": passed, "expected": expected, "actual": actual}


def _json_check(body: Any, spec: dict[str, Any]) -> list[dict[str, Any]]:
    path = spec["path"]
    found, value = json_path_get(body, path)
    out: list[dict[str, Any]] = []
    if "exists" in spec:
        out.append(_check(f"json {path} exists", found == spec["exists"], spec["exists"], found))
    if "equals" in spec:
        out.append(_check(f"json {path} equals", found and value == spec["equals"], spec["equals"], value))
    if "not_equals" in spec:
        passed = found and value != spec["not_equals"]
        out.append(_check(f"json {path} not_equals", passed, spec["not_equals"], value))
    if "contains" in spec:
        needle = spec["contains"]
        try:
            passed = found and isinstance(value, str | list | dict) and needle in value
        except TypeError:
            passed = False
        out.append(_check(f"json {path} contains", passed, needle, value))
    if "type" in spec:
        kinds = _JSON_TYPES[spec["type"]]
        passed = (
            found
            and isinstance(value, kinds)
            and not (isinstance(value, bool) and spec["type"] in ("number", "integer"))
        )
        out.append(_check(f"json {path} type", passed, spec["type"], _type_name(value) if found else None))
    if "length" in spec:
        length = len(value) if found and isinstance(value, str | list | dict) else None
        out.append(_check(f"json {path} length", length == spec["length"], spec["length"], length))
    for op in ("gt", "lt"):
        if op in spec:
            numeric = found and isinstance(value, int | float) and not isinstance(value, bool)
            passed = numeric and (value > spec[op] if op == "gt" else value < spec[op])
            out.append(_check(f"json {path} {op}", passed, spec[op], value))
    if not out:
        out.append(_check(f"json {path} exists", found, True, found))
    return out


def _type_name(value: Any) -> str:
    for name, kinds in _JSON_TYPES.items():
        if isinstance(value, kinds) and not (isinstance(value, bool) and name in ("number", "integer")):
            return name
    return type(value).__name__


def _schema_check(body: Any, schema: dict[str, Any]) -> dict[str, Any]:
    import fastjsonschema  # the registry's validator: compiled draft-7 schemas

    try:
        validate = fastjsonschema.compile(schema)
    except fastjsonschema.JsonSchemaDefinitionException as exc:
        raise ValidationError(
            f"expect.json_schema is not a valid JSON Schema: {exc}", details={"field": "expect.json_schema"}
        ) from exc
    try:
        validate(body)
    except fastjsonschema.JsonSchemaValueException as exc:
        return _check("json_schema", False, "body matches schema", f"{exc.name}: {exc.message}")
    return _check("json_schema", True, "body matches schema", "valid")


def run_checks(response: dict[str, Any], expect: dict[str, Any]) -> list[dict[str, Any]]:
    """Evaluate the ``expect`` assertions against a :func:`response_dict` response."""
    checks: list[dict[str, Any]] = []
    if "status" in expect:
        wanted = expect["status"]
        allowed = wanted if isinstance(wanted, list) else [wanted]
        checks.append(_check("status", response["status"] in allowed, wanted, response["status"]))
    for name, value in (expect.get("headers") or {}).items():
        actual = response["headers"].get(name.lower())
        passed = actual is not None if value == "*" else actual == value
        checks.append(_check(f"header {name}", passed, value, actual))
    body = response["body"]
    for spec in expect.get("json") or []:
        if response["body_kind"] != "json":
            checks.append(_check(f"json {spec['path']}", False, "a JSON body", response["body_kind"]))
            continue
        checks.extend(_json_check(body, spec))
    needles = expect.get("body_contains")
    text = body if isinstance(body, str) else json.dumps(body, ensure_ascii=False)
    for needle in [needles] if isinstance(needles, str) else needles or []:
        checks.append(_check("body_contains", needle in text, needle, needle in text))
    if "max_latency_ms" in expect:
        passed = response["elapsed_ms"] <= expect["max_latency_ms"]
        checks.append(_check("max_latency_ms", passed, expect["max_latency_ms"], response["elapsed_ms"]))
    if "json_schema" in expect:
        if response["body_kind"] == "json":
            checks.append(_schema_check(body, expect["json_schema"]))
        else:
            checks.append(_check("json_schema", False, "a JSON body", response["body_kind"]))
    return checks


class ApiTesterTool(BaseTool):
    """Send a request and check the response against expectations."""

    name = "api-tester"
    category = "web"
    description = (
        "Send an HTTP request and assert on the response: status, headers, JSON paths "
        "(equals/exists/contains/type/length/gt/lt), body substrings, latency and a JSON Schema."
    )
    security_level = "restricted"
    timeout_s = 60.0
    schema = {
        "type": "object",
        "properties": {
            **REQUEST_PROPERTIES,
            "expect": EXPECT_SCHEMA,
            "fail_on_assertion": {
                "type": "boolean",
                "default": False,
                "description": "Fail with TOOL_ERROR when any assertion fails.",
            },
        },
        "required": ["url"],
        "additionalProperties": False,
    }

    async def invoke(self, params: dict[str, Any], ctx: ExecutionContext) -> Any:
        response = await send_request(params, ctx, 30.0)
        expect = params.get("expect")
        if expect:
            checks = run_checks(response, expect)
        else:
            checks = [_check("status", 200 <= response["status"] < 300, "2xx", response["status"])]
        failed = [c for c in checks if not c["passed"]]
        summary = f"{len(checks) - len(failed)}/{len(checks)} checks passed"
        if failed and params.get("fail_on_assertion"):
            first = failed[0]
            raise ToolError(
                f"{summary}; first failure: {first['check']} expected {first['expected']!r}, "
                f"got {first['actual']!r}",
                details={"checks": checks, "status": response["status"]},
            )
        return ToolOutput(
            operation="test",
            result={
                "passed": not failed,
                "checks": checks,
                "failed": len(failed),
                "status": response["status"],
                "elapsed_ms": response["elapsed_ms"],
                "headers": response["headers"],
                "body": response["body"],
            },
            message=summary,
        )

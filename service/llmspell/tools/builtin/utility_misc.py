"""diff-calculator, data-validator (JSON Schema) and template-engine (sandboxed Jinja2)."""

from __future__ import annotations

import difflib
import json
from collections.abc import Iterator
from typing import Any

from ...core.context import ExecutionContext
from ...core.errors import LimitExceeded, SandboxViolation, ValidationError
from ..base import BaseTool, ToolOutput

__all__ = [
    "DataValidatorTool",
    "DiffCalculatorTool",
    "TemplateEngineTool",
    "json_diff",
    "rules_to_schema",
    "validate_json_schema",
]

MAX_TEXT_CHARS = 2_000_000
MAX_CHANGES = 10_000
MAX_ERRORS = 100


def _path(parent: str, key: Any) -> str:
    return f"{parent}[{key}]" if isinstance(key, int) else (f"{parent}.{key}" if parent else str(key))


def json_diff(old: Any, new: Any, path: str = "") -> Iterator[dict[str, Any]]:
    """Yield ``{path, op, old?, new?}`` changes turning ``old`` into ``new`` (op: added/removed/changed)."""
    if isinstance(old, dict) and isinstance(new, dict):
        for key in old:
            if key not in new:
                yield {"path": _path(path, key), "op": "removed", "old": old[key]}
            else:
                yield from json_diff(old[key], new[key], _path(path, key))
        for key in new:
            if key not in old:
                yield {"path": _path(path, key), "op": "added", "new": new[key]}
    elif isinstance(old, list) and isinstance(new, list):
        for index in range(max(len(old), len(new))):
            if index >= len(new):
                yield {"path": _path(path, index), "op": "removed", "old": old[index]}
            elif index >= len(old):
                yield {"path": _path(path, index), "op": "added", "new": new[index]}
            else:
                yield from json_diff(old[index], new[index], _path(path, index))
    elif old != new or type(old) is not type(new):
        yield {"path": path or "$", "op": "changed", "old": old, "new": new}


def _as_json(value: Any, field: str) -> Any:
    if isinstance(value, str):
        try:
            return json.loads(value)
        except ValueError as exc:
            raise ValidationError(
                f"'{field}' is not valid JSON text: {exc}", details={"field": field}
            ) from exc
    return value


class DiffCalculatorTool(BaseTool):
    """Compare two texts (unified or ndiff) or two JSON values."""

    name = "diff-calculator"
    category = "utility"
    description = "Diff two texts (unified, ndiff, similarity ratio) or two JSON values (list of changes)."
    schema = {
        "type": "object",
        "properties": {
            "operation": {
                "type": "string",
                "enum": ["unified", "ndiff", "json", "similarity"],
                "default": "unified",
            },
            "input": {"description": "The old text (or JSON value / JSON text for 'json')."},
            "other": {"description": "The new text (or JSON value / JSON text for 'json')."},
            "context": {"type": "integer", "minimum": 0, "maximum": 1000, "default": 3},
            "from_label": {"type": "string", "default": "a"},
            "to_label": {"type": "string", "default": "b"},
        },
        "required": ["input", "other"],
        "additionalProperties": False,
    }

    async def invoke(self, params: dict[str, Any], ctx: ExecutionContext) -> Any:
        operation = params.get("operation", "unified")
        old, new = params["input"], params["other"]
        if operation == "json":
            changes = []
            for change in json_diff(_as_json(old, "input"), _as_json(new, "other")):
                changes.append(change)
                if len(changes) > MAX_CHANGES:
                    raise LimitExceeded(f"more than {MAX_CHANGES} changes; compare smaller documents")
            return ToolOutput(operation=operation, result={"changes": changes, "equal": not changes})
        if not isinstance(old, str) or not isinstance(new, str):
            raise ValidationError(f"operation {operation!r} compares two strings", details={"field": "input"})
        if len(old) + len(new) > MAX_TEXT_CHARS:
            raise LimitExceeded(f"texts longer than {MAX_TEXT_CHARS} characters in total cannot be diffed")
        return ToolOutput(
            operation=operation, result=await self.run_blocking(self._text_diff, operation, old, new, params)
        )

    @staticmethod
    def _text_diff(operation: str, old: str, new: str, params: dict[str, Any]) -> dict[str, Any]:
        a, b = old.splitlines(keepends=True), new.splitlines(keepends=True)
        if operation == "similarity":
            return {"ratio": difflib.SequenceMatcher(None, old, new).ratio(), "equal": old == new}
        if operation == "ndiff":
            lines = [line.rstrip("\n") for line in difflib.ndiff(a, b)]
        else:
            lines = [
                line.rstrip("\n")
                for line in difflib.unified_diff(
                    a,
                    b,
                    params.get("from_label", "a"),
                    params.get("to_label", "b"),
                    n=params.get("context", 3),
                )
            ]
        added = sum(1 for line in lines if line.startswith("+") and not line.startswith("+++"))
        removed = sum(1 for line in lines if line.startswith("-") and not line.startswith("---"))
        return {"diff": "\n".join(lines), "added": added, "removed": removed, "equal": old == new}


_RULE_KEYS = {
    "type": "type",
    "min": "minimum",
    "max": "maximum",
    "min_length": "minLength",
    "max_length": "maxLength",
    "pattern": "pattern",
    "enum": "enum",
    "format": "format",
    "min_items": "minItems",
    "max_items": "maxItems",
}


def rules_to_schema(rules: dict[str, Any]) -> dict[str, Any]:
    """Turn ``{field: {type, required, min, max, min_length, pattern, enum, format...}}`` into a schema."""
    properties: dict[str, Any] = {}
    required = []
    for field, rule in rules.items():
        if not isinstance(rule, dict):
            raise ValidationError(
                f"rule for {field!r} must be an object", details={"field": f"rules.{field}"}
            )
        unknown = set(rule) - set(_RULE_KEYS) - {"required"}
        if unknown:
            allowed = ", ".join(sorted([*_RULE_KEYS, "required"]))
            raise ValidationError(
                f"unknown rule {sorted(unknown)[0]!r} for {field!r} (allowed: {allowed})",
                details={"field": f"rules.{field}"},
            )
        properties[field] = {_RULE_KEYS[key]: value for key, value in rule.items() if key in _RULE_KEYS}
        if rule.get("required"):
            required.append(field)
    return {"type": "object", "properties": properties, "required": required}


def validate_json_schema(instance: Any, schema: dict[str, Any]) -> dict[str, Any]:
    """Validate ``instance`` against ``schema`` (blocking: run it in a worker thread).

    Returns:
        ``{valid, errors: [{path, message, rule}]}`` (at most ``MAX_ERRORS`` errors).

    Raises:
        ValidationError: the schema itself is invalid or cannot be resolved.
    """
    from urllib.parse import urlsplit

    import jsonschema  # ~0.4 s on first use; runs in a worker thread

    checker = jsonschema.FormatChecker()

    def _is_url(value: object) -> bool:
        if not isinstance(value, str):
            return True
        parts = urlsplit(value)
        return bool(parts.scheme and (parts.netloc or parts.path))

    checker.checks("uri")(_is_url)
    checker.checks("url")(_is_url)

    try:
        cls = jsonschema.validators.validator_for(schema, default=jsonschema.Draft202012Validator)
        cls.check_schema(schema)
        validator = cls(schema, format_checker=checker)
        errors = []
        for error in sorted(validator.iter_errors(instance), key=lambda e: list(map(str, e.absolute_path))):
            errors.append(
                {
                    "path": "$"
                    + "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in error.absolute_path),
                    "message": error.message,
                    "rule": str(error.validator),
                }
            )
            if len(errors) >= MAX_ERRORS:
                break
    except jsonschema.SchemaError as exc:
        raise ValidationError(
            f"'schema' is not a valid JSON Schema: {exc.message}", details={"field": "schema"}
        ) from exc
    except jsonschema.exceptions.UnknownType as exc:
        raise ValidationError(
            f"unknown type in rules or schema: {exc.type}", details={"field": "schema"}
        ) from exc
    except Exception as exc:  # referencing.exceptions.Unresolvable and friends
        raise ValidationError(f"cannot use the schema: {exc}", details={"field": "schema"}) from exc
    return {"valid": not errors, "errors": errors}


class DataValidatorTool(BaseTool):
    """Validate JSON data against a JSON Schema or simple field rules."""

    name = "data-validator"
    category = "utility"
    description = (
        "Validate data against a JSON Schema (draft 2020-12 by default) or simple per-field rules "
        "(type, required, min, max, min_length, max_length, pattern, enum, format)."
    )
    schema = {
        "type": "object",
        "properties": {
            "operation": {"type": "string", "enum": ["schema", "rules"], "default": "schema"},
            "input": {
                "description": "The data to validate (an array is validated item by item for 'rules')."
            },
            "schema": {"type": "object", "description": "A JSON Schema (operation 'schema')."},
            "rules": {"type": "object", "description": "Field rules (operation 'rules')."},
        },
        "required": ["input"],
        "additionalProperties": False,
    }

    async def invoke(self, params: dict[str, Any], ctx: ExecutionContext) -> Any:
        operation = params.get(
            "operation", "rules" if "rules" in params and "schema" not in params else "schema"
        )
        data = params["input"]
        if operation == "rules":
            self.require(params, "rules", operation=operation)
            item_schema = rules_to_schema(params["rules"])
            schema = {"type": "array", "items": item_schema} if isinstance(data, list) else item_schema
        else:
            self.require(params, "schema", operation=operation)
            schema = params["schema"]
        return ToolOutput(
            operation=operation, result=await self.run_blocking(validate_json_schema, data, schema)
        )


MAX_TEMPLATE_CHARS = 200_000
MAX_OUTPUT_CHARS = 1_000_000
MAX_RANGE_ITEMS = 1_000_000


def _render(template: str, variables: dict[str, Any], autoescape: bool, strict: bool, cap: int) -> str:
    import jinja2
    from jinja2.sandbox import SandboxedEnvironment

    budget = [MAX_RANGE_ITEMS]

    def bounded_range(*args: int) -> range:
        items = range(*args)
        budget[0] -= len(items)
        if budget[0] < 0:
            raise LimitExceeded(f"templates may loop over at most {MAX_RANGE_ITEMS} range items in total")
        return items

    class BoundedEnvironment(SandboxedEnvironment):
        intercepted_binops = frozenset({"*", "**"})

        def call_binop(self, context: Any, operator: str, left: Any, right: Any) -> Any:
            if (
                operator == "**"
                and isinstance(left, int)
                and isinstance(right, int)
                and abs(left).bit_length() * right > 4096
            ):
                raise LimitExceeded("a power in the template is too large")
            if operator == "*":
                for seq, times in ((left, right), (right, left)):
                    if (
                        isinstance(seq, str | list | tuple)
                        and isinstance(times, int)
                        and len(seq) * times > cap
                    ):
                        raise LimitExceeded(f"a repetition in the template exceeds {cap} items")
            return super().call_binop(context, operator, left, right)

    env = BoundedEnvironment(
        autoescape=autoescape,
        undefined=jinja2.StrictUndefined if strict else jinja2.Undefined,
        keep_trailing_newline=True,
    )
    env.globals["range"] = bounded_range
    try:
        compiled = env.from_string(template)
        parts: list[str] = []
        size = 0
        for chunk in compiled.generate(**variables):
            size += len(chunk)
            if size > cap:
                raise LimitExceeded(f"template output exceeds {cap} characters; raise max_output or simplify")
            parts.append(chunk)
    except jinja2.TemplateSyntaxError as exc:
        raise ValidationError(
            f"template syntax error on line {exc.lineno}: {exc.message}",
            details={"field": "input", "line": exc.lineno},
        ) from exc
    except jinja2.exceptions.SecurityError as exc:
        raise SandboxViolation(
            f"template tried something unsafe: {exc}", details={"kind": "template"}
        ) from exc
    except jinja2.UndefinedError as exc:
        raise ValidationError(
            f"template uses an undefined value: {exc.message}", details={"field": "variables"}
        ) from exc
    except (TypeError, ValueError, ArithmeticError, LookupError) as exc:
        raise ValidationError(f"template failed: {exc}", details={"field": "input"}) from exc
    return "".join(parts)


class TemplateEngineTool(BaseTool):
    """Render Jinja2 templates in a sandbox with bounded output."""

    name = "template-engine"
    category = "utility"
    description = (
        "Render a Jinja2 template (sandboxed: no attribute escapes, bounded loops and output) with variables."
    )
    schema = {
        "type": "object",
        "properties": {
            "operation": {"type": "string", "enum": ["render"], "default": "render"},
            "input": {"type": "string", "maxLength": MAX_TEMPLATE_CHARS, "description": "The template."},
            "variables": {"type": "object", "default": {}},
            "autoescape": {"type": "boolean", "default": False, "description": "HTML-escape variables."},
            "strict": {"type": "boolean", "default": False, "description": "Fail on undefined variables."},
            "max_output": {"type": "integer", "minimum": 1, "maximum": MAX_OUTPUT_CHARS, "default": 100_000},
        },
        "required": ["input"],
        "additionalProperties": False,
    }
    timeout_s = 10.0

    async def invoke(self, params: dict[str, Any], ctx: ExecutionContext) -> Any:
        text = await self.run_blocking(
            _render,
            params["input"],
            params.get("variables", {}),
            params.get("autoescape", False),
            params.get("strict", False),
            params.get("max_output", 100_000),
        )
        return ToolOutput(operation="render", result=text, metadata={"chars": len(text)})

"""Helpers shared by the data tools: reading ``input``/``path``, filter conditions, size bounds."""

from __future__ import annotations

import json
import operator
import re
from collections.abc import Callable, Iterable
from typing import Any

from ...core.context import ExecutionContext
from ...core.errors import LimitExceeded, ToolError, ValidationError
from ..sandbox import check_size, resolve_path

__all__ = [
    "CONDITION_SCHEMA",
    "MAX_TEXT_CHARS",
    "bounded_size",
    "get_field",
    "matches",
    "parse_json_text",
    "read_text",
]

MAX_TEXT_CHARS = 20_000_000
MAX_EXPANDED_NODES = 2_000_000
_CONTAINERS = (dict, list, tuple)

CONDITION_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "field": {"type": "string", "minLength": 1},
        "op": {
            "type": "string",
            "enum": [
                "eq",
                "ne",
                "gt",
                "gte",
                "lt",
                "lte",
                "contains",
                "in",
                "exists",
                "startswith",
                "endswith",
                "regex",
            ],
            "default": "eq",
        },
        "value": {},
    },
    "required": ["field"],
    "additionalProperties": False,
}


async def read_text(params: dict[str, Any], ctx: ExecutionContext, *, required: bool = True) -> str | None:
    """The text to work on: ``input`` when it is a string, else the file at ``path`` (sandboxed).

    Raises:
        ValidationError: neither is given (when ``required``).
        SandboxViolation, NotFound, LimitExceeded: from the sandbox.
    """
    value = params.get("input")
    if isinstance(value, str):
        return value
    if "path" in params:
        import asyncio

        return await asyncio.to_thread(_read_file, params["path"], params.get("encoding", "utf-8"), ctx)
    if required:
        raise ValidationError(
            "pass 'input' (text) or 'path' (a file in the sandbox)", details={"field": "input"}
        )
    return None


def _read_file(path_text: str, encoding: str, ctx: ExecutionContext) -> str:
    path = resolve_path(path_text, ctx.policy, must_exist=True)
    if not path.is_file():
        raise ValidationError(f"{path_text!r} is not a file", details={"field": "path"})
    check_size(path.stat().st_size, ctx.policy)
    try:
        return path.read_text(encoding=encoding)
    except LookupError as exc:
        raise ValidationError(f"unknown encoding {encoding!r}", details={"field": "encoding"}) from exc
    except UnicodeDecodeError as exc:
        raise ToolError(f"{path_text!r} is not valid {encoding} text; pass the right 'encoding'") from exc
    except OSError as exc:
        raise ToolError(f"cannot read {path_text!r}: {exc.strerror}") from exc


def parse_json_text(text: str, field: str = "input") -> Any:
    """Parse JSON text; ``ValidationError`` with the line and column when it is not JSON."""
    if len(text) > MAX_TEXT_CHARS:
        raise LimitExceeded(f"'{field}' is longer than {MAX_TEXT_CHARS} characters")
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise ValidationError(
            f"'{field}' is not valid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}",
            details={"field": field, "line": exc.lineno, "column": exc.colno},
        ) from exc
    except RecursionError as exc:
        raise LimitExceeded(f"'{field}' nests too deeply") from exc


def bounded_size(value: Any, limit: int = MAX_EXPANDED_NODES) -> int:
    """Count the nodes of ``value`` as JSON would expand them (shared references counted each time).

    Shared containers are sized once (memoised by identity), so an alias bomb is measured in
    time proportional to its *unique* nodes.

    Raises:
        LimitExceeded: past ``limit`` nodes (e.g. a YAML alias bomb) or a reference cycle.
    """
    if not isinstance(value, dict | list | tuple):
        return 1
    sizes: dict[int, int] = {}
    in_progress: set[int] = set()
    stack: list[tuple[Any, bool]] = [(value, False)]
    while stack:
        item, children_done = stack.pop()
        key = id(item)
        children = item.values() if isinstance(item, dict) else item
        if children_done:
            total = 1 + sum(sizes[id(c)] if isinstance(c, dict | list | tuple) else 1 for c in children)
            if total > limit:
                raise LimitExceeded(f"data expands to more than {limit} values (an alias bomb?); refusing it")
            sizes[key] = total
            in_progress.discard(key)
            continue
        if key in sizes:
            continue
        if key in in_progress:
            raise LimitExceeded("data refers to itself (a reference cycle) and cannot be expanded")
        in_progress.add(key)
        stack.append((item, True))
        stack.extend((c, False) for c in children if isinstance(c, _CONTAINERS) and id(c) not in sizes)
    return sizes[id(value)]


def get_field(item: Any, field: str) -> Any:
    """Read a dotted field (``"user.name"``, ``"tags.0"``) from nested objects/arrays; None when absent."""
    current = item
    for part in field.split("."):
        if isinstance(current, dict):
            current = current.get(part)
        elif isinstance(current, list) and part.lstrip("-").isdigit():
            index = int(part)
            current = current[index] if -len(current) <= index < len(current) else None
        else:
            return None
    return current


def _compare(fn: Callable[[Any, Any], bool]) -> Callable[[Any, Any], bool]:
    def check(a: Any, b: Any) -> bool:
        if a is None:
            return False
        try:
            return fn(_coerce(a, b), b)
        except TypeError:
            return False

    return check


def _coerce(a: Any, b: Any) -> Any:
    # CSV cells arrive as text: compare "42" with 40 as numbers.
    if isinstance(a, str) and isinstance(b, int | float) and not isinstance(b, bool):
        try:
            return float(a)
        except ValueError:
            return a
    return a


def _contains(a: Any, b: Any) -> bool:
    if isinstance(a, str):
        return str(b) in a
    return isinstance(a, list | dict) and b in a


def _regex(a: Any, b: Any) -> bool:
    if not isinstance(a, str):
        return False
    try:
        return re.search(str(b), a) is not None
    except re.error as exc:
        raise ValidationError(f"invalid regex {b!r}: {exc}", details={"field": "where"}) from exc


_OPS: dict[str, Callable[[Any, Any], bool]] = {
    "eq": lambda a, b: _coerce(a, b) == b,
    "ne": lambda a, b: _coerce(a, b) != b,
    "gt": _compare(operator.gt),
    "gte": _compare(operator.ge),
    "lt": _compare(operator.lt),
    "lte": _compare(operator.le),
    "contains": _contains,
    "in": lambda a, b: isinstance(b, list) and _coerce(a, b[0] if b else None) in b,
    "exists": lambda a, b: (a is not None) == (b is not False),
    "startswith": lambda a, b: isinstance(a, str) and a.startswith(str(b)),
    "endswith": lambda a, b: isinstance(a, str) and a.endswith(str(b)),
    "regex": _regex,
}


def matches(item: Any, conditions: Iterable[dict[str, Any]]) -> bool:
    """True when ``item`` satisfies every ``{field, op, value}`` condition."""
    for condition in conditions:
        op = _OPS[condition.get("op", "eq")]
        if not op(get_field(item, condition["field"]), condition.get("value")):
            return False
    return True

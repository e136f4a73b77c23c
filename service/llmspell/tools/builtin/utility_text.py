"""text-manipulator: case changes, trimming, replacing, splitting, joining and slicing text."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable
from typing import Any

from ...core.context import ExecutionContext
from ...core.errors import LimitExceeded, ValidationError
from ..base import BaseTool, ToolOutput

__all__ = ["MAX_INPUT_CHARS", "TextManipulatorTool", "words"]

MAX_INPUT_CHARS = 1_000_000
MAX_REGEX_INPUT_CHARS = 100_000  # Python's re has no timeout: keep backtracking bounded

_WORD_SPLIT = re.compile(r"[A-Z]+(?=[A-Z][a-z0-9])|[A-Z]?[a-z0-9]+|[A-Z]+|[0-9]+")


def words(text: str) -> list[str]:
    """Split identifiers and prose into words: ``"parseHTTPResponse v2"`` → parse, HTTP, Response, v2."""
    return _WORD_SPLIT.findall(unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode())


def _slug(text: str, sep: str) -> str:
    return sep.join(word.lower() for word in words(text))


def _camel(text: str) -> str:
    parts = [word.lower() for word in words(text)]
    return parts[0] + "".join(p.capitalize() for p in parts[1:]) if parts else ""


def _text(params: dict[str, Any], operation: str) -> str:
    value = params.get("input")
    if not isinstance(value, str):
        raise ValidationError(
            f"operation {operation!r} needs 'input' as a string",
            details={"field": "input", "operation": operation},
        )
    return value


def _replace(params: dict[str, Any], text: str) -> str:
    BaseTool.require(params, "pattern", operation="replace")
    pattern: str = params["pattern"]
    replacement: str = params.get("replacement", "")
    count: int = params.get("count", 0)
    if not params.get("regex", False):
        return text.replace(pattern, replacement, count if count > 0 else -1)
    if len(text) > MAX_REGEX_INPUT_CHARS:
        raise LimitExceeded(f"regex replace works on at most {MAX_REGEX_INPUT_CHARS} characters of input")
    try:
        return re.sub(pattern, replacement, text, count=count)
    except (re.error, IndexError) as exc:
        raise ValidationError(f"invalid regex or replacement: {exc}", details={"field": "pattern"}) from exc


def _truncate(params: dict[str, Any], text: str) -> str:
    BaseTool.require(params, "length", operation="truncate")
    length: int = params["length"]
    suffix: str = params.get("suffix", "...")
    if len(text) <= length:
        return text
    return text[: max(length - len(suffix), 0)] + suffix if length > len(suffix) else text[:length]


def _pad(params: dict[str, Any], text: str) -> str:
    BaseTool.require(params, "length", operation="pad")
    length: int = min(params["length"], MAX_INPUT_CHARS)
    fill: str = params.get("fill", " ")
    if len(fill) != 1:
        raise ValidationError("'fill' must be exactly one character", details={"field": "fill"})
    align = params.get("align", "left")
    if align == "right":
        return text.rjust(length, fill)
    if align == "center":
        return text.center(length, fill)
    return text.ljust(length, fill)


_SIMPLE: dict[str, Callable[[str], Any]] = {
    "upper": str.upper,
    "lower": str.lower,
    "title": str.title,
    "capitalize": str.capitalize,
    "swapcase": str.swapcase,
    "reverse": lambda s: s[::-1],
    "trim": str.strip,
    "trim_start": str.lstrip,
    "trim_end": str.rstrip,
    "word_count": lambda s: len(s.split()),
    "char_count": len,
    "line_count": lambda s: len(s.splitlines()),
    "snake_case": lambda s: _slug(s, "_"),
    "kebab_case": lambda s: _slug(s, "-"),
    "camel_case": _camel,
    "pascal_case": lambda s: "".join(w.capitalize() for w in (x.lower() for x in words(s))),
    "constant_case": lambda s: _slug(s, "_").upper(),
    "slugify": lambda s: _slug(s, "-"),
    "normalize_whitespace": lambda s: " ".join(s.split()),
}
OPERATIONS = (*_SIMPLE, "replace", "split", "join", "substring", "truncate", "pad", "repeat", "contains")


class TextManipulatorTool(BaseTool):
    """Transform text: case, whitespace, replace, split/join, slicing."""

    name = "text-manipulator"
    category = "utility"
    description = (
        "Transform text: upper, lower, title, reverse, trim, replace, split, join, substring, "
        "word_count, snake_case, camel_case, kebab_case, truncate, pad and more."
    )
    schema = {
        "type": "object",
        "properties": {
            "operation": {"type": "string", "enum": list(OPERATIONS)},
            "input": {
                "oneOf": [
                    {"type": "string", "maxLength": MAX_INPUT_CHARS},
                    {"type": "array", "items": {"type": "string"}, "maxItems": 100_000},
                ],
                "description": "The text (an array of strings for 'join').",
            },
            "pattern": {"type": "string", "minLength": 1, "maxLength": 1000},
            "replacement": {"type": "string", "maxLength": 10_000},
            "regex": {"type": "boolean", "default": False},
            "count": {"type": "integer", "minimum": 0},
            "separator": {"type": "string", "maxLength": 100},
            "max_splits": {"type": "integer", "minimum": -1},
            "start": {"type": "integer"},
            "end": {"type": "integer"},
            "length": {"type": "integer", "minimum": 0},
            "suffix": {"type": "string", "maxLength": 100},
            "fill": {"type": "string"},
            "align": {"type": "string", "enum": ["left", "right", "center"]},
            "times": {"type": "integer", "minimum": 0, "maximum": 10_000},
            "case_sensitive": {"type": "boolean", "default": True},
        },
        "required": ["operation", "input"],
        "additionalProperties": False,
    }
    timeout_s = 10.0

    async def invoke(self, params: dict[str, Any], ctx: ExecutionContext) -> Any:
        operation: str = params["operation"]
        simple = _SIMPLE.get(operation)
        if operation == "join":
            items = params["input"]
            if not isinstance(items, list):
                raise ValidationError(
                    "operation 'join' needs 'input' as an array of strings", details={"field": "input"}
                )
            result: Any = params.get("separator", " ").join(items)
        elif simple is not None:
            result = simple(_text(params, operation))
        else:
            result = self._with_args(operation, params, _text(params, operation))
        return ToolOutput(operation=operation, result=result)

    def _with_args(self, operation: str, params: dict[str, Any], text: str) -> Any:
        if operation == "replace":
            return _replace(params, text)
        if operation == "split":
            separator = params.get("separator")
            return text.split(separator or None, params.get("max_splits", -1))
        if operation == "substring":
            return text[params.get("start", 0) : params.get("end")]
        if operation == "truncate":
            return _truncate(params, text)
        if operation == "pad":
            return _pad(params, text)
        if operation == "repeat":
            times: int = params.get("times", 1)
            if len(text) * times > MAX_INPUT_CHARS:
                raise LimitExceeded(f"repeated text would exceed {MAX_INPUT_CHARS} characters")
            return text * times
        # contains
        self.require(params, "pattern", operation=operation)
        if params.get("case_sensitive", True):
            return params["pattern"] in text
        return params["pattern"].casefold() in text.casefold()

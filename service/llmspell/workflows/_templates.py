"""``{{...}}`` templates in step inputs, compiled once when the workflow is defined.

A string that is exactly one template (``"{{steps.fetch.output}}"``) renders to the
referenced value with its type; templates embedded in text are stringified (strings as
is, numbers and booleans as Lua prints them, tables as compact JSON). Paths start at
``input``, ``steps``, ``loop`` or ``workflow``; numeric segments index arrays from 1.
A path that does not resolve is a ``VALIDATION`` error naming the template.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from ..core.errors import ValidationError

if TYPE_CHECKING:
    from ._base import Scope

__all__ = ["ROOTS", "Renderer", "compile_path", "compile_value", "resolve", "stringify"]

ROOTS = frozenset({"input", "steps", "loop", "workflow"})
_TOKEN = re.compile(r"\{\{\s*([^{}]*?)\s*\}\}")

Renderer = Callable[["Scope"], Any]
"""A compiled input: ``render(scope)`` returns the value with every template resolved."""

_MISSING = object()


def compile_path(text: str, field: str) -> tuple[str, ...]:
    """Split a template path (``steps.fetch.output``) into segments and check its root.

    Raises:
        ValidationError: empty segments or a root other than input/steps/loop/workflow.
    """
    parts = tuple(part.strip() for part in text.split("."))
    if not parts or any(not part for part in parts):
        raise ValidationError(
            f"{field}: template path {text!r} has an empty segment", details={"field": field}
        )
    if parts[0] not in ROOTS:
        raise ValidationError(
            f"{field}: template {{{{{text}}}}} must start with input, steps, loop or workflow",
            details={"field": field},
        )
    if parts[0] == "steps" and len(parts) < 2:
        raise ValidationError(
            f"{field}: template {{{{steps}}}} needs a step name, like {{{{steps.fetch.output}}}}",
            details={"field": field},
        )
    return parts


def _child(value: Any, segment: str) -> Any:
    if isinstance(value, dict):
        return value.get(segment, _MISSING)
    if isinstance(value, list | tuple) and segment.isdigit():
        index = int(segment)
        return value[index - 1] if 1 <= index <= len(value) else _MISSING
    return _MISSING


def resolve(scope: Scope, path: tuple[str, ...], *, strict: bool = True) -> Any:
    """The value at ``path`` in ``scope``; missing → ``ValidationError`` (or None if not strict)."""
    root = path[0]
    rest = path[1:]
    if root == "input":
        value = scope.input
    elif root == "steps":
        value = scope.find(path[1])
        if value is None:
            if not strict:
                return None
            raise ValidationError(
                f"template {{{{{'.'.join(path)}}}}}: no step named {path[1]!r} has run before this one",
                details={"template": ".".join(path)},
            )
        rest = path[2:]
    elif root == "loop":
        value = scope.find_loop()
        if value is None:
            if not strict:
                return None
            raise ValidationError(
                f"template {{{{{'.'.join(path)}}}}} is only valid inside a loop body",
                details={"template": ".".join(path)},
            )
    else:
        value = scope.workflow_info()
    for depth, segment in enumerate(rest):
        found = _child(value, segment)
        if found is _MISSING:
            if not strict:
                return None
            where = ".".join(path[: depth + 1 + (path[0] == "steps")])
            raise ValidationError(
                f"template {{{{{'.'.join(path)}}}}}: {where} has no field {segment!r}",
                details={"template": ".".join(path)},
            )
        value = found
    return value


def stringify(value: Any) -> str:
    """How a value reads inside text: strings as is, nil as '', tables as JSON."""
    if isinstance(value, str):
        return value
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return str(value)
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"), default=str)


def _constant(value: Any) -> Renderer:
    return lambda scope: value


def _compile_string(text: str, field: str) -> Renderer | None:
    if "{{" not in text:
        return None
    matches = list(_TOKEN.finditer(text))
    if not matches:
        return None
    if len(matches) == 1 and matches[0].span() == (0, len(text)):
        path = compile_path(matches[0].group(1), field)
        return lambda scope: resolve(scope, path)
    pieces: list[str | tuple[str, ...]] = []
    last = 0
    for match in matches:
        if match.start() > last:
            pieces.append(text[last : match.start()])
        pieces.append(compile_path(match.group(1), field))
        last = match.end()
    if last < len(text):
        pieces.append(text[last:])

    def render(scope: Scope) -> str:
        return "".join(p if isinstance(p, str) else stringify(resolve(scope, p)) for p in pieces)

    return render


def _compile(value: Any, field: str) -> Renderer | None:
    """A renderer for ``value``, or None when it holds no template (a constant)."""
    if isinstance(value, str):
        return _compile_string(value, field)
    if isinstance(value, dict):
        parts = {key: _compile(item, f"{field}.{key}") for key, item in value.items()}
        if all(part is None for part in parts.values()):
            return None
        items = [(key, parts[key] or _constant(item)) for key, item in value.items()]
        return lambda scope: {key: render(scope) for key, render in items}
    if isinstance(value, list | tuple):
        compiled = [_compile(item, f"{field}[{i}]") for i, item in enumerate(value, 1)]
        if all(part is None for part in compiled):
            return None
        renders = [part or _constant(item) for part, item in zip(compiled, value, strict=True)]
        return lambda scope: [render(scope) for render in renders]
    return None


def compile_value(value: Any, field: str) -> tuple[Renderer | None, Any]:
    """Compile ``value``: ``(renderer, None)`` when it holds templates, else ``(None, value)``.

    Raises:
        ValidationError: a template path is malformed (``field`` names where).
    """
    render = _compile(value, field)
    return (render, None) if render is not None else (None, value)

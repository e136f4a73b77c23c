"""Conditions of conditional branches and loops: a function, a declarative test, or a constant.

A function condition gets the step context table and its result is read with Lua's
truthiness (only nil and false are false). A declarative condition names a ``key``, a
dotted path resolved like a template path; a path that does not start with ``input``,
``steps``, ``loop`` or ``workflow`` is read inside the input (``{key="kind"}`` tests
``input.kind``). Exactly one test goes with the key: ``equals``, ``not_equals``,
``exists``, ``contains``, ``greater_than`` or ``less_than``.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from ..core.errors import ValidationError
from ._steps import call_function
from ._templates import ROOTS, compile_path, resolve

if TYPE_CHECKING:
    from ._base import Scope

__all__ = ["Condition", "compile_condition", "truthy"]

_TESTS = ("equals", "not_equals", "exists", "contains", "greater_than", "less_than")


def truthy(value: Any) -> bool:
    """Lua truthiness: everything but nil and false is true."""
    return value is not None and value is not False


class Condition(ABC):
    """A test evaluated against a scope."""

    @abstractmethod
    async def test(self, scope: Scope) -> bool:
        """True when the condition holds; raises what a condition function raises."""

    @abstractmethod
    def describe(self) -> Any:
        """JSON form (functions as ``"<function>"``)."""


class _Constant(Condition):
    def __init__(self, value: bool) -> None:
        self.value = value

    async def test(self, scope: Scope) -> bool:
        return self.value

    def describe(self) -> Any:
        return self.value


class _Function(Condition):
    def __init__(self, fn: Callable[..., Any]) -> None:
        self.fn = fn

    async def test(self, scope: Scope) -> bool:
        return truthy(await call_function(self.fn, scope.context()))

    def describe(self) -> Any:
        return "<function>"


def _ordered(left: Any, right: Any, test: str) -> bool:
    if not isinstance(left, int | float) or isinstance(left, bool):
        return False
    return bool(left > right) if test == "greater_than" else bool(left < right)


class _KeyTest(Condition):
    def __init__(self, key: str, path: tuple[str, ...], test: str, operand: Any) -> None:
        self.key = key
        self.path = path
        self.test_name = test
        self.operand = operand

    async def test(self, scope: Scope) -> bool:
        value = resolve(scope, self.path, strict=False)
        operand, test = self.operand, self.test_name
        if test == "equals":
            return bool(value == operand)
        if test == "not_equals":
            return bool(value != operand)
        if test == "exists":
            return (value is not None) == truthy(operand)
        if test == "contains":
            if isinstance(value, str):
                return isinstance(operand, str) and operand in value
            if isinstance(value, list | dict):
                return operand in value
            return False
        return _ordered(value, operand, test)

    def describe(self) -> Any:
        return {"key": self.key, self.test_name: self.operand}


def compile_condition(value: Any, field: str) -> Condition:
    """A condition from a function, ``{key=, <test>=}`` or a boolean.

    Raises:
        ValidationError: anything else, naming ``field``.
    """
    if isinstance(value, bool):
        return _Constant(value)
    if isinstance(value, dict):
        key = value.get("key")
        if not isinstance(key, str) or not key.strip():
            raise ValidationError(
                f"{field}.key must name the value to test, like {{key='steps.check.output', equals=true}}",
                details={"field": f"{field}.key"},
            )
        tests = [name for name in _TESTS if name in value]
        unknown = sorted(set(value) - {"key", *_TESTS})
        if unknown:
            raise ValidationError(
                f"{field}.{unknown[0]} is not a condition test; use one of {', '.join(_TESTS)}",
                details={"field": f"{field}.{unknown[0]}"},
            )
        if len(tests) != 1:
            raise ValidationError(
                f"{field} needs exactly one test next to key: {', '.join(_TESTS)}",
                details={"field": field},
            )
        test = tests[0]
        operand = value[test]
        if test in ("greater_than", "less_than") and (
            not isinstance(operand, int | float) or isinstance(operand, bool)
        ):
            raise ValidationError(f"{field}.{test} must be a number", details={"field": f"{field}.{test}"})
        path = key.strip()
        if path.split(".", 1)[0] not in ROOTS:
            path = "input." + path
        return _KeyTest(key, compile_path(path, f"{field}.key"), test, operand)
    if callable(value):
        return _Function(value)
    raise ValidationError(
        f"{field} must be a function(ctx), a table {{key=, equals=}} or {{key=, exists=true}}, or a boolean",
        details={"field": field},
    )

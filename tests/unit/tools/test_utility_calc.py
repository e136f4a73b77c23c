"""calculator: arithmetic, functions, variables, refusals."""

from __future__ import annotations

import math
from typing import Any

import pytest
from llmspell.core.context import ExecutionContext
from llmspell.core.errors import LimitExceeded, ValidationError
from llmspell.tools import default_registry
from llmspell.tools.builtin.utility_calc import evaluate


async def calc(expression: str, **extra: Any) -> Any:
    env = await default_registry().invoke("calculator", {"input": expression, **extra}, ExecutionContext())
    assert env["success"] is True and env["operation"] == extra.get("operation", "evaluate")
    return env["result"]


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        ("2 + 3 * 4", 14),
        ("(2 + 3) * 4", 20),
        ("7 // 2 + 7 % 2", 4),
        ("2 ** 10", 1024),
        ("-3 + +1", -2),
        ("10 / 4", 2.5),
        ("sqrt(16) + abs(-2)", 6.0),
        ("max(1, 5, 3) - min(4, 2)", 3),
        ("round(pi, 2)", 3.14),
        ("floor(2.7) + ceil(2.1)", 5),
        ("log(e)", 1.0),
        ("log(8, 2)", 3.0),
        ("1 < 2 <= 2", True),
        ("1 if 2 > 3 else 0", 0),
        ("not 0 and 1", True),
    ],
)
async def test_expressions(expression: str, expected: Any) -> None:
    result = await calc(expression)
    assert result["value"] == pytest.approx(expected) and result["expression"] == expression


async def test_variables_and_trig() -> None:
    assert (await calc("x * y + z", variables={"x": 2, "y": 3.5, "z": -1}))["value"] == 6.0
    assert (await calc("sin(pi / 2) + cos(0)"))["value"] == pytest.approx(2.0)
    assert evaluate("pi") == math.pi


async def test_validate_and_functions_operations() -> None:
    assert await calc("1 +", operation="validate") == {
        "valid": False,
        "error": "invalid expression: invalid syntax",
    }
    assert (await calc("1 + x", operation="validate"))["valid"] is True
    env = await default_registry().invoke("calculator", {"operation": "functions"}, ExecutionContext())
    assert "sqrt" in env["result"]["functions"] and env["result"]["constants"] == ["e", "pi", "tau"]


@pytest.mark.parametrize(
    ("expression", "fragment"),
    [
        ("__import__('os').system('id')", "unknown function"),
        ("().__class__", "Attribute is not allowed"),
        ("'a' * 3", "only numbers"),
        ("[1, 2]", "List is not allowed"),
        ("x", "unknown variable 'x'"),
        ("1 / 0", "division by zero"),
        ("sqrt(-1)", "math error"),
        ("(-8) ** 0.5", "no real value"),
        ("lambda: 1", "Lambda is not allowed"),
        ("max()", "at least one argument"),
        ("sqrt(1, 2)", "wrong number of arguments"),
        ("round(1.5, ndigits=1)", "positional arguments only"),
        ("1 +", "invalid expression"),
        ("True + 1", "only numbers"),
        ("1 << 3", "BinOp is not allowed"),
    ],
)
async def test_refusals(expression: str, fragment: str) -> None:
    env = await default_registry().invoke_envelope("calculator", {"input": expression}, ExecutionContext())
    assert env["success"] is False and env["error"]["code"] == "VALIDATION"
    assert fragment in env["error"]["message"]


async def test_schema_violations() -> None:
    registry, ctx = default_registry(), ExecutionContext()
    with pytest.raises(ValidationError, match="'input' is required"):
        await registry.invoke("calculator", {}, ctx)
    with pytest.raises(ValidationError, match=r"variables\.x"):
        await registry.invoke("calculator", {"input": "x", "variables": {"x": "1"}}, ctx)
    with pytest.raises(ValidationError, match="unknown parameter 'expr'"):
        await registry.invoke("calculator", {"expr": "1"}, ctx)


def test_limits_raise_limit_exceeded() -> None:
    with pytest.raises(LimitExceeded):
        evaluate("9**9**9")
    with pytest.raises(LimitExceeded):
        evaluate("10**2000 * 10**2000")
    with pytest.raises(LimitExceeded):
        evaluate("2.0 ** 100000")
    with pytest.raises(LimitExceeded, match="longer than"):
        evaluate("1+" * 600 + "1")
    assert evaluate("2 ** 4000") == 2**4000

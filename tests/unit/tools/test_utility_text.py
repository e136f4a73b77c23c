"""text-manipulator."""

from __future__ import annotations

from typing import Any

import pytest
from llmspell.core.context import ExecutionContext
from llmspell.core.errors import LimitExceeded, ValidationError
from llmspell.tools import default_registry


async def text(operation: str, value: Any, **extra: Any) -> Any:
    env = await default_registry().invoke(
        "text-manipulator", {"operation": operation, "input": value, **extra}, ExecutionContext()
    )
    assert env["success"] is True and env["operation"] == operation
    return env["result"]


@pytest.mark.parametrize(
    ("operation", "value", "expected"),
    [
        ("upper", "abc", "ABC"),
        ("lower", "ÀBC", "àbc"),
        ("title", "hello world", "Hello World"),
        ("reverse", "abc", "cba"),
        ("trim", "  x  ", "x"),
        ("word_count", "one two  three\nfour", 4),
        ("char_count", "héllo", 5),
        ("snake_case", "parseHTTPResponse now", "parse_http_response_now"),
        ("kebab_case", "Hello World_again", "hello-world-again"),
        ("camel_case", "hello world-again", "helloWorldAgain"),
        ("pascal_case", "hello world", "HelloWorld"),
        ("constant_case", "max retries", "MAX_RETRIES"),
        ("slugify", "Héllo, Wörld!", "hello-world"),
        ("normalize_whitespace", " a \n\t b ", "a b"),
    ],
)
async def test_simple_operations(operation: str, value: str, expected: Any) -> None:
    assert await text(operation, value) == expected


async def test_operations_with_arguments() -> None:
    assert await text("replace", "a-b-c", pattern="-", replacement="+") == "a+b+c"
    assert await text("replace", "a-b-c", pattern="-", replacement="+", count=1) == "a+b-c"
    assert await text("replace", "a1b22", pattern=r"\d+", replacement="#", regex=True) == "a#b#"
    assert await text("split", "a,b,,c", separator=",") == ["a", "b", "", "c"]
    assert await text("split", "a b  c") == ["a", "b", "c"]
    assert await text("join", ["a", "b"], separator="/") == "a/b"
    assert await text("substring", "abcdef", start=1, end=3) == "bc"
    assert await text("truncate", "abcdefghij", length=6) == "abc..."
    assert await text("truncate", "abc", length=6) == "abc"
    assert await text("pad", "7", length=3, fill="0", align="right") == "007"
    assert await text("repeat", "ab", times=3) == "ababab"
    assert await text("contains", "Hello", pattern="hell", case_sensitive=False) is True


async def test_refusals() -> None:
    registry, ctx = default_registry(), ExecutionContext()
    with pytest.raises(ValidationError, match="'pattern' is required"):
        await registry.invoke("text-manipulator", {"operation": "replace", "input": "x"}, ctx)
    with pytest.raises(ValidationError, match="invalid regex"):
        await registry.invoke(
            "text-manipulator", {"operation": "replace", "input": "x", "pattern": "(", "regex": True}, ctx
        )
    with pytest.raises(ValidationError, match="array of strings"):
        await registry.invoke("text-manipulator", {"operation": "join", "input": "abc"}, ctx)
    with pytest.raises(ValidationError, match="needs 'input' as a string"):
        await registry.invoke("text-manipulator", {"operation": "upper", "input": ["a"]}, ctx)
    with pytest.raises(ValidationError, match="operation"):
        await registry.invoke("text-manipulator", {"operation": "explode", "input": "x"}, ctx)
    with pytest.raises(LimitExceeded):
        await registry.invoke(
            "text-manipulator", {"operation": "repeat", "input": "x" * 1000, "times": 10_000}, ctx
        )

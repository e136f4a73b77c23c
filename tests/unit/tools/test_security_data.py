"""Attack inputs against the data and utility tools: refused cleanly (a core error) and fast."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest
from llmspell.core.context import ExecutionContext, SandboxPolicy
from llmspell.core.errors import LimitExceeded, LLMSpellError, SandboxViolation, ValidationError
from llmspell.tools import default_registry

BILLION_LAUGHS = """<?xml version="1.0"?>
<!DOCTYPE lolz [
 <!ENTITY lol "lol">
 <!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
 <!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
 <!ENTITY lol5 "&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;">
 <!ENTITY lol6 "&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;">
 <!ENTITY lol7 "&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;">
 <!ENTITY lol8 "&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;">
 <!ENTITY lol9 "&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;">
]>
<lolz>&lol9;</lolz>"""

XXE = """<?xml version="1.0"?>
<!DOCTYPE r [<!ENTITY x SYSTEM "file:///etc/passwd">]>
<r>&x;</r>"""

YAML_BOMB = """
a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]
b: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]
c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]
d: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]
e: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d]
f: &f [*e,*e,*e,*e,*e,*e,*e,*e,*e]
g: &g [*f,*f,*f,*f,*f,*f,*f,*f,*f]
h: &h [*g,*g,*g,*g,*g,*g,*g,*g,*g]
i: &i [*h,*h,*h,*h,*h,*h,*h,*h,*h]
"""


@pytest.fixture
def ctx(tmp_path: Path) -> ExecutionContext:
    return ExecutionContext(policy=SandboxPolicy(file_roots=(str(tmp_path / "root"),)))


async def refused(
    tool: str, params: dict[str, Any], ctx: ExecutionContext, within_s: float = 2.0
) -> LLMSpellError:
    started = time.monotonic()
    with pytest.raises(LLMSpellError) as info:
        await default_registry().invoke(tool, params, ctx)
    assert time.monotonic() - started < within_s, "refusal was not fast"
    failed = await default_registry().invoke_envelope(tool, params, ctx)
    assert failed["success"] is False and failed["error"]["code"] == info.value.code
    return info.value


async def test_billion_laughs_is_refused(ctx: ExecutionContext) -> None:
    for operation in ("parse", "find", "to_json"):
        error = await refused(
            "xml-processor", {"operation": operation, "input": BILLION_LAUGHS, "query": "x"}, ctx
        )
        assert isinstance(error, ValidationError) and error.details["reason"] == "EntitiesForbidden"
    result = await default_registry().invoke(
        "xml-processor", {"operation": "validate", "input": BILLION_LAUGHS}, ctx
    )
    assert result["result"]["valid"] is False


async def test_xxe_is_refused(ctx: ExecutionContext) -> None:
    error = await refused("xml-processor", {"operation": "parse", "input": XXE}, ctx)
    assert isinstance(error, ValidationError) and "passwd" not in str(error.details)


async def test_deep_xml_is_bounded(ctx: ExecutionContext) -> None:
    deep = "<a>" * 50_000 + "</a>" * 50_000
    error = await refused("xml-processor", {"operation": "parse", "input": deep}, ctx, within_s=10)
    assert isinstance(error, LimitExceeded | ValidationError)


@pytest.mark.parametrize(
    "document",
    [
        "!!python/object/apply:os.system ['echo pwned']",
        "!!python/object/new:subprocess.Popen [['id']]",
        "x: !!python/name:os.system",
        "!!python/module:os",
    ],
)
async def test_yaml_object_tags_are_refused(ctx: ExecutionContext, document: str) -> None:
    error = await refused("yaml-processor", {"operation": "parse", "input": document}, ctx)
    assert isinstance(error, ValidationError) and error.details["reason"] == "tag"


async def test_yaml_alias_bomb_is_refused(ctx: ExecutionContext) -> None:
    for operation in ("parse", "to_json"):
        error = await refused("yaml-processor", {"operation": operation, "input": YAML_BOMB}, ctx)
        assert isinstance(error, LimitExceeded) and "expands" in error.message
    self_ref = await refused("yaml-processor", {"operation": "parse", "input": "&a [*a]"}, ctx)
    assert isinstance(self_ref, LimitExceeded)


@pytest.mark.parametrize(
    ("expression", "error_type"),
    [
        ("9**9**9", LimitExceeded),
        ("2**2**2**2**2**2", LimitExceeded),
        ("10**10**10", LimitExceeded),
        ("(" * 250 + "1" + ")" * 250, ValidationError),
        ("-" * 900 + "1", LimitExceeded),
        ("1" + "+1" * 499, LimitExceeded),
        ("1" * 1001, ValidationError),
        ("max(" * 60 + "1" + ")" * 60, LimitExceeded),
        ("99999999999999999999.0 ** 99999", LimitExceeded),
    ],
)
async def test_calculator_dos_is_refused_fast(
    ctx: ExecutionContext, expression: str, error_type: type
) -> None:
    error = await refused("calculator", {"input": expression}, ctx, within_s=0.5)
    assert isinstance(error, error_type)


async def test_path_traversal_through_tools(ctx: ExecutionContext, tmp_path: Path) -> None:
    root = tmp_path / "root"
    root.mkdir()
    (tmp_path / "secret.csv").write_text("a\n1\n")
    (root / "escape.csv").symlink_to(tmp_path / "secret.csv")
    for tool, params in (
        ("csv-analyzer", {"operation": "info", "path": "../secret.csv"}),
        ("csv-analyzer", {"operation": "info", "path": "escape.csv"}),
        ("json-processor", {"operation": "query", "path": str(tmp_path / "secret.csv"), "query": "a"}),
        ("hash-calculator", {"path": "escape.csv"}),
        ("text-analyzer", {"path": "/proc/self/environ"}),
    ):
        error = await refused(tool, params, ctx)
        assert isinstance(error, SandboxViolation)


async def test_template_escapes_are_refused(ctx: ExecutionContext) -> None:
    for template in (
        "{{ ''.__class__.__mro__ }}",
        "{{ lipsum.__globals__['os'].popen('id').read() }}",
        "{{ self._TemplateReference__context }}",
    ):
        env = await default_registry().invoke_envelope(
            "template-engine", {"input": template, "strict": True}, ctx
        )
        assert env["success"] is False and env["error"]["code"] in ("SANDBOX_VIOLATION", "VALIDATION")

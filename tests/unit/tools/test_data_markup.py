"""xml-processor and yaml-processor (the attack inputs are in test_security_data.py)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from llmspell.core.context import ExecutionContext, SandboxPolicy
from llmspell.core.errors import SandboxViolation, ValidationError
from llmspell.tools import default_registry

XML = """<?xml version="1.0"?>
<catalog owner="me">
  <book id="1"><title>Dune</title><year>1965</year></book>
  <book id="2"><title>Emma</title><year>1815</year></book>
  <note>plain</note>
</catalog>"""


@pytest.fixture
def ctx(tmp_path: Path) -> ExecutionContext:
    return ExecutionContext(policy=SandboxPolicy(file_roots=(str(tmp_path),)))


async def run(ctx: ExecutionContext, tool: str, **params: Any) -> Any:
    env = await default_registry().invoke(tool, params, ctx)
    assert env["success"] is True and env["operation"] == params["operation"]
    return env["result"]


async def test_xml_parse_and_to_json(ctx: ExecutionContext) -> None:
    data = await run(ctx, "xml-processor", operation="parse", input=XML)
    assert data == {
        "catalog": {
            "@owner": "me",
            "book": [
                {"@id": "1", "title": "Dune", "year": "1965"},
                {"@id": "2", "title": "Emma", "year": "1815"},
            ],
            "note": "plain",
        }
    }
    text = await run(ctx, "xml-processor", operation="to_json", input="<a x='1'>t</a>")
    assert text == '{"a": {"@x": "1", "#text": "t"}}'


async def test_xml_find(ctx: ExecutionContext, tmp_path: Path) -> None:
    (tmp_path / "c.xml").write_text(XML)
    found = await run(ctx, "xml-processor", operation="find", path="c.xml", query="//book[@id='2']/title")
    assert found == {
        "matches": [{"tag": "title", "attributes": {}, "text": "Emma", "value": "Emma"}],
        "count": 1,
    }
    absolute = await run(ctx, "xml-processor", operation="find", input=XML, query="/catalog/book")
    assert [m["attributes"]["id"] for m in absolute["matches"]] == ["1", "2"]
    limited = await run(ctx, "xml-processor", operation="find", input=XML, query=".//year", limit=1)
    assert limited["count"] == 2 and len(limited["matches"]) == 1


async def test_xml_validate_and_refusals(ctx: ExecutionContext) -> None:
    assert await run(ctx, "xml-processor", operation="validate", input=XML) == {"valid": True, "error": None}
    broken = await run(ctx, "xml-processor", operation="validate", input="<a><b></a>")
    assert broken["valid"] is False and "line 1" in broken["error"]
    registry = default_registry()
    with pytest.raises(ValidationError, match="invalid XML at line 1"):
        await registry.invoke("xml-processor", {"operation": "parse", "input": "<a>"}, ctx)
    with pytest.raises(ValidationError, match="does not start at the root"):
        await registry.invoke(
            "xml-processor", {"operation": "find", "input": XML, "query": "/shelf/book"}, ctx
        )
    with pytest.raises(ValidationError, match="unsupported query"):
        await registry.invoke(
            "xml-processor", {"operation": "find", "input": XML, "query": "book[last()+1]"}, ctx
        )
    with pytest.raises(SandboxViolation):
        await registry.invoke("xml-processor", {"operation": "parse", "path": "/etc/hosts"}, ctx)


YAML = """
name: demo
when: 2024-05-01
tags: [a, b]
nested:
  ratio: 0.5
  enabled: yes
"""


async def test_yaml_parse_to_json_from_json(ctx: ExecutionContext) -> None:
    data = await run(ctx, "yaml-processor", operation="parse", input=YAML)
    assert data == {
        "name": "demo",
        "when": "2024-05-01",
        "tags": ["a", "b"],
        "nested": {"ratio": 0.5, "enabled": True},
    }
    text = await run(ctx, "yaml-processor", operation="to_json", input="a: [1, 2]")
    assert text == '{"a": [1, 2]}'
    docs = await run(ctx, "yaml-processor", operation="parse", input="a: 1\n---\nb: 2\n", all_documents=True)
    assert docs == [{"a": 1}, {"b": 2}]
    dumped = await run(ctx, "yaml-processor", operation="from_json", input={"k": [1, "x"], "z": None})
    assert dumped == "k:\n- 1\n- x\nz: null\n"
    assert (
        await run(ctx, "yaml-processor", operation="from_json", input='{"b": 1, "a": 2}', sort_keys=True)
        == "a: 2\nb: 1\n"
    )


async def test_yaml_validate_and_refusals(ctx: ExecutionContext, tmp_path: Path) -> None:
    (tmp_path / "ok.yaml").write_text("a: 1\n")
    assert await run(ctx, "yaml-processor", operation="validate", path="ok.yaml") == {
        "valid": True,
        "error": None,
    }
    broken = await run(ctx, "yaml-processor", operation="validate", input="a: [1, 2")
    assert broken["valid"] is False and "line" in broken["error"]
    with pytest.raises(ValidationError, match="invalid YAML at line 2"):
        await default_registry().invoke(
            "yaml-processor", {"operation": "parse", "input": "a: 1\n b: - x"}, ctx
        )
    with pytest.raises(ValidationError, match="operation"):
        await default_registry().invoke("yaml-processor", {"input": "a: 1"}, ctx)

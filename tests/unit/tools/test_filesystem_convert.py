"""file-converter: encodings, line endings, csv/json/yaml, sandbox and schema checks."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import pytest
from llmspell.core.context import ExecutionContext, SandboxPolicy
from llmspell.core.errors import LimitExceeded, SandboxViolation, ToolError, ValidationError
from llmspell.tools.builtin.filesystem_convert import FileConverterTool
from llmspell.tools.registry import ToolRegistry


@pytest.fixture
def root(tmp_path: Path) -> Path:
    path = tmp_path / "root"
    path.mkdir()
    return path.resolve()


@pytest.fixture
def ctx(root: Path) -> ExecutionContext:
    return ExecutionContext(policy=SandboxPolicy(file_roots=(str(root),)))


@pytest.fixture
def registry() -> ToolRegistry:
    reg = ToolRegistry()
    reg.register(FileConverterTool())
    return reg


async def convert(registry: ToolRegistry, ctx: ExecutionContext, **params: Any) -> dict[str, Any]:
    envelope = await registry.invoke("file-converter", params, ctx)
    assert envelope["success"] is True
    return envelope


async def test_encoding_file_to_file(registry: ToolRegistry, ctx: ExecutionContext, root: Path) -> None:
    (root / "latin.txt").write_bytes("café crème".encode("latin-1"))
    envelope = await convert(
        registry, ctx, operation="encoding", path="latin.txt", output_path="utf8.txt", from_encoding="latin-1"
    )
    assert (root / "utf8.txt").read_text(encoding="utf-8") == "café crème"
    assert envelope["metadata"]["source_encoding"] == "latin-1"


async def test_encoding_auto_detects_bom_and_inline_output(
    registry: ToolRegistry, ctx: ExecutionContext, root: Path
) -> None:
    (root / "u16.txt").write_bytes("hällo".encode("utf-16"))
    envelope = await convert(registry, ctx, operation="encoding", path="u16.txt", to_encoding="cp1252")
    assert envelope["result"]["content"] == "hällo"
    assert base64.b64decode(envelope["result"]["content_base64"]) == "hällo".encode("cp1252")
    assert envelope["metadata"]["source_encoding"] == "utf-16"
    with pytest.raises(ValidationError, match="cannot be encoded"):
        await registry.invoke(
            "file-converter", {"operation": "encoding", "input": "日本", "to_encoding": "ascii"}, ctx
        )
    (root / "bad.txt").write_bytes(b"\xff\xff")
    with pytest.raises(ToolError, match="not valid utf-8"):
        await registry.invoke(
            "file-converter", {"operation": "encoding", "path": "bad.txt", "from_encoding": "utf-8"}, ctx
        )


async def test_line_endings(registry: ToolRegistry, ctx: ExecutionContext, root: Path) -> None:
    envelope = await convert(
        registry, ctx, operation="line_endings", input="a\r\nb\rc\nd", line_ending="crlf"
    )
    assert envelope["result"]["content"] == "a\r\nb\r\nc\r\nd"
    (root / "dos.txt").write_bytes(b"x\r\ny\r\n")
    await convert(registry, ctx, operation="line_endings", path="dos.txt", output_path="dos.txt")
    assert (root / "dos.txt").read_bytes() == b"x\ny\n"


async def test_csv_json_yaml(registry: ToolRegistry, ctx: ExecutionContext, root: Path) -> None:
    csv_text = "name,age,score\nada,36,9.5\nbob,41,\n"
    as_json = await convert(
        registry, ctx, operation="format", input=csv_text, from_format="csv", to_format="json"
    )
    rows = json.loads(as_json["result"]["content"])
    assert rows == [{"name": "ada", "age": 36, "score": 9.5}, {"name": "bob", "age": 41, "score": ""}]
    as_yaml = await convert(
        registry,
        ctx,
        operation="format",
        input=as_json["result"]["content"],
        from_format="json",
        to_format="yaml",
    )
    assert "- name: ada\n  age: 36\n" in as_yaml["result"]["content"]
    (root / "in.yaml").write_text(as_yaml["result"]["content"])
    await convert(
        registry,
        ctx,
        operation="format",
        path="in.yaml",
        from_format="yaml",
        to_format="csv",
        output_path="out.csv",
    )
    assert (root / "out.csv").read_text() == "name,age,score\nada,36,9.5\nbob,41,\n"
    nested = await convert(
        registry,
        ctx,
        operation="format",
        input='[{"a": {"b": 1}, "c": [1, 2]}]',
        from_format="json",
        to_format="csv",
    )
    assert nested["result"]["content"] == 'a,c\n"{""b"": 1}","[1, 2]"\n'
    semi = await convert(
        registry,
        ctx,
        operation="format",
        input="a;b\n1;x\n",
        from_format="csv",
        to_format="json",
        delimiter=";",
    )
    assert json.loads(semi["result"]["content"]) == [{"a": 1, "b": "x"}]


async def test_format_errors(registry: ToolRegistry, ctx: ExecutionContext) -> None:
    with pytest.raises(ToolError, match="invalid JSON"):
        await registry.invoke(
            "file-converter",
            {"operation": "format", "input": "{", "from_format": "json", "to_format": "yaml"},
            ctx,
        )
    with pytest.raises(ToolError, match="list of objects"):
        await registry.invoke(
            "file-converter",
            {"operation": "format", "input": "[1]", "from_format": "json", "to_format": "csv"},
            ctx,
        )
    with pytest.raises(ToolError, match="invalid YAML"):
        await registry.invoke(
            "file-converter",
            {
                "operation": "format",
                "input": "!!python/object:os.system {}",
                "from_format": "yaml",
                "to_format": "json",
            },
            ctx,
        )


async def test_yaml_alias_bomb_is_refused(registry: ToolRegistry, ctx: ExecutionContext) -> None:
    lines = ["a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
    lines += [f"a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * 10) + "]" for i in range(1, 9)]
    with pytest.raises(LimitExceeded, match="alias"):
        await registry.invoke(
            "file-converter",
            {"operation": "format", "input": "\n".join(lines), "from_format": "yaml", "to_format": "json"},
            ctx,
        )


async def test_sandbox_and_schema(registry: ToolRegistry, ctx: ExecutionContext, tmp_path: Path) -> None:
    (tmp_path / "secret.txt").write_text("s")
    with pytest.raises(SandboxViolation):
        await registry.invoke(
            "file-converter", {"operation": "encoding", "path": str(tmp_path / "secret.txt")}, ctx
        )
    with pytest.raises(SandboxViolation):
        await registry.invoke(
            "file-converter", {"operation": "encoding", "input": "x", "output_path": "../escape.txt"}, ctx
        )
    assert not (tmp_path / "escape.txt").exists()
    with pytest.raises(ValidationError):
        await registry.invoke(
            "file-converter", {"operation": "format", "input": "a", "from_format": "csv"}, ctx
        )
    with pytest.raises(ValidationError):
        await registry.invoke("file-converter", {"operation": "encoding"}, ctx)
    with pytest.raises(ValidationError):
        await registry.invoke("file-converter", {"operation": "encoding", "input": "a", "path": "b"}, ctx)

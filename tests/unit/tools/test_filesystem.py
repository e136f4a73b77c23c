"""file-operations and file-search against a real temporary sandbox root."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest
from llmspell.core.context import ExecutionContext, SandboxPolicy
from llmspell.core.errors import LimitExceeded, NotFound, SandboxViolation, ToolError, ValidationError
from llmspell.tools.builtin.filesystem import FileOperationsTool, FileSearchTool, glob_regex
from llmspell.tools.registry import ToolRegistry


@pytest.fixture
def root(tmp_path: Path) -> Path:
    path = tmp_path / "root"
    path.mkdir()
    return path.resolve()


@pytest.fixture
def outside(tmp_path: Path) -> Path:
    path = tmp_path / "outside"
    path.mkdir()
    (path / "secret.txt").write_text("top secret")
    return path.resolve()


@pytest.fixture
def ctx(root: Path) -> ExecutionContext:
    return ExecutionContext(policy=SandboxPolicy(file_roots=(str(root),), max_file_bytes=10_000))


@pytest.fixture
def registry() -> ToolRegistry:
    reg = ToolRegistry()
    reg.register(FileOperationsTool())
    reg.register(FileSearchTool())
    return reg


async def ops(registry: ToolRegistry, ctx: ExecutionContext, **params: Any) -> Any:
    envelope = await registry.invoke("file-operations", params, ctx)
    assert envelope["success"] is True
    assert envelope["operation"] == params["operation"]
    return envelope["result"]


async def test_write_read_append_roundtrip(registry: ToolRegistry, ctx: ExecutionContext, root: Path) -> None:
    written = await ops(registry, ctx, operation="write", path="notes.txt", content="héllo\n")
    assert written["bytes_written"] == len("héllo\n".encode())
    await ops(registry, ctx, operation="append", path="notes.txt", content="world\n")
    read = await ops(registry, ctx, operation="read", path="notes.txt")
    assert read == {"content": "héllo\nworld\n", "size": 13, "truncated": False}
    assert (root / "notes.txt").read_text() == "héllo\nworld\n"


async def test_read_partial_and_binary(registry: ToolRegistry, ctx: ExecutionContext, root: Path) -> None:
    (root / "blob.bin").write_bytes(bytes(range(10)))
    head = await ops(registry, ctx, operation="read", path="blob.bin", encoding="base64", max_bytes=4)
    assert head["content"] == "AAECAw=="
    assert head["truncated"] is True
    (root / "bad.txt").write_bytes(b"\xff\xfe\xfa")
    with pytest.raises(ToolError, match="not valid utf-8"):
        await registry.invoke("file-operations", {"operation": "read", "path": "bad.txt"}, ctx)


async def test_write_is_atomic_and_leaves_no_temp_files(
    registry: ToolRegistry, ctx: ExecutionContext, root: Path
) -> None:
    target = root / "data.txt"
    target.write_text("old")
    os.chmod(target, 0o640)
    await ops(registry, ctx, operation="write", path="data.txt", content="new")
    assert target.read_text() == "new"
    assert oct(target.stat().st_mode & 0o777) == "0o640"
    assert sorted(p.name for p in root.iterdir()) == ["data.txt"]
    with pytest.raises(ValidationError, match="overwrite"):
        await registry.invoke(
            "file-operations",
            {"operation": "write", "path": "data.txt", "content": "x", "overwrite": False},
            ctx,
        )


async def test_write_size_cap(registry: ToolRegistry, ctx: ExecutionContext, root: Path) -> None:
    with pytest.raises(LimitExceeded):
        await registry.invoke(
            "file-operations", {"operation": "write", "path": "big.txt", "content": "x" * 10_001}, ctx
        )
    assert not (root / "big.txt").exists()
    (root / "small.txt").write_text("x" * 9_000)
    with pytest.raises(LimitExceeded):
        await registry.invoke(
            "file-operations", {"operation": "append", "path": "small.txt", "content": "y" * 2_000}, ctx
        )


async def test_parent_directories(registry: ToolRegistry, ctx: ExecutionContext, root: Path) -> None:
    with pytest.raises(NotFound, match="create_parents"):
        await registry.invoke(
            "file-operations", {"operation": "write", "path": "a/b/c.txt", "content": "x"}, ctx
        )
    await ops(registry, ctx, operation="write", path="a/b/c.txt", content="x", create_parents=True)
    assert (root / "a" / "b" / "c.txt").read_text() == "x"


async def test_copy_move_delete(registry: ToolRegistry, ctx: ExecutionContext, root: Path) -> None:
    (root / "src").mkdir()
    (root / "src" / "one.txt").write_text("1")
    (root / "dst").mkdir()
    await ops(registry, ctx, operation="copy", path="src/one.txt", destination="dst")
    assert (root / "dst" / "one.txt").read_text() == "1"
    with pytest.raises(ValidationError, match="recursive"):
        await registry.invoke(
            "file-operations", {"operation": "copy", "path": "src", "destination": "c"}, ctx
        )
    await ops(registry, ctx, operation="copy", path="src", destination="copied", recursive=True)
    assert (root / "copied" / "one.txt").read_text() == "1"
    await ops(registry, ctx, operation="move", path="copied/one.txt", destination="moved.txt")
    assert (root / "moved.txt").exists() and not (root / "copied" / "one.txt").exists()
    with pytest.raises(ToolError, match="not empty"):
        await registry.invoke("file-operations", {"operation": "delete", "path": "src"}, ctx)
    await ops(registry, ctx, operation="delete", path="src", recursive=True)
    assert not (root / "src").exists()
    with pytest.raises(NotFound):
        await registry.invoke("file-operations", {"operation": "delete", "path": "src"}, ctx)


async def test_list_exists_mkdir_stat(registry: ToolRegistry, ctx: ExecutionContext, root: Path) -> None:
    await ops(registry, ctx, operation="mkdir", path="d/e")
    (root / "d" / "f.txt").write_text("abc")
    listing = await ops(registry, ctx, operation="list", path="d")
    assert [(e["path"], e["type"]) for e in listing["entries"]] == [("e", "directory"), ("f.txt", "file")]
    deep = await ops(registry, ctx, operation="list", path=".", recursive=True, max_entries=2)
    assert deep["truncated"] is True and deep["count"] == 2
    assert await ops(registry, ctx, operation="exists", path="d/f.txt") == {"exists": True, "type": "file"}
    assert await ops(registry, ctx, operation="exists", path="nope") == {"exists": False, "type": None}
    info = await ops(registry, ctx, operation="stat", path="d/f.txt")
    assert info["size"] == 3 and info["type"] == "file" and info["readable"] is True


async def test_sandbox_refusals(
    registry: ToolRegistry, ctx: ExecutionContext, root: Path, outside: Path
) -> None:
    (root / "link").symlink_to(outside / "secret.txt")
    (root / "dirlink").symlink_to(outside)
    refused = [
        {"operation": "read", "path": str(outside / "secret.txt")},
        {"operation": "read", "path": "../outside/secret.txt"},
        {"operation": "read", "path": "link"},
        {"operation": "write", "path": "dirlink/new.txt", "content": "x"},
        {"operation": "copy", "path": "../outside/secret.txt", "destination": "stolen.txt"},
        {"operation": "copy", "path": "link", "destination": "stolen.txt"},
        {"operation": "move", "path": "dirlink/secret.txt", "destination": "stolen.txt"},
        {"operation": "delete", "path": "."},
        {"operation": "list", "path": "/"},
    ]
    for params in refused:
        with pytest.raises(SandboxViolation):
            await registry.invoke("file-operations", params, ctx)
    assert (outside / "secret.txt").read_text() == "top secret"
    assert not (outside / "new.txt").exists() and not (root / "stolen.txt").exists()


async def test_fifo_is_refused(registry: ToolRegistry, ctx: ExecutionContext, root: Path) -> None:
    os.mkfifo(root / "pipe")
    with pytest.raises(SandboxViolation, match="FIFO"):
        await registry.invoke("file-operations", {"operation": "read", "path": "pipe"}, ctx)


async def test_schema_violations(registry: ToolRegistry, ctx: ExecutionContext) -> None:
    bad = [
        ({"operation": "read"}, "path"),
        ({"operation": "shred", "path": "x"}, "operation"),
        ({"operation": "write", "path": "x"}, "content"),
        ({"operation": "copy", "path": "x"}, "destination"),
        ({"operation": "read", "path": "x", "mode": "r"}, "mode"),
    ]
    for params, field in bad:
        with pytest.raises(ValidationError) as info:
            await registry.invoke("file-operations", params, ctx)
        assert field in info.value.message


async def test_envelope_on_failure(registry: ToolRegistry, ctx: ExecutionContext) -> None:
    envelope = await registry.invoke_envelope(
        "file-operations", {"operation": "read", "path": "/etc/passwd"}, ctx
    )
    assert envelope["success"] is False
    assert envelope["error"]["code"] == "SANDBOX_VIOLATION"


def test_glob_regex() -> None:
    assert glob_regex("*.py").match("a/b/c.py")
    assert not glob_regex("src/*.py").match("src/a/b.py")
    assert glob_regex("src/**/*.py").match("src/a/b.py")
    assert glob_regex("src/**/*.py").match("src/b.py")
    assert glob_regex("file[0-9].txt").match("file7.txt")
    assert not glob_regex("file[!0-9].txt").match("file7.txt")


async def test_search_glob_and_grep(registry: ToolRegistry, ctx: ExecutionContext, root: Path) -> None:
    (root / "pkg" / "sub").mkdir(parents=True)
    (root / "pkg" / "a.py").write_text("import os\nTODO = 1\n")
    (root / "pkg" / "sub" / "b.py").write_text("x = 2\n# todo later\n")
    (root / "pkg" / "notes.md").write_text("TODO: docs\n")
    (root / ".hidden.py").write_text("TODO hidden\n")
    found = await registry.invoke("file-search", {"pattern": "**/*.py"}, ctx)
    assert [f["path"] for f in found["result"]["files"]] == ["pkg/a.py", "pkg/sub/b.py"]
    grep = await registry.invoke("file-search", {"path": "pkg", "pattern": "*.py", "content": "todo"}, ctx)
    assert grep["result"]["matches"] == [{"path": "sub/b.py", "line": 2, "text": "# todo later"}]
    nocase = await registry.invoke(
        "file-search",
        {"pattern": "*", "content": "todo", "case_sensitive": False, "include_hidden": True},
        ctx,
    )
    assert {m["path"] for m in nocase["result"]["matches"]} == {
        ".hidden.py",
        "pkg/a.py",
        "pkg/sub/b.py",
        "pkg/notes.md",
    }
    capped = await registry.invoke("file-search", {"pattern": "*", "max_results": 1}, ctx)
    assert capped["result"]["count"] == 1 and capped["result"]["truncated"] is True


async def test_search_does_not_follow_links_out(
    registry: ToolRegistry, ctx: ExecutionContext, root: Path, outside: Path
) -> None:
    (root / "escape").symlink_to(outside)
    (root / "escape.txt").symlink_to(outside / "secret.txt")
    found = await registry.invoke("file-search", {"pattern": "**", "content": "secret"}, ctx)
    assert found["result"]["matches"] == []
    with pytest.raises(SandboxViolation):
        await registry.invoke("file-search", {"path": "escape"}, ctx)


async def test_search_bad_regex_and_schema(registry: ToolRegistry, ctx: ExecutionContext) -> None:
    with pytest.raises(ValidationError, match="regular expression"):
        await registry.invoke("file-search", {"content": "(unclosed"}, ctx)
    with pytest.raises(ValidationError, match="max_results"):
        await registry.invoke("file-search", {"max_results": 0}, ctx)


async def test_delete_and_move_act_on_links_not_targets(
    registry: ToolRegistry, ctx: ExecutionContext, root: Path, outside: Path
) -> None:
    (root / "real.txt").write_text("keep me")
    (root / "alias").symlink_to(root / "real.txt")
    (root / "out").symlink_to(outside / "secret.txt")
    await ops(registry, ctx, operation="move", path="alias", destination="renamed")
    assert (root / "renamed").is_symlink() and (root / "real.txt").read_text() == "keep me"
    await ops(registry, ctx, operation="delete", path="renamed")
    assert not (root / "renamed").exists() and (root / "real.txt").read_text() == "keep me"
    await ops(registry, ctx, operation="delete", path="out")
    assert not (root / "out").is_symlink() and (outside / "secret.txt").read_text() == "top secret"

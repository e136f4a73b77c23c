"""archive-handler: round trips, zip-slip refusals and zip-bomb limits on real archives."""

from __future__ import annotations

import io
import tarfile
import zipfile
from pathlib import Path
from typing import Any

import pytest
from llmspell.core.context import ExecutionContext, SandboxPolicy
from llmspell.core.errors import LimitExceeded, SandboxViolation, ToolError, ValidationError
from llmspell.tools.builtin.archive import ArchiveHandlerTool, safe_member_path
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
    reg.register(ArchiveHandlerTool())
    return reg


async def run(registry: ToolRegistry, ctx: ExecutionContext, **params: Any) -> dict[str, Any]:
    envelope = await registry.invoke("archive-handler", params, ctx)
    assert envelope["success"] is True
    result: dict[str, Any] = envelope["result"]
    return result


def tree(path: Path) -> list[str]:
    """Every entry under ``path``, relative, sorted."""
    return sorted(p.relative_to(path).as_posix() for p in path.rglob("*"))


def make_tar(path: Path, members: list[tuple[tarfile.TarInfo, bytes | None]], mode: str = "w") -> None:
    with tarfile.open(path, mode) as tar:  # type: ignore[call-overload]
        for info, data in members:
            if data is not None:
                info.size = len(data)
            tar.addfile(info, io.BytesIO(data) if data is not None else None)


def tar_info(name: str, kind: bytes = tarfile.REGTYPE, linkname: str = "") -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type = kind
    info.linkname = linkname
    return info


@pytest.fixture
def project(root: Path) -> Path:
    src = root / "project"
    (src / "docs").mkdir(parents=True)
    (src / "readme.txt").write_text("hello")
    (src / "docs" / "guide.md").write_text("# guide\n" * 50)
    return src


@pytest.mark.parametrize("fmt", ["zip", "tar", "tar.gz"])
async def test_create_list_extract_roundtrip(
    registry: ToolRegistry, ctx: ExecutionContext, root: Path, project: Path, fmt: str
) -> None:
    name = f"out.{fmt}"
    created = await run(registry, ctx, operation="create", path=name, files=["project"])
    assert created["format"] == fmt and created["count"] == 4
    listing = await run(registry, ctx, operation="list", path=name)
    names = {e["name"].rstrip("/") for e in listing["entries"]}
    assert names == {"project", "project/readme.txt", "project/docs", "project/docs/guide.md"}
    extracted = await run(registry, ctx, operation="extract", path=name, destination="unpacked")
    assert set(extracted["extracted"]) == {"project/readme.txt", "project/docs/guide.md"}
    assert (root / "unpacked" / "project" / "docs" / "guide.md").read_text() == "# guide\n" * 50
    assert tree(root / "unpacked") == [
        "project",
        "project/docs",
        "project/docs/guide.md",
        "project/readme.txt",
    ]
    with pytest.raises(ValidationError, match="overwrite"):
        await registry.invoke(
            "archive-handler", {"operation": "extract", "path": name, "destination": "unpacked"}, ctx
        )
    await run(registry, ctx, operation="extract", path=name, destination="unpacked", overwrite=True)
    with pytest.raises(ValidationError, match="exists"):
        await registry.invoke(
            "archive-handler", {"operation": "create", "path": name, "files": ["project"]}, ctx
        )


async def test_extract_into_root_and_inner_relative_symlink(
    registry: ToolRegistry, ctx: ExecutionContext, root: Path
) -> None:
    make_tar(
        root / "links.tar",
        [
            (tar_info("data/real.txt"), b"content"),
            (tar_info("data/alias.txt", tarfile.SYMTYPE, "real.txt"), None),
            (tar_info("data/copy.txt", tarfile.LNKTYPE, "data/real.txt"), None),
        ],
    )
    await run(registry, ctx, operation="extract", path="links.tar", destination=".")
    assert (root / "data" / "alias.txt").is_symlink()
    assert (root / "data" / "alias.txt").read_text() == "content"
    assert (root / "data" / "copy.txt").read_text() == "content"


def test_safe_member_path(tmp_path: Path) -> None:
    assert safe_member_path("a/./b.txt", tmp_path) == tmp_path / "a" / "b.txt"
    for bad in ("../x", "a/../../x", "/etc/passwd", "C:\\windows\\x", "..\\x", ".", "a\x00b"):
        with pytest.raises(SandboxViolation):
            safe_member_path(bad, tmp_path)


@pytest.mark.parametrize(
    "members",
    [
        [(tar_info("../evil.txt"), b"x")],
        [(tar_info("ok/../../evil.txt"), b"x")],
        [(tar_info("/tmp/evil.txt"), b"x")],
        [(tar_info("link", tarfile.SYMTYPE, "/etc/passwd"), None)],
        [(tar_info("link", tarfile.SYMTYPE, "../../outside"), None), (tar_info("link/evil.txt"), b"x")],
        # Lexically inside, really outside: a -> ".", b -> "a/.." then a write through b.
        [
            (tar_info("a", tarfile.SYMTYPE, "."), None),
            (tar_info("b", tarfile.SYMTYPE, "a/.."), None),
            (tar_info("b/evil.txt"), b"x"),
        ],
        [(tar_info("hard", tarfile.LNKTYPE, "../../outside/secret.txt"), None)],
        [(tar_info("fifo", tarfile.FIFOTYPE), None)],
        [(tar_info("dev", tarfile.CHRTYPE), None)],
    ],
    ids=[
        "dotdot",
        "nested-dotdot",
        "absolute",
        "abs-link",
        "link-out",
        "link-chain",
        "hardlink",
        "fifo",
        "dev",
    ],
)
async def test_tar_slip_is_refused_and_nothing_written(
    registry: ToolRegistry,
    ctx: ExecutionContext,
    root: Path,
    tmp_path: Path,
    members: list[tuple[tarfile.TarInfo, bytes | None]],
) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.txt").write_text("secret")
    make_tar(root / "evil.tar", members)
    (root / "target").mkdir()
    with pytest.raises(SandboxViolation):
        await registry.invoke(
            "archive-handler", {"operation": "extract", "path": "evil.tar", "destination": "target"}, ctx
        )
    assert tree(root / "target") == []
    assert tree(outside) == ["secret.txt"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["outside", "root"]


@pytest.mark.parametrize("name", ["../evil.txt", "/abs/evil.txt", "a/../../evil.txt"])
async def test_zip_slip_is_refused(
    registry: ToolRegistry, ctx: ExecutionContext, root: Path, tmp_path: Path, name: str
) -> None:
    with zipfile.ZipFile(root / "evil.zip", "w") as archive:
        archive.writestr("fine.txt", "ok")
        archive.writestr(zipfile.ZipInfo(name), "pwned")
    with pytest.raises(SandboxViolation):
        await registry.invoke(
            "archive-handler", {"operation": "extract", "path": "evil.zip", "destination": "t"}, ctx
        )
    assert tree(root / "t") == []
    assert not (tmp_path / "evil.txt").exists() and not (root / "evil.txt").exists()


async def test_zip_symlink_out_is_refused(registry: ToolRegistry, ctx: ExecutionContext, root: Path) -> None:
    info = zipfile.ZipInfo("link")
    info.external_attr = (0o120777 << 16) | 0x20
    with zipfile.ZipFile(root / "link.zip", "w") as archive:
        archive.writestr(info, "../../../etc/passwd")
    with pytest.raises(SandboxViolation, match="outside"):
        await registry.invoke(
            "archive-handler", {"operation": "extract", "path": "link.zip", "destination": "t"}, ctx
        )
    listing = await run(registry, ctx, operation="list", path="link.zip")
    assert listing["entries"][0]["type"] == "symlink"


async def test_zip_bomb_limits(registry: ToolRegistry, ctx: ExecutionContext, root: Path) -> None:
    with zipfile.ZipFile(root / "bomb.zip", "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("zeros.bin", b"\0" * 5_000_000)
    with pytest.raises(LimitExceeded, match="ratio"):
        await registry.invoke(
            "archive-handler", {"operation": "extract", "path": "bomb.zip", "destination": "t"}, ctx
        )
    with pytest.raises(LimitExceeded, match="max_total_bytes"):
        await registry.invoke(
            "archive-handler",
            {
                "operation": "extract",
                "path": "bomb.zip",
                "destination": "t",
                "max_ratio": 100_000,
                "max_total_bytes": 1000,
            },
            ctx,
        )
    assert tree(root / "t") == []
    with zipfile.ZipFile(root / "many.zip", "w") as archive:
        for i in range(20):
            archive.writestr(f"f{i}.txt", "x")
    with pytest.raises(LimitExceeded, match="max_members"):
        await registry.invoke(
            "archive-handler",
            {"operation": "extract", "path": "many.zip", "destination": "t", "max_members": 10},
            ctx,
        )
    ok = await run(registry, ctx, operation="extract", path="bomb.zip", destination="t", max_ratio=100_000)
    assert ok["count"] == 1 and (root / "t" / "zeros.bin").stat().st_size == 5_000_000


async def test_gzip_bomb_is_refused_while_reading(
    registry: ToolRegistry, ctx: ExecutionContext, root: Path
) -> None:
    make_tar(root / "bomb.tar.gz", [(tar_info("zeros.bin"), b"\0" * 5_000_000)], mode="w:gz")
    assert (root / "bomb.tar.gz").stat().st_size < 20_000
    for operation in ("list", "extract"):
        with pytest.raises(LimitExceeded, match="gzip bomb"):
            await registry.invoke(
                "archive-handler", {"operation": operation, "path": "bomb.tar.gz", "destination": "t"}, ctx
            )
    assert tree(root / "t") == []


async def test_create_refuses_symlink_out_of_sandbox_in_zip(
    registry: ToolRegistry, ctx: ExecutionContext, root: Path, tmp_path: Path
) -> None:
    (tmp_path / "secret.txt").write_text("secret")
    (root / "src").mkdir()
    (root / "src" / "leak").symlink_to(tmp_path / "secret.txt")
    with pytest.raises(SandboxViolation):
        await registry.invoke(
            "archive-handler", {"operation": "create", "path": "x.zip", "files": ["src"]}, ctx
        )
    assert not (root / "x.zip").exists()
    # tar keeps the link as a link: the archive carries no outside content.
    await run(registry, ctx, operation="create", path="x.tar", files=["src"])
    with tarfile.open(root / "x.tar") as tar:
        assert tar.getmember("src/leak").issym()


async def test_refusals_and_schema(
    registry: ToolRegistry, ctx: ExecutionContext, root: Path, tmp_path: Path
) -> None:
    with pytest.raises(SandboxViolation):
        await registry.invoke(
            "archive-handler", {"operation": "create", "path": "a.zip", "files": [str(tmp_path)]}, ctx
        )
    with pytest.raises(SandboxViolation):
        await registry.invoke(
            "archive-handler", {"operation": "create", "path": "../a.zip", "files": ["."]}, ctx
        )
    with pytest.raises(ValidationError, match="destination"):
        await registry.invoke("archive-handler", {"operation": "extract", "path": "a.zip"}, ctx)
    with pytest.raises(ValidationError, match="files"):
        await registry.invoke("archive-handler", {"operation": "create", "path": "a.zip"}, ctx)
    (root / "junk.zip").write_bytes(b"PK not really")
    with pytest.raises(ToolError, match="cannot read"):
        await registry.invoke("archive-handler", {"operation": "list", "path": "junk.zip"}, ctx)

"""uuid-generator, hash-calculator, base64-encoder."""

from __future__ import annotations

import hashlib
import hmac
import time
import uuid
from pathlib import Path
from typing import Any

import pytest
from llmspell.core.context import ExecutionContext, SandboxPolicy
from llmspell.core.errors import SandboxViolation, ToolError, ValidationError
from llmspell.tools import default_registry


@pytest.fixture
def ctx(tmp_path: Path) -> ExecutionContext:
    return ExecutionContext(policy=SandboxPolicy(file_roots=(str(tmp_path),)))


async def run(ctx: ExecutionContext, tool: str, **params: Any) -> Any:
    env = await default_registry().invoke(tool, params, ctx)
    assert env["success"] is True
    return env["result"]


async def test_uuid_versions(ctx: ExecutionContext) -> None:
    for version in (1, 4, 7):
        result = await run(ctx, "uuid-generator", version=version, count=3)
        parsed = [uuid.UUID(u) for u in result["uuids"]]
        assert len(set(parsed)) == 3 and all(p.version == version for p in parsed)
        assert all(p.variant == uuid.RFC_4122 for p in parsed)
    v5 = await run(ctx, "uuid-generator", version=5, namespace="dns", name="example.com")
    assert v5["uuid"] == str(uuid.uuid5(uuid.NAMESPACE_DNS, "example.com"))
    v7 = uuid.UUID((await run(ctx, "uuid-generator", version=7))["uuid"])
    assert abs((v7.int >> 80) - time.time() * 1000) < 5000
    assert len((await run(ctx, "uuid-generator", format="hex"))["uuid"]) == 32
    assert (await run(ctx, "uuid-generator", operation="validate", input=v5["uuid"])) == {
        "valid": True,
        "version": 5,
    }
    assert (await run(ctx, "uuid-generator", operation="validate", input="nope"))["valid"] is False


async def test_uuid_refusals(ctx: ExecutionContext) -> None:
    registry = default_registry()
    with pytest.raises(ValidationError, match="'name' is required"):
        await registry.invoke("uuid-generator", {"version": 5}, ctx)
    with pytest.raises(ValidationError, match="namespace"):
        await registry.invoke("uuid-generator", {"version": 5, "name": "x", "namespace": "bogus"}, ctx)
    with pytest.raises(ValidationError, match="count"):
        await registry.invoke("uuid-generator", {"count": 100_000}, ctx)


async def test_hashes(ctx: ExecutionContext, tmp_path: Path) -> None:
    result = await run(ctx, "hash-calculator", input="abc")
    assert result["hash"] == hashlib.sha256(b"abc").hexdigest() and result["algorithm"] == "sha256"
    md5 = await run(ctx, "hash-calculator", input="abc", algorithm="md5", format="base64")
    assert md5["hash"] == "kAFQmDzST7DWlj99KOF/cg=="
    mac = await run(ctx, "hash-calculator", input="msg", key="k", algorithm="sha256")
    assert mac["hash"] == hmac.new(b"k", b"msg", "sha256").hexdigest() and mac["hmac"] is True
    raw = await run(ctx, "hash-calculator", input="AAEC", encoding="base64", algorithm="blake2b")
    assert raw["hash"] == hashlib.blake2b(b"\x00\x01\x02").hexdigest()
    (tmp_path / "f.bin").write_bytes(b"x" * 3_000_000)
    from_file = await run(ctx, "hash-calculator", path="f.bin", algorithm="sha1")
    assert from_file["hash"] == hashlib.sha1(b"x" * 3_000_000).hexdigest()
    good = await run(ctx, "hash-calculator", operation="verify", input="abc", expected=result["hash"].upper())
    bad = await run(ctx, "hash-calculator", operation="verify", input="abd", expected=result["hash"])
    assert good["valid"] is True and bad["valid"] is False


async def test_hash_refusals(ctx: ExecutionContext) -> None:
    registry = default_registry()
    with pytest.raises(SandboxViolation):
        await registry.invoke("hash-calculator", {"path": "/etc/passwd"}, ctx)
    with pytest.raises(ValidationError, match="pass 'input'"):
        await registry.invoke("hash-calculator", {}, ctx)
    with pytest.raises(ValidationError, match="algorithm"):
        await registry.invoke("hash-calculator", {"input": "x", "algorithm": "crc32"}, ctx)
    with pytest.raises(ValidationError, match="not valid hex"):
        await registry.invoke("hash-calculator", {"input": "zz", "encoding": "hex"}, ctx)


async def test_base64(ctx: ExecutionContext, tmp_path: Path) -> None:
    assert await run(ctx, "base64-encoder", operation="encode", input="héllo") == "aMOpbGxv"
    assert await run(ctx, "base64-encoder", operation="decode", input="aMOpbGxv") == "héllo"
    assert (
        await run(ctx, "base64-encoder", operation="encode", input="\xff\xfe?", encoding="latin-1") == "//4/"
    )
    assert (
        await run(ctx, "base64-encoder", operation="encode", input="//4/", encoding="base64", url_safe=True)
        == "__4_"
    )
    assert (
        await run(ctx, "base64-encoder", operation="decode", input="__4_", url_safe=True, format="hex")
        == "fffe3f"
    )
    assert await run(ctx, "base64-encoder", operation="decode", input="aGk") == "hi"  # unpadded
    (tmp_path / "b.bin").write_bytes(b"\x00\x01")
    assert await run(ctx, "base64-encoder", operation="encode", path="b.bin") == "AAE="


async def test_base64_refusals(ctx: ExecutionContext) -> None:
    registry = default_registry()
    with pytest.raises(ValidationError, match="not valid base64"):
        await registry.invoke("base64-encoder", {"operation": "decode", "input": "***"}, ctx)
    with pytest.raises(ToolError, match="format='hex'"):
        await registry.invoke("base64-encoder", {"operation": "decode", "input": "//4="}, ctx)
    with pytest.raises(SandboxViolation):
        await registry.invoke("base64-encoder", {"operation": "encode", "path": "../outside"}, ctx)
    with pytest.raises(ValidationError, match="operation"):
        await registry.invoke("base64-encoder", {"input": "x"}, ctx)

"""uuid-generator, hash-calculator and base64-encoder."""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import uuid
from typing import Any

from ...core.context import ExecutionContext
from ...core.errors import ToolError, ValidationError
from ...core.ids import uuid7
from ..base import BaseTool, ToolOutput
from ..sandbox import check_size, resolve_path

__all__ = ["Base64EncoderTool", "HashCalculatorTool", "UuidGeneratorTool", "decode_input", "uuid7"]

MAX_INPUT_CHARS = 10_000_000

_NAMESPACES = {
    "dns": uuid.NAMESPACE_DNS,
    "url": uuid.NAMESPACE_URL,
    "oid": uuid.NAMESPACE_OID,
    "x500": uuid.NAMESPACE_X500,
}


def decode_input(text: str, encoding: str) -> bytes:
    """Bytes of ``text`` given how it is encoded: a text codec (``utf-8``...), ``base64`` or ``hex``."""
    try:
        if encoding == "base64":
            return base64.b64decode(text, validate=True)
        if encoding == "hex":
            return bytes.fromhex(text)
        return text.encode(encoding)
    except (binascii.Error, ValueError) as exc:
        raise ValidationError(f"input is not valid {encoding}: {exc}", details={"field": "input"}) from exc
    except LookupError as exc:
        raise ValidationError(f"unknown encoding {encoding!r}; use utf-8, base64 or hex") from exc


def _format_uuid(value: uuid.UUID, fmt: str) -> str:
    if fmt == "hex":
        return value.hex
    if fmt == "urn":
        return value.urn
    if fmt == "upper":
        return str(value).upper()
    return str(value)


class UuidGeneratorTool(BaseTool):
    """Generate UUIDs (v1, v4, v5, v7)."""

    name = "uuid-generator"
    category = "utility"
    description = "Generate UUIDs: version 1 (time), 4 (random), 5 (name-based, SHA-1) or 7 (time-ordered)."
    schema = {
        "type": "object",
        "properties": {
            "operation": {"type": "string", "enum": ["generate", "validate"], "default": "generate"},
            "version": {"type": "integer", "enum": [1, 4, 5, 7], "default": 4},
            "count": {"type": "integer", "minimum": 1, "maximum": 1000, "default": 1},
            "namespace": {"type": "string", "description": "dns, url, oid, x500 or a UUID (version 5)."},
            "name": {"type": "string", "maxLength": 10_000, "description": "The name to hash (version 5)."},
            "format": {"type": "string", "enum": ["standard", "hex", "urn", "upper"], "default": "standard"},
            "input": {"type": "string", "maxLength": 100, "description": "A UUID to check (validate)."},
        },
        "additionalProperties": False,
    }

    async def invoke(self, params: dict[str, Any], ctx: ExecutionContext) -> Any:
        if params.get("operation") == "validate":
            self.require(params, "input", operation="validate")
            try:
                parsed = uuid.UUID(params["input"])
            except ValueError:
                return ToolOutput(operation="validate", result={"valid": False, "version": None})
            return ToolOutput(operation="validate", result={"valid": True, "version": parsed.version})
        version = params.get("version", 4)
        fmt = params.get("format", "standard")
        if version == 5:
            self.require(params, "name", operation="generate (version 5)")
            namespace = self._namespace(params.get("namespace", "dns"))
            values = [uuid.uuid5(namespace, params["name"])] * params.get("count", 1)
        else:
            make = {1: uuid.uuid1, 4: uuid.uuid4, 7: uuid7}[version]
            values = [make() for _ in range(params.get("count", 1))]
        uuids = [_format_uuid(value, fmt) for value in values]
        return ToolOutput(operation="generate", result={"uuid": uuids[0], "uuids": uuids, "version": version})

    @staticmethod
    def _namespace(text: str) -> uuid.UUID:
        known = _NAMESPACES.get(text.lower())
        if known is not None:
            return known
        try:
            return uuid.UUID(text)
        except ValueError as exc:
            raise ValidationError(
                "namespace must be dns, url, oid, x500 or a UUID", details={"field": "namespace"}
            ) from exc


_ALGORITHMS = (
    "md5",
    "sha1",
    "sha224",
    "sha256",
    "sha384",
    "sha512",
    "blake2b",
    "blake2s",
    "sha3_256",
    "sha3_512",
)


class HashCalculatorTool(BaseTool):
    """Hash text, bytes or a file; HMAC with a key; constant-time verification."""

    name = "hash-calculator"
    category = "utility"
    description = "Compute or verify md5/sha1/sha256/sha512/blake2b/sha3 hashes (or HMACs) of text or a file."
    schema = {
        "type": "object",
        "properties": {
            "operation": {"type": "string", "enum": ["hash", "verify"], "default": "hash"},
            "input": {"type": "string", "maxLength": MAX_INPUT_CHARS},
            "path": {"type": "string", "minLength": 1, "description": "Hash this file (sandboxed) instead."},
            "algorithm": {"type": "string", "enum": list(_ALGORITHMS), "default": "sha256"},
            "format": {"type": "string", "enum": ["hex", "base64"], "default": "hex"},
            "encoding": {
                "type": "string",
                "default": "utf-8",
                "description": "utf-8 (any codec), base64 or hex.",
            },
            "key": {"type": "string", "description": "HMAC key (UTF-8)."},
            "expected": {"type": "string", "description": "The digest to compare against (verify)."},
        },
        "additionalProperties": False,
    }
    security_level = "safe"

    async def invoke(self, params: dict[str, Any], ctx: ExecutionContext) -> Any:
        operation = params.get("operation", "hash")
        algorithm = params.get("algorithm", "sha256")
        if "path" in params:
            digest = await self.run_blocking(self._hash_file, params, ctx, algorithm)
        elif "input" in params:
            data = decode_input(params["input"], params.get("encoding", "utf-8"))
            digest = self._hasher(params, algorithm, data).digest()
        else:
            raise ValidationError("pass 'input' (text) or 'path' (a file)", details={"field": "input"})
        fmt = params.get("format", "hex")
        text = digest.hex() if fmt == "hex" else base64.b64encode(digest).decode("ascii")
        result: dict[str, Any] = {
            "hash": text,
            "algorithm": algorithm,
            "format": fmt,
            "hmac": "key" in params,
        }
        if operation == "verify":
            self.require(params, "expected", operation="verify")
            expected = params["expected"].strip()
            candidate = text.lower() if fmt == "hex" else text
            result["valid"] = hmac.compare_digest(candidate, expected.lower() if fmt == "hex" else expected)
        return ToolOutput(operation=operation, result=result)

    @staticmethod
    def _hasher(params: dict[str, Any], algorithm: str, data: bytes = b"") -> Any:
        if "key" in params:
            return hmac.new(params["key"].encode(), data, algorithm)
        return hashlib.new(algorithm, data)

    def _hash_file(self, params: dict[str, Any], ctx: ExecutionContext, algorithm: str) -> bytes:
        path = resolve_path(params["path"], ctx.policy, must_exist=True)
        if not path.is_file():
            raise ValidationError(f"{params['path']!r} is not a file", details={"field": "path"})
        check_size(path.stat().st_size, ctx.policy)
        hasher = self._hasher(params, algorithm)
        try:
            with path.open("rb") as handle:
                while chunk := handle.read(1 << 20):
                    hasher.update(chunk)
        except OSError as exc:
            raise ToolError(f"cannot read {params['path']!r}: {exc.strerror}") from exc
        digest: bytes = hasher.digest()
        return digest


class Base64EncoderTool(BaseTool):
    """Base64 encode and decode (standard or URL-safe alphabet)."""

    name = "base64-encoder"
    category = "utility"
    description = "Encode text or a file to base64, or decode base64 to text or hex (standard or URL-safe)."
    schema = {
        "type": "object",
        "properties": {
            "operation": {"type": "string", "enum": ["encode", "decode"]},
            "input": {"type": "string", "maxLength": MAX_INPUT_CHARS},
            "path": {"type": "string", "minLength": 1, "description": "Encode this file (sandboxed)."},
            "url_safe": {"type": "boolean", "default": False},
            "encoding": {
                "type": "string",
                "default": "utf-8",
                "description": "Text codec of the input/output.",
            },
            "format": {
                "type": "string",
                "enum": ["text", "hex"],
                "default": "text",
                "description": "How decoded bytes are returned.",
            },
        },
        "required": ["operation"],
        "additionalProperties": False,
    }

    async def invoke(self, params: dict[str, Any], ctx: ExecutionContext) -> Any:
        operation = params["operation"]
        url_safe = params.get("url_safe", False)
        encoding = params.get("encoding", "utf-8")
        if operation == "encode":
            if "path" in params:
                data = await self.run_blocking(self._read, params["path"], ctx)
            else:
                self.require(params, "input", operation=operation)
                data = decode_input(params["input"], encoding)
            encoded = base64.urlsafe_b64encode(data) if url_safe else base64.b64encode(data)
            return ToolOutput(
                operation=operation, result=encoded.decode("ascii"), metadata={"bytes": len(data)}
            )
        self.require(params, "input", operation=operation)
        text: str = "".join(params["input"].split())
        text += "=" * (-len(text) % 4)  # accept unpadded input
        try:
            raw = base64.b64decode(text, altchars=b"-_" if url_safe else None, validate=True)
        except (binascii.Error, ValueError) as exc:
            raise ValidationError(f"input is not valid base64: {exc}", details={"field": "input"}) from exc
        if params.get("format", "text") == "hex":
            return ToolOutput(operation=operation, result=raw.hex(), metadata={"bytes": len(raw)})
        try:
            decoded = raw.decode(encoding)
        except UnicodeDecodeError as exc:
            raise ToolError(f"decoded bytes are not {encoding} text; pass format='hex'") from exc
        except LookupError as exc:
            raise ValidationError(f"unknown encoding {encoding!r}", details={"field": "encoding"}) from exc
        return ToolOutput(operation=operation, result=decoded, metadata={"bytes": len(raw)})

    @staticmethod
    def _read(path_text: str, ctx: ExecutionContext) -> bytes:
        path = resolve_path(path_text, ctx.policy, must_exist=True)
        if not path.is_file():
            raise ValidationError(f"{path_text!r} is not a file", details={"field": "path"})
        check_size(path.stat().st_size, ctx.policy)
        try:
            return path.read_bytes()
        except OSError as exc:
            raise ToolError(f"cannot read {path_text!r}: {exc.strerror}") from exc

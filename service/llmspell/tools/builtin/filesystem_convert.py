"""file-converter: text encodings, line endings and csv ↔ json ↔ yaml.

Input is either inline text (``input``) or a file (``path``); output is returned inline or
written atomically to ``output_path``. Both paths go through the sandbox.
"""

from __future__ import annotations

import asyncio
import base64
import csv
import io
import json
from typing import Any

from llmspell.core.context import ExecutionContext, SandboxPolicy
from llmspell.core.errors import LimitExceeded, ToolError, ValidationError
from llmspell.tools.base import BaseTool, ToolOutput
from llmspell.tools.builtin.filesystem import atomic_write, encode_text
from llmspell.tools.sandbox import check_size, resolve_path

__all__ = ["FileConverterTool", "detect_decode", "parse_records", "render_records"]

_FORMATS = ("csv", "json", "yaml")
_LINE_ENDINGS = {"lf": "\n", "crlf": "\r\n", "cr": "\r"}
_MAX_NODES = 1_000_000  # YAML aliases can make a tiny document expand into billions of nodes
_BOMS = (
    (b"\xef\xbb\xbf", "utf-8-sig"),
    (b"\xff\xfe\x00\x00", "utf-32"),
    (b"\x00\x00\xfe\xff", "utf-32"),
    (b"\xff\xfe", "utf-16"),
    (b"\xfe\xff", "utf-16"),
)


def detect_decode(data: bytes, encoding: str) -> tuple[str, str]:
    """Decode ``data``; ``encoding="auto"`` sniffs a BOM, then tries utf-8, cp1252, latin-1.

    Returns:
        The text and the encoding actually used.
    """
    if encoding != "auto":
        try:
            return data.decode(encoding), encoding
        except LookupError as exc:
            raise ValidationError(f"unknown encoding {encoding!r}") from exc
        except UnicodeDecodeError as exc:
            raise ToolError(
                f"input is not valid {encoding} (byte {exc.start}); set from_encoding or use 'auto'"
            ) from exc
    for bom, name in _BOMS:
        if data.startswith(bom):
            return data.decode(name), name
    for name in ("utf-8", "cp1252", "latin-1"):
        try:
            return data.decode(name), name
        except UnicodeDecodeError:
            continue
    raise ToolError("could not detect the input encoding; set from_encoding")  # pragma: no cover


def _count_nodes(value: Any) -> None:
    seen = 0
    stack = [value]
    while stack:
        item = stack.pop()
        seen += 1
        if seen > _MAX_NODES:
            raise LimitExceeded(f"document expands to more than {_MAX_NODES} nodes (YAML alias bomb?)")
        if isinstance(item, dict):
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)


def _infer(value: str) -> Any:
    try:
        return int(value)
    except ValueError:
        pass
    try:
        return float(value)
    except ValueError:
        return value


def parse_records(text: str, fmt: str, *, delimiter: str = ",", infer_types: bool = True) -> Any:
    """Parse csv (a list of row objects keyed by the header), json or yaml text."""
    if fmt == "csv":
        reader = csv.DictReader(io.StringIO(text, newline=""), delimiter=delimiter)
        try:
            rows = [dict(row) for row in reader]
        except csv.Error as exc:
            raise ToolError(f"invalid CSV at line {reader.line_num}: {exc}") from exc
        if infer_types:
            rows = [{k: _infer(v) if isinstance(v, str) else v for k, v in row.items()} for row in rows]
        return rows
    if fmt == "json":
        try:
            return json.loads(text)
        except json.JSONDecodeError as exc:
            raise ToolError(f"invalid JSON at line {exc.lineno} column {exc.colno}: {exc.msg}") from exc
    import yaml

    try:
        value = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ToolError(f"invalid YAML: {str(exc).splitlines()[0]}") from exc
    _count_nodes(value)
    return value


def render_records(value: Any, fmt: str, *, delimiter: str = ",") -> str:
    """Render a value as csv (from a list of objects), json or yaml."""
    if fmt == "json":
        return json.dumps(value, indent=2, ensure_ascii=False, default=str) + "\n"
    if fmt == "yaml":
        import yaml

        return str(
            yaml.safe_dump(json.loads(json.dumps(value, default=str)), sort_keys=False, allow_unicode=True)
        )
    if not isinstance(value, list) or not all(isinstance(row, dict) for row in value):
        raise ToolError("CSV output needs a list of objects (one object per row)")
    header: list[str] = []
    for row in value:
        header.extend(str(key) for key in row if str(key) not in header)
    out = io.StringIO(newline="")
    writer = csv.DictWriter(out, fieldnames=header, delimiter=delimiter, lineterminator="\n")
    writer.writeheader()
    for row in value:
        writer.writerow(
            {
                str(k): json.dumps(v, ensure_ascii=False) if isinstance(v, dict | list) else v
                for k, v in row.items()
            }
        )
    return out.getvalue()


class FileConverterTool(BaseTool):
    """Convert text between encodings, line endings, and csv/json/yaml."""

    name = "file-converter"
    category = "filesystem"
    description = (
        "Convert files or text: character encoding (operation 'encoding'), line endings "
        "('line_endings') and data formats csv/json/yaml ('format')."
    )
    security_level = "restricted"
    timeout_s = 30.0
    schema = {
        "type": "object",
        "properties": {
            "operation": {"enum": ["encoding", "line_endings", "format"]},
            "input": {"type": "string", "description": "Inline text (instead of path)."},
            "path": {"type": "string", "minLength": 1, "description": "File to convert."},
            "output_path": {"type": "string", "minLength": 1, "description": "Write the result here."},
            "overwrite": {"type": "boolean", "default": True},
            "from_encoding": {"type": "string", "default": "auto", "description": "Codec or 'auto'."},
            "to_encoding": {"type": "string", "default": "utf-8"},
            "line_ending": {"enum": list(_LINE_ENDINGS), "default": "lf"},
            "from_format": {"enum": list(_FORMATS)},
            "to_format": {"enum": list(_FORMATS)},
            "delimiter": {"type": "string", "minLength": 1, "maxLength": 1, "default": ","},
            "infer_types": {"type": "boolean", "default": True, "description": "CSV numbers → numbers."},
        },
        "required": ["operation"],
        "additionalProperties": False,
        "oneOf": [{"required": ["input"]}, {"required": ["path"]}],
        "allOf": [
            {
                "if": {"properties": {"operation": {"const": "format"}}},
                "then": {"required": ["from_format", "to_format"]},
            }
        ],
    }

    async def invoke(self, params: dict[str, Any], ctx: ExecutionContext) -> Any:
        return await asyncio.to_thread(self._convert, params, ctx.policy)

    def _convert(self, params: dict[str, Any], policy: SandboxPolicy) -> ToolOutput:
        operation: str = params["operation"]
        text, source_encoding = self._load(params, policy)
        if operation == "line_endings":
            ending = _LINE_ENDINGS[params.get("line_ending", "lf")]
            normalised = text.replace("\r\n", "\n").replace("\r", "\n")
            text = normalised.replace("\n", ending) if ending != "\n" else normalised
        elif operation == "format":
            delimiter = params.get("delimiter", ",")
            value = parse_records(
                text, params["from_format"], delimiter=delimiter, infer_types=params.get("infer_types", True)
            )
            text = render_records(value, params["to_format"], delimiter=delimiter)
        target_encoding: str = params.get("to_encoding", "utf-8")
        data = encode_text(text, target_encoding)
        check_size(len(data), policy)
        metadata = {"source_encoding": source_encoding, "encoding": target_encoding, "bytes": len(data)}
        if "output_path" in params:
            out = resolve_path(params["output_path"], policy, for_write=True)
            if out.exists() and not params.get("overwrite", True):
                raise ValidationError(f"{params['output_path']!r} exists; pass overwrite=true")
            if not out.parent.is_dir():
                raise ValidationError(f"directory of {params['output_path']!r} does not exist")
            atomic_write(out, data)
            return ToolOutput(
                operation=operation,
                result={"path": str(out), "bytes_written": len(data)},
                message=f"wrote {len(data)} bytes to {params['output_path']}",
                metadata=metadata,
            )
        result: dict[str, Any] = {"content": text}
        if operation == "encoding":
            result["content_base64"] = base64.b64encode(data).decode("ascii")
        return ToolOutput(operation=operation, result=result, message="converted", metadata=metadata)

    def _load(self, params: dict[str, Any], policy: SandboxPolicy) -> tuple[str, str]:
        if "input" in params:
            check_size(len(params["input"]), policy)
            return params["input"], "text"
        path = resolve_path(params["path"], policy, must_exist=True)
        if not path.is_file():
            raise ValidationError(f"{params['path']!r} is not a regular file")
        check_size(path.stat().st_size, policy)
        return detect_decode(path.read_bytes(), params.get("from_encoding", "auto"))

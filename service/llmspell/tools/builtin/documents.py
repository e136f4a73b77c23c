"""pdf-processor: text, metadata and page facts of PDF files (pypdf, imported on use)."""

from __future__ import annotations

import asyncio
import re
from pathlib import Path
from typing import Any

from llmspell.core.context import ExecutionContext
from llmspell.core.errors import LimitExceeded, ToolError, ValidationError
from llmspell.tools.base import BaseTool, ToolOutput
from llmspell.tools.sandbox import check_size, resolve_path

__all__ = ["PdfProcessorTool", "parse_page_range"]

_RANGE = re.compile(r"^\s*(\d+)\s*(?:-\s*(\d*)\s*)?$")
_MAX_PAGES = 10_000


def parse_page_range(spec: str | None, count: int) -> list[int]:
    """``"1-3,5,8-"`` → zero-based page indexes, in order, without duplicates.

    Pages are 1-based in the spec; an open end (``8-``) runs to the last page.

    Raises:
        ValidationError: for malformed parts or pages outside ``1..count``.
    """
    if spec is None or not spec.strip():
        return list(range(count))
    pages: list[int] = []
    for part in spec.split(","):
        match = _RANGE.match(part)
        if not match:
            raise ValidationError(
                f"bad page range part {part!r}; use e.g. '1-3,5'", details={"field": "pages"}
            )
        start = int(match.group(1))
        end = start if match.group(2) is None else int(match.group(2) or count)
        if start < 1 or end > count or start > end:
            raise ValidationError(
                f"pages {part.strip()!r} are outside 1..{count}",
                details={"field": "pages", "page_count": count},
            )
        pages.extend(p for p in range(start - 1, end) if p not in pages)
    return pages


def _plain(value: Any) -> Any:
    if value is None or isinstance(value, bool | int | float):
        return value
    return str(value)


class PdfProcessorTool(BaseTool):
    """Extract text, metadata and page information from a PDF in the sandbox."""

    name = "pdf-processor"
    category = "documents"
    description = (
        "Read a PDF: extract text (whole or a page range), document metadata, or page facts "
        "(count, sizes, rotation)."
    )
    security_level = "restricted"
    timeout_s = 60.0
    schema = {
        "type": "object",
        "properties": {
            "operation": {"enum": ["text", "metadata", "pages"], "default": "text"},
            "path": {"type": "string", "minLength": 1, "description": "PDF file in the sandbox."},
            "pages": {"type": "string", "description": "1-based pages, e.g. '1-3,5' (default: all)."},
            "password": {"type": "string", "description": "For encrypted PDFs."},
            "max_chars": {"type": "integer", "minimum": 1, "maximum": 10_000_000, "default": 1_000_000},
        },
        "required": ["path"],
        "additionalProperties": False,
    }

    async def invoke(self, params: dict[str, Any], ctx: ExecutionContext) -> Any:
        path = resolve_path(params["path"], ctx.policy, must_exist=True)
        if not path.is_file():
            raise ValidationError(f"{params['path']!r} is not a file", details={"field": "path"})
        check_size(path.stat().st_size, ctx.policy)
        return await asyncio.to_thread(self._process, path, params)

    def _process(self, path: Path, params: dict[str, Any]) -> ToolOutput:
        from pypdf import PdfReader
        from pypdf.errors import PdfReadError, PyPdfError

        operation: str = params.get("operation", "text")
        try:
            reader = PdfReader(path)
            if reader.is_encrypted:
                if "password" not in params:
                    raise ToolError("the PDF is encrypted; pass password", details={"field": "password"})
                if not reader.decrypt(params["password"]):
                    raise ToolError("wrong password for the encrypted PDF", details={"field": "password"})
            count = len(reader.pages)
            if count > _MAX_PAGES:
                raise LimitExceeded(f"PDF has {count} pages, more than {_MAX_PAGES}")
            if operation == "metadata":
                return self._metadata(reader, count)
            indexes = parse_page_range(params.get("pages"), count)
            if operation == "pages":
                return self._pages(reader, indexes, count)
            return self._text(reader, indexes, count, params.get("max_chars", 1_000_000))
        except (PdfReadError, PyPdfError, ValueError, KeyError) as exc:
            raise ToolError(f"cannot read PDF {path.name!r}: {exc}") from exc

    @staticmethod
    def _metadata(reader: Any, count: int) -> ToolOutput:
        info = reader.metadata or {}
        fields = {str(key).lstrip("/"): _plain(value) for key, value in info.items()}
        result = {
            "page_count": count,
            "title": _plain(info.get("/Title")),
            "author": _plain(info.get("/Author")),
            "subject": _plain(info.get("/Subject")),
            "creator": _plain(info.get("/Creator")),
            "producer": _plain(info.get("/Producer")),
            "creation_date": _plain(info.get("/CreationDate")),
            "modification_date": _plain(info.get("/ModDate")),
            "encrypted": bool(reader.is_encrypted),
            "pdf_version": _plain(getattr(reader, "pdf_header", None)),
            "fields": fields,
        }
        return ToolOutput(operation="metadata", result=result, message=f"{count} pages")

    @staticmethod
    def _pages(reader: Any, indexes: list[int], count: int) -> ToolOutput:
        pages = []
        for index in indexes:
            page = reader.pages[index]
            box = page.mediabox
            pages.append(
                {
                    "page": index + 1,
                    "width": float(box.width),
                    "height": float(box.height),
                    "rotation": int(page.rotation or 0),
                }
            )
        return ToolOutput(
            operation="pages", result={"page_count": count, "pages": pages}, message=f"{count} pages"
        )

    @staticmethod
    def _text(reader: Any, indexes: list[int], count: int, max_chars: int) -> ToolOutput:
        pages: list[dict[str, Any]] = []
        texts: list[str] = []
        used = 0
        truncated = False
        for index in indexes:
            text = reader.pages[index].extract_text() or ""
            if used + len(text) > max_chars:
                text = text[: max_chars - used]
                truncated = True
            used += len(text)
            pages.append({"page": index + 1, "text": text})
            texts.append(text)
            if truncated:
                break
        result = {
            "text": "\n\n".join(texts),
            "pages": pages,
            "page_count": count,
            "truncated": truncated,
        }
        return ToolOutput(
            operation="text", result=result, message=f"{used} characters from {len(pages)} pages"
        )

"""pdf-processor on PDFs built on the fly with pypdf (no downloaded fixtures)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from llmspell.core.context import ExecutionContext, SandboxPolicy
from llmspell.core.errors import SandboxViolation, ToolError, ValidationError
from llmspell.tools.builtin.documents import PdfProcessorTool, parse_page_range
from llmspell.tools.registry import ToolRegistry
from pypdf import PdfWriter
from pypdf.generic import DecodedStreamObject, DictionaryObject, NameObject


def build_pdf(path: Path, texts: list[str], *, password: str | None = None) -> None:
    """A PDF with one Helvetica text line per page (the last page landscape)."""
    writer = PdfWriter()
    font = DictionaryObject(
        {
            NameObject("/Type"): NameObject("/Font"),
            NameObject("/Subtype"): NameObject("/Type1"),
            NameObject("/BaseFont"): NameObject("/Helvetica"),
        }
    )
    font_ref = writer._add_object(font)
    for index, text in enumerate(texts):
        landscape = index == len(texts) - 1 and len(texts) > 1
        page = writer.add_blank_page(width=792 if landscape else 612, height=612 if landscape else 792)
        page[NameObject("/Resources")] = DictionaryObject(
            {NameObject("/Font"): DictionaryObject({NameObject("/F1"): font_ref})}
        )
        stream = DecodedStreamObject()
        stream.set_data(f"BT /F1 18 Tf 72 500 Td ({text}) Tj ET".encode("latin-1"))
        page[NameObject("/Contents")] = writer._add_object(stream)
    writer.add_metadata({"/Title": "Quarterly Report", "/Author": "Ada Lovelace", "/Subject": "Numbers"})
    if password is not None:
        writer.encrypt(user_password=password, owner_password=None, algorithm="AES-128")
    with path.open("wb") as handle:
        writer.write(handle)


@pytest.fixture
def root(tmp_path: Path) -> Path:
    path = (tmp_path / "root").resolve()
    path.mkdir()
    build_pdf(path / "report.pdf", ["First page text", "Second page text", "Third page text"])
    return path


@pytest.fixture
def ctx(root: Path) -> ExecutionContext:
    return ExecutionContext(policy=SandboxPolicy(file_roots=(str(root),)))


@pytest.fixture
def registry() -> ToolRegistry:
    reg = ToolRegistry()
    reg.register(PdfProcessorTool())
    return reg


async def pdf(registry: ToolRegistry, ctx: ExecutionContext, **params: Any) -> dict[str, Any]:
    envelope = await registry.invoke("pdf-processor", params, ctx)
    assert envelope["success"] is True
    result: dict[str, Any] = envelope["result"]
    return result


def test_parse_page_range() -> None:
    assert parse_page_range(None, 3) == [0, 1, 2]
    assert parse_page_range("2-3,1,2", 3) == [1, 2, 0]
    assert parse_page_range("2-", 4) == [1, 2, 3]
    for bad in ("0", "4", "3-2", "a", "1-2-3"):
        with pytest.raises(ValidationError):
            parse_page_range(bad, 3)


async def test_text_whole_and_range(registry: ToolRegistry, ctx: ExecutionContext) -> None:
    whole = await pdf(registry, ctx, path="report.pdf")
    assert whole["page_count"] == 3
    assert [p["text"] for p in whole["pages"]] == ["First page text", "Second page text", "Third page text"]
    assert whole["text"] == "First page text\n\nSecond page text\n\nThird page text"
    part = await pdf(registry, ctx, operation="text", path="report.pdf", pages="3,1")
    assert [p["page"] for p in part["pages"]] == [3, 1]
    capped = await pdf(registry, ctx, path="report.pdf", max_chars=20)
    assert capped["truncated"] is True and len(capped["text"].replace("\n\n", "")) == 20


async def test_metadata_and_pages(registry: ToolRegistry, ctx: ExecutionContext) -> None:
    meta = await pdf(registry, ctx, operation="metadata", path="report.pdf")
    assert meta["title"] == "Quarterly Report" and meta["author"] == "Ada Lovelace"
    assert meta["page_count"] == 3 and meta["encrypted"] is False
    assert meta["fields"]["Subject"] == "Numbers"
    pages = await pdf(registry, ctx, operation="pages", path="report.pdf", pages="1,3")
    assert pages["pages"] == [
        {"page": 1, "width": 612.0, "height": 792.0, "rotation": 0},
        {"page": 3, "width": 792.0, "height": 612.0, "rotation": 0},
    ]


async def test_encrypted_pdf(registry: ToolRegistry, ctx: ExecutionContext, root: Path) -> None:
    build_pdf(root / "locked.pdf", ["Confidential"], password="open-sesame")
    with pytest.raises(ToolError, match="encrypted; pass password"):
        await registry.invoke("pdf-processor", {"path": "locked.pdf"}, ctx)
    with pytest.raises(ToolError, match="wrong password"):
        await registry.invoke("pdf-processor", {"path": "locked.pdf", "password": "nope"}, ctx)
    opened = await pdf(registry, ctx, path="locked.pdf", password="open-sesame")
    assert opened["text"] == "Confidential"


async def test_refusals(registry: ToolRegistry, ctx: ExecutionContext, root: Path, tmp_path: Path) -> None:
    build_pdf(tmp_path / "outside.pdf", ["secret"])
    with pytest.raises(SandboxViolation):
        await registry.invoke("pdf-processor", {"path": str(tmp_path / "outside.pdf")}, ctx)
    (root / "fake.pdf").write_text("this is not a pdf")
    with pytest.raises(ToolError, match="cannot read PDF"):
        await registry.invoke("pdf-processor", {"path": "fake.pdf"}, ctx)
    with pytest.raises(ValidationError, match=r"outside 1\.\.3"):
        await registry.invoke("pdf-processor", {"path": "report.pdf", "pages": "5"}, ctx)
    with pytest.raises(ValidationError, match="operation"):
        await registry.invoke("pdf-processor", {"path": "report.pdf", "operation": "ocr"}, ctx)

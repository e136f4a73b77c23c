"""citation-formatter."""

from __future__ import annotations

from typing import Any

import pytest
from llmspell.core.context import ExecutionContext
from llmspell.core.errors import ValidationError
from llmspell.tools import default_registry
from llmspell.tools.builtin.utility_citation import parse_name

ARTICLE = {
    "type": "article",
    "title": "Deep learning",
    "authors": ["LeCun, Yann", "Yoshua Bengio", "Hinton, Geoffrey E."],
    "year": 2015,
    "journal": "Nature",
    "volume": 521,
    "issue": 7553,
    "pages": "436-444",
    "doi": "doi:10.1038/nature14539",
}
BOOK = {
    "title": "The Pragmatic Programmer",
    "authors": ["Andrew Hunt", "David Thomas"],
    "year": 1999,
    "publisher": "Addison-Wesley",
    "city": "Reading, MA",
}


async def cite(work: Any, style: str) -> Any:
    env = await default_registry().invoke(
        "citation-formatter", {"input": work, "format": style}, ExecutionContext()
    )
    assert env["success"] is True and env["result"]["format"] == style
    return env["result"]


def test_name_parsing() -> None:
    assert parse_name("Tolkien, John Ronald").initials == "J. R."
    assert parse_name("Jean-Paul Sartre").last == "Sartre"
    assert parse_name("Jean-Paul Sartre").initials == "J.-P."


@pytest.mark.parametrize(
    ("work", "style", "expected"),
    [
        (
            ARTICLE,
            "apa",
            "LeCun, Y., Bengio, Y., & Hinton, G. E. (2015). Deep learning. Nature, 521(7553), 436-444. "
            "https://doi.org/10.1038/nature14539",
        ),
        (
            ARTICLE,
            "mla",
            'LeCun, Yann, et al. "Deep learning." Nature, vol. 521, no. 7553, 2015, pp. 436-444. '
            "https://doi.org/10.1038/nature14539.",
        ),
        (
            ARTICLE,
            "chicago",
            'LeCun, Yann, Yoshua Bengio, and Geoffrey E. Hinton. "Deep learning." Nature 521, no. 7553 (2015): '
            "436-444. https://doi.org/10.1038/nature14539.",
        ),
        (BOOK, "apa", "Hunt, A., & Thomas, D. (1999). The Pragmatic Programmer. Addison-Wesley."),
        (BOOK, "mla", "Hunt, Andrew, and David Thomas. The Pragmatic Programmer. Addison-Wesley, 1999."),
        (
            BOOK,
            "chicago",
            "Hunt, Andrew, and David Thomas. The Pragmatic Programmer. Reading, MA: Addison-Wesley, 1999.",
        ),
    ],
)
async def test_styles(work: dict[str, Any], style: str, expected: str) -> None:
    assert (await cite(work, style))["citation"] == expected


async def test_bibtex_and_lists() -> None:
    bib = (await cite(ARTICLE, "bibtex"))["citation"]
    assert bib.startswith("@article{lecun2015deep,\n")
    assert "  author = {LeCun, Yann and Bengio, Yoshua and Hinton, Geoffrey E.}" in bib
    assert "  number = {7553}" in bib and bib.endswith("\n}")
    many = await cite(
        [BOOK, {"title": "Untitled note", "type": "website", "site": "Blog", "url": "https://x.org"}], "apa"
    )
    assert many["citations"][1] == "Untitled note. (n.d.). Blog. https://x.org"


async def test_refusals() -> None:
    registry, ctx = default_registry(), ExecutionContext()
    with pytest.raises(ValidationError, match="format"):
        await registry.invoke("citation-formatter", {"input": BOOK, "format": "harvardish"}, ctx)
    with pytest.raises(ValidationError):
        await registry.invoke("citation-formatter", {"input": {"authors": ["X"]}}, ctx)
    with pytest.raises(ValidationError):
        await registry.invoke("citation-formatter", {"input": {"title": "x", "colour": "red"}}, ctx)

"""citation-formatter: APA 7, MLA 9, Chicago (bibliography) and BibTeX from bibliographic fields."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ...core.context import ExecutionContext
from ...core.errors import ValidationError
from ..base import BaseTool, ToolOutput

__all__ = ["CitationFormatterTool", "Name", "format_citation", "parse_name"]

_FIELDS = (
    "type",
    "title",
    "authors",
    "year",
    "publisher",
    "journal",
    "volume",
    "issue",
    "pages",
    "url",
    "doi",
    "accessed",
    "edition",
    "city",
    "site",
    "key",
)


@dataclass(frozen=True, slots=True)
class Name:
    """A person's name split into family name and given names."""

    last: str
    given: tuple[str, ...]

    @property
    def initials(self) -> str:
        """``"J. R."`` (hyphenated given names keep the hyphen: ``"J.-P."``)."""
        return " ".join("-".join(part[0] + "." for part in given.split("-") if part) for given in self.given)

    @property
    def full_given(self) -> str:
        return " ".join(self.given)

    def inverted(self) -> str:
        """``"Tolkien, John Ronald"``."""
        return f"{self.last}, {self.full_given}" if self.given else self.last

    def natural(self) -> str:
        """``"John Ronald Tolkien"``."""
        return f"{self.full_given} {self.last}" if self.given else self.last


def parse_name(text: str) -> Name:
    """Parse ``"Last, First Middle"`` or ``"First Middle Last"``."""
    text = " ".join(text.split())
    if "," in text:
        last, _, given = text.partition(",")
        return Name(last.strip(), tuple(given.split()))
    parts = text.split(" ")
    return Name(parts[-1], tuple(parts[:-1]))


def _doi_url(doi: str) -> str:
    doi = re.sub(r"^(https?://(dx\.)?doi\.org/|doi:)", "", doi.strip(), flags=re.IGNORECASE)
    return f"https://doi.org/{doi}"


def _join(names: list[str], conj: str, *, serial_comma: bool = True) -> str:
    if len(names) <= 1:
        return "".join(names)
    if len(names) == 2:
        return f"{names[0]}{',' if serial_comma else ''} {conj} {names[1]}"
    return ", ".join(names[:-1]) + f", {conj} {names[-1]}"


def _end(text: str) -> str:
    return text if text.endswith((".", "?", "!")) else text + "."


def _apa(f: dict[str, Any], names: list[Name]) -> str:
    people = [f"{n.last}, {n.initials}" if n.given else n.last for n in names]
    if len(people) > 20:
        people = [*people[:19], "... " + people[-1]]
    authors = _join(people, "&") if len(people) != 2 else f"{people[0]}, & {people[1]}"
    year = f"({f.get('year', 'n.d.')})."
    title = f.get("title", "")
    kind = f.get("type", "book")
    if kind != "article" and f.get("edition"):
        title += f" ({f['edition']} ed.)"
    # Without authors, APA moves the title into the author position.
    parts = [_end(authors), year, _end(title)] if authors else [_end(title), year]
    if kind == "article":
        source = f.get("journal", "")
        if f.get("volume"):
            source += f", {f['volume']}"
            if f.get("issue"):
                source += f"({f['issue']})"
        if f.get("pages"):
            source += f", {f['pages']}"
        if source:
            parts.append(_end(source))
    else:
        container = f.get("site") if kind == "website" else f.get("publisher")
        if container:
            parts.append(_end(container))
    link = _doi_url(f["doi"]) if f.get("doi") else f.get("url")
    if link:
        parts.append(link)
    return " ".join(parts)


def _mla(f: dict[str, Any], names: list[Name]) -> str:
    if len(names) >= 3:
        authors = f"{names[0].inverted()}, et al."
    elif len(names) == 2:
        authors = f"{names[0].inverted()}, and {names[1].natural()}."
    elif names:
        authors = _end(names[0].inverted())
    else:
        authors = ""
    kind = f.get("type", "book")
    title = f.get("title", "")
    parts = [authors] if authors else []
    if kind in ("article", "website"):
        parts.append(f'"{_end(title)}"')
        container = f.get("journal") if kind == "article" else f.get("site")
        details = [c for c in (container,) if c]
        if f.get("volume"):
            details.append(f"vol. {f['volume']}")
        if f.get("issue"):
            details.append(f"no. {f['issue']}")
        if f.get("year"):
            details.append(str(f["year"]))
        if f.get("pages"):
            details.append(f"pp. {f['pages']}")
        if details:
            parts.append(_end(", ".join(details)))
    else:
        parts.append(_end(title))
        details = [str(v) for v in (f.get("publisher"), f.get("year")) if v]
        if details:
            parts.append(_end(", ".join(details)))
    link = _doi_url(f["doi"]) if f.get("doi") else f.get("url")
    if link:
        parts.append(_end(link))
    if kind == "website" and f.get("accessed"):
        parts.append(f"Accessed {f['accessed']}.")
    return " ".join(parts)


def _chicago(f: dict[str, Any], names: list[Name]) -> str:
    people = [names[0].inverted(), *(n.natural() for n in names[1:])] if names else []
    if len(people) > 10:
        people = [*people[:7], "et al"]
    authors = _join(people, "and") if len(people) != 2 else f"{people[0]}, and {people[1]}"
    kind = f.get("type", "book")
    title = f.get("title", "")
    parts = [_end(authors)] if authors else []
    if kind == "article":
        source = f'"{_end(title)}" {f.get("journal", "")}'
        if f.get("volume"):
            source += f" {f['volume']}"
        if f.get("issue"):
            source += f", no. {f['issue']}"
        if f.get("year"):
            source += f" ({f['year']})"
        if f.get("pages"):
            source += f": {f['pages']}"
        parts.append(_end(source.strip()))
    elif kind == "website":
        parts.append(f'"{_end(title)}"')
        if f.get("site"):
            parts.append(_end(f["site"]))
        if f.get("accessed"):
            parts.append(f"Accessed {f['accessed']}.")
    else:
        parts.append(_end(title))
        place = ": ".join(str(v) for v in (f.get("city"), f.get("publisher")) if v)
        tail = ", ".join(str(v) for v in (place, f.get("year")) if v)
        if tail:
            parts.append(_end(tail))
    link = _doi_url(f["doi"]) if f.get("doi") else f.get("url")
    if link:
        parts.append(_end(link))
    return " ".join(parts)


def _bibtex(f: dict[str, Any], names: list[Name]) -> str:
    kind = {"article": "article", "website": "misc"}.get(f.get("type", "book"), "book")
    key = (
        f.get("key")
        or re.sub(
            r"\W",
            "",
            (names[0].last if names else "anon")
            + str(f.get("year", ""))
            + (f.get("title", "x").split() or ["x"])[0],
        ).lower()
    )
    entries = [("author", " and ".join(n.inverted() for n in names))] if names else []
    for field in (
        "title",
        "journal",
        "year",
        "volume",
        "issue",
        "pages",
        "publisher",
        "edition",
        "doi",
        "url",
    ):
        if f.get(field):
            bib_field = "number" if field == "issue" else field
            value = str(f[field]).replace("{", "\\{").replace("}", "\\}")
            entries.append((bib_field, value))
    if kind == "misc" and f.get("site"):
        entries.append(("howpublished", str(f["site"])))
    if f.get("accessed"):
        entries.append(("note", f"Accessed {f['accessed']}"))
    body = ",\n".join(f"  {name} = {{{value}}}" for name, value in entries)
    return f"@{kind}{{{key},\n{body}\n}}"


_STYLES: dict[str, Callable[[dict[str, Any], list[Name]], str]] = {
    "apa": _apa,
    "mla": _mla,
    "chicago": _chicago,
    "bibtex": _bibtex,
}


def format_citation(fields: dict[str, Any], style: str) -> str:
    """Format one work in ``style`` (apa, mla, chicago, bibtex)."""
    if not fields.get("title"):
        raise ValidationError("a citation needs at least a 'title'", details={"field": "input.title"})
    authors = fields.get("authors") or []
    if isinstance(authors, str):
        authors = [authors]
    names = [parse_name(str(a)) for a in authors if str(a).strip()]
    return _STYLES[style](fields, names)


_WORK = {
    "type": "object",
    "properties": {
        "type": {"type": "string", "enum": ["book", "article", "website", "chapter"]},
        "authors": {"type": ["array", "string"], "items": {"type": "string"}},
        "year": {"type": ["integer", "string"]},
        "volume": {"type": ["integer", "string"]},
        "issue": {"type": ["integer", "string"]},
        **{
            name: {"type": "string"}
            for name in _FIELDS
            if name not in ("type", "authors", "year", "volume", "issue")
        },
    },
    "required": ["title"],
    "additionalProperties": False,
}


class CitationFormatterTool(BaseTool):
    """Format bibliographic references."""

    name = "citation-formatter"
    category = "utility"
    description = (
        "Format references in APA, MLA, Chicago or BibTeX from fields (title, authors, year, journal...)."
    )
    schema = {
        "type": "object",
        "properties": {
            "operation": {"type": "string", "enum": ["format"], "default": "format"},
            "input": {"oneOf": [_WORK, {"type": "array", "items": _WORK, "maxItems": 1000}]},
            "format": {"type": "string", "enum": list(_STYLES), "default": "apa"},
        },
        "required": ["input"],
        "additionalProperties": False,
    }

    async def invoke(self, params: dict[str, Any], ctx: ExecutionContext) -> Any:
        style = params.get("format", "apa")
        works = params["input"]
        if isinstance(works, list):
            citations = [format_citation(work, style) for work in works]
            return ToolOutput(operation="format", result={"citations": citations, "format": style})
        return ToolOutput(
            operation="format", result={"citation": format_citation(works, style), "format": style}
        )

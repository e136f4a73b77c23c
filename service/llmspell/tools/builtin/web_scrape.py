"""The web-scraper tool: HTML → text, links, metadata and CSS-selector extractions.

Parsing uses beautifulsoup4 with the standard library's ``html.parser`` (no C parser
needed) and runs in a worker thread: a large page must not stall the event loop.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any
from urllib.parse import urldefrag, urljoin, urlsplit

from llmspell.core.context import ExecutionContext
from llmspell.core.errors import ToolError, ValidationError
from llmspell.tools.base import BaseTool, ToolOutput
from llmspell.tools.builtin.web_common import (
    HEADERS_SCHEMA,
    TIMEOUT_SCHEMA,
    charset_of,
    fetch,
    lower_headers,
    request_timeout,
    require_http_url,
)

if TYPE_CHECKING:
    from bs4 import BeautifulSoup, Tag

__all__ = ["EXTRACTS", "WebScraperTool", "clean_text", "scrape_html", "select_values"]

EXTRACTS = ("title", "text", "links", "meta", "images", "headings")
_INVISIBLE = ("script", "style", "noscript", "template", "svg", "head")
_BLANKS = re.compile(r"[ \t\r\f\v]+")

_SELECTOR_SCHEMA: dict[str, Any] = {
    "oneOf": [
        {"type": "string", "minLength": 1},
        {
            "type": "object",
            "properties": {
                "selector": {"type": "string", "minLength": 1},
                "attribute": {"type": "string", "minLength": 1},
                "html": {"type": "boolean", "default": False},
                "first": {"type": "boolean", "default": False},
            },
            "required": ["selector"],
            "additionalProperties": False,
        },
    ]
}


def clean_text(text: str) -> str:
    """Collapse runs of blanks and drop empty lines."""
    lines = (_BLANKS.sub(" ", line).strip() for line in text.splitlines())
    return "\n".join(line for line in lines if line)


def _text_of(node: Tag) -> str:
    return clean_text(node.get_text(" ", strip=True))


def _links(soup: BeautifulSoup, base: str | None) -> list[dict[str, Any]]:
    host = urlsplit(base).hostname if base else None
    seen: set[str] = set()
    links: list[dict[str, Any]] = []
    for anchor in soup.find_all("a", href=True):
        href = str(anchor.get("href", "")).strip()
        if not href or href.startswith("#") or href.lower().startswith(("javascript:", "data:")):
            continue
        absolute = urldefrag(urljoin(base, href))[0] if base else href
        if absolute in seen:
            continue
        seen.add(absolute)
        parts = urlsplit(absolute)
        links.append(
            {
                "url": absolute,
                "text": _text_of(anchor),
                "internal": bool(host) and parts.hostname == host,
                "scheme": parts.scheme or None,
            }
        )
    return links


def select_values(soup: BeautifulSoup, spec: str | dict[str, Any], base: str | None) -> Any:
    """Values of the nodes a selector spec matches (text, an attribute or HTML; all or first).

    Raises:
        ValidationError: an invalid CSS selector.
    """
    if isinstance(spec, str):
        spec = {"selector": spec}
    try:
        nodes = soup.select(spec["selector"])
    except Exception as exc:  # soupsieve raises its own SelectorSyntaxError (a SyntaxError subclass)
        raise ValidationError(
            f"invalid CSS selector {spec['selector']!r}: {str(exc).splitlines()[0]}",
            details={"field": "selectors", "selector": spec["selector"]},
        ) from exc
    values: list[Any] = []
    for node in nodes:
        if "attribute" in spec:
            value = node.get(spec["attribute"])
            if value is None:
                continue
            value = " ".join(value) if isinstance(value, list) else str(value)
            if spec["attribute"] in ("href", "src") and base:
                value = urljoin(base, value)
            values.append(value)
        elif spec.get("html"):
            values.append(str(node))
        else:
            values.append(_text_of(node))
    if spec.get("first"):
        return values[0] if values else None
    return values


def scrape_html(
    html: str,
    *,
    base_url: str | None = None,
    extract: tuple[str, ...] | list[str] = ("title", "text", "links"),
    selectors: dict[str, Any] | None = None,
    max_text_chars: int | None = None,
) -> dict[str, Any]:
    """Parse ``html`` and extract what was asked (blocking: call it from a worker thread).

    Args:
        html: the document.
        base_url: resolves relative links and image sources.
        extract: any of :data:`EXTRACTS`.
        selectors: name → CSS selector, or ``{selector, attribute?, html?, first?}``.
        max_text_chars: truncate ``text`` to this many characters.

    Raises:
        ValidationError: an invalid CSS selector.
    """
    from bs4 import BeautifulSoup

    soup = BeautifulSoup(html, "html.parser")
    out: dict[str, Any] = {"url": base_url}
    wanted = set(extract)
    if "title" in wanted:
        title = soup.title.get_text(strip=True) if soup.title else None
        out["title"] = title or None
    if "meta" in wanted:
        meta: dict[str, str] = {}
        for tag in soup.find_all("meta"):
            key = tag.get("name") or tag.get("property") or tag.get("http-equiv")
            if key and tag.get("content") is not None:
                meta[str(key).lower()] = str(tag.get("content"))
        out["meta"] = meta
    if "headings" in wanted:
        out["headings"] = [
            {"level": int(tag.name[1]), "text": _text_of(tag)}
            for tag in soup.find_all(["h1", "h2", "h3", "h4", "h5", "h6"])
        ]
    if "links" in wanted:
        out["links"] = _links(soup, base_url)
    if "images" in wanted:
        out["images"] = [
            {
                "src": urljoin(base_url, str(img["src"])) if base_url else str(img["src"]),
                "alt": img.get("alt"),
            }
            for img in soup.find_all("img", src=True)
        ]
    if selectors:
        out["selections"] = {name: select_values(soup, spec, base_url) for name, spec in selectors.items()}
    if "text" in wanted:
        for tag in soup.find_all(_INVISIBLE):
            tag.decompose()
        text = clean_text(soup.get_text("\n"))
        out["text_length"] = len(text)
        out["truncated"] = max_text_chars is not None and len(text) > max_text_chars
        out["text"] = text[:max_text_chars] if max_text_chars is not None else text
    return out


class WebScraperTool(BaseTool):
    """Fetch a page (or take HTML) and extract text, links, metadata and CSS selections."""

    name = "web-scraper"
    category = "web"
    description = (
        "Fetch a web page (or parse given HTML) and extract its title, readable text, links, "
        "meta tags, images, headings and values picked by CSS selectors."
    )
    security_level = "restricted"
    timeout_s = 60.0
    schema = {
        "type": "object",
        "properties": {
            "url": {"type": "string", "minLength": 1},
            "html": {"type": "string", "description": "Parse this HTML instead of fetching url."},
            "extract": {
                "type": "array",
                "items": {"type": "string", "enum": list(EXTRACTS)},
                "default": ["title", "text", "links"],
            },
            "selectors": {"type": "object", "additionalProperties": _SELECTOR_SCHEMA},
            "max_text_chars": {"type": "integer", "minimum": 0},
            "headers": HEADERS_SCHEMA,
            "timeout_s": TIMEOUT_SCHEMA,
            "max_bytes": {"type": "integer", "minimum": 1},
        },
        "additionalProperties": False,
    }

    async def invoke(self, params: dict[str, Any], ctx: ExecutionContext) -> Any:
        html = params.get("html")
        url = params.get("url")
        if (html is None) == (url is None):
            raise ValidationError("give exactly one of url or html", details={"field": "url"})
        status: int | None = None
        base = url
        if html is None:
            result = await fetch(
                ctx,
                "GET",
                require_http_url(str(url)),
                timeout_s=request_timeout(params.get("timeout_s"), 30.0, ctx),
                headers={
                    "Accept": "text/html,application/xhtml+xml;q=0.9,*/*;q=0.5",
                    **(params.get("headers") or {}),
                },
                max_bytes=params.get("max_bytes"),
            )
            content_type = lower_headers(result.headers).get("content-type", "")
            if result.status >= 400:
                raise ToolError(f"GET {url} answered HTTP {result.status}", details={"status": result.status})
            if content_type and not re.search(r"html|xml|text/plain", content_type, re.IGNORECASE):
                raise ToolError(
                    f"{url} is {content_type.split(';')[0]}, not HTML; use http-requester for it",
                    details={"content_type": content_type},
                )
            html = _decode_html(result.content, content_type)
            status, base = result.status, result.url
        page = await self.run_blocking(
            lambda: scrape_html(
                str(html),
                base_url=base,
                extract=params.get("extract", ["title", "text", "links"]),
                selectors=params.get("selectors"),
                max_text_chars=params.get("max_text_chars"),
            )
        )
        if status is not None:
            page["status"] = status
        counts = {k: len(v) for k, v in page.items() if isinstance(v, list | dict) and k != "meta"}
        return ToolOutput(
            operation="scrape",
            result=page,
            message=f"scraped {base or 'HTML'}"
            + (f" ({page.get('text_length', 0)} chars)" if "text" in page else ""),
            metadata={"counts": counts},
        )


def _decode_html(content: bytes, content_type: str) -> str:
    charset = charset_of(content_type, default="")
    if not charset:
        # No charset header: honour an early <meta charset>, else assume UTF-8.
        match = re.search(rb"<meta[^>]+charset=[\"']?([\w-]+)", content[:2048], re.IGNORECASE)
        charset = match.group(1).decode("ascii") if match else "utf-8"
    try:
        return content.decode(charset, errors="replace")
    except LookupError:
        return content.decode("utf-8", errors="replace")

"""The sitemap-crawler tool: list a site's URLs from its sitemaps, honouring robots.txt.

Starting from a site URL, the crawler reads ``/robots.txt`` (``Sitemap:`` lines and the
rules for its user agent, via :mod:`urllib.robotparser`), falls back to ``/sitemap.xml``,
then walks sitemap indexes breadth-first. ``max_depth`` bounds index nesting, ``max_urls``
the result; URLs on other hosts and URLs robots.txt disallows are skipped (and counted).
Gzipped sitemaps are inflated with the response cap applied to the inflated size.
"""

from __future__ import annotations

import asyncio
import re
from collections import deque
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import urljoin, urlsplit

from llmspell.core.context import ExecutionContext
from llmspell.core.errors import LimitExceeded, LLMSpellError, SandboxViolation, ToolError
from llmspell.tools.base import BaseTool, ToolOutput
from llmspell.tools.builtin.web_common import (
    TIMEOUT_SCHEMA,
    fetch,
    open_http,
    request_timeout,
    require_http_url,
)

__all__ = ["SitemapCrawlerTool", "parse_sitemap"]

_TITLE = re.compile(rb"<title[^>]*>(.*?)</title>", re.IGNORECASE | re.DOTALL)
_PAGE_CONCURRENCY = 4


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def parse_sitemap(content: bytes) -> tuple[str, list[dict[str, str]]]:
    """Parse a sitemap document.

    Returns:
        ``("index", [{loc, lastmod?}])`` for a sitemap index, ``("urlset", [{loc, lastmod?,
        changefreq?, priority?}])`` for a URL set.

    Raises:
        ToolError: the document is not a sitemap (or not well-formed XML).
    """
    import xml.etree.ElementTree as ET

    if b"<!DOCTYPE" in content[:1024].upper() or b"<!ENTITY" in content.upper():
        # Sitemaps never need a DTD; refusing one rules out entity-expansion attacks.
        raise ToolError("sitemap declares a DTD or entities, which sitemaps never need; refusing to parse")
    try:
        root = ET.fromstring(content)
    except ET.ParseError as exc:
        raise ToolError(f"sitemap is not well-formed XML: {exc}") from exc
    kind = _local(root.tag)
    if kind not in ("sitemapindex", "urlset"):
        raise ToolError(f"not a sitemap: root element is <{kind}>, expected <urlset> or <sitemapindex>")
    entries: list[dict[str, str]] = []
    for child in root:
        entry: dict[str, str] = {}
        for field in child:
            name = _local(field.tag)
            if name in ("loc", "lastmod", "changefreq", "priority") and field.text:
                entry[name] = field.text.strip()
        if entry.get("loc"):
            entries.append(entry)
    return ("index" if kind == "sitemapindex" else "urlset"), entries


def _inflate(content: bytes, url: str, cap: int) -> bytes:
    import zlib

    if not content.startswith(b"\x1f\x8b"):
        return content
    inflater = zlib.decompressobj(16 + zlib.MAX_WBITS)
    try:
        data = inflater.decompress(content, cap + 1)
    except zlib.error as exc:
        raise ToolError(f"sitemap {url} is not valid gzip: {exc}") from exc
    if len(data) > cap:
        raise LimitExceeded(f"sitemap {url} inflates past {cap} bytes", details={"limit": cap, "url": url})
    return data


class SitemapCrawlerTool(BaseTool):
    """Collect the URLs a site lists in its sitemaps, within bounds, robots-aware."""

    name = "sitemap-crawler"
    category = "web"
    description = (
        "List a site's pages from robots.txt Sitemap lines, sitemap.xml and sitemap indexes "
        "(gzip too), honouring robots.txt rules, same-host by default, bounded by max_urls and "
        "max_depth; optionally fetch each page's status and title."
    )
    security_level = "restricted"
    timeout_s = 120.0
    schema = {
        "type": "object",
        "properties": {
            "url": {"type": "string", "minLength": 1, "description": "A site URL or a sitemap URL."},
            "max_urls": {"type": "integer", "minimum": 1, "maximum": 50_000, "default": 100},
            "max_depth": {"type": "integer", "minimum": 0, "maximum": 10, "default": 3},
            "max_sitemaps": {"type": "integer", "minimum": 1, "maximum": 1000, "default": 50},
            "same_host": {"type": "boolean", "default": True},
            "respect_robots": {"type": "boolean", "default": True},
            "user_agent": {"type": "string", "minLength": 1, "default": "llmspell"},
            "fetch_pages": {"type": "boolean", "default": False},
            "timeout_s": TIMEOUT_SCHEMA,
        },
        "required": ["url"],
        "additionalProperties": False,
    }

    async def invoke(self, params: dict[str, Any], ctx: ExecutionContext) -> Any:
        from urllib.robotparser import RobotFileParser

        start = require_http_url(params["url"])
        host = urlsplit(start).hostname
        agent = params.get("user_agent", "llmspell")
        max_urls = int(params.get("max_urls", 100))
        max_depth = int(params.get("max_depth", 3))
        max_sitemaps = int(params.get("max_sitemaps", 50))
        same_host = params.get("same_host", True)
        timeout = request_timeout(params.get("timeout_s"), 20.0, ctx)
        cap = ctx.policy.max_response_bytes
        skipped = {
            "off_host": 0,
            "disallowed": 0,
            "duplicate": 0,
            "sitemaps_failed": 0,
            "sitemaps_skipped": 0,
        }
        errors: list[dict[str, Any]] = []
        urls: list[dict[str, Any]] = []
        seen_urls: set[str] = set()
        visited: list[str] = []
        robots = RobotFileParser()
        robots_found = False
        async with open_http(ctx, timeout) as http:

            async def get(url: str) -> tuple[int, bytes]:
                result = await fetch(
                    ctx, "GET", url, timeout_s=timeout, headers={"User-Agent": agent}, http=http
                )
                return result.status, result.content

            root = urljoin(start, "/")
            status, body = await get(urljoin(root, "/robots.txt"))
            robots.parse(body.decode("utf-8", "replace").splitlines() if status < 400 else [])
            robots_found = status < 400
            if status in (401, 403):
                robots.disallow_all = True  # type: ignore[attr-defined]  # as RobotFileParser.read() does
            path = urlsplit(start).path
            if path not in ("", "/"):
                sitemaps = [start]
            else:
                listed = [urljoin(root, url) for url in robots.site_maps() or []]
                sitemaps = listed or [urljoin(root, "/sitemap.xml")]
            queue: deque[tuple[str, int]] = deque((url, 0) for url in sitemaps)
            queued = set(sitemaps)
            truncated = False
            while queue and not truncated:
                sitemap_url, depth = queue.popleft()
                if (same_host and urlsplit(sitemap_url).hostname != host) or len(visited) >= max_sitemaps:
                    skipped["sitemaps_skipped"] += 1
                    continue
                visited.append(sitemap_url)
                try:
                    status, body = await get(sitemap_url)
                    if status >= 400:
                        raise ToolError(f"HTTP {status}")
                    kind, entries = parse_sitemap(_inflate(body, sitemap_url, cap))
                except SandboxViolation:
                    raise
                except (ToolError, LimitExceeded) as exc:
                    # One broken sitemap must not hide the others; the start URL's failure
                    # is reported as the tool's failure below.
                    skipped["sitemaps_failed"] += 1
                    errors.append({"sitemap": sitemap_url, "error": exc.message})
                    continue
                for entry in entries:
                    loc = urljoin(sitemap_url, entry["loc"])
                    if kind == "index":
                        if depth < max_depth and loc not in queued:
                            queued.add(loc)
                            queue.append((loc, depth + 1))
                        elif depth >= max_depth:
                            skipped["sitemaps_skipped"] += 1
                        continue
                    if loc in seen_urls:
                        skipped["duplicate"] += 1
                    elif same_host and urlsplit(loc).hostname != host:
                        skipped["off_host"] += 1
                    elif params.get("respect_robots", True) and not robots.can_fetch(agent, loc):
                        skipped["disallowed"] += 1
                    elif len(urls) >= max_urls:
                        truncated = True
                        break
                    else:
                        seen_urls.add(loc)
                        urls.append({"url": loc, **{k: v for k, v in entry.items() if k != "loc"}})
            if not urls and errors and len(visited) == skipped["sitemaps_failed"]:
                raise ToolError(
                    f"no sitemap could be read from {start}: {errors[0]['error']}",
                    details={"errors": errors},
                )
            if params.get("fetch_pages"):
                await self._fetch_pages(urls, get, ctx)
        return ToolOutput(
            operation="crawl",
            result={
                "urls": urls,
                "count": len(urls),
                "sitemaps": visited,
                "skipped": skipped,
                "errors": errors,
                "truncated": truncated,
                "robots": {"found": robots_found, "sitemaps": list(robots.site_maps() or [])},
            },
            message=f"found {len(urls)} URL(s) in {len(visited)} sitemap(s)",
        )

    @staticmethod
    async def _fetch_pages(
        urls: list[dict[str, Any]], get: Callable[[str], Awaitable[tuple[int, bytes]]], ctx: ExecutionContext
    ) -> None:
        semaphore = asyncio.Semaphore(_PAGE_CONCURRENCY)

        async def one(entry: dict[str, Any]) -> None:
            async with semaphore:
                try:
                    status, body = await get(entry["url"])
                except LLMSpellError as exc:
                    # A page that fails (or redirects somewhere the sandbox refuses) is one
                    # entry's error, not the crawl's; cancellation is re-raised after the group.
                    entry["error"] = exc.to_dict()
                    return
                entry["status"] = status
                match = _TITLE.search(body[:65536])
                entry["title"] = match.group(1).decode("utf-8", "replace").strip() if match else None

        async with asyncio.TaskGroup() as group:
            for entry in urls:
                group.create_task(one(entry), name=f"sitemap-page {entry['url']}")
        ctx.check()

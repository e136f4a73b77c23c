"""A real HTTP server on 127.0.0.1 for the web tools' tests.

One threaded server serves everything the web tools talk to: HTML pages, JSON, an echo
endpoint, redirects (including to private addresses the sandbox must refuse), robots.txt and
sitemaps, a small GraphQL endpoint, a webhook receiver that verifies HMAC signatures, pages
whose content a test can change, and fakes of each web-search provider's documented
response shape (each checks its credentials the way the real service does).

Use it with ``with running_web_server() as web: ...`` (or a module-scoped fixture).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, quote, urlsplit

from llmspell.core.context import ExecutionContext, SandboxPolicy
from llmspell.tools.builtin import BUILTIN_TOOLS
from llmspell.tools.registry import ToolRegistry

__all__ = [
    "SEARCH_KEYS",
    "WEBHOOK_SECRET",
    "WEB_TOOLS",
    "WebServer",
    "loopback_context",
    "running_web_server",
    "web_registry",
]

WEBHOOK_SECRET = "s3cret"
SEARCH_KEYS = {
    "google": "g-key",
    "brave": "b-key",
    "serpapi": "sa-key",
    "serperdev": "sd-key",
    "tavily": "tv-key",
}
GOOGLE_CX = "cx-123"

PAGE_HTML = """<!doctype html>
<html><head><title>Fake Page</title>
<meta name="description" content="A page for tests">
<style>.x { color: red }</style><script>var hidden = 1;</script></head>
<body>
<h1 id="top">Welcome</h1>
<p class="intro">Hello <b>world</b>.</p>
<ul class="items"><li>one</li><li>two</li><li>three</li></ul>
<a href="/about">About us</a>
<a href="https://example.org/x?y=1">External</a>
<a href="#top">Anchor</a>
<a href="mailto:someone@example.org">Mail</a>
<img src="/logo.png" alt="Logo">
</body></html>
"""

DDG_HTML = """<html><body><div class="results">
<div class="result results_links web-result">
 <h2 class="result__title"><a class="result__a" rel="nofollow"
  href="//duckduckgo.com/l/?uddg={url1}&amp;rut=abc">Python <b>Docs</b></a></h2>
 <a class="result__snippet" href="//duckduckgo.com/l/?uddg={url1}">The official <b>docs</b>.</a>
</div>
<div class="result results_links web-result">
 <h2 class="result__title"><a class="result__a" href="https://www.python.org/">Python.org</a></h2>
 <a class="result__snippet">Home of Python.</a>
</div>
<div class="result result--ad"><h2 class="result__title">
 <a class="result__a" href="https://ads.example/">Ad</a></h2></div>
</div></body></html>
"""

GRAPHQL_USERS = {"1": {"id": "1", "name": "Ada"}, "2": {"id": "2", "name": "Linus"}}


@dataclass
class WebServer:
    """Handle on the running server: its base URL and what it has seen."""

    base_url: str
    port: int
    webhook_deliveries: list[dict[str, Any]] = field(default_factory=list)
    hits: dict[str, int] = field(default_factory=dict)
    pages: dict[str, tuple[str, str]] = field(default_factory=dict)
    flaky_failures: dict[str, int] = field(default_factory=dict)
    retry_after: str | None = None
    lock: threading.Lock = field(default_factory=threading.Lock)

    def url(self, path: str) -> str:
        """Absolute URL of ``path`` on this server."""
        return self.base_url + path

    def set_page(self, path: str, body: str, content_type: str = "text/html; charset=utf-8") -> None:
        """Serve ``body`` at ``path`` from now on (used to change a monitored page)."""
        with self.lock:
            self.pages[path] = (body, content_type)

    def fail_next(self, path: str, times: int, retry_after: str | None = None) -> None:
        """Make ``path`` answer 503 (with ``Retry-After`` when given) for its next ``times`` requests."""
        with self.lock:
            self.flaky_failures[path] = times
            self.retry_after = retry_after

    def hit_count(self, path: str) -> int:
        """How many requests reached ``path``."""
        with self.lock:
            return self.hits.get(path, 0)


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True

    def log_message(self, format: str, *args: Any) -> None:
        return

    def do_GET(self) -> None:
        self._dispatch()

    def do_POST(self) -> None:
        self._dispatch()

    def do_PUT(self) -> None:
        self._dispatch()

    def do_DELETE(self) -> None:
        self._dispatch()

    def do_PATCH(self) -> None:
        self._dispatch()

    def do_HEAD(self) -> None:
        self._dispatch()

    # -- plumbing ---------------------------------------------------------------------------------

    def _dispatch(self) -> None:
        parts = urlsplit(self.path)
        self.route = parts.path
        self.query = {k: v[-1] for k, v in parse_qs(parts.query, keep_blank_values=True).items()}
        length = int(self.headers.get("Content-Length") or 0)
        self.body = self.rfile.read(length) if length else b""
        state = self.server.state
        with state.lock:
            state.hits[self.route] = state.hits.get(self.route, 0) + 1
            remaining = state.flaky_failures.get(self.route, 0)
            if remaining:
                state.flaky_failures[self.route] = remaining - 1
            page = state.pages.get(self.route)
        if remaining:
            extra = {"Retry-After": state.retry_after} if state.retry_after is not None else {}
            self._send(503, b"try again", "text/plain", extra)
            return
        if page is not None:
            self._send(200, page[0].encode(), page[1])
            return
        handler = _ROUTES.get(self.route)
        if handler is None:
            for prefix, prefixed in _PREFIX_ROUTES:
                if self.route.startswith(prefix):
                    handler = prefixed
                    break
        if handler is None:
            self._send(404, b"not found", "text/plain")
            return
        handler(self)

    def _send(
        self, status: int, body: bytes, content_type: str, headers: dict[str, str] | None = None
    ) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def _json(self, status: int, payload: Any, headers: dict[str, str] | None = None) -> None:
        self._send(status, json.dumps(payload).encode(), "application/json", headers)

    def _body_json(self) -> Any:
        try:
            return json.loads(self.body or b"null")
        except ValueError:
            return None


# -- general routes -------------------------------------------------------------------------------


def _page(h: _Handler) -> None:
    h._send(200, PAGE_HTML.encode(), "text/html; charset=utf-8", {"X-Test": "page"})


def _latin1(h: _Handler) -> None:
    h._send(200, "<p>café</p>".encode("latin-1"), "text/html; charset=iso-8859-1")


def _json_route(h: _Handler) -> None:
    h._json(200, {"data": {"items": [{"name": "a", "n": 1}, {"name": "b", "n": 2}]}, "ok": True})


def _echo(h: _Handler) -> None:
    h._json(
        200,
        {
            "method": h.command,
            "path": h.route,
            "query": h.query,
            "headers": {k.lower(): v for k, v in h.headers.items()},
            "body": h.body.decode("utf-8", "replace"),
        },
    )


def _status(h: _Handler) -> None:
    code = int(h.route.rsplit("/", 1)[1])
    h._json(code, {"status": code})


def _slow(h: _Handler) -> None:
    time.sleep(float(h.query.get("s", "2")))
    h._send(200, b"slow", "text/plain")


def _big(h: _Handler) -> None:
    h._send(200, b"x" * int(h.query.get("n", "1000")), "application/octet-stream")


def _redirect(h: _Handler) -> None:
    h._send(302, b"", "text/plain", {"Location": h.query["to"]})


def _binary(h: _Handler) -> None:
    h._send(200, bytes(range(256)), "application/octet-stream")


# -- robots and sitemaps --------------------------------------------------------------------------


def _robots(h: _Handler) -> None:
    base = h.server.state.base_url
    text = f"User-agent: *\nDisallow: /private/\n\nSitemap: {base}/sitemap.xml\n"
    h._send(200, text.encode(), "text/plain")


def _sitemap_index(h: _Handler) -> None:
    base = h.server.state.base_url
    body = (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        '<sitemapindex xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">'
        f"<sitemap><loc>{base}/sitemap-pages.xml</loc></sitemap>"
        f"<sitemap><loc>{base}/sitemap-blog.xml</loc></sitemap>"
        "<sitemap><loc>https://other.example/sitemap.xml</loc></sitemap>"
        "</sitemapindex>"
    )
    h._send(200, body.encode(), "application/xml")


def _urlset(locs: list[str]) -> bytes:
    entries = "".join(
        f"<url><loc>{loc}</loc><lastmod>2026-01-0{i + 1}</lastmod></url>" for i, loc in enumerate(locs)
    )
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        f'<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">{entries}</urlset>'
    ).encode()


def _sitemap_pages(h: _Handler) -> None:
    base = h.server.state.base_url
    locs = [f"{base}/page", f"{base}/about", f"{base}/private/secret", "https://elsewhere.example/p"]
    h._send(200, _urlset(locs), "application/xml")


def _sitemap_blog(h: _Handler) -> None:
    base = h.server.state.base_url
    h._send(200, _urlset([f"{base}/blog/{i}" for i in range(1, 6)]), "application/xml")


def _sitemap_nested(h: _Handler) -> None:
    # An index pointing at itself: a crawler must stop at max_depth, not loop.
    base = h.server.state.base_url
    body = (
        '<sitemapindex xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">'
        f"<sitemap><loc>{base}/sitemap-nested.xml?d={int(h.query.get('d', '0')) + 1}</loc></sitemap>"
        "</sitemapindex>"
    )
    h._send(200, body.encode(), "application/xml")


# -- GraphQL --------------------------------------------------------------------------------------


def _graphql(h: _Handler) -> None:
    payload = h._body_json()
    if not isinstance(payload, dict) or not isinstance(payload.get("query"), str):
        h._json(400, {"errors": [{"message": "Must provide query string."}]})
        return
    query: str = payload["query"]
    variables = payload.get("variables") or {}
    if "syntaxError" in query or query.count("{") != query.count("}"):
        h._json(400, {"errors": [{"message": "Syntax Error: Expected Name, found <EOF>."}]})
        return
    data: dict[str, Any] = {}
    errors: list[dict[str, Any]] = []
    if "hello" in query:
        data["hello"] = "world"
    if "user(" in query:
        user = GRAPHQL_USERS.get(str(variables.get("id")))
        data["user"] = user
        if user is None:
            errors.append({"message": f"no user {variables.get('id')}", "path": ["user"]})
    if payload.get("operationName"):
        data["operation"] = payload["operationName"]
    body: dict[str, Any] = {"data": data}
    if errors:
        body["errors"] = errors
    h._json(200, body)


# -- webhook receiver -----------------------------------------------------------------------------


def _webhook(h: _Handler) -> None:
    header = h.headers.get("X-Llmspell-Signature", "")
    timestamp = h.headers.get("X-Llmspell-Timestamp", "")
    mac = hmac.new(WEBHOOK_SECRET.encode(), f"{timestamp}.".encode() + h.body, hashlib.sha256)
    valid = hmac.compare_digest(header, "sha256=" + mac.hexdigest())
    state = h.server.state
    with state.lock:
        state.webhook_deliveries.append(
            {"valid": valid, "body": h._body_json(), "headers": dict(h.headers.items())}
        )
    if not valid:
        h._json(401, {"error": "bad signature"})
        return
    h._json(200, {"received": True})


# -- search provider fakes (documented response shapes) -------------------------------------------


def _results(query: str, n: int) -> list[tuple[str, str, str]]:
    return [
        (f"Result {i} for {query}", f"https://example.com/{i}?q={quote(query)}", f"Snippet {i}")
        for i in range(1, n + 1)
    ]


def _ddg_html(h: _Handler) -> None:
    if not h.query.get("q"):
        h._send(400, b"missing q", "text/plain")
        return
    url1 = quote("https://docs.python.org/3/", safe="")
    h._send(200, DDG_HTML.format(url1=url1).encode(), "text/html; charset=utf-8")


def _ddg_instant(h: _Handler) -> None:
    if h.query.get("format") != "json":
        h._send(400, b"format=json required", "text/plain")
        return
    h._json(
        200,
        {
            "Heading": "Python (programming language)",
            "AbstractText": "Python is a high-level programming language.",
            "AbstractURL": "https://en.wikipedia.org/wiki/Python_(programming_language)",
            "Results": [{"FirstURL": "https://www.python.org/", "Text": "Official site"}],
            "RelatedTopics": [
                {"FirstURL": "https://duckduckgo.com/Guido", "Text": "Guido van Rossum - creator"},
                {
                    "Name": "See also",
                    "Topics": [{"FirstURL": "https://duckduckgo.com/CPython", "Text": "CPython - impl"}],
                },
            ],
        },
    )


def _google(h: _Handler) -> None:
    if h.query.get("key") != SEARCH_KEYS["google"] or h.query.get("cx") != GOOGLE_CX:
        h._json(400, {"error": {"code": 400, "message": "API key not valid. Please pass a valid API key."}})
        return
    n = int(h.query.get("num", "10"))
    items = [
        {"title": t, "link": u, "snippet": s, "kind": "customsearch#result"}
        for t, u, s in _results(h.query["q"], n)
    ]
    h._json(200, {"kind": "customsearch#search", "items": items})


def _brave(h: _Handler) -> None:
    if h.headers.get("X-Subscription-Token") != SEARCH_KEYS["brave"]:
        h._json(422, {"type": "ErrorResponse", "error": {"code": "SUBSCRIPTION_TOKEN_INVALID"}})
        return
    n = int(h.query.get("count", "20"))
    results = [{"title": t, "url": u, "description": s} for t, u, s in _results(h.query["q"], n)]
    h._json(200, {"type": "search", "web": {"type": "search", "results": results}})


def _serpapi(h: _Handler) -> None:
    if h.query.get("api_key") != SEARCH_KEYS["serpapi"]:
        h._json(
            401, {"error": "Invalid API key. Your API key should be here: https://serpapi.com/manage-api-key"}
        )
        return
    n = int(h.query.get("num", "10"))
    organic = [
        {"position": i, "title": t, "link": u, "snippet": s}
        for i, (t, u, s) in enumerate(_results(h.query["q"], n), 1)
    ]
    h._json(200, {"search_metadata": {"status": "Success"}, "organic_results": organic})


def _serper(h: _Handler) -> None:
    if h.headers.get("X-API-KEY") != SEARCH_KEYS["serperdev"] or h.command != "POST":
        h._json(403, {"message": "Unauthorized.", "statusCode": 403})
        return
    body = h._body_json() or {}
    organic = [
        {"title": t, "link": u, "snippet": s, "position": i}
        for i, (t, u, s) in enumerate(_results(body["q"], int(body.get("num", 10))), 1)
    ]
    h._json(200, {"searchParameters": {"q": body["q"]}, "organic": organic})


def _tavily(h: _Handler) -> None:
    if h.headers.get("Authorization") != f"Bearer {SEARCH_KEYS['tavily']}" or h.command != "POST":
        h._json(401, {"detail": {"error": "Unauthorized: missing or invalid API key."}})
        return
    body = h._body_json() or {}
    results = [
        {"title": t, "url": u, "content": s, "score": 0.9}
        for t, u, s in _results(body["query"], int(body.get("max_results", 5)))
    ]
    h._json(200, {"query": body["query"], "results": results, "response_time": 0.1})


_ROUTES: dict[str, Callable[[_Handler], None]] = {
    "/page": _page,
    "/about": _page,
    "/latin1": _latin1,
    "/json": _json_route,
    "/echo": _echo,
    "/slow": _slow,
    "/big": _big,
    "/binary": _binary,
    "/redirect": _redirect,
    "/robots.txt": _robots,
    "/sitemap.xml": _sitemap_index,
    "/sitemap-pages.xml": _sitemap_pages,
    "/sitemap-blog.xml": _sitemap_blog,
    "/sitemap-nested.xml": _sitemap_nested,
    "/graphql": _graphql,
    "/webhook": _webhook,
    "/ddg/html/": _ddg_html,
    "/ddg-api/": _ddg_instant,
    "/google/customsearch/v1": _google,
    "/brave/res/v1/web/search": _brave,
    "/serpapi/search.json": _serpapi,
    "/serper/search": _serper,
    "/tavily/search": _tavily,
}
_PREFIX_ROUTES: list[tuple[str, Callable[[_Handler], None]]] = [
    ("/status/", _status),
    ("/blog/", _page),
]


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    state: WebServer


@contextmanager
def running_web_server() -> Iterator[WebServer]:
    """Start the server on an ephemeral loopback port; stop it on exit."""
    server = _Server(("127.0.0.1", 0), _Handler)
    port = server.server_address[1]
    server.state = WebServer(base_url=f"http://127.0.0.1:{port}", port=port)
    thread = threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": 0.02}, name="fake-web-server", daemon=True
    )
    thread.start()
    try:
        yield server.state
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


WEB_TOOLS = (
    "http-requester",
    "graphql-query",
    "api-tester",
    "webhook-caller",
    "web-searcher",
    "web-scraper",
    "url-analyzer",
    "webpage-monitor",
    "sitemap-crawler",
)


def loopback_context(root: str | None = None, *, allow: tuple[str, ...] = ("127.0.0.1",)) -> ExecutionContext:
    """An ExecutionContext whose sandbox allows 127.0.0.1 (and files under ``root``)."""
    policy = SandboxPolicy(file_roots=(root,) if root else (), network_allow=allow)
    return ExecutionContext(policy=policy)


def web_registry() -> ToolRegistry:
    """A registry holding the web tools, loaded lazily from the built-in table."""
    return ToolRegistry(lazy={name: BUILTIN_TOOLS[name] for name in WEB_TOOLS})

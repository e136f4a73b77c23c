"""The web-searcher tool: one interface over several search providers with a fallback chain.

Each provider is a small class that builds its documented request and turns its documented
response shape into ``[{title, url, snippet}]``:

============  ==============================================  =========================
provider      endpoint (``base_url`` + path)                  credentials
============  ==============================================  =========================
tavily        POST https://api.tavily.com/search              Bearer API key
brave         GET https://api.search.brave.com/res/v1/web/search  X-Subscription-Token
serperdev     POST https://google.serper.dev/search           X-API-KEY
serpapi       GET https://serpapi.com/search.json             api_key parameter
google        GET https://www.googleapis.com/customsearch/v1  key + cx (engine id)
duckduckgo    GET https://html.duckduckgo.com/html/ (HTML)    none
              or https://api.duckduckgo.com/ (mode=instant)
============  ==============================================  =========================

Configuration per provider comes from the tool's ``provider_config`` parameter, else from
``LLMSPELL_SEARCH_<PROVIDER>_API_KEY``, ``_BASE_URL``, ``_CX`` (google) and ``_MODE``
(duckduckgo) environment variables. The chain tries providers in order, skipping those
without a key, and returns the first that answers.
"""

from __future__ import annotations

import html
import json
import os
import re
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar
from urllib.parse import parse_qs, urlencode, urlsplit

from llmspell.core.context import ExecutionContext
from llmspell.core.errors import (
    Cancelled,
    ConfigError,
    LLMSpellError,
    ToolError,
    ValidationError,
)
from llmspell.tools.base import BaseTool, ToolOutput
from llmspell.tools.builtin.web_common import TIMEOUT_SCHEMA, fetch, lower_headers, open_http, request_timeout

if TYPE_CHECKING:
    from llmspell.tools.sandbox import SafeHttp

__all__ = [
    "DEFAULT_ORDER",
    "PROVIDERS",
    "ProviderSettings",
    "SearchProvider",
    "WebSearcherTool",
    "provider_settings",
]

_TAGS = re.compile(r"<[^>]+>")


@dataclass(frozen=True, kw_only=True, slots=True)
class ProviderSettings:
    """Resolved configuration of one provider."""

    api_key: str | None = None
    base_url: str
    options: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True, kw_only=True, slots=True)
class _Request:
    method: str
    url: str
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes | None = None


def _strip(text: Any) -> str:
    return html.unescape(_TAGS.sub("", str(text or ""))).strip()


def _hits(items: Any, title: str, url: str, snippet: str) -> list[dict[str, str]]:
    if not isinstance(items, list):
        return []
    return [
        {"title": _strip(item.get(title)), "url": str(item.get(url)), "snippet": _strip(item.get(snippet))}
        for item in items
        if isinstance(item, dict) and item.get(url)
    ]


def _json_post(url: str, payload: dict[str, Any], headers: dict[str, str]) -> _Request:
    headers = {"Content-Type": "application/json", "Accept": "application/json", **headers}
    return _Request(method="POST", url=url, headers=headers, body=json.dumps(payload).encode())


class SearchProvider(ABC):
    """One search API: builds its request and parses its documented response shape."""

    name: ClassVar[str]
    default_base_url: ClassVar[str]
    needs_key: ClassVar[bool] = True
    required_options: ClassVar[tuple[str, ...]] = ()

    @abstractmethod
    def build(self, query: str, count: int, settings: ProviderSettings) -> _Request:
        """The HTTP request for ``query`` asking for ``count`` results."""

    @abstractmethod
    def parse(self, body: bytes, settings: ProviderSettings) -> list[dict[str, str]]:
        """Turn a successful response body into ``[{title, url, snippet}]``.

        Raises:
            ToolError: the body is not the documented shape or reports an error.
        """

    def missing(self, settings: ProviderSettings) -> str | None:
        """Why the provider cannot be used with ``settings`` (None when it can)."""
        env = f"LLMSPELL_SEARCH_{self.name.upper()}_"
        if self.needs_key and not settings.api_key:
            return f"no API key (set {env}API_KEY or provider_config.{self.name}.api_key)"
        for option in self.required_options:
            if not settings.options.get(option):
                return f"no {option} (set {env}{option.upper()} or provider_config.{self.name}.{option})"
        return None

    @staticmethod
    def _json(body: bytes, provider: str) -> Any:
        try:
            return json.loads(body)
        except ValueError as exc:
            raise ToolError(f"{provider} answered with a body that is not JSON") from exc


class TavilyProvider(SearchProvider):
    name = "tavily"
    default_base_url = "https://api.tavily.com"

    def build(self, query: str, count: int, settings: ProviderSettings) -> _Request:
        payload = {"query": query, "max_results": min(count, 20), "search_depth": "basic"}
        return _json_post(
            f"{settings.base_url}/search", payload, {"Authorization": f"Bearer {settings.api_key}"}
        )

    def parse(self, body: bytes, settings: ProviderSettings) -> list[dict[str, str]]:
        data = self._json(body, self.name)
        return _hits(data.get("results") if isinstance(data, dict) else None, "title", "url", "content")


class BraveProvider(SearchProvider):
    name = "brave"
    default_base_url = "https://api.search.brave.com"

    def build(self, query: str, count: int, settings: ProviderSettings) -> _Request:
        url = f"{settings.base_url}/res/v1/web/search?" + urlencode({"q": query, "count": min(count, 20)})
        headers = {"Accept": "application/json", "X-Subscription-Token": settings.api_key or ""}
        return _Request(method="GET", url=url, headers=headers)

    def parse(self, body: bytes, settings: ProviderSettings) -> list[dict[str, str]]:
        data = self._json(body, self.name)
        web = data.get("web") if isinstance(data, dict) else None
        return _hits(web.get("results") if isinstance(web, dict) else None, "title", "url", "description")


class SerperDevProvider(SearchProvider):
    name = "serperdev"
    default_base_url = "https://google.serper.dev"

    def build(self, query: str, count: int, settings: ProviderSettings) -> _Request:
        payload = {"q": query, "num": min(count, 100)}
        return _json_post(f"{settings.base_url}/search", payload, {"X-API-KEY": settings.api_key or ""})

    def parse(self, body: bytes, settings: ProviderSettings) -> list[dict[str, str]]:
        data = self._json(body, self.name)
        return _hits(data.get("organic") if isinstance(data, dict) else None, "title", "link", "snippet")


class SerpApiProvider(SearchProvider):
    name = "serpapi"
    default_base_url = "https://serpapi.com"

    def build(self, query: str, count: int, settings: ProviderSettings) -> _Request:
        engine = settings.options.get("engine") or "google"
        query_string = urlencode(
            {"engine": engine, "q": query, "num": min(count, 100), "api_key": settings.api_key}
        )
        return _Request(method="GET", url=f"{settings.base_url}/search.json?{query_string}")

    def parse(self, body: bytes, settings: ProviderSettings) -> list[dict[str, str]]:
        data = self._json(body, self.name)
        if isinstance(data, dict) and data.get("error"):
            raise ToolError(f"serpapi reported: {data['error']}")
        return _hits(
            data.get("organic_results") if isinstance(data, dict) else None, "title", "link", "snippet"
        )


class GoogleProvider(SearchProvider):
    name = "google"
    default_base_url = "https://www.googleapis.com"
    required_options = ("cx",)

    def build(self, query: str, count: int, settings: ProviderSettings) -> _Request:
        params = {"key": settings.api_key, "cx": settings.options["cx"], "q": query, "num": min(count, 10)}
        return _Request(method="GET", url=f"{settings.base_url}/customsearch/v1?{urlencode(params)}")

    def parse(self, body: bytes, settings: ProviderSettings) -> list[dict[str, str]]:
        data = self._json(body, self.name)
        return _hits(data.get("items") if isinstance(data, dict) else None, "title", "link", "snippet")


class DuckDuckGoProvider(SearchProvider):
    """DuckDuckGo without a key: the HTML results page, or the Instant Answer API (mode=instant)."""

    name = "duckduckgo"
    default_base_url = "https://html.duckduckgo.com"
    instant_base_url: ClassVar[str] = "https://api.duckduckgo.com"
    needs_key = False

    def build(self, query: str, count: int, settings: ProviderSettings) -> _Request:
        if settings.options.get("mode") == "instant":
            params = {"q": query, "format": "json", "no_html": "1", "skip_disambig": "1"}
            return _Request(method="GET", url=f"{settings.base_url}/?{urlencode(params)}")
        headers = {"Accept": "text/html"}
        return _Request(
            method="GET", url=f"{settings.base_url}/html/?{urlencode({'q': query})}", headers=headers
        )

    def parse(self, body: bytes, settings: ProviderSettings) -> list[dict[str, str]]:
        if settings.options.get("mode") == "instant":
            return self._parse_instant(self._json(body, self.name))
        return self._parse_html(body.decode("utf-8", "replace"))

    @staticmethod
    def _parse_html(page: str) -> list[dict[str, str]]:
        from bs4 import BeautifulSoup

        soup = BeautifulSoup(page, "html.parser")
        hits: list[dict[str, str]] = []
        for result in soup.select("div.result"):
            if "result--ad" in (result.get("class") or []):
                continue
            anchor = result.select_one("a.result__a")
            if anchor is None or not anchor.get("href"):
                continue
            snippet = result.select_one(".result__snippet")
            hits.append(
                {
                    "title": anchor.get_text(" ", strip=True),
                    "url": _unwrap_ddg(str(anchor["href"])),
                    "snippet": snippet.get_text(" ", strip=True) if snippet else "",
                }
            )
        return hits

    @staticmethod
    def _parse_instant(data: Any) -> list[dict[str, str]]:
        if not isinstance(data, dict):
            raise ToolError("duckduckgo instant answer is not a JSON object")
        hits: list[dict[str, str]] = []
        if data.get("AbstractURL"):
            hits.append(
                {
                    "title": _strip(data.get("Heading")),
                    "url": str(data["AbstractURL"]),
                    "snippet": _strip(data.get("AbstractText")),
                }
            )
        topics: list[Any] = list(data.get("Results") or [])
        for topic in data.get("RelatedTopics") or []:
            topics.extend(
                topic.get("Topics") or [] if isinstance(topic, dict) and "Topics" in topic else [topic]
            )
        for topic in topics:
            if isinstance(topic, dict) and topic.get("FirstURL"):
                text = _strip(topic.get("Text"))
                hits.append(
                    {"title": text.split(" - ", 1)[0], "url": str(topic["FirstURL"]), "snippet": text}
                )
        return hits


def _unwrap_ddg(href: str) -> str:
    # Result links go through DuckDuckGo's redirector: //duckduckgo.com/l/?uddg=<target>.
    absolute = "https:" + href if href.startswith("//") else href
    parts = urlsplit(absolute)
    if parts.path.startswith("/l/"):
        target = parse_qs(parts.query).get("uddg")
        if target:
            return target[0]
    return absolute


PROVIDERS: dict[str, SearchProvider] = {
    provider.name: provider
    for provider in (
        TavilyProvider(),
        BraveProvider(),
        SerperDevProvider(),
        SerpApiProvider(),
        GoogleProvider(),
        DuckDuckGoProvider(),
    )
}
DEFAULT_ORDER = ("tavily", "brave", "serperdev", "serpapi", "google", "duckduckgo")
_OPTIONS = ("cx", "mode", "engine")


def provider_settings(name: str, overrides: dict[str, Any] | None = None) -> ProviderSettings:
    """Resolve a provider's key, base URL and options: ``overrides`` first, then the environment."""
    provider = PROVIDERS[name]
    overrides = overrides or {}
    env = f"LLMSPELL_SEARCH_{name.upper()}_"
    options = {
        option: str(overrides.get(option) or os.environ.get(env + option.upper()) or "")
        for option in _OPTIONS
    }
    options = {k: v for k, v in options.items() if v}
    default = provider.default_base_url
    if isinstance(provider, DuckDuckGoProvider) and options.get("mode") == "instant":
        default = provider.instant_base_url
    base_url = str(overrides.get("base_url") or os.environ.get(env + "BASE_URL") or default).rstrip("/")
    api_key = overrides.get("api_key") or os.environ.get(env + "API_KEY") or None
    return ProviderSettings(api_key=api_key, base_url=base_url, options=options)


def _redact(error: LLMSpellError, secret: str | None) -> LLMSpellError:
    # Some providers take the key in the query string, and sandbox errors quote the URL.
    if not secret or (secret not in error.message and secret not in json.dumps(error.details, default=str)):
        return error
    details = json.loads(json.dumps(error.details, default=str).replace(secret, "***"))
    return type(error)(error.message.replace(secret, "***"), details=details)


_CONFIG_PROPERTIES = {
    "api_key": {"type": "string"},
    "base_url": {"type": "string", "minLength": 1},
    "cx": {"type": "string", "description": "Google Programmable Search engine id."},
    "mode": {"type": "string", "enum": ["html", "instant"], "description": "DuckDuckGo endpoint."},
    "engine": {"type": "string", "description": "SerpApi engine (default google)."},
}


class WebSearcherTool(BaseTool):
    """Search the web through the first configured provider that answers."""

    name = "web-searcher"
    category = "web"
    description = (
        "Search the web and return [{title, url, snippet}] from Tavily, Brave, Serper.dev, "
        "SerpApi, Google Programmable Search or DuckDuckGo, falling back along the chain when a "
        "provider has no key or fails."
    )
    security_level = "restricted"
    timeout_s = 60.0
    schema = {
        "type": "object",
        "properties": {
            "query": {"type": "string", "minLength": 1, "maxLength": 2000},
            "max_results": {"type": "integer", "minimum": 1, "maximum": 50, "default": 10},
            "provider": {"type": "string", "enum": list(DEFAULT_ORDER), "description": "Use only this one."},
            "providers": {
                "type": "array",
                "items": {"type": "string", "enum": list(DEFAULT_ORDER)},
                "minItems": 1,
                "description": "Fallback order (default: " + ", ".join(DEFAULT_ORDER) + ").",
            },
            "provider_config": {
                "type": "object",
                "properties": {
                    name: {"type": "object", "properties": _CONFIG_PROPERTIES, "additionalProperties": False}
                    for name in DEFAULT_ORDER
                },
                "additionalProperties": False,
            },
            "timeout_s": TIMEOUT_SCHEMA,
        },
        "required": ["query"],
        "additionalProperties": False,
    }

    async def invoke(self, params: dict[str, Any], ctx: ExecutionContext) -> Any:
        if params.get("provider") and params.get("providers"):
            raise ValidationError("give provider or providers, not both", details={"field": "providers"})
        order = [params["provider"]] if params.get("provider") else params.get("providers") or DEFAULT_ORDER
        query = params["query"].strip()
        if not query:
            raise ValidationError("query must not be blank", details={"field": "query"})
        count = int(params.get("max_results", 10))
        configs = params.get("provider_config") or {}
        timeout = request_timeout(params.get("timeout_s"), 20.0, ctx)
        attempts: list[dict[str, Any]] = []
        failures: list[LLMSpellError] = []
        async with open_http(ctx, timeout) as http:
            for name in dict.fromkeys(order):
                provider = PROVIDERS[name]
                settings = provider_settings(name, configs.get(name))
                reason = provider.missing(settings)
                if reason is not None:
                    attempts.append({"provider": name, "skipped": reason})
                    continue
                try:
                    hits = await self._ask(provider, query, count, settings, ctx, http, timeout)
                except Cancelled:
                    raise
                except LLMSpellError as exc:
                    ctx.check()
                    error = _redact(exc, settings.api_key)
                    failures.append(error)
                    attempts.append({"provider": name, "error": error.to_dict()})
                    continue
                attempts.append({"provider": name, "results": len(hits)})
                results = self._dedupe(hits, count, name)
                return ToolOutput(
                    operation="search",
                    result={"query": query, "provider": name, "results": results},
                    message=f"{len(results)} result(s) from {name}",
                    metadata={"provider": name, "attempts": attempts},
                )
        if not failures:
            raise ConfigError(
                "no web search provider is configured: set LLMSPELL_SEARCH_<PROVIDER>_API_KEY "
                "or pass provider_config, or include duckduckgo in providers",
                details={"attempts": attempts},
            )
        if len(failures) == 1:
            failures[0].details.setdefault("attempts", attempts)
            raise failures[0]
        summary = "; ".join(f"{a['provider']}: {a['error']['message']}" for a in attempts if "error" in a)
        raise ToolError(f"every search provider failed: {summary}", details={"attempts": attempts})

    async def _ask(
        self,
        provider: SearchProvider,
        query: str,
        count: int,
        settings: ProviderSettings,
        ctx: ExecutionContext,
        http: SafeHttp,
        timeout: float,
    ) -> list[dict[str, str]]:
        request = provider.build(query, count, settings)
        result = await fetch(
            ctx,
            request.method,
            request.url,
            timeout_s=timeout,
            headers=request.headers,
            content=request.body,
            http=http,
        )
        if result.status >= 400 or result.status == 202:
            raise self._http_error(
                provider.name, result.status, result.content, lower_headers(result.headers)
            )
        return await self.run_blocking(provider.parse, result.content, settings)

    @staticmethod
    def _http_error(name: str, status: int, body: bytes, headers: dict[str, str]) -> ToolError:
        text = body[:300].decode("utf-8", "replace").strip()
        if status in (401, 403) or (name == "brave" and status == 422):
            hint = f"; check LLMSPELL_SEARCH_{name.upper()}_API_KEY"
        elif status == 429:
            hint = f"; rate limited (retry after {headers.get('retry-after', '?')}s)"
        elif status == 202:
            hint = "; the provider asked for a bot check, try another provider"
        else:
            hint = ""
        return ToolError(f"{name} answered HTTP {status}{hint}", details={"status": status, "body": text})

    @staticmethod
    def _dedupe(hits: list[dict[str, str]], count: int, provider: str) -> list[dict[str, Any]]:
        seen: set[str] = set()
        results: list[dict[str, Any]] = []
        for hit in hits:
            if hit["url"] in seen:
                continue
            seen.add(hit["url"])
            results.append({**hit, "rank": len(results) + 1, "provider": provider})
            if len(results) >= count:
                break
        return results

"""The url-analyzer tool: parse, normalise and inspect a URL, optionally fetching its headers."""

from __future__ import annotations

import ipaddress
import posixpath
import re
from typing import Any
from urllib.parse import parse_qsl, quote, unquote, urlencode, urljoin, urlsplit, urlunsplit

from llmspell.core.context import ExecutionContext
from llmspell.core.errors import ValidationError
from llmspell.tools.base import BaseTool, ToolOutput
from llmspell.tools.builtin.web_common import TIMEOUT_SCHEMA, fetch, lower_headers, request_timeout

__all__ = ["TRACKING_PARAMS", "UrlAnalyzerTool", "analyze_url", "normalize_url"]

_DEFAULT_PORTS = {"http": 80, "https": 443, "ftp": 21, "ws": 80, "wss": 443}
TRACKING_PARAMS = frozenset(
    {"gclid", "fbclid", "msclkid", "dclid", "yclid", "mc_cid", "mc_eid", "_ga", "igshid", "ref_src"}
)
_UNRESERVED = "-._~"
_PCT = re.compile(r"%[0-9A-Fa-f]{2}")


def _normalize_escapes(text: str, safe: str) -> str:
    # Decode only what is safe to decode (unreserved characters), upper-case other escapes,
    # and escape characters that are not allowed raw: the RFC 3986 §6.2.2 normalisations.
    def fix(match: re.Match[str]) -> str:
        char = chr(int(match.group(0)[1:], 16))
        if char.isascii() and (char.isalnum() or char in _UNRESERVED):
            return char
        return match.group(0).upper()

    return quote(_PCT.sub(fix, text), safe=safe + "%")


def _host_idna(host: str) -> str:
    try:
        return host.encode("idna").decode("ascii")
    except UnicodeError as exc:
        raise ValidationError(f"host {host!r} is not a valid domain name", details={"field": "url"}) from exc


def normalize_url(
    url: str, *, sort_query: bool = False, strip_fragment: bool = False, strip_tracking: bool = False
) -> str:
    """Normalise ``url`` (RFC 3986 §6): lower-case scheme and host, IDNA host, no default
    port, ``.``/``..`` segments removed, escapes normalised; optionally sort the query,
    drop the fragment and tracking parameters (``utm_*``, ``gclid``, ``fbclid``...).
    """
    parts = urlsplit(url.strip())
    scheme = parts.scheme.lower()
    host = parts.hostname or ""
    if host and not host.startswith("["):
        host = host if _is_ip(host) else _host_idna(host).lower()
    if ":" in host:
        host = f"[{host}]"
    netloc = host
    if parts.username is not None:
        creds = parts.username + (f":{parts.password}" if parts.password is not None else "")
        netloc = f"{creds}@{host}"
    port = parts.port
    if port is not None and port != _DEFAULT_PORTS.get(scheme):
        netloc += f":{port}"
    path = parts.path
    if path:
        trailing = path.endswith("/")
        path = posixpath.normpath(path)
        path = "/" if path in (".", "//") else path.replace("//", "/")
        if trailing and not path.endswith("/"):
            path += "/"
    elif netloc and scheme in _DEFAULT_PORTS:
        path = "/"
    path = _normalize_escapes(path, safe="/:@!$&'()*+,;=")
    pairs = parse_qsl(parts.query, keep_blank_values=True)
    if strip_tracking:
        pairs = [
            (k, v) for k, v in pairs if not (k.lower().startswith("utm_") or k.lower() in TRACKING_PARAMS)
        ]
    if sort_query:
        pairs.sort()
    query = (
        urlencode(pairs) if (strip_tracking or sort_query) else _normalize_escapes(parts.query, "=&+/?:@,;")
    )
    fragment = "" if strip_fragment else parts.fragment
    return urlunsplit((scheme, netloc, path, query, fragment))


def _is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return False
    return True


def _ip_kind(host: str) -> str | None:
    try:
        ip = ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return None
    for kind in ("loopback", "link_local", "private", "multicast", "unspecified", "reserved"):
        if getattr(ip, f"is_{kind}"):
            return kind
    return "public" if ip.is_global else "special"


def analyze_url(url: str, base_url: str | None = None, **normalize: bool) -> dict[str, Any]:
    """Parse ``url`` (resolved against ``base_url`` when given) into its parts.

    Raises:
        ValidationError: the URL has no scheme or host, or an invalid port or host.
    """
    raw = url.strip()
    if base_url:
        raw = urljoin(base_url, raw)
    try:
        parts = urlsplit(raw)
        port = parts.port
    except ValueError as exc:
        raise ValidationError(f"invalid URL {url!r}: {exc}", details={"field": "url"}) from exc
    if not parts.scheme or not parts.netloc:
        raise ValidationError(
            f"url {url!r} is not absolute; include the scheme and host or pass base_url",
            details={"field": "url"},
        )
    host = parts.hostname or ""
    domain = host if _is_ip(host) else _host_idna(host).lower() if host else ""
    segments = [unquote(s) for s in parts.path.split("/") if s]
    last = segments[-1] if segments and not parts.path.endswith("/") else ""
    params: dict[str, list[str]] = {}
    for key, value in parse_qsl(parts.query, keep_blank_values=True):
        params.setdefault(key, []).append(value)
    labels = domain.split(".") if domain and not _is_ip(host) else []
    return {
        "url": raw,
        "normalized": normalize_url(raw, **normalize),
        "scheme": parts.scheme.lower(),
        "host": domain,
        "host_unicode": _unicode_host(domain),
        "port": port,
        "effective_port": port or _DEFAULT_PORTS.get(parts.scheme.lower()),
        "path": parts.path or "/",
        "path_segments": segments,
        "file_extension": posixpath.splitext(last)[1].lstrip(".").lower() or None,
        "query": parts.query,
        "query_params": params,
        "fragment": parts.fragment or None,
        "has_credentials": parts.username is not None,
        "username": parts.username,
        "is_ip": _is_ip(host),
        "ip_kind": _ip_kind(host),
        "subdomain": ".".join(labels[:-2]) or None if len(labels) > 2 else None,
        "tld": labels[-1] if labels else None,
        "tracking_params": sorted(
            k for k in params if k.lower().startswith("utm_") or k.lower() in TRACKING_PARAMS
        ),
        "is_secure": parts.scheme.lower() in ("https", "wss"),
    }


def _unicode_host(host: str) -> str:
    try:
        return host.encode("ascii").decode("idna")
    except UnicodeError:
        return host


class UrlAnalyzerTool(BaseTool):
    """Parse and normalise a URL; optionally fetch it to report status and headers."""

    name = "url-analyzer"
    category = "web"
    description = (
        "Parse a URL into scheme, host, port, path, query parameters and fragment; normalise it "
        "(RFC 3986, optional query sorting and tracking-parameter removal); optionally fetch it "
        "(HEAD or GET) to report the status, final URL and headers."
    )
    security_level = "restricted"
    timeout_s = 30.0
    schema = {
        "type": "object",
        "properties": {
            "url": {"type": "string", "minLength": 1},
            "base_url": {"type": "string", "description": "Resolve a relative url against this."},
            "sort_query": {"type": "boolean", "default": False},
            "strip_fragment": {"type": "boolean", "default": False},
            "strip_tracking": {"type": "boolean", "default": False},
            "fetch": {"type": "boolean", "default": False, "description": "Request the URL's headers."},
            "method": {"type": "string", "enum": ["HEAD", "GET"], "default": "HEAD"},
            "timeout_s": TIMEOUT_SCHEMA,
        },
        "required": ["url"],
        "additionalProperties": False,
    }

    async def invoke(self, params: dict[str, Any], ctx: ExecutionContext) -> Any:
        info = analyze_url(
            params["url"],
            params.get("base_url"),
            sort_query=bool(params.get("sort_query", False)),
            strip_fragment=bool(params.get("strip_fragment", False)),
            strip_tracking=bool(params.get("strip_tracking", False)),
        )
        message = f"parsed {info['normalized']}"
        if params.get("fetch"):
            if info["scheme"] not in ("http", "https"):
                raise ValidationError("fetch needs an http(s) URL", details={"field": "fetch"})
            result = await fetch(
                ctx,
                params.get("method", "HEAD"),
                info["url"],
                timeout_s=request_timeout(params.get("timeout_s"), 15.0, ctx),
                max_bytes=1_000_000,
            )
            headers = lower_headers(result.headers)
            info["fetch"] = {
                "status": result.status,
                "final_url": result.url,
                "redirected": result.url != info["url"],
                "headers": headers,
                "content_type": headers.get("content-type"),
                "content_length": _int(headers.get("content-length")),
                "elapsed_ms": round(result.elapsed_ms, 3),
            }
            message += f" → HTTP {result.status}"
        return ToolOutput(
            operation="fetch" if params.get("fetch") else "analyze", result=info, message=message
        )


def _int(value: str | None) -> int | None:
    return int(value) if value is not None and value.isdigit() else None

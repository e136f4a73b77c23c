"""Shared plumbing of the web tools: the one HTTP boundary, body decoding, headers, JSON paths.

Every request of every web tool goes through :func:`open_http` / :func:`fetch`, which use the
sandbox's ``SafeHttp`` (URL checks on every redirect hop, response size cap, per-host rate
limit). The sandbox module imports httpx, so it is imported on first use, keeping the tool
registry's start-up cheap.
"""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode, urlsplit, urlunsplit

from llmspell.core.context import ExecutionContext
from llmspell.core.errors import ToolError, ValidationError

if TYPE_CHECKING:
    from llmspell.tools.sandbox import HttpResult, SafeHttp

__all__ = [
    "BODY_MODES",
    "HEADERS_SCHEMA",
    "HTTP_METHODS",
    "QUERY_SCHEMA",
    "TIMEOUT_SCHEMA",
    "build_request_body",
    "charset_of",
    "decode_body",
    "fetch",
    "json_path_get",
    "lower_headers",
    "open_http",
    "request_timeout",
    "require_http_url",
    "response_dict",
    "with_query",
]

HTTP_METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS")
BODY_MODES = ("auto", "text", "json", "base64")
TIMEOUT_SCHEMA: dict[str, Any] = {"type": "number", "exclusiveMinimum": 0, "maximum": 600}
HEADERS_SCHEMA: dict[str, Any] = {"type": "object", "additionalProperties": {"type": "string"}}
QUERY_SCHEMA: dict[str, Any] = {
    "type": "object",
    "additionalProperties": {"type": ["string", "number", "boolean"]},
}
USER_AGENT = "llmspell/0.1 (+https://github.com/llmspell)"

_TEXTUAL = re.compile(r"^(text/|application/(.+\+)?(json|xml|javascript|x-www-form-urlencoded))|\+xml|\+json")
_JSON_TYPE = re.compile(r"^application/(.+\+)?json|\+json")
_PATH_TOKEN = re.compile(r"\.?([^.\[\]]+)|\[(-?\d+)\]|\[[\"']([^\"']+)[\"']\]")


def request_timeout(requested: float | None, default: float, ctx: ExecutionContext) -> float:
    """The per-request timeout: the requested one (or the default), never past the run deadline."""
    timeout = float(requested) if requested else default
    remaining = ctx.remaining()
    if remaining is not None:
        timeout = min(timeout, max(remaining, 0.001))
    return timeout


def require_http_url(url: str) -> str:
    """Return ``url`` stripped; ValidationError when it lacks a scheme or an http(s) host.

    The sandbox makes the security decision (other schemes are its SANDBOX_VIOLATION, on
    the request); this only gives a clear message for typos like ``example.com/x``.
    """
    url = url.strip()
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    if not scheme or (scheme in ("http", "https") and not parts.netloc):
        raise ValidationError(
            f"url {url!r} is not an absolute http(s) URL; write it like 'https://example.com/path'",
            details={"field": "url"},
        )
    return url


def with_query(url: str, query: Mapping[str, Any] | None) -> str:
    """Append ``query`` parameters to ``url`` (booleans as ``true``/``false``)."""
    if not query:
        return url
    pairs = [(k, _query_value(v)) for k, v in query.items()]
    parts = urlsplit(url)
    extra = urlencode(pairs)
    joined = f"{parts.query}&{extra}" if parts.query else extra
    return urlunsplit((parts.scheme, parts.netloc, parts.path, joined, parts.fragment))


def _query_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def open_http(ctx: ExecutionContext, timeout_s: float) -> SafeHttp:
    """A sandboxed HTTP client for several requests (``async with open_http(...) as http``)."""
    from llmspell.tools.sandbox import SafeHttp

    return SafeHttp(ctx.policy, timeout_s=timeout_s)


async def fetch(
    ctx: ExecutionContext,
    method: str,
    url: str,
    *,
    timeout_s: float,
    headers: Mapping[str, str] | None = None,
    content: bytes | None = None,
    max_bytes: int | None = None,
    http: SafeHttp | None = None,
) -> HttpResult:
    """One sandboxed request (through ``http`` when given, else a fresh client).

    Raises:
        SandboxViolation: the URL or a redirect hop is not allowed.
        LimitExceeded: the response is larger than ``max_bytes`` / the policy's cap.
        Timeout, ToolError, Cancelled: from the sandbox client or the run.
    """
    ctx.check()
    sent = {"User-Agent": USER_AGENT}
    sent.update(headers or {})
    if http is not None:
        return await http.request(method, url, headers=sent, content=content, max_bytes=max_bytes)
    async with open_http(ctx, timeout_s) as client:
        return await client.request(method, url, headers=sent, content=content, max_bytes=max_bytes)


def build_request_body(params: Mapping[str, Any]) -> tuple[bytes | None, dict[str, str]]:
    """Encode the one body field present (``json``, ``body`` or ``form``) with its content type."""
    present = [key for key in ("json", "body", "form") if key in params]
    if len(present) > 1:
        raise ValidationError(
            f"give only one of json, body or form (got {', '.join(present)})",
            details={"field": present[1]},
        )
    if not present:
        return None, {}
    key = present[0]
    if key == "json":
        data = json.dumps(params["json"], ensure_ascii=False, separators=(",", ":")).encode()
        return data, {"Content-Type": "application/json"}
    if key == "form":
        encoded = urlencode([(k, _query_value(v)) for k, v in params["form"].items()])
        return encoded.encode(), {"Content-Type": "application/x-www-form-urlencoded"}
    return str(params["body"]).encode(), {}


def lower_headers(headers: Mapping[str, str]) -> dict[str, str]:
    """Response headers as a plain dict with lower-case names."""
    return {str(k).lower(): str(v) for k, v in headers.items()}


def charset_of(content_type: str | None, default: str = "utf-8") -> str:
    """The ``charset`` parameter of a Content-Type header, or ``default``."""
    if content_type:
        match = re.search(r"charset=[\"']?([\w.:-]+)", content_type, re.IGNORECASE)
        if match:
            return match.group(1)
    return default


def _decode_text(content: bytes, content_type: str | None) -> str:
    try:
        return content.decode(charset_of(content_type), errors="replace")
    except LookupError:
        return content.decode("utf-8", errors="replace")


def decode_body(content: bytes, content_type: str | None, mode: str = "auto") -> tuple[Any, str]:
    """Decode a response body.

    Args:
        content: the raw bytes.
        content_type: the response's Content-Type header.
        mode: ``auto`` (JSON for JSON types, text for textual or valid UTF-8 bodies, base64
            otherwise), ``text``, ``json`` (ToolError when the body is not JSON) or ``base64``.

    Returns:
        ``(body, kind)`` where kind is ``json``, ``text``, ``base64`` or ``empty``.
    """
    if mode == "base64":
        return base64.b64encode(content).decode("ascii"), "base64"
    if not content:
        return ("" if mode != "json" else None), "empty"
    ctype = (content_type or "").split(";", 1)[0].strip().lower()
    if mode == "json" or (mode == "auto" and _JSON_TYPE.search(ctype)):
        try:
            return json.loads(_decode_text(content, content_type)), "json"
        except ValueError as exc:
            if mode == "json":
                raise ToolError(
                    f"response is not valid JSON ({exc}); use response_as='text' to see it",
                    details={"content_type": content_type},
                ) from exc
    if mode == "text" or _TEXTUAL.search(ctype):
        return _decode_text(content, content_type), "text"
    try:
        return content.decode("utf-8"), "text"
    except UnicodeDecodeError:
        return base64.b64encode(content).decode("ascii"), "base64"


def response_dict(result: HttpResult, mode: str = "auto") -> dict[str, Any]:
    """The JSON shape the web tools return for one HTTP response."""
    headers = lower_headers(result.headers)
    body, kind = decode_body(result.content, headers.get("content-type"), mode)
    return {
        "status": result.status,
        "ok": 200 <= result.status < 400,
        "url": str(result.url),
        "headers": headers,
        "body": body,
        "body_kind": kind,
        "size": len(result.content),
        "elapsed_ms": round(result.elapsed_ms, 3),
    }


def _path_keys(path: str) -> list[str | int]:
    text = path.strip()
    if text.startswith("$"):
        text = text[1:]
    keys: list[str | int] = []
    pos = 0
    while pos < len(text):
        match = _PATH_TOKEN.match(text, pos)
        if match is None or match.end() == pos:
            raise ValidationError(
                f"cannot parse JSON path {path!r} at {text[pos:]!r}; write it like $.a.b[0].c",
                details={"field": "path"},
            )
        pos = match.end()
        name, index, quoted = match.groups()
        keys.append(quoted if quoted is not None else int(index) if index is not None else name)
    return keys


def json_path_get(document: Any, path: str) -> tuple[bool, Any]:
    """Look up a simple JSON path: ``$.data.items[0].name``, ``data.items.0.name``, ``a["b.c"]``.

    Returns:
        ``(found, value)``; ``found`` is False when any step is missing.

    Raises:
        ValidationError: the path cannot be parsed.
    """
    current = document
    for key in _path_keys(path):
        if isinstance(current, list):
            if isinstance(key, str):
                if not re.fullmatch(r"-?\d+", key):
                    return False, None
                key = int(key)
            if not -len(current) <= key < len(current):
                return False, None
            current = current[key]
        elif isinstance(current, dict) and str(key) in current:
            current = current[str(key)]
        else:
            return False, None
    return True, current

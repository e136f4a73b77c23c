"""The webhook-caller tool: POST JSON with retries, backoff and an HMAC-SHA256 signature.

Signature schemes (the receiver recomputes the HMAC with the shared secret):

- ``timestamped`` (default): ``X-Llmspell-Timestamp: <unix seconds>`` and
  ``<signature_header>: sha256=hex(HMAC_SHA256(secret, "<timestamp>." + body))``; the
  timestamp lets receivers reject replays.
- ``body``: ``sha256=hex(HMAC_SHA256(secret, body))``, the shape GitHub uses in
  ``X-Hub-Signature-256``.

Every attempt of one call carries the same ``X-Llmspell-Delivery`` id so receivers can
de-duplicate retried deliveries.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import random
import time
import uuid
from typing import Any

from llmspell.core.context import ExecutionContext
from llmspell.core.errors import LLMSpellError, Timeout, ToolError
from llmspell.tools.base import BaseTool, ToolOutput
from llmspell.tools.builtin.web_common import (
    HEADERS_SCHEMA,
    TIMEOUT_SCHEMA,
    fetch,
    lower_headers,
    open_http,
    request_timeout,
    require_http_url,
    response_dict,
)

__all__ = ["RETRY_STATUSES", "WebhookCallerTool", "sign_payload"]

RETRY_STATUSES = frozenset({408, 425, 429, 500, 502, 503, 504})


def sign_payload(secret: str, body: bytes, *, timestamp: str | None = None) -> str:
    """``sha256=<hex>`` HMAC-SHA256 of ``body`` (prefixed with ``"<timestamp>."`` when given)."""
    message = f"{timestamp}.".encode() + body if timestamp is not None else body
    return "sha256=" + hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def _retry_after(headers: dict[str, str]) -> float | None:
    value = headers.get("retry-after")
    if value is None:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        return None  # an HTTP-date: fall back to our own backoff


class WebhookCallerTool(BaseTool):
    """Deliver a JSON payload to a webhook, retrying transient failures with backoff."""

    name = "webhook-caller"
    category = "web"
    description = (
        "POST a JSON payload to a webhook URL with an optional HMAC-SHA256 signature header, "
        "retrying connection errors, timeouts, 408/425/429 and 5xx with exponential backoff."
    )
    security_level = "restricted"
    timeout_s = 120.0
    schema = {
        "type": "object",
        "properties": {
            "url": {"type": "string", "minLength": 1},
            "payload": {"description": "Any JSON value, sent as the request body."},
            "method": {"type": "string", "enum": ["POST", "PUT", "PATCH"], "default": "POST"},
            "headers": HEADERS_SCHEMA,
            "secret": {"type": "string", "minLength": 1, "description": "HMAC key; omit to send unsigned."},
            "signature_header": {"type": "string", "minLength": 1, "default": "X-Llmspell-Signature"},
            "signature_scheme": {"type": "string", "enum": ["timestamped", "body"], "default": "timestamped"},
            "max_retries": {"type": "integer", "minimum": 0, "maximum": 10, "default": 3},
            "backoff_s": {"type": "number", "minimum": 0, "maximum": 60, "default": 0.5},
            "max_backoff_s": {"type": "number", "minimum": 0, "maximum": 600, "default": 30},
            "timeout_s": TIMEOUT_SCHEMA,
        },
        "required": ["url", "payload"],
        "additionalProperties": False,
    }

    async def invoke(self, params: dict[str, Any], ctx: ExecutionContext) -> Any:
        url = require_http_url(params["url"])
        method = params.get("method", "POST")
        body = json.dumps(params["payload"], ensure_ascii=False, separators=(",", ":")).encode()
        delivery = uuid.uuid4().hex
        max_retries = int(params.get("max_retries", 3))
        backoff = float(params.get("backoff_s", 0.5))
        max_backoff = float(params.get("max_backoff_s", 30))
        attempts: list[dict[str, Any]] = []
        started = time.monotonic()
        timeout = request_timeout(params.get("timeout_s"), 30.0, ctx)
        async with open_http(ctx, timeout) as http:
            for attempt in range(max_retries + 1):
                headers = self._headers(params, body, delivery, attempt)
                wait: float | None = None
                try:
                    result = await fetch(
                        ctx, method, url, timeout_s=timeout, headers=headers, content=body, http=http
                    )
                except (ToolError, Timeout) as exc:
                    # Connection failures and per-request timeouts are transient; sandbox
                    # refusals, size limits and cancellation are not and propagate at once.
                    ctx.check()
                    attempts.append({"attempt": attempt + 1, "error": exc.to_dict()})
                    last_error: LLMSpellError = exc
                else:
                    response = response_dict(result)
                    attempts.append({"attempt": attempt + 1, "status": result.status})
                    if result.status < 300:
                        return self._delivered(response, attempts, delivery, started)
                    last_error = ToolError(
                        f"webhook {url} answered HTTP {result.status}",
                        details={"status": result.status, "body": str(response["body"])[:500]},
                    )
                    if result.status not in RETRY_STATUSES:
                        last_error.details["attempts"] = attempts
                        raise last_error
                    wait = _retry_after(lower_headers(result.headers))
                if attempt == max_retries:
                    break
                delay = min(max_backoff, wait if wait is not None else _backoff(backoff, attempt))
                remaining = ctx.remaining()
                if remaining is not None and delay >= remaining:
                    break
                await asyncio.sleep(delay)
        last_error.details["attempts"] = attempts
        raise ToolError(
            f"webhook delivery to {url} failed after {len(attempts)} attempt(s): {last_error.message}",
            details={"attempts": attempts, "delivery_id": delivery},
        ) from last_error

    @staticmethod
    def _headers(params: dict[str, Any], body: bytes, delivery: str, attempt: int) -> dict[str, str]:
        headers = {
            "Content-Type": "application/json",
            "X-Llmspell-Delivery": delivery,
            "X-Llmspell-Attempt": str(attempt + 1),
            **(params.get("headers") or {}),
        }
        secret = params.get("secret")
        if secret:
            timestamp: str | None = None
            if params.get("signature_scheme", "timestamped") == "timestamped":
                timestamp = str(int(time.time()))
                headers["X-Llmspell-Timestamp"] = timestamp
            signature_header = params.get("signature_header", "X-Llmspell-Signature")
            headers[signature_header] = sign_payload(secret, body, timestamp=timestamp)
        return headers

    @staticmethod
    def _delivered(
        response: dict[str, Any], attempts: list[dict[str, Any]], delivery: str, started: float
    ) -> ToolOutput:
        return ToolOutput(
            operation="deliver",
            result={
                "delivered": True,
                "status": response["status"],
                "attempts": len(attempts),
                "delivery_id": delivery,
                "response": response["body"],
            },
            message=f"delivered with HTTP {response['status']} after {len(attempts)} attempt(s)",
            metadata={"attempts": attempts, "elapsed_ms": round((time.monotonic() - started) * 1000, 3)},
        )


def _backoff(base: float, attempt: int) -> float:
    """Exponential backoff with equal jitter: half fixed, half random, so retries spread out."""
    delay: float = base * (2**attempt)
    return delay / 2 + random.uniform(0, delay / 2)

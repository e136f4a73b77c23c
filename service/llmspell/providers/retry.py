"""Retries with exponential backoff and jitter, bounded by attempts and the run's deadline.

Retried: HTTP 408/409/425/429/5xx, connection failures and per-attempt timeouts (any
:class:`ProviderError` whose ``details["retryable"]`` is true). ``Retry-After`` (seconds
or an HTTP date) replaces the computed backoff. A wait that would cross the deadline is
not started: the last error is raised at once, marked ``details["gave_up"] = "deadline"``.
"""

from __future__ import annotations

import asyncio
import email.utils
import json
import random
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

from ..core.errors import ProviderError, Timeout

__all__ = ["RETRYABLE_STATUS", "RetryPolicy", "call_with_retries", "error_for_status", "parse_retry_after"]

T = TypeVar("T")

RETRYABLE_STATUS: frozenset[int] = frozenset({408, 409, 425, 429, 500, 502, 503, 504})

_HINTS = {
    400: "the provider rejected the request; check the model name and parameters",
    401: "check the API key (the provider's *_API_KEY variable, LLMSPELL_API_KEY or api_key in config)",
    403: "the API key may not use this model; check the key and the model name",
    404: "no such model or endpoint; check the model name and the provider's base_url",
    429: "rate limited by the provider; retry later or lower the request rate",
}


@dataclass(frozen=True, kw_only=True, slots=True)
class RetryPolicy:
    """How often and how long to wait between attempts.

    Attributes:
        max_retries: retries after the first attempt.
        base_delay_s: the first backoff; doubled each retry.
        max_delay_s: backoff ceiling (``Retry-After`` may ask for more, up to
            ``max_retry_after_s``).
        jitter: random fraction added to or removed from each backoff.
        max_retry_after_s: a longer ``Retry-After`` is not waited for.
    """

    max_retries: int = 3
    base_delay_s: float = 0.25
    max_delay_s: float = 8.0
    jitter: float = 0.2
    max_retry_after_s: float = 60.0

    def delay(self, retry: int, retry_after: float | None) -> float:
        """Seconds to wait before retry number ``retry`` (0-based)."""
        if retry_after is not None:
            return max(0.0, float(retry_after))
        backoff = min(self.max_delay_s, self.base_delay_s * (2.0**retry))
        return max(0.0, backoff * (1 + random.uniform(-self.jitter, self.jitter)))


def parse_retry_after(value: str | None) -> float | None:
    """Seconds from a ``Retry-After`` header (delta seconds or HTTP date); None if absent/bad."""
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


def error_for_status(
    provider: str, status: int, body: str, headers: Mapping[str, str] | None = None
) -> ProviderError:
    """A :class:`ProviderError` for an HTTP error answer, with the provider's own message."""
    detail = _provider_message(body)
    hint = _HINTS.get(status) or ("the provider failed; it is retried" if status >= 500 else "request failed")
    message = (
        f"{provider} answered HTTP {status}: {detail}" if detail else f"{provider} answered HTTP {status}"
    )
    details: dict[str, Any] = {
        "provider": provider,
        "status": status,
        "retryable": status in RETRYABLE_STATUS,
    }
    retry_after = parse_retry_after((headers or {}).get("retry-after"))
    if retry_after is not None:
        details["retry_after"] = retry_after
    return ProviderError(f"{message} ({hint})", details=details)


def _provider_message(body: str) -> str:
    try:
        data = json.loads(body)
    except ValueError:
        return body.strip()[:200]
    if isinstance(data, dict):
        error = data.get("error", data)
        if isinstance(error, dict) and error.get("message"):
            return str(error["message"])[:300]
        if isinstance(error, str):
            return error[:300]
    return body.strip()[:200]


async def call_with_retries(
    attempt: Callable[[float | None], Awaitable[T]],
    *,
    policy: RetryPolicy,
    deadline: float | None,
    provider: str,
) -> T:
    """Run ``attempt(remaining_seconds)`` until it succeeds or retrying is pointless.

    Args:
        attempt: one try; receives the seconds left before ``deadline`` (or None) and
            raises ``ProviderError`` (``details["retryable"]`` decides) or ``Timeout``.
        policy: the backoff policy.
        deadline: a ``time.monotonic()`` value, or None.
        provider: the provider name, for messages.

    Raises:
        ProviderError: the last error, when it is not retryable or retries ran out.
        Timeout: the deadline passed before an attempt could start.
    """
    retry = 0
    while True:
        remaining = None if deadline is None else deadline - time.monotonic()
        if remaining is not None and remaining <= 0:
            raise Timeout(
                f"deadline reached before the call to {provider} could finish", details={"provider": provider}
            )
        try:
            return await attempt(remaining)
        except ProviderError as exc:
            if not exc.details.get("retryable") or retry >= policy.max_retries:
                exc.details.setdefault("attempts", retry + 1)
                raise
            retry_after = exc.details.get("retry_after")
            if retry_after is not None and retry_after > policy.max_retry_after_s:
                exc.details["gave_up"] = "retry_after"
                raise
            delay = policy.delay(retry, retry_after)
            if deadline is not None and time.monotonic() + delay >= deadline:
                exc.details["gave_up"] = "deadline"
                exc.details["attempts"] = retry + 1
                raise
            retry += 1
            await asyncio.sleep(delay)

"""Built-in hooks that steer calls: caching, rate limiting and retry with backoff."""

from __future__ import annotations

import asyncio
import fnmatch
import hashlib
import json
import logging
import random
import threading
import time
import weakref
from typing import Any

from ..core.errors import LimitExceeded, ValidationError
from .abc import Hook, HookContext, HookResult
from .breaker import CircuitBreaker
from .builtin_observe import _options

__all__ = ["CachingHook", "RateLimitHook", "RetryHook", "TokenBucket", "normalize"]

log = logging.getLogger("llmspell.hooks")


def normalize(value: Any, *, fold_case: bool = False) -> Any:
    """``value`` in a canonical form: whitespace collapsed, integral floats as ints.

    Two inputs that differ only in key order, spacing (or, with ``fold_case``, case)
    normalise to the same value, hence the same cache key.
    """
    if isinstance(value, str):
        text = " ".join(value.split())
        return text.lower() if fold_case else text
    if isinstance(value, dict):
        return {str(k): normalize(v, fold_case=fold_case) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [normalize(v, fold_case=fold_case) for v in value]
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


class CachingHook(Hook):
    """Answers repeated calls from the result cache (``cache`` result keyed on normalised input).

    Options: ``ttl_s`` (default 300), ``tools``/``models``/``agents`` (globs of what may be
    cached; default everything), ``fold_case`` (default false).
    """

    name = "caching"

    def __init__(
        self,
        *,
        ttl_s: float = 300.0,
        tools: list[str] | None = None,
        models: list[str] | None = None,
        agents: list[str] | None = None,
        fold_case: bool = False,
    ) -> None:
        if ttl_s <= 0:
            raise ValidationError("caching hook ttl_s must be positive", details={"field": "ttl_s"})
        self.ttl_s = float(ttl_s)
        self.only = {"tool": tools, "llm": models, "agent": agents}
        self.fold_case = fold_case

    @classmethod
    def from_options(cls, options: dict[str, Any]) -> CachingHook:
        _options(options, {"ttl_s", "tools", "models", "agents", "fold_case"}, "caching")
        return cls(**options)

    def key(self, ctx: HookContext) -> str:
        """The cache key of a call: a hash of its normalised data."""
        canonical = json.dumps(
            normalize(ctx.data, fold_case=self.fold_case), sort_keys=True, default=str, separators=(",", ":")
        )
        return f"{ctx.point}:{hashlib.sha256(canonical.encode()).hexdigest()[:40]}"

    async def __call__(self, ctx: HookContext) -> HookResult | None:
        kind, name = ctx.component
        globs = self.only.get(kind)
        if globs is not None and not any(fnmatch.fnmatchcase(name, glob) for glob in globs):
            return HookResult.skipped()
        return HookResult.cache(self.key(ctx), self.ttl_s)


class TokenBucket:
    """A token bucket that reserves: ``reserve()`` answers how long to wait for a token.

    Reservation keeps waiters fair: each one is given its own slot in the future.
    """

    def __init__(self, rate: float, burst: float, clock: Any = time.monotonic) -> None:
        self.rate = rate
        self.burst = burst
        self._tokens = burst
        self._clock = clock
        self._at = clock()
        self._lock = threading.Lock()

    def reserve(self, max_wait_s: float) -> float | None:
        """Seconds to wait before the reserved token is yours, or None (nothing reserved)
        when that would exceed ``max_wait_s``."""
        with self._lock:
            now = self._clock()
            self._tokens = min(self.burst, self._tokens + (now - self._at) * self.rate)
            self._at = now
            wait = 0.0 if self._tokens >= 1 else (1 - self._tokens) / self.rate
            if wait > max_wait_s:
                return None
            self._tokens -= 1
            return wait


# Same reservation, atomically in Redis: KEYS[1] bucket; ARGV rate, burst, max_wait_ms.
_REDIS_RESERVE = """
local rate = tonumber(ARGV[1])
local burst = tonumber(ARGV[2])
local max_wait = tonumber(ARGV[3])
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local state = redis.call('HMGET', KEYS[1], 'tokens', 'at')
local tokens = tonumber(state[1]) or burst
local at = tonumber(state[2]) or now
tokens = math.min(burst, tokens + (now - at) * rate / 1000)
local wait = 0
if tokens < 1 then wait = math.ceil((1 - tokens) * 1000 / rate) end
if wait > max_wait then
  redis.call('HSET', KEYS[1], 'tokens', tostring(tokens), 'at', now)
  return -1
end
tokens = tokens - 1
redis.call('HSET', KEYS[1], 'tokens', tostring(tokens), 'at', now)
redis.call('PEXPIRE', KEYS[1], math.ceil(burst * 1000 / rate) + 60000)
return wait
"""


class RateLimitHook(Hook):
    """A token bucket per provider, tool or key, shared through Redis when configured.

    Options: ``rate`` (calls per second), ``burst`` (bucket size, default ``rate``),
    ``per`` (``component`` = each tool/model, ``provider`` = the model's provider,
    ``run``, ``session``, ``api_key`` or ``global``; default ``component``), ``max_wait_s``
    (how long a call may wait for a token, default 10; beyond it ``LIMIT_EXCEEDED``),
    ``redis_url`` (default: ``settings.redis_url``; a Redis failure falls back to the
    local bucket), ``prefix`` (Redis key prefix).
    """

    name = "rate_limit"

    def __init__(
        self,
        *,
        rate: float,
        burst: float | None = None,
        per: str = "component",
        max_wait_s: float = 10.0,
        redis_url: str | None = None,
        prefix: str = "llmspell:ratelimit:",
    ) -> None:
        if not rate or rate <= 0:
            raise ValidationError(
                "rate_limit hook needs rate > 0 (calls per second)", details={"field": "rate"}
            )
        if per not in {"component", "provider", "run", "session", "api_key", "global"}:
            raise ValidationError(
                f"rate_limit per={per!r}: use component, provider, run, session, api_key or global",
                details={"field": "per"},
            )
        self.rate = float(rate)
        self.burst = float(burst if burst is not None else max(1.0, rate))
        self.per = per
        self.max_wait_s = float(max_wait_s)
        self.redis_url = redis_url
        self.prefix = prefix
        self._buckets: dict[str, TokenBucket] = {}
        self._lock = threading.Lock()
        self._clients: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, Any] = weakref.WeakKeyDictionary()
        self.breaker = CircuitBreaker("redis-rate-limit", failure_threshold=3, reset_s=5.0)

    @classmethod
    def from_options(cls, options: dict[str, Any], *, redis_url: str | None = None) -> RateLimitHook:
        _options(options, {"rate", "burst", "per", "max_wait_s", "redis_url", "prefix"}, "rate_limit")
        if "rate" not in options:
            raise ValidationError(
                "rate_limit hook needs options.rate (calls per second)", details={"field": "rate"}
            )
        return cls(**{"redis_url": redis_url, **options})

    def bucket_key(self, ctx: HookContext) -> str:
        kind, name = ctx.component
        execution = ctx.execution
        if self.per == "component":
            return f"{kind}:{name}"
        if self.per == "provider":
            return f"{kind}:{name.partition('/')[0]}"
        if self.per == "run":
            return f"run:{ctx.run_id}"
        if self.per == "session":
            return f"session:{getattr(execution, 'session_id', None) or '-'}"
        if self.per == "api_key":
            metadata = getattr(execution, "metadata", None) or {}
            return f"key:{metadata.get('api_key_id') or '-'}"
        return "global"

    async def __call__(self, ctx: HookContext) -> HookResult | None:
        key = self.bucket_key(ctx)
        wait = await self._reserve(key) if self.redis_url else self._local(key)
        if wait is None:
            raise LimitExceeded(
                f"rate limit of {self.rate:g}/s for {key} reached (a call would wait over "
                f"{self.max_wait_s:g}s); slow down or raise the rate_limit hook's rate",
                details={"limit": "rate", "key": key},
            )
        if wait > 0:
            await asyncio.sleep(wait)
        return None

    def _local(self, key: str) -> float | None:
        bucket = self._buckets.get(key)
        if bucket is None:
            with self._lock:
                bucket = self._buckets.setdefault(key, TokenBucket(self.rate, self.burst))
        return bucket.reserve(self.max_wait_s)

    async def _reserve(self, key: str) -> float | None:
        if not self.breaker.allow():
            return self._local(key)
        started = time.perf_counter()
        try:
            client = self._client()
            waited = await client.eval(
                _REDIS_RESERVE, 1, self.prefix + key, self.rate, self.burst, int(self.max_wait_s * 1000)
            )
        except Exception as exc:
            self.breaker.failure(time.perf_counter() - started)
            log.warning("rate_limit: Redis unavailable (%s); using the local bucket", exc)
            return self._local(key)
        self.breaker.success(time.perf_counter() - started)
        return None if int(waited) < 0 else int(waited) / 1000.0

    def _client(self) -> Any:
        loop = asyncio.get_running_loop()
        client = self._clients.get(loop)
        if client is None:
            import redis.asyncio as aioredis

            client = self._clients[loop] = aioredis.Redis.from_url(str(self.redis_url))
        return client

    async def aclose(self) -> None:
        """Close this loop's Redis client."""
        client = self._clients.pop(asyncio.get_running_loop(), None)
        if client is not None:
            await client.aclose()


_RETRYABLE = ("PROVIDER_ERROR", "TIMEOUT", "TOOL_ERROR", "STORAGE_ERROR")


class RetryHook(Hook):
    """At error points, retries retryable errors with exponential backoff and jitter.

    Options: ``max_attempts`` (default 3), ``base_delay_ms`` (default 200), ``max_delay_ms``
    (default 10000), ``codes`` (error codes to retry; default PROVIDER_ERROR, TIMEOUT,
    TOOL_ERROR, STORAGE_ERROR), ``jitter`` (default true: a random 50-100 % of the delay).
    """

    name = "retry"

    def __init__(
        self,
        *,
        max_attempts: int = 3,
        base_delay_ms: float = 200.0,
        max_delay_ms: float = 10_000.0,
        codes: list[str] | None = None,
        jitter: bool = True,
    ) -> None:
        if max_attempts < 1:
            raise ValidationError(
                "retry hook max_attempts must be at least 1", details={"field": "max_attempts"}
            )
        self.max_attempts = int(max_attempts)
        self.base_delay_ms = float(base_delay_ms)
        self.max_delay_ms = float(max_delay_ms)
        self.codes = frozenset(codes if codes is not None else _RETRYABLE)
        self.jitter = jitter

    @classmethod
    def from_options(cls, options: dict[str, Any]) -> RetryHook:
        _options(options, {"max_attempts", "base_delay_ms", "max_delay_ms", "codes", "jitter"}, "retry")
        return cls(**options)

    def delay_ms(self, attempt: int) -> float:
        """The backoff before attempt ``attempt + 1``."""
        delay: float = min(self.max_delay_ms, self.base_delay_ms * 2.0 ** (attempt - 1))
        return delay * random.uniform(0.5, 1.0) if self.jitter else delay

    async def __call__(self, ctx: HookContext) -> HookResult | None:
        error = ctx.data.get("error") if isinstance(ctx.data, dict) else None
        code = error.get("code") if isinstance(error, dict) else None
        if code not in self.codes or ctx.attempt >= self.max_attempts:
            return None
        return HookResult.retry(delay_ms=self.delay_ms(ctx.attempt), max_attempts=self.max_attempts)

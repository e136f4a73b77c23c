"""The direct path for OpenAI-compatible servers (OpenAI, Ollama, vLLM, llama.cpp, ...).

The transport is aiohttp rather than httpx: on this machine against the fake server a
round trip costs 0.26 ms with aiohttp and 0.86 ms with httpx, and 1,000 concurrent
requests of 500 ms latency finish in ~0.7-1.3 s with aiohttp against 14-30 s with one
httpx client (its connection pool's bookkeeping grows with the square of the waiting
requests). See docs/providers.md.

One pooled ``aiohttp.ClientSession`` per base URL and event loop (connections belong to
the loop that opened them), closed when the loop shuts down (see :mod:`._loop_cleanup`)
or explicitly with :func:`close_clients`. aiohttp errors become ``ProviderError`` /
``Timeout`` in :func:`_translate`, the one boundary.

Per call the path allocates little (no cookie jar, response headers read only on
errors, timeouts and the URL built once): with 1,000 calls waiting at once, every object
a waiting call holds is traversed by each of the garbage collector's full passes.
"""

from __future__ import annotations

import asyncio
import json
import weakref
from collections.abc import AsyncGenerator
from functools import lru_cache
from typing import Any

import aiohttp
from yarl import URL

from ..core.errors import ProviderError, Timeout
from ._loop_cleanup import on_loop_shutdown
from ._wire import StreamAssembler, parse_completion, request_body
from .abc import ChatChunk, ChatModel, ChatRequest, ChatResponse
from .capabilities import Capabilities, capabilities_for
from .retry import RetryPolicy, call_with_retries, error_for_status
from .spec import ModelSpec

__all__ = ["OpenAICompatModel", "close_clients"]

_MAX_CONNECTIONS = 4096

_sessions: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[str, aiohttp.ClientSession]]
_sessions = weakref.WeakKeyDictionary()


def _pooled(base_url: str) -> aiohttp.ClientSession | None:
    per_loop = _sessions.get(asyncio.get_running_loop())
    session = per_loop.get(base_url) if per_loop is not None else None
    return session if session is not None and not session.closed else None


async def _session_for(base_url: str) -> aiohttp.ClientSession:
    loop = asyncio.get_running_loop()
    per_loop = _sessions.get(loop)
    if per_loop is None:
        per_loop = _sessions.setdefault(loop, {})
        await on_loop_shutdown("openai_compat", close_clients)
    session = per_loop.get(base_url)
    if session is None or session.closed:
        connector = aiohttp.TCPConnector(limit=_MAX_CONNECTIONS, limit_per_host=0, keepalive_timeout=30)
        session = aiohttp.ClientSession(
            connector=connector,
            cookie_jar=aiohttp.DummyCookieJar(),
            trust_env=False,
            raise_for_status=False,
        )
        per_loop[base_url] = session
    return session


@lru_cache(maxsize=32)
def _configured_timeout(seconds: float, streaming: bool) -> aiohttp.ClientTimeout:
    if streaming:  # per-read bounds: a long answer may stream for longer than one timeout
        return aiohttp.ClientTimeout(total=None, sock_connect=seconds, sock_read=seconds)
    return aiohttp.ClientTimeout(total=seconds)


def _client_timeout(seconds: float, deadline_bound: bool, *, streaming: bool) -> aiohttp.ClientTimeout:
    # The configured timeout is shared; one bounded by a deadline is different every time.
    if deadline_bound:
        return _configured_timeout.__wrapped__(seconds, streaming)
    return _configured_timeout(seconds, streaming)


async def close_clients(loop: asyncio.AbstractEventLoop | None = None) -> None:
    """Close the pooled sessions of ``loop`` (default: the running loop); they reopen on use."""
    per_loop = _sessions.get(loop or asyncio.get_running_loop())
    while per_loop:
        _, session = per_loop.popitem()
        await session.close()


def _translate(exc: Exception, spec: ModelSpec, timeout: float, deadline_bound: bool) -> Exception:
    """The ``ProviderError``/``Timeout`` for an aiohttp failure (``exc`` itself if it is not one)."""
    provider = spec.provider
    if isinstance(exc, TimeoutError | aiohttp.ServerTimeoutError):
        if deadline_bound:
            return Timeout(f"deadline reached while waiting for {provider}", details={"provider": provider})
        return ProviderError(
            f"{provider} did not answer within {timeout:g}s (raise timeout_s in [providers.{provider}] "
            "if the model is slow)",
            details={"provider": provider, "status": None, "retryable": True},
        )
    if isinstance(exc, aiohttp.ClientConnectionError | aiohttp.ClientPayloadError):
        return ProviderError(
            f"cannot reach {provider} at {spec.base_url}: {exc or type(exc).__name__} "
            "(check base_url and that the server is running)",
            details={"provider": provider, "status": None, "retryable": True},
        )
    if isinstance(exc, aiohttp.ClientError):
        return ProviderError(
            f"request to {provider} failed: {exc}", details={"provider": provider, "status": None}
        )
    return exc


_FAILURES = (TimeoutError, aiohttp.ClientError)


class OpenAICompatModel(ChatModel):
    """A model behind an OpenAI-compatible ``/chat/completions`` endpoint.

    Args:
        spec: the parsed model spec (``base_url`` required).
        policy: the retry policy (default: ``spec.max_retries`` with standard backoff).
    """

    def __init__(self, spec: ModelSpec, policy: RetryPolicy | None = None) -> None:
        if not spec.base_url:
            raise ProviderError(
                f"provider {spec.provider!r} has no base_url; set it in [providers.{spec.provider}]"
            )
        self.spec = spec
        self._base_url = spec.base_url
        self._url = URL(f"{spec.base_url}/chat/completions")
        self._policy = policy or RetryPolicy(max_retries=spec.max_retries)
        self._headers = {"content-type": "application/json", "accept": "application/json"}
        if spec.api_key:
            self._headers["authorization"] = f"Bearer {spec.api_key}"
        self._capabilities = capabilities_for(spec.type, spec.model)

    @property
    def capabilities(self) -> Capabilities:
        return self._capabilities

    def _attempt_timeout(self, request: ChatRequest, remaining: float | None) -> tuple[float, bool]:
        timeout = request.timeout_s or self.spec.timeout_s
        if remaining is not None and remaining <= timeout:
            return remaining, True
        return timeout, False

    def _not_json(self, status: int, text: str) -> ProviderError:
        return ProviderError(
            f"{self.spec.provider} answered something that is not JSON: {text[:200]!r}",
            details={"provider": self.spec.provider, "status": status},
        )

    async def complete(self, request: ChatRequest) -> ChatResponse:
        content = json.dumps(request_body(self.spec.model, request, stream=False)).encode()

        async def attempt(remaining: float | None) -> ChatResponse:
            timeout, bound = self._attempt_timeout(request, remaining)
            session = _pooled(self._base_url) or await _session_for(self._base_url)
            try:
                async with session.post(
                    self._url,
                    data=content,
                    headers=self._headers,
                    timeout=_client_timeout(timeout, bound, streaming=False),
                ) as response:
                    status, raw = response.status, await response.read()
                    if status >= 400:
                        headers = {key.lower(): value for key, value in response.headers.items()}
                        body = raw.decode("utf-8", "replace")
                        raise error_for_status(self.spec.provider, status, body, headers)
            except _FAILURES as exc:
                raise _translate(exc, self.spec, timeout, bound) from exc
            try:
                data: Any = json.loads(raw)
            except ValueError as exc:
                raise self._not_json(status, raw.decode("utf-8", "replace")) from exc
            return parse_completion(data, self.spec.provider)

        return await call_with_retries(
            attempt, policy=self._policy, deadline=request.deadline, provider=self.spec.provider
        )

    async def stream(self, request: ChatRequest) -> AsyncGenerator[ChatChunk, None]:
        content = json.dumps(request_body(self.spec.model, request, stream=True)).encode()
        bounds: list[tuple[float, bool]] = []

        async def attempt(remaining: float | None) -> aiohttp.ClientResponse:
            timeout, bound = self._attempt_timeout(request, remaining)
            bounds[:] = [(timeout, bound)]
            session = _pooled(self._base_url) or await _session_for(self._base_url)
            try:
                response = await session.post(
                    self._url,
                    data=content,
                    headers=self._headers,
                    timeout=_client_timeout(timeout, bound, streaming=True),
                )
                if response.status >= 400:
                    body = (await response.read()).decode("utf-8", "replace")
                    response.release()
                    headers = {key.lower(): value for key, value in response.headers.items()}
                    raise error_for_status(self.spec.provider, response.status, body, headers)
            except _FAILURES as exc:
                raise _translate(exc, self.spec, timeout, bound) from exc
            return response

        response = await call_with_retries(
            attempt, policy=self._policy, deadline=request.deadline, provider=self.spec.provider
        )
        assembler = StreamAssembler(self.spec.provider)
        timeout, bound = bounds[0]
        try:
            async for raw_line in response.content:
                line = raw_line.decode("utf-8", "replace").strip()
                if not line.startswith("data:"):
                    continue
                payload = line[5:].strip()
                if payload == "[DONE]":
                    break
                try:
                    chunk = json.loads(payload)
                except ValueError as exc:
                    raise self._not_json(response.status, payload) from exc
                delta = assembler.feed(chunk)
                if delta:
                    yield ChatChunk(kind="text", text=delta)
                assembler.check_deadline(request.deadline)
        except _FAILURES as exc:
            raise _translate(exc, self.spec, timeout, bound) from exc
        finally:
            response.release()
        yield ChatChunk(kind="done", response=assembler.response())

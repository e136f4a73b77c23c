"""The direct httpx path for OpenAI-compatible servers (OpenAI, Ollama, vLLM, llama.cpp, ...).

One pooled ``httpx.AsyncClient`` per base URL and event loop (httpx connections belong to
the loop that opened them), closed when the loop shuts down (see :mod:`._loop_cleanup`)
or explicitly with :func:`close_clients`. httpx errors become
``ProviderError``/``Timeout`` in :func:`_map_errors`, the one boundary.
"""

from __future__ import annotations

import asyncio
import json
import time
import weakref
from collections.abc import AsyncGenerator, Iterator
from contextlib import contextmanager

import httpx

from ..core.errors import ProviderError, Timeout
from ._loop_cleanup import on_loop_shutdown
from ._wire import StreamAssembler, parse_completion, request_body
from .abc import ChatChunk, ChatModel, ChatRequest, ChatResponse
from .capabilities import Capabilities, capabilities_for
from .retry import RetryPolicy, call_with_retries, error_for_status
from .spec import ModelSpec

__all__ = ["OpenAICompatModel", "close_clients"]

_LIMITS = httpx.Limits(max_connections=4096, max_keepalive_connections=512, keepalive_expiry=30.0)


_clients: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[str, httpx.AsyncClient]]
_clients = weakref.WeakKeyDictionary()


async def _client_for(base_url: str) -> httpx.AsyncClient:
    loop = asyncio.get_running_loop()
    per_loop = _clients.get(loop)
    if per_loop is None:
        per_loop = _clients.setdefault(loop, {})
        await on_loop_shutdown("openai_compat", close_clients)
    client = per_loop.get(base_url)
    if client is None or client.is_closed:
        client = httpx.AsyncClient(limits=_LIMITS, timeout=None, trust_env=False)
        per_loop[base_url] = client
    return client


async def close_clients(loop: asyncio.AbstractEventLoop | None = None) -> None:
    """Close the pooled clients of ``loop`` (default: the running loop); they reopen on use."""
    per_loop = _clients.get(loop or asyncio.get_running_loop())
    while per_loop:
        _, client = per_loop.popitem()
        await client.aclose()


@contextmanager
def _map_errors(spec: ModelSpec, timeout: float, deadline_bound: bool) -> Iterator[None]:
    provider = spec.provider
    try:
        yield
    except httpx.TimeoutException as exc:
        if deadline_bound:
            raise Timeout(
                f"deadline reached while waiting for {provider}", details={"provider": provider}
            ) from exc
        raise ProviderError(
            f"{provider} did not answer within {timeout:g}s (raise timeout_s in [providers.{provider}] "
            "if the model is slow)",
            details={"provider": provider, "status": None, "retryable": True},
        ) from exc
    except httpx.TransportError as exc:
        raise ProviderError(
            f"cannot reach {provider} at {spec.base_url}: {exc or type(exc).__name__} "
            "(check base_url and that the server is running)",
            details={"provider": provider, "status": None, "retryable": True},
        ) from exc
    except httpx.HTTPError as exc:
        raise ProviderError(
            f"request to {provider} failed: {exc}", details={"provider": provider, "status": None}
        ) from exc


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
        self._url = f"{spec.base_url}/chat/completions"
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

    async def complete(self, request: ChatRequest) -> ChatResponse:

        content = json.dumps(request_body(self.spec.model, request, stream=False)).encode()

        async def attempt(remaining: float | None) -> ChatResponse:
            timeout, bound = self._attempt_timeout(request, remaining)
            client = await _client_for(self.spec.base_url or "")
            with _map_errors(self.spec, timeout, bound):
                response = await client.post(
                    self._url, content=content, headers=self._headers, timeout=timeout
                )
            if response.status_code >= 400:
                raise error_for_status(
                    self.spec.provider, response.status_code, response.text, response.headers
                )
            try:
                data = response.json()
            except ValueError as exc:
                raise ProviderError(
                    f"{self.spec.provider} answered something that is not JSON: {response.text[:200]!r}",
                    details={"provider": self.spec.provider, "status": response.status_code},
                ) from exc
            return parse_completion(data, self.spec.provider)

        return await call_with_retries(
            attempt, policy=self._policy, deadline=request.deadline, provider=self.spec.provider
        )

    async def stream(self, request: ChatRequest) -> AsyncGenerator[ChatChunk, None]:

        content = json.dumps(request_body(self.spec.model, request, stream=True)).encode()
        timeout_holder: list[tuple[float, bool]] = []

        async def attempt(remaining: float | None) -> httpx.Response:
            timeout, bound = self._attempt_timeout(request, remaining)
            timeout_holder[:] = [(timeout, bound)]
            client = await _client_for(self.spec.base_url or "")
            built = client.build_request(
                "POST", self._url, content=content, headers=self._headers, timeout=timeout
            )
            with _map_errors(self.spec, timeout, bound):
                response = await client.send(built, stream=True)
                if response.status_code >= 400:
                    body = (await response.aread()).decode("utf-8", "replace")
                    await response.aclose()
                    raise error_for_status(self.spec.provider, response.status_code, body, response.headers)
            return response

        response = await call_with_retries(
            attempt, policy=self._policy, deadline=request.deadline, provider=self.spec.provider
        )
        assembler = StreamAssembler(self.spec.provider)
        timeout, bound = timeout_holder[0]
        try:
            with _map_errors(self.spec, timeout, bound):
                async for line in response.aiter_lines():
                    if not line.startswith("data:"):
                        continue
                    payload = line[5:].strip()
                    if payload == "[DONE]":
                        break
                    try:
                        chunk = json.loads(payload)
                    except ValueError as exc:
                        raise ProviderError(
                            f"{self.spec.provider} sent a stream event that is not JSON: {payload[:200]!r}",
                            details={"provider": self.spec.provider},
                        ) from exc
                    delta = assembler.feed(chunk)
                    if delta:
                        yield ChatChunk(kind="text", text=delta)
                    if request.deadline is not None and time.monotonic() >= request.deadline:
                        raise Timeout(
                            f"deadline reached while {self.spec.provider} was streaming",
                            details={"provider": self.spec.provider},
                        )
        finally:
            await response.aclose()
        yield ChatChunk(kind="done", response=assembler.response())

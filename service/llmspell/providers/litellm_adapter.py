"""The litellm path for providers that do not speak the OpenAI wire protocol.

litellm (~3 s and ~165 MB to import) is imported on first use only, with its price map
kept local (``LITELLM_LOCAL_MODEL_COST_MAP``) so the import never reaches the internet.
Its own retries are off: :mod:`.retry` owns them, as on the direct path. litellm errors
become ``ProviderError``/``Timeout`` in :func:`_map_errors`, the one boundary.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import os
from collections.abc import AsyncGenerator, Iterator
from contextlib import contextmanager
from types import ModuleType
from typing import Any

from ..core.errors import ConfigError, ProviderError, Timeout
from ._loop_cleanup import on_loop_shutdown
from ._wire import StreamAssembler, parse_completion, request_body
from .abc import ChatChunk, ChatModel, ChatRequest, ChatResponse
from .capabilities import Capabilities, capabilities_for
from .retry import RETRYABLE_STATUS, RetryPolicy, call_with_retries, parse_retry_after
from .spec import ModelSpec

__all__ = ["LiteLLMModel", "import_litellm"]

_litellm: ModuleType | None = None


def import_litellm() -> ModuleType:
    """Import litellm once, offline-safe.

    Raises:
        ConfigError: litellm is not installed (with the install command).
    """
    global _litellm
    if _litellm is None:
        os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
        try:
            import litellm
        except ImportError as exc:
            raise ConfigError(
                "pip install 'llmspell[llm]' to use providers other than OpenAI-compatible ones"
            ) from exc
        litellm.suppress_debug_info = True
        litellm.telemetry = False
        _litellm = litellm
    return _litellm


async def _close_loop_clients() -> None:
    """Close the clients litellm cached for the running loop (its cache keys end in the loop id)."""
    cache = getattr(import_litellm(), "in_memory_llm_clients_cache", None)
    entries = getattr(cache, "cache_dict", None)
    if not isinstance(entries, dict):
        return
    suffix = f"-{id(asyncio.get_running_loop())}"
    for key in [key for key in entries if str(key).endswith(suffix)]:
        client = entries.pop(key, None)
        closer = getattr(client, "aclose", None) or getattr(client, "close", None)
        if closer is None:
            continue
        with contextlib.suppress(Exception):  # a half-closed client must not stop the others
            result = closer()
            if inspect.isawaitable(result):
                await result


def _headers_of(exc: BaseException) -> dict[str, str]:
    headers = getattr(exc, "litellm_response_headers", None)
    if headers is None:
        response = getattr(exc, "response", None)
        headers = getattr(response, "headers", None)
    try:
        return {str(k).lower(): str(v) for k, v in dict(headers or {}).items()}
    except (TypeError, ValueError):
        return {}


@contextmanager
def _map_errors(spec: ModelSpec, timeout: float, deadline_bound: bool) -> Iterator[None]:
    litellm = import_litellm()
    provider = spec.provider
    try:
        yield
    except litellm.exceptions.Timeout as exc:
        if deadline_bound:
            raise Timeout(
                f"deadline reached while waiting for {provider}", details={"provider": provider}
            ) from exc
        raise ProviderError(
            f"{provider} did not answer within {timeout:g}s",
            details={"provider": provider, "retryable": True},
        ) from exc
    except (ProviderError, Timeout):
        raise
    except Exception as exc:
        status = getattr(exc, "status_code", None)
        status = status if isinstance(status, int) else None
        connection = isinstance(exc, litellm.exceptions.APIConnectionError)
        details: dict[str, Any] = {
            "provider": provider,
            "status": None if connection else status,
            "retryable": connection or status in RETRYABLE_STATUS,
        }
        retry_after = parse_retry_after(_headers_of(exc).get("retry-after"))
        if retry_after is not None:
            details["retry_after"] = retry_after
        message = str(getattr(exc, "message", "") or exc).split("\n", 1)[0][:300]
        where = f"HTTP {status}" if status and not connection else "error"
        raise ProviderError(f"{provider} answered {where} via litellm: {message}", details=details) from exc


class LiteLLMModel(ChatModel):
    """A model reached through litellm (Anthropic, Gemini, Bedrock, ``type="litellm"``...)."""

    def __init__(self, spec: ModelSpec, policy: RetryPolicy | None = None) -> None:
        self.spec = spec
        self._policy = policy or RetryPolicy(max_retries=spec.max_retries)
        self._capabilities = capabilities_for(spec.type, spec.model)

    @property
    def capabilities(self) -> Capabilities:
        return self._capabilities

    def _arguments(self, request: ChatRequest, *, stream: bool, timeout: float) -> dict[str, Any]:
        arguments = request_body(self.spec.litellm_model, request, stream=stream)
        arguments["timeout"] = timeout
        arguments["max_retries"] = 0
        arguments["num_retries"] = 0
        if self.spec.base_url:
            arguments["api_base"] = self.spec.base_url
        if self.spec.api_key:
            arguments["api_key"] = self.spec.api_key
        return arguments

    def _attempt_timeout(self, request: ChatRequest, remaining: float | None) -> tuple[float, bool]:
        timeout = request.timeout_s or self.spec.timeout_s
        if remaining is not None and remaining <= timeout:
            return remaining, True
        return timeout, False

    async def complete(self, request: ChatRequest) -> ChatResponse:
        litellm = import_litellm()
        await on_loop_shutdown("litellm", _close_loop_clients)

        async def attempt(remaining: float | None) -> ChatResponse:
            timeout, bound = self._attempt_timeout(request, remaining)
            with _map_errors(self.spec, timeout, bound):
                response = await litellm.acompletion(
                    **self._arguments(request, stream=False, timeout=timeout)
                )
            return parse_completion(response.model_dump(), self.spec.provider)

        return await call_with_retries(
            attempt, policy=self._policy, deadline=request.deadline, provider=self.spec.provider
        )

    async def stream(self, request: ChatRequest) -> AsyncGenerator[ChatChunk, None]:
        litellm = import_litellm()
        await on_loop_shutdown("litellm", _close_loop_clients)
        bounds: list[tuple[float, bool]] = []

        async def attempt(remaining: float | None) -> Any:
            timeout, bound = self._attempt_timeout(request, remaining)
            bounds[:] = [(timeout, bound)]
            with _map_errors(self.spec, timeout, bound):
                return await litellm.acompletion(**self._arguments(request, stream=True, timeout=timeout))

        wrapper = await call_with_retries(
            attempt, policy=self._policy, deadline=request.deadline, provider=self.spec.provider
        )
        assembler = StreamAssembler(self.spec.provider)
        timeout, bound = bounds[0]
        with _map_errors(self.spec, timeout, bound):
            async for chunk in wrapper:
                delta = assembler.feed(chunk.model_dump())
                if delta:
                    yield ChatChunk(kind="text", text=delta)
                assembler.check_deadline(request.deadline)
        yield ChatChunk(kind="done", response=assembler.response())

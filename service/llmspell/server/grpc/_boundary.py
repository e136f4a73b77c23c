"""The one boundary of every gRPC call: authenticate, check the scope, map errors.

Every servicer method is wrapped by :func:`rpc`. An ``LLMSpellError`` becomes the gRPC
status of :data:`STATUS_BY_CODE` with the error's message as details; the stable code and
the error's details (JSON) travel in the trailing metadata ``llmspell-error-code`` and
``llmspell-error-details``. Any other exception is logged and answered ``INTERNAL``
without leaking its text.
"""

from __future__ import annotations

import functools
import inspect
import json
import logging
from collections.abc import Callable, Mapping
from types import MappingProxyType
from typing import Any, NoReturn, TypeVar

import grpc

from ...core.errors import LLMSpellError
from ...runtime.abc import ControlPlane
from ..auth import Authenticator, Principal, extract_key

__all__ = [
    "ERROR_CODE_KEY",
    "ERROR_DETAILS_KEY",
    "STATUS_BY_CODE",
    "Servicer",
    "abort_with",
    "metadata_value",
    "rpc",
    "status_for",
]

logger = logging.getLogger("llmspell.server.grpc")

ERROR_CODE_KEY = "llmspell-error-code"
ERROR_DETAILS_KEY = "llmspell-error-details"
# Trailing metadata shares the HTTP/2 header budget: big details are dropped, not truncated.
_MAX_DETAILS_BYTES = 4096
# The status message travels percent-encoded in the same trailers (up to 3 bytes per byte):
# an error quoting a huge input ("No run named 'xxxx...'") must not push them past the
# client's limit, which would replace the status and code by RESOURCE_EXHAUSTED.
_MAX_MESSAGE_BYTES = 1024

STATUS_BY_CODE: Mapping[str, grpc.StatusCode] = MappingProxyType(
    {
        "VALIDATION": grpc.StatusCode.INVALID_ARGUMENT,
        "NOT_FOUND": grpc.StatusCode.NOT_FOUND,
        "CONFLICT": grpc.StatusCode.ALREADY_EXISTS,
        "UNAUTHENTICATED": grpc.StatusCode.UNAUTHENTICATED,
        "PERMISSION_DENIED": grpc.StatusCode.PERMISSION_DENIED,
        "SANDBOX_VIOLATION": grpc.StatusCode.PERMISSION_DENIED,
        "LIMIT_EXCEEDED": grpc.StatusCode.RESOURCE_EXHAUSTED,
        "TIMEOUT": grpc.StatusCode.DEADLINE_EXCEEDED,
        "CANCELLED": grpc.StatusCode.CANCELLED,
        "CONFIG_ERROR": grpc.StatusCode.FAILED_PRECONDITION,
        "PROVIDER_ERROR": grpc.StatusCode.UNAVAILABLE,
        "STORAGE_ERROR": grpc.StatusCode.UNAVAILABLE,
    }
)


def status_for(code: str) -> grpc.StatusCode:
    """The gRPC status for an llmspell error code (``INTERNAL`` for any other code)."""
    return STATUS_BY_CODE.get(code, grpc.StatusCode.INTERNAL)


def metadata_value(context: grpc.aio.ServicerContext, key: str) -> str | None:
    """The first value of the invocation metadata ``key`` (lower case), or None."""
    for item_key, value in context.invocation_metadata() or ():
        if item_key == key:
            return value if isinstance(value, str) else value.decode("utf-8", "replace")
    return None


def _bounded(message: str) -> str:
    """``message`` cut to at most :data:`_MAX_MESSAGE_BYTES` bytes of UTF-8 (marked by "...")."""
    encoded = message.encode("utf-8")
    if len(encoded) <= _MAX_MESSAGE_BYTES:
        return message
    return encoded[: _MAX_MESSAGE_BYTES - 3].decode("utf-8", "ignore") + "..."


async def abort_with(context: grpc.aio.ServicerContext, exc: Exception) -> NoReturn:
    """End the call with the status, details and trailing metadata for ``exc``."""
    if isinstance(exc, LLMSpellError):
        code, message, details = exc.code, exc.message, exc.details
    else:
        logger.error("unexpected error in a gRPC call", exc_info=exc)
        code, message, details = "INTERNAL", "internal server error (see the server log)", {}
    trailing: list[tuple[str, str]] = [(ERROR_CODE_KEY, code)]
    if details:
        encoded = json.dumps(details, ensure_ascii=True, default=str, separators=(",", ":"))
        if len(encoded) <= _MAX_DETAILS_BYTES:
            trailing.append((ERROR_DETAILS_KEY, encoded))
    await context.abort(status_for(code), _bounded(message), trailing_metadata=tuple(trailing))
    raise AssertionError("grpc.aio ServicerContext.abort returned")  # abort always raises


class Servicer:
    """Base of the llmspell servicers: the control plane to call and the authenticator."""

    def __init__(self, control: ControlPlane, auth: Authenticator) -> None:
        self._control = control
        self._auth = auth

    async def _authorize(self, context: grpc.aio.ServicerContext, scope: str) -> Principal:
        raw_key = extract_key(metadata_value(context, "authorization"), metadata_value(context, "x-api-key"))
        principal = await self._auth.authenticate(raw_key)
        principal.require(scope)
        return principal


Handler = TypeVar("Handler", bound=Callable[..., Any])


def rpc(scope: str) -> Callable[[Handler], Handler]:
    """Wrap a servicer method: authorise for ``scope``, then map every error to a status.

    Works on coroutine methods (unary responses) and async generator methods (server
    streaming); an error raised mid-stream ends the stream with the mapped status.
    """

    def decorate(method: Handler) -> Handler:
        if inspect.isasyncgenfunction(method):

            @functools.wraps(method)
            async def streaming(self: Servicer, request: Any, context: grpc.aio.ServicerContext) -> Any:
                try:
                    await self._authorize(context, scope)
                    async for item in method(self, request, context):
                        yield item
                except grpc.aio.AbortError:
                    raise
                except Exception as exc:
                    await abort_with(context, exc)

            return streaming  # type: ignore[return-value]

        @functools.wraps(method)
        async def unary(self: Servicer, request: Any, context: grpc.aio.ServicerContext) -> Any:
            try:
                await self._authorize(context, scope)
                return await method(self, request, context)
            except grpc.aio.AbortError:
                raise
            except Exception as exc:
                await abort_with(context, exc)

        return unary  # type: ignore[return-value]

    return decorate

"""A server interceptor recording ``llmspell_grpc_request_duration_seconds{method,code}``.

It wraps every async handler (unary or streaming, including health and reflection); a
streaming call is timed until its last message. The code is the one the call ended with:
the status set by ``abort``/``set_code``, ``CANCELLED`` when the client went away, else
``OK`` (``UNKNOWN`` for an exception that set no status).
"""

from __future__ import annotations

import asyncio
import inspect
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import grpc

from ...core.metrics import GRPC_REQUEST_DURATION

__all__ = ["MetricsInterceptor"]

Behavior = Callable[[Any, grpc.aio.ServicerContext], Any]


def _code_name(context: grpc.aio.ServicerContext, exc: BaseException | None) -> str:
    code = context.code()
    if code is not None:
        # A status may be a StatusCode or, after abort, the raw int value.
        return str(code.name) if isinstance(code, grpc.StatusCode) else _by_value(code)
    if exc is None:
        return "OK"
    if isinstance(exc, asyncio.CancelledError):
        return "CANCELLED"
    return "UNKNOWN"


def _by_value(code: Any) -> str:
    for status in grpc.StatusCode:
        if status.value[0] == code:
            return str(status.name)
    return "UNKNOWN"


def _timed_unary(method: str, behavior: Behavior) -> Callable[[Any, Any], Awaitable[Any]]:
    observe = GRPC_REQUEST_DURATION.labels

    async def handler(request: Any, context: grpc.aio.ServicerContext) -> Any:
        started = time.perf_counter()
        failure: BaseException | None = None
        try:
            return await behavior(request, context)
        except BaseException as exc:
            failure = exc
            raise
        finally:
            observe(method, _code_name(context, failure)).observe(time.perf_counter() - started)

    return handler


def _timed_stream(method: str, behavior: Behavior) -> Callable[[Any, Any], AsyncIterator[Any]]:
    observe = GRPC_REQUEST_DURATION.labels

    async def handler(request: Any, context: grpc.aio.ServicerContext) -> AsyncIterator[Any]:
        started = time.perf_counter()
        failure: BaseException | None = None
        try:
            async for item in behavior(request, context):
                yield item
        except BaseException as exc:
            failure = exc
            raise
        finally:
            observe(method, _code_name(context, failure)).observe(time.perf_counter() - started)

    return handler


def _wrap(method: str, behavior: Behavior | None) -> Any:
    """A timed copy of ``behavior``; sync behaviours (run in a thread by grpc) are left alone."""
    if behavior is None:
        return None
    if inspect.isasyncgenfunction(behavior):
        return _timed_stream(method, behavior)
    if inspect.iscoroutinefunction(behavior):
        return _timed_unary(method, behavior)
    return behavior


class MetricsInterceptor(grpc.aio.ServerInterceptor):  # type: ignore[misc]
    """Time every call into the Prometheus histogram (one label set per method and code)."""

    async def intercept_service(
        self,
        continuation: Callable[[grpc.HandlerCallDetails], Awaitable[grpc.RpcMethodHandler | None]],
        handler_call_details: grpc.HandlerCallDetails,
    ) -> grpc.RpcMethodHandler | None:
        handler = await continuation(handler_call_details)
        if handler is None:
            return None
        method = handler_call_details.method
        serializers = {
            "request_deserializer": handler.request_deserializer,
            "response_serializer": handler.response_serializer,
        }
        if handler.unary_unary is not None:
            return grpc.unary_unary_rpc_method_handler(_wrap(method, handler.unary_unary), **serializers)
        if handler.unary_stream is not None:
            return grpc.unary_stream_rpc_method_handler(_wrap(method, handler.unary_stream), **serializers)
        if handler.stream_unary is not None:
            return grpc.stream_unary_rpc_method_handler(_wrap(method, handler.stream_unary), **serializers)
        return grpc.stream_stream_rpc_method_handler(_wrap(method, handler.stream_stream), **serializers)

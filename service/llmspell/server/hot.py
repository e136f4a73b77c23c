"""Hot routes: run creation answered without FastAPI's per-request machinery.

``POST /v1/runs`` and ``POST /v1/runs/wait`` carry most of a busy daemon's requests. For
them FastAPI's middleware layers, dependency solving and response serialisation cost more
than executing a short script. Here a valid request is authenticated by the same
:class:`Authenticator`, parsed by the same pydantic model, served by the same control
plane and answered with the same JSON and the same problem+json errors.

A request the fast path does not take as it is (a body that does not validate, a content
type other than JSON) is handed, body and all, to the FastAPI app, so its answer is
exactly the documented route's. The routes stay declared in FastAPI for OpenAPI.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError as PydanticValidationError
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ..core.errors import LLMSpellError
from ..runtime.abc import ControlPlane, RunRequest
from .auth import Authenticator, extract_key
from .errors import error_problem, problem
from .routes.runs import RunBody, run_request

__all__ = ["HotRoute", "HotRoutes", "send_problem"]

log = logging.getLogger("llmspell.server")

_JSON = b"application/json"
_PROBLEM = b"application/problem+json"


@dataclass(frozen=True, slots=True)
class HotRoute:
    """A run-creating route: its template (the metrics label), scope and success status."""

    path: str
    permission: str
    status: int
    call: Callable[[ControlPlane, RunRequest], Awaitable[dict[str, Any]]]


RUN_ROUTES = (
    HotRoute("/v1/runs", "runs:write", 202, lambda plane, request: plane.create_run(request)),
    HotRoute("/v1/runs/wait", "runs:write", 200, lambda plane, request: plane.wait_run(request)),
)


class _Delegate(Exception):
    """The request goes to the FastAPI app."""


class HotRoutes:
    """Serves :data:`RUN_ROUTES` for an app; ``fallback`` is that app's full ASGI stack."""

    def __init__(self, control: ControlPlane, auth: Authenticator, *, max_body_bytes: int) -> None:
        self.control = control
        self.auth = auth
        self.max_body_bytes = max_body_bytes
        self.routes = {("POST", route.path): route for route in RUN_ROUTES}

    def match(self, scope: Scope) -> HotRoute | None:
        return self.routes.get((scope["method"], scope["path"]))

    async def serve(
        self, route: HotRoute, scope: Scope, receive: Receive, send: Send, fallback: ASGIApp
    ) -> None:
        started = time.perf_counter()
        wanted = _wanted_headers(scope["headers"])
        declared = wanted.get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.max_body_bytes:
            status = await self._too_large(send)
        else:
            body = await _read_body(receive, self.max_body_bytes)
            if body is None:
                status = await self._too_large(send)
            else:
                try:
                    status, payload, media_type = await self._answer(route, wanted, body)
                except _Delegate:
                    await fallback(scope, _replay(body, receive), send)
                    return  # the app's own middleware measured it
                await _send(send, status, payload, media_type)
        from ..core import metrics

        metrics.HTTP_REQUEST_DURATION.labels(scope["method"], route.path, str(status)).observe(
            time.perf_counter() - started
        )

    async def _answer(
        self, route: HotRoute, headers: dict[bytes, bytes], body: bytes
    ) -> tuple[int, bytes, bytes]:
        content_type = headers.get(b"content-type", b"").partition(b";")[0].strip().lower()
        if content_type != _JSON:
            raise _Delegate
        try:
            authorization, api_key = headers.get(b"authorization"), headers.get(b"x-api-key")
            principal = await self.auth.authenticate(
                extract_key(
                    authorization.decode("latin-1") if authorization is not None else None,
                    api_key.decode("latin-1") if api_key is not None else None,
                )
            )
            principal.require(route.permission)
            try:
                parsed = RunBody.model_validate_json(body)
            except PydanticValidationError:
                raise _Delegate from None
            key = headers.get(b"idempotency-key")
            answer = await route.call(
                self.control, run_request(parsed, key.decode("latin-1") if key is not None else None)
            )
            return route.status, _dumps(answer), _JSON
        except LLMSpellError as exc:
            status, body_ = error_problem(exc)
            return status, _dumps(body_), _PROBLEM
        except _Delegate:
            raise
        except Exception:
            log.exception("unhandled error on %s", route.path)
            return 500, _dumps(problem(500, "INTERNAL", "internal error")), _PROBLEM

    async def _too_large(self, send: Send) -> int:
        await send_problem(send, 413, "LIMIT_EXCEEDED", f"request body exceeds {self.max_body_bytes} bytes")
        return 413


_WANTED = frozenset({b"content-length", b"content-type", b"authorization", b"x-api-key", b"idempotency-key"})


def _wanted_headers(headers: list[tuple[bytes, bytes]]) -> dict[bytes, bytes]:
    """The request headers the hot routes read (names arrive lower-cased; first one wins)."""
    found: dict[bytes, bytes] = {}
    for name, value in headers:
        if name in _WANTED and name not in found:
            found[name] = value
    return found


async def _read_body(receive: Receive, limit: int) -> bytes | None:
    """The whole request body, or None when it exceeds ``limit`` bytes."""
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] != "http.request":
            break  # the client went away; the app sees an empty body
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            return None
        chunks.append(chunk)
        if not message.get("more_body", False):
            break
    return b"".join(chunks)


def _replay(body: bytes, receive: Receive) -> Receive:
    """A ``receive`` that hands the already-read body to the app, then defers to ``receive``."""
    given = False

    async def replayed() -> Message:
        nonlocal given
        if given:
            return await receive()
        given = True
        return {"type": "http.request", "body": body, "more_body": False}

    return replayed


def _dumps(content: Any) -> bytes:
    """JSON exactly as FastAPI's ``JSONResponse`` renders an endpoint's return value."""
    try:
        text = json.dumps(content, ensure_ascii=False, allow_nan=False, indent=None, separators=(",", ":"))
    except TypeError:
        from fastapi.encoders import jsonable_encoder

        text = json.dumps(
            jsonable_encoder(content), ensure_ascii=False, allow_nan=False, indent=None, separators=(",", ":")
        )
    return text.encode("utf-8")


async def send_problem(send: Send, status: int, code: str, detail: str) -> None:
    """Answer with a problem+json body (for ASGI layers below FastAPI's error handlers)."""
    await _send(send, status, _dumps(problem(status, code, detail)), _PROBLEM)


async def _send(send: Send, status: int, body: bytes, media_type: bytes) -> None:
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [(b"content-length", str(len(body)).encode()), (b"content-type", media_type)],
        }
    )
    await send({"type": "http.response.body", "body": body})

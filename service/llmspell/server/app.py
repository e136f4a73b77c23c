"""The REST application (FastAPI): routes, problem+json errors, size limits, metrics."""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from .. import __version__
from ..core.errors import LLMSpellError
from ..runtime.abc import ControlPlane
from .auth import Authenticator, extract_key
from .errors import error_problem, problem
from .hot import HotRoutes, send_problem
from .routes import agents, events, hooks, runs, schedules, scripts, sessions, state, tools, workflows

__all__ = ["create_app"]

_PROBLEM = "application/problem+json"


class _BodyLimit:
    """413 for request bodies over ``max_bytes`` (declared or streamed)."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or _streams_artifact(scope):
            await self.app(scope, receive, send)
            return
        for name, value in scope.get("headers", []):
            if name == b"content-length" and value.isdigit() and int(value) > self.max_bytes:
                await send_problem(
                    send, 413, "LIMIT_EXCEEDED", f"request body exceeds {self.max_bytes} bytes"
                )
                return
        received = 0
        too_large = False

        async def limited_receive() -> Message:
            nonlocal received, too_large
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    too_large = True
                    raise _TooLarge
            return message

        try:
            await self.app(scope, limited_receive, send)
        except _TooLarge:
            await send_problem(send, 413, "LIMIT_EXCEEDED", f"request body exceeds {self.max_bytes} bytes")


def _streams_artifact(scope: Scope) -> bool:
    # Artifact uploads stream to the blob store with their own size limit (state.max_artifact_bytes).
    path: str = scope.get("path", "")
    return scope.get("method") == "POST" and path.startswith("/v1/sessions/") and path.endswith("/artifacts")


class _TooLarge(Exception):
    pass


# Routes outside /v1 (operations and API documentation): each needs a key unless it is one
# of server.public_paths. The /v1 routes check their own scopes.
_GATED_PATHS = frozenset(
    {"/health", "/ready", "/metrics", "/openapi.json", "/docs", "/docs/oauth2-redirect", "/redoc"}
)


class _Gate:
    """401 for the gated paths not in ``public_paths`` without a valid API key (any scope)."""

    def __init__(self, app: ASGIApp, auth: Authenticator, guarded: frozenset[str]) -> None:
        self.app = app
        self.auth = auth
        self.guarded = guarded

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope.get("path") in self.guarded:
            headers = dict(scope.get("headers", []))
            authorization, api_key = headers.get(b"authorization"), headers.get(b"x-api-key")
            try:
                await self.auth.authenticate(
                    extract_key(
                        authorization.decode("latin-1") if authorization is not None else None,
                        api_key.decode("latin-1") if api_key is not None else None,
                    )
                )
            except LLMSpellError as exc:
                status, _ = error_problem(exc)
                await send_problem(send, status, exc.code, exc.message)
                return
        await self.app(scope, receive, send)


class _Measure:
    """Request latency per method, route template and status (pure ASGI: no per-request task)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def record_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, record_status)
        finally:
            from ..core import metrics

            route = getattr(scope.get("route"), "path", "unmatched")
            metrics.HTTP_REQUEST_DURATION.labels(scope["method"], route, str(status)).observe(
                time.perf_counter() - started
            )


class _App(FastAPI):
    """FastAPI, with run creation served first by :class:`HotRoutes`."""

    hot_routes: HotRoutes | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        hot = self.hot_routes
        if hot is not None and scope["type"] == "http":
            route = hot.match(scope)
            if route is not None:
                await hot.serve(route, scope, receive, send, super().__call__)
                return
        await super().__call__(scope, receive, send)


_PROBLEM_SCHEMA: dict[str, Any] = {
    "title": "Problem",
    "type": "object",
    "description": "An error (RFC 9457 problem details); `code` is the stable error code.",
    "properties": {
        "type": {"type": "string"},
        "title": {"type": "string"},
        "status": {"type": "integer"},
        "detail": {"type": "string"},
        "code": {"type": "string"},
        "details": {"type": "object"},
    },
    "required": ["type", "title", "status", "detail", "code"],
}


def _problem_openapi(app: FastAPI) -> None:
    """Declare what the app answers to a bad request: 400 problem+json, not FastAPI's 422."""
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is not None:
            return app.openapi_schema
        schema = generate()
        bad_request = {
            "description": "Bad Request (VALIDATION or CONFIG_ERROR)",
            "content": {_PROBLEM: {"schema": {"$ref": "#/components/schemas/Problem"}}},
        }
        for operations in schema.get("paths", {}).values():
            for operation in operations.values():
                responses = operation.get("responses", {})
                if responses.pop("422", None) is not None:
                    responses.setdefault("400", bad_request)
        schemas = schema.setdefault("components", {}).setdefault("schemas", {})
        schemas["Problem"] = _PROBLEM_SCHEMA
        for name in ("HTTPValidationError", "ValidationError"):  # FastAPI's 422 body, if unused now
            if f'"#/components/schemas/{name}"' not in json.dumps(schema):
                schemas.pop(name, None)
        app.openapi_schema = schema
        return schema

    app.openapi = openapi  # type: ignore[method-assign]


def create_app(
    control: ControlPlane,
    auth: Authenticator,
    *,
    max_body_bytes: int = 1_048_576,
    public_paths: Sequence[str] = ("/health", "/ready", "/metrics"),
) -> FastAPI:
    """The FastAPI app over ``control``; of the routes outside ``/v1`` only ``public_paths``
    are served without an API key."""
    app = _App(
        title="llmspell",
        version=__version__,
        description="Scriptable LLM orchestration: runs, scripts, schedules and tools.",
        # Our metrics are Prometheus (/metrics); FastAPI's OpenTelemetry hooks would only cost
        # a provider lookup per request.
        telemetry={"tracing": False, "metrics": False, "logs": False},
    )
    app.state.control = control
    app.state.auth = auth

    @app.exception_handler(LLMSpellError)
    async def on_error(request: Request, exc: LLMSpellError) -> JSONResponse:
        status, body = error_problem(exc)
        return JSONResponse(body, status_code=status, media_type=_PROBLEM)

    @app.exception_handler(RequestValidationError)
    async def on_invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = exc.errors()
        first = errors[0] if errors else {"loc": (), "msg": "invalid request"}
        where = ".".join(str(part) for part in first.get("loc", ()) if part != "body")
        detail = f"{where}: {first.get('msg')}" if where else str(first.get("msg"))
        return JSONResponse(problem(400, "VALIDATION", detail), status_code=400, media_type=_PROBLEM)

    @app.exception_handler(StarletteHTTPException)
    async def on_http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        code = {404: "NOT_FOUND", 405: "VALIDATION", 413: "LIMIT_EXCEEDED"}.get(exc.status_code, "VALIDATION")
        return JSONResponse(
            problem(exc.status_code, code, str(exc.detail)), status_code=exc.status_code, media_type=_PROBLEM
        )

    @app.exception_handler(Exception)
    async def on_crash(request: Request, exc: Exception) -> JSONResponse:
        import logging

        logging.getLogger("llmspell.server").exception("unhandled error on %s", request.url.path)
        return JSONResponse(problem(500, "INTERNAL", "internal error"), status_code=500, media_type=_PROBLEM)

    @app.get("/health", tags=["operations"])
    async def health() -> dict[str, str]:
        """The process is alive."""
        return {"status": "ok"}

    @app.get("/ready", tags=["operations"])
    async def ready() -> JSONResponse:
        """Database reachable, migrations current, Redis reachable when configured."""
        state = await control.ready()
        return JSONResponse(state, status_code=200 if state["ready"] else 503)

    @app.get("/metrics", tags=["operations"])
    async def metrics_endpoint() -> Response:
        """Prometheus metrics."""
        from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

        return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)

    for module in (runs, scripts, schedules, tools, state, sessions):
        app.include_router(module.router)
    app.include_router(agents.router)
    app.include_router(workflows.router)
    app.include_router(hooks.router)
    app.include_router(events.router)
    _problem_openapi(app)
    app.add_middleware(_Gate, auth=auth, guarded=_GATED_PATHS - frozenset(public_paths))
    app.add_middleware(_Measure)
    app.add_middleware(_BodyLimit, max_bytes=max_body_bytes)
    app.hot_routes = HotRoutes(control, auth, max_body_bytes=max_body_bytes)
    return app

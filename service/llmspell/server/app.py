"""The REST application (FastAPI): routes, problem+json errors, size limits, metrics."""

from __future__ import annotations

import time

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from .. import __version__
from ..core.errors import LLMSpellError
from ..runtime.abc import ControlPlane
from .auth import Authenticator
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


def create_app(control: ControlPlane, auth: Authenticator, *, max_body_bytes: int = 1_048_576) -> FastAPI:
    """The FastAPI app over ``control``."""
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
    app.add_middleware(_Measure)
    app.add_middleware(_BodyLimit, max_bytes=max_body_bytes)
    app.hot_routes = HotRoutes(control, auth, max_body_bytes=max_body_bytes)
    return app

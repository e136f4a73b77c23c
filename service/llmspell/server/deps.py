"""FastAPI dependencies: the daemon, and authentication with a required scope."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from fastapi import Request

from ..runtime.abc import ControlPlane
from .auth import Authenticator, Principal, extract_key

__all__ = ["control", "require"]


async def control(request: Request) -> ControlPlane:
    """The control plane of this app (async: a sync dependency would cost a thread hop)."""
    plane: ControlPlane = request.app.state.control
    return plane


def require(scope: str) -> Callable[[Request], Awaitable[Principal]]:
    """A dependency that authenticates the caller and checks ``scope``."""

    async def check(request: Request) -> Principal:
        auth: Authenticator = request.app.state.auth
        key = extract_key(request.headers.get("authorization"), request.headers.get("x-api-key"))
        principal = await auth.authenticate(key)
        principal.require(scope)
        return principal

    return check

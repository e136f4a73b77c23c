"""Start and stop the daemon's gRPC server (grpc.aio).

Serves ``llmspell.v1.Runs``, ``Scripts``, ``Schedules``, ``Tools``, ``Agents`` (over the
daemon's stored agents) and ``Sessions`` (over its persistence services), the standard
``grpc.health.v1.Health`` (SERVING for ``""`` and each service) and server reflection.
Graceful shutdown: :func:`stop_grpc_server` first reports NOT_SERVING, so load balancers
drain the replica, then lets in-flight calls finish within the grace.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from weakref import WeakKeyDictionary

import grpc
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection

from ...core.errors import ConfigError
from ...runtime.abc import ControlPlane
from ..auth import Authenticator
from ._agents import AgentsServicer
from ._boundary import Servicer
from ._runs import RunsServicer
from ._schedules import SchedulesServicer
from ._scripts import ScriptsServicer
from ._sessions import SessionsServicer
from ._tools import ToolsServicer
from .gen.llmspell.v1 import (
    agents_pb2_grpc,
    runs_pb2,
    runs_pb2_grpc,
    schedules_pb2_grpc,
    scripts_pb2_grpc,
    sessions_pb2_grpc,
    tools_pb2_grpc,
)

__all__ = ["SERVICE_NAMES", "bound_port", "set_serving", "start_grpc_server", "stop_grpc_server"]

_PACKAGE = runs_pb2.DESCRIPTOR.package
SERVICE_NAMES: tuple[str, ...] = tuple(
    f"{_PACKAGE}.{name}" for name in ("Runs", "Scripts", "Schedules", "Tools", "Agents", "Sessions")
)
"""The llmspell services this server registers."""

_SERVICERS: tuple[tuple[Callable[[Any, grpc.aio.Server], None], type[Servicer]], ...] = (
    (runs_pb2_grpc.add_RunsServicer_to_server, RunsServicer),
    (scripts_pb2_grpc.add_ScriptsServicer_to_server, ScriptsServicer),
    (schedules_pb2_grpc.add_SchedulesServicer_to_server, SchedulesServicer),
    (tools_pb2_grpc.add_ToolsServicer_to_server, ToolsServicer),
    (agents_pb2_grpc.add_AgentsServicer_to_server, AgentsServicer),
    (sessions_pb2_grpc.add_SessionsServicer_to_server, SessionsServicer),
)


@dataclass(frozen=True, slots=True)
class _Started:
    health_servicer: health.aio.HealthServicer
    port: int


# What start_grpc_server knows about each running server: its signature returns the plain
# grpc.aio.Server, so set_serving and bound_port look the rest up by server.
_STARTED: WeakKeyDictionary[grpc.aio.Server, _Started] = WeakKeyDictionary()


async def start_grpc_server(
    control: ControlPlane,
    auth: Authenticator,
    host: str,
    port: int,
    *,
    metrics: bool = True,
) -> grpc.aio.Server:
    """Build, bind and start the gRPC server.

    Args:
        control: the control plane every call is delegated to.
        auth: checks the API key of every call (metadata ``authorization: Bearer <key>``
            or ``x-api-key``).
        host: interface to bind (``127.0.0.1``, ``0.0.0.0``, ``::``).
        port: TCP port; 0 picks a free one (read it back with :func:`bound_port`).
        metrics: record ``llmspell_grpc_request_duration_seconds`` for every call.

    Returns:
        The started server; stop it with :func:`stop_grpc_server`.

    Raises:
        ConfigError: the address cannot be bound.
    """
    interceptors = []
    if metrics:
        from ._metrics import MetricsInterceptor

        interceptors.append(MetricsInterceptor())
    # No SO_REUSEPORT: a second daemon on a taken port must fail, not share the traffic.
    server = grpc.aio.server(interceptors=interceptors, options=[("grpc.so_reuseport", 0)])
    for add_to_server, servicer in _SERVICERS:
        add_to_server(servicer(control, auth), server)

    health_servicer = health.aio.HealthServicer()
    health_pb2_grpc.add_HealthServicer_to_server(health_servicer, server)
    health_name = health_pb2.DESCRIPTOR.services_by_name["Health"].full_name
    reflection.enable_server_reflection((*SERVICE_NAMES, health_name, reflection.SERVICE_NAME), server)

    address = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
    problem = f"cannot bind the gRPC server to {address} (port taken?); set server.grpc_port to a free port"
    try:
        bound = server.add_insecure_port(address)
    except RuntimeError as exc:
        raise ConfigError(problem) from exc
    if bound == 0:
        raise ConfigError(problem)
    await server.start()
    _STARTED[server] = _Started(health_servicer=health_servicer, port=bound)
    await set_serving(server, True)
    return server


def bound_port(server: grpc.aio.Server) -> int:
    """The TCP port ``server`` listens on (the picked one when started with port 0)."""
    started = _STARTED.get(server)
    if started is None:
        raise ConfigError("this gRPC server was not started by start_grpc_server")
    return started.port


async def set_serving(server: grpc.aio.Server, serving: bool) -> None:
    """Report SERVING (True) or NOT_SERVING (False) for ``""`` and every llmspell service."""
    started = _STARTED.get(server)
    if started is None:
        raise ConfigError("this gRPC server was not started by start_grpc_server")
    status = health_pb2.HealthCheckResponse.SERVING if serving else health_pb2.HealthCheckResponse.NOT_SERVING
    for service in ("", *SERVICE_NAMES):
        await started.health_servicer.set(service, status)


async def stop_grpc_server(server: grpc.aio.Server, grace: float | None = 5.0) -> None:
    """Report NOT_SERVING, then stop, letting in-flight calls finish within ``grace`` seconds."""
    if server in _STARTED:
        await set_serving(server, False)
    await server.stop(grace)

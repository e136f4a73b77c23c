"""The daemon's gRPC face: ``llmspell.v1`` services over the control plane, plus health and
reflection. Generated code lives in :mod:`llmspell.server.grpc.gen` (see docs/grpc.md)."""

from __future__ import annotations

from ._boundary import ERROR_CODE_KEY, ERROR_DETAILS_KEY, STATUS_BY_CODE, status_for
from .server import SERVICE_NAMES, bound_port, set_serving, start_grpc_server, stop_grpc_server

__all__ = [
    "ERROR_CODE_KEY",
    "ERROR_DETAILS_KEY",
    "SERVICE_NAMES",
    "STATUS_BY_CODE",
    "bound_port",
    "set_serving",
    "start_grpc_server",
    "status_for",
    "stop_grpc_server",
]

"""The checked-in generated gRPC code is what scripts/gen_proto.py produces now."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import llmspell.server.grpc as grpc_face

ROOT = Path(__file__).resolve().parents[3]
CHECKED_IN = ROOT / "service" / "llmspell" / "server" / "grpc" / "gen"


def _files(directory: Path) -> dict[str, bytes]:
    return {
        str(path.relative_to(directory)): path.read_bytes()
        for path in sorted(directory.rglob("*"))
        if path.is_file() and "__pycache__" not in path.parts
    }


def test_generated_code_is_current(tmp_path: Path) -> None:
    out = tmp_path / "gen"
    subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "gen_proto.py"), "--out", str(out)],
        check=True,
        cwd=tmp_path,
        capture_output=True,
        timeout=60,
    )
    fresh, checked_in = _files(out), _files(CHECKED_IN)
    assert sorted(fresh) == sorted(checked_in), "run `python scripts/gen_proto.py` and commit the result"
    stale = [name for name in fresh if fresh[name] != checked_in[name]]
    assert not stale, f"stale generated files {stale}: run `python scripts/gen_proto.py`"
    assert b"from llmspell.v1 import" not in b"".join(fresh.values())


def test_public_surface() -> None:
    assert sorted(grpc_face.__all__) == [
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
    assert grpc_face.SERVICE_NAMES == (
        "llmspell.v1.Runs",
        "llmspell.v1.Scripts",
        "llmspell.v1.Schedules",
        "llmspell.v1.Tools",
        "llmspell.v1.Agents",
        "llmspell.v1.Sessions",
    )


def test_every_rpc_is_served_by_our_servicers() -> None:
    """The generated base classes answer UNIMPLEMENTED; ours must define every RPC themselves."""
    import inspect

    from google.protobuf import descriptor_pool
    from llmspell.server.grpc import server

    pool = descriptor_pool.Default()
    for name, (_, servicer) in zip(server.SERVICE_NAMES, server._SERVICERS, strict=True):
        service = pool.FindServiceByName(name)
        for method in service.methods:
            handler = getattr(servicer, method.name, None)
            assert handler is not None, f"{name}.{method.name} has no handler"
            assert inspect.iscoroutinefunction(handler) or inspect.isasyncgenfunction(handler), method.name
            assert ".gen." not in handler.__module__, f"{name}.{method.name} falls back to generated code"

"""System tools: environment-reader, process-executor, service-checker, system-monitor.

Configuration (environment variables, read on every call):

- ``LLMSPELL_ENV_ALLOW``: comma-separated names or globs added to the environment-reader's
  default allow-list (``LLMSPELL_ENV_ALLOW="APP_*,REGION"``).
"""

from __future__ import annotations

import asyncio
import fnmatch
import os
import time
from typing import Any

from llmspell.core.context import ExecutionContext
from llmspell.core.errors import SandboxViolation, Timeout, ToolError
from llmspell.tools.base import BaseTool, ToolOutput
from llmspell.tools.sandbox import SafeHttp, check_url, resolve_path, run_process

__all__ = [
    "DEFAULT_ENV_ALLOW",
    "EnvironmentReaderTool",
    "ProcessExecutorTool",
    "ServiceCheckerTool",
    "SystemMonitorTool",
    "env_allow_list",
]

DEFAULT_ENV_ALLOW: tuple[str, ...] = (
    "PATH",
    "HOME",
    "USER",
    "LOGNAME",
    "SHELL",
    "LANG",
    "LANGUAGE",
    "LC_*",
    "TZ",
    "TERM",
    "PWD",
    "TMPDIR",
    "HOSTNAME",
)


def env_allow_list() -> tuple[str, ...]:
    """The default allow-list plus the names/globs configured in ``LLMSPELL_ENV_ALLOW``."""
    extra = [item.strip() for item in os.environ.get("LLMSPELL_ENV_ALLOW", "").split(",")]
    return DEFAULT_ENV_ALLOW + tuple(item for item in extra if item)


def _allowed(name: str, allow: tuple[str, ...]) -> bool:
    return any(fnmatch.fnmatchcase(name, pattern) for pattern in allow)


class EnvironmentReaderTool(BaseTool):
    """Read environment variables that are on the allow-list; refuse everything else."""

    name = "environment-reader"
    category = "system"
    description = (
        "Read allow-listed environment variables (PATH, HOME, LANG, TZ... plus LLMSPELL_ENV_ALLOW); "
        "other names are refused."
    )
    security_level = "restricted"
    timeout_s = 5.0
    schema = {
        "type": "object",
        "properties": {
            "operation": {"enum": ["get", "list"], "default": "get"},
            "name": {"type": "string", "minLength": 1, "maxLength": 256},
            "names": {"type": "array", "items": {"type": "string", "minLength": 1}, "maxItems": 100},
            "default": {"type": ["string", "null"], "description": "Returned when the variable is unset."},
        },
        "additionalProperties": False,
        "allOf": [
            {
                "if": {"properties": {"operation": {"const": "get"}}},
                "then": {"anyOf": [{"required": ["name"]}, {"required": ["names"]}]},
            }
        ],
    }

    async def invoke(self, params: dict[str, Any], ctx: ExecutionContext) -> Any:
        allow = env_allow_list()
        if params.get("operation", "get") == "list":
            values = {k: v for k, v in sorted(os.environ.items()) if _allowed(k, allow)}
            return ToolOutput(
                operation="list", result={"variables": values}, message=f"{len(values)} variables"
            )
        names = [params["name"]] if "name" in params else list(params["names"])
        refused = [name for name in names if not _allowed(name, allow)]
        if refused:
            raise SandboxViolation(
                f"environment variable {refused[0]!r} is not on the allow-list; add it to LLMSPELL_ENV_ALLOW",
                details={"names": refused},
            )
        default: str | None = params.get("default")
        found: dict[str, str | None] = {name: os.environ.get(name, default) for name in names}
        result: Any = found[names[0]] if "name" in params else found
        return ToolOutput(
            operation="get", result=result, metadata={"set": [n for n in names if n in os.environ]}
        )


class ProcessExecutorTool(BaseTool):
    """Run an allow-listed program with literal arguments: no shell, scrubbed env, caps."""

    name = "process-executor"
    category = "system"
    description = (
        "Run an allow-listed command with a list of literal arguments (no shell), a timeout and an "
        "output cap; returns exit code, stdout and stderr."
    )
    security_level = "privileged"
    timeout_s = 310.0
    schema = {
        "type": "object",
        "properties": {
            "command": {"type": "string", "minLength": 1, "description": "Program name (allow-listed)."},
            "args": {"type": "array", "items": {"type": "string"}, "maxItems": 1000, "default": []},
            "cwd": {"type": "string", "minLength": 1, "description": "Working directory in the sandbox."},
            "timeout_s": {"type": "number", "exclusiveMinimum": 0, "maximum": 300, "default": 30},
            "max_output_bytes": {
                "type": "integer",
                "minimum": 1,
                "maximum": 10_000_000,
                "default": 1_000_000,
            },
            "stdin": {
                "type": "string",
                "maxLength": 10_000_000,
                "description": "Text fed to standard input.",
            },
            "check": {"type": "boolean", "default": False, "description": "Fail on a non-zero exit code."},
        },
        "required": ["command"],
        "additionalProperties": False,
    }

    async def invoke(self, params: dict[str, Any], ctx: ExecutionContext) -> Any:
        argv = [params["command"], *params.get("args", [])]
        timeout = float(params.get("timeout_s", 30))
        remaining = ctx.remaining()
        if remaining is not None:
            timeout = max(0.001, min(timeout, remaining))
        started = time.monotonic()
        proc = await run_process(
            argv,
            ctx.policy,
            timeout_s=timeout,
            max_output_bytes=params.get("max_output_bytes", 1_000_000),
            cwd=params.get("cwd"),
            stdin=params["stdin"].encode() if "stdin" in params else None,
        )
        duration_ms = round((time.monotonic() - started) * 1000)
        result = {
            "returncode": proc.returncode,
            "stdout": proc.stdout,
            "stderr": proc.stderr,
            "truncated": proc.truncated,
            "duration_ms": duration_ms,
        }
        if proc.timed_out:
            raise Timeout(
                f"{params['command']} did not finish within {timeout:g}s; raise timeout_s", details=result
            )
        if params.get("check", False) and proc.returncode != 0:
            raise ToolError(f"{params['command']} exited with status {proc.returncode}", details=result)
        return ToolOutput(
            operation="execute",
            result=result,
            message=f"{params['command']} exited with status {proc.returncode}",
        )


class ServiceCheckerTool(BaseTool):
    """TCP and HTTP health checks, through the sandbox network policy."""

    name = "service-checker"
    category = "system"
    description = (
        "Check that a service is up: a TCP connect to host:port, or an HTTP(S) request with an "
        "expected status; reports latency."
    )
    security_level = "restricted"
    timeout_s = 65.0
    schema = {
        "type": "object",
        "properties": {
            "url": {"type": "string", "minLength": 1, "description": "HTTP(S) URL to check."},
            "host": {"type": "string", "minLength": 1, "description": "Host for a TCP check."},
            "port": {"type": "integer", "minimum": 1, "maximum": 65535},
            "method": {"enum": ["GET", "HEAD"], "default": "GET"},
            "expected_status": {
                "type": "array",
                "items": {"type": "integer", "minimum": 100, "maximum": 599},
                "minItems": 1,
                "description": "Healthy statuses (default: any 2xx or 3xx).",
            },
            "expect_text": {"type": "string", "description": "Substring the body must contain."},
            "timeout_s": {"type": "number", "exclusiveMinimum": 0, "maximum": 60, "default": 5},
        },
        "additionalProperties": False,
        "oneOf": [{"required": ["url"]}, {"required": ["host", "port"]}],
    }

    async def invoke(self, params: dict[str, Any], ctx: ExecutionContext) -> Any:
        timeout = float(params.get("timeout_s", 5))
        if "url" in params:
            return await self._http(params, ctx, timeout)
        return await self._tcp(params["host"], params["port"], ctx, timeout)

    async def _tcp(self, host: str, port: int, ctx: ExecutionContext, timeout: float) -> ToolOutput:
        # The network policy is expressed over URLs; a TCP target is checked as one.
        shown = f"[{host}]" if ":" in host else host
        await check_url(f"http://{shown}:{port}/", ctx.policy)
        started = time.monotonic()
        error: str | None = None
        try:
            _, writer = await asyncio.wait_for(asyncio.open_connection(host, port), timeout)
            writer.close()
            await writer.wait_closed()
        except TimeoutError:
            error = f"no connection within {timeout:g}s"
        except OSError as exc:
            error = exc.strerror or str(exc)
        latency_ms = round((time.monotonic() - started) * 1000, 2)
        healthy = error is None
        result = {"healthy": healthy, "check": "tcp", "host": host, "port": port, "latency_ms": latency_ms}
        if error is not None:
            result["error"] = error
        return ToolOutput(
            operation="tcp",
            result=result,
            message=f"{host}:{port} is {'up' if healthy else 'down'}" + (f" ({error})" if error else ""),
        )

    async def _http(self, params: dict[str, Any], ctx: ExecutionContext, timeout: float) -> ToolOutput:
        url: str = params["url"]
        expected: list[int] | None = params.get("expected_status")
        error: str | None = None
        status: int | None = None
        started = time.monotonic()
        try:
            async with SafeHttp(ctx.policy, timeout_s=timeout) as http:
                response = await http.request(
                    params.get("method", "GET"), url, max_bytes=min(ctx.policy.max_response_bytes, 1_000_000)
                )
            status = response.status
        except (ToolError, Timeout) as exc:
            error = exc.message
        latency_ms = round((time.monotonic() - started) * 1000, 2)
        healthy = status is not None and (status in expected if expected else 200 <= status < 400)
        if healthy and "expect_text" in params:
            body = response.content.decode("utf-8", "replace")
            if params["expect_text"] not in body:
                healthy = False
                error = f"response body does not contain {params['expect_text']!r}"
        result: dict[str, Any] = {
            "healthy": healthy,
            "check": "http",
            "url": url,
            "status": status,
            "latency_ms": latency_ms,
        }
        if error is not None:
            result["error"] = error
        return ToolOutput(
            operation="http",
            result=result,
            message=f"{url} is {'healthy' if healthy else 'unhealthy'}"
            + (f" (status {status})" if status is not None else f" ({error})"),
        )


class SystemMonitorTool(BaseTool):
    """CPU, memory, disk, load and process figures of the host (psutil)."""

    name = "system-monitor"
    category = "system"
    description = "Report CPU, memory, swap, disk usage, load average, process count and uptime."
    security_level = "safe"
    timeout_s = 15.0
    schema = {
        "type": "object",
        "properties": {
            "metrics": {
                "type": "array",
                "items": {"enum": ["cpu", "memory", "disk", "load", "processes", "uptime"]},
                "minItems": 1,
                "uniqueItems": True,
                "description": "Sections to report (default: all).",
            },
            "path": {"type": "string", "minLength": 1, "description": "Disk usage of this sandbox path."},
            "cpu_interval_s": {"type": "number", "minimum": 0, "maximum": 5, "default": 0.1},
        },
        "additionalProperties": False,
    }

    async def invoke(self, params: dict[str, Any], ctx: ExecutionContext) -> Any:
        wanted = set(params.get("metrics") or ("cpu", "memory", "disk", "load", "processes", "uptime"))
        disk_path = None
        if "disk" in wanted:
            if "path" in params:
                disk_path = str(resolve_path(params["path"], ctx.policy, must_exist=True))
            else:
                disk_path = ctx.policy.file_roots[0] if ctx.policy.file_roots else os.sep
        interval = float(params.get("cpu_interval_s", 0.1))
        result = await asyncio.to_thread(_collect, wanted, disk_path, interval)
        return ToolOutput(operation="snapshot", result=result, message=", ".join(sorted(result)))


def _collect(wanted: set[str], disk_path: str | None, interval: float) -> dict[str, Any]:
    import psutil

    out: dict[str, Any] = {}
    if "cpu" in wanted:
        out["cpu"] = {
            "percent": psutil.cpu_percent(interval=interval or None),
            "count_logical": psutil.cpu_count(logical=True),
            "count_physical": psutil.cpu_count(logical=False),
        }
    if "memory" in wanted:
        vm = psutil.virtual_memory()
        sm = psutil.swap_memory()
        out["memory"] = {
            "total": vm.total,
            "available": vm.available,
            "used": vm.used,
            "percent": vm.percent,
            "swap_total": sm.total,
            "swap_used": sm.used,
            "swap_percent": sm.percent,
        }
    if "disk" in wanted and disk_path is not None:
        du = psutil.disk_usage(disk_path)
        out["disk"] = {
            "path": disk_path,
            "total": du.total,
            "used": du.used,
            "free": du.free,
            "percent": du.percent,
        }
    if "load" in wanted:
        one, five, fifteen = psutil.getloadavg()
        out["load"] = {"1m": one, "5m": five, "15m": fifteen}
    if "processes" in wanted:
        out["processes"] = {"count": len(psutil.pids())}
    if "uptime" in wanted:
        boot = psutil.boot_time()
        out["uptime"] = {"boot_time": boot, "uptime_s": round(time.time() - boot, 1)}
    return out

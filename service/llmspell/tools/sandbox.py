"""The one sandbox module: every file path, URL and process a tool touches goes through here.

Policy comes from :class:`~llmspell.core.context.SandboxPolicy` (configuration, narrowed per
run). Files: real paths (after symlinks and ``..``) must stay under ``file_roots``; device
files and FIFOs are refused. Network: ``http``/``https`` only; every resolved address of the
host must be public unless the host, the address or a CIDR holding it is in
``network_allow``; connections are pinned to the checked address (no DNS rebinding) and every
redirect hop is checked again. Processes: no shell, ``argv[0]`` must be allow-listed, the
environment is scrubbed, wall-clock and output are capped.

Each refusal raises :class:`SandboxViolation` and increments
``llmspell_sandbox_violations_total{kind}``.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import json as _json
import os
import shutil
import signal
import socket
import stat
import threading
import time
from collections.abc import AsyncIterator, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any, Literal
from urllib.parse import urljoin, urlsplit

from ..core.context import SandboxPolicy
from ..core.errors import (
    LimitExceeded,
    NotFound,
    SandboxViolation,
    Timeout,
    ToolError,
    ValidationError,
)

if TYPE_CHECKING:
    import httpx

__all__ = [
    "SAFE_PATH",
    "HttpResult",
    "ProcessResult",
    "SafeHttp",
    "check_size",
    "check_url",
    "resolve_path",
    "run_process",
]

ViolationKind = Literal["file", "network", "process"]
IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

SAFE_PATH = "/usr/local/bin:/usr/bin:/bin"
"""The ``PATH`` child processes get and ``argv[0]`` is looked up in."""

_ENV_PASSTHROUGH = ("HOME", "LANG", "LC_ALL", "LC_CTYPE", "TZ", "TMPDIR")
_ENV_FORBIDDEN_PREFIXES = ("LD_", "DYLD_")
_REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})
_DEFAULT_PORTS = {"http": 80, "https": 443}


def _violation(kind: ViolationKind, message: str, **details: Any) -> SandboxViolation:
    from ..core.metrics import SANDBOX_VIOLATIONS  # prometheus_client is slow to import

    SANDBOX_VIOLATIONS.labels(kind=kind).inc()
    return SandboxViolation(message, details={"kind": kind, **details})


# --------------------------------------------------------------------------- files


def _roots(policy: SandboxPolicy) -> list[str]:
    if not policy.file_roots:
        raise _violation(
            "file",
            "file access is disabled: no sandbox file roots are configured (set sandbox.file_roots)",
        )
    return [os.path.realpath(root) for root in policy.file_roots]


def _within(path: str, root: str) -> bool:
    return path == root or path.startswith(root if root.endswith(os.sep) else root + os.sep)


def resolve_path(
    path: str, policy: SandboxPolicy, *, for_write: bool = False, must_exist: bool = False
) -> Path:
    """Resolve ``path`` to a real path inside the policy's file roots.

    Relative paths resolve against the first root. Symlinks and ``..`` are resolved before
    the check, so a link pointing outside the roots is refused.

    Args:
        path: the path a script or tool asked for.
        policy: the sandbox policy of the run.
        for_write: the caller will create or modify the file (the roots themselves are
            refused as write targets).
        must_exist: raise ``NotFound`` when nothing exists at the path.

    Returns:
        The resolved, absolute path.

    Raises:
        SandboxViolation: outside every root, or a device file, FIFO or socket.
        NotFound: ``must_exist`` and the path does not exist.
        ValidationError: an empty path or one containing a NUL byte.
    """
    if not path or "\x00" in path:
        raise ValidationError("path must be a non-empty string without NUL bytes", details={"field": "path"})
    roots = _roots(policy)
    candidate = path if os.path.isabs(path) else os.path.join(roots[0], path)
    real = os.path.realpath(candidate)
    if not any(_within(real, root) for root in roots):
        raise _violation(
            "file",
            f"path {path!r} is outside the sandbox file roots; use a path under {roots[0]}",
            path=path,
        )
    if for_write and real in roots:
        raise _violation("file", f"path {path!r} is a sandbox root and cannot be written", path=path)
    try:
        mode = os.stat(real).st_mode
    except FileNotFoundError:
        if must_exist:
            raise NotFound(
                f"No file or directory at {path!r}", details={"kind": "path", "path": path}
            ) from None
        return Path(real)
    except OSError as exc:
        raise _violation("file", f"path {path!r} cannot be inspected: {exc.strerror}", path=path) from exc
    if not (stat.S_ISREG(mode) or stat.S_ISDIR(mode)):
        raise _violation(
            "file", f"path {path!r} is a device, FIFO or socket; only regular files are allowed", path=path
        )
    return Path(real)


def check_size(n: int, policy: SandboxPolicy) -> None:
    """Raise ``LimitExceeded`` when ``n`` bytes exceed ``policy.max_file_bytes``."""
    if n > policy.max_file_bytes:
        raise LimitExceeded(
            f"{n} bytes exceed the sandbox file size limit of {policy.max_file_bytes} bytes",
            details={"limit": policy.max_file_bytes, "size": n},
        )


# --------------------------------------------------------------------------- network


def _is_public(ip: IPAddress) -> bool:
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    # is_global is False for private, loopback, link-local (169.254.169.254, the cloud
    # metadata address), shared (100.64/10), reserved and unspecified addresses.
    return ip.is_global and not ip.is_multicast


def _allowed_by_policy(host: str, ips: list[IPAddress], policy: SandboxPolicy) -> bool:
    for entry in policy.network_allow:
        entry = entry.strip().lower()
        if not entry:
            continue
        if entry == host or (entry.startswith("*.") and host.endswith(entry[1:])):
            return True
        try:
            network = ipaddress.ip_network(entry, strict=False)
        except ValueError:
            continue
        if ips and all(ip in network for ip in ips):
            return True
    return False


@dataclass(frozen=True, slots=True)
class _Target:
    scheme: str
    host: str
    port: int
    ip: IPAddress


async def _check(url: str, policy: SandboxPolicy) -> _Target:
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise ValidationError(f"invalid URL {url!r}: {exc}", details={"field": "url"}) from exc
    scheme = parts.scheme.lower()
    if scheme not in _DEFAULT_PORTS:
        raise _violation(
            "network", f"URL scheme {scheme or '(none)'!r} is not allowed; use http or https", url=url
        )
    host = (parts.hostname or "").lower()
    if not host:
        raise ValidationError(f"URL {url!r} has no host", details={"field": "url"})
    port = port or _DEFAULT_PORTS[scheme]
    try:
        ips: list[IPAddress] = [ipaddress.ip_address(host)]
    except ValueError:
        try:
            infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
        except socket.gaierror as exc:
            raise ToolError(f"cannot resolve host {host!r}: {exc.strerror}", details={"url": url}) from exc
        # Scoped IPv6 link-local answers look like "fe80::1%eth0".
        ips = list(dict.fromkeys(ipaddress.ip_address(str(info[4][0]).split("%")[0]) for info in infos))
    if not ips:
        raise ToolError(f"host {host!r} has no address", details={"url": url})
    if (
        policy.network_deny_private
        and not all(_is_public(ip) for ip in ips)
        and not _allowed_by_policy(host, ips, policy)
    ):
        blocked = next(ip for ip in ips if not _is_public(ip))
        raise _violation(
            "network",
            f"{host} resolves to the non-public address {blocked}; add it to sandbox.network_allow "
            "to permit it",
            url=url,
            address=str(blocked),
        )
    return _Target(scheme=scheme, host=host, port=port, ip=ips[0])


async def check_url(url: str, policy: SandboxPolicy) -> None:
    """Check that a tool may fetch ``url``.

    Raises:
        SandboxViolation: a scheme other than http/https, or a host that resolves to a
            private, loopback, link-local, metadata, unspecified or multicast address not
            covered by ``policy.network_allow`` (a host name, an address or a CIDR).
        ValidationError: a malformed URL.
        ToolError: the host does not resolve.
    """
    await _check(url, policy)


class _TokenBucket:
    """Per-host request rate limit shared by every ``SafeHttp`` in the process."""

    def __init__(self, rate: float, burst: float) -> None:
        self.rate = rate
        self.burst = burst
        self.tokens = burst
        self.stamp = time.monotonic()
        self.lock = threading.Lock()

    def reserve(self) -> float:
        """Take a token; returns how long the caller must wait before using it."""
        with self.lock:
            now = time.monotonic()
            self.tokens = min(self.burst, self.tokens + (now - self.stamp) * self.rate)
            self.stamp = now
            self.tokens -= 1.0
            return 0.0 if self.tokens >= 0 else -self.tokens / self.rate


_BUCKETS: dict[tuple[str, float, float], _TokenBucket] = {}
_BUCKETS_LOCK = threading.Lock()


async def _throttle(host: str, rate: float, burst: float) -> None:
    key = (host, rate, burst)
    with _BUCKETS_LOCK:
        bucket = _BUCKETS.get(key)
        if bucket is None:
            bucket = _BUCKETS[key] = _TokenBucket(rate, burst)
    wait = bucket.reserve()
    if wait > 0:
        await asyncio.sleep(wait)


@dataclass(frozen=True, slots=True)
class HttpResult:
    """A fetched HTTP response, fully read and size-capped.

    Attributes:
        status: the HTTP status code of the final response.
        headers: response headers, names in lower case (repeated headers joined by ``", "``).
        content: the (decoded transfer-encoding) body.
        url: the final URL after redirects.
        elapsed_ms: wall-clock time of the whole request, redirects included.
    """

    status: int
    headers: Mapping[str, str]
    content: bytes
    url: str
    elapsed_ms: float

    @property
    def encoding(self) -> str:
        """The charset of ``Content-Type``, else UTF-8."""
        for part in self.headers.get("content-type", "").split(";")[1:]:
            key, _, value = part.strip().partition("=")
            if key.lower() == "charset" and value:
                return value.strip("\"'")
        return "utf-8"

    def text(self) -> str:
        """The body decoded with :attr:`encoding` (undecodable bytes replaced)."""
        try:
            return self.content.decode(self.encoding, errors="replace")
        except LookupError:
            return self.content.decode("utf-8", errors="replace")

    def json(self) -> Any:
        """The body parsed as JSON; raises ``ToolError`` when it is not JSON."""
        try:
            return _json.loads(self.content)
        except ValueError as exc:
            raise ToolError(f"response from {self.url} is not valid JSON: {exc}") from exc


@contextlib.contextmanager
def _map_httpx_errors(url: str) -> Iterator[None]:
    import httpx

    try:
        yield
    except httpx.TimeoutException as exc:
        raise Timeout(f"HTTP request to {url} timed out", details={"url": url}) from exc
    except httpx.InvalidURL as exc:
        raise ValidationError(f"invalid URL {url!r}: {exc}", details={"field": "url"}) from exc
    except httpx.HTTPError as exc:
        raise ToolError(f"HTTP request to {url} failed: {exc}", details={"url": url}) from exc


class SafeHttp:
    """An HTTP client that enforces the sandbox's network policy on every hop.

    Usage::

        async with SafeHttp(ctx.policy, timeout_s=10) as http:
            resp = await http.request("GET", url, max_bytes=1_000_000)

    Args:
        policy: the sandbox policy.
        timeout_s: wall-clock limit of one :meth:`request`, redirects included.
        max_redirects: redirect hops followed before giving up.
        rate_per_s: requests per second allowed per host, process-wide (``None``: unlimited).
        burst: requests allowed at once before the rate applies.
        verify: verify TLS certificates.
    """

    def __init__(
        self,
        policy: SandboxPolicy,
        *,
        timeout_s: float = 30.0,
        max_redirects: int = 5,
        rate_per_s: float | None = 20.0,
        burst: float = 40.0,
        verify: bool = True,
    ) -> None:
        self.policy = policy
        self.timeout_s = timeout_s
        self.max_redirects = max_redirects
        self.rate_per_s = rate_per_s
        self.burst = burst
        self.verify = verify
        self._client: httpx.AsyncClient | None = None

    async def __aenter__(self) -> SafeHttp:
        import httpx  # ~60 ms; only tools that use the network pay for it

        self._client = httpx.AsyncClient(
            timeout=self.timeout_s, follow_redirects=False, trust_env=False, verify=self.verify
        )
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._client is not None:
            await self._client.aclose()
            self._client = None

    async def request(
        self,
        method: str,
        url: str,
        *,
        headers: Mapping[str, str] | None = None,
        content: bytes | str | None = None,
        json: Any = None,
        params: Mapping[str, str] | None = None,
        max_bytes: int | None = None,
        follow_redirects: bool = True,
    ) -> HttpResult:
        """Send one request (following redirects) and read the whole, capped body.

        Args:
            method: the HTTP method.
            url: an http(s) URL.
            headers: request headers.
            content: a raw body (mutually exclusive with ``json``).
            json: a JSON body.
            params: query parameters added to the URL.
            max_bytes: body cap; the smaller of this and ``policy.max_response_bytes`` applies.
            follow_redirects: follow 3xx responses (each hop checked against the policy).

        Returns:
            The final response.

        Raises:
            SandboxViolation: a hop is not allowed by the policy.
            LimitExceeded: the body exceeds the cap.
            Timeout: the request took longer than ``timeout_s``.
            ToolError: connection or protocol failure, too many redirects.
        """
        if self._client is None:
            raise ToolError("SafeHttp is not open; use it as 'async with SafeHttp(policy) as http'")
        if content is not None and json is not None:
            raise ValidationError("pass either content or json, not both", details={"field": "json"})
        cap = (
            self.policy.max_response_bytes
            if max_bytes is None
            else min(max_bytes, self.policy.max_response_bytes)
        )
        started = time.perf_counter()
        try:
            async with asyncio.timeout(self.timeout_s):
                result = await self._follow(
                    method.upper(), url, headers, content, json, params, cap, follow_redirects
                )
        except TimeoutError as exc:
            raise Timeout(f"HTTP request to {url} exceeded {self.timeout_s}s", details={"url": url}) from exc
        return HttpResult(
            status=result[0],
            headers=result[1],
            content=result[2],
            url=result[3],
            elapsed_ms=(time.perf_counter() - started) * 1000.0,
        )

    async def _follow(
        self,
        method: str,
        url: str,
        headers: Mapping[str, str] | None,
        content: bytes | str | None,
        json: Any,
        params: Mapping[str, str] | None,
        cap: int,
        follow_redirects: bool,
    ) -> tuple[int, dict[str, str], bytes, str]:
        import httpx

        assert self._client is not None
        send_headers = dict(headers or {})
        if params:
            with _map_httpx_errors(url):
                url = str(httpx.URL(url).copy_merge_params(dict(params)))
        for _hop in range(self.max_redirects + 1):
            target = await _check(url, self.policy)
            if self.rate_per_s is not None:
                await _throttle(target.host, self.rate_per_s, self.burst)
            async with self._send(method, url, target, send_headers, content, json) as response:
                location = response.headers.get("location")
                if follow_redirects and response.status_code in _REDIRECT_STATUSES and location:
                    next_url = urljoin(url, location)
                    if urlsplit(next_url).hostname != target.host:
                        send_headers = {
                            k: v
                            for k, v in send_headers.items()
                            if k.lower() not in ("authorization", "cookie")
                        }
                    if response.status_code == 303 or (
                        response.status_code in (301, 302) and method not in ("GET", "HEAD")
                    ):
                        method, content, json = "GET", None, None
                    url = next_url
                    continue
                body = await _read_capped(response, cap, url)
                merged: dict[str, str] = {}
                for key, value in response.headers.multi_items():
                    key = key.lower()
                    merged[key] = f"{merged[key]}, {value}" if key in merged else value
                return response.status_code, merged, body, url
        raise ToolError(
            f"too many redirects (more than {self.max_redirects}) fetching {url}",
            details={"url": url, "max_redirects": self.max_redirects},
        )

    @contextlib.asynccontextmanager
    async def _send(
        self,
        method: str,
        url: str,
        target: _Target,
        headers: dict[str, str],
        content: bytes | str | None,
        json: Any,
    ) -> AsyncIterator[httpx.Response]:
        import httpx

        assert self._client is not None
        with _map_httpx_errors(url):
            # Connect to the address that was checked, not to a second DNS answer.
            pinned = httpx.URL(url).copy_with(host=str(target.ip))
            default_port = _DEFAULT_PORTS[target.scheme]
            host_header = target.host if target.port == default_port else f"{target.host}:{target.port}"
            if ":" in target.host:
                host_header = (
                    f"[{target.host}]" if target.port == default_port else f"[{target.host}]:{target.port}"
                )
            request = self._client.build_request(
                method,
                pinned,
                headers={"host": host_header, **headers},
                content=content,
                json=json,
                extensions={"sni_hostname": target.host} if target.scheme == "https" else {},
            )
            response = await self._client.send(request, stream=True)
            try:
                yield response
            finally:
                await response.aclose()


async def _read_capped(response: httpx.Response, cap: int, url: str) -> bytes:
    declared = response.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > cap:
        raise LimitExceeded(
            f"response from {url} is {declared} bytes, over the {cap}-byte limit; raise max_bytes",
            details={"limit": cap, "url": url},
        )
    chunks: list[bytes] = []
    total = 0
    with _map_httpx_errors(url):
        async for chunk in response.aiter_bytes():
            total += len(chunk)
            if total > cap:
                raise LimitExceeded(
                    f"response from {url} exceeds the {cap}-byte limit; raise max_bytes",
                    details={"limit": cap, "url": url},
                )
            chunks.append(chunk)
    return b"".join(chunks)


# --------------------------------------------------------------------------- processes


@dataclass(frozen=True, slots=True)
class ProcessResult:
    """The outcome of :func:`run_process`.

    Attributes:
        returncode: the exit status (negative: killed by that signal).
        stdout: standard output, decoded as UTF-8 (bad bytes replaced), capped.
        stderr: standard error, decoded likewise.
        timed_out: the process was killed at the wall-clock limit.
        truncated: the output passed ``max_output_bytes``; the process was killed there.
    """

    returncode: int
    stdout: str
    stderr: str
    timed_out: bool
    truncated: bool


def _executable(argv0: str, policy: SandboxPolicy) -> str:
    allowed = set(policy.process_allow)
    if "/" in argv0:
        if argv0 not in allowed:
            raise _violation("process", f"command {argv0!r} is not in sandbox.process_allow", command=argv0)
        return argv0
    if argv0 not in allowed:
        raise _violation(
            "process",
            f"command {argv0!r} is not allowed; add it to sandbox.process_allow to permit it",
            command=argv0,
        )
    found = shutil.which(argv0, path=SAFE_PATH)
    if found is None:
        raise ToolError(f"command {argv0!r} was not found in {SAFE_PATH}", details={"command": argv0})
    return found


def _child_env(env: Mapping[str, str] | None) -> dict[str, str]:
    child = {key: os.environ[key] for key in _ENV_PASSTHROUGH if key in os.environ}
    child["PATH"] = SAFE_PATH
    for key, value in (env or {}).items():
        if key.upper().startswith(_ENV_FORBIDDEN_PREFIXES):
            raise _violation("process", f"environment variable {key!r} may not be set for a child process")
        child[key] = value
    return child


def _kill_group(proc: asyncio.subprocess.Process) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, signal.SIGKILL)


async def run_process(
    argv: list[str],
    policy: SandboxPolicy,
    *,
    timeout_s: float,
    max_output_bytes: int,
    cwd: str | None = None,
    env: Mapping[str, str] | None = None,
    stdin: bytes | None = None,
) -> ProcessResult:
    """Run an allow-listed command without a shell.

    Args:
        argv: the command and its arguments; ``argv[0]`` must be in ``policy.process_allow``
            (a bare name is looked up in :data:`SAFE_PATH`; a path must be listed as is).
        policy: the sandbox policy.
        timeout_s: wall-clock limit; the whole process group is killed when it passes.
        max_output_bytes: cap on stdout + stderr; the group is killed when it is passed.
        cwd: working directory, checked against the file roots (default: the first root).
        env: extra environment variables on top of a minimal scrubbed environment.
        stdin: bytes written to the process's standard input.

    Returns:
        The exit status and captured output.

    Raises:
        SandboxViolation: the command, the working directory or an env variable is not allowed.
        ValidationError: ``argv`` is empty.
        ToolError: the command cannot be started.
    """
    if not argv or not all(isinstance(arg, str) for arg in argv):
        raise ValidationError("argv must be a non-empty list of strings", details={"field": "argv"})
    executable = _executable(argv[0], policy)
    workdir: str | None = None
    if cwd is not None:
        resolved = resolve_path(cwd, policy, must_exist=True)
        if not resolved.is_dir():
            raise ValidationError(f"cwd {cwd!r} is not a directory", details={"field": "cwd"})
        workdir = str(resolved)
    elif policy.file_roots and os.path.isdir(policy.file_roots[0]):
        workdir = os.path.realpath(policy.file_roots[0])
    try:
        proc = await asyncio.create_subprocess_exec(
            executable,
            *argv[1:],
            stdin=asyncio.subprocess.PIPE if stdin is not None else asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            cwd=workdir,
            env=_child_env(env),
            start_new_session=True,  # own process group, so a timeout kills the children too
        )
    except OSError as exc:
        raise ToolError(f"cannot start {argv[0]!r}: {exc.strerror}", details={"command": argv[0]}) from exc

    budget = [max_output_bytes]
    truncated = False
    buffers: dict[str, bytearray] = {"stdout": bytearray(), "stderr": bytearray()}

    async def pump(name: str, stream: asyncio.StreamReader | None) -> None:
        nonlocal truncated
        if stream is None:
            return
        while chunk := await stream.read(65536):
            keep = chunk[: max(budget[0], 0)]
            buffers[name] += keep
            budget[0] -= len(chunk)
            if budget[0] < 0:
                truncated = True
                _kill_group(proc)
                # Drain to EOF: a pipe left paused is never closed, and proc.wait() would
                # then wait for it until the timeout.
                while await stream.read(65536):
                    pass
                return

    async def feed() -> None:
        if stdin is not None and proc.stdin is not None:
            with contextlib.suppress(BrokenPipeError, ConnectionResetError):
                proc.stdin.write(stdin)
                await proc.stdin.drain()
            proc.stdin.close()

    timed_out = False
    try:
        async with asyncio.timeout(timeout_s):
            await asyncio.gather(feed(), pump("stdout", proc.stdout), pump("stderr", proc.stderr))
            await proc.wait()
    except TimeoutError:
        timed_out = True
        _kill_group(proc)
        await proc.wait()
    except BaseException:
        _kill_group(proc)
        with contextlib.suppress(BaseException):
            await asyncio.shield(proc.wait())
        raise
    if truncated:
        _kill_group(proc)
        await proc.wait()
    return ProcessResult(
        returncode=proc.returncode if proc.returncode is not None else -signal.SIGKILL,
        stdout=buffers["stdout"].decode("utf-8", errors="replace"),
        stderr=buffers["stderr"].decode("utf-8", errors="replace"),
        timed_out=timed_out,
        truncated=truncated,
    )

"""The sandbox module: file roots, URL checks, SafeHttp against a loopback server, processes."""

from __future__ import annotations

import json
import os
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
from llmspell.core.context import SandboxPolicy
from llmspell.core.errors import (
    LimitExceeded,
    NotFound,
    SandboxViolation,
    Timeout,
    ToolError,
    ValidationError,
)
from llmspell.tools.sandbox import SafeHttp, check_size, check_url, resolve_path, run_process
from prometheus_client import REGISTRY


def violations(kind: str) -> float:
    return REGISTRY.get_sample_value("llmspell_sandbox_violations_total", {"kind": kind}) or 0.0


@pytest.fixture
def root(tmp_path: Path) -> Path:
    base = tmp_path / "root"
    base.mkdir()
    (base / "a.txt").write_text("hello")
    (base / "sub").mkdir()
    (tmp_path / "secret.txt").write_text("top secret")
    return base


@pytest.fixture
def policy(root: Path) -> SandboxPolicy:
    return SandboxPolicy(
        file_roots=(str(root),),
        network_allow=("127.0.0.1",),
        process_allow=("echo", "sleep", "env", "cat", "yes", "sh"),
    )


# ----------------------------------------------------------------------------- files


def test_relative_paths_resolve_under_the_first_root(root: Path, policy: SandboxPolicy) -> None:
    assert resolve_path("a.txt", policy) == root / "a.txt"
    assert resolve_path("sub/../a.txt", policy, must_exist=True) == root / "a.txt"
    assert resolve_path(str(root / "new.txt"), policy, for_write=True) == root / "new.txt"


@pytest.mark.parametrize(
    "path", ["../secret.txt", "sub/../../secret.txt", "/etc/passwd", "/", "..", "../root2/x"]
)
def test_traversal_and_absolute_escapes_are_refused(policy: SandboxPolicy, path: str) -> None:
    before = violations("file")
    with pytest.raises(SandboxViolation, match="outside the sandbox file roots"):
        resolve_path(path, policy)
    assert violations("file") == before + 1


def test_symlink_escapes_are_refused(root: Path, policy: SandboxPolicy, tmp_path: Path) -> None:
    (root / "link-file").symlink_to(tmp_path / "secret.txt")
    (root / "link-dir").symlink_to(tmp_path)
    (root / "dangling").symlink_to(tmp_path / "not-yet-there")
    (root / "inside").symlink_to(root / "a.txt")
    for path in ("link-file", "link-dir/secret.txt", "link-dir", "dangling"):
        with pytest.raises(SandboxViolation):
            resolve_path(path, policy, for_write=True)
    assert resolve_path("inside", policy) == root / "a.txt"


def test_prefix_sibling_directories_are_not_inside(root: Path, policy: SandboxPolicy) -> None:
    sibling = root.parent / (root.name + "-evil")
    sibling.mkdir()
    with pytest.raises(SandboxViolation):
        resolve_path(str(sibling / "x"), policy)


def test_fifo_and_devices_are_refused(root: Path, policy: SandboxPolicy) -> None:
    os.mkfifo(root / "pipe")
    with pytest.raises(SandboxViolation, match="FIFO"):
        resolve_path("pipe", policy)
    device_policy = SandboxPolicy(file_roots=("/dev",))
    with pytest.raises(SandboxViolation, match="device"):
        resolve_path("/dev/null", device_policy)


def test_other_file_refusals(root: Path, policy: SandboxPolicy) -> None:
    with pytest.raises(SandboxViolation, match="no sandbox file roots"):
        resolve_path("a.txt", SandboxPolicy())
    with pytest.raises(ValidationError, match="NUL"):
        resolve_path("a\x00.txt", policy)
    with pytest.raises(ValidationError):
        resolve_path("", policy)
    with pytest.raises(NotFound, match=r"missing\.txt"):
        resolve_path("missing.txt", policy, must_exist=True)
    with pytest.raises(SandboxViolation, match="sandbox root"):
        resolve_path(str(root), policy, for_write=True)


def test_check_size(policy: SandboxPolicy) -> None:
    check_size(policy.max_file_bytes, policy)
    with pytest.raises(LimitExceeded, match="file size limit"):
        check_size(policy.max_file_bytes + 1, policy)


# ----------------------------------------------------------------------------- URLs


@pytest.mark.parametrize(
    "url",
    [
        "http://10.0.0.1/",
        "http://192.168.1.1:8080/x",
        "http://169.254.169.254/latest/meta-data/",
        "http://[::1]/",
        "http://[::ffff:127.0.0.1]/",
        "http://0.0.0.0/",
        "http://224.0.0.1/",
        "http://100.64.0.1/",
        "http://127.0.0.2/",
    ],
)
async def test_private_addresses_are_refused(url: str) -> None:
    before = violations("network")
    with pytest.raises(SandboxViolation, match="non-public address"):
        await check_url(url, SandboxPolicy(network_allow=("127.0.0.1",)))
    assert violations("network") == before + 1


async def test_names_resolving_to_loopback_are_refused() -> None:
    with pytest.raises(SandboxViolation, match="localhost resolves to the non-public address"):
        await check_url("http://localhost:9/", SandboxPolicy())


@pytest.mark.parametrize(
    "url", ["ftp://example.com/", "file:///etc/passwd", "gopher://x/", "javascript:alert(1)"]
)
async def test_other_schemes_are_refused(url: str) -> None:
    with pytest.raises(SandboxViolation, match="scheme"):
        await check_url(url, SandboxPolicy())


async def test_allow_list_by_address_cidr_and_host() -> None:
    await check_url("http://127.0.0.1:8080/", SandboxPolicy(network_allow=("127.0.0.1",)))
    await check_url("http://127.0.0.9/", SandboxPolicy(network_allow=("127.0.0.0/8",)))
    await check_url("http://localhost/", SandboxPolicy(network_allow=("localhost",)))
    await check_url("http://10.1.2.3/", SandboxPolicy(network_deny_private=False))
    await check_url("https://93.184.216.34/", SandboxPolicy())  # public literal: no DNS, no connection


async def test_malformed_urls() -> None:
    with pytest.raises(ValidationError, match="no host"):
        await check_url("http:///path", SandboxPolicy())
    with pytest.raises(ValidationError, match="invalid URL"):
        await check_url("http://127.0.0.1:99999/", SandboxPolicy())


# ----------------------------------------------------------------------------- SafeHttp


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.0"

    def log_message(self, format: str, *args: object) -> None:
        return

    def _send(
        self, status: int, body: bytes, headers: dict[str, str] | None = None, *, length: bool = True
    ) -> None:
        self.send_response(status)
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        if length:
            self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self) -> None:
        parts = urlsplit(self.path)
        query = parse_qs(parts.query)
        if parts.path == "/echo":
            body = json.dumps(
                {"host": self.headers["Host"], "auth": self.headers.get("Authorization")}
            ).encode()
            self._send(200, body, {"Content-Type": "application/json; charset=utf-8", "Set-Cookie": "a=1"})
        elif parts.path == "/redirect":
            self._send(302, b"", {"Location": query["to"][0]})
        elif parts.path == "/loop":
            self._send(302, b"", {"Location": "/loop"})
        elif parts.path == "/big":
            self._send(200, b"x" * 5000)
        elif parts.path == "/stream":
            self._send(200, b"y" * 5000, length=False)
        elif parts.path == "/slow":
            time.sleep(1.0)
            self._send(200, b"late")
        else:
            self._send(404, b"nope")

    def do_POST(self) -> None:
        size = int(self.headers.get("Content-Length", "0"))
        body = self.rfile.read(size)
        if self.path == "/see-other":
            self._send(303, b"", {"Location": "/echo"})
        else:
            self._send(200, json.dumps({"got": body.decode()}).encode(), {"Content-Type": "application/json"})


@pytest.fixture(scope="module")
def server() -> Iterator[str]:
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


async def test_safe_http_get(server: str) -> None:
    policy = SandboxPolicy(network_allow=("127.0.0.1",))
    async with SafeHttp(policy, timeout_s=5) as http:
        resp = await http.request("GET", server + "/echo", headers={"Authorization": "Bearer t"})
    assert resp.status == 200 and resp.url == server + "/echo"
    assert resp.json() == {"host": server.removeprefix("http://"), "auth": "Bearer t"}
    assert resp.headers["content-type"].startswith("application/json") and resp.encoding == "utf-8"
    assert resp.elapsed_ms > 0
    assert "host" in resp.text()


async def test_safe_http_post_and_303(server: str) -> None:
    async with SafeHttp(SandboxPolicy(network_allow=("127.0.0.1",))) as http:
        posted = await http.request("POST", server + "/post", json={"a": 1})
        assert json.loads(posted.json()["got"]) == {"a": 1}
        other = await http.request("POST", server + "/see-other", content=b"data")
        assert other.status == 200 and other.url.endswith("/echo")


async def test_redirect_to_a_private_host_is_refused(server: str) -> None:
    policy = SandboxPolicy(network_allow=("127.0.0.1",))
    async with SafeHttp(policy) as http:
        ok = await http.request("GET", f"{server}/redirect?to=/echo")
        assert ok.status == 200 and ok.url == server + "/echo"
        with pytest.raises(SandboxViolation, match=r"169\.254\.169\.254"):
            await http.request("GET", f"{server}/redirect?to=http://169.254.169.254/latest")
        with pytest.raises(SandboxViolation, match="scheme"):
            await http.request("GET", f"{server}/redirect?to=file:///etc/passwd")
        raw = await http.request("GET", f"{server}/redirect?to=/echo", follow_redirects=False)
        assert raw.status == 302 and raw.headers["location"] == "/echo"
        with pytest.raises(ToolError, match="too many redirects"):
            await http.request("GET", f"{server}/loop")


async def test_loopback_is_refused_without_allow_list(server: str) -> None:
    async with SafeHttp(SandboxPolicy()) as http:
        with pytest.raises(SandboxViolation):
            await http.request("GET", server + "/echo")


async def test_response_size_cap(server: str) -> None:
    policy = SandboxPolicy(network_allow=("127.0.0.1",), max_response_bytes=4000)
    async with SafeHttp(policy) as http:
        with pytest.raises(LimitExceeded, match="4000-byte limit"):
            await http.request("GET", server + "/big")
        with pytest.raises(LimitExceeded, match="exceeds the 4000-byte limit"):
            await http.request("GET", server + "/stream")
        with pytest.raises(LimitExceeded, match="100-byte limit"):
            await http.request("GET", server + "/big", max_bytes=100)


async def test_timeout_and_misuse(server: str) -> None:
    policy = SandboxPolicy(network_allow=("127.0.0.1",))
    async with SafeHttp(policy, timeout_s=0.2) as http:
        started = time.monotonic()
        with pytest.raises(Timeout):
            await http.request("GET", server + "/slow")
        assert time.monotonic() - started < 0.9
    with pytest.raises(ToolError, match="not open"):
        await SafeHttp(policy).request("GET", server + "/echo")


async def test_per_host_rate_limit(server: str) -> None:
    policy = SandboxPolicy(network_allow=("127.0.0.1",))
    async with SafeHttp(policy, rate_per_s=10.0, burst=1.0) as http:
        started = time.monotonic()
        for _ in range(4):
            await http.request("GET", server + "/echo")
        # One token at once, then one every 0.1 s: three waits at least.
        assert time.monotonic() - started >= 0.28


# ----------------------------------------------------------------------------- processes


async def test_allowed_command_runs(policy: SandboxPolicy, root: Path) -> None:
    result = await run_process(["echo", "hi", "there"], policy, timeout_s=5, max_output_bytes=1000)
    assert (result.returncode, result.stdout, result.timed_out, result.truncated) == (
        0,
        "hi there\n",
        False,
        False,
    )
    cat = await run_process(["cat"], policy, timeout_s=5, max_output_bytes=1000, stdin=b"piped")
    assert cat.stdout == "piped"
    pwd = await run_process(["sh", "-c", "pwd"], policy, timeout_s=5, max_output_bytes=1000, cwd="sub")
    assert pwd.stdout.strip() == str(root / "sub")


async def test_commands_outside_the_allow_list_are_refused(policy: SandboxPolicy) -> None:
    before = violations("process")
    for argv in (["rm", "-rf", "/"], ["/bin/echo", "x"], ["./echo"], ["/tmp/evil/echo"]):
        with pytest.raises(SandboxViolation):
            await run_process(argv, policy, timeout_s=5, max_output_bytes=100)
    assert violations("process") == before + 4
    with pytest.raises(ValidationError):
        await run_process([], policy, timeout_s=5, max_output_bytes=100)
    with pytest.raises(SandboxViolation):
        await run_process(["echo"], policy, timeout_s=5, max_output_bytes=100, cwd="/etc")


async def test_environment_is_scrubbed(policy: SandboxPolicy, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LLMSPELL_TEST_SECRET", "s3cret")
    result = await run_process(["env"], policy, timeout_s=5, max_output_bytes=10_000, env={"GREETING": "hi"})
    names = {line.split("=", 1)[0] for line in result.stdout.splitlines()}
    assert "LLMSPELL_TEST_SECRET" not in names and "GREETING" in names
    assert names <= {
        "PATH",
        "HOME",
        "LANG",
        "LC_ALL",
        "LC_CTYPE",
        "TZ",
        "TMPDIR",
        "GREETING",
        "PWD",
        "SHLVL",
        "_",
    }
    with pytest.raises(SandboxViolation, match="LD_PRELOAD"):
        await run_process(["env"], policy, timeout_s=5, max_output_bytes=100, env={"LD_PRELOAD": "/x.so"})


async def test_timeout_kills_the_process_group(policy: SandboxPolicy) -> None:
    started = time.monotonic()
    result = await run_process(
        ["sh", "-c", "sleep 30 & echo $!; wait"], policy, timeout_s=0.5, max_output_bytes=1000
    )
    assert result.timed_out and result.returncode != 0
    assert time.monotonic() - started < 5
    grandchild = int(result.stdout.split()[0])
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        try:
            state = Path(f"/proc/{grandchild}/status").read_text()
        except FileNotFoundError:
            break
        if "\nState:\tZ" in state:
            break
        time.sleep(0.02)
    else:
        pytest.fail("the background child survived the timeout")


async def test_output_cap_truncates_and_stops(policy: SandboxPolicy) -> None:
    started = time.monotonic()
    result = await run_process(["yes"], policy, timeout_s=10, max_output_bytes=10_000)
    assert result.truncated and not result.timed_out
    assert len(result.stdout) == 10_000
    assert time.monotonic() - started < 5

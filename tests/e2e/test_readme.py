"""Every example in README.md runs.

``make test`` is the command that runs this file; every other block is executed here:
``make serve`` (as a subprocess, until /ready), the shell commands, the Lua and the
Python examples, and the daemon commands against that daemon.
"""

from __future__ import annotations

import os
import re
import shlex
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
from fakes.daemon import free_port

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
README = (ROOT / "README.md").read_text()
BLOCKS = re.findall(r"```(\w+)\n(.*?)```", README, flags=re.DOTALL)


def blocks(language: str) -> list[str]:
    return [body for lang, body in BLOCKS if lang == language]


def commands(body: str) -> list[str]:
    """Shell lines of a block, continuation lines joined, comments dropped."""
    joined = body.replace("\\\n", " ")
    return [
        line.split("  #")[0].strip()
        for line in joined.splitlines()
        if line.strip() and not line.startswith("#")
    ]


def clean_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("LLMSPELL_")}
    env["PATH"] = f"{BIN}:{env.get('PATH', '')}"
    env.update(extra)
    return env


def test_readme_has_the_expected_blocks() -> None:
    assert "make serve" in blocks("sh")[0] and "make test" in blocks("sh")[0]
    assert blocks("lua") and blocks("python") and len(blocks("sh")) >= 3


def test_shell_examples_without_a_daemon() -> None:
    for line in commands(blocks("sh")[1]):
        done = subprocess.run(
            shlex.split(line), capture_output=True, text=True, timeout=60, cwd=ROOT, env=clean_env()
        )
        assert done.returncode == 0, f"{line}: {done.stderr}"


def test_lua_examples() -> None:
    for body in blocks("lua"):
        done = subprocess.run(
            ["llmspell", "exec", body, "--output", "json"],
            capture_output=True,
            text=True,
            timeout=60,
            cwd=ROOT,
            env=clean_env(),
        )
        assert done.returncode == 0, done.stderr
        assert '"error": null' in done.stdout


def test_python_examples() -> None:
    for body in blocks("python"):
        done = subprocess.run(
            [sys.executable, "-c", body], capture_output=True, text=True, timeout=60, cwd=ROOT
        )
        assert done.returncode == 0, done.stderr
        assert done.stdout.strip().startswith("succeeded hi from Lua 5.4")


def test_make_serve_and_the_daemon_examples(tmp_path: Path) -> None:
    port = free_port()
    env = clean_env(LLMSPELL_DATA_DIR=str(tmp_path / "data"), LLMSPELL_SERVER_URL=f"http://127.0.0.1:{port}")
    serve = subprocess.Popen(
        ["make", "-s", "serve", f"SERVE_ARGS=--port {port} --grpc-port 0"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 120
        while True:
            assert serve.poll() is None, "make serve exited"
            try:
                if httpx.get(f"http://127.0.0.1:{port}/ready", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, "make serve did not become ready"
            time.sleep(0.1)
        for line in commands(blocks("sh")[2]):
            line = line.replace("localhost:8080", f"127.0.0.1:{port}")
            done = subprocess.run(
                shlex.split(line), capture_output=True, text=True, timeout=60, cwd=ROOT, env=env
            )
            assert done.returncode == 0, f"{line}: {done.stdout} {done.stderr}"
            if line.startswith("curl"):
                assert '"status":"succeeded"' in done.stdout and '"result":2' in done.stdout
    finally:
        os.killpg(serve.pid, signal.SIGTERM)
        serve.wait(30)

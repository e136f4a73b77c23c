"""The real ``llmspell`` entry point in a subprocess: run, exec, exit codes, output."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

LLMSPELL = str(Path(sys.executable).with_name("llmspell"))
ROOT = Path(__file__).resolve().parents[2]


def llmspell(
    *args: str, timeout: float = 30, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    base = {k: v for k, v in os.environ.items() if not k.startswith("LLMSPELL_")}
    return subprocess.run(
        [LLMSPELL, *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**base, **(env or {})},
        cwd=ROOT,
    )


def test_run_hello_example() -> None:
    done = llmspell("run", "examples/hello.lua", "--", "--name", "World")
    assert done.returncode == 0, done.stderr
    assert "Hello, World!" in done.stdout
    assert "Languages: lua, python" in done.stdout


def test_output_json_shape() -> None:
    done = llmspell("run", "examples/hello.lua", "--output", "json")
    body = json.loads(done.stdout)
    assert set(body) >= {"result", "stdout", "error", "usage", "duration_ms"}
    assert body["result"] == {"greeting": "Hello, llmspell", "languages": 2}
    assert body["error"] is None and body["stdout"].startswith("Hello, llmspell!")


def test_script_error_is_one_line_with_file_and_line(tmp_path: Path) -> None:
    script = tmp_path / "bad.lua"
    script.write_text('local a = 1\nlocal b = 2\nerror("something broke")\n')
    done = llmspell("run", str(script))
    assert done.returncode == 1
    assert done.stderr.strip() == "bad.lua:3: SCRIPT_ERROR: something broke"
    assert "Traceback" not in done.stderr


def test_api_error_names_the_line(tmp_path: Path) -> None:
    script = tmp_path / "api.lua"
    script.write_text('print("x")\nlocal t = JSON.parse("{oops")\n')
    done = llmspell("run", str(script))
    assert done.returncode == 1
    assert done.stderr.startswith("api.lua:2: VALIDATION: invalid JSON")


def test_syntax_error_names_the_line(tmp_path: Path) -> None:
    script = tmp_path / "syntax.lua"
    script.write_text("local ok = true\nif ok then\n  print('x'\nend\n")
    done = llmspell("run", str(script))
    assert done.returncode == 1
    assert done.stderr.startswith("syntax.lua:4: VALIDATION: syntax error")


def test_timeout_exit_code() -> None:
    started = time.monotonic()
    done = llmspell("exec", "while true do end", "--timeout", "0.5")
    assert done.returncode == 124
    assert "TIMEOUT" in done.stderr
    assert time.monotonic() - started < 5


def test_memory_limit() -> None:
    done = llmspell("exec", "local t = {} for i = 1, 1e9 do t[i] = i end", "--memory-mb", "16")
    assert done.returncode == 1
    assert "LIMIT_EXCEEDED" in done.stderr


def test_sigint_exits_130() -> None:
    with subprocess.Popen(
        [LLMSPELL, "exec", 'print("started") while true do end', "--timeout", "30"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=ROOT,
    ) as process:
        assert process.stdout is not None and process.stderr is not None
        assert process.stdout.readline().strip() == "started"
        process.send_signal(signal.SIGINT)
        assert process.wait(10) == 130
        assert "CANCELLED" in process.stderr.read()


def test_args_reach_the_script() -> None:
    done = llmspell(
        "exec", "return {ARGS[0], ARGS[1], ARGS.k, ARGS.flag, arg[1]}", "--", "pos", "--k", "v", "--flag"
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == ["exec", "pos", "v", "true", "pos"]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["run", "missing.lua"], "cannot read missing.lua"),
        (
            ["run", "examples/hello.lua", "--engine", "cobol"],
            "unknown engine 'cobol'; available engines: lua",
        ),
        (["run", "examples/hello.lua", "--output", "yaml"], "invalid choice"),
        (["run"], "the following arguments are required"),
    ],
)
def test_usage_errors_exit_2(args: list[str], message: str) -> None:
    done = llmspell(*args)
    assert done.returncode == 2
    assert message in done.stderr
    assert "Traceback" not in done.stderr


def test_help_on_run_and_exec() -> None:
    for command in ("run", "exec"):
        done = llmspell(command, "--help")
        assert done.returncode == 0 and "--timeout" in done.stdout and "124" in done.stdout


def test_print_is_streamed_live() -> None:
    with subprocess.Popen(
        [
            LLMSPELL,
            "exec",
            'print("first") local t = os.clock() while os.clock() - t < 1 do end print("second")',
        ],
        stdout=subprocess.PIPE,
        text=True,
        cwd=ROOT,
    ) as process:
        assert process.stdout is not None
        started = time.monotonic()
        assert process.stdout.readline().strip() == "first"
        assert time.monotonic() - started < 0.9
        assert process.wait(10) == 0

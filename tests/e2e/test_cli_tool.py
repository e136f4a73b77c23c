"""``llmspell tool`` through the real entry point in a subprocess."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

LLMSPELL = str(Path(sys.executable).with_name("llmspell"))


def llmspell(*args: str, cwd: Path, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("LLMSPELL_")}
    env["HOME"] = str(cwd)  # no user config file
    return subprocess.run(
        [LLMSPELL, *args], capture_output=True, text=True, timeout=60, env=env, cwd=cwd, input=stdin
    )


def test_list_text_and_json(tmp_path: Path) -> None:
    done = llmspell("tool", "list", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert any(line.split()[:3] == ["calculator", "utility", "safe"] for line in lines)
    as_json = llmspell("tool", "list", "--category", "data", "--output", "json", cwd=tmp_path)
    assert as_json.returncode == 0, as_json.stderr
    tools = json.loads(as_json.stdout)
    assert {t["category"] for t in tools} == {"data"}
    assert {"json-processor", "csv-analyzer", "yaml-processor"} <= {t["name"] for t in tools}
    unknown = llmspell("tool", "list", "--category", "nope", cwd=tmp_path)
    assert unknown.returncode == 2 and unknown.stderr.startswith(
        "llmspell: VALIDATION: unknown category 'nope'"
    )


def test_info_shows_the_schema(tmp_path: Path) -> None:
    done = llmspell("tool", "info", "hash_calculator", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("hash-calculator  (utility, safe, timeout 30s)")
    assert '"algorithm"' in done.stdout and '"additionalProperties": false' in done.stdout
    as_json = json.loads(llmspell("tool", "info", "calculator", "-o", "json", cwd=tmp_path).stdout)
    assert as_json["schema"]["properties"]["input"]["type"] == "string"
    missing = llmspell("tool", "info", "nope", cwd=tmp_path)
    assert missing.returncode == 2 and missing.stderr == "llmspell: NOT_FOUND: No tool named 'nope'\n"


def test_search(tmp_path: Path) -> None:
    done = llmspell("tool", "search", "yaml", cwd=tmp_path)
    assert done.returncode == 0 and done.stdout.split()[0] == "yaml-processor"
    none = llmspell("tool", "search", "zzzz-nothing", cwd=tmp_path)
    assert none.returncode == 0 and none.stdout == "no tools\n"


def test_invoke_success_text_and_envelope(tmp_path: Path) -> None:
    done = llmspell("tool", "invoke", "calculator", "--params", '{"input": "2 + 3 * 4"}', cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == {"value": 14, "expression": "2 + 3 * 4"}
    raw = llmspell(
        "tool", "invoke", "text-manipulator", "-p", '{"operation": "upper", "input": "hi"}', cwd=tmp_path
    )
    assert raw.stdout == "HI\n"
    env = json.loads(
        llmspell("tool", "invoke", "calculator", "-p", '{"input": "1+1"}', "-o", "json", cwd=tmp_path).stdout
    )
    assert env["success"] is True and env["result"]["value"] == 2 and env["metadata"]["tool"] == "calculator"


def test_invoke_params_from_file_and_stdin(tmp_path: Path) -> None:
    (tmp_path / "data.csv").write_text("a,b\n1,2\n3,4\n")
    (tmp_path / "params.json").write_text(json.dumps({"operation": "stats", "path": "data.csv"}))
    done = llmspell("tool", "invoke", "csv-analyzer", "--params", "@params.json", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["a"]["mean"] == 2.0
    piped = llmspell("tool", "invoke", "calculator", "-p", "@-", cwd=tmp_path, stdin='{"input": "6*7"}')
    assert json.loads(piped.stdout)["value"] == 42


def test_invoke_failures_and_exit_codes(tmp_path: Path) -> None:
    failed = llmspell(
        "tool", "invoke", "calculator", "-p", '{"input": "9**9**9"}', "-o", "json", cwd=tmp_path
    )
    assert failed.returncode == 1
    envelope = json.loads(failed.stdout)
    assert envelope["success"] is False and envelope["error"]["code"] == "LIMIT_EXCEEDED"
    assert failed.stderr.startswith("llmspell: LIMIT_EXCEEDED: ") and failed.stderr.count("\n") == 1
    sandboxed = llmspell("tool", "invoke", "text-analyzer", "-p", '{"path": "/etc/passwd"}', cwd=tmp_path)
    assert sandboxed.returncode == 1 and sandboxed.stdout == ""
    assert sandboxed.stderr.startswith("llmspell: SANDBOX_VIOLATION: path '/etc/passwd' is outside")
    schema = llmspell("tool", "invoke", "calculator", "-p", '{"nope": 1}', cwd=tmp_path)
    assert schema.returncode == 1 and "unknown parameter 'nope'" in schema.stderr
    bad_json = llmspell("tool", "invoke", "calculator", "-p", "{bad", cwd=tmp_path)
    assert bad_json.returncode == 2 and bad_json.stderr.startswith(
        "llmspell: VALIDATION: --params is not valid JSON"
    )
    not_object = llmspell("tool", "invoke", "calculator", "-p", "[1]", cwd=tmp_path)
    assert not_object.returncode == 2 and "must be a JSON object" in not_object.stderr
    no_file = llmspell("tool", "invoke", "calculator", "-p", "@missing.json", cwd=tmp_path)
    assert no_file.returncode == 2 and "cannot read params file 'missing.json'" in no_file.stderr
    unknown = llmspell("tool", "invoke", "no-such-tool", cwd=tmp_path)
    assert unknown.returncode == 2 and unknown.stderr == "llmspell: NOT_FOUND: No tool named 'no-such-tool'\n"
    assert "Traceback" not in failed.stderr + sandboxed.stderr + bad_json.stderr + unknown.stderr

"""``llmspell config``, ``llmspell version`` and the global options, through the real entry point."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
from llmspell.core.config import Settings

LLMSPELL = str(Path(sys.executable).with_name("llmspell"))


class Cli:
    """Runs ``llmspell ARGS`` in an empty directory, with no configuration file or variables."""

    def __init__(self, home: Path) -> None:
        self.home = home
        self.cwd = home / "work"
        self.cwd.mkdir()

    def __call__(self, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
        clean = {k: v for k, v in os.environ.items() if not k.startswith("LLMSPELL_")}
        return subprocess.run(
            [LLMSPELL, *args],
            cwd=self.cwd,
            env={**clean, "HOME": str(self.home), **env},
            capture_output=True,
            text=True,
            timeout=60,
        )


@pytest.fixture
def cli(tmp_path: Path) -> Cli:
    return Cli(tmp_path)


def _one_line_error(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    return lines[0]


def test_version_names_llmspell_python_lua_and_platform(cli: Cli) -> None:
    import llmspell

    text = cli("version")
    assert text.returncode == 0, text.stderr
    assert text.stdout.splitlines()[0] == f"llmspell {llmspell.__version__}"
    assert re.search(r"^Lua\s+5\.4 \(lupa \d", text.stdout, re.MULTILINE)
    assert re.search(r"^Python\s+3\.\d+", text.stdout, re.MULTILINE)
    data = json.loads(cli("version", "--output", "json").stdout)
    assert set(data) == {"llmspell", "python", "lua", "platform"}
    assert data["lua"].startswith("5.4")
    flag = cli("--version")
    assert flag.returncode == 0 and flag.stdout.strip() == f"llmspell {llmspell.__version__}"


@pytest.mark.parametrize(
    "args",
    [
        ["--help"],
        ["version", "--help"],
        ["config", "--help"],
        ["config", "show", "--help"],
        ["config", "validate", "--help"],
        ["config", "init", "--help"],
        ["service", "install", "--help"],
    ],
)
def test_every_command_has_help(cli: Cli, args: list[str]) -> None:
    result = cli(*args)
    assert result.returncode == 0, result.stderr
    assert "Usage: llmspell" in result.stdout


def test_show_without_a_file_prints_defaults_as_toml(cli: Cli) -> None:
    result = cli("config", "show")
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("# file: none")
    shown = tomllib.loads(result.stdout)
    assert (
        shown["server"]["port"] == Settings.model_fields["server"].get_default(call_default_factory=True).port
    )
    assert shown["limits"]["timeout_s"] == 30.0


def test_show_names_the_file_and_masks_secrets(cli: Cli) -> None:
    (cli.cwd / "llmspell.toml").write_text(
        'api_key = "sk-top-secret"\n'
        'database_url = "postgresql+asyncpg://app:hunter2@db.internal:5432/llmspell"\n'
        "[providers.local]\n"
        'base_url = "http://127.0.0.1:11434/v1"\n'
        'api_key = "local-secret"\n'
        "[limits]\n"
        "timeout_s = 5\n"
    )
    result = cli("config", "show", "--output", "json", LLMSPELL_SERVER__PORT="9999")
    assert result.returncode == 0, result.stderr
    body = json.loads(result.stdout)
    assert body["file"] == str((cli.cwd / "llmspell.toml").resolve())
    config = body["config"]
    assert config["limits"]["timeout_s"] == 5.0
    assert config["server"]["port"] == 9999
    assert config["database_url"] == "postgresql+asyncpg://app:**********@db.internal:5432/llmspell"
    assert "sk-top-secret" not in result.stdout and "local-secret" not in result.stdout
    assert "hunter2" not in result.stdout
    text = cli("config", "show")
    assert "hunter2" not in text.stdout and "sk-top-secret" not in text.stdout
    assert f"# file: {(cli.cwd / 'llmspell.toml').resolve()}" in text.stdout


def test_validate_accepts_a_good_file_and_the_effective_config(cli: Cli) -> None:
    path = cli.cwd / "good.toml"
    path.write_text('model = "openai/gpt-4o-mini"\n[server]\nport = 9000\n')
    result = cli("config", "validate", str(path))
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("valid")
    assert cli("config", "validate").stdout.startswith("valid")


@pytest.mark.parametrize(
    ("content", "key"),
    [
        ('[limits]\ntimeout_s = "soon"\n', "limits.timeout_s"),
        ("limitz = 1\n", "limitz"),
        ('[providers.local]\nmax_retries = "many"\n', "providers.local.max_retries"),
        ('log_level = "loud"\n', "log_level"),
    ],
)
def test_validate_names_the_bad_key_in_one_line(cli: Cli, content: str, key: str) -> None:
    path = cli.cwd / "bad.toml"
    path.write_text(content)
    line = _one_line_error(cli("config", "validate", str(path)))
    assert f"at {key}:" in line
    assert str(path) in line


def test_validate_reports_toml_syntax_errors_with_the_line(cli: Cli) -> None:
    path = cli.cwd / "broken.toml"
    path.write_text("[server]\nport = \n")
    line = _one_line_error(cli("config", "validate", str(path)))
    assert "invalid TOML" in line and "line 2" in line


def test_validate_checks_the_file_alone_not_the_environment(cli: Cli) -> None:
    path = cli.cwd / "good.toml"
    path.write_text("[server]\nport = 9000\n")
    assert cli("config", "validate", str(path), LLMSPELL_SERVER__PORT="not-a-port").returncode == 0
    line = _one_line_error(cli("config", "validate", LLMSPELL_SERVER__PORT="not-a-port"))
    assert "server.port" in line


def test_validate_missing_file_is_a_usage_error(cli: Cli) -> None:
    line = _one_line_error(cli("config", "validate", "nope.toml"))
    assert "cannot read nope.toml" in line


def test_trace_debug_shows_the_traceback_of_a_user_mistake(cli: Cli) -> None:
    result = cli("--trace", "debug", "config", "validate", "nope.toml")
    assert result.returncode == 2
    assert "Traceback" in result.stderr
    assert result.stderr.strip().splitlines()[-1].startswith("llmspell: CONFIG_ERROR: cannot read nope.toml")


def test_unknown_trace_level_is_a_usage_error(cli: Cli) -> None:
    line = _one_line_error(cli("--trace", "loud", "version"))
    assert "unknown log level 'loud'" in line
    assert _one_line_error(cli("version", LLMSPELL_LOG_LEVEL="loud"))


def test_init_writes_a_commented_file_with_every_setting(cli: Cli) -> None:
    result = cli("config", "init")
    assert result.returncode == 0, result.stderr
    path = cli.cwd / "llmspell.toml"
    text = path.read_text()
    sections = {
        name
        for name, field in Settings.model_fields.items()
        if hasattr(field.get_default(call_default_factory=True), "model_fields")
    }
    assert sections >= {"limits", "sandbox", "server"}
    assert tomllib.loads(text) == {key: {} for key in sections}
    for name, field in Settings.model_fields.items():
        assert re.search(rf"^# {name}( = | is unset)|^\[{name}\]$|^# \[{name}\.", text, re.MULTILINE), name
        default = field.get_default(call_default_factory=True)
        if hasattr(default, "model_fields"):
            for sub in type(default).model_fields:
                assert re.search(rf"^# {sub}( = | is unset)", text, re.MULTILINE), f"{name}.{sub}"
    assert cli("config", "validate", str(path)).returncode == 0


def test_init_defaults_uncommented_equal_the_real_defaults(cli: Cli) -> None:
    assert cli("config", "init", "--path", "sub/dir/llmspell.toml").returncode == 0
    text = (cli.cwd / "sub/dir/llmspell.toml").read_text()
    lines, in_example = [], False
    for line in text.splitlines():
        in_example = line.startswith("# [") or (in_example and not line.startswith("["))
        setting = re.match(r"^# [a-z_]+ = ", line) and "unset by default" not in line
        lines.append(line[2:] if setting and not in_example else line)
    data = tomllib.loads("\n".join(lines))
    assert data["server"] and data["limits"] and data["default_provider"]
    defaults = Settings.model_construct().model_dump(mode="json")
    for key, value in data.items():
        if isinstance(value, dict):
            assert value == {k: defaults[key][k] for k in value}, key
            assert set(value) == {k for k, v in defaults[key].items() if v is not None}, key
        else:
            assert value == defaults[key], key
    assert set(data) == {k for k, v in defaults.items() if v not in (None, {})}


def test_init_refuses_to_overwrite_without_force(cli: Cli) -> None:
    path = cli.cwd / "llmspell.toml"
    path.write_text("# mine\n")
    line = _one_line_error(cli("config", "init"))
    assert "pass --force" in line
    assert path.read_text() == "# mine\n"
    assert cli("config", "init", "--force").returncode == 0
    assert path.read_text().startswith("# llmspell configuration")


def test_configuration_docs_list_every_setting() -> None:
    docs = (Path(__file__).resolve().parents[2] / "docs" / "configuration.md").read_text()
    missing = []
    for name, field in Settings.model_fields.items():
        default = field.get_default(call_default_factory=True)
        names = [f"`{sub}`" for sub in type(default).model_fields] if hasattr(default, "model_fields") else []
        if f"`{name}`" not in docs and f"`[{name}" not in docs:
            missing.append(name)
        missing += [f"{name}.{sub.strip('`')}" for sub in names if sub not in docs]
    assert not missing, f"add these settings to docs/configuration.md: {missing}"

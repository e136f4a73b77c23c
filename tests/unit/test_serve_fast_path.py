"""``llmspell serve`` starts without typer; its options match the typer command's."""

from __future__ import annotations

import subprocess
import sys

import typer
from llmspell.cli._serve import OPTIONS
from llmspell.cli.app import app


def test_the_fast_path_takes_the_options_of_the_typer_command() -> None:
    command = typer.main.get_command(app).commands["serve"]  # type: ignore[attr-defined]
    flags = {opt for param in command.params for opt in param.opts if opt.startswith("--")}
    assert flags == set(OPTIONS)
    switches = {opt for param in command.params if param.is_flag for opt in param.opts}
    assert switches == {flag for flag, (_, kind) in OPTIONS.items() if kind is bool}


def test_serve_parses_without_importing_typer_and_rejects_bad_values_in_one_line() -> None:
    code = (
        "import sys\n"
        "from llmspell.cli.main import main\n"
        "try:\n"
        "    main(['serve', '--port', 'eighty'])\n"
        "except SystemExit as exit:\n"
        "    print(exit.code, 'typer' in sys.modules)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.stdout.split() == ["2", "False"]
    assert "invalid int value: 'eighty'" in done.stderr


def test_serve_help_still_comes_from_the_typer_command() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "llmspell.cli.main", "serve", "--help"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    for flag in OPTIONS:
        assert flag in done.stdout

"""``ARGS`` and ``arg``: the script's command-line arguments.

``ARGS[0]`` is the script name, ``ARGS[1..n]`` the positional values, ``--key value``
sets ``ARGS.key`` and a bare ``--flag`` sets ``ARGS.flag = "true"``. ``arg`` holds the
positional values only (and ``arg[0]``).
"""

from __future__ import annotations

from typing import Any

from ...core.context import ExecutionContext
from .surface import ApiNamespace, ScriptEnv


def parse_args(script_name: str, argv: list[str]) -> tuple[dict[Any, str], dict[Any, str]]:
    """Split ``argv`` into (ARGS, arg) tables keyed as scripts see them."""
    named: dict[Any, str] = {0: script_name}
    positional: dict[Any, str] = {0: script_name}
    index = 1
    i = 0
    while i < len(argv):
        item = argv[i]
        if item.startswith("--") and len(item) > 2:
            key, eq, inline = item[2:].partition("=")
            if eq:
                named[key] = inline
            elif i + 1 < len(argv) and not argv[i + 1].startswith("--"):
                named[key] = argv[i + 1]
                i += 1
            else:
                named[key] = "true"
        else:
            named[index] = item
            positional[index] = item
            index += 1
        i += 1
    return named, positional


def build(env: ScriptEnv, ctx: ExecutionContext) -> list[ApiNamespace]:
    named, positional = parse_args(env.script_name, env.args)
    return [ApiNamespace(name="ARGS", values=named), ApiNamespace(name="arg", values=positional)]

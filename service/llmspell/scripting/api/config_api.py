"""``Config.get(path)``: values of the effective, non-secret configuration."""

from __future__ import annotations

from typing import Any

from ...core.context import ExecutionContext
from .surface import ApiNamespace, ScriptEnv

__all__ = ["build"]


def lookup(tree: Any, path: str) -> Any:
    """Follow a dotted ``path`` (``limits.timeout_s``) through nested dicts; None if absent."""
    node = tree
    for part in path.split(".") if path else []:
        if not isinstance(node, dict) or part not in node:
            return None
        node = node[part]
    return node


def build(env: ScriptEnv, ctx: ExecutionContext) -> list[ApiNamespace]:
    def get(path: str = "") -> Any:
        return lookup(env.settings().public_dict(), str(path))

    ns = ApiNamespace(name="Config")
    ns.add(get, "get")
    ns.add(lambda: get(""), "all")
    return [ns]

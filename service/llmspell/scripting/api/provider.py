"""``Provider.list()`` / ``Provider.get(name)``: configured LLM providers and their capabilities."""

from __future__ import annotations

from typing import Any

from ...core.context import ExecutionContext
from .surface import ApiNamespace, ScriptEnv

__all__ = ["build"]


def build(env: ScriptEnv, ctx: ExecutionContext) -> list[ApiNamespace]:
    def list_all() -> list[dict[str, Any]]:
        from ...providers import list_providers

        return list_providers(env.settings())

    def get(name: str) -> dict[str, Any] | None:
        from ...providers import get_provider

        return get_provider(str(name), env.settings())

    ns = ApiNamespace(name="Provider")
    ns.add(list_all, "list")
    ns.add(get, "get")
    return [ns]

"""The script API surface (the globals), written once for every engine.

Each module contributes namespaces through a ``build(env, ctx)`` function; the table
below lists them. Modules import their components lazily, on first call.
"""

from __future__ import annotations

import importlib
from functools import cache

from .surface import ApiBuilder, ApiNamespace, ApiObject, ScriptEnv, ScriptFunction

__all__ = ["ApiBuilder", "ApiNamespace", "ApiObject", "ScriptEnv", "ScriptFunction", "default_builders"]

_BUILDERS = ("args", "json_api", "debug", "config_api", "provider", "tool", "agent", "workflow", "state", "session")


@cache
def default_builders() -> tuple[ApiBuilder, ...]:
    """The ``build`` function of every API module, in installation order."""
    return tuple(
        importlib.import_module(f"{__name__}.{name}").build
        for name in _BUILDERS
    )

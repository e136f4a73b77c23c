"""The script API surface (the globals), written once for every engine.

Each module contributes namespaces through a ``build(env, ctx)`` function; ``_BUILDERS``
lists them. A script's globals are built when the script first touches them (``_GLOBALS``
says which module provides which global), so a run pays only for what it uses.
"""

from __future__ import annotations

import importlib
from functools import cache

from .surface import ApiBuilder, ApiNamespace, ApiObject, ScriptEnv, ScriptFunction

__all__ = [
    "ApiBuilder",
    "ApiNamespace",
    "ApiObject",
    "ScriptEnv",
    "ScriptFunction",
    "builder_of",
    "default_builders",
    "eager_builders",
    "lazy_globals",
]

_BUILDERS = (
    "args",
    "json_api",
    "debug",
    "config_api",
    "provider",
    "tool",
    "agent",
    "workflow",
    "state",
    "session",
    "hook",
    "event",
)


# Globals built on first use, by the module that provides them. Modules of _BUILDERS
# missing here are built eagerly for every run.
_GLOBALS: dict[str, str] = {
    "ARGS": "args",
    "arg": "args",
    "Debug": "debug",
    "Config": "config_api",
    "Provider": "provider",
    "Tool": "tool",
    "Agent": "agent",
    "Workflow": "workflow",
    "State": "state",
    "Session": "session",
    "Artifact": "session",
    "Hook": "hook",
    "Event": "event",
    "JSON": "json_api",
}


def _builder(module: str) -> ApiBuilder:
    build: ApiBuilder = importlib.import_module(f"{__name__}.{module}").build
    return build


@cache
def default_builders() -> tuple[ApiBuilder, ...]:
    """The ``build`` function of every API module, in installation order."""
    return tuple(_builder(name) for name in _BUILDERS)


@cache
def eager_builders() -> tuple[ApiBuilder, ...]:
    """Builders of the modules whose globals are not in the lazy table."""
    lazy = set(_GLOBALS.values())
    return tuple(_builder(name) for name in _BUILDERS if name not in lazy)


@cache
def lazy_globals() -> dict[str, str]:
    """Global name → module, for the modules listed in ``_BUILDERS``."""
    return {name: module for name, module in _GLOBALS.items() if module in _BUILDERS}


def builder_of(module: str) -> ApiBuilder:
    """The ``build`` function of API module ``module``."""
    return _builder(module)

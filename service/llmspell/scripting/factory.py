"""Engine lookup: a static table of built-in engines plus the ``llmspell.engines`` entry points."""

from __future__ import annotations

import importlib
from functools import cache
from typing import Any

from ..core.errors import ConfigError
from .abc import ScriptEngineBridge

__all__ = ["available_engines", "create_engine", "engine_for_path", "release_idle_runtimes"]

ENTRY_POINT_GROUP = "llmspell.engines"
_BUILTIN: dict[str, str] = {"lua": "llmspell.scripting.lua.engine:LuaEngine"}
_EXTENSIONS: dict[str, str] = {".lua": "lua"}
_created: list[ScriptEngineBridge] = []


def _load(target: str) -> Any:
    module_name, _, attr = target.partition(":")
    return getattr(importlib.import_module(module_name), attr)


@cache
def _entry_points() -> dict[str, Any]:
    from importlib.metadata import entry_points

    return {ep.name: ep for ep in entry_points(group=ENTRY_POINT_GROUP)}


def available_engines() -> list[str]:
    """Names of every engine that can be created."""
    return sorted({*_BUILTIN, *_entry_points()})


@cache
def create_engine(name: str = "lua") -> ScriptEngineBridge:
    """The engine called ``name`` (engines are stateless, so one instance per process).

    Raises:
        ConfigError: unknown engine, listing the available ones.
    """
    key = name.strip().lower()
    if key in _BUILTIN:
        engine_class = _load(_BUILTIN[key])
    elif key in _entry_points():
        engine_class = _entry_points()[key].load()
    else:
        raise ConfigError(
            f"unknown engine {name!r}; available engines: {', '.join(available_engines())}",
            details={"engine": name, "available": available_engines()},
        )
    engine = engine_class()
    if not isinstance(engine, ScriptEngineBridge):
        raise ConfigError(f"engine {name!r} does not implement ScriptEngineBridge")
    _created.append(engine)
    return engine


def release_idle_runtimes() -> None:
    """Let every engine created so far drop this thread's expired idle runtimes."""
    for engine in _created:
        engine.release_idle()


def engine_for_path(path: str, default: str = "lua") -> str:
    """The engine name implied by a script's file extension."""
    for extension, engine in _EXTENSIONS.items():
        if path.endswith(extension):
            return engine
    return default

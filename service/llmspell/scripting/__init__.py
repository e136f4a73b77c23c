"""Script engines: the bridge interface, the factory and the API surface."""

from __future__ import annotations

from .abc import EngineCapabilities, ScriptEngineBridge, ScriptResult
from .api.surface import ScriptEnv
from .factory import available_engines, create_engine, engine_for_path

__all__ = [
    "EngineCapabilities",
    "ScriptEngineBridge",
    "ScriptEnv",
    "ScriptResult",
    "available_engines",
    "create_engine",
    "engine_for_path",
]

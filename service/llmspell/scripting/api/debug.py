"""``Debug``: levelled log lines (to the run's log events and Python logging) and timers."""

from __future__ import annotations

import logging
import time
from typing import Any, ClassVar

from ...core.context import ExecutionContext
from .surface import ApiNamespace, ApiObject, ScriptEnv

__all__ = ["Timer", "build"]

log = logging.getLogger("llmspell.script")

_LEVELS = {
    "trace": 5,
    "debug": logging.DEBUG,
    "info": logging.INFO,
    "log": logging.INFO,
    "warn": logging.WARNING,
    "error": logging.ERROR,
}


class Timer(ApiObject):
    """``Debug.timer(name)``: ``:stop()`` and ``:elapsed()`` return milliseconds."""

    api_type = "Timer"
    api_methods: ClassVar[dict[str, str]] = {"stop": "stop", "elapsed": "elapsed", "lap": "elapsed"}

    def __init__(self, env: ScriptEnv, name: str) -> None:
        self._env = env
        self.name = name
        self._start = time.perf_counter()
        self._stopped: float | None = None

    def elapsed(self) -> float:
        end = self._stopped if self._stopped is not None else time.perf_counter()
        return (end - self._start) * 1000.0

    def stop(self) -> float:
        if self._stopped is None:
            self._stopped = time.perf_counter()
            self._env.event("log", {"level": "debug", "message": f"timer {self.name}", "ms": self.elapsed()})
        return self.elapsed()


def build(env: ScriptEnv, ctx: ExecutionContext) -> list[ApiNamespace]:
    ns = ApiNamespace(name="Debug")
    for name, level in _LEVELS.items():

        def emit(message: Any = "", data: Any = None, _name: str = name, _level: int = level) -> None:
            text = message if isinstance(message, str) else repr(message)
            extra = {"run_id": ctx.run_id}
            if data is not None:
                log.log(_level, "%s %s", text, data, extra=extra)
            else:
                log.log(_level, "%s", text, extra=extra)
            payload: dict[str, Any] = {"level": "warn" if _name == "warn" else _name, "message": text}
            if data is not None:
                payload["data"] = data
            env.event("log", payload)

        ns.add(emit, name)
    ns.add(lambda name="timer": Timer(env, str(name)), "timer")
    return [ns]

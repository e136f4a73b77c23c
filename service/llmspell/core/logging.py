"""Structured logging on top of the standard library.

Two formats share one set of levels (``trace`` = 5, ``debug``, ``info``, ``warn``, ``error``):

* :class:`HumanFormatter` — one compact line for a terminal (the CLI)::

      12:03:04.512 WARN  llmspell.runtime: lease lost run_id=r_1 attempt=2

* :class:`JsonFormatter` — one JSON object per line for the daemon and log shippers::

      {"ts": "2026-11-24T12:03:04.512Z", "level": "warn", "logger": "llmspell.runtime",
       "msg": "lease lost", "run_id": "r_1", "attempt": 2}

Fields passed with ``extra={...}`` become keys of the JSON object (and ``key=value`` pairs
in the human format). Only the standard library is imported: the CLI's fast path uses this.
"""

from __future__ import annotations

import json
import logging
import sys
import time
import traceback
from typing import Any, TextIO

from .errors import ConfigError

__all__ = [
    "LEVELS",
    "TRACE",
    "HumanFormatter",
    "JsonFormatter",
    "LoopFailures",
    "configure_logging",
    "level_name",
    "parse_level",
    "tracebacks_enabled",
]

TRACE = 5
logging.addLevelName(TRACE, "TRACE")

LEVELS: dict[str, int] = {
    "trace": TRACE,
    "debug": logging.DEBUG,
    "info": logging.INFO,
    "warn": logging.WARNING,
    "warning": logging.WARNING,
    "error": logging.ERROR,
    "critical": logging.CRITICAL,
}
_NAMES = {levelno: name for name, levelno in LEVELS.items() if name != "warning"}

# Attributes every LogRecord has; anything else on a record came from ``extra=``.
_RECORD_ATTRS = frozenset(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {"message", "asctime"}
_HANDLER_MARK = "_llmspell_handler"
_CHATTY_LIBRARIES = (
    "alembic",
    "asyncio",
    "httpx",
    "httpcore",
    "aiosqlite",
    "sqlalchemy.engine",
    "urllib3",
    "grpc",
)


def parse_level(level: str | int) -> int:
    """Turn ``trace|debug|info|warn|error`` (any case) or a number into a logging level.

    Raises:
        ConfigError: for an unknown name.
    """
    if isinstance(level, int):
        return level
    text = level.strip().lower()
    if text.isdigit():
        return int(text)
    if text not in LEVELS:
        raise ConfigError(f"unknown log level {level!r}: use trace, debug, info, warn or error")
    return LEVELS[text]


def level_name(levelno: int) -> str:
    """The short lower-case name of a level (``warn``, not ``WARNING``)."""
    return _NAMES.get(levelno) or logging.getLevelName(levelno).lower()


def _extras(record: logging.LogRecord) -> dict[str, Any]:
    return {key: value for key, value in vars(record).items() if key not in _RECORD_ATTRS}


class JsonFormatter(logging.Formatter):
    """One JSON object per record: ``ts``, ``level``, ``logger``, ``msg``, extras, ``exc``."""

    def format(self, record: logging.LogRecord) -> str:
        """Serialize ``record``; values that JSON cannot hold are written with ``str()``."""
        seconds = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
        body: dict[str, Any] = {
            "ts": f"{seconds}.{int(record.msecs):03d}Z",
            "level": level_name(record.levelno),
            "logger": record.name,
            "msg": record.getMessage(),
        }
        for key, value in _extras(record).items():
            body.setdefault(key, value)
        if record.exc_info and record.exc_info[0] is not None:
            body["exc"] = "".join(traceback.format_exception(*record.exc_info)).rstrip()
        if record.stack_info:
            body["stack"] = record.stack_info
        return json.dumps(body, default=str, ensure_ascii=False)


class HumanFormatter(logging.Formatter):
    """A compact terminal line: time, level, logger, message and ``key=value`` extras."""

    def format(self, record: logging.LogRecord) -> str:
        """Render ``record`` on one line (plus the traceback, when one is attached)."""
        clock = time.strftime("%H:%M:%S", time.localtime(record.created))
        line = f"{clock}.{int(record.msecs):03d} {level_name(record.levelno).upper():<5} {record.name}: "
        line += record.getMessage()
        extras = _extras(record)
        if extras:
            line += " " + " ".join(f"{key}={_compact(value)}" for key, value in extras.items())
        if record.exc_info and record.exc_info[0] is not None:
            line += "\n" + "".join(traceback.format_exception(*record.exc_info)).rstrip()
        if record.stack_info:
            line += "\n" + record.stack_info
        return line


def _compact(value: Any) -> str:
    text = value if isinstance(value, str) else json.dumps(value, default=str, ensure_ascii=False)
    return json.dumps(text, ensure_ascii=False) if (" " in text or not text) else text


def configure_logging(level: str | int = "warn", json: bool = False, *, stream: TextIO | None = None) -> int:
    """Route all log records to one handler on ``stream`` (stderr by default).

    Idempotent: a second call replaces the handler installed by the first, so the CLI's
    ``--trace`` and the daemon's configuration can both call it.

    Args:
        level: ``trace``, ``debug``, ``info``, ``warn`` or ``error`` (or a number).
        json: one JSON object per line (the daemon) instead of the compact human format.
        stream: where to write; ``sys.stderr`` when None.

    Returns:
        The numeric level in effect.

    Raises:
        ConfigError: for an unknown level name.
    """
    levelno = parse_level(level)
    root = logging.getLogger()
    for handler in list(root.handlers):
        if getattr(handler, _HANDLER_MARK, False):
            root.removeHandler(handler)
            handler.close()
    handler = logging.StreamHandler(stream if stream is not None else sys.stderr)
    setattr(handler, _HANDLER_MARK, True)
    handler.setFormatter(JsonFormatter() if json else HumanFormatter())
    root.addHandler(handler)
    root.setLevel(levelno)
    logging.getLogger("llmspell").setLevel(levelno)
    # Chatty libraries stay at warn unless the user asked for trace.
    library_level = levelno if levelno <= TRACE else max(levelno, logging.WARNING)
    for name in _CHATTY_LIBRARIES:
        logging.getLogger(name).setLevel(library_level)
    return levelno


def tracebacks_enabled() -> bool:
    """True when the user asked for ``--trace debug`` (or trace): show Python tracebacks."""
    return logging.getLogger("llmspell").getEffectiveLevel() <= logging.DEBUG


class LoopFailures:
    """The log of a background loop that retries (claiming runs, renewing leases, syncing
    schedules...): one warning when it starts failing, one when it works again.

    An outage of the database or Redis makes every such loop fail on each attempt; logging
    each attempt with its traceback wrote hundreds of tracebacks a minute. A failure already
    logged since the loop last worked is logged at debug level only: llmspell errors are
    alike by code (an unreachable database is one ``STORAGE_ERROR`` whatever the driver
    said), network errors by type, others by type and message. Unreachable services
    (llmspell errors, connection and OS errors) are one line; anything else keeps its
    traceback, as a bug would need.

    Args:
        logger: where to log.
        what: the loop's work, for the messages ("claiming runs").
    """

    __slots__ = ("_logger", "_seen", "what")

    def __init__(self, logger: logging.Logger, what: str) -> None:
        self._logger = logger
        self.what = what
        self._seen: set[str] = set()  # the failures logged since the loop last worked

    def failed(self, exc: BaseException) -> None:
        """Log ``exc`` unless a failure alike was logged since the loop last worked."""
        from .errors import LLMSpellError

        known = isinstance(exc, LLMSpellError)
        unreachable = not known and _unreachable(exc)
        summary = f"{type(exc).__name__}: {exc}"
        kind = exc.code if isinstance(exc, LLMSpellError) else type(exc).__name__ if unreachable else summary
        if kind in self._seen or len(self._seen) >= 10:
            self._logger.debug("%s failed again: %s", self.what, summary)
            return
        self._seen.add(kind)
        self._logger.warning(
            "%s failed: %s; retrying (repeats are logged at debug level)",
            self.what,
            exc if known else summary,
            exc_info=None if known or unreachable else exc,
        )

    def succeeded(self) -> None:
        """Note that the loop works again (logged once, after failures)."""
        if self._seen:
            self._seen.clear()
            self._logger.warning("%s works again", self.what)


def _unreachable(exc: BaseException) -> bool:
    """A network failure (OSError, or a client library's ConnectionError/TimeoutError)."""
    return isinstance(exc, OSError) or any(
        cls.__name__ in ("ConnectionError", "TimeoutError") for cls in type(exc).__mro__
    )

"""Built-in hooks that observe: logging, metrics, debugging (trace) and security.

None of them changes data; ``security`` stops calls that hit a deny-list by raising
``SANDBOX_VIOLATION`` (which the hook chain lets through on purpose).
"""

from __future__ import annotations

import fnmatch
import json
import logging
import re
import threading
import time
from collections import deque
from typing import Any

from ..core.errors import SandboxViolation, ValidationError
from .abc import Hook, HookContext, HookResult

__all__ = ["LoggingHook", "MetricsHook", "PiiFilter", "SecurityHook", "TraceHook", "redact"]

_PII = (
    (re.compile(r"[A-Za-z0-9._%+\-]+@[A-Za-z0-9.\-]+\.[A-Za-z]{2,}"), "[email]"),
    (re.compile(r"\b(?:sk|pk|rk|ghp|gho|xox[abp])[-_][A-Za-z0-9_\-]{12,}\b"), "[secret]"),
    (re.compile(r"(?i)\bbearer\s+[A-Za-z0-9._\-]{12,}"), "Bearer [secret]"),
    (re.compile(r"\b\d{3}-\d{2}-\d{4}\b"), "[ssn]"),
    (re.compile(r"\b\d(?:[ -]?\d){12,18}\b"), "[card]"),
    (re.compile(r"(?<![\w+])\+?\d{1,3}[ .\-]?\(?\d{2,4}\)?[ .\-]\d{3,4}[ .\-]\d{3,4}\b"), "[phone]"),
)


def redact(text: str) -> str:
    """``text`` with e-mail addresses, API keys, SSNs, card and phone numbers masked."""
    for pattern, mask in _PII:
        text = pattern.sub(mask, text)
    return text


def _text(value: Any, limit: int) -> str:
    try:
        out = json.dumps(value, default=str, ensure_ascii=False, separators=(",", ":"))
    except (TypeError, ValueError):
        out = repr(value)
    return out if len(out) <= limit else out[:limit] + "..."


def _options(options: dict[str, Any], allowed: set[str], hook: str) -> None:
    unknown = set(options) - allowed
    if unknown:
        raise ValidationError(
            f"unknown option(s) {sorted(unknown)} for the {hook} hook; allowed: {sorted(allowed)}",
            details={"field": "options"},
        )


class PiiFilter(logging.Filter):
    """A logging filter that redacts PII from every record's message."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        cleaned = redact(message)
        if cleaned != message:
            record.msg, record.args = cleaned, None
        return True


class LoggingHook(Hook):
    """Logs each firing (point, component, data) on ``llmspell.hooks.log``, PII redacted.

    Options: ``level`` (``debug``/``info``/``warning``, default info), ``redact`` (default
    true), ``max_chars`` of data shown (default 2000).
    """

    name = "logging"

    def __init__(self, *, level: str = "info", redact: bool = True, max_chars: int = 2000) -> None:
        number = logging.getLevelName(level.upper())
        if not isinstance(number, int):
            raise ValidationError(f"logging hook level {level!r} is not debug, info, warning or error")
        self.level = number
        self.redact = redact
        self.max_chars = max_chars
        self.log = logging.getLogger("llmspell.hooks.log")

    @classmethod
    def from_options(cls, options: dict[str, Any]) -> LoggingHook:
        _options(options, {"level", "redact", "max_chars"}, "logging")
        return cls(**options)

    async def __call__(self, ctx: HookContext) -> HookResult | None:
        if self.log.isEnabledFor(self.level):
            text = _text(ctx.data, self.max_chars)
            self.log.log(
                self.level,
                "hook %s %s:%s run=%s %s",
                ctx.point,
                ctx.component[0],
                ctx.component[1],
                ctx.run_id or "-",
                redact(text) if self.redact else text,
            )
        return None


class MetricsHook(Hook):
    """Counts firings in ``llmspell_hook_results_total{point, action="observed"}``."""

    name = "metrics"

    def __init__(self) -> None:
        from ..core.metrics import HOOK_CALLS  # prometheus_client: only when used

        self._counter = HOOK_CALLS
        self._children: dict[str, Any] = {}

    @classmethod
    def from_options(cls, options: dict[str, Any]) -> MetricsHook:
        _options(options, set(), "metrics")
        return cls()

    async def __call__(self, ctx: HookContext) -> HookResult | None:
        child = self._children.get(ctx.point)
        if child is None:
            child = self._children[ctx.point] = self._counter.labels(point=ctx.point, action="observed")
        child.inc()
        return None


class TraceHook(Hook):
    """Debugging: keeps the last ``max_entries`` firings (``entries()``) and logs them at debug."""

    name = "debug"

    def __init__(self, *, max_entries: int = 1000, max_chars: int = 500) -> None:
        self._entries: deque[dict[str, Any]] = deque(maxlen=max_entries)
        self._lock = threading.Lock()
        self.max_chars = max_chars
        self.log = logging.getLogger("llmspell.hooks.trace")

    @classmethod
    def from_options(cls, options: dict[str, Any]) -> TraceHook:
        _options(options, {"max_entries", "max_chars"}, "debug")
        return cls(**options)

    async def __call__(self, ctx: HookContext) -> HookResult | None:
        entry = {
            "time": time.time(),
            "point": ctx.point,
            "component": f"{ctx.component[0]}:{ctx.component[1]}",
            "run_id": ctx.run_id,
            "attempt": ctx.attempt,
            "data": redact(_text(ctx.data, self.max_chars)),
        }
        with self._lock:
            self._entries.append(entry)
        self.log.debug("trace %s", entry)
        return None

    def entries(self, run_id: str | None = None) -> list[dict[str, Any]]:
        """Recorded firings, oldest first (optionally of one run)."""
        with self._lock:
            items = list(self._entries)
        return items if run_id is None else [e for e in items if e["run_id"] == run_id]


class SecurityHook(Hook):
    """Deny-lists: stop calls to denied tools or models, or whose input matches a pattern.

    Options: ``deny_tools`` and ``deny_models`` (globs), ``deny_patterns`` (regular
    expressions searched in the call's data), ``redact_logs`` (default true: install
    :class:`PiiFilter` on the root log handlers and the ``llmspell`` logger).
    A denied call raises ``SANDBOX_VIOLATION``.
    """

    name = "security"

    def __init__(
        self,
        *,
        deny_tools: list[str] | None = None,
        deny_models: list[str] | None = None,
        deny_patterns: list[str] | None = None,
        redact_logs: bool = True,
    ) -> None:
        self.deny_tools = tuple(deny_tools or ())
        self.deny_models = tuple(deny_models or ())
        try:
            self.deny_patterns = tuple(re.compile(p) for p in deny_patterns or ())
        except re.error as exc:
            raise ValidationError(f"security hook: bad deny_patterns regular expression: {exc}") from exc
        if redact_logs:
            install_pii_filter()

    @classmethod
    def from_options(cls, options: dict[str, Any]) -> SecurityHook:
        _options(options, {"deny_tools", "deny_models", "deny_patterns", "redact_logs"}, "security")
        return cls(**options)

    async def __call__(self, ctx: HookContext) -> HookResult | None:
        kind, name = ctx.component
        denied = ""
        if kind == "tool" and any(fnmatch.fnmatchcase(name, glob) for glob in self.deny_tools):
            denied = f"tool {name!r} is denied by the security hook"
        elif kind == "llm" and any(fnmatch.fnmatchcase(name, glob) for glob in self.deny_models):
            denied = f"model {name!r} is denied by the security hook"
        elif self.deny_patterns:
            text = _text(ctx.data, 1_000_000)
            for pattern in self.deny_patterns:
                if pattern.search(text):
                    denied = f"the input of {kind} {name!r} matches the denied pattern {pattern.pattern!r}"
                    break
        if denied:
            raise SandboxViolation(
                f"{denied}; change the call or the security hook's deny-lists",
                details={"point": ctx.point, "component": [kind, name]},
            )
        return None


_FILTER = PiiFilter()


def install_pii_filter() -> None:
    """Redact PII in every record of the root handlers and the ``llmspell`` logger (idempotent)."""
    targets: list[logging.Filterer] = [logging.getLogger("llmspell"), *logging.getLogger().handlers]
    for target in targets:
        if _FILTER not in target.filters:
            target.addFilter(_FILTER)

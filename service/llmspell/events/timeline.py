"""A run's timeline, rebuilt from its stored run events (status, tool, agent, workflow, hook...)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

__all__ = ["TIMELINE_KINDS", "build_timeline"]

TIMELINE_KINDS = frozenset({"status", "tool", "agent", "workflow", "hook", "error", "result", "end", "log"})


def _summary(kind: str, data: dict[str, Any]) -> str:
    if kind in ("status", "end"):
        return str(data.get("status", ""))
    if kind in ("tool", "agent"):
        error = f" ({data['error']})" if data.get("error") else ""
        return f"{data.get('name', '')} {data.get('status', '')}{error}".strip()
    if kind == "workflow":
        step = f" step {data['step']}" if data.get("step") else ""
        return f"{data.get('type', 'workflow')} {data.get('workflow', '')}{step}".strip()
    if kind == "hook":
        component = data.get("component") or {}
        action = (data.get("result") or {}).get("action", "")
        where = f"{component.get('type', '')}:{component.get('name', '')}"
        return f"{data.get('hook', '')} at {data.get('point', '')} on {where} -> {action}"
    if kind == "error":
        return f"{data.get('code', '')}: {data.get('message', '')}"
    if kind == "log":
        return f"[{data.get('level', 'info')}] {data.get('message', '')}"
    if kind == "result":
        return str(data.get("result"))[:200]
    return ""


def build_timeline(events: list[tuple[int, str, Any, datetime]]) -> list[dict[str, Any]]:
    """Timeline entries ``{seq, time, offset_ms, kind, summary, data}`` of ``events``.

    ``events`` are ``(seq, type, data, created_at)`` in order; output, tokens and other
    bulk kinds are left out. A hook record's own timestamp is preferred to the time it was
    stored. ``offset_ms`` counts from the first event.
    """
    entries: list[dict[str, Any]] = []
    start: float | None = None
    for seq, kind, data, created_at in events:
        if kind not in TIMELINE_KINDS:
            continue
        body = data if isinstance(data, dict) else {"value": data}
        at = created_at.timestamp()
        if kind == "hook" and isinstance(body.get("timestamp"), int | float):
            at = float(body["timestamp"])
        if start is None:
            start = at
        entries.append(
            {
                "seq": seq,
                "time": datetime.fromtimestamp(at, created_at.tzinfo).isoformat(),
                "offset_ms": round((at - start) * 1000.0, 1),
                "kind": kind,
                "summary": _summary(kind, body),
                "data": body,
            }
        )
    return entries

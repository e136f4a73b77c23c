"""Rebuilding a run's timeline from its stored events."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from llmspell.events.timeline import build_timeline


def test_timeline_orders_summarises_and_times_events() -> None:
    t0 = datetime(2026, 1, 1, tzinfo=UTC)
    hook = {
        "hook": "guard",
        "point": "BeforeToolExecution",
        "component": {"type": "tool", "name": "calculator"},
        "result": {"action": "cancel", "reason": "no"},
        "timestamp": (t0 + timedelta(milliseconds=5)).timestamp(),
    }
    events = [
        (1, "status", {"status": "running"}, t0),
        (2, "stdout", {"text": "noise"}, t0),
        (3, "tool", {"name": "calculator", "status": "started"}, t0 + timedelta(milliseconds=4)),
        (4, "hook", hook, t0 + timedelta(milliseconds=50)),
        (5, "error", {"code": "CANCELLED", "message": "no"}, t0 + timedelta(milliseconds=6)),
        (6, "end", {"status": "failed"}, t0 + timedelta(milliseconds=7)),
    ]
    items = build_timeline(events)
    assert [i["seq"] for i in items] == [1, 3, 4, 5, 6]
    assert [i["offset_ms"] for i in items] == [0.0, 4.0, 5.0, 6.0, 7.0]
    assert items[2]["summary"] == "guard at BeforeToolExecution on tool:calculator -> cancel"
    assert items[1]["summary"] == "calculator started" and items[3]["summary"] == "CANCELLED: no"
    assert items[0]["time"] == "2026-01-01T00:00:00+00:00"
    assert build_timeline([]) == []

"""Schedule triggers: APScheduler 3 computes fire times; our table is the source of truth.

Every replica builds the same trigger for a schedule (interval triggers start at the
schedule's ``created_at``), so all replicas agree on each fire time and the unique
``(schedule_id, fire_time)`` insert picks the one that creates the run.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from ..core.errors import ValidationError

__all__ = ["OVERLAPS", "build_trigger", "check_timezone", "next_fire", "validate_trigger"]

OVERLAPS = ("skip", "queue", "cancel_previous")


def check_timezone(name: str) -> ZoneInfo:
    """The zone called ``name``; ValidationError naming it otherwise."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValidationError(f"unknown timezone {name!r}", details={"field": "timezone"}) from None


_MAX_INTERVAL_S = 315_360_000.0


def build_trigger(
    *, cron: str | None, interval_s: float | None, timezone: str, start: datetime | None = None
) -> Any:
    """An APScheduler trigger. ``cron`` has 5 fields (minute resolution) or 6 (seconds first)."""
    from apscheduler.triggers.cron import CronTrigger
    from apscheduler.triggers.interval import IntervalTrigger

    zone = check_timezone(timezone)
    if (cron is None) == (interval_s is None):
        raise ValidationError("give exactly one of cron and interval_s", details={"field": "cron"})
    if interval_s is not None:
        if not 0 < interval_s < _MAX_INTERVAL_S:  # also refuses NaN
            raise ValidationError(
                f"interval_s must be a positive number of seconds below {_MAX_INTERVAL_S:.0f} (10 years)",
                details={"field": "interval_s"},
            )
        return IntervalTrigger(seconds=interval_s, start_date=start, timezone=zone)
    assert cron is not None
    fields = cron.split()
    try:
        if len(fields) == 5:
            return CronTrigger.from_crontab(cron, timezone=zone)
        if len(fields) == 6:
            second, minute, hour, day, month, day_of_week = fields
            return CronTrigger(
                second=second,
                minute=minute,
                hour=hour,
                day=day,
                month=month,
                day_of_week=day_of_week,
                timezone=zone,
            )
    except (ValueError, TypeError) as exc:
        raise ValidationError(f"invalid cron expression {cron!r}: {exc}", details={"field": "cron"}) from None
    raise ValidationError(
        f"invalid cron expression {cron!r}: expected 5 fields (or 6 with seconds first)",
        details={"field": "cron"},
    )


def validate_trigger(*, cron: str | None, interval_s: float | None, timezone: str) -> None:
    """Raise ValidationError unless the trigger fields make a trigger."""
    build_trigger(cron=cron, interval_s=interval_s, timezone=timezone)


def next_fire(trigger: Any, previous: datetime | None, now: datetime) -> datetime | None:
    """The first fire time strictly after ``previous`` (or at/after ``now`` without one)."""
    if previous is None:
        fire: datetime | None = trigger.get_next_fire_time(None, now)
        return fire
    fire = trigger.get_next_fire_time(previous, previous + timedelta(microseconds=1))
    return fire

"""Schedules and their fires on SQL."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import Connection, Row, and_, delete, insert, or_, select, update

from ...core.errors import Conflict, NotFound, ValidationError
from ..abc import FireRepository, ScheduleRepository
from ..records import (
    FIRE_RESULTS,
    OVERLAP_POLICIES,
    UNSET,
    FireRecord,
    FireResult,
    OverlapPolicy,
    RunSpec,
    ScheduleRecord,
    Unset,
)
from ._db import Database, new_id, utcnow
from ._pages import check_limit, decode_cursor, decode_time_cursor, encode_cursor
from ._runs import insert_run
from ._tables import schedule_fires, schedules

__all__ = ["SQLFireRepository", "SQLScheduleRepository"]


def _schedule(row: Row[Any]) -> ScheduleRecord:
    return ScheduleRecord(**row._mapping)


def _fire(row: Row[Any]) -> FireRecord:
    return FireRecord(**row._mapping)


def _validate(values: dict[str, Any]) -> None:
    name = values["name"]
    if not name or len(name) > 200:
        raise ValidationError("schedule name must be 1 to 200 characters")
    if not values["script_name"]:
        raise ValidationError("a schedule needs the name of a stored script")
    cron, interval_s = values["cron"], values["interval_s"]
    if (cron is None) == (interval_s is None):
        raise ValidationError("a schedule needs exactly one of cron and interval_s")
    if interval_s is not None and interval_s <= 0:
        raise ValidationError(f"interval_s must be positive, got {interval_s}")
    if values["overlap"] not in OVERLAP_POLICIES:
        raise ValidationError(
            f"overlap must be one of {', '.join(OVERLAP_POLICIES)}, got {values['overlap']!r}"
        )
    if values["catchup_window_s"] < 0:
        raise ValidationError("catchup_window_s must not be negative")
    try:
        ZoneInfo(values["timezone"])
    except (ZoneInfoNotFoundError, ValueError):
        raise ValidationError(
            f"unknown timezone {values['timezone']!r}; use an IANA name like 'Europe/Paris'"
        ) from None


class SQLScheduleRepository(ScheduleRepository):
    """:class:`ScheduleRepository` over the ``schedules`` table."""

    def __init__(self, db: Database) -> None:
        self._db = db

    async def create(
        self,
        *,
        name: str,
        script_name: str,
        args: Any = None,
        cron: str | None = None,
        interval_s: float | None = None,
        timezone: str = "UTC",
        overlap: OverlapPolicy = "skip",
        catchup_window_s: float = 0.0,
        enabled: bool = True,
    ) -> ScheduleRecord:
        now = utcnow()
        values: dict[str, Any] = {
            "id": new_id(),
            "name": name,
            "script_name": script_name,
            "args": args,
            "cron": cron,
            "interval_s": interval_s,
            "timezone": timezone,
            "overlap": overlap,
            "catchup_window_s": catchup_window_s,
            "enabled": enabled,
            "created_at": now,
            "updated_at": now,
            "revision": 1,
            "last_fire_time": None,
        }
        _validate(values)
        try:
            async with self._db.write() as conn:
                row = (await conn.execute(insert(schedules).values(values).returning(*schedules.c))).one()
        except Conflict as exc:
            raise Conflict(
                f"A schedule named {name!r} exists; choose another name", details={"name": name}
            ) from exc
        return _schedule(row)

    async def get(self, schedule_id: str) -> ScheduleRecord:
        async with self._db.read() as conn:
            row = (await conn.execute(select(schedules).where(schedules.c.id == schedule_id))).first()
        if row is None:
            raise NotFound.named("schedule", schedule_id)
        return _schedule(row)

    async def get_by_name(self, name: str) -> ScheduleRecord:
        async with self._db.read() as conn:
            row = (await conn.execute(select(schedules).where(schedules.c.name == name))).first()
        if row is None:
            raise NotFound.named("schedule", name)
        return _schedule(row)

    async def list(
        self, *, enabled: bool | None = None, limit: int = 100, cursor: str | None = None
    ) -> tuple[list[ScheduleRecord], str | None]:
        check_limit(limit)
        query = select(schedules)
        if enabled is not None:
            query = query.where(schedules.c.enabled.is_(enabled))
        if cursor is not None:
            (after,) = decode_cursor(cursor, 1)
            query = query.where(schedules.c.name > str(after))
        query = query.order_by(schedules.c.name).limit(limit + 1)
        async with self._db.read() as conn:
            rows = (await conn.execute(query)).all()
        records = [_schedule(row) for row in rows[:limit]]
        next_cursor = encode_cursor(records[-1].name) if len(rows) > limit else None
        return records, next_cursor

    async def update(
        self,
        schedule_id: str,
        *,
        expected_revision: int | None = None,
        name: str | Unset = UNSET,
        script_name: str | Unset = UNSET,
        args: Any = UNSET,
        cron: str | Unset | None = UNSET,
        interval_s: float | Unset | None = UNSET,
        timezone: str | Unset = UNSET,
        overlap: OverlapPolicy | Unset = UNSET,
        catchup_window_s: float | Unset = UNSET,
        enabled: bool | Unset = UNSET,
    ) -> ScheduleRecord:
        changes: dict[str, Any] = {
            key: value
            for key, value in {
                "name": name,
                "script_name": script_name,
                "args": args,
                "cron": cron,
                "interval_s": interval_s,
                "timezone": timezone,
                "overlap": overlap,
                "catchup_window_s": catchup_window_s,
                "enabled": enabled,
            }.items()
            if value is not UNSET
        }
        # Switching trigger kind clears the other one, as a PATCH of one field expects.
        if changes.get("cron") is not None and "interval_s" not in changes:
            changes["interval_s"] = None
        if changes.get("interval_s") is not None and "cron" not in changes:
            changes["cron"] = None
        locked = select(schedules).where(schedules.c.id == schedule_id).with_for_update()
        async with self._db.write() as conn:
            row = (await conn.execute(locked)).first()
            if row is None:
                raise NotFound.named("schedule", schedule_id)
            current = _schedule(row)
            if expected_revision is not None and current.revision != expected_revision:
                raise Conflict(
                    f"schedule {schedule_id!r} is at revision {current.revision}, "
                    f"not {expected_revision}; reload it and retry",
                    details={"revision": current.revision},
                )
            _validate({**dataclasses.asdict(current), **changes})
            new_name = changes.get("name", current.name)
            if new_name != current.name:
                taken = select(schedules.c.id).where(schedules.c.name == new_name)
                if (await conn.execute(taken)).first() is not None:
                    raise Conflict(f"A schedule named {new_name!r} exists; choose another name")
            statement = (
                update(schedules)
                .where(schedules.c.id == schedule_id)
                .values(**changes, updated_at=utcnow(), revision=current.revision + 1)
                .returning(*schedules.c)
            )
            return _schedule((await conn.execute(statement)).one())

    async def mark_fired(self, schedule_id: str, fire_time: datetime) -> None:
        statement = (
            update(schedules)
            .where(
                schedules.c.id == schedule_id,
                or_(schedules.c.last_fire_time.is_(None), schedules.c.last_fire_time < fire_time),
            )
            .values(last_fire_time=fire_time)
            .returning(schedules.c.id)
        )
        async with self._db.write() as conn:
            if (await conn.execute(statement)).first() is not None:
                return
            found = (await conn.execute(select(schedules.c.id).where(schedules.c.id == schedule_id))).first()
        if found is None:
            raise NotFound.named("schedule", schedule_id)

    async def delete(self, schedule_id: str) -> None:
        statement = delete(schedules).where(schedules.c.id == schedule_id).returning(schedules.c.id)
        async with self._db.write() as conn:
            row = (await conn.execute(statement)).first()
        if row is None:
            raise NotFound.named("schedule", schedule_id)

    async def revisions(self) -> dict[str, int]:
        async with self._db.read() as conn:
            rows = (await conn.execute(select(schedules.c.id, schedules.c.revision))).all()
        return {row.id: row.revision for row in rows}


class SQLFireRepository(FireRepository):
    """:class:`FireRepository` over the ``schedule_fires`` table."""

    def __init__(self, db: Database) -> None:
        self._db = db

    async def try_insert(
        self, schedule_id: str, fire_time: datetime, result: FireResult, *, run: RunSpec | None = None
    ) -> FireRecord | None:
        if result not in FIRE_RESULTS:
            raise ValidationError(f"fire result must be one of {', '.join(FIRE_RESULTS)}, got {result!r}")
        if fire_time.tzinfo is None:
            raise ValidationError("fire_time must be an aware datetime (UTC)")
        fire_time = fire_time.astimezone(UTC)
        values: dict[str, Any] = {
            "id": new_id(),
            "schedule_id": schedule_id,
            "fire_time": fire_time,
            "run_id": None,
            "result": result,
            "created_at": utcnow(),
        }
        # Losers of the race wait for the winner's commit and insert nothing.
        statement = (
            self._db.dialect.insert(schedule_fires)
            .values(values)
            .on_conflict_do_nothing(index_elements=["schedule_id", "fire_time"])
            .returning(schedule_fires.c.id)
        )
        dialect = self._db.dialect
        if run is not None and run.schedule_id is None:
            run = dataclasses.replace(run, schedule_id=schedule_id, fire_time=fire_time)

        def apply(conn: Connection) -> FireRecord | None:
            if conn.execute(statement).first() is None:
                return None
            if run is not None:
                created = insert_run(conn, dialect, run)
                values["run_id"] = created.id
                link = (
                    update(schedule_fires)
                    .where(schedule_fires.c.id == values["id"])
                    .values(run_id=created.id)
                )
                conn.execute(link)
            return FireRecord(**values)

        return await self._db.run(apply, write=True)

    async def set_run(self, fire_id: str, run_id: str) -> None:
        statement = (
            update(schedule_fires)
            .where(schedule_fires.c.id == fire_id)
            .values(run_id=run_id)
            .returning(schedule_fires.c.id)
        )
        async with self._db.write() as conn:
            row = (await conn.execute(statement)).first()
        if row is None:
            raise NotFound.named("schedule fire", fire_id)

    async def list(
        self, schedule_id: str, limit: int = 50, cursor: str | None = None
    ) -> tuple[list[FireRecord], str | None]:
        check_limit(limit)
        fires = schedule_fires.c
        query = select(schedule_fires).where(fires.schedule_id == schedule_id)
        if cursor is not None:
            stamp, after_id = decode_time_cursor(cursor)
            query = query.where(
                or_(fires.fire_time < stamp, and_(fires.fire_time == stamp, fires.id < after_id))
            )
        query = query.order_by(fires.fire_time.desc(), fires.id.desc()).limit(limit + 1)
        async with self._db.read() as conn:
            rows = (await conn.execute(query)).all()
        records = [_fire(row) for row in rows[:limit]]
        last = records[-1] if records else None
        next_cursor = encode_cursor(last.fire_time, last.id) if last and len(rows) > limit else None
        return records, next_cursor

"""Runs and the run queue on SQL."""

from __future__ import annotations

import builtins
import operator
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, Integer, Row, and_, bindparam, func, insert, or_, select, update

from ...core.errors import NotFound, ValidationError
from ..abc import RunRepository
from ..records import RUN_STATUSES, TERMINAL_RUN_STATUSES, RunFinish, RunRecord, RunSpec, RunStatus
from ._db import Database, driver_cursor, new_id, utcnow
from ._dialect import Dialect
from ._events import INSERT_EVENT, event_rows
from ._pages import check_limit, decode_time_cursor, encode_cursor
from ._tables import runs

__all__ = ["SQLRunRepository", "insert_run", "run_record"]

_RUNNING = runs.c.status == "running"

# Built once, run through Database.fetch / execute_many (compiled once per database).
_INSERT = insert(runs).values({c.name: bindparam(c.name, type_=c.type) for c in runs.c})
_RUN_COLUMNS = tuple(c.name for c in runs.c)
_record_values = operator.attrgetter(*_RUN_COLUMNS)
_GET = select(runs).where(runs.c.id == bindparam("id"))
_FINISH = (
    update(runs)
    .where(runs.c.id == bindparam("b_id"), runs.c.worker_id == bindparam("b_worker_id"), _RUNNING)
    .values(
        status=bindparam("b_status"),
        result=bindparam("b_result", type_=runs.c.result.type),
        stdout=bindparam("b_stdout"),
        error=bindparam("b_error", type_=runs.c.error.type),
        usage=bindparam("b_usage", type_=runs.c.usage.type),
        duration_ms=bindparam("b_duration_ms"),
        finished_at=bindparam("b_now", type_=runs.c.finished_at.type),
        lease_expires_at=None,
    )
    .returning(runs.c.id)
)
_FINISHED = dict.fromkeys(("result", "stdout", "error", "usage", "duration_ms", "finished_at"))


def run_record(row: Row[Any] | dict[str, Any]) -> RunRecord:
    """A :class:`RunRecord` from a ``runs`` row (or its ``{column: value}``)."""
    values = dict(row) if isinstance(row, dict) else dict(row._mapping)
    values["metadata"] = values["metadata"] or {}
    return RunRecord(**values)


def _check_spec(spec: RunSpec) -> None:
    if not spec.engine:
        raise ValidationError("run engine must not be empty (e.g. 'lua')")
    if spec.max_attempts < 1:
        raise ValidationError(f"max_attempts must be at least 1, got {spec.max_attempts}")
    if spec.timeout_s is not None and spec.timeout_s <= 0:
        raise ValidationError(f"timeout_s must be positive, got {spec.timeout_s}")
    if spec.idempotency_key is not None and not 1 <= len(spec.idempotency_key) <= 255:
        raise ValidationError("idempotency key must be 1 to 255 characters")


def _run_values(spec: RunSpec, now: datetime, worker_id: str | None, lease_s: float) -> dict[str, Any]:
    _check_spec(spec)
    values: dict[str, Any] = {
        "id": new_id(),
        "status": "queued",
        "script_name": spec.script_name,
        "script_version": spec.script_version,
        "engine": spec.engine,
        "code": spec.code,
        "args": spec.args,
        "session_id": spec.session_id,
        "schedule_id": spec.schedule_id,
        "fire_time": spec.fire_time,
        "timeout_s": spec.timeout_s,
        "metadata": dict(spec.metadata or {}),
        "webhook": spec.webhook,
        "idempotency_key": spec.idempotency_key,
        "created_at": now,
        "attempts": 0,
        "max_attempts": spec.max_attempts,
        "cancel_requested": False,
        "worker_id": None,
        "started_at": None,
        "lease_expires_at": None,
        **_FINISHED,
    }
    if worker_id is not None:
        values.update(
            status="running",
            worker_id=worker_id,
            attempts=1,
            started_at=now,
            lease_expires_at=now + timedelta(seconds=lease_s),
        )
    return values


def insert_run(
    conn: Connection,
    dialect: Dialect,
    spec: RunSpec,
    *,
    worker_id: str | None = None,
    lease_s: float = 30.0,
) -> RunRecord:
    """Insert a queued run inside the caller's transaction (or find its idempotent twin);
    with ``worker_id``, insert it already claimed by that worker."""
    values = _run_values(spec, utcnow(), worker_id, lease_s)
    statement = dialect.insert(runs).values(values)
    if spec.idempotency_key is not None:
        # Losers of a concurrent race wait for the winner's commit, insert nothing, then read it.
        statement = statement.on_conflict_do_nothing(index_elements=["idempotency_key"])
    row = conn.execute(statement.returning(*runs.c)).first()
    if row is None:
        query = select(runs).where(runs.c.idempotency_key == spec.idempotency_key)
        row = conn.execute(query).one()
    return run_record(row)


def _lease_lost_error(now: datetime) -> dict[str, Any]:
    return {
        "code": "INTERNAL",
        "message": "the worker running this run stopped renewing its lease (it probably died) "
        "and the run has used all its attempts; raise max_attempts to retry such runs",
        "details": {"reason": "lease_expired", "recovered_at": now.isoformat()},
    }


class SQLRunRepository(RunRepository):
    """:class:`RunRepository` over the ``runs`` table."""

    def __init__(self, db: Database) -> None:
        self._db = db
        oldest = db.dialect.lock_queued(
            select(runs.c.id)
            .where(runs.c.status == "queued")
            .order_by(runs.c.created_at, runs.c.id)
            .limit(bindparam("limit", type_=Integer))
        )
        # MATERIALIZED: evaluated once. As a plain IN-subquery, Postgres may rescan it per
        # row, and each rescan (skipping rows this very statement locked) claims more runs.
        picked = oldest.cte("picked").prefix_with("MATERIALIZED")
        self._claim = (
            update(runs)
            .where(runs.c.id.in_(select(picked.c.id)), runs.c.status == "queued")
            .values(
                status="running",
                worker_id=bindparam("worker_id", type_=runs.c.worker_id.type),
                attempts=runs.c.attempts + 1,
                started_at=bindparam("now", type_=runs.c.started_at.type),
                lease_expires_at=bindparam("lease_expires_at", type_=runs.c.lease_expires_at.type),
            )
            .returning(*runs.c)
        )
        # No IN-list of the caller's ids: with a thousand runs in flight, compiling one every
        # half second cost more than reading the (few) running rows with a cancel pending.
        self._cancel_requested = select(runs.c.id).where(_RUNNING, runs.c.cancel_requested)

    async def create(
        self, spec: RunSpec, *, worker_id: str | None = None, lease_s: float = 30.0
    ) -> RunRecord:
        dialect = self._db.dialect

        def apply(conn: Connection) -> RunRecord:
            return insert_run(conn, dialect, spec, worker_id=worker_id, lease_s=lease_s)

        return await self._db.run(apply, write=True, atomic=spec.idempotency_key is not None)

    async def create_many(
        self, specs: Sequence[RunSpec], *, worker_id: str | None = None, lease_s: float = 30.0
    ) -> builtins.list[RunRecord]:
        now = utcnow()
        if all(spec.idempotency_key is None for spec in specs):
            # The common batch: one executemany; the rows are the records (ids are made here).
            rows = [_run_values(spec, now, worker_id, lease_s) for spec in specs]
            await self._db.execute_many((_INSERT, rows))
            return [run_record(row) for row in rows]
        plain = [i for i, spec in enumerate(specs) if spec.idempotency_key is None]
        rows = [_run_values(specs[i], now, worker_id, lease_s) for i in plain]
        dialect = self._db.dialect

        def apply(conn: Connection) -> builtins.list[RunRecord]:
            records: dict[int, RunRecord] = {}
            if rows:
                # One multi-row INSERT ... RETURNING for the whole batch.
                # Rows come back in any order; ids are made here, so match them by id
                # (asking for parameter order makes SQLAlchemy insert row by row).
                inserted = {
                    row.id: run_record(row) for row in conn.execute(insert(runs).returning(*runs.c), rows)
                }
                records.update((i, inserted[values["id"]]) for i, values in zip(plain, rows, strict=True))
            for i, spec in enumerate(specs):
                if i not in records:
                    records[i] = insert_run(conn, dialect, spec, worker_id=worker_id, lease_s=lease_s)
            return [records[i] for i in range(len(specs))]

        return await self._db.run(apply, write=True)

    async def get(self, run_id: str) -> RunRecord:
        rows = await self._db.fetch(_GET, {"id": run_id}, write=False)
        if not rows:
            raise NotFound.named("run", run_id)
        return run_record(rows[0])

    async def list(
        self,
        *,
        status: RunStatus | Sequence[RunStatus] | None = None,
        script: str | None = None,
        schedule_id: str | None = None,
        limit: int = 50,
        cursor: str | None = None,
    ) -> tuple[list[RunRecord], str | None]:
        check_limit(limit)
        query = select(runs)
        if status is not None:
            statuses = [status] if isinstance(status, str) else list(status)
            unknown = set(statuses) - set(RUN_STATUSES)
            if unknown:
                raise ValidationError(f"unknown run status {sorted(unknown)[0]!r}; use one of {RUN_STATUSES}")
            query = query.where(runs.c.status.in_(statuses))
        if script is not None:
            query = query.where(runs.c.script_name == script)
        if schedule_id is not None:
            query = query.where(runs.c.schedule_id == schedule_id)
        if cursor is not None:
            stamp, after_id = decode_time_cursor(cursor)
            query = query.where(
                or_(runs.c.created_at < stamp, and_(runs.c.created_at == stamp, runs.c.id < after_id))
            )
        query = query.order_by(runs.c.created_at.desc(), runs.c.id.desc()).limit(limit + 1)
        rows = await self._db.run(lambda conn: conn.execute(query).all(), write=False, atomic=False)
        records = [run_record(row) for row in rows[:limit]]
        last = records[-1] if records else None
        next_cursor = encode_cursor(last.created_at, last.id) if last and len(rows) > limit else None
        return records, next_cursor

    async def claim(self, worker_id: str, limit: int, lease_s: float) -> builtins.list[RunRecord]:
        if limit <= 0:
            return []
        now = utcnow()
        params = {
            "limit": limit,
            "worker_id": worker_id,
            "now": now,
            "lease_expires_at": now + timedelta(seconds=lease_s),
        }
        rows = await self._db.fetch(self._claim, params, write=True)
        return sorted((run_record(row) for row in rows), key=lambda r: (r.created_at, r.id))

    async def renew_leases(self, worker_id: str, run_ids: Sequence[str], lease_s: float) -> set[str]:
        if not run_ids:
            return set()
        statement = (
            update(runs)
            .where(runs.c.id.in_(list(run_ids)), runs.c.worker_id == worker_id, _RUNNING)
            .values(lease_expires_at=utcnow() + timedelta(seconds=lease_s))
            .returning(runs.c.id)
        )
        return await self._db.run(
            lambda conn: set(conn.execute(statement).scalars()), write=True, atomic=False
        )

    async def finish(
        self,
        run_id: str,
        worker_id: str,
        status: RunStatus,
        *,
        result: Any = None,
        stdout: str | None = None,
        error: dict[str, Any] | None = None,
        usage: dict[str, Any] | None = None,
        duration_ms: float | None = None,
        events: Sequence[tuple[int, str, Any]] = (),
    ) -> bool:
        finish = RunFinish(
            run_id=run_id,
            worker_id=worker_id,
            status=status,
            result=result,
            stdout=stdout,
            error=error,
            usage=usage,
            duration_ms=duration_ms,
            events=tuple(events),
        )
        return (await self.finish_many([finish]))[0]

    async def insert_finished(self, items: Sequence[tuple[RunRecord, RunFinish]]) -> None:
        if not items:
            return
        now = utcnow()
        rows = []
        for run, finish in items:
            if finish.status not in TERMINAL_RUN_STATUSES:
                raise ValidationError(
                    f"a run finishes as one of {TERMINAL_RUN_STATUSES}, not {finish.status!r}"
                )
            rows.append(
                {
                    **dict(zip(_RUN_COLUMNS, _record_values(run), strict=True)),
                    "status": finish.status,
                    "result": finish.result,
                    "stdout": finish.stdout,
                    "error": finish.error,
                    "usage": finish.usage,
                    "duration_ms": finish.duration_ms,
                    "finished_at": now,
                    "lease_expires_at": None,
                }
            )
        events = [row for _, finish in items for row in event_rows(finish.run_id, finish.events)]
        await self._db.execute_many((_INSERT, rows), (INSERT_EVENT, events))

    async def finish_many(self, finishes: Sequence[RunFinish]) -> builtins.list[bool]:
        if not finishes:
            return []
        for finish in finishes:
            if finish.status not in TERMINAL_RUN_STATUSES:
                raise ValidationError(
                    f"a run finishes as one of {TERMINAL_RUN_STATUSES}, not {finish.status!r}"
                )
        now = utcnow()
        finish_run, insert_event = self._db.prepare(_FINISH), self._db.prepare(INSERT_EVENT)
        updates = [
            finish_run.args(
                {
                    "b_id": finish.run_id,
                    "b_worker_id": finish.worker_id,
                    "b_status": finish.status,
                    "b_result": finish.result,
                    "b_stdout": finish.stdout,
                    "b_error": finish.error,
                    "b_usage": finish.usage,
                    "b_duration_ms": finish.duration_ms,
                    "b_now": now,
                }
            )
            for finish in finishes
        ]

        def events(done: set[str]) -> builtins.list[tuple[Any, ...]]:
            return [
                insert_event.args(row)
                for finish in finishes
                if finish.run_id in done
                for row in event_rows(finish.run_id, finish.events)
            ]

        # The UPDATE re-checks owner and status under the row lock: a run whose lease was
        # lost (recovered, or claimed by another worker) is left alone.
        if self._db.embedded:

            def apply(conn: Connection) -> set[str]:
                done: set[str] = set()
                with driver_cursor(conn) as cursor:
                    for args in updates:
                        cursor.execute(finish_run.sql, args)
                        done.update(row[0] for row in cursor.fetchall())
                    if rows := events(done):
                        cursor.executemany(insert_event.sql, rows)
                return done

            done = await self._db.run(apply, write=True)
        else:

            async def apply_async(conn: Any) -> set[str]:
                done = {row[0] for row in await conn.fetchmany(finish_run.sql, updates)}
                if rows := events(done):
                    await conn.executemany(insert_event.sql, rows)
                return done

            done = await self._db.on_driver(apply_async, write=True, atomic=True)
        return [finish.run_id in done for finish in finishes]

    async def request_cancel(self, run_id: str) -> RunRecord:
        now = utcnow()
        cancel_queued = (
            update(runs)
            .where(runs.c.id == run_id, runs.c.status == "queued")
            .values(
                status="cancelled",
                cancel_requested=True,
                finished_at=now,
                error={"code": "CANCELLED", "message": "cancelled before it started", "details": {}},
            )
            .returning(*runs.c)
        )
        flag_running = (
            update(runs).where(runs.c.id == run_id, _RUNNING).values(cancel_requested=True).returning(*runs.c)
        )

        def apply(conn: Connection) -> Row[Any] | None:
            for statement in (cancel_queued, flag_running, select(runs).where(runs.c.id == run_id)):
                row: Row[Any] | None = conn.execute(statement).first()
                if row is not None:
                    return row
            return None

        row = await self._db.run(apply, write=True)
        if row is None:
            raise NotFound.named("run", run_id)
        return run_record(row)

    async def cancel_requested_ids(self, run_ids: Sequence[str]) -> set[str]:
        if not run_ids:
            return set()
        rows = await self._db.fetch(self._cancel_requested, {}, write=False)
        return {row["id"] for row in rows}.intersection(run_ids)

    async def recover_expired(self, now: datetime) -> tuple[builtins.list[str], builtins.list[str]]:
        expired = and_(_RUNNING, runs.c.lease_expires_at < now)
        finished_as_cancelled = (
            update(runs)
            .where(expired, runs.c.cancel_requested)
            .values(
                status="cancelled",
                finished_at=now,
                lease_expires_at=None,
                error={"code": "CANCELLED", "message": "cancelled; its worker stopped", "details": {}},
            )
            .returning(runs.c.id)
        )
        requeue = (
            update(runs)
            .where(expired, runs.c.attempts < runs.c.max_attempts)
            .values(status="queued", worker_id=None, started_at=None, lease_expires_at=None)
            .returning(runs.c.id)
        )
        fail = (
            update(runs)
            .where(expired)
            .values(status="failed", finished_at=now, lease_expires_at=None, error=_lease_lost_error(now))
            .returning(runs.c.id)
        )

        def apply(conn: Connection) -> tuple[builtins.list[str], builtins.list[str]]:
            finished = list(conn.execute(finished_as_cancelled).scalars())
            requeued = list(conn.execute(requeue).scalars())
            finished += conn.execute(fail).scalars()
            return sorted(requeued), sorted(finished)

        return await self._db.run(apply, write=True)

    async def release(self, worker_id: str, run_ids: Sequence[str]) -> builtins.list[str]:
        if not run_ids:
            return []
        statement = (
            update(runs)
            .where(runs.c.id.in_(list(run_ids)), runs.c.worker_id == worker_id, _RUNNING)
            .values(
                status="queued",
                worker_id=None,
                started_at=None,
                lease_expires_at=None,
                attempts=runs.c.attempts - 1,
            )
            .returning(runs.c.id)
        )
        return await self._db.run(
            lambda conn: sorted(conn.execute(statement).scalars()), write=True, atomic=False
        )

    async def count_by_status(self) -> dict[RunStatus, int]:
        query = select(runs.c.status, func.count()).group_by(runs.c.status)
        rows = await self._db.run(lambda conn: conn.execute(query).all(), write=False, atomic=False)
        counts: dict[RunStatus, int] = dict.fromkeys(RUN_STATUSES, 0)
        for status, count in rows:
            counts[status] = int(count)
        return counts

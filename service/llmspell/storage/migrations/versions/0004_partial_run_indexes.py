"""Partial indexes on runs: only rows with a script name, a schedule or a lease.

Most runs (inline code, finished) have none of the three, so their insert and their
finish touch four B-trees instead of seven.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-03
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

#: (index, columns, the column a row must have to be in the index)
_INDEXES = (
    ("ix_runs_script_name_created_at", ["script_name", "created_at"], "script_name"),
    ("ix_runs_schedule_id_created_at", ["schedule_id", "created_at"], "schedule_id"),
    ("ix_runs_status_lease_expires_at", ["status", "lease_expires_at"], "lease_expires_at"),
)


def upgrade() -> None:
    for name, columns, present in _INDEXES:
        op.drop_index(name, table_name="runs")
        where = sa.text(f"{present} IS NOT NULL")
        op.create_index(name, "runs", columns, sqlite_where=where, postgresql_where=where)


def downgrade() -> None:
    for name, columns, _present in _INDEXES:
        op.drop_index(name, table_name="runs")
        op.create_index(name, "runs", columns)

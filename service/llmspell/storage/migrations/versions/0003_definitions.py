"""Agent and workflow definitions stored by the daemon.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-26
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

_TS = sa.DateTime(timezone=True)


def _create(name: str) -> None:
    op.create_table(
        name,
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("definition", sa.JSON(none_as_null=True), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("created_at", _TS, nullable=False),
        sa.Column("updated_at", _TS, nullable=False),
        sa.PrimaryKeyConstraint("name", name=f"pk_{name}"),
    )


def upgrade() -> None:
    _create("agent_definitions")
    _create("workflow_definitions")


def downgrade() -> None:
    op.drop_table("workflow_definitions")
    op.drop_table("agent_definitions")

"""Alembic environment: runs on the connection :mod:`llmspell.storage.migrate` passes in."""

from __future__ import annotations

from alembic import context

from llmspell.core.errors import ConfigError
from llmspell.storage.sql._tables import schema_metadata

connection = context.config.attributes.get("connection")
if connection is None:
    raise ConfigError(
        "run migrations with 'llmspell db upgrade' (or llmspell.storage.migrate), not bare alembic"
    )

context.configure(
    connection=connection,
    target_metadata=schema_metadata(),
    # SQLite cannot ALTER most things; batch mode rebuilds tables instead.
    render_as_batch=connection.dialect.name == "sqlite",
    compare_type=True,
)
with context.begin_transaction():
    context.run_migrations()

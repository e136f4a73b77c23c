"""Alembic migration scripts of the llmspell schema (run them with ``llmspell db upgrade``)."""

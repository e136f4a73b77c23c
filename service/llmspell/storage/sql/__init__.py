"""The SQLAlchemy 2 async store, shared by SQLite and PostgreSQL."""

from __future__ import annotations

from ._store import SQLStore

__all__ = ["SQLStore"]

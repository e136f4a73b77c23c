"""Persistent state: scoped, versioned JSON values with migrations, a cache and backups.

Importing this package does not import SQLAlchemy.
"""

from __future__ import annotations

from .conversation import load_conversation, load_step_outputs, save_conversation, save_step_output
from .manager import StateManager
from .migrations import MigrationReport, SchemaMigrations, default_migrations, migrate_store
from .scopes import SCOPE_KINDS, check_key, check_scope

__all__ = [
    "SCOPE_KINDS",
    "MigrationReport",
    "SchemaMigrations",
    "StateManager",
    "check_key",
    "check_scope",
    "default_migrations",
    "load_conversation",
    "load_step_outputs",
    "migrate_store",
    "save_conversation",
    "save_step_output",
]

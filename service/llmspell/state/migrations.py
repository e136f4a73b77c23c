"""Schema versions of state values and the functions that upgrade old ones.

A migration upgrades values whose ``(scope, key)`` match two globs from one schema
version to the next. Values are upgraded on read (and written back) and in bulk by
``llmspell state migrate``. Values written now carry the newest version of their chain.
Both paths fire the StateMigration hook point (``modified`` changes the value written,
``cancel`` leaves the stored value as it is).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from fnmatch import fnmatchcase
from typing import TYPE_CHECKING, Any

from ..core.errors import Conflict, LLMSpellError, ValidationError

if TYPE_CHECKING:
    from ..core.context import ExecutionContext
    from ..storage.abc import Store

__all__ = ["MigrationReport", "SchemaMigrations", "default_migrations", "migrate_store"]

Upgrade = Callable[[Any], Any]


@dataclass(frozen=True, kw_only=True, slots=True)
class _Migration:
    scope: str
    key: str
    from_version: int
    fn: Upgrade

    def matches(self, scope: str, key: str) -> bool:
        return fnmatchcase(scope, self.scope) and fnmatchcase(key, self.key)


class SchemaMigrations:
    """The registered migrations, looked up by ``(scope, key)``."""

    def __init__(self) -> None:
        self._migrations: list[_Migration] = []

    def register(self, scope: str, key: str, from_version: int, fn: Upgrade) -> None:
        """Upgrade values of ``scope``/``key`` (globs) from ``from_version`` to ``from_version + 1``.

        Raises:
            ValidationError: ``from_version`` is below 1 or already has a migration for these globs.
        """
        if from_version < 1:
            raise ValidationError("schema versions start at 1")
        for known in self._migrations:
            if (known.scope, known.key, known.from_version) == (scope, key, from_version):
                raise ValidationError(f"a migration from version {from_version} of {scope}/{key} exists")
        self._migrations.append(_Migration(scope=scope, key=key, from_version=from_version, fn=fn))

    def _chain(self, scope: str, key: str) -> dict[int, _Migration]:
        return {m.from_version: m for m in self._migrations if m.matches(scope, key)}

    def current_version(self, scope: str, key: str) -> int:
        """The newest schema version of values under ``(scope, key)`` (1 without migrations)."""
        chain = self._chain(scope, key)
        version = 1
        while version in chain:
            version += 1
        return version

    def upgrade(self, scope: str, key: str, value: Any, version: int) -> tuple[Any, int]:
        """``value`` upgraded from ``version`` to the newest version, and that version.

        Raises:
            ValidationError: a migration function failed (the message names it).
        """
        chain = self._chain(scope, key)
        while version in chain:
            try:
                value = chain[version].fn(value)
            except LLMSpellError:
                raise
            except Exception as exc:
                raise ValidationError(
                    f"migrating {scope}/{key} from schema version {version} failed: {exc}",
                    details={"scope": scope, "key": key, "version": version},
                ) from exc
            version += 1
        return value, version


def _conversation_v1_to_v2(value: Any) -> Any:
    # Version 1 stored the bare message list; version 2 wraps it so metadata can travel with it.
    if isinstance(value, list):
        return {"messages": value, "metadata": {}}
    return value


def default_migrations() -> SchemaMigrations:
    """The migrations of llmspell's own value formats (agent conversations)."""
    migrations = SchemaMigrations()
    migrations.register("agent:*", "conversation", 1, _conversation_v1_to_v2)
    return migrations


@dataclass(kw_only=True, slots=True)
class MigrationReport:
    """What ``migrate_store`` found and did."""

    scanned: int = 0
    upgraded: int = 0
    conflicts: int = 0
    cancelled: int = 0
    failed: list[dict[str, Any]] = field(default_factory=list)
    dry_run: bool = False

    def to_dict(self) -> dict[str, Any]:
        return {
            "scanned": self.scanned,
            "upgraded": self.upgraded,
            "conflicts": self.conflicts,
            "cancelled": self.cancelled,
            "failed": self.failed,
            "dry_run": self.dry_run,
        }


async def migrate_store(
    store: Store,
    migrations: SchemaMigrations,
    *,
    dry_run: bool = False,
    page: int = 500,
    ctx: ExecutionContext | None = None,
) -> MigrationReport:
    """Upgrade every stored value that is behind its newest schema version.

    Each value is written back with its version as ``expected_version``, so a concurrent
    writer wins (counted in ``conflicts``). With ``dry_run`` nothing is written. Each upgrade
    fires StateMigration (``ctx``'s hooks, else the process's): ``modified`` changes the value
    written, ``cancel`` skips the entry (counted in ``cancelled``).
    """
    from ..hooks.abc import HookCancelled
    from ..hooks.registry import hooks_for
    from .scopes import encode_value

    hooks = hooks_for(ctx)
    report = MigrationReport(dry_run=dry_run)
    cursor: str | None = None
    while True:
        entries, cursor = await store.state.list(None, limit=page, cursor=cursor)
        for entry in entries:
            report.scanned += 1
            if entry.schema_version >= migrations.current_version(entry.scope, entry.key):
                continue
            try:
                value, version = migrations.upgrade(entry.scope, entry.key, entry.value, entry.schema_version)
                if hooks is not None:
                    from ._hooked import hooked_migration

                    value = await hooked_migration(hooks, entry, value, version, ctx)
                size = encode_value(value, None)
            except HookCancelled:
                report.cancelled += 1
                continue
            except LLMSpellError as exc:
                report.failed.append({"scope": entry.scope, "key": entry.key, "error": exc.message})
                continue
            report.upgraded += 1
            if dry_run:
                continue
            try:
                await store.state.put(
                    entry.scope,
                    entry.key,
                    value,
                    size=size,
                    expected_version=entry.version,
                    schema_version=version,
                    expires_at=entry.expires_at,
                )
            except Conflict:
                report.upgraded -= 1
                report.conflicts += 1
        if cursor is None:
            return report

"""The SQL store: one engine, thirteen repositories."""

from __future__ import annotations

from sqlalchemy import text

from ..abc import Store
from ._artifacts import SQLArtifactRepository
from ._db import Database
from ._definitions import SQLDefinitionRepository
from ._dialect import Dialect
from ._events import SQLEventRepository
from ._keys import SQLApiKeyRepository
from ._maintenance import SQLMaintenanceRepository
from ._runs import SQLRunRepository
from ._schedules import SQLFireRepository, SQLScheduleRepository
from ._scripts import SQLScriptRepository
from ._sessions import SQLReplayRepository, SQLSessionRepository
from ._state import SQLStateRepository
from ._tables import agent_definitions, workflow_definitions

__all__ = ["SQLStore"]


class SQLStore(Store):
    """A :class:`Store` on any SQLAlchemy async URL the dialect table supports.

    Args:
        url: a normalised URL (see :func:`llmspell.storage.normalize_url`).
        dialect: the backend's differences (see :mod:`llmspell.storage.sql.sqlite`).
    """

    def __init__(self, url: str, dialect: Dialect) -> None:
        self._db = Database(url, dialect)
        self.scripts = SQLScriptRepository(self._db)
        self.runs = SQLRunRepository(self._db)
        self.events = SQLEventRepository(self._db)
        self.schedules = SQLScheduleRepository(self._db)
        self.fires = SQLFireRepository(self._db)
        self.api_keys = SQLApiKeyRepository(self._db)
        self.state = SQLStateRepository(self._db)
        self.sessions = SQLSessionRepository(self._db)
        self.artifacts = SQLArtifactRepository(self._db)
        self.replay = SQLReplayRepository(self._db)
        self.maintenance = SQLMaintenanceRepository(self._db)
        self.agent_definitions = SQLDefinitionRepository(self._db, agent_definitions, "agent")
        self.workflow_definitions = SQLDefinitionRepository(self._db, workflow_definitions, "workflow")

    @property
    def url(self) -> str:
        return self._db.masked_url

    @property
    def backend(self) -> str:
        """``sqlite`` or ``postgresql``."""
        return self._db.dialect.name

    async def open(self) -> None:
        await self._db.open()

    async def aclose(self) -> None:
        await self._db.aclose()

    async def ping(self) -> None:
        async with self._db.read() as conn:
            await conn.execute(text("SELECT 1"))

    async def migration_status(self) -> tuple[str | None, str | None]:
        from ..migrate import current_revision, head_revision

        async with self._db.read() as conn:
            current = await conn.run_sync(current_revision)
        return current, head_revision()

    def __repr__(self) -> str:
        return f"SQLStore({self.url!r})"

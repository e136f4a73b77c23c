"""The agent and workflow definitions a run can reach in its host's store (the daemon's).

``Agent.get`` and ``Workflow.get`` fall back to them when the run has no agent or workflow
of a name; nothing is read until then.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any, Literal

from ...core.aio import on_loop
from ...core.context import ExecutionContext
from .surface import ScriptEnv

if TYPE_CHECKING:
    from ...storage.abc import DefinitionRepository, Store
    from ...storage.records import DefinitionRecord

__all__ = ["StoredDefinitions", "stored_definitions"]

Kind = Literal["agent", "workflow"]


class StoredDefinitions:
    """The definitions of the store the host gave the run.

    Reads run on the store's loop (``loop``; None: the run's own); what they describe is
    built on the run's loop.
    """

    def __init__(self, store: Store, loop: asyncio.AbstractEventLoop | None) -> None:
        self._store = store
        self._loop = loop

    def _repository(self, kind: Kind) -> DefinitionRepository:
        return self._store.agent_definitions if kind == "agent" else self._store.workflow_definitions

    async def get(self, kind: Kind, name: str) -> DefinitionRecord:
        """The definition of the ``kind`` called ``name``. Raises NotFound."""
        return await on_loop(self._loop, self._repository(kind).get(name))

    async def all(self, kind: Kind) -> list[DefinitionRecord]:
        """Every definition of the ``kind``, in name order."""
        definitions = self._repository(kind)

        async def pages() -> list[DefinitionRecord]:
            found: list[DefinitionRecord] = []
            cursor: str | None = None
            while True:
                records, cursor = await definitions.list(1000, cursor)
                found.extend(records)
                if cursor is None:
                    return found

        return await on_loop(self._loop, pages())

    async def agent(self, name: str) -> dict[str, Any]:
        """The agent definition called ``name`` (the loader composites resolve members
        with). Raises NotFound."""
        return (await self.get("agent", name)).definition


def stored_definitions(env: ScriptEnv, ctx: ExecutionContext) -> StoredDefinitions | None:
    """The run's handle on its host's store; None when the host gave the run no store."""
    found: StoredDefinitions | None = env.services.get("stored_definitions")
    if found is not None:
        return found
    given = ctx.services
    store = env.services.get("store")
    if store is None:
        store = given.get("store")
    if store is None:
        return None
    loop = env.services.get("store_loop")
    if loop is None:
        loop = given.get("store_loop")
    found = env.services["stored_definitions"] = StoredDefinitions(store, loop)
    return found

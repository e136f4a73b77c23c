"""Sessions: lifecycle, tags, metadata, export; and the bundle of persistence services."""

from __future__ import annotations

import base64
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..core.errors import ValidationError
from ..storage.records import SESSION_STATUSES, SessionRecord, SessionStatus
from .artifacts import ArtifactManager, artifact_view

if TYPE_CHECKING:
    from ..core.config import Settings
    from ..core.context import ExecutionContext
    from ..state.manager import StateManager
    from ..storage.abc import Store

__all__ = ["Persistence", "SessionManager", "open_persistence", "session_view"]

# Which status each transition may start from.
_TRANSITIONS: dict[str, tuple[str, ...]] = {
    "suspended": ("active",),
    "active": ("suspended",),
    "completed": ("active", "suspended"),
    "failed": ("active", "suspended"),
}
_EXPORT_INLINE_BYTES = 10 * 1024 * 1024
# Hook point fired when a session moves to a status (docs/hooks.md).
_POINTS = {
    "completed": "SessionEnd",
    "failed": "SessionEnd",
    "suspended": "SessionSave",
    "active": "SessionRestore",
}


def _hooks(ctx: ExecutionContext | None) -> Any:
    """The hooks of the run of ``ctx`` (with the process's), else the process's; None when
    no hook is registered."""
    from ..hooks.registry import hooks_for

    return hooks_for(ctx)


def session_view(record: SessionRecord) -> dict[str, Any]:
    """The REST/script JSON shape of a session."""
    return {
        "id": record.id,
        "name": record.name,
        "description": record.description,
        "status": record.status,
        "tags": list(record.tags),
        "metadata": record.metadata,
        "created_at": record.created_at.isoformat(),
        "updated_at": record.updated_at.isoformat(),
        "ended_at": record.ended_at.isoformat() if record.ended_at else None,
    }


class SessionManager:
    """Create sessions and move them through ``active → suspended ⇄ active → completed | failed``.

    Args:
        store: an open store.
        artifacts: deleting a session frees its artifacts' content through it.
        state: deleting a session clears its ``session:<id>`` state scope through it.
    """

    def __init__(self, store: Store, artifacts: ArtifactManager, state: StateManager) -> None:
        self.store = store
        self.artifacts = artifacts
        self.state = state

    async def create(
        self,
        name: str = "",
        *,
        description: str = "",
        tags: Sequence[str] = (),
        metadata: dict[str, Any] | None = None,
        session_id: str | None = None,
        ctx: ExecutionContext | None = None,
    ) -> SessionRecord:
        """A new ``active`` session.

        Fires SessionStart ``{session_id, name, metadata}`` first (modified metadata, cancel)
        on the hooks of the run of ``ctx`` (a script's own included), else the process's.
        """
        hooks = _hooks(ctx)
        if hooks is not None:
            data = {"session_id": session_id or "", "name": name, "metadata": dict(metadata or {})}
            pre = await hooks.run("SessionStart", ("session", session_id or ""), data, ctx)
            if isinstance(pre.data, dict) and isinstance(pre.data.get("metadata"), dict):
                metadata = pre.data["metadata"]
        return await self.store.sessions.create(
            name=name, description=description, tags=tags, metadata=metadata, session_id=session_id
        )

    async def get(self, session_id: str) -> SessionRecord:
        """Raises NotFound."""
        return await self.store.sessions.get(session_id)

    async def list(
        self,
        *,
        status: str | None = None,
        tags: Sequence[str] = (),
        limit: int = 50,
        cursor: str | None = None,
    ) -> tuple[list[SessionRecord], str | None]:
        """Sessions newest first (filtered by status and tags) and the next cursor."""
        if status is not None and status not in SESSION_STATUSES:
            raise ValidationError(
                f"unknown session status {status!r}; use one of {', '.join(SESSION_STATUSES)}"
            )
        return await self.store.sessions.list(
            status=status,
            tags=tags,
            limit=limit,
            cursor=cursor,
        )

    async def transition(
        self, session_id: str, status: SessionStatus, *, ctx: ExecutionContext | None = None
    ) -> SessionRecord:
        """Move the session to ``status``, firing its hook point (SessionEnd, SessionSave,
        SessionRestore) as :meth:`create` fires SessionStart. Raises ValidationError for a
        move its status forbids."""
        current = await self.store.sessions.get(session_id)
        if current.status == status:
            return current
        allowed = _TRANSITIONS[status]
        if current.status not in allowed:
            raise ValidationError(
                f"session {session_id!r} is {current.status}; only a session that is "
                f"{' or '.join(allowed)} can become {status}",
                details={"session_id": session_id, "status": current.status},
            )
        hooks = _hooks(ctx)
        point = _POINTS.get(status)
        if hooks is not None and point is not None:
            # SessionRestore (resume) may be cancelled; the others observe.
            data = {"session_id": session_id, "status": status}
            await hooks.run(point, ("session", session_id), data, ctx)
        return await self.store.sessions.update(session_id, status=status)

    async def complete(self, session_id: str, *, ctx: ExecutionContext | None = None) -> SessionRecord:
        return await self.transition(session_id, "completed", ctx=ctx)

    async def fail(self, session_id: str, *, ctx: ExecutionContext | None = None) -> SessionRecord:
        return await self.transition(session_id, "failed", ctx=ctx)

    async def suspend(self, session_id: str, *, ctx: ExecutionContext | None = None) -> SessionRecord:
        return await self.transition(session_id, "suspended", ctx=ctx)

    async def resume(self, session_id: str, *, ctx: ExecutionContext | None = None) -> SessionRecord:
        return await self.transition(session_id, "active", ctx=ctx)

    async def update(
        self,
        session_id: str,
        *,
        tags: Sequence[str] | None = None,
        metadata: dict[str, Any] | None = None,
    ) -> SessionRecord:
        """Replace the tags and/or merge ``metadata`` into the session's metadata."""
        current = await self.store.sessions.get(session_id)
        fields: dict[str, Any] = {}
        if tags is not None:
            fields["tags"] = tags
        if metadata is not None:
            fields["metadata"] = {**current.metadata, **metadata}
        return await self.store.sessions.update(session_id, **fields)

    async def delete(self, session_id: str) -> None:
        """Delete the session, its artifacts, replay records and ``session:<id>`` state."""
        await self.store.sessions.delete(session_id)
        await self.state.clear_scope(f"session:{session_id}")
        await self.artifacts.collect_garbage()

    async def export(self, session_id: str) -> dict[str, Any]:
        """The session as one JSON document: record, state, artifacts (content base64 up to
        10 MB each; larger ones by hash only), and replay records."""
        record = await self.get(session_id)
        hooks = _hooks(None)
        if hooks is not None:
            data = {"session_id": session_id, "checkpoint": "export"}
            await hooks.run("SessionCheckpoint", ("session", session_id), data)
        artifacts = []
        for artifact in await self.artifacts.list(session_id):
            view = artifact_view(artifact)
            if artifact.size <= _EXPORT_INLINE_BYTES:
                view["content_base64"] = base64.b64encode(await self.artifacts.read(artifact)).decode()
            artifacts.append(view)
        entries = []
        cursor: str | None = None
        while True:
            page, cursor = await self.state.list_entries(f"session:{session_id}", limit=1000, cursor=cursor)
            entries += [{"key": e.key, "value": e.value, "version": e.version} for e in page]
            if cursor is None:
                break
        replay = [
            {"run_id": r.run_id, "seq": r.seq, "kind": r.kind, "key": r.key, "data": r.data}
            for r in await self.store.replay.list(session_id)
        ]
        return {
            "session": session_view(record),
            "state": entries,
            "artifacts": artifacts,
            "replay": replay,
        }


@dataclass(frozen=True, kw_only=True, slots=True)
class Persistence:
    """The state, session and artifact services over one store."""

    store: Store
    state: StateManager
    sessions: SessionManager
    artifacts: ArtifactManager

    async def aclose(self) -> None:
        await self.state.aclose()


def open_persistence(
    store: Store, settings: Settings, *, cache: bool | None = None, redis: bool = True
) -> Persistence:
    """The services over ``store`` configured by ``settings.state``.

    ``cache``: see :class:`~llmspell.state.StateManager`; ``redis``: use
    ``settings.redis_url`` for cache invalidation (await ``persistence.state.start()``).
    """
    from ..state.manager import StateManager
    from .blobs import FileBlobStore

    config = settings.state
    blob_dir = (
        Path(config.blob_dir).expanduser() if config.blob_dir else settings.resolved_data_dir() / "blobs"
    )
    artifacts = ArtifactManager(
        store,
        FileBlobStore(blob_dir),
        inline_max_bytes=config.inline_max_bytes,
        max_bytes=config.max_artifact_bytes,
    )
    state = StateManager(store, config=config, cache=cache, redis_url=settings.redis_url if redis else None)
    return Persistence(
        store=store, state=state, sessions=SessionManager(store, artifacts, state), artifacts=artifacts
    )

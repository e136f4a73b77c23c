"""``Session`` and ``Artifact``: sessions of runs and the files they produce.

The current session of a run is ``ctx.session_id`` (set when the run was started with a
session id, or by ``Session.set_current``); ``Artifact.*`` take ``nil`` as the session id
to mean it. Persistence services are resolved as in :mod:`llmspell.scripting.api.state`.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Coroutine
from typing import TYPE_CHECKING, Any, TypeVar

from ...core.context import ExecutionContext
from ...core.errors import NotFound, ValidationError
from .state import adopt_services, on_persistence
from .surface import ApiNamespace, ScriptEnv

if TYPE_CHECKING:
    from ...sessions.manager import Persistence

__all__ = ["build"]

T = TypeVar("T")
_SCRIPT_CONTENT_BYTES = 16_000_000


def _tags(value: Any) -> list[str]:
    if value is None or (isinstance(value, dict) and not value):
        return []
    if not isinstance(value, list) or not all(isinstance(tag, str) for tag in value):
        raise ValidationError("tags must be an array of strings", details={"field": "tags"})
    return value


def _table(value: Any, what: str) -> dict[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise ValidationError(f"{what} expects a table")
    return value


def build(env: ScriptEnv, ctx: ExecutionContext) -> list[ApiNamespace]:
    from ...sessions.artifacts import artifact_view, encode_content
    from ...sessions.manager import session_view

    adopt_services(env, ctx)

    def call(work: Callable[[Persistence], Coroutine[Any, Any, T]]) -> Awaitable[T]:
        return on_persistence(env, work)

    def session_id(value: Any) -> str:
        if value is None:
            if ctx.session_id is None:
                raise ValidationError(
                    "no current session: pass a session id, or call Session.set_current(id) first"
                )
            return ctx.session_id
        if not isinstance(value, str) or not value:
            raise ValidationError("a session id must be a non-empty string")
        return value

    # Session ------------------------------------------------------------------------------

    async def create(spec: Any = None) -> str:
        fields = _table(spec, "Session.create")
        unknown = set(fields) - {"name", "description", "tags", "metadata"}
        if unknown:
            raise ValidationError(f"unknown session field {sorted(unknown)[0]!r}")
        record = await call(
            lambda p: p.sessions.create(
                str(fields.get("name") or ""),
                description=str(fields.get("description") or ""),
                tags=_tags(fields.get("tags")),
                metadata=_table(fields.get("metadata"), "metadata"),
                ctx=ctx,
            )
        )
        return record.id

    async def get(value: Any = None) -> dict[str, Any] | None:
        sid = session_id(value)
        try:
            record = await call(lambda p: p.sessions.get(sid))
        except NotFound:
            return None
        return session_view(record)

    async def list_sessions(spec: Any = None) -> list[dict[str, Any]]:
        fields = _table(spec, "Session.list")
        limit = int(fields.get("limit") or 50)
        records, _ = await call(
            lambda p: p.sessions.list(
                status=fields.get("status"), tags=_tags(fields.get("tags")), limit=limit
            )
        )
        return [session_view(record) for record in records]

    def transition(action: str) -> Callable[[Any], Awaitable[dict[str, Any]]]:
        async def move(value: Any = None) -> dict[str, Any]:
            sid = session_id(value)
            record = await call(lambda p: getattr(p.sessions, action)(sid, ctx=ctx))
            return session_view(record)

        return move

    async def update(value: Any, spec: Any = None) -> dict[str, Any]:
        sid = session_id(value)
        fields = _table(spec, "Session.update")
        tags = None if "tags" not in fields else _tags(fields["tags"])
        metadata = None if "metadata" not in fields else _table(fields["metadata"], "metadata")
        record = await call(lambda p: p.sessions.update(sid, tags=tags, metadata=metadata))
        return session_view(record)

    async def delete(value: Any) -> bool:
        sid = session_id(value)
        await call(lambda p: p.sessions.delete(sid))
        if ctx.session_id == sid:
            ctx.session_id = None
        return True

    async def set_current(value: Any) -> str:
        sid = session_id(value)
        await call(lambda p: p.sessions.get(sid))
        ctx.session_id = sid
        return sid

    sessions = ApiNamespace(name="Session")
    sessions.add(create, "create", "new")
    sessions.add(get, "get")
    sessions.add(list_sessions, "list")
    sessions.add(transition("complete"), "complete")
    sessions.add(transition("suspend"), "suspend")
    sessions.add(transition("resume"), "resume")
    sessions.add(transition("fail"), "fail")
    sessions.add(update, "update")
    sessions.add(delete, "delete")
    sessions.add(lambda: ctx.session_id, "get_current", "current")
    sessions.add(set_current, "set_current")

    # Artifact -----------------------------------------------------------------------------

    async def store(value: Any, kind: Any, name: Any, content: Any, metadata: Any = None) -> dict[str, Any]:
        sid = session_id(value)
        if not isinstance(kind, str) or not kind:
            raise ValidationError('artifact type must be a string such as "text" or "agent_output"')
        if not isinstance(name, str) or not name:
            raise ValidationError("artifact name must be a non-empty string")
        data, media_type = encode_content(content)
        meta = _table(metadata, "artifact metadata")
        record = await call(
            lambda p: p.artifacts.put(sid, name, data, type=kind, media_type=media_type, metadata=meta)
        )
        return artifact_view(record)

    async def get_artifact(value: Any, id_or_name: Any, version: Any = None) -> dict[str, Any] | None:
        sid = session_id(value)
        if not isinstance(id_or_name, str) or not id_or_name:
            raise ValidationError("Artifact.get needs an artifact id or name")

        async def fetch(p: Persistence) -> tuple[Any, bytes] | None:
            try:
                record = await p.artifacts.get(sid, id_or_name, None if version is None else int(version))
            except NotFound:
                return None
            return record, await p.artifacts.read(record, _SCRIPT_CONTENT_BYTES)

        found = await call(fetch)
        if found is None:
            return None
        record, data = found
        view = artifact_view(record)
        text = data.decode("utf-8", "replace")
        if record.media_type == "application/json":
            import json

            try:
                view["content"] = json.loads(text)
            except ValueError:
                view["content"] = text
        else:
            view["content"] = text
        return view

    async def list_artifacts(value: Any = None, name: Any = None) -> list[dict[str, Any]]:
        sid = session_id(value)
        records = await call(lambda p: p.artifacts.list(sid, name=None if name is None else str(name)))
        return [artifact_view(record) for record in records]

    async def delete_artifact(value: Any, id_or_name: Any) -> int:
        sid = session_id(value)
        return await call(lambda p: p.artifacts.delete(sid, str(id_or_name)))

    artifacts = ApiNamespace(name="Artifact")
    artifacts.add(store, "store", "save")
    artifacts.add(get_artifact, "get", "load")
    artifacts.add(list_artifacts, "list")
    artifacts.add(delete_artifact, "delete")
    return [sessions, artifacts]

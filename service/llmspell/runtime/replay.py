"""Session replay: record what a run's LLM calls and tools returned, then re-execute the
script with those answers (no provider call, no tool side effects) and report differences.

Recording hooks in at two points: :data:`llmspell.providers.registry.model_wrapper` wraps
every chat model the run obtains, and the run's tool registry (``env.services["tools"]``)
is a :class:`RecordingToolRegistry`. Script-defined tools and agents used as tools run for
real during replay (their LLM calls and tools are themselves replayed). Calls are matched
by a key over their input (model + messages + tools; tool name + parameters), in order
per key, so concurrent calls replay correctly. State and artifacts the script writes are
written again by a replay.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from collections import defaultdict, deque
from collections.abc import AsyncGenerator, Callable, Coroutine, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ..core.abc import Tool
from ..core.context import ExecutionContext
from ..core.errors import LLMSpellError, NotFound, ProviderError, error_from_code
from ..providers.abc import ChatChunk, ChatModel, ChatRequest, ChatResponse, TokenUsage, ToolCall
from ..tools.registry import ToolRegistry

if TYPE_CHECKING:
    from ..providers.capabilities import Capabilities
    from ..scripting.api.surface import EventSink, OutputSink
    from ..storage.abc import Store
    from .runner import RunOutcome

__all__ = ["Recorder", "RecordingToolRegistry", "ReplayReport", "record_run", "replay_session"]

_LIVE_CATEGORIES = frozenset({"script", "agent"})


def _digest(value: Any) -> str:
    text = json.dumps(value, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:24]


def _llm_key(model: ChatModel, request: ChatRequest) -> str:
    body = {
        "messages": [message.to_wire() for message in request.messages],
        "tools": [tool.name for tool in request.tools],
        "response_format": dict(request.response_format) if request.response_format else None,
    }
    return f"llm:{model.spec.label}:{_digest(body)}"[:128]


def _tool_key(name: str, params: Mapping[str, Any] | None) -> str:
    return f"tool:{name}:{_digest(dict(params or {}))}"[:128]


def _response_data(response: ChatResponse, deltas: list[str] | None = None) -> dict[str, Any]:
    return {
        "text": response.text,
        "tool_calls": [{"id": c.id, "name": c.name, "arguments": c.arguments} for c in response.tool_calls],
        "usage": None
        if response.usage is None
        else {
            "prompt_tokens": response.usage.prompt_tokens,
            "completion_tokens": response.usage.completion_tokens,
        },
        "finish_reason": response.finish_reason,
        "model": response.model,
        "deltas": deltas,
    }


def _response(data: dict[str, Any]) -> ChatResponse:
    usage = data.get("usage")
    return ChatResponse(
        text=data.get("text") or "",
        tool_calls=tuple(ToolCall(**call) for call in data.get("tool_calls") or ()),
        usage=None if usage is None else TokenUsage(**usage),
        finish_reason=data.get("finish_reason") or "stop",
        model=data.get("model") or "",
    )


class Recorder:
    """Collects a run's records: ``(seq, kind, key, data)``; ``replaying`` answers from them."""

    def __init__(self, recorded: list[tuple[str, str, Any]] | None = None) -> None:
        self.records: list[tuple[int, str, str, Any]] = []
        self.replaying = recorded is not None
        self._queues: dict[str, deque[Any]] = defaultdict(deque)
        for _kind, key, data in recorded or ():
            self._queues[key].append(data)
        self.missing: list[str] = []

    def add(self, kind: str, key: str, data: Any) -> None:
        self.records.append((len(self.records) + 1, kind, key, data))

    def take(self, key: str) -> Any:
        """The next recorded answer for ``key``. Raises ProviderError when there is none."""
        queue = self._queues.get(key)
        if not queue:
            self.missing.append(key)
            raise ProviderError(
                f"replay: the run made a call that was not recorded ({key}); "
                "the script or its inputs changed",
                details={"key": key},
            )
        return queue.popleft()

    def unused(self) -> list[str]:
        """Keys of recorded answers the replay never asked for."""
        return [key for key, queue in self._queues.items() for _ in queue]

    def wrap_model(self, model: ChatModel) -> ChatModel:
        return _ReplayModel(model, self) if self.replaying else _RecordingModel(model, self)


class _RecordingModel(ChatModel):
    def __init__(self, inner: ChatModel, recorder: Recorder) -> None:
        self.inner = inner
        self.spec = inner.spec
        self._recorder = recorder

    @property
    def capabilities(self) -> Capabilities:
        return self.inner.capabilities

    async def complete(self, request: ChatRequest) -> ChatResponse:
        response = await self.inner.complete(request)
        self._recorder.add("llm", _llm_key(self.inner, request), _response_data(response))
        return response

    async def stream(self, request: ChatRequest) -> AsyncGenerator[ChatChunk, None]:
        deltas: list[str] = []
        async for chunk in self.inner.stream(request):
            if chunk.kind == "text":
                deltas.append(chunk.text)
            elif chunk.response is not None:
                self._recorder.add(
                    "llm", _llm_key(self.inner, request), _response_data(chunk.response, deltas)
                )
            yield chunk


class _ReplayModel(_RecordingModel):
    async def complete(self, request: ChatRequest) -> ChatResponse:
        return _response(self._recorder.take(_llm_key(self.inner, request)))

    async def stream(self, request: ChatRequest) -> AsyncGenerator[ChatChunk, None]:
        data = self._recorder.take(_llm_key(self.inner, request))
        response = _response(data)
        for delta in data.get("deltas") or ([response.text] if response.text else []):
            yield ChatChunk(kind="text", text=delta)
        yield ChatChunk(kind="done", response=response)


class RecordingToolRegistry(ToolRegistry):
    """The run's tool registry, recording (or replaying) what built-in tools return."""

    def __init__(self, recorder: Recorder, *, parent: ToolRegistry | None = None) -> None:
        super().__init__(parent=parent)
        self._recorder = recorder

    def invoke_tool(
        self, tool: Tool, params: Mapping[str, Any] | None, ctx: ExecutionContext
    ) -> Coroutine[Any, Any, dict[str, Any]]:
        # Every call (``invoke`` and the scripts' ``Tool.execute``) goes through here.
        if tool.category in _LIVE_CATEGORIES:
            return super().invoke_tool(tool, params, ctx)
        return self._recorded(tool, params, ctx)

    async def _recorded(
        self, tool: Tool, params: Mapping[str, Any] | None, ctx: ExecutionContext
    ) -> dict[str, Any]:
        key = _tool_key(tool.name, params)
        if self._recorder.replaying:
            data = self._recorder.take(key)
            if "error" in data:
                error = data["error"]
                raise error_from_code(error["code"], error["message"], error.get("details"))
            result: dict[str, Any] = data["result"]
            return result
        try:
            result = await super().invoke_tool(tool, params, ctx)
        except LLMSpellError as exc:
            if exc.code not in ("CANCELLED", "TIMEOUT"):
                self._recorder.add("tool", key, {"error": exc.to_dict()})
            raise
        self._recorder.add("tool", key, {"result": result})
        return result


async def _execute(
    recorder: Recorder,
    source: str,
    *,
    engine: str,
    script_name: str,
    args: list[str],
    ctx: ExecutionContext,
    settings_loader: Callable[[], Any] | None,
    services: dict[str, Any] | None,
    stdout: OutputSink | None = None,
    emit: EventSink | None = None,
) -> RunOutcome:
    from ..providers.registry import model_wrapper
    from ..tools.registry import default_registry
    from .runner import execute_script

    token = model_wrapper.set(recorder.wrap_model)
    try:
        return await execute_script(
            source,
            engine=engine,
            script_name=script_name,
            args=args,
            ctx=ctx,
            settings_loader=settings_loader,
            services={
                **(services or {}),
                "tools": RecordingToolRegistry(recorder, parent=default_registry()),
            },
            stdout=stdout,
            emit=emit,
        )
    finally:
        model_wrapper.reset(token)


def _outcome_data(outcome: RunOutcome) -> dict[str, Any]:
    return {
        "status": outcome.status,
        "result": outcome.result,
        "stdout": outcome.stdout,
        "error": outcome.error.to_dict() if outcome.error is not None else None,
    }


async def execute_recorded(
    source: str,
    *,
    engine: str = "lua",
    script_name: str = "script",
    args: list[str] | None = None,
    ctx: ExecutionContext,
    settings_loader: Callable[[], Any] | None = None,
    services: dict[str, Any] | None = None,
    stdout: OutputSink | None = None,
    emit: EventSink | None = None,
) -> tuple[RunOutcome, list[tuple[int, str, str, Any]]]:
    """Run ``source`` recording its inputs, LLM answers, tool results and outcome; returns
    the outcome and the records to store with ``store.replay.append`` (the daemon runs
    this on a runtime thread and stores the records on its own loop)."""
    recorder = Recorder()
    run = {"code": source, "engine": engine, "script_name": script_name, "args": list(args or [])}
    outcome = await _execute(
        recorder,
        source,
        engine=engine,
        script_name=script_name,
        args=list(args or []),
        ctx=ctx,
        settings_loader=settings_loader,
        services=services,
        stdout=stdout,
        emit=emit,
    )
    records = [(0, "run", "run", run), *recorder.records]
    records.append((len(records), "outcome", "outcome", _outcome_data(outcome)))
    return outcome, records


async def record_run(
    store: Store,
    session_id: str,
    source: str,
    *,
    engine: str = "lua",
    script_name: str = "script",
    args: list[str] | None = None,
    ctx: ExecutionContext | None = None,
    settings_loader: Callable[[], Any] | None = None,
    services: dict[str, Any] | None = None,
) -> RunOutcome:
    """Run ``source`` in the session, recording it for :func:`replay_session`.
    Raises NotFound for an unknown session."""
    await store.sessions.get(session_id)
    ctx = ctx or ExecutionContext()
    ctx.session_id = session_id
    outcome, records = await execute_recorded(
        source,
        engine=engine,
        script_name=script_name,
        args=args,
        ctx=ctx,
        settings_loader=settings_loader,
        services=services,
    )
    await store.replay.append(session_id, ctx.run_id[:32], records)
    return outcome


@dataclass(kw_only=True, slots=True)
class ReplayReport:
    """The replay of every recorded run of a session."""

    session_id: str
    runs: list[dict[str, Any]] = field(default_factory=list)

    @property
    def identical(self) -> bool:
        return all(not run["differences"] for run in self.runs)

    def to_dict(self) -> dict[str, Any]:
        return {"session_id": self.session_id, "identical": self.identical, "runs": self.runs}


async def replay_session(
    store: Store,
    session_id: str,
    *,
    settings_loader: Callable[[], Any] | None = None,
    services: dict[str, Any] | None = None,
) -> ReplayReport:
    """Re-execute every recorded run of the session with its recorded answers and compare
    status, result and output. Raises NotFound when the session has no recorded run."""
    await store.sessions.get(session_id)
    by_run: dict[str, list[Any]] = defaultdict(list)
    for record in await store.replay.list(session_id):
        by_run[record.run_id].append(record)
    runs = {run_id: records for run_id, records in by_run.items() if records and records[0].kind == "run"}
    if not runs:
        raise NotFound(
            f"session {session_id!r} has no recorded run: record runs with a session id to replay them",
            details={"session_id": session_id},
        )
    report = ReplayReport(session_id=session_id)
    for run_id, records in runs.items():
        spec = records[0].data
        recorded = [(r.kind, r.key, r.data) for r in records if r.kind in ("llm", "tool")]
        expected = next((r.data for r in records if r.kind == "outcome"), None)
        recorder = Recorder(recorded)
        ctx = ExecutionContext(run_id=uuid.uuid4().hex, session_id=session_id)
        outcome = await _execute(
            recorder,
            spec["code"],
            engine=spec["engine"],
            script_name=spec["script_name"],
            args=spec["args"],
            ctx=ctx,
            settings_loader=settings_loader,
            services=services,
        )
        actual = _outcome_data(outcome)
        differences = []
        for field_name in ("status", "result", "stdout", "error"):
            if expected is not None and expected.get(field_name) != actual[field_name]:
                differences.append(
                    {
                        "field": field_name,
                        "recorded": expected.get(field_name),
                        "replayed": actual[field_name],
                    }
                )
        for key in recorder.missing:
            differences.append({"field": "calls", "unrecorded": key})
        for key in recorder.unused():
            differences.append({"field": "calls", "unused": key})
        report.runs.append(
            {
                "run_id": run_id,
                "status": actual["status"],
                "calls": len(recorded),
                "differences": differences,
            }
        )
    return report

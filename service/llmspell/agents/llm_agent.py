"""The LLM agent: a chat model, a system prompt, tools and a conversation memory.

``execute`` runs the tool-calling loop: the model answers, the tool calls it asks for run
(concurrently when there are several), their results go back as tool messages, and so on
until the model answers with text. The loop is bounded by ``max_tool_calls``
(``LimitExceeded``), the agent's ``timeout_s`` and the run's deadline (``Timeout``) and
the run's cancel token (``Cancelled``).
"""

from __future__ import annotations

import asyncio
import inspect
import time
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Mapping
from contextlib import aclosing
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypeVar

from ..core.abc import Agent, AgentState
from ..core.errors import Cancelled, ConfigError, LimitExceeded, Timeout, ValidationError
from ..core.types import AgentInput, AgentOutput, ToolCallRecord, Usage
from ..hooks.registry import HookRegistry, hooks_for
from ..providers.abc import ChatChunk, ChatMessage, ChatModel, ChatRequest, ChatResponse, ToolSpec
from ..providers.capabilities import capabilities_for
from ..providers.pricing import cost_usd
from ..providers.spec import ModelSpec, parse_model_spec
from ._conversation import offered_tools, trim_history, user_message
from ._tools import run_tool_calls
from .lifecycle import Lifecycle

if TYPE_CHECKING:
    from ..core.config import Settings
    from ..core.context import ExecutionContext
    from .abc import ToolProvider

__all__ = ["AgentConfig", "LLMAgent"]

T = TypeVar("T")

_OVERRIDES = ("temperature", "max_tokens", "response_format")
# Each a fixed tuple: the registry caches its lookups per tuple object.
_AGENT_POINTS = ("BeforeAgentExecution", "AfterAgentExecution", "AgentError")
_LLM_POINTS = ("BeforeLLMRequest", "AfterLLMRequest", "")


def _positive_int(value: Any, name: str, *, minimum: int) -> int:
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if not isinstance(value, int) or isinstance(value, bool) or value < minimum:
        raise ValidationError(
            f"{name} must be an integer >= {minimum}, got {value!r}", details={"field": name}
        )
    return value


@dataclass(frozen=True, kw_only=True, slots=True)
class AgentConfig:
    """How an agent is built.

    Attributes:
        name: the agent's name.
        model: a model spec (``provider/model``, see :func:`~llmspell.providers.parse_model_spec`).
        system_prompt: the first message of every conversation.
        temperature: sampling temperature (0-2), or None for the provider's default.
        max_tokens: answer length cap, or None.
        base_url: endpoint override for this agent.
        api_key: key override for this agent (never shown in ``repr``).
        tools: names of the tools the model may call.
        max_tool_calls: tool calls allowed in one ``execute``.
        timeout_s: wall-clock bound of one ``execute`` (the run's deadline also applies).
        memory_limit: conversation messages kept (system prompt not counted); None keeps all.
        response_format: passed to the provider as is (e.g. ``{"type": "json_object"}``).
    """

    name: str
    model: str
    system_prompt: str | None = None
    temperature: float | None = None
    max_tokens: int | None = None
    base_url: str | None = None
    api_key: str | None = field(default=None, repr=False)
    tools: tuple[str, ...] = ()
    max_tool_calls: int = 16
    timeout_s: float | None = None
    memory_limit: int | None = 100
    response_format: Mapping[str, Any] | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not self.name.strip():
            raise ValidationError("agent name must be a non-empty string", details={"field": "name"})
        if not isinstance(self.model, str) or not self.model.strip():
            raise ValidationError(
                "agent model must be a spec such as 'openai/gpt-4o-mini'", details={"field": "model"}
            )
        if isinstance(self.tools, str) or not all(isinstance(name, str) for name in self.tools):
            raise ValidationError("agent tools must be a list of tool names", details={"field": "tools"})
        object.__setattr__(self, "tools", tuple(self.tools))
        if self.temperature is not None and not 0 <= float(self.temperature) <= 2:
            raise ValidationError("temperature must be between 0 and 2", details={"field": "temperature"})
        if self.max_tokens is not None:
            object.__setattr__(self, "max_tokens", _positive_int(self.max_tokens, "max_tokens", minimum=1))
        object.__setattr__(
            self, "max_tool_calls", _positive_int(self.max_tool_calls, "max_tool_calls", minimum=0)
        )
        if self.memory_limit is not None:
            object.__setattr__(
                self, "memory_limit", _positive_int(self.memory_limit, "memory_limit", minimum=1)
            )
        if self.timeout_s is not None and not float(self.timeout_s) > 0:
            raise ValidationError(
                "timeout must be a positive number of seconds", details={"field": "timeout_s"}
            )


@dataclass(slots=True)
class _Run:
    """One ``execute``/``stream`` call in progress."""

    messages: list[ChatMessage]
    turn: list[ChatMessage]
    tools: tuple[ToolSpec, ...]
    by_wire: dict[str, str]
    deadline: float | None
    overrides: dict[str, Any]
    generation: int = 0
    started: float = field(default_factory=time.monotonic)
    usage: Usage = field(default_factory=Usage)
    records: list[ToolCallRecord] = field(default_factory=list)
    llm_calls: int = 0
    last: ChatResponse | None = None


class LLMAgent(Agent):
    """An agent backed by a chat model.

    Args:
        config: the agent's configuration.
        tools: where ``config.tools`` are looked up and invoked.
        settings: configuration for model-spec resolution and prices (default: the
            process settings).
        model: a ready chat model (default: the one ``config.model`` names).

    Raises:
        ConfigError: the model spec is wrong.
    """

    def __init__(
        self,
        config: AgentConfig,
        *,
        tools: ToolProvider | None = None,
        settings: Settings | None = None,
        model: ChatModel | None = None,
    ) -> None:
        self.config = config
        self.name = config.name
        self._settings = settings
        self.spec: ModelSpec = (
            model.spec
            if model is not None
            else parse_model_spec(config.model, settings, base_url=config.base_url, api_key=config.api_key)
        )
        self._model = model
        self._tools = tools
        self._history: list[ChatMessage] = []
        self.lifecycle = Lifecycle(
            config.name, initialized=model is not None, on_initialize=lambda: self.chat_model
        )
        self.last_output: AgentOutput | None = None

    # ------------------------------------------------------------------ introspection

    @property
    def state(self) -> AgentState:
        return self.lifecycle.state

    @property
    def chat_model(self) -> ChatModel:
        """The chat model (created on first use)."""
        if self._model is None:
            from ..providers.registry import get_chat_model

            self._model = get_chat_model(self.spec)
        return self._model

    def capabilities(self) -> list[str]:
        """The model's capability names (``streaming``, ``tools``, ``vision``, ``json_schema``)."""
        if self._model is not None:
            return self._model.capabilities.names()
        return capabilities_for(self.spec.type, self.spec.model).names()

    def history(self) -> list[dict[str, Any]]:
        """The conversation as chat messages, system prompt first."""
        return [message.to_wire() for message in self._prefix() + self._history]

    def reset(self) -> None:
        """Forget the conversation (the configuration stays)."""
        self._history = []
        self.lifecycle.clear_error()

    def load_history(self, messages: list[dict[str, Any]]) -> None:
        """Replace the conversation with ``messages`` (as :meth:`history` returns them).

        Raises:
            ValidationError: an entry is not a chat message.
        """
        from ._memory import messages_from_wire

        self._history = trim_history(messages_from_wire(messages), self.config.memory_limit)

    # Lifecycle transitions (see :mod:`llmspell.agents.lifecycle`); each returns the new state.

    def initialize(self) -> AgentState:
        """``uninitialized -> ready``: create the chat model. Raises ValidationError, ConfigError."""
        return self.lifecycle.initialize()

    def start(self) -> AgentState:
        """``ready -> running``. Raises ValidationError from any other state."""
        return self.lifecycle.start()

    def pause(self) -> AgentState:
        """``running -> paused``: requests in flight hold before their next model call."""
        return self.lifecycle.pause()

    def resume(self) -> AgentState:
        """``paused ->`` the state it was paused from."""
        return self.lifecycle.resume()

    def stop(self) -> AgentState:
        """``running | paused -> ready``: requests in flight end with ``Cancelled``."""
        return self.lifecycle.stop()

    def recover(self) -> AgentState:
        """``error -> ready``."""
        return self.lifecycle.recover()

    def terminate(self) -> AgentState:
        """Refuse further work; ``state`` becomes ``terminated`` and the memory is cleared."""
        state = self.lifecycle.terminate()
        self._history = []
        return state

    def _prefix(self) -> list[ChatMessage]:
        prompt = self.config.system_prompt
        return [ChatMessage(role="system", content=prompt)] if prompt else []

    # ------------------------------------------------------------------ running

    async def execute(self, request: AgentInput, ctx: ExecutionContext) -> AgentOutput:
        """Answer ``request``, running the tools the model asks for.

        Raises:
            ProviderError: the provider failed after retries.
            LimitExceeded: the model asked for more than ``max_tool_calls`` tool calls.
            Timeout: ``timeout_s`` or the run's deadline passed.
            Cancelled: the run was cancelled.
            ValidationError: the input cannot go to this model (e.g. images, no vision).
        """
        hooks = hooks_for(ctx)
        if hooks is not None:
            return await self._execute_hooked(hooks, request, ctx)
        return await self._execute(request, ctx)

    async def _execute(
        self, request: AgentInput, ctx: ExecutionContext, *, branch: bool = False
    ) -> AgentOutput:
        """:meth:`execute` itself. ``branch``: a branch of a ``fork`` hook result, whose
        output is returned but not kept as :attr:`last_output` (the main call's is)."""
        run = self._begin(request, ctx)
        try:
            while True:
                await self.lifecycle.checkpoint(run.generation, run.deadline)
                response = await self._guard(self._complete(run, ctx), ctx, run)
                if not await self._after_answer(run, response, ctx):
                    return self._finish(run, branch=branch)
        except BaseException:
            self._end(run, failed=True)
            raise

    async def _execute_hooked(
        self, hooks: HookRegistry, request: AgentInput, ctx: ExecutionContext
    ) -> AgentOutput:
        """:meth:`execute` between the agent hook points (data: ``{agent, input={text, parameters}}``).

        A ``fork``'s branches run through :meth:`_branch`, apart from ``outputs``: the output
        and :attr:`last_output` stay the main call's.
        """
        from ..hooks._around import around
        from ..hooks._fire import observed, watching

        component = ("agent", self.name)
        await self._initialize_hooked(hooks, component, ctx)
        outputs: list[AgentOutput] = []

        async def call(data: dict[str, Any]) -> dict[str, Any]:
            outputs.append(await self._execute(_input_from_hook(request, data), ctx))
            return outputs[-1].to_dict()

        execution = around(
            hooks,
            ctx,
            component=component,
            points=_AGENT_POINTS,
            data=self._execution_data(request),
            call=call,
            branch=lambda data: self._branch(request, data, ctx),
        )
        result = await (observed(hooks, ctx, component, execution) if watching(hooks) else execution)
        return self._output_from_hook(result, outputs)

    async def _initialize_hooked(
        self, hooks: HookRegistry, component: tuple[str, str], ctx: ExecutionContext
    ) -> None:
        """Create the chat model between BeforeAgentInit/AfterAgentInit (``{agent, model}``)."""
        if self._model is None:
            info = {"agent": self.name, "model": self.spec.label}
            await hooks.run("BeforeAgentInit", component, info, ctx)
            self.chat_model  # noqa: B018 - creating the model is the initialisation
            await hooks.run("AfterAgentInit", component, info, ctx)

    async def _branch(
        self, request: AgentInput, data: dict[str, Any], ctx: ExecutionContext
    ) -> dict[str, Any]:
        """One branch of a BeforeAgentExecution ``fork``: ``request`` with the branch's data."""
        output = await self._execute(_input_from_hook(request, data), ctx, branch=True)
        return output.to_dict()

    def _execution_data(self, request: AgentInput) -> dict[str, Any]:
        return {"agent": self.name, "input": {"text": request.text, "parameters": dict(request.parameters)}}

    def _output_from_hook(self, result: Any, outputs: list[AgentOutput]) -> AgentOutput:
        """The output of a hooked execution: the last call's own unless the hooks changed it."""
        base = outputs[-1] if outputs else AgentOutput(text="", model=self.spec.label)
        if outputs and result == base.to_dict():
            return base
        text = result.get("text", "") if isinstance(result, dict) else result
        output = AgentOutput(
            text="" if text is None else str(text),
            tool_calls=base.tool_calls,
            usage=base.usage,
            cost=base.cost,
            model=base.model,
            finish_reason=base.finish_reason,
            metadata={**base.metadata, "changed_by_hook": True},
        )
        self.last_output = output
        return output

    async def _complete(self, run: _Run, ctx: ExecutionContext) -> ChatResponse:
        """One model call, between BeforeLLMRequest/AfterLLMRequest when hooks exist.

        Hooks see ``{model, messages, temperature, max_tokens}``; ``modified`` may change
        message contents and parameters; ``replace`` answers ``{text=...}`` without
        calling the model; the after point's ``result`` is ``{text, finish_reason}``.
        """
        request = self._chat_request(run)
        hooks = hooks_for(ctx)
        if hooks is None:
            return await self.chat_model.complete(request)
        from ..hooks._fire import observed, watching

        component = ("llm", self.spec.label)
        if not hooks.active(_LLM_POINTS):
            answer = self.chat_model.complete(request)
            return await (observed(hooks, ctx, component, answer) if watching(hooks) else answer)
        from ..hooks._around import around

        responses: list[ChatResponse] = []

        async def call(data: dict[str, Any]) -> dict[str, Any]:
            responses.append(await self.chat_model.complete(_request_from_hook(request, data)))
            return {"text": responses[-1].text, "finish_reason": responses[-1].finish_reason}

        request_call = around(
            hooks,
            ctx,
            component=component,
            points=_LLM_POINTS,
            data=self._request_data(request),
            call=call,
            branch=lambda data: self.chat_model.complete(_request_from_hook(request, data)),
        )
        result = await (observed(hooks, ctx, component, request_call) if watching(hooks) else request_call)
        return _response_from_hook(result, responses[-1] if responses else None)

    def _request_data(self, request: ChatRequest) -> dict[str, Any]:
        return {
            "model": self.spec.label,
            "messages": [message.to_wire() for message in request.messages],
            "temperature": request.temperature,
            "max_tokens": request.max_tokens,
        }

    def stream(self, request: AgentInput, ctx: ExecutionContext) -> AsyncIterator[str]:
        """Yield the answer's text deltas; tool calls run between model rounds.

        The complete :class:`AgentOutput` is in :attr:`last_output` once the iteration ends.
        With hooks, the points of :meth:`execute` fire around the stream and each model
        round (docs/hooks.md, "Streamed executions"). Raises as :meth:`execute`, while
        iterating.
        """
        hooks = hooks_for(ctx)
        if hooks is None:
            return self._stream(request, ctx, None)
        return self._stream_hooked(hooks, request, ctx)

    async def _stream(
        self,
        request: AgentInput,
        ctx: ExecutionContext,
        hooks: HookRegistry | None,
        outputs: list[AgentOutput] | None = None,
    ) -> AsyncGenerator[str, None]:
        """The stream itself; with ``hooks``, each model round goes through :meth:`_llm_stream`
        and LLMTokenStream. The output goes to :attr:`last_output` (and ``outputs``)."""
        run = self._begin(request, ctx)
        try:
            while True:
                await self.lifecycle.checkpoint(run.generation, run.deadline)
                chunks = (
                    self.chat_model.stream(self._chat_request(run))
                    if hooks is None
                    else self._llm_stream(hooks, run, ctx)
                )
                response: ChatResponse | None = None
                try:
                    while response is None:
                        chunk = await self._guard(anext(chunks), ctx, run)
                        if chunk.kind == "text":
                            if hooks is not None and hooks.chain("LLMTokenStream"):
                                yield await _token_hook(hooks, self.spec.label, chunk.text, ctx)
                                continue
                            yield chunk.text
                        else:
                            response = chunk.response
                finally:
                    await chunks.aclose()
                if response is None or not await self._after_answer(run, response, ctx):
                    output = self._finish(run)
                    if outputs is not None:
                        outputs.append(output)
                    return
        except GeneratorExit:
            self._end(run, failed=False)
            raise
        except BaseException:
            self._end(run, failed=True)
            raise

    async def _stream_hooked(
        self, hooks: HookRegistry, request: AgentInput, ctx: ExecutionContext
    ) -> AsyncGenerator[str, None]:
        """:meth:`stream` as :meth:`_execute_hooked` runs :meth:`execute`: initialisation
        points, the agent execution points (when hooked) and the watchers around it all."""
        from ..hooks._fire import observed_stream, watching

        component = ("agent", self.name)
        await self._initialize_hooked(hooks, component, ctx)
        deltas = (
            self._stream_around(hooks, component, request, ctx)
            if hooks.active(_AGENT_POINTS)
            else self._stream(request, ctx, hooks)
        )
        if watching(hooks):
            deltas = observed_stream(hooks, ctx, component, deltas)
        async with aclosing(deltas):
            async for delta in deltas:
                yield delta

    async def _stream_around(
        self, hooks: HookRegistry, component: tuple[str, str], request: AgentInput, ctx: ExecutionContext
    ) -> AsyncGenerator[str, None]:
        """The stream between BeforeAgentExecution/AfterAgentExecution/AgentError.

        An answer that did not stream (a hook's replace, a cache hit, a recovered error)
        goes out as one delta when nothing went out before it.
        """
        from ..hooks._around import Relay, around_stream

        outputs: list[AgentOutput] = []
        items = around_stream(
            hooks,
            ctx,
            component=component,
            points=_AGENT_POINTS,
            data=self._execution_data(request),
            call=lambda data: self._stream(_input_from_hook(request, data), ctx, hooks, outputs),
            result=lambda: outputs[-1].to_dict(),
            branch=lambda data: self._branch(request, data, ctx),
        )
        relay = Relay()
        async with aclosing(relay.items(items)) as relayed:
            async for item in relayed:
                yield item
        settled = relay.settled
        output = self._output_from_hook(settled.result, outputs)
        if not settled.sent and output.text and not (outputs and output is outputs[-1]):
            yield output.text

    def _llm_stream(
        self, hooks: HookRegistry, run: _Run, ctx: ExecutionContext
    ) -> AsyncGenerator[ChatChunk, None]:
        """One streamed model round as :meth:`_complete` makes one model call: between
        BeforeLLMRequest/AfterLLMRequest when hooked, observed by the watchers."""
        from ..hooks._fire import observed_stream, watching

        request = self._chat_request(run)
        component = ("llm", self.spec.label)
        chunks = (
            self._llm_around(hooks, component, request, ctx)
            if hooks.active(_LLM_POINTS)
            else self.chat_model.stream(request)
        )
        if not watching(hooks):
            return chunks
        return observed_stream(hooks, ctx, component, chunks, last=_is_done)

    async def _llm_around(
        self, hooks: HookRegistry, component: tuple[str, str], request: ChatRequest, ctx: ExecutionContext
    ) -> AsyncGenerator[ChatChunk, None]:
        from ..hooks._around import Relay, around_stream

        responses: list[ChatResponse] = []

        async def call(data: dict[str, Any]) -> AsyncGenerator[ChatChunk, None]:
            async with aclosing(self.chat_model.stream(_request_from_hook(request, data))) as chunks:
                async for chunk in chunks:
                    if chunk.kind == "text":
                        yield chunk
                    elif chunk.response is not None:
                        responses.append(chunk.response)

        def result() -> dict[str, Any]:
            last = responses[-1] if responses else ChatResponse(text="")
            return {"text": last.text, "finish_reason": last.finish_reason}

        items = around_stream(
            hooks,
            ctx,
            component=component,
            points=_LLM_POINTS,
            data=self._request_data(request),
            call=call,
            result=result,
            branch=lambda data: self.chat_model.complete(_request_from_hook(request, data)),
        )
        relay = Relay()
        async with aclosing(relay.items(items)) as relayed:
            async for item in relayed:
                yield item
        settled = relay.settled
        last = responses[-1] if responses else None
        response = _response_from_hook(settled.result, last)
        if not settled.sent and response.text and response is not last:
            yield ChatChunk(kind="text", text=response.text)
        yield ChatChunk(kind="done", response=response)

    def _begin(self, request: AgentInput, ctx: ExecutionContext) -> _Run:
        self.lifecycle.accepting()
        ctx.check()
        model = self.chat_model
        message = user_message(request, model.capabilities, self.spec.label)
        tools: tuple[ToolSpec, ...] = ()
        by_wire: dict[str, str] = {}
        if self.config.tools:
            if self._tools is None:
                raise ConfigError(f"agent {self.name!r} lists tools but was given no tool registry")
            tools, by_wire = offered_tools(self.config.tools, self._tools)
        deadline = ctx.deadline
        if self.config.timeout_s is not None:
            own = time.monotonic() + float(self.config.timeout_s)
            deadline = own if deadline is None else min(deadline, own)
        overrides = {key: request.parameters[key] for key in _OVERRIDES if key in request.parameters}
        generation = self.lifecycle.begin()
        return _Run(
            messages=[*self._prefix(), *self._history, message],
            turn=[message],
            tools=tools,
            by_wire=by_wire,
            deadline=deadline,
            overrides=overrides,
            generation=generation,
        )

    def _chat_request(self, run: _Run) -> ChatRequest:
        config, overrides = self.config, run.overrides
        return ChatRequest(
            messages=tuple(run.messages),
            tools=run.tools,
            temperature=overrides.get("temperature", config.temperature),
            max_tokens=overrides.get("max_tokens", config.max_tokens),
            response_format=overrides.get("response_format", config.response_format),
            deadline=run.deadline,
        )

    async def _after_answer(self, run: _Run, response: ChatResponse, ctx: ExecutionContext) -> bool:
        """Account for one answer; run its tool calls. True when the model must be asked again."""
        run.llm_calls += 1
        run.last = response
        if response.usage is not None:
            run.usage.add(
                Usage(
                    prompt_tokens=response.usage.prompt_tokens,
                    completion_tokens=response.usage.completion_tokens,
                )
            )
        answer = response.message()
        run.messages.append(answer)
        run.turn.append(answer)
        if not response.tool_calls:
            return False
        limit = self.config.max_tool_calls
        if len(run.records) + len(response.tool_calls) > limit:
            raise LimitExceeded(
                f"agent {self.name!r} reached its limit of {limit} tool calls in one request: raise "
                "max_tool_calls or ask for less",
                details={
                    "resource": "tool_calls",
                    "limit": limit,
                    "agent": self.name,
                    "tool_calls": len(run.records),
                },
            )
        results = await self._guard(
            run_tool_calls(response.tool_calls, run.by_wire, self._tools, ctx), ctx, run
        )
        for record, message in results:
            run.records.append(record)
            run.messages.append(message)
            run.turn.append(message)
        return True

    def _finish(self, run: _Run, *, branch: bool = False) -> AgentOutput:
        self._history = trim_history([*self._history, *run.turn], self.config.memory_limit)
        self._end(run, failed=False)
        last = run.last
        usage = run.usage
        cost = cost_usd(
            self.spec.provider, self.spec.model, usage.prompt_tokens, usage.completion_tokens, self._settings
        )
        output = AgentOutput(
            text=last.text if last is not None else "",
            tool_calls=run.records,
            usage=usage,
            cost=cost,
            model=self.spec.label,
            finish_reason=last.finish_reason if last is not None else None,
            metadata={
                "agent": self.name,
                "provider": self.spec.provider,
                "llm_calls": run.llm_calls,
                "duration_ms": round((time.monotonic() - run.started) * 1000, 3),
            },
        )
        if not branch:
            self.last_output = output
        from ..core.metrics import count_llm_usage

        count_llm_usage(self.spec.label, usage.prompt_tokens, usage.completion_tokens, cost)
        return output

    def _end(self, run: _Run, *, failed: bool) -> None:
        self.lifecycle.end(run.generation, failed=failed)

    async def _guard(self, awaitable: Awaitable[T], ctx: ExecutionContext, run: _Run) -> T:
        """Await ``awaitable`` unless the deadline passes or the run is cancelled first."""
        remaining = None if run.deadline is None else run.deadline - time.monotonic()
        if ctx.cancel_token.cancelled or (remaining is not None and remaining <= 0):
            if inspect.iscoroutine(awaitable):
                awaitable.close()  # never started; closing it avoids "never awaited"
            ctx.check()
            raise self._timeout(ctx)
        # Awaited in this task rather than in a new one per model call: the cancel token
        # and the deadline cancel this task. Which of them ended the await is decided from
        # our own flags, not from the CancelledError: aiohttp's nested timers may turn a
        # cancellation that is not theirs into a TimeoutError.
        task = asyncio.current_task()
        assert task is not None
        pending = task.cancelling()
        guard = _Guard(task, asyncio.get_running_loop())
        scope = asyncio.timeout(remaining)
        remove = ctx.cancel_token.add_callback(guard.request)
        failure: BaseException | None = None
        try:
            async with scope:
                result = await awaitable
        except (Exception, asyncio.CancelledError) as exc:  # sorted out below, then re-raised
            failure = exc
        finally:
            guard.done = True
            remove()
        if guard.fired:
            if task.cancelling() > pending:
                task.uncancel()
            # Unless someone else cancelled this task too: that cancellation goes on.
            if not (isinstance(failure, asyncio.CancelledError) and task.cancelling() > pending):
                raise Cancelled(ctx.cancel_token.reason or f"agent {self.name!r} was cancelled") from None
        if failure is None:
            return result
        if scope.expired() and not isinstance(failure, asyncio.CancelledError):
            raise self._timeout(ctx) from None
        raise failure

    def _timeout(self, ctx: ExecutionContext) -> Timeout:
        if ctx.deadline is not None and time.monotonic() >= ctx.deadline:
            return Timeout(
                f"run deadline reached while agent {self.name!r} was working", details={"agent": self.name}
            )
        return Timeout(
            f"agent {self.name!r} did not finish within its timeout of {self.config.timeout_s}s: raise the "
            "agent's timeout or ask for less",
            details={"agent": self.name, "timeout_s": self.config.timeout_s},
        )


class _Guard:
    """Cancels ``task`` on the run's cancel token, unless the guarded await is over."""

    __slots__ = ("done", "fired", "loop", "task")

    def __init__(self, task: asyncio.Task[Any], loop: asyncio.AbstractEventLoop) -> None:
        self.task = task
        self.loop = loop
        self.done = False
        self.fired = False

    def request(self) -> None:
        """The token's callback (any thread): cancel on the task's loop."""
        self.loop.call_soon_threadsafe(self.cancel)

    def cancel(self) -> None:
        if not self.done:
            self.fired = True
            self.task.cancel()


def _is_done(chunk: ChatChunk) -> bool:
    return chunk.kind == "done"


def _input_from_hook(request: AgentInput, data: dict[str, Any]) -> AgentInput:
    """``request`` with the changes a BeforeAgentExecution hook made to its ``input``."""
    given = data.get("input")
    given = given if isinstance(given, dict) else {"text": str(given or "")}
    return AgentInput(
        text=str(given.get("text", request.text)),
        media=request.media,
        parameters=dict(given.get("parameters") or request.parameters),
    )


def _response_from_hook(result: Any, last: ChatResponse | None) -> ChatResponse:
    """The answer of a hooked model call: ``last`` (the model's own) unless the hooks
    changed its text (then the text, with ``last``'s usage)."""
    if last is not None and isinstance(result, dict) and result.get("text") == last.text:
        return last
    text = result.get("text") if isinstance(result, dict) else result
    return ChatResponse(text="" if text is None else str(text), usage=last.usage if last else None)


def _request_from_hook(request: ChatRequest, data: dict[str, Any]) -> ChatRequest:
    """``request`` with the changes a BeforeLLMRequest hook made to its data."""
    from dataclasses import replace

    changes: dict[str, Any] = {}
    for key in ("temperature", "max_tokens"):
        if key in data and data[key] != getattr(request, key):
            changes[key] = data[key]
    wire = [message.to_wire() for message in request.messages]
    messages = data.get("messages")
    if isinstance(messages, list) and messages != wire:
        if len(messages) != len(wire) or not all(isinstance(m, dict) for m in messages):
            raise ValidationError(
                "a BeforeLLMRequest hook may change message contents, not add or remove messages"
            )
        changes["messages"] = tuple(
            replace(original, content=given.get("content", original.content))
            for original, given in zip(request.messages, messages, strict=True)
        )
    return replace(request, **changes) if changes else request


async def _token_hook(hooks: HookRegistry, model: str, text: str, ctx: ExecutionContext) -> str:
    """Run LLMTokenStream on one text delta (``{model, text}``); ``modified`` changes the text."""
    result = await hooks.run("LLMTokenStream", ("llm", model), {"model": model, "text": text}, ctx)
    if result.kind == "replace":
        return "" if result.result is None else str(result.result)
    data = result.data
    return str(data.get("text", text)) if isinstance(data, dict) else text

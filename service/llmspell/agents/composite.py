"""Composite agents: several agents behind one agent interface.

* :class:`DelegateAgent` routes each request to one of its members: a router function
  (``input -> member name``), a router agent (asked which member should answer), or by
  default the first member whose name the request mentions, else the default member.
* :class:`PipelineAgent` runs its members in order; each member's answer text is the
  next member's input, and the last answer is the pipeline's answer.

Both report the usage, cost and tool calls of every member call and have their own
lifecycle (:mod:`llmspell.agents.lifecycle`), checked between member calls.
"""

from __future__ import annotations

import inspect
import re
import time
from abc import abstractmethod
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from typing import Any

from ..core.abc import Agent, AgentState, BaseAgent
from ..core.context import ExecutionContext
from ..core.errors import NotFound, ValidationError
from ..core.types import AgentInput, AgentOutput, Usage
from .lifecycle import Lifecycle

__all__ = ["CompositeAgent", "DelegateAgent", "PipelineAgent", "Router"]

Router = Callable[[AgentInput], "str | Awaitable[str]"]
"""Picks the member (by name) that answers a request."""


def _members(agents: Sequence[BaseAgent], kind: str) -> dict[str, BaseAgent]:
    if not agents:
        raise ValidationError(f"a {kind} agent needs at least one member agent", details={"field": "agents"})
    members: dict[str, BaseAgent] = {}
    for agent in agents:
        if not isinstance(agent, BaseAgent):
            raise ValidationError(
                f"{kind} members must be agents, got {type(agent).__name__}", details={"field": "agents"}
            )
        if agent.name in members:
            raise ValidationError(
                f"{kind} members must have distinct names; {agent.name!r} appears twice",
                details={"field": "agents"},
            )
        members[agent.name] = agent
    return members


class CompositeAgent(Agent):
    """Shared plumbing of the composites: members, lifecycle, history, output merging."""

    kind = "composite"

    def __init__(self, name: str, agents: Sequence[BaseAgent], *, description: str = "") -> None:
        if not isinstance(name, str) or not name.strip():
            raise ValidationError("agent name must be a non-empty string", details={"field": "name"})
        self.name = name
        self.description = description
        self.members = _members(agents, self.kind)
        self.lifecycle = Lifecycle(name, initialized=True)
        self._history: list[dict[str, Any]] = []
        self.last_output: AgentOutput | None = None

    # ------------------------------------------------------------------ Agent interface

    @property
    def state(self) -> AgentState:
        return self.lifecycle.state

    def history(self) -> list[dict[str, Any]]:
        """The composite's own turns: each request and the final answer."""
        return list(self._history)

    def reset(self) -> None:
        """Forget the conversation, the composite's and its members'."""
        self._history = []
        self.lifecycle.clear_error()
        for member in self.members.values():
            if isinstance(member, Agent):
                member.reset()

    def describe(self) -> dict[str, Any]:
        """``{name, type, agents}``."""
        return {"name": self.name, "type": self.kind, "agents": list(self.members)}

    # Lifecycle transitions; each returns the new state.

    def initialize(self) -> AgentState:
        return self.lifecycle.initialize()

    def start(self) -> AgentState:
        return self.lifecycle.start()

    def pause(self) -> AgentState:
        return self.lifecycle.pause()

    def resume(self) -> AgentState:
        return self.lifecycle.resume()

    def stop(self) -> AgentState:
        return self.lifecycle.stop()

    def recover(self) -> AgentState:
        return self.lifecycle.recover()

    def terminate(self) -> AgentState:
        return self.lifecycle.terminate()

    # ------------------------------------------------------------------ running

    async def execute(self, request: AgentInput, ctx: ExecutionContext) -> AgentOutput:
        """Answer ``request`` through the members.

        Raises:
            ValidationError: the composite is paused or terminated, or routing failed.
            Cancelled: the composite was stopped, or the run cancelled.
            LLMSpellError: whatever a member raised.
        """
        generation = self.lifecycle.begin()
        started = time.monotonic()
        try:
            outputs = await self._run(request, ctx, generation, stream_last=None)
        except BaseException:
            self.lifecycle.end(generation, failed=True)
            raise
        self.lifecycle.end(generation, failed=False)
        return self._merge(request, outputs, started)

    async def stream(self, request: AgentInput, ctx: ExecutionContext) -> AsyncIterator[str]:
        """Yield the final member's text deltas (earlier members run whole first).

        The merged :class:`AgentOutput` is in :attr:`last_output` afterwards.
        """
        generation = self.lifecycle.begin()
        started = time.monotonic()
        chunks: list[str] = []
        failed = True
        try:
            outputs = await self._run(request, ctx, generation, stream_last=chunks)
            final = outputs[-1]
            if isinstance(final, _Pending):
                async for delta in final.agent.stream(final.request, ctx):
                    chunks.append(delta)
                    yield delta
                last = getattr(final.agent, "last_output", None)
                outputs[-1] = last if isinstance(last, AgentOutput) else AgentOutput(text="".join(chunks))
            else:
                yield final.text
            failed = False
        finally:
            self.lifecycle.end(generation, failed=failed)
        self._merge(request, [o for o in outputs if isinstance(o, AgentOutput)], started)

    @abstractmethod
    async def _run(
        self, request: AgentInput, ctx: ExecutionContext, generation: int, *, stream_last: list[str] | None
    ) -> list[Any]:
        """Member outputs in call order; with ``stream_last`` the final call is left pending."""

    async def _call(
        self, member: BaseAgent, request: AgentInput, ctx: ExecutionContext, generation: int
    ) -> AgentOutput:
        await self.lifecycle.checkpoint(generation, ctx.deadline)
        ctx.check()
        return await member.execute(request, ctx)

    def _merge(self, request: AgentInput, outputs: Sequence[AgentOutput], started: float) -> AgentOutput:
        usage = Usage()
        costs: list[float] = []
        calls = []
        for output in outputs:
            usage.add(output.usage)
            calls.extend(output.tool_calls)
            if output.cost is not None:
                costs.append(output.cost)
        final = outputs[-1] if outputs else AgentOutput(text="")
        merged = AgentOutput(
            text=final.text,
            tool_calls=calls,
            usage=usage,
            cost=sum(costs) if len(costs) == len(outputs) and outputs else None,
            model=final.model,
            finish_reason=final.finish_reason,
            metadata={
                "agent": self.name,
                "type": self.kind,
                "members": [output.metadata.get("agent") for output in outputs],
                "duration_ms": round((time.monotonic() - started) * 1000, 3),
            },
        )
        self._history.extend(
            [{"role": "user", "content": request.text}, {"role": "assistant", "content": merged.text}]
        )
        self.last_output = merged
        return merged


class _Pending:
    """The final member call of a streamed composite, run by :meth:`CompositeAgent.stream`."""

    def __init__(self, agent: Agent, request: AgentInput) -> None:
        self.agent = agent
        self.request = request


class DelegateAgent(CompositeAgent):
    """Routes each request to one member.

    Args:
        name: the composite's name.
        agents: the members (distinct names).
        router: a function ``AgentInput -> member name`` (sync or async), or an agent asked
            which member should answer (its answer must contain a member's name), or None
            to pick the first member named in the request.
        default: the member used when the router names none (default: the first member).
        description: free text.

    Raises:
        ValidationError: no members, duplicate names, or an unknown ``default``.
    """

    kind = "delegate"

    def __init__(
        self,
        name: str,
        agents: Sequence[BaseAgent],
        *,
        router: Router | BaseAgent | None = None,
        default: str | None = None,
        description: str = "",
    ) -> None:
        super().__init__(name, agents, description=description)
        if default is not None and default not in self.members:
            raise ValidationError(
                f"default {default!r} is not a member of {name!r} ({', '.join(self.members)})",
                details={"field": "default"},
            )
        self.router = router
        self.default = default or next(iter(self.members))

    def _named_in(self, text: str) -> str | None:
        # Longest names first, so "writer-pro" wins over "writer".
        for member in sorted(self.members, key=len, reverse=True):
            if re.search(rf"(?<![\w-]){re.escape(member)}(?![\w-])", text, re.IGNORECASE):
                return member
        return None

    async def route(self, request: AgentInput, ctx: ExecutionContext) -> str:
        """The name of the member that answers ``request``.

        Raises:
            NotFound: a router function named an agent that is not a member.
        """
        router = self.router
        if router is None:
            return self._named_in(request.text) or self.default
        if isinstance(router, BaseAgent):
            question = (
                f"Pick the agent that should answer the request below. Answer with one name only, "
                f"one of: {', '.join(self.members)}.\n\nRequest: {request.text}"
            )
            answer = await router.execute(AgentInput(text=question), ctx)
            return self._named_in(answer.text) or self.default
        chosen = router(request)
        if inspect.isawaitable(chosen):
            chosen = await chosen
        if chosen is None:
            return self.default
        if str(chosen) not in self.members:
            raise NotFound(
                f"router of {self.name!r} chose {chosen!r}, not a member ({', '.join(self.members)})",
                details={"agent": self.name, "chosen": str(chosen)},
            )
        return str(chosen)

    async def _run(
        self, request: AgentInput, ctx: ExecutionContext, generation: int, *, stream_last: list[str] | None
    ) -> list[Any]:
        member = self.members[await self.route(request, ctx)]
        if stream_last is not None and isinstance(member, Agent):
            await self.lifecycle.checkpoint(generation, ctx.deadline)
            return [_Pending(member, request)]
        return [await self._call(member, request, ctx, generation)]


class PipelineAgent(CompositeAgent):
    """Runs members in order, each answering the previous one's answer.

    Args:
        name: the composite's name.
        agents: the members, in order (distinct names).
        description: free text.
    """

    kind = "pipeline"

    async def _run(
        self, request: AgentInput, ctx: ExecutionContext, generation: int, *, stream_last: list[str] | None
    ) -> list[Any]:
        outputs: list[Any] = []
        current = request
        members = list(self.members.values())
        for index, member in enumerate(members):
            if stream_last is not None and index == len(members) - 1 and isinstance(member, Agent):
                await self.lifecycle.checkpoint(generation, ctx.deadline)
                outputs.append(_Pending(member, current))
                break
            output = await self._call(member, current, ctx, generation)
            outputs.append(output)
            current = AgentInput(text=output.text, parameters=dict(request.parameters))
        return outputs

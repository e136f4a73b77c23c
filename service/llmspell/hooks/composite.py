"""Composite hooks: several hooks acting as one (sequential, parallel, first-match, voting)."""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import Sequence
from dataclasses import replace
from typing import Any

from ..core.errors import ValidationError
from .abc import CONTINUE, Hook, HookContext, HookResult
from .results import coerce_result

__all__ = ["CompositeHook", "FirstMatchHook", "ParallelHook", "SequentialHook", "VotingHook"]


async def _call(member: Any, ctx: HookContext) -> HookResult:
    value = member(ctx)
    if inspect.isawaitable(value):
        value = await value
    return coerce_result(value)


class CompositeHook(Hook):
    """Base of the composites: ``members`` are hooks or plain (sync or async) functions."""

    kind = "composite"

    def __init__(self, members: Sequence[Any], *, name: str | None = None) -> None:
        if not members or not all(callable(m) for m in members):
            raise ValidationError(
                f"a {self.kind} hook needs a non-empty list of hooks", details={"field": "hooks"}
            )
        self.members = tuple(members)
        labels = (str(getattr(m, "name", None) or getattr(m, "__name__", "hook")) for m in self.members)
        self.name = name or f"{self.kind}({', '.join(labels)})"


class SequentialHook(CompositeHook):
    """Members in order; each sees the data the previous one modified; the first terminal
    result (cancel, replace...) ends it. Answers ``modified`` when any member changed data."""

    kind = "sequential"

    async def __call__(self, ctx: HookContext) -> HookResult | None:
        original = ctx.data
        step = replace(ctx)
        for member in self.members:
            result = await _call(member, step)
            if result.kind == "modified":
                step.data = result.data
            elif result.kind not in ("continue", "skipped"):
                return result
        return HookResult.modified(step.data) if step.data is not original else CONTINUE


class ParallelHook(CompositeHook):
    """Members concurrently on the same data. Precedence: a cancel, else the first terminal
    result in member order, else the first ``modified``, else continue. A member that
    raises fails the whole composite (counted by its breaker)."""

    kind = "parallel"

    async def __call__(self, ctx: HookContext) -> HookResult | None:
        results = await asyncio.gather(*(_call(m, replace(ctx)) for m in self.members))
        for result in results:
            if result.kind == "cancel":
                return result
        for result in results:
            if result.kind not in ("continue", "skipped", "modified"):
                return result
        for result in results:
            if result.kind == "modified":
                return result
        return CONTINUE


class FirstMatchHook(CompositeHook):
    """Members in order until one answers something other than continue/skipped."""

    kind = "first_match"

    async def __call__(self, ctx: HookContext) -> HookResult | None:
        for member in self.members:
            result = await _call(member, ctx)
            if result.kind not in ("continue", "skipped"):
                return result
        return CONTINUE


class VotingHook(CompositeHook):
    """Members vote (concurrently): ``cancel`` is a vote against the call, anything else a
    vote for it. The call is cancelled when the share of votes against exceeds
    ``threshold`` (default 0.5: a strict majority); skipped members do not vote."""

    kind = "voting"

    def __init__(self, members: Sequence[Any], *, threshold: float = 0.5, name: str | None = None) -> None:
        super().__init__(members, name=name)
        if not 0.0 <= threshold < 1.0:
            raise ValidationError("voting threshold must be in [0, 1)", details={"field": "threshold"})
        self.threshold = threshold

    async def __call__(self, ctx: HookContext) -> HookResult | None:
        results = await asyncio.gather(*(_call(m, replace(ctx)) for m in self.members))
        votes = [r for r in results if r.kind != "skipped"]
        against = [r for r in votes if r.kind == "cancel"]
        if votes and len(against) / len(votes) > self.threshold:
            reasons = "; ".join(r.reason for r in against if r.reason)
            return HookResult.cancel(
                f"cancelled by {len(against)} of {len(votes)} votes" + (f": {reasons}" if reasons else "")
            )
        return CONTINUE

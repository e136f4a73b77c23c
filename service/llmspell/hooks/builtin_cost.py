"""The cost-tracking built-in: tokens and money per run, session, agent and API key, with budgets."""

from __future__ import annotations

import threading
from typing import Any

from ..core.errors import LimitExceeded, ValidationError
from .abc import Hook, HookContext, HookResult
from .builtin_observe import _options

__all__ = ["SCOPES", "CostHook"]

SCOPES = ("run", "session", "agent", "api_key")
_BUDGETS = {f"max_{what}_per_{scope}" for what in ("cost", "tokens") for scope in SCOPES}


class CostHook(Hook):
    """Adds up each agent execution's usage and cost; stops calls once a budget is spent.

    Fire it at ``AfterAgentExecution`` (accounting) and at ``BeforeAgentExecution`` /
    ``BeforeLLMRequest`` (budget checks; the defaults). Options: ``max_cost_per_<scope>``
    (money, in the prices' currency) and ``max_tokens_per_<scope>`` for scope ``run``,
    ``session``, ``agent`` or ``api_key`` (from ``ctx.metadata["api_key_id"]``). A spent
    budget raises ``LIMIT_EXCEEDED``, which ends the run (scripts cannot catch it).
    """

    name = "cost"

    def __init__(self, **budgets: float) -> None:
        for name, value in budgets.items():
            if not isinstance(value, int | float) or value < 0:
                raise ValidationError(
                    f"cost hook {name} must be a non-negative number", details={"field": name}
                )
        self.budgets = {name: float(value) for name, value in budgets.items()}
        self._totals: dict[tuple[str, str], list[float]] = {}
        self._lock = threading.Lock()

    @classmethod
    def from_options(cls, options: dict[str, Any]) -> CostHook:
        _options(options, _BUDGETS, "cost")
        return cls(**options)

    @staticmethod
    def keys(ctx: HookContext) -> dict[str, str]:
        """The accounting keys of a call: ``{run, session, agent, api_key}`` (absent ones omitted)."""
        execution = ctx.execution
        metadata = getattr(execution, "metadata", None) or {}
        keys = {
            "run": ctx.run_id,
            "session": getattr(execution, "session_id", None) or "",
            "agent": ctx.component[1] if ctx.component[0] == "agent" else "",
            "api_key": str(metadata.get("api_key_id") or ""),
        }
        return {scope: key for scope, key in keys.items() if key}

    def totals(self, scope: str, key: str) -> dict[str, float]:
        """``{tokens, cost}`` spent so far by ``key`` of ``scope``."""
        with self._lock:
            tokens, cost = self._totals.get((scope, key), [0.0, 0.0])
        return {"tokens": tokens, "cost": cost}

    def snapshot(self) -> list[dict[str, Any]]:
        """Every total: ``[{scope, key, tokens, cost}]``."""
        with self._lock:
            return [
                {"scope": scope, "key": key, "tokens": int(t), "cost": round(c, 8)}
                for (scope, key), (t, c) in sorted(self._totals.items())
            ]

    async def __call__(self, ctx: HookContext) -> HookResult | None:
        keys = self.keys(ctx)
        if ctx.point.startswith("After"):
            result = ctx.data.get("result") if isinstance(ctx.data, dict) else None
            if isinstance(result, dict):
                usage = result.get("usage") or {}
                tokens = float(usage.get("total_tokens") or 0)
                cost = float(result.get("cost") or 0.0)
                with self._lock:
                    for scope, key in keys.items():
                        total = self._totals.setdefault((scope, key), [0.0, 0.0])
                        total[0] += tokens
                        total[1] += cost
            return None
        for scope, key in keys.items():
            spent = self.totals(scope, key)
            for what in ("cost", "tokens"):
                budget = self.budgets.get(f"max_{what}_per_{scope}")
                if budget is not None and spent[what] >= budget:
                    raise LimitExceeded(
                        f"{what} budget of {scope} {key} is spent ({spent[what]:g} of {budget:g}); "
                        f"raise the cost hook's max_{what}_per_{scope} to go on",
                        details={"limit": f"{what}_per_{scope}", "key": key, "fatal": True},
                    )
        return None

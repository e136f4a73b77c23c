"""Every Prometheus metric object of llmspell, in one module.

Importing ``prometheus_client`` costs tens of milliseconds, so hot start-up paths (the
tool registry, the sandbox) import this module only when they first record something.
Metrics live in the default ``prometheus_client`` registry, which ``/metrics`` exposes.
"""

from __future__ import annotations

from prometheus_client import Counter, Histogram

__all__ = [
    "SANDBOX_VIOLATIONS",
    "TOOL_DURATION",
    "TOOL_INVOCATIONS",
    "count_llm_usage",
]

SANDBOX_VIOLATIONS = Counter(
    "llmspell_sandbox_violations_total",
    "Operations refused by the tool sandbox.",
    ["kind"],  # file | network | process
)

TOOL_INVOCATIONS = Counter(
    "llmspell_tool_invocations_total",
    "Tool invocations through the registry.",
    ["tool", "status"],  # status: success | the error code in lower case
)

TOOL_DURATION = Histogram(
    "llmspell_tool_duration_seconds",
    "Wall-clock duration of tool invocations.",
    ["tool"],
    buckets=(0.0005, 0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1.0, 5.0, 30.0),
)

# Runs, schedules and LLM usage (the daemon) ----------------------------------------------
from prometheus_client import Gauge  # noqa: E402

RUNS_TOTAL = Counter("llmspell_runs_total", "Runs finished, by final status.", ["status"])
RUN_DURATION = Histogram(
    "llmspell_run_duration_seconds",
    "Wall-clock duration of finished runs.",
    buckets=(0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1.0, 5.0, 30.0, 120.0, 600.0),
)
RUNS_QUEUED = Gauge("llmspell_runs_queued", "Runs waiting in the queue (all replicas).")
SCHEDULE_FIRES = Counter(
    "llmspell_schedule_fires_total", "Schedule fires decided here, by result.", ["result"]
)
LLM_TOKENS = Counter("llmspell_llm_tokens_total", "LLM tokens used.", ["model", "kind"])
LLM_COST = Counter("llmspell_llm_cost_usd_total", "LLM cost in USD (known prices only).", ["model"])


def count_llm_usage(model: str, prompt_tokens: int, completion_tokens: int, cost: float | None) -> None:
    """Add one agent execution's tokens (and cost, when its price is known) under ``model``."""
    LLM_TOKENS.labels(model=model, kind="prompt").inc(prompt_tokens)
    LLM_TOKENS.labels(model=model, kind="completion").inc(completion_tokens)
    if cost is not None:
        LLM_COST.labels(model=model).inc(cost)


CIRCUIT_BREAKER_STATE = Gauge(
    "llmspell_circuit_breaker_state", "Circuit breaker state: 0 closed, 1 half-open, 2 open.", ["name"]
)
HTTP_REQUEST_DURATION = Histogram(
    "llmspell_http_request_duration_seconds",
    "REST request latency.",
    ["method", "route", "status"],
    buckets=(0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 5.0),
)
GRPC_REQUEST_DURATION = Histogram(
    "llmspell_grpc_request_duration_seconds",
    "gRPC request latency (streams: until the last message), by full method and status code.",
    ["method", "code"],
    buckets=(0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 5.0, 30.0),
)

# Hooks and the event bus ------------------------------------------------------------------
EVENTS_DROPPED = Counter(
    "llmspell_event_bus_dropped_total",
    "Events a full subscriber queue dropped (drop_oldest) or refused (fail, block timeout).",
    ["policy"],
)
EVENTS_PUBLISHED = Counter("llmspell_event_bus_published_total", "Events published on the bus.", ["backend"])
EVENT_QUEUE_LAG = Gauge(
    "llmspell_event_bus_queue_lag", "Events waiting in the fullest subscriber queue of this process."
)


def _max_lag() -> float:
    from ..events.flow import flow_stats

    return float(flow_stats()["max_lag"])


EVENT_QUEUE_LAG.set_function(_max_lag)
HOOK_CALLS = Counter(
    "llmspell_hook_results_total",
    "Hook results that changed a call, by point and action.",
    ["point", "action"],
)

"""Built-in hooks (caching, rate limiting, retry, cost, security, logging, metrics, debug),
composites, and hooks from configuration."""

from __future__ import annotations

import logging
import uuid
from typing import Any

import pytest
from fakes.llm_server import FakeLLMServer
from llmspell.agents import AgentConfig, LLMAgent
from llmspell.core.abc import Tool
from llmspell.core.config import HookConfig, ProviderConfig, Settings
from llmspell.core.context import ExecutionContext
from llmspell.core.errors import LimitExceeded, SandboxViolation, ToolError, ValidationError
from llmspell.core.types import AgentInput
from llmspell.hooks import HookContext, HookRegistry, HookResult
from llmspell.hooks.builtin_control import RateLimitHook, TokenBucket, normalize
from llmspell.hooks.builtin_observe import TraceHook, redact
from llmspell.hooks.builtins import create_builtin, install_configured, register_builtin
from llmspell.hooks.composite import FirstMatchHook, ParallelHook, SequentialHook, VotingHook
from llmspell.tools.registry import ToolRegistry, default_registry


class Counter(Tool):
    """Counts calls; fails the first ``failures`` of them."""

    name = "counter"
    category = "test"
    description = "Counts calls"
    schema = {"type": "object", "properties": {"text": {"type": "string"}}}

    def __init__(self, failures: int = 0) -> None:
        self.calls = 0
        self.failures = failures

    async def invoke(self, params: dict[str, Any], ctx: ExecutionContext) -> Any:
        self.calls += 1
        if self.calls <= self.failures:
            raise ToolError(f"transient failure {self.calls}")
        return {"calls": self.calls}


def setup(tool: Tool) -> tuple[ToolRegistry, HookRegistry, ExecutionContext]:
    tools = ToolRegistry(parent=default_registry())
    tools.register(tool)
    hooks = HookRegistry()
    ctx = ExecutionContext()
    ctx.services["hooks"] = hooks
    return tools, hooks, ctx


def agent(fake_llm: FakeLLMServer) -> LLMAgent:
    settings = Settings(
        providers={
            "fake": ProviderConfig(type="openai", base_url=fake_llm.base_url, api_key="sk", max_retries=0)
        }
    )
    return LLMAgent(AgentConfig(name="helper", model="fake/gpt-4o-mini"), settings=settings)


# -- caching --------------------------------------------------------------------------------


async def test_caching_tool_results_on_normalised_input() -> None:
    counter = Counter()
    tools, hooks, ctx = setup(counter)
    register_builtin(hooks, "caching", points=["BeforeToolExecution"], options={"ttl_s": 60})
    first = await tools.invoke("counter", {"text": "hello   world"}, ctx)
    again = await tools.invoke("counter", {"text": " hello world "}, ctx)
    other = await tools.invoke("counter", {"text": "bye"}, ctx)
    assert first["result"] == again["result"] == {"calls": 1} and other["result"] == {"calls": 2}
    assert counter.calls == 2
    assert normalize({"b": [1.0, " a  b "], "a": "X"}, fold_case=True) == {"b": [1, "a b"], "a": "x"}


async def test_caching_only_listed_tools_and_llm_answers(fake_llm: FakeLLMServer) -> None:
    counter = Counter()
    tools, hooks, ctx = setup(counter)
    register_builtin(hooks, "caching", options={"tools": ["calc*"], "ttl_s": 30})
    await tools.invoke("counter", {}, ctx)
    await tools.invoke("counter", {}, ctx)
    assert counter.calls == 2  # not listed: never cached
    helper = agent(fake_llm)
    one = await helper.execute(AgentInput(text="same question"), ctx)
    two = await helper.execute(AgentInput(text="same  question"), ctx)
    assert one.text == two.text == "Echo: same question"
    assert len(fake_llm.requests) == 1
    with pytest.raises(ValidationError, match="ttl_s must be positive"):
        create_builtin("caching", {"ttl_s": 0})


# -- rate limiting ----------------------------------------------------------------------------


def test_token_bucket_reserves_fairly() -> None:
    now = [0.0]
    bucket = TokenBucket(rate=2.0, burst=2.0, clock=lambda: now[0])
    assert [bucket.reserve(10) for _ in range(4)] == [0.0, 0.0, 0.5, 1.0]
    assert bucket.reserve(1.0) is None  # would wait 1.5 s
    now[0] = 10.0
    assert bucket.reserve(0) == 0.0


async def test_rate_limit_per_tool_raises_past_max_wait() -> None:
    counter = Counter()
    tools, hooks, ctx = setup(counter)
    register_builtin(hooks, "rate_limit", options={"rate": 0.01, "burst": 2, "max_wait_s": 0})
    await tools.invoke("counter", {}, ctx)
    await tools.invoke("counter", {}, ctx)
    with pytest.raises(LimitExceeded, match=r"rate limit of 0\.01/s for tool:counter"):
        await tools.invoke("counter", {}, ctx)
    assert counter.calls == 2
    await tools.invoke("calculator", {"input": "1+1"}, ctx)  # its own bucket


async def test_rate_limit_shared_through_redis(redis_url: str) -> None:
    prefix = f"test:{uuid.uuid4().hex}:"
    options = {"rate": 0.01, "burst": 3, "max_wait_s": 0, "per": "global", "prefix": prefix}
    replica_a = RateLimitHook.from_options(options, redis_url=redis_url)
    replica_b = RateLimitHook.from_options(options, redis_url=redis_url)
    hctx = HookContext(point="BeforeToolExecution", component=("tool", "x"), data={})
    try:
        await replica_a(hctx)
        await replica_b(hctx)
        await replica_a(hctx)
        with pytest.raises(LimitExceeded):
            await replica_b(hctx)
        assert replica_a.breaker.state == "closed" and replica_a.breaker.errors == 0
    finally:
        await replica_a.aclose()
        await replica_b.aclose()


async def test_rate_limit_falls_back_to_local_when_redis_is_down() -> None:
    hook = RateLimitHook(rate=0.01, burst=1, max_wait_s=0, redis_url="redis://127.0.0.1:1/0")
    hctx = HookContext(point="BeforeLLMRequest", component=("llm", "openai/gpt-4o"), data={})
    await hook(hctx)
    with pytest.raises(LimitExceeded):
        await hook(hctx)
    assert hook.breaker.errors == 2


# -- retry and cost ---------------------------------------------------------------------------


async def test_retry_with_backoff_recovers_transient_tool_errors() -> None:
    flaky = Counter(failures=2)
    tools, hooks, ctx = setup(flaky)
    register_builtin(hooks, "retry", options={"max_attempts": 3, "base_delay_ms": 1, "jitter": False})
    assert (await tools.invoke("counter", {}, ctx))["result"] == {"calls": 3}
    hopeless = Counter(failures=5)
    tools, hooks, ctx = setup(hopeless)
    register_builtin(hooks, "retry", options={"max_attempts": 2, "base_delay_ms": 1})
    with pytest.raises(ToolError):
        await tools.invoke("counter", {}, ctx)
    assert hopeless.calls == 2
    hook = create_builtin("retry", {"base_delay_ms": 100, "max_delay_ms": 300, "jitter": False})
    assert [hook.delay_ms(n) for n in (1, 2, 3)] == [100, 200, 300]  # type: ignore[attr-defined]


async def test_cost_budget_stops_the_run(fake_llm: FakeLLMServer) -> None:
    hooks = HookRegistry()
    entries = register_builtin(hooks, "cost", options={"max_tokens_per_run": 1})
    cost = entries[0].fn
    ctx = ExecutionContext(session_id="s1")
    ctx.services["hooks"] = hooks
    helper = agent(fake_llm)
    await helper.execute(AgentInput(text="hi"), ctx)
    spent = cost.totals("run", ctx.run_id)  # type: ignore[attr-defined]
    assert spent["tokens"] > 0
    assert cost.totals("agent", "helper") == spent == cost.totals("session", "s1")  # type: ignore[attr-defined]
    with pytest.raises(LimitExceeded, match="tokens budget of run") as caught:
        await helper.execute(AgentInput(text="again"), ctx)
    assert caught.value.details["fatal"] is True
    assert len(fake_llm.requests) == 1
    other = ExecutionContext()
    other.services["hooks"] = hooks
    await helper.execute(AgentInput(text="another run"), other)  # budgets are per run
    with pytest.raises(ValidationError, match="unknown option"):
        create_builtin("cost", {"max_cost_per_planet": 1})


# -- observing ----------------------------------------------------------------------------------


async def test_security_deny_lists() -> None:
    tools, hooks, ctx = setup(Counter())
    register_builtin(hooks, "security", options={"deny_tools": ["count*"], "deny_patterns": [r"rm -rf"]})
    with pytest.raises(SandboxViolation, match="tool 'counter' is denied"):
        await tools.invoke("counter", {}, ctx)
    with pytest.raises(SandboxViolation, match="denied pattern"):
        await tools.invoke("calculator", {"input": "rm -rf /"}, ctx)
    assert (await tools.invoke("calculator", {"input": "2+2"}, ctx))["result"]["value"] == 4


def test_redaction() -> None:
    text = "mail bob@example.com key sk-abcdefghijklmnop1234 card 4111 1111 1111 1111 ssn 123-45-6789"
    assert redact(text) == "mail [email] key [secret] card [card] ssn [ssn]"
    assert redact("call +1 415-555-0100 now") == "call [phone] now"


async def test_logging_metrics_and_trace(caplog: pytest.LogCaptureFixture) -> None:
    from llmspell.core.metrics import HOOK_CALLS

    tools, hooks, ctx = setup(Counter())
    register_builtin(hooks, "logging", points=["BeforeToolExecution"])
    register_builtin(hooks, "metrics", points=["BeforeToolExecution"])
    trace = register_builtin(hooks, "debug", points=["BeforeToolExecution"])[0].fn
    before = HOOK_CALLS.labels(point="BeforeToolExecution", action="observed")._value.get()
    with caplog.at_level(logging.INFO, logger="llmspell.hooks.log"):
        await tools.invoke("counter", {"text": "from alice@example.com"}, ctx)
    assert "hook BeforeToolExecution tool:counter" in caplog.text and "[email]" in caplog.text
    assert "alice@" not in caplog.text
    assert HOOK_CALLS.labels(point="BeforeToolExecution", action="observed")._value.get() == before + 1
    assert isinstance(trace, TraceHook)
    assert [e["component"] for e in trace.entries(ctx.run_id)] == ["tool:counter"]


# -- composites and configuration ----------------------------------------------------------------


async def test_composites() -> None:
    hctx = HookContext(point="BeforeToolExecution", component=("tool", "t"), data={"n": 1})

    def add(c: HookContext) -> HookResult:
        return HookResult.modified({"n": c.data["n"] + 1})

    async def deny(c: HookContext) -> HookResult:
        return HookResult.cancel("no")

    def allow(c: HookContext) -> None:
        return None

    result = await SequentialHook([add, add, allow])(hctx)
    assert result is not None and result.kind == "modified" and result.data == {"n": 3}
    assert hctx.data == {"n": 1}
    parallel = await ParallelHook([add, deny])(hctx)
    assert parallel is not None and parallel.kind == "cancel"
    first = await FirstMatchHook([allow, lambda c: HookResult.replace("r"), deny])(hctx)
    assert first is not None and first.result == "r"
    assert (await VotingHook([deny, allow, allow])(hctx)).kind == "continue"  # type: ignore[union-attr]
    voted = await VotingHook([deny, deny, allow])(hctx)
    assert (
        voted is not None and voted.kind == "cancel" and voted.reason.startswith("cancelled by 2 of 3 votes")
    )
    with pytest.raises(ValidationError):
        VotingHook([])


def test_hooks_from_configuration() -> None:
    settings = Settings(
        hooks=[
            HookConfig(name="caching", options={"ttl_s": 5}),
            HookConfig(name="rate_limit", points=["BeforeLLMRequest"], priority=7, options={"rate": 2}),
            HookConfig(
                name="first_match",
                points=["BeforeToolExecution"],
                options={
                    "hooks": [{"name": "security", "options": {"deny_tools": ["x"]}}, {"name": "caching"}]
                },
            ),
        ]
    )
    registry = HookRegistry()
    entries = install_configured(settings, registry)
    assert [(e.name, e.point) for e in entries][:3] == [
        ("caching", "BeforeToolExecution"),
        ("caching", "BeforeAgentExecution"),
        ("caching", "BeforeLLMRequest"),
    ]
    assert entries[3].priority == 7 and entries[3].name == "rate_limit"
    assert entries[4].name == "first_match(security, caching)" and entries[0].priority == 100
    assert all(e.source == "config" for e in entries)
    with pytest.raises(ValidationError, match="unknown built-in hook 'nope'"):
        install_configured(Settings(hooks=[HookConfig(name="nope")]), registry)
    with pytest.raises(ValidationError, match="needs points"):
        register_builtin(registry, "voting", options={"hooks": [{"name": "metrics"}]})
    with pytest.raises(ValidationError, match="rate"):
        create_builtin("rate_limit", {})

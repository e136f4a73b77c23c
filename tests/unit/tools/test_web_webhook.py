"""webhook-caller against a real webhook receiver on 127.0.0.1 that verifies the HMAC."""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from collections.abc import Iterator

import pytest
from fakes.web_servers import WEBHOOK_SECRET, WebServer, loopback_context, running_web_server, web_registry
from llmspell.core.context import ExecutionContext, Limits, SandboxPolicy
from llmspell.core.errors import SandboxViolation, ToolError, ValidationError
from llmspell.tools.builtin.web_webhook import sign_payload
from llmspell.tools.registry import ToolRegistry


@pytest.fixture
def web() -> Iterator[WebServer]:
    with running_web_server() as server:
        yield server


@pytest.fixture
def ctx() -> ExecutionContext:
    return loopback_context()


@pytest.fixture(scope="module")
def registry() -> ToolRegistry:
    return web_registry()


async def test_signed_delivery_is_verified_by_the_receiver(
    registry: ToolRegistry, ctx: ExecutionContext, web: WebServer
) -> None:
    payload = {"event": "run.completed", "id": 7, "text": "héllo"}
    envelope = await registry.invoke(
        "webhook-caller", {"url": web.url("/webhook"), "payload": payload, "secret": WEBHOOK_SECRET}, ctx
    )
    assert envelope["success"] is True
    result = envelope["result"]
    assert result["delivered"] is True and result["status"] == 200 and result["attempts"] == 1
    assert result["response"] == {"received": True}
    [delivery] = web.webhook_deliveries
    assert delivery["valid"] is True
    assert delivery["body"] == payload
    assert delivery["headers"]["X-Llmspell-Delivery"] == result["delivery_id"]
    assert abs(int(delivery["headers"]["X-Llmspell-Timestamp"]) - time.time()) < 60


async def test_wrong_secret_is_rejected_without_retry(
    registry: ToolRegistry, ctx: ExecutionContext, web: WebServer
) -> None:
    with pytest.raises(ToolError, match="HTTP 401") as info:
        await registry.invoke(
            "webhook-caller", {"url": web.url("/webhook"), "payload": {"a": 1}, "secret": "wrong"}, ctx
        )
    assert len(info.value.details["attempts"]) == 1
    assert web.hit_count("/webhook") == 1
    assert web.webhook_deliveries[0]["valid"] is False


async def test_transient_failures_are_retried_with_the_same_delivery_id(
    registry: ToolRegistry, ctx: ExecutionContext, web: WebServer
) -> None:
    web.fail_next("/webhook", 2)
    envelope = await registry.invoke(
        "webhook-caller",
        {
            "url": web.url("/webhook"),
            "payload": [1, 2, 3],
            "secret": WEBHOOK_SECRET,
            "max_retries": 3,
            "backoff_s": 0.01,
        },
        ctx,
    )
    assert envelope["result"]["attempts"] == 3
    assert [a.get("status") for a in envelope["metadata"]["attempts"]] == [503, 503, 200]
    assert web.hit_count("/webhook") == 3
    assert web.webhook_deliveries[-1]["valid"] is True
    assert web.webhook_deliveries[-1]["headers"]["X-Llmspell-Attempt"] == "3"


async def test_retries_exhausted(registry: ToolRegistry, ctx: ExecutionContext, web: WebServer) -> None:
    web.fail_next("/webhook", 10)
    with pytest.raises(ToolError, match="failed after 3 attempt") as info:
        await registry.invoke(
            "webhook-caller",
            {"url": web.url("/webhook"), "payload": {}, "max_retries": 2, "backoff_s": 0.01},
            ctx,
        )
    assert [a["status"] for a in info.value.details["attempts"]] == [503, 503, 503]


async def test_connection_errors_are_retried(registry: ToolRegistry, ctx: ExecutionContext) -> None:
    with running_web_server() as gone:
        dead_url = gone.url("/webhook")
    with pytest.raises(ToolError, match="failed after 2 attempt") as info:
        await registry.invoke(
            "webhook-caller", {"url": dead_url, "payload": {}, "max_retries": 1, "backoff_s": 0.01}, ctx
        )
    assert all("error" in a for a in info.value.details["attempts"])


async def test_body_scheme_signature_and_custom_header(
    registry: ToolRegistry, ctx: ExecutionContext, web: WebServer
) -> None:
    envelope = await registry.invoke(
        "webhook-caller",
        {
            "url": web.url("/echo"),
            "payload": {"x": 1},
            "secret": "k",
            "signature_scheme": "body",
            "signature_header": "X-Hub-Signature-256",
            "headers": {"X-Custom": "yes"},
        },
        ctx,
    )
    seen = envelope["result"]["response"]["headers"]
    body = json.dumps({"x": 1}, separators=(",", ":")).encode()
    expected = "sha256=" + hmac.new(b"k", body, hashlib.sha256).hexdigest()
    assert seen["x-hub-signature-256"] == expected == sign_payload("k", body)
    assert seen["x-custom"] == "yes"
    assert "x-llmspell-timestamp" not in seen
    assert envelope["result"]["response"]["body"] == body.decode()


async def test_backoff_stops_at_the_run_deadline(registry: ToolRegistry, web: WebServer) -> None:
    ctx = ExecutionContext(policy=SandboxPolicy(network_allow=("127.0.0.1",)), limits=Limits(timeout_s=1.0))
    web.fail_next("/webhook", 10)
    started = time.monotonic()
    with pytest.raises(ToolError, match="failed after 1 attempt"):
        await registry.invoke(
            "webhook-caller",
            {"url": web.url("/webhook"), "payload": {}, "max_retries": 5, "backoff_s": 30},
            ctx,
        )
    assert time.monotonic() - started < 1.0


async def test_retry_after_header_overrides_backoff(
    registry: ToolRegistry, ctx: ExecutionContext, web: WebServer
) -> None:
    web.fail_next("/webhook", 1, retry_after="0")
    started = time.monotonic()
    envelope = await registry.invoke(
        "webhook-caller",
        {"url": web.url("/webhook"), "payload": {}, "secret": WEBHOOK_SECRET, "backoff_s": 30},
        ctx,
    )
    assert envelope["result"]["attempts"] == 2
    assert time.monotonic() - started < 5


async def test_schema_and_sandbox(registry: ToolRegistry, ctx: ExecutionContext, web: WebServer) -> None:
    with pytest.raises(ValidationError, match="payload"):
        await registry.invoke("webhook-caller", {"url": web.url("/webhook")}, ctx)
    with pytest.raises(ValidationError):
        await registry.invoke(
            "webhook-caller", {"url": web.url("/webhook"), "payload": 1, "max_retries": 99}, ctx
        )
    with pytest.raises(SandboxViolation):
        await registry.invoke("webhook-caller", {"url": "http://169.254.169.254/hook", "payload": 1}, ctx)
    with pytest.raises(SandboxViolation):
        await registry.invoke(
            "webhook-caller",
            {"url": web.url("/redirect?to=http://10.0.0.1/"), "payload": 1, "method": "PUT"},
            ctx,
        )
    assert web.hit_count("/webhook") == 0

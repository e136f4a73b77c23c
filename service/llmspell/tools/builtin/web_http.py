"""Web tools for raw HTTP: http-requester and graphql-query."""

from __future__ import annotations

import json
from typing import Any

from llmspell.core.context import ExecutionContext
from llmspell.core.errors import ToolError, ValidationError
from llmspell.tools.base import BaseTool, ToolOutput
from llmspell.tools.builtin.web_common import (
    BODY_MODES,
    HEADERS_SCHEMA,
    HTTP_METHODS,
    QUERY_SCHEMA,
    TIMEOUT_SCHEMA,
    build_request_body,
    decode_body,
    fetch,
    lower_headers,
    request_timeout,
    require_http_url,
    response_dict,
    with_query,
)

__all__ = ["REQUEST_PROPERTIES", "GraphQLQueryTool", "HttpRequesterTool", "send_request"]

REQUEST_PROPERTIES: dict[str, Any] = {
    "url": {"type": "string", "minLength": 1, "description": "Absolute http(s) URL."},
    "method": {"type": "string", "enum": list(HTTP_METHODS), "default": "GET"},
    "headers": HEADERS_SCHEMA,
    "query": {**QUERY_SCHEMA, "description": "Query parameters appended to the URL."},
    "json": {"description": "A JSON body (sets Content-Type: application/json)."},
    "body": {"type": "string", "description": "A raw text body."},
    "form": {**QUERY_SCHEMA, "description": "A form body (application/x-www-form-urlencoded)."},
    "timeout_s": TIMEOUT_SCHEMA,
    "max_bytes": {"type": "integer", "minimum": 1, "description": "Response size cap (≤ the policy's)."},
    "response_as": {"type": "string", "enum": list(BODY_MODES), "default": "auto"},
}


async def send_request(
    params: dict[str, Any], ctx: ExecutionContext, default_timeout: float
) -> dict[str, Any]:
    """Send the request described by :data:`REQUEST_PROPERTIES` params; return :func:`response_dict`."""
    url = with_query(require_http_url(params["url"]), params.get("query"))
    method = params.get("method", "GET")
    content, body_headers = build_request_body(params)
    if content is not None and method in ("GET", "HEAD"):
        raise ValidationError(
            f"a {method} request cannot carry a body; use POST", details={"field": "method"}
        )
    headers = {**body_headers, **(params.get("headers") or {})}
    result = await fetch(
        ctx,
        method,
        url,
        timeout_s=request_timeout(params.get("timeout_s"), default_timeout, ctx),
        headers=headers,
        content=content,
        max_bytes=params.get("max_bytes"),
    )
    return response_dict(result, params.get("response_as", "auto"))


class HttpRequesterTool(BaseTool):
    """Send one HTTP request and return status, headers and the decoded body."""

    name = "http-requester"
    category = "web"
    description = (
        "Send an HTTP request (any method, headers, query, JSON/text/form body) and return the "
        "status, headers and body (JSON-decoded when the response is JSON)."
    )
    security_level = "restricted"
    timeout_s = 60.0
    schema = {
        "type": "object",
        "properties": {
            **REQUEST_PROPERTIES,
            "raise_for_status": {
                "type": "boolean",
                "default": False,
                "description": "Fail with TOOL_ERROR on a 4xx/5xx status.",
            },
        },
        "required": ["url"],
        "additionalProperties": False,
    }

    async def invoke(self, params: dict[str, Any], ctx: ExecutionContext) -> Any:
        response = await send_request(params, ctx, 30.0)
        method = params.get("method", "GET")
        if params.get("raise_for_status") and response["status"] >= 400:
            raise ToolError(
                f"{method} {response['url']} answered HTTP {response['status']}",
                details={"status": response["status"], "body": _preview(response["body"])},
            )
        return ToolOutput(
            operation=method.lower(),
            result=response,
            message=f"{method} {response['url']} → {response['status']}",
            metadata={"elapsed_ms": response["elapsed_ms"]},
        )


class GraphQLQueryTool(BaseTool):
    """POST a GraphQL query with variables; surface GraphQL errors."""

    name = "graphql-query"
    category = "web"
    description = (
        "Run a GraphQL query or mutation (POST {query, variables, operationName}); returns data, "
        "and fails with the server's error messages when there is no data."
    )
    security_level = "restricted"
    timeout_s = 60.0
    schema = {
        "type": "object",
        "properties": {
            "url": {"type": "string", "minLength": 1, "description": "The GraphQL endpoint."},
            "query": {"type": "string", "minLength": 1},
            "variables": {"type": "object"},
            "operation_name": {"type": "string"},
            "headers": HEADERS_SCHEMA,
            "timeout_s": TIMEOUT_SCHEMA,
            "allow_partial": {
                "type": "boolean",
                "default": True,
                "description": "Return partial data alongside errors instead of failing.",
            },
        },
        "required": ["url", "query"],
        "additionalProperties": False,
    }

    async def invoke(self, params: dict[str, Any], ctx: ExecutionContext) -> Any:
        url = require_http_url(params["url"])
        payload: dict[str, Any] = {"query": params["query"]}
        if params.get("variables"):
            payload["variables"] = params["variables"]
        if params.get("operation_name"):
            payload["operationName"] = params["operation_name"]
        headers = {
            "Content-Type": "application/json",
            "Accept": "application/graphql-response+json, application/json",
            **(params.get("headers") or {}),
        }
        result = await fetch(
            ctx,
            "POST",
            url,
            timeout_s=request_timeout(params.get("timeout_s"), 30.0, ctx),
            headers=headers,
            content=json.dumps(payload).encode(),
        )
        content_type = lower_headers(result.headers).get("content-type")
        try:
            body, _ = decode_body(result.content, content_type, "json")
        except ToolError as exc:
            raise ToolError(
                f"GraphQL endpoint answered HTTP {result.status} with a non-JSON body",
                details={"status": result.status, "body": result.content[:500].decode("utf-8", "replace")},
            ) from exc
        if not isinstance(body, dict) or not ("data" in body or "errors" in body):
            raise ToolError(
                f"GraphQL endpoint answered HTTP {result.status} without 'data' or 'errors'",
                details={"status": result.status, "body": _preview(body)},
            )
        errors = body.get("errors") or []
        data = body.get("data")
        messages = "; ".join(str(e.get("message", e)) if isinstance(e, dict) else str(e) for e in errors)
        if errors and (data is None or not params.get("allow_partial", True)):
            raise ToolError(
                f"GraphQL error: {messages}",
                details={"status": result.status, "errors": errors, "data": data},
            )
        if result.status >= 400:
            raise ToolError(
                f"GraphQL endpoint answered HTTP {result.status}", details={"status": result.status}
            )
        message = f"GraphQL {'partial result with ' + str(len(errors)) + ' error(s)' if errors else 'ok'}"
        return ToolOutput(
            operation="query",
            result={"data": data, "errors": errors, "status": result.status},
            message=message,
            metadata={"elapsed_ms": round(result.elapsed_ms, 3), "extensions": body.get("extensions")},
        )


def _preview(body: Any, limit: int = 500) -> Any:
    text = body if isinstance(body, str) else json.dumps(body, default=str)
    return text[:limit]

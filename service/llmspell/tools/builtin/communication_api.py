"""slack-integration and github-integration over their documented Web/REST API shapes.

Tokens and base URLs come from the parameters, else the environment:
``LLMSPELL_SLACK_TOKEN`` / ``LLMSPELL_SLACK_BASE_URL`` (default ``https://slack.com/api``)
and ``LLMSPELL_GITHUB_TOKEN`` / ``LLMSPELL_GITHUB_BASE_URL`` (default
``https://api.github.com``). All traffic goes through :class:`SafeHttp`, so the sandbox
network policy, redirect checks and size caps apply.
"""

from __future__ import annotations

import base64
import binascii
import json
from typing import Any
from urllib.parse import quote, urlencode

from llmspell.core.context import ExecutionContext
from llmspell.core.errors import ConfigError, ToolError, ValidationError
from llmspell.tools.base import BaseTool, ToolOutput
from llmspell.tools.builtin.communication import setting
from llmspell.tools.sandbox import HttpResult, SafeHttp

__all__ = ["GitHubIntegrationTool", "SlackIntegrationTool"]

_NAME = {"type": "string", "pattern": r"^[A-Za-z0-9_.-]{1,100}$"}


def _json(response: HttpResult, service: str) -> Any:
    try:
        return json.loads(response.content or b"null")
    except ValueError as exc:
        raise ToolError(f"{service} answered HTTP {response.status} with a body that is not JSON") from exc


async def _call(
    ctx: ExecutionContext,
    method: str,
    url: str,
    *,
    headers: dict[str, str],
    body: Any = None,
    timeout_s: float,
) -> HttpResult:
    async with SafeHttp(ctx.policy, timeout_s=timeout_s) as http:
        if body is None:
            return await http.request(method, url, headers=headers, max_bytes=ctx.policy.max_response_bytes)
        return await http.request(
            method, url, headers=headers, json=body, max_bytes=ctx.policy.max_response_bytes
        )


class SlackIntegrationTool(BaseTool):
    """Send Slack messages and list channels through the Slack Web API."""

    name = "slack-integration"
    category = "communication"
    description = "Slack Web API: send a message (chat.postMessage) or list channels (conversations.list)."
    security_level = "privileged"
    timeout_s = 35.0
    schema = {
        "type": "object",
        "properties": {
            "operation": {"enum": ["send_message", "list_channels"]},
            "channel": {"type": "string", "minLength": 1, "description": "Channel id or #name."},
            "text": {"type": "string", "minLength": 1, "maxLength": 40_000},
            "thread_ts": {"type": "string", "description": "Reply in this thread."},
            "blocks": {"type": "array", "items": {"type": "object"}, "maxItems": 50},
            "limit": {"type": "integer", "minimum": 1, "maximum": 1000, "default": 100},
            "cursor": {"type": "string"},
            "types": {
                "type": "string",
                "default": "public_channel",
                "description": "e.g. public_channel,private_channel",
            },
            "exclude_archived": {"type": "boolean", "default": True},
            "token": {
                "type": "string",
                "minLength": 1,
                "description": "Bot token (or LLMSPELL_SLACK_TOKEN).",
            },
            "base_url": {
                "type": "string",
                "minLength": 1,
                "description": "API base (or LLMSPELL_SLACK_BASE_URL).",
            },
            "timeout_s": {"type": "number", "exclusiveMinimum": 0, "maximum": 30, "default": 15},
        },
        "required": ["operation"],
        "additionalProperties": False,
        "allOf": [
            {
                "if": {"properties": {"operation": {"const": "send_message"}}},
                "then": {"required": ["channel", "text"]},
            }
        ],
    }

    async def invoke(self, params: dict[str, Any], ctx: ExecutionContext) -> Any:
        token = setting(params, "token", "LLMSPELL_SLACK_TOKEN")
        if not token:
            raise ConfigError("no Slack token: pass token or set LLMSPELL_SLACK_TOKEN")
        base = (setting(params, "base_url", "LLMSPELL_SLACK_BASE_URL") or "https://slack.com/api").rstrip("/")
        headers = {"Authorization": f"Bearer {token}"}
        timeout = float(params.get("timeout_s", 15))
        if params["operation"] == "send_message":
            body: dict[str, Any] = {"channel": params["channel"], "text": params["text"]}
            for key in ("thread_ts", "blocks"):
                if key in params:
                    body[key] = params[key]
            data = await self._api(ctx, "POST", f"{base}/chat.postMessage", headers, body, timeout)
            return ToolOutput(
                operation="send_message",
                result={"channel": data.get("channel"), "ts": data.get("ts"), "message": data.get("message")},
                message=f"posted to {data.get('channel')}",
            )
        query = {
            "limit": params.get("limit", 100),
            "types": params.get("types", "public_channel"),
            "exclude_archived": str(params.get("exclude_archived", True)).lower(),
        }
        if params.get("cursor"):
            query["cursor"] = params["cursor"]
        data = await self._api(
            ctx, "GET", f"{base}/conversations.list?{urlencode(query)}", headers, None, timeout
        )
        channels = [
            {
                "id": ch.get("id"),
                "name": ch.get("name"),
                "is_private": ch.get("is_private", False),
                "is_archived": ch.get("is_archived", False),
                "num_members": ch.get("num_members"),
                "topic": (ch.get("topic") or {}).get("value", ""),
                "purpose": (ch.get("purpose") or {}).get("value", ""),
            }
            for ch in data.get("channels", [])
        ]
        next_cursor = (data.get("response_metadata") or {}).get("next_cursor") or None
        return ToolOutput(
            operation="list_channels",
            result={"channels": channels, "next_cursor": next_cursor},
            message=f"{len(channels)} channels",
        )

    @staticmethod
    async def _api(
        ctx: ExecutionContext, method: str, url: str, headers: dict[str, str], body: Any, timeout: float
    ) -> dict[str, Any]:
        response = await _call(ctx, method, url, headers=headers, body=body, timeout_s=timeout)
        if response.status == 429:
            retry = response.headers.get("retry-after", "?")
            raise ToolError(f"Slack rate limit hit; retry after {retry}s", details={"retry_after": retry})
        data = _json(response, "Slack")
        if not isinstance(data, dict):
            raise ToolError(f"Slack answered HTTP {response.status} with an unexpected body")
        if not data.get("ok", False):
            error = data.get("error") or f"http_{response.status}"
            hint = (
                "; check the token (LLMSPELL_SLACK_TOKEN)" if error in ("invalid_auth", "not_authed") else ""
            )
            raise ToolError(f"Slack API error: {error}{hint}", details={"slack_error": error})
        return data


class GitHubIntegrationTool(BaseTool):
    """Read repositories, issues and files, and create issues, through the GitHub REST API."""

    name = "github-integration"
    category = "communication"
    description = "GitHub REST API: get a repository, list or create issues, get a file's content."
    security_level = "privileged"
    timeout_s = 35.0
    schema = {
        "type": "object",
        "properties": {
            "operation": {"enum": ["get_repo", "list_issues", "create_issue", "get_file"]},
            "owner": _NAME,
            "repo": _NAME,
            "state": {"enum": ["open", "closed", "all"], "default": "open"},
            "labels": {"type": "array", "items": {"type": "string", "minLength": 1}},
            "per_page": {"type": "integer", "minimum": 1, "maximum": 100, "default": 30},
            "page": {"type": "integer", "minimum": 1, "default": 1},
            "title": {"type": "string", "minLength": 1, "maxLength": 256},
            "body": {"type": "string", "maxLength": 65_536},
            "assignees": {"type": "array", "items": {"type": "string", "minLength": 1}},
            "path": {"type": "string", "minLength": 1, "description": "File path in the repository."},
            "ref": {"type": "string", "minLength": 1, "description": "Branch, tag or commit."},
            "token": {"type": "string", "minLength": 1, "description": "Token (or LLMSPELL_GITHUB_TOKEN)."},
            "base_url": {
                "type": "string",
                "minLength": 1,
                "description": "API base (or LLMSPELL_GITHUB_BASE_URL).",
            },
            "timeout_s": {"type": "number", "exclusiveMinimum": 0, "maximum": 30, "default": 15},
        },
        "required": ["operation", "owner", "repo"],
        "additionalProperties": False,
        "allOf": [
            {"if": {"properties": {"operation": {"const": "create_issue"}}}, "then": {"required": ["title"]}},
            {"if": {"properties": {"operation": {"const": "get_file"}}}, "then": {"required": ["path"]}},
        ],
    }

    async def invoke(self, params: dict[str, Any], ctx: ExecutionContext) -> Any:
        token = setting(params, "token", "LLMSPELL_GITHUB_TOKEN")
        base = (setting(params, "base_url", "LLMSPELL_GITHUB_BASE_URL") or "https://api.github.com").rstrip(
            "/"
        )
        operation: str = params["operation"]
        if operation == "create_issue" and not token:
            raise ConfigError("creating issues needs a token: pass token or set LLMSPELL_GITHUB_TOKEN")
        headers = {"Accept": "application/vnd.github+json", "X-GitHub-Api-Version": "2022-11-28"}
        if token:
            headers["Authorization"] = f"Bearer {token}"
        repo_url = f"{base}/repos/{params['owner']}/{params['repo']}"
        timeout = float(params.get("timeout_s", 15))
        if operation == "get_repo":
            data = await self._api(ctx, "GET", repo_url, headers, None, timeout)
            return ToolOutput(
                operation=operation, result=_repo(data), message=f"repository {data.get('full_name')}"
            )
        if operation == "list_issues":
            query: dict[str, Any] = {
                "state": params.get("state", "open"),
                "per_page": params.get("per_page", 30),
                "page": params.get("page", 1),
            }
            if params.get("labels"):
                query["labels"] = ",".join(params["labels"])
            data = await self._api(
                ctx, "GET", f"{repo_url}/issues?{urlencode(query)}", headers, None, timeout
            )
            issues = [_issue(item) for item in data] if isinstance(data, list) else []
            return ToolOutput(operation=operation, result={"issues": issues}, message=f"{len(issues)} issues")
        if operation == "create_issue":
            body = {k: params[k] for k in ("title", "body", "labels", "assignees") if k in params}
            data = await self._api(ctx, "POST", f"{repo_url}/issues", headers, body, timeout)
            issue = _issue(data)
            return ToolOutput(operation=operation, result=issue, message=f"created issue #{issue['number']}")
        return await self._get_file(ctx, repo_url, headers, params, timeout)

    async def _get_file(
        self,
        ctx: ExecutionContext,
        repo_url: str,
        headers: dict[str, str],
        params: dict[str, Any],
        timeout: float,
    ) -> ToolOutput:
        parts = [part for part in params["path"].split("/") if part]
        if not parts or any(part in (".", "..") for part in parts):
            raise ValidationError(f"invalid repository path {params['path']!r}", details={"field": "path"})
        url = f"{repo_url}/contents/{'/'.join(quote(part) for part in parts)}"
        if "ref" in params:
            url += f"?{urlencode({'ref': params['ref']})}"
        data = await self._api(ctx, "GET", url, headers, None, timeout)
        if not isinstance(data, dict) or data.get("type") != "file":
            raise ToolError(f"{params['path']!r} is not a file in the repository (a directory?)")
        raw: bytes
        if data.get("encoding") == "base64":
            try:
                raw = base64.b64decode(data.get("content") or "")
            except (binascii.Error, ValueError) as exc:
                raise ToolError("GitHub returned file content that is not valid base64") from exc
        else:
            raw = str(data.get("content") or "").encode()
        try:
            content, encoding = raw.decode("utf-8"), "utf-8"
        except UnicodeDecodeError:
            content, encoding = base64.b64encode(raw).decode("ascii"), "base64"
        result = {
            "path": data.get("path"),
            "name": data.get("name"),
            "sha": data.get("sha"),
            "size": data.get("size", len(raw)),
            "encoding": encoding,
            "content": content,
            "html_url": data.get("html_url"),
        }
        return ToolOutput(operation="get_file", result=result, message=f"{len(raw)} bytes")

    @staticmethod
    async def _api(
        ctx: ExecutionContext, method: str, url: str, headers: dict[str, str], body: Any, timeout: float
    ) -> Any:
        response = await _call(ctx, method, url, headers=headers, body=body, timeout_s=timeout)
        data = _json(response, "GitHub")
        if 200 <= response.status < 300:
            return data
        detail = data.get("message") if isinstance(data, dict) else None
        hint = {
            401: "; check the token (LLMSPELL_GITHUB_TOKEN)",
            403: "; the token lacks permission or the rate limit was hit",
            404: "; check owner, repo and path (private repositories need a token)",
        }.get(response.status, "")
        raise ToolError(
            f"GitHub API error {response.status}: {detail or 'request failed'}{hint}",
            details={"status": response.status},
        )


def _repo(data: dict[str, Any]) -> dict[str, Any]:
    return {
        "full_name": data.get("full_name"),
        "description": data.get("description"),
        "private": data.get("private", False),
        "default_branch": data.get("default_branch"),
        "stars": data.get("stargazers_count", 0),
        "forks": data.get("forks_count", 0),
        "open_issues": data.get("open_issues_count", 0),
        "language": data.get("language"),
        "html_url": data.get("html_url"),
        "updated_at": data.get("updated_at"),
    }


def _issue(data: dict[str, Any]) -> dict[str, Any]:
    return {
        "number": data.get("number"),
        "title": data.get("title"),
        "state": data.get("state"),
        "body": data.get("body"),
        "user": (data.get("user") or {}).get("login"),
        "labels": [label.get("name") for label in data.get("labels", []) if isinstance(label, dict)],
        "is_pull_request": "pull_request" in data,
        "html_url": data.get("html_url"),
        "created_at": data.get("created_at"),
    }

"""slack-integration and github-integration against a local server speaking their documented shapes."""

from __future__ import annotations

import base64
import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from llmspell.core.context import ExecutionContext, SandboxPolicy
from llmspell.core.errors import ConfigError, SandboxViolation, ToolError, ValidationError
from llmspell.tools.builtin.communication_api import GitHubIntegrationTool, SlackIntegrationTool
from llmspell.tools.registry import ToolRegistry

SLACK_TOKEN = "xoxb-test-token"
GITHUB_TOKEN = "ghp_testtoken"

CHANNELS = {
    "ok": True,
    "channels": [
        {
            "id": "C012AB3CD",
            "name": "general",
            "is_channel": True,
            "is_private": False,
            "is_archived": False,
            "num_members": 4,
            "topic": {"value": "Company-wide", "creator": "", "last_set": 0},
            "purpose": {"value": "Announcements", "creator": "", "last_set": 0},
        },
        {"id": "C061EG9T2", "name": "random", "is_private": False, "is_archived": False, "num_members": 2},
    ],
    "response_metadata": {"next_cursor": "dGVhbTpDMDYxRkE1UEI="},
}

REPO = {
    "id": 1296269,
    "name": "Hello-World",
    "full_name": "octocat/Hello-World",
    "private": False,
    "description": "This your first repo!",
    "default_branch": "main",
    "stargazers_count": 80,
    "forks_count": 9,
    "open_issues_count": 2,
    "language": "Python",
    "html_url": "https://github.com/octocat/Hello-World",
    "updated_at": "2011-01-26T19:14:43Z",
}


def issue(number: int, title: str, *, pr: bool = False) -> dict[str, Any]:
    data: dict[str, Any] = {
        "number": number,
        "title": title,
        "state": "open",
        "body": "details",
        "user": {"login": "octocat"},
        "labels": [{"id": 1, "name": "bug"}],
        "html_url": f"https://github.com/octocat/Hello-World/issues/{number}",
        "created_at": "2011-04-22T13:33:48Z",
    }
    if pr:
        data["pull_request"] = {"url": "https://api.github.com/repos/octocat/Hello-World/pulls/1"}
    return data


@dataclass
class Recorder:
    requests: list[dict[str, Any]] = field(default_factory=list)


def make_handler(recorder: Recorder) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def _reply(self, status: int, payload: Any, headers: dict[str, str] | None = None) -> None:
            body = json.dumps(payload).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            for key, value in (headers or {}).items():
                self.send_header(key, value)
            self.end_headers()
            self.wfile.write(body)

        def _record(self) -> tuple[str, dict[str, list[str]], Any]:
            parts = urlsplit(self.path)
            length = int(self.headers.get("Content-Length") or 0)
            body = json.loads(self.rfile.read(length)) if length else None
            recorder.requests.append(
                {
                    "method": self.command,
                    "path": parts.path,
                    "query": parse_qs(parts.query),
                    "body": body,
                    "headers": dict(self.headers),
                }
            )
            return parts.path, parse_qs(parts.query), body

        def do_GET(self) -> None:
            self._route()

        def do_POST(self) -> None:
            self._route()

        def _route(self) -> None:
            path, query, body = self._record()
            auth = self.headers.get("Authorization")
            if path.startswith("/slack/"):
                if auth != f"Bearer {SLACK_TOKEN}":
                    return self._reply(200, {"ok": False, "error": "invalid_auth"})
                if path == "/slack/chat.postMessage":
                    if body["channel"] == "#missing":
                        return self._reply(200, {"ok": False, "error": "channel_not_found"})
                    message = {
                        "type": "message",
                        "text": body["text"],
                        "ts": "1503435956.000247",
                        "bot_id": "B1",
                    }
                    return self._reply(
                        200,
                        {"ok": True, "channel": "C012AB3CD", "ts": "1503435956.000247", "message": message},
                    )
                if path == "/slack/conversations.list":
                    if query.get("cursor") == ["slow"]:
                        return self._reply(429, {"ok": False, "error": "ratelimited"}, {"Retry-After": "30"})
                    return self._reply(200, CHANNELS)
            if path.startswith("/gh/"):
                if self.headers.get("Accept") != "application/vnd.github+json":
                    return self._reply(415, {"message": "Unsupported Media Type"})
                if auth is not None and auth != f"Bearer {GITHUB_TOKEN}":
                    return self._reply(401, {"message": "Bad credentials"})
                if path == "/gh/repos/octocat/Hello-World":
                    return self._reply(200, REPO)
                if path == "/gh/repos/octocat/Hello-World/issues" and self.command == "GET":
                    return self._reply(200, [issue(1347, "Found a bug"), issue(1, "A pull request", pr=True)])
                if path == "/gh/repos/octocat/Hello-World/issues" and self.command == "POST":
                    if auth is None:
                        return self._reply(401, {"message": "Requires authentication"})
                    created = issue(1348, body["title"])
                    created["labels"] = [{"name": name} for name in body.get("labels", [])]
                    return self._reply(201, created)
                if path == "/gh/repos/octocat/Hello-World/contents/docs/READ%20ME.md":
                    content = base64.encodebytes("# Hello\nWorld ☃\n".encode()).decode()
                    return self._reply(
                        200,
                        {
                            "type": "file",
                            "encoding": "base64",
                            "size": 17,
                            "name": "READ ME.md",
                            "path": "docs/READ ME.md",
                            "content": content,
                            "sha": "3d21ec53a331a6f037a91c368710b99387d012c1",
                            "html_url": "https://github.com/octocat/Hello-World/blob/main/docs/READ%20ME.md",
                        },
                    )
                if path == "/gh/repos/octocat/Hello-World/contents/docs":
                    return self._reply(200, [{"type": "file", "name": "READ ME.md"}])
                return self._reply(
                    404, {"message": "Not Found", "documentation_url": "https://docs.github.com/rest"}
                )
            return self._reply(404, {"error": "unknown"})

        def log_message(self, format: str, *args: Any) -> None:
            return

    return Handler


@pytest.fixture
def server() -> Iterator[tuple[str, Recorder]]:
    recorder = Recorder()
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), make_handler(recorder))
    thread = threading.Thread(target=httpd.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}", recorder
    httpd.shutdown()
    httpd.server_close()
    thread.join()


@pytest.fixture
def ctx(tmp_path: Path) -> ExecutionContext:
    return ExecutionContext(policy=SandboxPolicy(file_roots=(str(tmp_path),), network_allow=("127.0.0.1",)))


@pytest.fixture
def registry() -> ToolRegistry:
    reg = ToolRegistry()
    reg.register(SlackIntegrationTool())
    reg.register(GitHubIntegrationTool())
    return reg


# ----------------------------------------------------------------- Slack


async def test_slack_send_message(
    registry: ToolRegistry, ctx: ExecutionContext, server: tuple[str, Recorder]
) -> None:
    base, recorder = server
    params = {"operation": "send_message", "channel": "#general", "text": "deploy done", "thread_ts": "1.2"}
    envelope = await registry.invoke(
        "slack-integration", {**params, "token": SLACK_TOKEN, "base_url": f"{base}/slack"}, ctx
    )
    assert envelope["result"]["channel"] == "C012AB3CD" and envelope["result"]["ts"] == "1503435956.000247"
    sent = recorder.requests[0]
    assert sent["method"] == "POST" and sent["path"] == "/slack/chat.postMessage"
    assert sent["body"] == {"channel": "#general", "text": "deploy done", "thread_ts": "1.2"}
    assert sent["headers"]["Authorization"] == f"Bearer {SLACK_TOKEN}"


async def test_slack_list_channels_from_configuration(
    registry: ToolRegistry,
    ctx: ExecutionContext,
    server: tuple[str, Recorder],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    base, recorder = server
    monkeypatch.setenv("LLMSPELL_SLACK_TOKEN", SLACK_TOKEN)
    monkeypatch.setenv("LLMSPELL_SLACK_BASE_URL", f"{base}/slack/")
    envelope = await registry.invoke("slack-integration", {"operation": "list_channels", "limit": 2}, ctx)
    channels = envelope["result"]["channels"]
    assert [c["name"] for c in channels] == ["general", "random"]
    assert channels[0]["topic"] == "Company-wide" and channels[1]["purpose"] == ""
    assert envelope["result"]["next_cursor"] == "dGVhbTpDMDYxRkE1UEI="
    assert recorder.requests[0]["query"] == {
        "limit": ["2"],
        "types": ["public_channel"],
        "exclude_archived": ["true"],
    }


async def test_slack_errors(
    registry: ToolRegistry,
    ctx: ExecutionContext,
    server: tuple[str, Recorder],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    base, _ = server
    common = {"base_url": f"{base}/slack"}
    with pytest.raises(ToolError, match="invalid_auth"):
        await registry.invoke(
            "slack-integration", {**common, "operation": "list_channels", "token": "wrong"}, ctx
        )
    with pytest.raises(ToolError, match="channel_not_found"):
        await registry.invoke(
            "slack-integration",
            {**common, "operation": "send_message", "channel": "#missing", "text": "x", "token": SLACK_TOKEN},
            ctx,
        )
    with pytest.raises(ToolError, match="retry after 30s"):
        await registry.invoke(
            "slack-integration",
            {**common, "operation": "list_channels", "cursor": "slow", "token": SLACK_TOKEN},
            ctx,
        )
    monkeypatch.delenv("LLMSPELL_SLACK_TOKEN", raising=False)
    with pytest.raises(ConfigError, match="LLMSPELL_SLACK_TOKEN"):
        await registry.invoke("slack-integration", {**common, "operation": "list_channels"}, ctx)
    with pytest.raises(ValidationError, match="text"):
        await registry.invoke(
            "slack-integration", {**common, "operation": "send_message", "channel": "#c", "token": "t"}, ctx
        )


async def test_slack_network_policy(
    registry: ToolRegistry, server: tuple[str, Recorder], tmp_path: Path
) -> None:
    base, recorder = server
    closed = ExecutionContext(policy=SandboxPolicy(file_roots=(str(tmp_path),)))
    with pytest.raises(SandboxViolation):
        await registry.invoke(
            "slack-integration",
            {"operation": "list_channels", "token": SLACK_TOKEN, "base_url": f"{base}/slack"},
            closed,
        )
    assert recorder.requests == []


# ----------------------------------------------------------------- GitHub


async def test_github_get_repo_without_token(
    registry: ToolRegistry,
    ctx: ExecutionContext,
    server: tuple[str, Recorder],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    base, recorder = server
    monkeypatch.delenv("LLMSPELL_GITHUB_TOKEN", raising=False)
    params = {"operation": "get_repo", "owner": "octocat", "repo": "Hello-World", "base_url": f"{base}/gh"}
    envelope = await registry.invoke("github-integration", params, ctx)
    assert envelope["result"]["full_name"] == "octocat/Hello-World" and envelope["result"]["stars"] == 80
    headers = recorder.requests[0]["headers"]
    assert "Authorization" not in headers and headers["X-GitHub-Api-Version"] == "2022-11-28"


async def test_github_issues(
    registry: ToolRegistry,
    ctx: ExecutionContext,
    server: tuple[str, Recorder],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    base, recorder = server
    monkeypatch.setenv("LLMSPELL_GITHUB_TOKEN", GITHUB_TOKEN)
    monkeypatch.setenv("LLMSPELL_GITHUB_BASE_URL", f"{base}/gh")
    repo = {"owner": "octocat", "repo": "Hello-World"}
    listed = await registry.invoke(
        "github-integration",
        {**repo, "operation": "list_issues", "labels": ["bug", "ui"], "state": "all", "per_page": 5},
        ctx,
    )
    issues = listed["result"]["issues"]
    assert [(i["number"], i["is_pull_request"]) for i in issues] == [(1347, False), (1, True)]
    assert issues[0]["labels"] == ["bug"] and issues[0]["user"] == "octocat"
    assert recorder.requests[0]["query"] == {
        "state": ["all"],
        "per_page": ["5"],
        "page": ["1"],
        "labels": ["bug,ui"],
    }
    created = await registry.invoke(
        "github-integration",
        {**repo, "operation": "create_issue", "title": "New bug", "body": "steps", "labels": ["bug"]},
        ctx,
    )
    assert created["result"]["number"] == 1348 and created["result"]["labels"] == ["bug"]
    post = recorder.requests[1]
    assert post["body"] == {"title": "New bug", "body": "steps", "labels": ["bug"]}
    assert post["headers"]["Authorization"] == f"Bearer {GITHUB_TOKEN}"


async def test_github_get_file(
    registry: ToolRegistry, ctx: ExecutionContext, server: tuple[str, Recorder]
) -> None:
    base, recorder = server
    params = {"owner": "octocat", "repo": "Hello-World", "base_url": f"{base}/gh", "token": GITHUB_TOKEN}
    envelope = await registry.invoke(
        "github-integration",
        {**params, "operation": "get_file", "path": "docs/READ ME.md", "ref": "main"},
        ctx,
    )
    assert envelope["result"]["content"] == "# Hello\nWorld ☃\n" and envelope["result"]["encoding"] == "utf-8"
    assert recorder.requests[0]["query"] == {"ref": ["main"]}
    with pytest.raises(ToolError, match="not a file"):
        await registry.invoke("github-integration", {**params, "operation": "get_file", "path": "docs"}, ctx)
    with pytest.raises(ValidationError, match="invalid repository path"):
        await registry.invoke(
            "github-integration", {**params, "operation": "get_file", "path": "../../etc/passwd"}, ctx
        )


async def test_github_errors(
    registry: ToolRegistry,
    ctx: ExecutionContext,
    server: tuple[str, Recorder],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    base, _ = server
    monkeypatch.delenv("LLMSPELL_GITHUB_TOKEN", raising=False)
    repo = {"owner": "octocat", "repo": "Hello-World", "base_url": f"{base}/gh"}
    with pytest.raises(ToolError, match="401: Bad credentials"):
        await registry.invoke("github-integration", {**repo, "operation": "get_repo", "token": "nope"}, ctx)
    with pytest.raises(ToolError, match="404: Not Found"):
        await registry.invoke("github-integration", {**repo, "repo": "missing", "operation": "get_repo"}, ctx)
    with pytest.raises(ConfigError, match="token"):
        await registry.invoke("github-integration", {**repo, "operation": "create_issue", "title": "x"}, ctx)
    with pytest.raises(ValidationError, match="owner"):
        await registry.invoke("github-integration", {**repo, "owner": "a/../b", "operation": "get_repo"}, ctx)
    with pytest.raises(ValidationError, match="title"):
        await registry.invoke("github-integration", {**repo, "operation": "create_issue", "token": "t"}, ctx)
    with pytest.raises(SandboxViolation):
        await registry.invoke(
            "github-integration",
            {**repo, "operation": "get_repo", "base_url": "http://169.254.169.254/"},
            ctx,
        )

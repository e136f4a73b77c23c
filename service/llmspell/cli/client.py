"""A small REST client for the CLI commands that talk to a running daemon.

Server URL: ``--server`` or ``LLMSPELL_SERVER_URL`` (default ``http://127.0.0.1:8080``); API
key: ``--api-key`` or ``LLMSPELL_SERVER_KEY``. Problem responses become ``LLMSpellError``s.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from ..core.errors import ConfigError, LLMSpellError, error_from_code

if TYPE_CHECKING:
    import httpx

__all__ = ["DEFAULT_SERVER", "DaemonClient", "DaemonUnreachable", "seg", "transport_error"]

DEFAULT_SERVER = "http://127.0.0.1:8080"


def seg(value: str) -> str:
    """``value`` as one URL path segment: a name with ``/``, ``?``, ``#``, ``%`` or spaces
    (or ``..``) names that item, never another path, a query or another route."""
    from urllib.parse import quote

    return quote(value, safe="")


class DaemonUnreachable(LLMSpellError):
    """The daemon could not be reached (not running, wrong port, network down): exit 1."""

    code = "UNAVAILABLE"


def transport_error(server: str, exc: Exception, action: str = "reach the daemon") -> LLMSpellError:
    """The error of a request that never got an answer from ``server``.

    A server URL that is not an http(s) URL is a usage error (``CONFIG_ERROR``, exit 2); a
    daemon that does not answer is ``UNAVAILABLE`` (exit 1), never ``INTERNAL``.
    """
    import httpx

    if isinstance(exc, httpx.UnsupportedProtocol | httpx.InvalidURL):
        return ConfigError(f"--server {server!r} is not a valid http:// or https:// URL ({exc})")
    return DaemonUnreachable(
        f"cannot {action} at {server} ({exc or type(exc).__name__}); "
        "start it with 'llmspell serve' or pass --server"
    )


class DaemonClient:
    """Synchronous client of the daemon's REST API."""

    def __init__(self, server: str | None = None, api_key: str | None = None, timeout: float = 30.0) -> None:
        self.server = (server or os.environ.get("LLMSPELL_SERVER_URL") or DEFAULT_SERVER).rstrip("/")
        key = api_key or os.environ.get("LLMSPELL_SERVER_KEY")
        headers = {"Authorization": f"Bearer {key}"} if key else {}
        import httpx  # imported on use: every CLI command loads this module

        try:
            self._http = httpx.Client(base_url=self.server, headers=headers, timeout=timeout)
        except httpx.InvalidURL as exc:
            raise transport_error(self.server, exc) from None

    def __enter__(self) -> DaemonClient:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._http.close()

    def request(self, method: str, path: str, **kwargs: Any) -> Any:
        """Send a request; returns the JSON body (None for 204)."""
        import httpx

        try:
            response = self._http.request(method, path, **kwargs)
        except (httpx.TransportError, httpx.InvalidURL) as exc:
            raise transport_error(self.server, exc) from None
        if response.status_code >= 400:
            raise _problem(response)
        if response.status_code == 204 or not response.content:
            return None
        return response.json()

    def events(self, run_id: str, after: int = 0, follow: bool = True) -> Iterator[dict[str, Any]]:
        """The run's events (SSE), resuming after ``after``.

        When following, the stream ends only with the ``end`` event: a stream that stops
        before it raises ``UNAVAILABLE`` (the daemon went away), never a silent success.
        """
        import httpx

        headers = {"Last-Event-ID": str(after)}
        params = {"follow": "true" if follow else "false"}
        connected = False
        try:
            with self._http.stream(
                "GET", f"/v1/runs/{seg(run_id)}/events", headers=headers, params=params, timeout=None
            ) as response:
                connected = True
                if response.status_code >= 400:
                    response.read()
                    raise _problem(response)
                current: dict[str, Any] = {}
                for line in response.iter_lines():
                    if line.startswith(":"):
                        continue
                    if not line:
                        if current:
                            yield current
                            if current.get("event") == "end":
                                return
                            current = {}
                        continue
                    key, _, value = line.partition(": ")
                    if key == "data":
                        current["data"] = json.loads(value)
                    elif key == "id":
                        current["id"] = int(value)
                    else:
                        current[key] = value
                if current:
                    yield current
                    if current.get("event") == "end":
                        return
        except (httpx.TransportError, httpx.InvalidURL) as exc:
            if not connected:
                raise transport_error(self.server, exc) from None
            raise DaemonUnreachable(f"lost the connection to {self.server}: {exc}") from None
        if follow:
            raise DaemonUnreachable(
                f"the daemon at {self.server} closed the event stream of run {run_id} before it ended; "
                f"resume with 'llmspell runs logs {run_id} -f'"
            )


def _problem(response: httpx.Response) -> LLMSpellError:
    try:
        body = response.json()
    except ValueError:
        return LLMSpellError(f"HTTP {response.status_code}: {response.text[:200]}")
    if not isinstance(body, dict):
        return LLMSpellError(f"HTTP {response.status_code}: {response.text[:200]}")
    code = str(body.get("code", "INTERNAL"))
    message = str(body.get("detail", response.text))
    details = body.get("details") if isinstance(body.get("details"), dict) else None
    line = (details or {}).get("line")
    if isinstance(line, int) and f"line {line}" not in message:
        message = f"line {line}: {message}"  # a syntax error of pushed code: say where
    if response.status_code == 401 or code == "UNAUTHENTICATED":
        message += "; pass --api-key or set LLMSPELL_SERVER_KEY"
    return error_from_code(code, message, details)

"""A small REST client for the CLI commands that talk to a running daemon.

Server URL: ``--server`` or ``LLMSPELL_SERVER_URL`` (default ``http://127.0.0.1:8080``); API
key: ``--api-key`` or ``LLMSPELL_SERVER_KEY``. Problem responses become ``LLMSpellError``s.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from ..core.errors import LLMSpellError, error_from_code

if TYPE_CHECKING:
    import httpx

__all__ = ["DEFAULT_SERVER", "DaemonClient"]

DEFAULT_SERVER = "http://127.0.0.1:8080"


class DaemonClient:
    """Synchronous client of the daemon's REST API."""

    def __init__(self, server: str | None = None, api_key: str | None = None, timeout: float = 30.0) -> None:
        self.server = (server or os.environ.get("LLMSPELL_SERVER_URL") or DEFAULT_SERVER).rstrip("/")
        key = api_key or os.environ.get("LLMSPELL_SERVER_KEY")
        headers = {"Authorization": f"Bearer {key}"} if key else {}
        import httpx  # imported on use: every CLI command loads this module

        self._http = httpx.Client(base_url=self.server, headers=headers, timeout=timeout)

    def __enter__(self) -> DaemonClient:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._http.close()

    def request(self, method: str, path: str, **kwargs: Any) -> Any:
        """Send a request; returns the JSON body (None for 204)."""
        import httpx

        try:
            response = self._http.request(method, path, **kwargs)
        except httpx.TransportError as exc:
            raise LLMSpellError(
                f"cannot reach the daemon at {self.server} ({exc}); "
                "start it with 'llmspell serve' or pass --server"
            ) from None
        if response.status_code >= 400:
            raise _problem(response)
        if response.status_code == 204 or not response.content:
            return None
        return response.json()

    def events(self, run_id: str, after: int = 0, follow: bool = True) -> Iterator[dict[str, Any]]:
        """The run's events (SSE), resuming after ``after``."""
        import httpx

        headers = {"Last-Event-ID": str(after)}
        params = {"follow": "true" if follow else "false"}
        try:
            with self._http.stream(
                "GET", f"/v1/runs/{run_id}/events", headers=headers, params=params, timeout=None
            ) as response:
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
        except httpx.TransportError as exc:
            raise LLMSpellError(f"lost the connection to {self.server}: {exc}") from None


def _problem(response: httpx.Response) -> LLMSpellError:
    try:
        body = response.json()
        return error_from_code(str(body.get("code", "INTERNAL")), str(body.get("detail", response.text)))
    except ValueError:
        return LLMSpellError(f"HTTP {response.status_code}: {response.text[:200]}")

"""A fake OpenAI-compatible LLM server for tests, benchmarks and examples.

A real HTTP/1.1 server on 127.0.0.1 (plain asyncio, keep-alive, TCP_NODELAY) speaking the
chat-completions wire protocol: ``POST /v1/chat/completions`` (JSON, or SSE with
``stream: true``), ``GET /v1/models``. It runs its own event loop in a background thread,
so it serves thousands of concurrent requests whatever the test's loop is doing.

Behaviour, in order of precedence for each completion request:

1. injected faults (:meth:`FakeLLMServer.fail_next`): answer 429/500 with ``Retry-After``;
2. scripted responses pushed by the test (:meth:`push_text`, :meth:`push_tool_calls`);
3. a deterministic default: ``calc: <expr>`` with tools offered → a ``calculator`` tool call
   ``{"input": "<expr>"}``; a tool result as the last message → ``The answer is <result>``;
   anything else → ``Echo: <last user text>``.

Usage is counted as ``ceil(characters / 4)`` of the prompt's text and of the answer.

Standalone: ``python tests/fakes/llm_server.py --port 8765 --latency-ms 500``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import math
import signal
import socket
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Any

__all__ = ["FakeLLMServer", "RecordedRequest", "ScriptedResponse"]

_REASONS = {200: "OK", 400: "Bad Request", 404: "Not Found", 429: "Too Many Requests", 500: "Server Error"}
_MODELS = ("gpt-4o-mini", "gpt-4o", "fake-model")


class RecordedRequest(dict[str, Any]):
    """One request as received: the JSON body (this dict) plus ``path``, ``headers``, ``authorization``."""

    def __init__(self, body: dict[str, Any], path: str, headers: dict[str, str]) -> None:
        super().__init__(body)
        self.body = body
        self.path = path
        self.headers = headers
        self.authorization = headers.get("authorization")


@dataclass
class ScriptedResponse:
    """A response a test queued: text and/or tool calls."""

    text: str | None = None
    tool_calls: list[dict[str, Any]] = field(default_factory=list)
    finish_reason: str | None = None
    usage: dict[str, int] | None = None
    latency_ms: float | None = None


@dataclass
class _Fault:
    status: int
    remaining: int
    retry_after: float | None


class FakeLLMServer:
    """The server; start with :meth:`start` (background thread) or :meth:`serve_forever`.

    Args:
        port: TCP port on 127.0.0.1; 0 picks a free one.
        latency_ms: delay before every answer (overridable per request with the
            ``x-fake-latency-ms`` header or per scripted response).
    """

    def __init__(self, port: int = 0, latency_ms: float = 0.0) -> None:
        self._requested_port = port
        self.port = 0
        self.latency_ms = latency_ms
        self._lock = threading.Lock()
        self._queue: deque[ScriptedResponse] = deque()
        self._faults: deque[_Fault] = deque()
        self._requests: list[RecordedRequest] = []
        self._loop: asyncio.AbstractEventLoop | None = None
        self._server: asyncio.Server | None = None
        self._thread: threading.Thread | None = None
        self._ready = threading.Event()
        self._stopped: asyncio.Event | None = None
        self._counter = 0

    # -- control (thread-safe) -------------------------------------------------------

    @property
    def base_url(self) -> str:
        """``http://127.0.0.1:<port>/v1``."""
        return f"http://127.0.0.1:{self.port}/v1"

    @property
    def requests(self) -> list[RecordedRequest]:
        """Every chat request received since the last reset, oldest first."""
        with self._lock:
            return list(self._requests)

    def push_text(
        self,
        text: str,
        *,
        finish_reason: str = "stop",
        usage: dict[str, int] | None = None,
        latency_ms: float | None = None,
    ) -> None:
        """Queue a text answer."""
        with self._lock:
            self._queue.append(ScriptedResponse(text, [], finish_reason, usage, latency_ms))

    def push_tool_calls(
        self,
        calls: list[dict[str, Any]],
        *,
        text: str | None = None,
        usage: dict[str, int] | None = None,
        latency_ms: float | None = None,
    ) -> None:
        """Queue one answer made of tool calls: ``[{"name": ..., "arguments": {...} | "raw"}]``.

        Several calls make a parallel tool-call answer; ``id`` is generated unless given.
        """
        with self._lock:
            self._queue.append(ScriptedResponse(text, list(calls), "tool_calls", usage, latency_ms))

    def fail_next(self, status: int, n: int = 1, retry_after: float | None = None) -> None:
        """Answer the next ``n`` completion requests with ``status`` (and ``Retry-After``)."""
        with self._lock:
            self._faults.append(_Fault(status, n, retry_after))

    def set_latency(self, ms: float) -> None:
        """Delay every following answer by ``ms`` milliseconds."""
        self.latency_ms = ms

    def reset(self) -> None:
        """Forget requests, scripted responses, faults and latency."""
        with self._lock:
            self._queue.clear()
            self._faults.clear()
            self._requests.clear()
        self.latency_ms = 0.0

    # -- lifecycle ---------------------------------------------------------------------

    def start(self) -> FakeLLMServer:
        """Serve in a daemon thread; returns once the port is bound."""
        self._thread = threading.Thread(target=self._thread_main, name="fake-llm-server", daemon=True)
        self._thread.start()
        if not self._ready.wait(10):
            raise RuntimeError("fake LLM server did not start within 10 s")
        return self

    def stop(self) -> None:
        """Stop the background server and join its thread."""
        loop, stopped = self._loop, self._stopped
        if loop is not None and stopped is not None and not loop.is_closed():
            loop.call_soon_threadsafe(stopped.set)
        if self._thread is not None:
            self._thread.join(10)
            self._thread = None

    def _thread_main(self) -> None:
        asyncio.run(self.serve_forever())

    async def serve_forever(self) -> None:
        """Serve on the current loop until :meth:`stop` (or cancellation)."""
        self._loop = asyncio.get_running_loop()
        self._stopped = asyncio.Event()
        self._server = await asyncio.start_server(
            self._handle, "127.0.0.1", self._requested_port, backlog=4096, reuse_address=True
        )
        self.port = self._server.sockets[0].getsockname()[1]
        self._ready.set()
        try:
            await self._stopped.wait()
        finally:
            self._server.close()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._server.wait_closed(), 2)

    # -- HTTP --------------------------------------------------------------------------

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        sock = writer.get_extra_info("socket")
        if sock is not None:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                lines = head.decode("latin-1").split("\r\n")
                method, path, _ = lines[0].split(" ", 2)
                headers: dict[str, str] = {}
                for line in lines[1:]:
                    if ":" in line:
                        key, value = line.split(":", 1)
                        headers[key.strip().lower()] = value.strip()
                length = int(headers.get("content-length", "0"))
                body = await reader.readexactly(length) if length else b""
                keep_alive = headers.get("connection", "").lower() != "close"
                await self._route(method, path.split("?", 1)[0], headers, body, writer)
                if not keep_alive:
                    break
        except (asyncio.IncompleteReadError, ConnectionError, asyncio.LimitOverrunError):
            pass
        finally:
            with contextlib.suppress(Exception):
                writer.close()

    async def _route(
        self, method: str, path: str, headers: dict[str, str], body: bytes, writer: asyncio.StreamWriter
    ) -> None:
        if method == "GET" and path.rstrip("/").endswith("/models"):
            data = [{"id": name, "object": "model", "owned_by": "fake"} for name in _MODELS]
            await _send_json(writer, 200, {"object": "list", "data": data})
        elif method == "POST" and path.rstrip("/").endswith("/chat/completions"):
            try:
                payload = json.loads(body or b"{}")
            except ValueError:
                await _send_json(writer, 400, _error("request body is not JSON", "invalid_request_error"))
                return
            await self._chat(payload, path, headers, writer)
        else:
            await _send_json(writer, 404, _error(f"no route {method} {path}", "not_found"))

    async def _chat(
        self, payload: dict[str, Any], path: str, headers: dict[str, str], writer: asyncio.StreamWriter
    ) -> None:
        with self._lock:
            self._requests.append(RecordedRequest(payload, path, headers))
            self._counter += 1
            serial = self._counter
            fault = self._faults[0] if self._faults else None
            if fault is not None:
                fault.remaining -= 1
                if fault.remaining <= 0:
                    self._faults.popleft()
            scripted = None if fault is not None else (self._queue.popleft() if self._queue else None)
        latency = self.latency_ms
        if "x-fake-latency-ms" in headers:
            latency = float(headers["x-fake-latency-ms"])
        if scripted is not None and scripted.latency_ms is not None:
            latency = scripted.latency_ms
        if latency > 0:
            await asyncio.sleep(latency / 1000)
        if fault is not None:
            extra = {} if fault.retry_after is None else {"retry-after": _format_seconds(fault.retry_after)}
            kind = "rate_limit_error" if fault.status == 429 else "server_error"
            await _send_json(writer, fault.status, _error(f"injected {fault.status}", kind), extra)
            return
        answer = scripted if scripted is not None else _default_answer(payload)
        model = str(payload.get("model") or "fake-model")
        completion_id = f"chatcmpl-fake{serial}"
        calls = [_wire_call(call, serial, i) for i, call in enumerate(answer.tool_calls)]
        usage = answer.usage or _usage(payload, answer.text, calls)
        finish = answer.finish_reason or ("tool_calls" if calls else "stop")
        if payload.get("stream"):
            include_usage = bool((payload.get("stream_options") or {}).get("include_usage"))
            await _send_stream(writer, completion_id, model, answer.text, calls, finish, usage, include_usage)
            return
        message: dict[str, Any] = {"role": "assistant", "content": answer.text}
        if calls:
            message["tool_calls"] = calls
        response = {
            "id": completion_id,
            "object": "chat.completion",
            "created": int(time.time()),
            "model": model,
            "choices": [{"index": 0, "message": message, "finish_reason": finish}],
            "usage": usage,
        }
        await _send_json(writer, 200, response)


def _default_answer(payload: dict[str, Any]) -> ScriptedResponse:
    messages = payload.get("messages") or []
    last = messages[-1] if messages else {}
    if last.get("role") == "tool":
        content = _text_of(last.get("content"))
        try:
            parsed = json.loads(content)
        except ValueError:
            parsed = None
        result = parsed["result"] if isinstance(parsed, dict) and "result" in parsed else content
        if not isinstance(result, str):
            result = json.dumps(result)
        return ScriptedResponse(text=f"The answer is {result}")
    user_text = ""
    for message in reversed(messages):
        if message.get("role") == "user":
            user_text = _text_of(message.get("content"))
            break
    tool_names = {str((tool.get("function") or {}).get("name")) for tool in payload.get("tools") or []}
    marker = user_text.find("calc:")
    if marker >= 0 and "calculator" in tool_names:
        expr = user_text[marker + len("calc:") :].strip()
        return ScriptedResponse(tool_calls=[{"name": "calculator", "arguments": {"input": expr}}])
    return ScriptedResponse(text=f"Echo: {user_text}")


def _text_of(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "".join(str(part.get("text", "")) for part in content if part.get("type") == "text")
    return ""


def _wire_call(call: dict[str, Any], serial: int, index: int) -> dict[str, Any]:
    arguments = call.get("arguments", {})
    if not isinstance(arguments, str):
        arguments = json.dumps(arguments)
    return {
        "id": call.get("id") or f"call_{serial}_{index}",
        "type": "function",
        "function": {"name": call["name"], "arguments": arguments},
    }


def _usage(payload: dict[str, Any], text: str | None, calls: list[dict[str, Any]]) -> dict[str, int]:
    prompt_chars = sum(len(_text_of(m.get("content"))) for m in payload.get("messages") or [])
    answer_chars = len(text or "") + sum(len(c["function"]["arguments"]) for c in calls)
    prompt, completion = max(1, math.ceil(prompt_chars / 4)), max(1, math.ceil(answer_chars / 4))
    return {"prompt_tokens": prompt, "completion_tokens": completion, "total_tokens": prompt + completion}


def _error(message: str, kind: str) -> dict[str, Any]:
    return {"error": {"message": message, "type": kind, "code": kind}}


def _format_seconds(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else str(value)


async def _send_json(
    writer: asyncio.StreamWriter, status: int, body: dict[str, Any], extra: dict[str, str] | None = None
) -> None:
    data = json.dumps(body).encode()
    lines = [
        f"HTTP/1.1 {status} {_REASONS.get(status, 'Status')}",
        "content-type: application/json",
        f"content-length: {len(data)}",
    ]
    lines += [f"{key}: {value}" for key, value in (extra or {}).items()]
    writer.write(("\r\n".join(lines) + "\r\n\r\n").encode() + data)
    await writer.drain()


async def _send_stream(
    writer: asyncio.StreamWriter,
    completion_id: str,
    model: str,
    text: str | None,
    calls: list[dict[str, Any]],
    finish: str,
    usage: dict[str, int],
    include_usage: bool,
) -> None:
    created = int(time.time())

    def chunk(delta: dict[str, Any], finish_reason: str | None = None) -> dict[str, Any]:
        choice = {"index": 0, "delta": delta, "finish_reason": finish_reason}
        return {
            "id": completion_id,
            "object": "chat.completion.chunk",
            "created": created,
            "model": model,
            "choices": [choice],
        }

    events: list[dict[str, Any]] = [chunk({"role": "assistant", "content": ""})]
    if text:
        events += [chunk({"content": piece}) for piece in _pieces(text)]
    for index, call in enumerate(calls):
        head = {
            "index": index,
            "id": call["id"],
            "type": "function",
            "function": {"name": call["function"]["name"], "arguments": ""},
        }
        events.append(chunk({"tool_calls": [head]}))
        for fragment in _fragments(call["function"]["arguments"]):
            events.append(chunk({"tool_calls": [{"index": index, "function": {"arguments": fragment}}]}))
    events.append(chunk({}, finish))
    if include_usage:
        events.append(
            {
                "id": completion_id,
                "object": "chat.completion.chunk",
                "created": created,
                "model": model,
                "choices": [],
                "usage": usage,
            }
        )
    head_lines = "HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ncache-control: no-cache\r\n"
    writer.write((head_lines + "transfer-encoding: chunked\r\n\r\n").encode())
    for event in events:
        _write_chunk(writer, b"data: " + json.dumps(event).encode() + b"\n\n")
        await writer.drain()
    _write_chunk(writer, b"data: [DONE]\n\n")
    writer.write(b"0\r\n\r\n")
    await writer.drain()


def _write_chunk(writer: asyncio.StreamWriter, data: bytes) -> None:
    writer.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")


def _pieces(text: str) -> list[str]:
    words = text.split(" ")
    return [word + (" " if i < len(words) - 1 else "") for i, word in enumerate(words)]


def _fragments(arguments: str) -> list[str]:
    size = max(1, math.ceil(len(arguments) / 3))
    return [arguments[i : i + size] for i in range(0, len(arguments), size)] or [""]


def main() -> None:
    """Command line: serve in the foreground until SIGINT/SIGTERM."""
    parser = argparse.ArgumentParser(description="Fake OpenAI-compatible LLM server on 127.0.0.1")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--latency-ms", type=float, default=0.0)
    args = parser.parse_args()
    server = FakeLLMServer(args.port, args.latency_ms)

    async def run() -> None:
        task = asyncio.create_task(server.serve_forever())
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, task.cancel)
        while not server.port and not task.done():
            await asyncio.sleep(0.01)
        print(f"fake LLM server listening on {server.base_url}", flush=True)
        with contextlib.suppress(asyncio.CancelledError):
            await task

    asyncio.run(run())


if __name__ == "__main__":
    main()

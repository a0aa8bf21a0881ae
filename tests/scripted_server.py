"""A real HTTP server speaking the OpenAI chat-completions protocol, answering
from a script, for tests of anything that talks to an LLM server.

    with ScriptedServer() as server:
        server.script(Reply(status=500), Reply(content='{"ok": true}'))
        backend = OpenAIBackend(server.base_url)
        ...
        assert len(server.chat_requests) == 2

Answers to POST /v1/chat/completions come, in order, from: the scripted queue;
else `responder(request_json)`; else `default`; else HTTP 500 "script exhausted".
A request with n > 1 takes up to n consecutive content replies from the queue
(repeating the last one if fewer are scripted), unless `honour_n` is False,
which mimics servers that always return one choice. A request with "stream": true
is answered with server-sent events (a few characters per event) unless `streams`
is False, which mimics servers that always answer with one JSON body.

Faulty servers: `Reply(fault=...)` is one of FAULTS (see `_Handler._fault`); `usage`
replaces the usage object; `Reply(status=200, body=...)` sends any body as the reply.
"""

from __future__ import annotations

import json
import socket
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

FAULTS = (
    "drip_headers",  # the status line, then one byte of a header every `drip` seconds, forever
    "drip_body",  # headers promising 1,000,000 bytes, then one byte every `drip` seconds
    "endless_chunked",  # a chunked event stream of keep-alive comments that never ends
    "huge",  # a chunked body of `size` bytes (default: until the client hangs up), as fast as possible
)

LLAMA_CPP_REJECTION = {
    "error": {
        "code": 500,
        "message": "1 validation error for ResponseFormat: Input should be 'text' or 'json_object'",
        "type": "server_error",
    }
}


@dataclass
class Reply:
    """One scripted answer. `content` may be a list: one text per choice."""

    content: str | list[str] | None = None
    status: int = 200
    body: str | dict | None = None  # error body, sent as-is (dict as JSON)
    delay: float = 0.0  # seconds to wait before answering
    disconnect: bool = False  # close the connection without answering
    headers: dict[str, str] = field(default_factory=dict)
    prompt_tokens: int = 11
    completion_tokens: int | None = None  # default: word count of the choices
    finish_reason: str = "stop"  # "length": the server stopped at max_tokens
    fault: str | None = None  # one of FAULTS
    drip: float = 0.5  # seconds between bytes of a dripping fault
    size: int | None = None  # bytes of a "huge" reply (None: endless)
    usage: Any = None  # replaces the usage object when not None

    @property
    def is_content(self) -> bool:
        return self.status == 200 and not self.disconnect and self.content is not None


@dataclass
class Received:
    method: str
    path: str
    json: Any
    headers: Any  # case-insensitive: headers["authorization"] == headers["Authorization"]


class ScriptedServer:
    def __init__(
        self,
        models: list[str] | None = None,
        owned_by: str = "scripted",
        reject_json_schema: bool = False,
        responder: Callable[[dict], Reply] | None = None,
        default: Reply | None = None,
        honour_n: bool = True,
        streams: bool = True,
        models_reply: Reply | None = None,
    ):
        self.models = models if models is not None else ["scripted-model"]
        self.owned_by = owned_by
        self.reject_json_schema = reject_json_schema  # behave like llama.cpp's server
        self.responder = responder
        self.default = default
        self.honour_n = honour_n
        self.streams = streams
        self.models_reply = models_reply  # answers GET /v1/models instead of the model list
        self.requests: list[Received] = []
        self._queue: deque[Reply] = deque()
        self._lock = threading.Lock()
        self._httpd: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # --- scripting and inspection ----------------------------------------------------

    def script(self, *replies: Reply | str) -> "ScriptedServer":
        """Queue replies; a plain string is Reply(content=that)."""
        with self._lock:
            self._queue.extend(Reply(content=r) if isinstance(r, str) else r for r in replies)
        return self

    @property
    def chat_requests(self) -> list[Received]:
        with self._lock:
            return [r for r in self.requests if r.path.endswith("/chat/completions")]

    @property
    def base_url(self) -> str:
        assert self._httpd is not None, "server not started"
        host, port = self._httpd.server_address[:2]
        return f"http://{host}:{port}/v1"

    # --- lifecycle -------------------------------------------------------------------

    def start(self) -> "ScriptedServer":
        handler = type("Handler", (_Handler,), {"scripted": self})
        self._httpd = _QuietServer(("127.0.0.1", 0), handler)
        self._thread = threading.Thread(target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
            self._httpd = None

    def __enter__(self) -> "ScriptedServer":
        return self.start()

    def __exit__(self, *exc_info) -> None:
        self.stop()

    # --- answering -------------------------------------------------------------------

    def _record(self, received: Received) -> None:
        with self._lock:
            self.requests.append(received)

    def _next_reply(self, request: dict) -> Reply:
        n = max(1, int(request.get("n") or 1)) if self.honour_n else 1
        with self._lock:
            if self._queue:
                first = self._queue.popleft()
                if not first.is_content or isinstance(first.content, list) or n == 1:
                    return first
                texts = [first.content]
                while len(texts) < n and self._queue and self._queue[0].is_content:
                    texts.append(self._queue.popleft().content)
                return Reply(content=texts, delay=first.delay, prompt_tokens=first.prompt_tokens,
                             finish_reason=first.finish_reason, usage=first.usage)
        if self.responder is not None:
            return self.responder(request)
        if self.default is not None:
            return self.default
        return Reply(status=500, body={"error": {"message": "scripted server: script exhausted"}})

    def _chat_response(self, request: dict, reply: Reply) -> dict:
        n = max(1, int(request.get("n") or 1)) if self.honour_n else 1
        texts = reply.content if isinstance(reply.content, list) else [reply.content]
        texts = (texts + [texts[-1]] * n)[:n]  # repeat the last text to fill n choices
        completion_tokens = reply.completion_tokens
        if completion_tokens is None:
            completion_tokens = sum(len(t.split()) for t in texts)
        return {
            "id": f"chatcmpl-scripted-{len(self.requests)}",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": request.get("model") or self.models[0],
            "choices": [
                {"index": i, "message": {"role": "assistant", "content": t}, "finish_reason": reply.finish_reason}
                for i, t in enumerate(texts)
            ],
            "usage": reply.usage if reply.usage is not None else {
                "prompt_tokens": reply.prompt_tokens,
                "completion_tokens": completion_tokens,
                "total_tokens": reply.prompt_tokens + completion_tokens,
            },
        }

    def _chat_events(self, request: dict, reply: Reply) -> list[dict]:
        """The same reply as server-sent events: a few characters per event, like a server streams."""
        whole = self._chat_response(request, reply)
        base = {k: whole[k] for k in ("id", "created", "model")} | {"object": "chat.completion.chunk"}
        events = []
        for choice in whole["choices"]:
            text = choice["message"]["content"]
            for start in range(0, len(text), 4):
                delta = {"content": text[start:start + 4]}
                events.append(base | {"choices": [{"index": choice["index"], "delta": delta, "finish_reason": None}]})
            events.append(base | {"choices": [{"index": choice["index"], "delta": {},
                                               "finish_reason": choice["finish_reason"]}]})
        if (request.get("stream_options") or {}).get("include_usage"):
            events.append(base | {"choices": [], "usage": whole["usage"]})
        return events


class _QuietServer(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False  # don't wait for handlers still sleeping in a delay
    request_queue_size = 128  # the default 5 drops bursts of connects (1 s SYN retry)

    def handle_error(self, request, client_address) -> None:
        pass  # clients hanging up on slow replies is expected here


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # headers and body go out in separate writes
    scripted: ScriptedServer

    def log_message(self, format, *args) -> None:
        pass

    def _read_json(self) -> Any:
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        try:
            return json.loads(raw) if raw else None
        except ValueError:
            return raw.decode("utf-8", "replace")

    def _send(self, status: int, body: str | dict, headers: dict[str, str] | None = None) -> None:
        data = (body if isinstance(body, str) else json.dumps(body)).encode("utf-8")
        headers = headers or {}
        self.send_response(status)
        if not any(name.lower() == "content-type" for name in headers):
            self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        for name, value in headers.items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self) -> None:
        s = self.scripted
        s._record(Received("GET", self.path, None, self.headers))
        if self.path.rstrip("/") == "/v1/models" and s.models_reply is not None:
            r = s.models_reply
            if r.fault is not None:
                self._fault(r)
            else:
                self._send(r.status, r.body if r.body is not None else "", r.headers)
        elif self.path.rstrip("/") == "/v1/models":
            models = [{"id": m, "object": "model", "created": 0, "owned_by": s.owned_by} for m in s.models]
            self._send(200, {"object": "list", "data": models})
        else:
            self._send(404, {"error": {"message": f"no route {self.path}"}})

    def do_POST(self) -> None:
        s = self.scripted
        request = self._read_json()
        s._record(Received("POST", self.path, request, self.headers))
        if self.path.rstrip("/") != "/v1/chat/completions":
            self._send(404, {"error": {"message": f"no route {self.path}"}})
            return
        if not isinstance(request, dict):
            self._send(400, {"error": {"message": "body is not a JSON object"}})
            return
        response_format = request.get("response_format") or {}
        if s.reject_json_schema and response_format.get("type") not in (None, "text", "json_object"):
            self._send(500, LLAMA_CPP_REJECTION)
            return
        reply = s._next_reply(request)
        if reply.delay:
            time.sleep(reply.delay)
        if reply.disconnect:
            self.close_connection = True
            self.connection.shutdown(socket.SHUT_RDWR)
            return
        if reply.fault is not None:
            self._fault(reply)
            return
        if reply.status != 200 or reply.content is None:
            body = reply.body if reply.body is not None else {"error": {"message": f"scripted HTTP {reply.status}"}}
            self._send(reply.status, body, reply.headers)
            return
        if request.get("stream") and s.streams:
            self._send_events(s._chat_events(request, reply))
            return
        self._send(200, s._chat_response(request, reply), reply.headers)

    def _send_events(self, events: list[dict]) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Connection", "close")
        self.end_headers()
        self.close_connection = True
        for event in events:
            self.wfile.write(b"data: " + json.dumps(event).encode() + b"\n\n")
        self.wfile.write(b"data: [DONE]\n\n")

    def _fault(self, reply: Reply) -> None:
        """Misbehave as `reply.fault` says until done or the client hangs up (at most ~2 minutes)."""
        self.close_connection = True
        give_up = time.monotonic() + 120
        try:
            if reply.fault == "drip_headers":
                self.wfile.write(b"HTTP/1.1 200 OK\r\nX-Slow: ")
                while time.monotonic() < give_up:
                    self.wfile.write(b"a")
                    self.wfile.flush()
                    time.sleep(reply.drip)
            elif reply.fault == "drip_body":
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", "1000000")
                self.end_headers()
                while time.monotonic() < give_up:
                    self.wfile.write(b" ")
                    self.wfile.flush()
                    time.sleep(reply.drip)
            elif reply.fault in ("endless_chunked", "huge"):
                self.send_response(200)
                endless = reply.fault == "endless_chunked"
                self.send_header("Content-Type", "text/event-stream" if endless else "application/json")
                self.send_header("Transfer-Encoding", "chunked")
                self.end_headers()
                piece = b": keep-alive\n\n" if endless else b'{"a": 1} ' * 7000
                sent = 0
                while time.monotonic() < give_up and (reply.size is None or sent < reply.size):
                    self.wfile.write(b"%x\r\n%s\r\n" % (len(piece), piece))
                    sent += len(piece)
                    if endless:
                        self.wfile.flush()
                        time.sleep(0.05)
                self.wfile.write(b"0\r\n\r\n")
            else:
                raise ValueError(f"unknown fault {reply.fault!r}; use one of {FAULTS}")
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client gave up: that is the point


def unused_base_url() -> str:
    """A base URL on which nothing listens (the port was free a moment ago)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}/v1"

"""A backend for any server speaking the OpenAI chat-completions protocol (vLLM,
llama.cpp's llama-server, llama-cpp-python, SGLang, Ollama, ...), through the `openai`
client, which does the protocol and its retries (429, 5xx and connection resets, with
backoff and Retry-After).

What is ours:
- structured-output negotiation (forms.py);
- bounds: each request must be answered completely within `timeout` (asyncio.timeout
  around the whole call, reading included, so a server that drips bytes cannot hold us),
  a timed-out request is retried once, an optional `deadline` bounds the backend's whole
  life (the CLI command), and replies are read with a size cap;
- checking every field of a reply: junk becomes a BackendError or a default.

Everything is async; the blocking methods run the async code on a private event loop.
"""

from __future__ import annotations

import asyncio
import functools
import json
import math
import os
import re
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import httpx

if TYPE_CHECKING:
    import openai

from . import forms
from .base import (
    Backend,
    BackendError,
    BackendUnavailable,
    ChatRequest,
    Completion,
    DeadlineExceeded,
    NoJSONFound,
    extract_json,
)
from .forms import STRUCTURED_FORMS

DEFAULT_BASE_URL = "http://localhost:8000/v1"
# Reply size cap: at least this, more with a large --max-tokens (a streamed token costs
# ~150 bytes of event framing).
DEFAULT_MAX_REPLY_BYTES = 4 * 2**20
REPLY_BYTES_PER_TOKEN = 256
# Error bodies are short; the client would read a long one whole, so we cut it here.
MAX_ERROR_BODY_BYTES = 64 * 1024

def _openai():
    """The `openai` package, imported on first use: it takes 1-2 s, and the eval's solver
    worker processes import this module without ever sending a request."""
    import openai

    return openai


PROBE_SCHEMA = {"type": "object", "properties": {"ok": {"type": "boolean"}}, "required": ["ok"]}

# Refusals of n > 1: vLLM at temperature 0 ("n must be 1 when using greedy sampling"),
# older llama-server always (HTTP 500 "Only one completion choice is allowed").
_N_REJECTION = re.compile(r"greedy|n must be 1|only one completion choice", re.IGNORECASE)
# Errors that asking again will not fix, although some servers send them as HTTP 500.
_PERMANENT = re.compile(r"only one completion choice", re.IGNORECASE)
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u200e\u200f\u202a-\u202e\u2066-\u2069]")

# llama.cpp turns a json_object schema into a grammar and spells `maxLength: N` as N
# nested optional rules; somewhere past ~1000 its grammar parser gives up ("failed to
# parse grammar"), and llama-cpp-python's server then segfaults. Limits above this are
# left out of that form (replies are validated afterwards anyway).
GRAMMAR_MAX_REPEAT = 256


def _grammar_friendly(schema: Any) -> Any:
    """`schema` without maxLength / maxItems above GRAMMAR_MAX_REPEAT (a copy; the same object if none)."""
    if isinstance(schema, list):
        items = [_grammar_friendly(v) for v in schema]
        return schema if all(a is b for a, b in zip(items, schema)) else items
    if not isinstance(schema, dict):
        return schema
    out = {
        k: _grammar_friendly(v)
        for k, v in schema.items()
        if not (k in ("maxLength", "maxItems") and isinstance(v, int) and v > GRAMMAR_MAX_REPEAT)
    }
    same = len(out) == len(schema) and all(out[k] is schema[k] for k in out)
    return schema if same else out


def forget_structured_forms() -> None:
    """Forget which response_format each server accepted in this process (tests, server swaps)."""
    forms.forget()


def _printable(text: str, limit: int = 200) -> str:
    """One line of at most `limit` characters, control characters shown as '?'."""
    return _CONTROL.sub("?", " ".join(str(text).split()))[:limit]


@functools.cache
def _ssl_context():
    # Building one costs ~0.1 s (CA bundle); every client can share it.
    return httpx.create_ssl_context()


def _normalize_base_url(url: str) -> str:
    url = url.rstrip("/")
    if urlsplit(url).path in ("", "/"):
        url += "/v1"  # "http://host:8000" almost always means the /v1 API
    return url


class ReplyTooLarge(BackendError):
    pass


class NotAnLLMServer(BackendError):
    """Something answers at the URL, but not an OpenAI-compatible model server."""


class _StatusError(Exception):
    """A chat request answered with an HTTP error (internal: negotiation looks at it)."""

    def __init__(self, status: int, text: str, retried: bool):
        super().__init__(f"HTTP {status}: {text}")
        self.status, self.text, self.retried = status, text, retried


class _ErrorBodyCap(httpx.AsyncBaseTransport):
    """Reads at most MAX_ERROR_BODY_BYTES of an error reply (the client reads error bodies
    whole), and tells the client not to retry errors that are not transient: a refused
    response_format or n > 1 comes back as HTTP 500 from some servers."""

    def __init__(self, inner: httpx.AsyncBaseTransport):
        self._inner = inner

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        response = await self._inner.handle_async_request(request)
        if response.status_code < 400:
            return response
        body = bytearray()
        try:
            async for chunk in response.stream:
                body += chunk
                if len(body) >= MAX_ERROR_BODY_BYTES:
                    break
        finally:
            await response.aclose()
        body = body[:MAX_ERROR_BODY_BYTES]
        dropped = ("content-length", "transfer-encoding", "content-encoding")
        headers = [(k, v) for k, v in response.headers.multi_items() if k.lower() not in dropped]
        text = _error_text(bytes(body))
        if response.status_code >= 500 and (forms.is_format_rejection(text) or _PERMANENT.search(text)):
            headers.append(("x-should-retry", "false"))
        return httpx.Response(response.status_code, headers=headers, content=bytes(body), request=request)

    async def aclose(self) -> None:
        await self._inner.aclose()


@dataclass
class _Reply:
    texts: list[str] = field(default_factory=list)
    finish_reasons: list[str] = field(default_factory=list)
    prompt_tokens: int = 0
    completion_tokens: int = 0
    model: str | None = None


@dataclass
class _Server:
    models: list[str]  # ids listed by GET /models ([] if it has none)
    owned_by: str | None
    family: str


class OpenAIBackend(Backend):
    def __init__(
        self,
        base_url: str = DEFAULT_BASE_URL,
        model: str | None = None,
        api_key: str | None = None,
        timeout: float = 120.0,
        max_retries: int = 3,
        retry_backoff: float | None = None,  # unused: the openai client's backoff applies (kept for callers)
        deadline: float | None = None,
        max_reply_bytes: int | None = None,
        stream: bool = True,
    ):
        self.base_url = _normalize_base_url(base_url)
        self._requested = model or None
        self._model = model or None
        self.api_key = api_key
        self.timeout = float(timeout)
        self.max_retries = max_retries
        self.deadline = deadline  # seconds for all requests, from the first one; None: no deadline
        self._deadline_at: float | None = None
        self.max_reply_bytes = max_reply_bytes  # None: derived per request from max_tokens
        # Stream replies (where the server streams) while someone listens to on_tokens: a
        # streamed reply costs ~10 us of parsing per token, which only progress needs.
        self.stream = stream
        self.on_request: Callable[[str, str, Any], None] | None = None  # (method, path, body) of each HTTP call
        self._server: _Server | None = None
        self._server_answered = False
        self._per_loop: dict[int, tuple[asyncio.AbstractEventLoop, openai.AsyncOpenAI, asyncio.Lock]] = {}

    @classmethod
    def from_env(
        cls, base_url: str | None = None, model: str | None = None, api_key: str | None = None, **kwargs
    ) -> "OpenAIBackend":
        """Explicit arguments win, then NLOPT_BASE_URL / NLOPT_MODEL / NLOPT_API_KEY, then the
        ecosystem's OPENAI_BASE_URL / OPENAI_API_KEY, then defaults."""
        env = os.environ.get
        return cls(
            base_url=base_url or env("NLOPT_BASE_URL") or env("OPENAI_BASE_URL") or DEFAULT_BASE_URL,
            model=model or env("NLOPT_MODEL") or None,
            api_key=api_key or env("NLOPT_API_KEY") or env("OPENAI_API_KEY") or None,
            **kwargs,
        )

    # --- public API --------------------------------------------------------------

    @property
    def model(self) -> str:
        """The configured model, else the first one the server lists."""
        if self._model is None:
            self._run(self._resolve_model)
        return self._model

    @property
    def requested_model(self) -> str:
        return self._requested or ""

    def complete(self, req: ChatRequest) -> Completion:
        return self._run(lambda: self.acomplete(req))

    async def acomplete(self, req: ChatRequest) -> Completion:
        return await self._chat(req)

    def list_models(self) -> list[str]:
        return list(self._run(self._server_info).models)

    @property
    def structured_form(self) -> str | None:
        """The response_format form this server accepted, once known."""
        if self._model is None:
            return None
        return forms.remembered(self.base_url, self._model, self._server.models if self._server else None)

    def describe(self) -> dict:
        return {
            "backend": "openai",
            "base_url": self.base_url,
            "model": self._model,
            "structured_form": self.structured_form,
            "timeout": self.timeout,
            "deadline": self.deadline,
            "max_retries": self.max_retries,
        }

    def probe(self) -> dict:
        """What `nlopt backends` reports: does a server answer, is it an LLM server, with
        which models, and does structured output work (one tiny request). Never raises."""
        report: dict[str, Any] = {
            "base_url": self.base_url,
            "reachable": False,
            "llm_server": False,
            "models": [],
            "owned_by": None,
            "family": None,
            "model": None,
            "structured_output": False,
            "response_format": None,
            "reply": None,
            "error": None,
        }
        try:
            server = self._run(self._server_info)
            report.update(llm_server=True, models=list(server.models), owned_by=server.owned_by,
                          family=server.family)
            report["model"] = self.model
            req = ChatRequest(
                messages=[{"role": "user", "content": 'Answer with the JSON object {"ok": true} and nothing else.'}],
                schema=PROBE_SCHEMA,
                schema_name="probe",
                max_tokens=20,
            )
            reply = self.complete(req).texts[0]
            report["reply"] = _printable(reply)
            report["response_format"] = self.structured_form
            parsed = extract_json(reply)
            report["structured_output"] = self.structured_form != "none" and isinstance(parsed.get("ok"), bool)
        except (BackendError, NoJSONFound) as exc:
            report["error"] = str(exc)
        report["reachable"] = self._server_answered
        return report

    def close(self) -> None:
        # Clients belong to their event loops; the blocking calls close theirs as they end.
        self._per_loop.clear()

    async def aclose(self) -> None:
        state = self._per_loop.pop(id(asyncio.get_running_loop()), None)
        if state is not None:
            await state[1].close()

    # --- bounds ----------------------------------------------------------------------

    def _time_left(self) -> float | None:
        if not self.deadline:
            return None
        if self._deadline_at is None:  # the clock starts with the first request
            self._deadline_at = time.monotonic() + self.deadline
        return self._deadline_at - time.monotonic()

    def _deadline_error(self, what: str) -> DeadlineExceeded:
        return DeadlineExceeded(f"the deadline of {self.deadline:g} s (--deadline) passed while waiting for {what}")

    async def _bounded(self, what: str, call: Callable[[], Awaitable[Any]]) -> Any:
        """`call()` within `timeout` seconds (and the deadline); a time-out is retried once."""
        for attempt in (1, 2):
            left = self._time_left()
            limit = self.timeout if left is None else min(self.timeout, left)
            if limit <= 0:
                raise self._deadline_error(what)
            try:
                async with asyncio.timeout(limit):
                    return await call()
            except (TimeoutError, _openai().APITimeoutError):
                if left is not None and left <= self.timeout:
                    raise self._deadline_error(what) from None
                if attempt == 2:
                    raise BackendError(f"{what}: no complete reply within {self.timeout:g} s (--timeout), "
                                       "twice") from None
        raise AssertionError("unreachable")

    def _reply_cap(self, req: ChatRequest | None = None, n: int = 1) -> int:
        if self.max_reply_bytes is not None:
            return self.max_reply_bytes
        tokens = (req.max_tokens or 0) * max(1, n) if req is not None else 0
        return max(DEFAULT_MAX_REPLY_BYTES, REPLY_BYTES_PER_TOKEN * tokens)

    async def _read_capped(self, chunks: AsyncIterator[bytes], cap: int, what: str) -> bytes:
        body = bytearray()
        async for chunk in chunks:
            body += chunk
            if len(body) > cap:
                raise self._too_large(what, cap)
        return bytes(body)

    def _too_large(self, what: str, cap: int) -> ReplyTooLarge:
        how = "" if self.max_reply_bytes is not None else \
            f" (the cap is {DEFAULT_MAX_REPLY_BYTES:,} bytes or {REPLY_BYTES_PER_TOKEN} per --max-tokens token)"
        return ReplyTooLarge(f"{what}: the reply exceeds {cap:,} bytes{how}; stopped reading it")

    # --- the client ------------------------------------------------------------------

    def _loop_state(self) -> tuple[openai.AsyncOpenAI, asyncio.Lock]:
        # An AsyncClient's connections (and an asyncio.Lock) belong to the loop that made them.
        loop = asyncio.get_running_loop()
        state = self._per_loop.get(id(loop))
        if state is None or state[0] is not loop:
            http = httpx.AsyncClient(
                transport=_ErrorBodyCap(httpx.AsyncHTTPTransport(verify=_ssl_context())),
                timeout=httpx.Timeout(self.timeout + 5),  # our asyncio.timeout fires first
                # No cap of the client's own: callers limit the requests in flight (`throttle.Throttled`);
                # idle connections are kept for the next request, not closed and opened again.
                limits=httpx.Limits(max_connections=None, max_keepalive_connections=None),
                event_hooks={"request": [self._note_request]},
            )
            client = _openai().AsyncOpenAI(
                base_url=self.base_url,
                api_key=self.api_key or "none",
                max_retries=self.max_retries,
                timeout=self.timeout + 5,
                http_client=http,
            )
            state = (loop, client, asyncio.Lock())
            self._per_loop[id(loop)] = state
        return state[1], state[2]

    def _auth_headers(self) -> dict:
        # No key: send no Authorization header at all (the client wants that said per request).
        return {} if self.api_key else {"Authorization": _openai().Omit()}

    async def _note_request(self, request: httpx.Request) -> None:
        if self.on_request is not None:
            try:
                body = json.loads(request.content) if request.content else None
            except ValueError:
                body = None
            self.on_request(request.method, request.url.path, body)

    def _run(self, make: Callable[[], Awaitable[Any]]) -> Any:
        """Run async code from blocking code (in a worker thread if this one has a loop)."""

        async def main():
            try:
                return await make()
            finally:
                await self.aclose()

        try:
            asyncio.get_running_loop()
        except RuntimeError:
            return asyncio.run(main())
        with ThreadPoolExecutor(1) as pool:
            return pool.submit(asyncio.run, main()).result()

    def _connection_error(self, exc: openai.APIConnectionError, what: str) -> BackendError:
        cause = exc.__cause__
        if isinstance(cause, httpx.ConnectError) and not self._server_answered:
            # Refused before the server ever answered: nothing is listening.
            return BackendUnavailable(self._unavailable_message(f"{self.base_url}", cause))
        problem = f"{type(cause).__name__}: {cause}" if cause is not None and str(cause) else type(cause).__name__
        return BackendError(f"{what} failed after {self.max_retries + 1} attempt(s): {_printable(problem)}")

    # --- the server's model list -------------------------------------------------------

    async def _server_info(self) -> _Server:
        if self._server is not None:
            return self._server
        client, lock = self._loop_state()
        async with lock:
            if self._server is None:
                self._server = await self._bounded(f"GET {self.base_url}/models", self._fetch_models)
        return self._server

    async def _fetch_models(self) -> _Server:
        client, _ = self._loop_state()
        what = f"GET {self.base_url}/models"
        # The first contact is not retried: when nothing listens, say so at once.
        retries = 0 if not self._server_answered else self.max_retries
        while True:
            try:
                async with client.with_options(max_retries=retries).models.with_streaming_response.list(
                        extra_headers=self._auth_headers()) as resp:
                    self._server_answered = True
                    status, ctype = resp.status_code, resp.headers.get("content-type", "")
                    body = await self._read_capped(resp.iter_bytes(), DEFAULT_MAX_REPLY_BYTES, what)
                break
            except _openai().APIStatusError as exc:
                self._server_answered = True
                if retries == 0 and (exc.status_code >= 500 or exc.status_code == 429) and self.max_retries:
                    retries = self.max_retries  # answering but busy (e.g. loading the model): ask again
                    continue
                status, ctype = exc.status_code, exc.response.headers.get("content-type", "")
                body = exc.response.content
                break
            except _openai().APIConnectionError as exc:
                raise self._connection_error(exc, what) from None
        return self._parse_models(status, ctype, body)

    def _parse_models(self, status: int, ctype: str, body: bytes) -> _Server:
        entries = None
        if status == 200:
            try:
                data = json.loads(body)
            except (ValueError, RecursionError):
                data = None
            entries = data.get("data") if isinstance(data, dict) else None
        if not isinstance(entries, list) or not all(isinstance(e, dict) for e in entries):
            preview = _printable(body[:120].decode("utf-8", "replace"), 120)
            raise NotAnLLMServer(
                f"{self.base_url}/models answered HTTP {status} ({_printable(ctype, 60) or 'no content type'}): "
                f"{preview!r}; that is not an OpenAI-compatible model server (check --base-url; the path "
                "usually ends in /v1)")
        models = [e["id"] for e in entries if isinstance(e.get("id"), str)]
        owned_by = next((e.get("owned_by") for e in entries if isinstance(e.get("owned_by"), str)), None)
        return _Server(models, owned_by, forms.server_family(owned_by))

    async def _resolve_model(self) -> str:
        if self._model is None:
            server = await self._server_info()
            if not server.models:
                raise BackendError(f"{self.base_url}/models lists no model; pass --model or set NLOPT_MODEL")
            self._model = server.models[0]
        return self._model

    async def _server_or_unknown(self) -> _Server:
        """The server's model list; a server without a usable one is of unknown family
        when the model is configured (it is needed only to pick a model)."""
        try:
            return await self._server_info()
        except NotAnLLMServer:
            if self._model is None:
                raise
            self._server = _Server([], None, "unknown")
            return self._server

    # --- chat ------------------------------------------------------------------------

    async def _chat(self, req: ChatRequest) -> Completion:
        server = await self._server_or_unknown()
        model = await self._resolve_model()
        if req.schema is None:
            form = "none"
        else:
            form = forms.remembered(self.base_url, model, server.models) or STRUCTURED_FORMS[0]
        started = time.perf_counter()
        out = _Reply(model=model)
        # Greedy sampling gives n equal answers: ask once and repeat it.
        wanted_total = req.n
        greedy = req.temperature == 0 and req.n > 1
        one_at_a_time = greedy
        # Servers may return fewer choices than asked (llama.cpp ignores n): ask again.
        while len(out.texts) < (1 if greedy else wanted_total):
            wanted = wanted_total - len(out.texts)
            # A follow-up with the same seed would repeat the same samples.
            seed = None if req.seed is None else req.seed + len(out.texts)
            while True:
                n = 1 if one_at_a_time else wanted
                body = self._chat_body(req, model, form, n, seed, server.family)
                try:
                    reply = await self._post_chat(body, self._reply_cap(req, n), stream=self._streaming(n))
                except _StatusError as exc:
                    if form != "none" and req.schema is not None and forms.is_format_rejection(exc.text):
                        demoted = forms.next_form(server.family, form, exc.text)
                        if demoted is not None:
                            form = demoted
                            continue
                        raise BackendError(
                            f"POST {self.base_url}/chat/completions: {exc} ({server.family} server: its "
                            f"{form} structured output is not set aside for a weaker form)") from None
                    if n > 1 and _N_REJECTION.search(exc.text):
                        one_at_a_time = True
                        continue
                    tries = f" after {self.max_retries + 1} attempt(s)" if exc.retried else ""
                    raise BackendError(f"POST {self.base_url}/chat/completions failed{tries}: {exc}") from None
                break
            if req.schema is not None:
                forms.remember(self.base_url, model, server.models, form)
            take = 1 if greedy else wanted
            out.texts += reply.texts[:take]
            out.finish_reasons += reply.finish_reasons[:take]
            out.prompt_tokens += reply.prompt_tokens
            out.completion_tokens += reply.completion_tokens
            out.model = reply.model or out.model
        if greedy:
            out.texts *= wanted_total
            out.finish_reasons *= wanted_total
        return Completion(
            texts=out.texts,
            model=out.model or model,
            prompt_tokens=out.prompt_tokens,
            completion_tokens=out.completion_tokens,
            seconds=time.perf_counter() - started,
            finish_reasons=out.finish_reasons,
        )

    @staticmethod
    def _chat_body(req: ChatRequest, model: str, form: str, n: int, seed: int | None, family: str) -> dict:
        body: dict[str, Any] = {"model": model, "messages": req.messages, "n": n, "temperature": req.temperature}
        if req.max_tokens is not None:
            body["max_tokens"] = req.max_tokens
        if seed is not None:
            body["seed"] = seed
        if req.schema is not None and form == "json_schema":
            body["response_format"] = {
                "type": "json_schema",
                "json_schema": {"name": req.schema_name, "schema": req.schema, "strict": True},
            }
            if family == "vllm":  # vLLM's own field; harmless next to response_format
                # no free whitespace: a grammar that allows it lets small models run on in blanks
                body["structured_outputs"] = {"json": req.schema, "disable_any_whitespace": True}
        elif req.schema is not None and form == "json_object":
            body["response_format"] = {"type": "json_object", "schema": _grammar_friendly(req.schema)}
        return body

    def _streaming(self, n: int) -> bool:
        return self.stream and n == 1 and self.on_tokens is not None

    async def _post_chat(self, body: dict, cap: int, stream: bool) -> _Reply:
        what = f"POST {self.base_url}/chat/completions"
        while True:
            try:
                return await self._bounded(what, lambda: self._post_once(body, cap, stream, what))
            except _StatusError as exc:
                # A server that cannot stream: ask again without, and don't stream to it again.
                if stream and 400 <= exc.status < 500 and "stream" in exc.text.lower():
                    self.stream = stream = False
                    continue
                raise

    async def _post_once(self, body: dict, cap: int, stream: bool, what: str) -> _Reply:
        client, _ = self._loop_state()
        fields = {k: v for k, v in body.items() if k not in ("model", "messages")}
        if stream:
            fields.update(stream=True, stream_options={"include_usage": True})
        try:
            async with client.chat.completions.with_streaming_response.create(
                model=body["model"], messages=body["messages"], extra_body=fields, extra_headers=self._auth_headers()
            ) as resp:
                self._server_answered = True
                if "text/event-stream" in resp.headers.get("content-type", ""):
                    return await self._read_events(resp.iter_bytes(), cap, what)
                raw = await self._read_capped(resp.iter_bytes(), cap, what)
        except _openai().APIStatusError as exc:
            self._server_answered = True
            retried = exc.status_code in (408, 409, 429) or exc.status_code >= 500
            retried = retried and exc.response.headers.get("x-should-retry") != "false" and self.max_retries > 0
            raise _StatusError(exc.status_code, _error_text(exc.response.content), retried) from None
        except _openai().APIConnectionError as exc:
            raise self._connection_error(exc, what) from None
        try:
            data = json.loads(raw)
        except (ValueError, RecursionError):
            raise BackendError(f"{what}: the reply is not JSON: {_printable(raw[:120].decode('utf-8', 'replace'))!r}"
                               ) from None
        reply = _parse_completion(data, what, delta=False)
        if self.on_tokens is not None and reply.completion_tokens:
            self.on_tokens(reply.completion_tokens)
        return reply

    async def _read_events(self, chunks: AsyncIterator[bytes], cap: int, what: str) -> _Reply:
        """A streamed reply (server-sent events), assembled; on_tokens hears of each content chunk."""
        parts: dict[int, list[str]] = {}
        finish: dict[int, str] = {}
        usage: _Step | None = None
        model = None
        total = 0
        pending = bytearray()
        done = False
        async for chunk in chunks:
            if done:
                break
            total += len(chunk)
            if total > cap:
                raise self._too_large(what, cap)
            pending += chunk
            if b"\n" not in chunk:
                continue
            *lines, rest = bytes(pending).split(b"\n")
            pending = bytearray(rest)
            for line in lines:
                line = line.strip()
                if not line.startswith(b"data:"):
                    continue  # comments, event names, ids, keep-alives
                payload = line[5:].strip()
                if payload == b"[DONE]":
                    done = True
                    break
                try:
                    event = json.loads(payload)
                except (ValueError, RecursionError):
                    raise BackendError(f"{what}: a streamed event is not JSON: "
                                       f"{_printable(payload[:120].decode('utf-8', 'replace'))!r}") from None
                step = _parse_completion(event, what, delta=True)
                for index, text, reason in zip(step.indexes, step.texts, step.finish_reasons):
                    parts.setdefault(index, []).append(text)
                    if reason:
                        finish[index] = reason
                    if text and self.on_tokens is not None:
                        self.on_tokens(1)
                if isinstance(event, dict) and isinstance(event.get("usage"), dict):
                    usage = step
                model = step.model or model
        if not parts:
            raise BackendError(f"{what}: the streamed reply holds no choices")
        indexes = sorted(parts)
        return _Reply(
            texts=["".join(parts[i]) for i in indexes],
            finish_reasons=[finish.get(i, "") for i in indexes],
            prompt_tokens=usage.prompt_tokens if usage else 0,
            # The server's count, else one per content event.
            completion_tokens=(usage.completion_tokens if usage and usage.completion_tokens
                               else sum(1 for i in indexes for p in parts[i] if p)),
            model=model,
        )

    # --- messages ------------------------------------------------------------------

    @staticmethod
    def _unavailable_message(url: str, problem: object) -> str:
        return (
            f"no LLM server answered at {url} ({_printable(str(problem))}). Start one, e.g. "
            "`vllm serve Qwen/Qwen2.5-7B-Instruct` (it listens on http://localhost:8000/v1), "
            "or point to a running server with --base-url or NLOPT_BASE_URL."
        )


# --- checking a reply ------------------------------------------------------------------


def _error_text(body: bytes) -> str:
    """The message of an error body: error.message of a JSON body, else the text."""
    text = body.decode("utf-8", "replace")
    try:
        data = json.loads(text)
    except (ValueError, RecursionError):
        return _printable(text)
    error = data.get("error", data) if isinstance(data, dict) else data
    if isinstance(error, dict):
        message = error.get("message", error.get("detail", error))
    else:
        message = error
    return _printable(message if isinstance(message, str) else json.dumps(message)[:400])


def _count(value: object) -> int:
    """A token count from a server: a non-negative whole number, else 0."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return 0
    if isinstance(value, float) and not (math.isfinite(value) and value.is_integer()):
        return 0
    return int(value) if 0 <= value < 2**53 else 0


def _text(content: object, what: str) -> str:
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    # Some servers send a list of parts: [{"type": "text", "text": "..."}]
    if isinstance(content, list) and all(isinstance(p, dict) and isinstance(p.get("text"), str) for p in content):
        return "".join(p["text"] for p in content)
    raise BackendError(f"{what}: the reply's content is {type(content).__name__}, not text")


@dataclass
class _Step(_Reply):
    indexes: list[int] = field(default_factory=list)


def _parse_completion(data: object, what: str, delta: bool) -> _Step:
    """The texts, finish reasons, token counts and model of a reply (or of one streamed
    event, with `delta`), after checking the shape of every field."""
    if not isinstance(data, dict):
        raise BackendError(f"{what}: the reply is {type(data).__name__}, not a JSON object")
    if "error" in data and "choices" not in data:
        raise BackendError(f"{what}: the server reported an error: {_error_text(json.dumps(data).encode())}")
    choices = data.get("choices")
    if choices is None and delta:
        choices = []  # e.g. the final usage-only event
    if not isinstance(choices, list) or not all(isinstance(c, dict) for c in choices):
        raise BackendError(f"{what}: the reply's choices are not a list of objects")
    if not choices and not delta:
        raise BackendError(f"{what}: the reply holds no choices")
    usage = data.get("usage") if isinstance(data.get("usage"), dict) else {}
    step = _Step(prompt_tokens=_count(usage.get("prompt_tokens")),
                 completion_tokens=_count(usage.get("completion_tokens")),
                 model=data.get("model") if isinstance(data.get("model"), str) else None)
    for position, choice in enumerate(choices):
        message = choice.get("delta" if delta else "message")
        message = message if isinstance(message, dict) else {}
        step.texts.append(_text(message.get("content"), what))
        reason = choice.get("finish_reason")
        step.finish_reasons.append(reason if isinstance(reason, str) else "")
        index = choice.get("index")
        step.indexes.append(index if isinstance(index, int) and not isinstance(index, bool) and 0 <= index < 1024
                            else position)
    return step

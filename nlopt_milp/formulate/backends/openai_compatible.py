"""A backend for any server speaking the OpenAI chat-completions protocol
(vLLM, llama.cpp's llama-server, SGLang, Ollama, ...), over plain httpx.

The request logic is written once as generators that *yield* the HTTP calls and
pauses they need; a small sync driver and a small async driver carry them out.
That keeps `complete` and `acomplete` from drifting apart.
"""

from __future__ import annotations

import asyncio
import functools
import os
import re
import time
from collections.abc import Generator
from typing import Any, NamedTuple
from urllib.parse import urlsplit

import httpx

from .base import Backend, BackendError, BackendUnavailable, ChatRequest, Completion, NoJSONFound, extract_json

DEFAULT_BASE_URL = "http://localhost:8000/v1"
MAX_BACKOFF_SECONDS = 8.0

# How structured output is asked for, best first. "json_schema" is the OpenAI
# standard; llama.cpp's server only takes {"type": "json_object", "schema": ...};
# "none" sends no response_format and relies on tolerant parsing.
STRUCTURED_FORMS = ("json_schema", "json_object", "none")

# Which form each server (by base_url) accepted, so later requests skip the
# rejected ones.
_form_by_base_url: dict[str, str] = {}

# A server saying it does not understand our response_format, e.g. llama.cpp:
# "... Input should be 'text' or 'json_object' ...".
_FORMAT_REJECTION = re.compile(r"response_format|json_schema|json_object|'text'", re.IGNORECASE)

# vLLM refuses n > 1 at temperature 0: "n must be 1 when using greedy sampling".
_N_REJECTION = re.compile(r"greedy|n must be 1", re.IGNORECASE)

PROBE_SCHEMA = {"type": "object", "properties": {"ok": {"type": "boolean"}}, "required": ["ok"]}

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
    """Forget which response_format each server accepted (tests, server swaps)."""
    _form_by_base_url.clear()


class _Call(NamedTuple):
    method: str
    path: str
    body: dict | None


class _Pause(NamedTuple):
    seconds: float


# A request plan yields _Call / _Pause and is sent back httpx.Response or the
# httpx.TransportError the call raised (None after a pause).
Plan = Generator[_Call | _Pause, Any, Any]


@functools.cache
def _ssl_context():
    # Building one costs ~0.1 s (CA bundle); every client can share it.
    return httpx.create_ssl_context()


def _normalize_base_url(url: str) -> str:
    url = url.rstrip("/")
    if urlsplit(url).path in ("", "/"):
        url += "/v1"  # "http://host:8000" almost always means the /v1 API
    return url


def _summary(resp: httpx.Response, limit: int = 200) -> str:
    """Short, single-line description of an error response."""
    try:
        data = resp.json()
        error = data.get("error", data) if isinstance(data, dict) else data
        text = error.get("message", str(error)) if isinstance(error, dict) else str(error)
    except ValueError:
        text = resp.text
    text = " ".join(str(text).split())
    return f"HTTP {resp.status_code}: {text[:limit]}"


def _is_format_rejection(resp: httpx.Response, body: dict | None) -> bool:
    return (
        resp.status_code >= 400
        and bool(body and body.get("response_format"))
        and _FORMAT_REJECTION.search(resp.text) is not None
    )


class OpenAIBackend(Backend):
    def __init__(
        self,
        base_url: str = DEFAULT_BASE_URL,
        model: str | None = None,
        api_key: str | None = None,
        timeout: float = 120.0,
        max_retries: int = 3,
        retry_backoff: float = 0.5,
    ):
        self.base_url = _normalize_base_url(base_url)
        self._model = model
        self.timeout = timeout
        self.max_retries = max_retries
        self.retry_backoff = retry_backoff
        self._headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        self._models: list[dict] | None = None  # GET /models entries, fetched once
        self._server_answered = False
        self._client = httpx.Client(timeout=timeout, headers=self._headers, verify=_ssl_context())
        self._aclient: httpx.AsyncClient | None = None
        self._aclient_loop: asyncio.AbstractEventLoop | None = None

    @classmethod
    def from_env(
        cls, base_url: str | None = None, model: str | None = None, api_key: str | None = None, **kwargs
    ) -> "OpenAIBackend":
        """Explicit arguments win, then NLOPT_BASE_URL / NLOPT_MODEL / NLOPT_API_KEY, then defaults."""
        return cls(
            base_url=base_url or os.environ.get("NLOPT_BASE_URL") or DEFAULT_BASE_URL,
            model=model or os.environ.get("NLOPT_MODEL") or None,
            api_key=api_key or os.environ.get("NLOPT_API_KEY") or None,
            **kwargs,
        )

    # --- public API --------------------------------------------------------------

    @property
    def model(self) -> str:
        """The configured model, else the first one the server lists."""
        if self._model is None:
            self._model = self._run(self._resolve_model())
        return self._model

    def complete(self, req: ChatRequest) -> Completion:
        return self._run(self._chat(req))

    async def acomplete(self, req: ChatRequest) -> Completion:
        return await self._arun(self._chat(req))

    def list_models(self) -> list[str]:
        return [m["id"] for m in self._run(self._server_models()) if "id" in m]

    @property
    def structured_form(self) -> str | None:
        """The response_format form this server accepted, once known."""
        return _form_by_base_url.get(self.base_url)

    def describe(self) -> dict:
        return {
            "backend": "openai",
            "base_url": self.base_url,
            "model": self._model,
            "structured_form": self.structured_form,
            "timeout": self.timeout,
            "max_retries": self.max_retries,
        }

    def probe(self) -> dict:
        """What `nlopt backends` reports: does a server answer, with which models,
        and does structured output work (one tiny request). Never raises."""
        report: dict[str, Any] = {
            "base_url": self.base_url,
            "reachable": False,
            "models": [],
            "owned_by": None,
            "model": None,
            "structured_output": False,
            "response_format": None,
            "reply": None,
            "error": None,
        }
        try:
            entries = self._run(self._server_models())
            report["reachable"] = self._server_answered
            report["models"] = [m.get("id") for m in entries]
            report["owned_by"] = entries[0].get("owned_by") if entries else None
            report["model"] = self.model
            req = ChatRequest(
                messages=[{"role": "user", "content": 'Answer with the JSON object {"ok": true} and nothing else.'}],
                schema=PROBE_SCHEMA,
                schema_name="probe",
                max_tokens=20,
            )
            reply = self.complete(req).texts[0]
            report["reply"] = reply[:200]
            report["response_format"] = self.structured_form
            parsed = extract_json(reply)
            report["structured_output"] = self.structured_form != "none" and isinstance(parsed.get("ok"), bool)
        except (BackendError, NoJSONFound) as exc:
            report["reachable"] = self._server_answered
            report["error"] = str(exc)
        return report

    def close(self) -> None:
        self._client.close()

    async def aclose(self) -> None:
        if self._aclient is not None:
            await self._aclient.aclose()
            self._aclient = None
        self.close()

    # --- request plans (I/O-free; see the module docstring) -----------------------

    def _request(self, method: str, path: str, body: dict | None = None) -> Plan:
        """One HTTP call with bounded retries on 429, 5xx, resets and timeouts.
        Returns the response for anything else (including 4xx and format rejections)."""
        url = self.base_url + path
        attempts = self.max_retries + 1
        last_problem = ""
        for attempt in range(attempts):
            if attempt:
                yield _Pause(min(self.retry_backoff * 2 ** (attempt - 1), MAX_BACKOFF_SECONDS))
            outcome = yield _Call(method, path, body)
            if isinstance(outcome, httpx.TransportError):
                # Refused before the server ever answered: nothing is listening,
                # retrying will not help. Later refusals may be a restart: retry.
                if isinstance(outcome, httpx.ConnectError) and not self._server_answered:
                    raise BackendUnavailable(self._unavailable_message(url, outcome))
                last_problem = self._transport_problem(outcome)
                continue
            self._server_answered = True
            retryable = outcome.status_code == 429 or (
                outcome.status_code >= 500 and not _is_format_rejection(outcome, body)
            )
            if not retryable:
                return outcome
            last_problem = _summary(outcome)
        if not self._server_answered:
            raise BackendUnavailable(self._unavailable_message(url, last_problem))
        raise BackendError(f"{method} {url} failed after {attempts} attempt(s): {last_problem}")

    def _server_models(self) -> Plan:
        if self._models is None:
            resp = yield from self._request("GET", "/models")
            if resp.status_code >= 400:
                raise BackendError(f"GET {self.base_url}/models: {_summary(resp)}")
            try:
                data = resp.json().get("data") or []
            except (ValueError, AttributeError):
                raise BackendError(f"GET {self.base_url}/models did not return a model list") from None
            self._models = [m for m in data if isinstance(m, dict)]
        return self._models

    def _resolve_model(self) -> Plan:
        if self._model is None:
            ids = [m["id"] for m in (yield from self._server_models()) if "id" in m]
            if not ids:
                raise BackendError(f"{self.base_url}/models lists no model; pass --model or set NLOPT_MODEL")
            self._model = ids[0]
        return self._model

    def _is_vllm(self) -> Plan:
        try:
            entries = yield from self._server_models()
        except BackendUnavailable:
            raise
        except BackendError:
            # Some servers have no /models; then we don't know, and don't ask again.
            self._models = entries = []
        return any(m.get("owned_by") == "vllm" for m in entries)

    def _chat(self, req: ChatRequest) -> Plan:
        model = yield from self._resolve_model()
        is_vllm = yield from self._is_vllm()
        if req.schema is None:
            forms = ["none"]
        else:
            known = _form_by_base_url.get(self.base_url, STRUCTURED_FORMS[0])
            forms = list(STRUCTURED_FORMS[STRUCTURED_FORMS.index(known) :])
        started = time.perf_counter()
        texts: list[str] = []
        finish_reasons: list[str] = []
        prompt_tokens = completion_tokens = 0
        answered_model = model
        one_at_a_time = False
        # Servers may return fewer choices than asked (llama.cpp ignores n): ask again.
        while len(texts) < req.n:
            wanted = req.n - len(texts)
            # A follow-up with the same seed would repeat the same samples.
            seed = None if req.seed is None else req.seed + len(texts)
            while True:
                n = 1 if one_at_a_time else wanted
                body = self._chat_body(req, model, forms[0], n, seed, is_vllm)
                resp = yield from self._request("POST", "/chat/completions", body)
                if len(forms) > 1 and _is_format_rejection(resp, body):
                    forms.pop(0)
                    continue
                if n > 1 and 400 <= resp.status_code < 500 and _N_REJECTION.search(resp.text):
                    one_at_a_time = True
                    continue
                break
            if resp.status_code >= 400:
                raise BackendError(f"POST {self.base_url}/chat/completions: {_summary(resp)}")
            if req.schema is not None:
                _form_by_base_url[self.base_url] = forms[0]
            try:
                data = resp.json()
                choices = data["choices"]
            except (ValueError, KeyError, TypeError):
                problem = f"unexpected reply from {self.base_url}/chat/completions: {resp.text[:200]!r}"
                raise BackendError(problem) from None
            if not choices:
                raise BackendError(f"{self.base_url}/chat/completions returned no choices")
            texts += [((c or {}).get("message") or {}).get("content") or "" for c in choices][:wanted]
            finish_reasons += [str((c or {}).get("finish_reason") or "") for c in choices][:wanted]
            usage = data.get("usage") or {}
            prompt_tokens += usage.get("prompt_tokens") or 0
            completion_tokens += usage.get("completion_tokens") or 0
            answered_model = data.get("model") or answered_model
        return Completion(
            texts=texts,
            model=answered_model,
            prompt_tokens=prompt_tokens,
            completion_tokens=completion_tokens,
            seconds=time.perf_counter() - started,
            finish_reasons=finish_reasons,
        )

    @staticmethod
    def _chat_body(req: ChatRequest, model: str, form: str, n: int, seed: int | None, is_vllm: bool) -> dict:
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
            if is_vllm:  # vLLM's own field; harmless next to response_format
                # no free whitespace: a grammar that allows it lets small models run on in blanks
                body["structured_outputs"] = {"json": req.schema, "disable_any_whitespace": True}
        elif req.schema is not None and form == "json_object":
            body["response_format"] = {"type": "json_object", "schema": _grammar_friendly(req.schema)}
        return body

    # --- drivers -------------------------------------------------------------------

    def _run(self, plan: Plan) -> Any:
        outcome = None
        try:
            while True:
                step = plan.send(outcome)
                if isinstance(step, _Pause):
                    time.sleep(step.seconds)
                    outcome = None
                    continue
                try:
                    outcome = self._client.request(step.method, self.base_url + step.path, json=step.body)
                except httpx.TransportError as exc:
                    outcome = exc
        except StopIteration as done:
            return done.value

    async def _arun(self, plan: Plan) -> Any:
        client = self._async_client()
        outcome = None
        try:
            while True:
                step = plan.send(outcome)
                if isinstance(step, _Pause):
                    await asyncio.sleep(step.seconds)
                    outcome = None
                    continue
                try:
                    outcome = await client.request(step.method, self.base_url + step.path, json=step.body)
                except httpx.TransportError as exc:
                    outcome = exc
        except StopIteration as done:
            return done.value

    def _async_client(self) -> httpx.AsyncClient:
        # An AsyncClient's connections belong to the loop that opened them.
        loop = asyncio.get_running_loop()
        if self._aclient is None or self._aclient_loop is not loop:
            self._aclient = httpx.AsyncClient(timeout=self.timeout, headers=self._headers, verify=_ssl_context())
            self._aclient_loop = loop
        return self._aclient

    # --- messages ------------------------------------------------------------------

    def _transport_problem(self, exc: httpx.TransportError) -> str:
        if isinstance(exc, httpx.TimeoutException):
            return f"timeout after {self.timeout:g}s ({type(exc).__name__})"
        return f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__

    @staticmethod
    def _unavailable_message(url: str, problem: object) -> str:
        return (
            f"no LLM server answered at {url} ({problem}). Start one, e.g. "
            "`vllm serve Qwen/Qwen2.5-7B-Instruct` (it listens on http://localhost:8000/v1), "
            "or point to a running server with --base-url or NLOPT_BASE_URL."
        )

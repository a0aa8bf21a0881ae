"""The LLM backends against a real (scripted) HTTP server; no client patching."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import time

import pytest

from nlopt_milp.formulate.llm import (
    BackendError,
    BackendUnavailable,
    CachedBackend,
    ChatRequest,
    NoJSONFound,
    OpenAIBackend,
    extract_json,
    forget_structured_forms,
)
from scripted_server import Reply, ScriptedServer, unused_base_url

SCHEMA = {"type": "object", "properties": {"x": {"type": "integer"}}, "required": ["x"]}
MESSAGES = [{"role": "system", "content": "Answer in JSON."}, {"role": "user", "content": "x is 3"}]


def request(**kwargs) -> ChatRequest:
    return ChatRequest(messages=MESSAGES, schema=kwargs.pop("schema", SCHEMA), **kwargs)


def backend_for(server: ScriptedServer, **kwargs) -> OpenAIBackend:
    kwargs.setdefault("retry_backoff", 0.01)
    return OpenAIBackend(server.base_url, **kwargs)


@pytest.fixture(autouse=True)
def fresh_form_memory():
    # Ports get reused between tests; don't let one test's negotiation leak into another.
    forget_structured_forms()
    yield
    forget_structured_forms()


# --- the OpenAI-compatible backend ---------------------------------------------------


def test_correct_reply(scripted_server):
    scripted_server.script('{"x": 3}')
    backend = backend_for(scripted_server, api_key="sk-test")
    completion = backend.complete(request(max_tokens=50, seed=7))
    assert completion.texts == ['{"x": 3}']
    assert completion.model == "scripted-model"
    assert completion.prompt_tokens == 11 and completion.completion_tokens == 2
    assert completion.seconds >= 0
    assert extract_json(completion.texts[0]) == {"x": 3}
    (sent,) = scripted_server.chat_requests
    assert sent.json["messages"] == MESSAGES
    assert sent.json["max_tokens"] == 50 and sent.json["seed"] == 7 and sent.json["n"] == 1
    assert sent.json["response_format"] == {
        "type": "json_schema",
        "json_schema": {"name": "formulation", "schema": SCHEMA, "strict": True},
    }
    assert "structured_outputs" not in sent.json  # not a vLLM server
    assert sent.headers["Authorization"] == "Bearer sk-test"


def test_no_schema_sends_no_response_format(scripted_server):
    scripted_server.script("hello")
    assert backend_for(scripted_server).complete(request(schema=None)).texts == ["hello"]
    assert "response_format" not in scripted_server.chat_requests[0].json


def test_malformed_json_is_returned_as_text(scripted_server):
    scripted_server.script('{"x": 3,, oops')
    completion = backend_for(scripted_server).complete(request())
    assert completion.texts == ['{"x": 3,, oops']
    with pytest.raises(NoJSONFound):
        extract_json(completion.texts[0])


def test_n_samples_in_one_request(scripted_server):
    scripted_server.script('{"x": 1}', '{"x": 2}', '{"x": 3}')
    completion = backend_for(scripted_server).complete(request(n=3, temperature=0.7))
    assert completion.texts == ['{"x": 1}', '{"x": 2}', '{"x": 3}']
    assert len(scripted_server.chat_requests) == 1
    assert scripted_server.chat_requests[0].json["n"] == 3


def test_server_returning_fewer_choices_is_asked_again(scripted_server):
    scripted_server.honour_n = False  # like llama.cpp: one choice whatever n says
    scripted_server.script('{"x": 1}', '{"x": 2}', '{"x": 3}')
    completion = backend_for(scripted_server).complete(request(n=3, temperature=0.7, seed=10))
    assert completion.texts == ['{"x": 1}', '{"x": 2}', '{"x": 3}']
    sent = [r.json for r in scripted_server.chat_requests]
    assert [b["n"] for b in sent] == [3, 2, 1]
    assert [b["seed"] for b in sent] == [10, 11, 12]  # fresh samples, still reproducible
    assert completion.prompt_tokens == 33


def test_server_refusing_greedy_n_is_asked_one_at_a_time(scripted_server):
    def like_vllm(body: dict) -> Reply:
        if body["n"] > 1 and body["temperature"] == 0:
            return Reply(status=400, body={"error": {"message": "n must be 1 when using greedy sampling, got 2."}})
        return Reply(content='{"x": 3}')

    scripted_server.responder = like_vllm
    completion = backend_for(scripted_server).complete(request(n=2))
    assert completion.texts == ['{"x": 3}'] * 2
    assert [r.json["n"] for r in scripted_server.chat_requests] == [2, 1, 1]


@pytest.mark.parametrize("status", [500, 503, 429])
def test_transient_errors_are_retried(scripted_server, status):
    scripted_server.script(Reply(status=status, body="busy"), '{"x": 3}')
    completion = backend_for(scripted_server).complete(request())
    assert completion.texts == ['{"x": 3}']
    assert len(scripted_server.chat_requests) == 2


def test_connection_reset_is_retried(scripted_server):
    scripted_server.script(Reply(disconnect=True), '{"x": 3}')
    backend = backend_for(scripted_server, model="m")
    backend.list_models()  # the server has answered once, so a reset is transient
    assert backend.complete(request()).texts == ['{"x": 3}']
    assert len(scripted_server.chat_requests) == 2


def test_retries_are_bounded(scripted_server):
    scripted_server.default = Reply(status=502, body={"error": {"message": "upstream gone"}})
    with pytest.raises(BackendError, match="3 attempt.*HTTP 502: upstream gone"):
        backend_for(scripted_server, max_retries=2).complete(request())
    assert len(scripted_server.chat_requests) == 3


def test_client_errors_are_not_retried(scripted_server):
    scripted_server.script(Reply(status=400, body={"error": {"message": "messages must not be empty"}}))
    with pytest.raises(BackendError, match="HTTP 400: messages must not be empty") as info:
        backend_for(scripted_server).complete(request())
    assert not isinstance(info.value, BackendUnavailable)
    assert len(scripted_server.chat_requests) == 1


def test_slow_reply_times_out_after_retries(scripted_server):
    scripted_server.default = Reply(content='{"x": 3}', delay=2.0)
    backend = backend_for(scripted_server, model="m", timeout=0.5, max_retries=1)
    started = time.perf_counter()
    with pytest.raises(BackendError, match="timeout"):
        backend.complete(request())
    assert time.perf_counter() - started < 1.9
    assert len(scripted_server.chat_requests) == 2


def test_no_server_at_all():
    url = unused_base_url()
    backend = OpenAIBackend(url, model="m", retry_backoff=0.01)
    with pytest.raises(BackendUnavailable) as info:
        backend.complete(request())
    message = str(info.value)
    assert url in message and "vllm serve" in message
    assert "--base-url" in message and "NLOPT_BASE_URL" in message


def test_llama_cpp_rejection_falls_back_to_json_object(scripted_server):
    scripted_server.reject_json_schema = True
    scripted_server.script('{"x": 1}', '{"x": 2}')
    backend = backend_for(scripted_server)
    assert backend.complete(request()).texts == ['{"x": 1}']
    first, second = [r.json["response_format"] for r in scripted_server.chat_requests]
    assert first["type"] == "json_schema"
    assert second == {"type": "json_object", "schema": SCHEMA}
    assert backend.structured_form == "json_object"

    # A later request (even from a new backend object) goes straight to the form that worked.
    assert backend_for(scripted_server).complete(request()).texts == ['{"x": 2}']
    assert len(scripted_server.chat_requests) == 3
    assert scripted_server.chat_requests[-1].json["response_format"]["type"] == "json_object"


def test_server_without_structured_output_gets_plain_requests(scripted_server):
    def no_response_format(body: dict) -> Reply:
        if "response_format" in body:
            return Reply(status=400, body={"error": {"message": "unknown field: response_format"}})
        return Reply(content='Sure! ```json\n{"x": 3}\n```')

    scripted_server.responder = no_response_format
    completion = backend_for(scripted_server).complete(request())
    assert extract_json(completion.texts[0]) == {"x": 3}
    kinds = [r.json.get("response_format", {}).get("type") for r in scripted_server.chat_requests]
    assert kinds == ["json_schema", "json_object", None]


def test_vllm_server_gets_structured_outputs(scripted_server):
    scripted_server.owned_by = "vllm"
    scripted_server.script('{"x": 3}')
    backend_for(scripted_server).complete(request())
    sent = scripted_server.chat_requests[0].json
    assert sent["structured_outputs"] == {"json": SCHEMA, "disable_any_whitespace": True}
    assert sent["response_format"]["type"] == "json_schema"


def test_default_model_is_first_listed(scripted_server):
    scripted_server.models = ["first-model", "second-model"]
    scripted_server.script('{"x": 3}')
    backend = backend_for(scripted_server)
    assert backend.list_models() == ["first-model", "second-model"]
    assert backend.model == "first-model"
    backend.complete(request())
    assert scripted_server.chat_requests[0].json["model"] == "first-model"


def test_from_env(scripted_server, monkeypatch):
    monkeypatch.setenv("NLOPT_BASE_URL", scripted_server.base_url)
    monkeypatch.setenv("NLOPT_MODEL", "env-model")
    monkeypatch.setenv("NLOPT_API_KEY", "env-key")
    scripted_server.script('{"x": 3}')
    backend = OpenAIBackend.from_env()
    assert backend.base_url == scripted_server.base_url and backend.model == "env-model"
    backend.complete(request())
    sent = scripted_server.chat_requests[0]
    assert sent.json["model"] == "env-model" and sent.headers["Authorization"] == "Bearer env-key"
    assert OpenAIBackend.from_env(model="explicit").model == "explicit"


def test_base_url_without_v1_path(scripted_server):
    bare = scripted_server.base_url.removesuffix("/v1")
    assert OpenAIBackend(bare + "/").base_url == scripted_server.base_url


def test_probe_reports_working_structured_output(scripted_server):
    scripted_server.owned_by = "vllm"
    scripted_server.default = Reply(content='{"ok": true}')
    report = backend_for(scripted_server).probe()
    assert report["reachable"] and report["error"] is None
    assert report["models"] == ["scripted-model"] and report["owned_by"] == "vllm"
    assert report["structured_output"] is True and report["response_format"] == "json_schema"
    sent = scripted_server.chat_requests[0].json
    assert sent["max_tokens"] <= 20 and sent["response_format"]["json_schema"]["schema"]["required"] == ["ok"]


def test_probe_llama_cpp_and_no_server(scripted_server):
    scripted_server.reject_json_schema = True
    scripted_server.default = Reply(content='{"ok": false}')
    report = backend_for(scripted_server).probe()
    assert report["structured_output"] is True and report["response_format"] == "json_object"

    report = OpenAIBackend(unused_base_url()).probe()
    assert report["reachable"] is False and "vllm serve" in report["error"]


def test_async_concurrent_calls(scripted_server):
    scripted_server.default = Reply(content='{"x": 3}', delay=0.3)
    backend = backend_for(scripted_server, model="m")

    async def main():
        started = time.perf_counter()
        results = await asyncio.gather(*(backend.acomplete(request(seed=i)) for i in range(8)))
        await backend.aclose()
        return results, time.perf_counter() - started

    results, elapsed = asyncio.run(main())
    assert [c.texts for c in results] == [['{"x": 3}']] * 8
    assert elapsed < 8 * 0.3 / 2  # they ran concurrently
    assert sorted(r.json["seed"] for r in scripted_server.chat_requests) == list(range(8))


def test_async_retries_and_fallback(scripted_server):
    scripted_server.reject_json_schema = True
    scripted_server.script(Reply(status=503), '{"x": 3}')
    backend = backend_for(scripted_server)
    completion = asyncio.run(backend.acomplete(request()))
    assert completion.texts == ['{"x": 3}'] and completion.model == "scripted-model"
    kinds = [r.json["response_format"]["type"] for r in scripted_server.chat_requests]
    assert kinds == ["json_schema", "json_object", "json_object"]


def test_async_no_server():
    with pytest.raises(BackendUnavailable, match="vllm serve"):
        asyncio.run(OpenAIBackend(unused_base_url()).acomplete(request()))


# --- record / replay -------------------------------------------------------------------


def test_cache_records_and_replays(scripted_server, tmp_path):
    scripted_server.script('{"x": 3}', '{"x": 4}')
    cached = CachedBackend(backend_for(scripted_server), tmp_path)
    first = cached.complete(request())
    assert len(scripted_server.chat_requests) == 1
    second = cached.complete(request())
    assert len(scripted_server.chat_requests) == 1  # answered from disk
    assert second == first and (cached.hits, cached.misses) == (1, 1)
    assert len(list(tmp_path.glob("*.json"))) == 1 and not list(tmp_path.glob("*.tmp"))

    # Anything that shapes the answer is part of the key.
    assert cached.complete(request(temperature=0.5)).texts == ['{"x": 4}']
    assert len(scripted_server.chat_requests) == 2

    offline = CachedBackend(None, tmp_path, model="scripted-model")
    assert offline.complete(request()) == first
    assert asyncio.run(offline.acomplete(request())) == first
    with pytest.raises(BackendError, match="cache miss.*no server configured"):
        offline.complete(request(seed=99))
    other_model = CachedBackend(None, tmp_path, model="other-model")
    with pytest.raises(BackendError, match="cache miss"):
        other_model.complete(request())


def test_cache_async_records(scripted_server, tmp_path):
    scripted_server.script('{"x": 5}')
    cached = CachedBackend(backend_for(scripted_server, model="m"), tmp_path)
    first = asyncio.run(cached.acomplete(request()))
    record = json.loads(next(tmp_path.glob("*.json")).read_text())
    assert record["model"] == "m" and record["completion"]["texts"] == ['{"x": 5}']
    assert CachedBackend(None, tmp_path, model="m").complete(request()) == first


# --- tolerant JSON extraction ------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        '{"x": 3}',
        '  \n{"x": 3}\n',
        '```json\n{"x": 3}\n```',
        'Here is the model:\n```\n{"x": 3}\n```\nDone.',
        'Here is the model: {"x": 3} -- hope it helps {"y": 1}',
        'I think {this} is tricky, but: {"x": 3}',
        '<think>sets {a, b}</think>{"x": 3}',
    ],
)
def test_extract_json_finds_the_object(text):
    assert extract_json(text) == {"x": 3}


def test_extract_json_keeps_nested_and_string_braces():
    text = 'Answer: {"a": {"b": [1, 2]}, "s": "a } brace"} trailing'
    assert extract_json(text) == {"a": {"b": [1, 2]}, "s": "a } brace"}


@pytest.mark.parametrize("text", ["", "no json here", '{"x": 3', "[1, 2]", "```json\n{oops}\n```"])
def test_extract_json_raises_no_json_found(text):
    with pytest.raises(NoJSONFound) as info:
        extract_json(text)
    assert isinstance(info.value, ValueError) and len(str(info.value)) < 200


# --- in-process vLLM ----------------------------------------------------------------------


def test_importing_the_package_does_not_import_vllm():
    code = "import sys, nlopt_milp, nlopt_milp.formulate.llm; print('vllm' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_build_sampling_params_with_real_vllm():
    vllm = pytest.importorskip("vllm")
    from nlopt_milp.formulate.llm import build_sampling_params

    params = build_sampling_params(request(n=2, temperature=0.5, max_tokens=64, seed=3))
    assert isinstance(params, vllm.SamplingParams)
    assert (params.n, params.temperature, params.max_tokens, params.seed) == (2, 0.5, 64, 3)
    structured = getattr(params, "structured_outputs", None) or getattr(params, "guided_decoding", None)
    assert structured is not None and structured.json == SCHEMA
    assert build_sampling_params(request(n=3, temperature=0.0)).n == 1  # vLLM refuses greedy n > 1


def test_vllm_backend_batches_into_one_chat_call(monkeypatch):
    """The batching logic, with a stand-in `vllm` module (the real one needs a GPU)."""
    import types
    from dataclasses import dataclass as dc

    @dc
    class StructuredOutputsParams:
        json: dict
        disable_any_whitespace: bool = False

    @dc
    class SamplingParams:
        n: int
        temperature: float
        max_tokens: int | None
        seed: int | None
        structured_outputs: StructuredOutputsParams | None = None

    class LLM:
        def __init__(self, model, **kwargs):
            self.calls = []

        def chat(self, conversations, sampling_params, use_tqdm):
            self.calls.append((conversations, sampling_params))
            return [
                types.SimpleNamespace(
                    prompt_token_ids=[1, 2, 3],
                    outputs=[types.SimpleNamespace(text=f"{i}:{k}", token_ids=[7] * 4) for k in range(p.n)],
                )
                for i, p in enumerate(sampling_params)
            ]

    fake = types.ModuleType("vllm")
    fake.LLM, fake.SamplingParams = LLM, SamplingParams
    fake.sampling_params = types.ModuleType("vllm.sampling_params")
    fake.sampling_params.StructuredOutputsParams = StructuredOutputsParams
    monkeypatch.setitem(sys.modules, "vllm", fake)
    monkeypatch.setitem(sys.modules, "vllm.sampling_params", fake.sampling_params)

    from nlopt_milp.formulate.llm import VLLMBackend

    backend = VLLMBackend("some/model", gpu_memory_utilization=0.8)
    completions = backend.complete_batch([request(n=2, temperature=0.7, seed=1), request(n=3), request(schema=None)])
    (call,) = backend._llm.calls
    assert call[0] == [MESSAGES] * 3
    assert [p.n for p in call[1]] == [2, 1, 1]  # greedy asks once ...
    assert call[1][0].structured_outputs.json == SCHEMA and call[1][2].structured_outputs is None
    assert [c.texts for c in completions] == [["0:0", "0:1"], ["1:0"] * 3, ["2:0"]]  # ... and repeats it
    assert completions[0].prompt_tokens == 3 and completions[0].completion_tokens == 8
    assert backend.describe() == {"backend": "vllm", "model": "some/model", "engine": {"gpu_memory_utilization": 0.8}}

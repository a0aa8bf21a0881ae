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
    DeadlineExceeded,
    NoJSONFound,
    NotAnLLMServer,
    OpenAIBackend,
    ReplyTooLarge,
    extract_json,
    forget_structured_forms,
)
from scripted_server import LLAMA_CPP_REJECTION, Reply, ScriptedServer, unused_base_url

# Error bodies of real servers.
OLD_LLAMA_SERVER_N_REJECTION = {"error": {"code": 500, "message": "Only one completion choice is allowed",
                                          "type": "server_error"}}
OLD_LLAMA_SERVER_FORMAT_REJECTION = {"error": {"code": 500, "type": "server_error", "message":
                                               'response_format type must be one of "text" or "json_object", '
                                               "but got: json_schema"}}

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


def test_greedy_n_asks_once_and_repeats(scripted_server):
    """At temperature 0 every sample is the same draw (and vLLM refuses greedy n > 1): ask once."""
    scripted_server.script('{"x": 3}', '{"x": 4}')
    completion = backend_for(scripted_server).complete(request(n=3))
    assert completion.texts == ['{"x": 3}'] * 3
    assert [r.json["n"] for r in scripted_server.chat_requests] == [1]


def test_llama_server_refusing_n_is_asked_one_at_a_time(scripted_server):
    """Older llama-server answers n > 1 with HTTP 500: not transient, so not retried."""
    def old_llama_server(body: dict) -> Reply:
        if body["n"] > 1:
            return Reply(status=500, body=OLD_LLAMA_SERVER_N_REJECTION)
        return Reply(content=f'{{"x": {body["seed"]}}}')

    scripted_server.owned_by = "llamacpp"
    scripted_server.responder = old_llama_server
    completion = backend_for(scripted_server).complete(request(n=3, temperature=0.7, seed=5))
    assert completion.texts == ['{"x": 5}', '{"x": 6}', '{"x": 7}']
    assert [r.json["n"] for r in scripted_server.chat_requests] == [3, 1, 1, 1]


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
    scripted_server.default = Reply(content='{"x": 3}', delay=15.0)
    backend = backend_for(scripted_server, model="m", timeout=0.5, max_retries=1)
    started = time.perf_counter()
    with pytest.raises(BackendError, match=r"within 0.5 s \(--timeout\), twice"):
        backend.complete(request())
    assert time.perf_counter() - started < 15  # cut off long before one reply would have come
    # Retried once; on a loaded machine the first may time out before it is even sent.
    assert 1 <= len(scripted_server.chat_requests) <= 2


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
    # Not json_object: an unknown server may accept it and ignore its schema.
    assert kinds == ["json_schema", None]


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

    offline = CachedBackend(None, tmp_path)  # recorded without --model: replayed without one
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
    code = "import sys, nlopt_milp, nlopt_milp.formulate.llm; print('vllm' in sys.modules, 'openai' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False False"  # openai too: it is imported by the first request


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


# --- bounds: faulty servers (issue 7 point 8, issue 8 point 4) ----------------------------
# Each must end within about twice the timeout (one retry of a timed-out request); the
# margins are generous on purpose: what is checked is the error, not the speed.

FAULT_TIMEOUT = 2.0


@pytest.mark.parametrize("fault", ["drip_headers", "drip_body", "endless_chunked"])
def test_slow_servers_are_cut_off_at_the_timeout(scripted_server, fault):
    scripted_server.default = Reply(fault=fault, drip=0.2)
    backend = backend_for(scripted_server, model="m", timeout=FAULT_TIMEOUT, max_retries=0)
    started = time.monotonic()
    with pytest.raises(BackendError, match=r"no complete reply within 2 s \(--timeout\), twice") as info:
        backend.complete(request())
    assert not isinstance(info.value, DeadlineExceeded)
    assert time.monotonic() - started < 2 * FAULT_TIMEOUT + 20
    # Retried once; on a loaded machine the first may time out before it is even sent.
    assert 1 <= len(scripted_server.chat_requests) <= 2


def test_timeouts_are_retried_once_even_with_retries_left(scripted_server):
    scripted_server.default = Reply(fault="drip_body", drip=0.2)
    backend = backend_for(scripted_server, model="m", timeout=1.0, max_retries=3)
    with pytest.raises(BackendError, match="twice"):
        backend.complete(request())
    # Retried once; on a loaded machine the first may time out before it is even sent.
    assert 1 <= len(scripted_server.chat_requests) <= 2


def test_deadline_cuts_a_slow_request(scripted_server):
    scripted_server.default = Reply(fault="drip_headers", drip=0.2)
    backend = backend_for(scripted_server, model="m", timeout=30, deadline=1.5)
    started = time.monotonic()
    with pytest.raises(DeadlineExceeded, match=r"deadline of 1.5 s \(--deadline\) passed while waiting for "
                                               r"POST http://127.0.0.1:\d+/v1/chat/completions"):
        backend.complete(request())
    assert time.monotonic() - started < 30
    # Once passed, nothing more is sent.
    with pytest.raises(DeadlineExceeded):
        backend.complete(request())
    assert len(scripted_server.chat_requests) == 1


def test_huge_reply_stops_at_the_size_cap(scripted_server):
    scripted_server.default = Reply(fault="huge")  # endless, as fast as the socket goes
    backend = backend_for(scripted_server, model="m", timeout=60)
    with pytest.raises(ReplyTooLarge, match=r"exceeds 4,194,304 bytes \(the cap is 4,194,304 bytes or 256 per "
                                            r"--max-tokens token\); stopped reading"):
        backend.complete(request())
    assert len(scripted_server.chat_requests) == 1  # too large is not retried


def test_size_cap_grows_with_max_tokens(scripted_server):
    scripted_server.default = Reply(fault="huge", size=5_000_000)
    backend = backend_for(scripted_server, model="m", timeout=60)
    with pytest.raises(BackendError, match="the reply is not JSON"):  # read whole (5 MB < 256 x 40,000)
        backend.complete(request(max_tokens=40_000))
    with pytest.raises(ReplyTooLarge, match="exceeds 1,000 bytes; stopped"):
        backend_for(scripted_server, model="m", max_reply_bytes=1000).complete(request())


def test_error_bodies_are_read_only_in_part(scripted_server):
    scripted_server.script(Reply(status=400, body="x" * 10_000_000))
    with pytest.raises(BackendError, match=r"HTTP 400: x{100}") as info:
        backend_for(scripted_server, model="m").complete(request())
    assert len(str(info.value)) < 400


def test_deeply_nested_reply_body_is_an_error(scripted_server):
    scripted_server.streams = False
    scripted_server.script(Reply(status=200, body='{"choices": ' + "[" * 100_000 + "]" * 100_000 + "}"))
    with pytest.raises(BackendError, match="the reply is not JSON"):
        backend_for(scripted_server, model="m").complete(request())


def test_deeply_nested_content_is_refused_by_extract_json(scripted_server):
    deep = '{"a": ' * 1000 + "1" + "}" * 1000
    scripted_server.script(deep)
    completion = backend_for(scripted_server, model="m").complete(request())
    assert completion.texts == [deep]
    with pytest.raises(NoJSONFound, match="nests deeper than 200 levels"):
        extract_json(completion.texts[0])


def test_unclosed_nesting_content_is_refused_by_extract_json(scripted_server):
    scripted_server.streams = False  # 2 MB streamed in 4-character events would exceed the cap
    junk = '{"b":[' * (2_000_000 // 6)
    scripted_server.script(junk)
    completion = backend_for(scripted_server, model="m").complete(request())
    with pytest.raises(NoJSONFound, match="nests deeper than 200 levels"):
        extract_json(completion.texts[0])


@pytest.mark.parametrize("text", [
    "x {" * 150 + '{"x": 3}',  # unclosed prose braces before the answer (fewer than the depth limit)
    "{" * 150 + '{"x": 3} {"y": 1}',
    'He said "yes" then {"x": 3}',  # quotes in prose
    "[1, 2] {x} ] } " + '{"x": 3}',  # stray closers
], ids=["unclosed-prose", "nested-unclosed", "quotes", "stray-closers"])
def test_extract_json_finds_objects_after_junk(text):
    assert extract_json(text) == {"x": 3}


# --- junk in a reply (issue 7 point 14) ------------------------------------------------------


@pytest.mark.parametrize("streams", [True, False])
@pytest.mark.parametrize("usage", [{"prompt_tokens": "a", "completion_tokens": None}, "junk", [1],
                                   {"prompt_tokens": -5, "completion_tokens": 1e300}, {"prompt_tokens": True}])
def test_junk_usage_counts_as_zero(scripted_server, streams, usage):
    scripted_server.streams = streams
    scripted_server.script(Reply(content='{"x": 3}', usage=usage))
    backend = backend_for(scripted_server, model="m")
    backend.on_tokens = lambda k: None  # someone listens: the reply is streamed if the server streams
    completion = backend.complete(request())
    assert completion.texts == ['{"x": 3}']
    assert completion.prompt_tokens == 0
    assert completion.completion_tokens == (2 if streams else 0)  # streamed: one per content event


@pytest.mark.parametrize("body, message", [
    ({"choices": "x"}, "choices are not a list of objects"),
    ({"choices": [1, 2]}, "choices are not a list of objects"),
    ({"choices": []}, "holds no choices"),
    ({"nothing": 1}, "choices are not a list of objects"),
    ([1, 2], "the reply is list, not a JSON object"),
    ({"choices": [{"message": {"content": 5}}]}, "the reply's content is int, not text"),
    ({"error": {"message": "model \u001b[2Jcrashed"}}, r"the server reported an error: model \?\[2Jcrashed"),
    ("<html>hello</html>", "the reply is not JSON: '<html>hello</html>'"),
])
def test_junk_replies_are_backend_errors(scripted_server, body, message):
    scripted_server.streams = False
    scripted_server.script(Reply(status=200, body=body if isinstance(body, str) else json.dumps(body)))
    with pytest.raises(BackendError, match=message):
        backend_for(scripted_server, model="m").complete(request())


def test_junk_fields_with_defaults(scripted_server):
    scripted_server.streams = False
    body = {"model": 5, "choices": [{"message": {"content": None}, "finish_reason": 7},
                                    {"message": {"content": [{"type": "text", "text": "a"}, {"text": "b"}]}}]}
    scripted_server.script(Reply(status=200, body=json.dumps(body)))
    completion = backend_for(scripted_server, model="m").complete(request(n=2, temperature=0.5))
    assert completion.texts == ["", "ab"] and completion.finish_reasons == ["", ""]
    assert completion.model == "m"


@pytest.mark.parametrize("event, message", [
    (b"data: {oops\n\n", "a streamed event is not JSON: '{oops'"),
    (b'data: {"error": {"message": "out of memory"}}\n\n', "the server reported an error: out of memory"),
    (b"data: [DONE]\n\n", "the streamed reply holds no choices"),
])
def test_junk_event_streams_are_backend_errors(scripted_server, event, message):
    scripted_server.script(Reply(status=200, body=event.decode(), headers={"Content-Type": "text/event-stream"}))
    with pytest.raises(BackendError, match=message):
        backend_for(scripted_server, model="m").complete(request())


# --- streaming and progress (issue 8 point 1) ---------------------------------------------------


def test_streamed_reply_reports_tokens_as_they_arrive(scripted_server):
    text = '{"x": 3, "name": "a longer answer"}'
    scripted_server.script(text)
    backend = backend_for(scripted_server, model="m")
    seen: list[int] = []
    backend.on_tokens = seen.append
    completion = backend.complete(request(max_tokens=100))
    assert completion.texts == [text] and completion.finish_reasons == ["stop"]
    sent = scripted_server.chat_requests[0].json
    assert sent["stream"] is True and sent["stream_options"] == {"include_usage": True}
    assert seen == [1] * len(range(0, len(text), 4))  # one per content event
    assert completion.completion_tokens == len(text.split())  # the server's own count, from the usage event


def test_server_that_does_not_stream_is_read_whole(scripted_server):
    scripted_server.streams = False
    scripted_server.script('{"x": 3}')
    backend = backend_for(scripted_server, model="m")
    seen: list[int] = []
    backend.on_tokens = seen.append
    assert backend.complete(request()).texts == ['{"x": 3}']
    assert seen == [2]  # the usage count, once


def test_server_refusing_stream_is_asked_without(scripted_server):
    def no_streaming(body: dict) -> Reply:
        if body.get("stream"):
            return Reply(status=400, body={"error": {"message": "stream is not supported"}})
        return Reply(content='{"x": 3}')

    scripted_server.responder = no_streaming
    backend = backend_for(scripted_server, model="m")
    backend.on_tokens = lambda k: None
    assert backend.complete(request()).texts == ['{"x": 3}']
    assert backend.complete(request()).texts == ['{"x": 3}']
    assert [bool(r.json.get("stream")) for r in scripted_server.chat_requests] == [True, False, False]


def test_streaming_only_for_one_sample_with_a_listener(scripted_server):
    scripted_server.default = Reply(content='{"x": 1}')
    backend = backend_for(scripted_server, model="m")
    backend.complete(request())  # nobody listens: read whole (streaming costs parsing per token)
    backend.on_tokens = lambda k: None
    backend.complete(request(n=2, temperature=0.7))  # several samples: read whole
    backend.complete(request())
    assert [r.json.get("stream") for r in scripted_server.chat_requests] == [None, None, True]


def test_wrappers_pass_on_tokens_through(scripted_server, tmp_path):
    from nlopt_milp.formulate.llm import BatchingBackend

    inner = backend_for(scripted_server, model="m")
    seen: list[int] = []
    CachedBackend(BatchingBackend(inner), tmp_path).on_tokens = seen.append
    assert inner.on_tokens == seen.append
    scripted_server.script('{"x": 3}')
    CachedBackend(inner, tmp_path).complete(request())
    assert sum(seen) == 2


# --- server families and structured-output forms (issue 8 points 5, 12b) ----------------------


@pytest.mark.parametrize("owned_by, rejection, expected", [
    # llama.cpp servers: their json_object form carries the schema as a grammar.
    ("me", (500, LLAMA_CPP_REJECTION), ["json_schema", "json_object"]),
    ("llamacpp", (500, OLD_LLAMA_SERVER_FORMAT_REJECTION), ["json_schema", "json_object"]),
    # An unknown server whose message names json_object as the accepted form.
    ("someone", (500, OLD_LLAMA_SERVER_FORMAT_REJECTION), ["json_schema", "json_object"]),
    # Ollama's json_object ignores the schema: plain requests instead.
    ("library", (400, {"error": {"message": "response_format json_schema is not supported",
                                 "type": "invalid_request_error", "param": None, "code": None}}),
     ["json_schema", None]),
    ("someone", (422, {"detail": "unknown field: response_format"}), ["json_schema", None]),
])
def test_demotion_goes_only_to_forms_the_server_honours(scripted_server, owned_by, rejection, expected):
    status, body = rejection

    def server(request_body: dict) -> Reply:
        if (request_body.get("response_format") or {}).get("type") == "json_schema":
            return Reply(status=status, body=body)
        return Reply(content='{"x": 3}')

    scripted_server.owned_by = owned_by
    scripted_server.responder = server
    assert backend_for(scripted_server).complete(request()).texts == ['{"x": 3}']
    kinds = [(r.json.get("response_format") or {}).get("type") for r in scripted_server.chat_requests]
    assert kinds == expected  # and a 500 refusal is not retried as if transient


@pytest.mark.parametrize("owned_by", ["vllm", "sglang"])
def test_vllm_and_sglang_are_never_demoted(scripted_server, owned_by):
    body = {"error": {"message": "response_format.json_schema: unsupported keyword 'foo' in schema",
                      "type": "BadRequestError", "code": 400}}
    scripted_server.owned_by = owned_by
    scripted_server.default = Reply(status=400, body=body)
    with pytest.raises(BackendError, match=rf"HTTP 400: response_format.json_schema: unsupported keyword.*"
                                           rf"{owned_by} server: its json_schema structured output"):
        backend_for(scripted_server).complete(request())
    assert len(scripted_server.chat_requests) == 1
    assert backend_for(scripted_server).structured_form is None


def test_other_errors_mentioning_response_format_do_not_demote(scripted_server):
    scripted_server.owned_by = "me"
    scripted_server.script(Reply(status=400, body={"error": {"message": "prompt too long for response_format "
                                                                        "grammar: 9000 > 4096 tokens"}}))
    with pytest.raises(BackendError, match="HTTP 400: prompt too long"):
        backend_for(scripted_server).complete(request())
    assert len(scripted_server.chat_requests) == 1


def test_accepted_form_is_remembered_in_the_user_cache(scripted_server, tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    scripted_server.reject_json_schema = True  # llama-cpp-python
    scripted_server.owned_by = "me"
    scripted_server.default = Reply(content='{"x": 3}')
    backend_for(scripted_server).complete(request())
    assert len(scripted_server.chat_requests) == 2
    saved = json.loads((tmp_path / "nlopt" / "structured_forms.json").read_text())
    (entry,) = saved["servers"].values()
    assert entry["form"] == "json_object" and entry["models"] == ["scripted-model"]

    forget_structured_forms()  # as a new process: only the file remembers
    backend_for(scripted_server).complete(request())
    assert len(scripted_server.chat_requests) == 3
    assert scripted_server.chat_requests[-1].json["response_format"]["type"] == "json_object"

    forget_structured_forms()
    scripted_server.models = ["scripted-model", "another-model"]  # the server changed: negotiate again
    backend_for(scripted_server, model="scripted-model").complete(request())
    kinds = [r.json["response_format"]["type"] for r in scripted_server.chat_requests[3:]]
    assert kinds == ["json_schema", "json_object"]


def test_unreadable_form_cache_is_ignored(scripted_server, tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    (tmp_path / "nlopt").mkdir()
    (tmp_path / "nlopt" / "structured_forms.json").write_text("[" * 100_000)
    scripted_server.script('{"x": 3}')
    assert backend_for(scripted_server).complete(request()).texts == ['{"x": 3}']
    assert json.loads((tmp_path / "nlopt" / "structured_forms.json").read_text())["version"] == 1


# --- not an LLM server (issue 7 point 21) ---------------------------------------------------


@pytest.mark.parametrize("answer, said", ids=["404", "html", "other-json"], argvalues=[
    (Reply(status=404, body="Not Found", headers={"Content-Type": "text/plain"}),
     r"HTTP 404 \(text/plain\): 'Not Found'"),
    (Reply(status=200, body="<html><body>\u001b[31mWelcome</body></html>", headers={"Content-Type": "text/html"}),
     r"HTTP 200 \(text/html\): '<html><body>\?\[31mWelcome"),
    (Reply(status=200, body={"models": ["a"]}), r"HTTP 200 \(application/json\): '\{\"models\""),
])
def test_web_server_that_is_not_an_llm_server(answer, said):
    with ScriptedServer(models_reply=answer) as server:
        with pytest.raises(NotAnLLMServer, match=said + r".*not an OpenAI-compatible model server"):
            OpenAIBackend(server.base_url).complete(request())
        report = OpenAIBackend(server.base_url).probe()
        assert report["reachable"] is True and report["llm_server"] is False
        out = subprocess.run([sys.executable, "-m", "nlopt_milp.cli.app", "backends", "--base-url", server.base_url],
                             capture_output=True, text=True, timeout=120)
    assert out.returncode == 6, out.stdout + out.stderr
    printed = " ".join(out.stdout.split())  # rich wraps long lines
    assert "not an LLM server" in printed and "not an OpenAI-compatible model server" in printed
    assert "\u001b" not in out.stdout


@pytest.mark.parametrize("fault", ["drip_headers", "huge"])
def test_faulty_model_list_is_bounded(fault):
    with ScriptedServer(models_reply=Reply(fault=fault, drip=0.2)) as server:
        started = time.monotonic()
        out = subprocess.run([sys.executable, "-m", "nlopt_milp.cli.app", "backends", "--base-url", server.base_url,
                              "--timeout", "2", "--json"], capture_output=True, text=True, timeout=120)
    assert time.monotonic() - started < 60
    assert out.returncode == 6, out.stderr
    error = json.loads(out.stdout)["error"]
    assert ("no complete reply within 2 s" if fault == "drip_headers" else "exceeds 4,194,304 bytes") in error


def test_backends_command_on_a_real_llm_server(scripted_server):
    scripted_server.default = Reply(content='{"ok": true}')
    out = subprocess.run([sys.executable, "-m", "nlopt_milp.cli.app", "backends", "--base-url",
                          scripted_server.base_url, "--json"], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    report = json.loads(out.stdout)
    assert report["llm_server"] is True and report["structured_output"] is True


# --- environment ---------------------------------------------------------------------------


def test_openai_environment_variables(scripted_server, monkeypatch):
    for name in ("NLOPT_BASE_URL", "NLOPT_MODEL", "NLOPT_API_KEY"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("OPENAI_BASE_URL", scripted_server.base_url)
    monkeypatch.setenv("OPENAI_API_KEY", "openai-key")
    scripted_server.script('{"x": 3}', '{"x": 3}')
    backend = OpenAIBackend.from_env()
    assert backend.base_url == scripted_server.base_url
    backend.complete(request())
    assert scripted_server.chat_requests[0].headers["Authorization"] == "Bearer openai-key"

    monkeypatch.setenv("NLOPT_API_KEY", "ours-win")
    OpenAIBackend.from_env().complete(request())
    assert scripted_server.chat_requests[1].headers["Authorization"] == "Bearer ours-win"


def test_no_key_sends_no_authorization(scripted_server, monkeypatch):
    monkeypatch.delenv("NLOPT_API_KEY", raising=False)
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    scripted_server.script('{"x": 3}')
    OpenAIBackend.from_env(base_url=scripted_server.base_url).complete(request())
    assert scripted_server.chat_requests[0].headers.get("Authorization") is None


# --- offline replay (issue 8 point 6) --------------------------------------------------------


def test_cache_replays_offline_without_model(tmp_path):
    with ScriptedServer(models=["served-model"]) as server:
        server.script('{"x": 3}')
        url = server.base_url
        recorded = CachedBackend(OpenAIBackend(url), tmp_path).complete(request())
        assert recorded.model == "served-model"
    # Same arguments, no server: every request is a hit, and nothing asks the server.
    replay = CachedBackend(OpenAIBackend(url), tmp_path)
    assert replay.complete(request()) == recorded
    assert replay.model == "served-model"  # the recorded name
    with pytest.raises(BackendUnavailable):
        replay.complete(request(seed=1))  # a miss needs the server


# --- the CLI: --deadline and offline replay (issue 8 points 4, 6) ---------------------------

from pathlib import Path  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
PROBLEM_TEXT = "A shop makes chairs (profit 30) and tables (profit 50) from 100 hours of labor; maximize profit."


def nlopt(*args: str, timeout: float = 120) -> subprocess.CompletedProcess:
    import os

    env = {k: v for k, v in os.environ.items() if not k.startswith(("NLOPT_", "OPENAI_"))}
    env["COLUMNS"] = "200"
    return subprocess.run([sys.executable, "-m", "nlopt_milp.cli.app", *map(str, args)], capture_output=True,
                          text=True, timeout=timeout, env=env, cwd=ROOT, stdin=subprocess.DEVNULL)


def test_default_deadline_is_derived_from_timeout():
    from nlopt_milp.cli.llm_cmds import LLMOptions

    assert LLMOptions(timeout=10, max_repairs=2).command_deadline() == 50
    assert LLMOptions(timeout=10, deadline=7).command_deadline() == 7
    assert LLMOptions().command_deadline() == 120 * 6


def test_deadline_ends_the_command_and_names_the_stage(scripted_server, tmp_path):
    problem = tmp_path / "problem.txt"
    problem.write_text(PROBLEM_TEXT)
    scripted_server.default = Reply(fault="drip_body", drip=0.2)
    started = time.monotonic()
    out = nlopt("solve", problem, "--base-url", scripted_server.base_url, "--timeout", "20", "--deadline", "2")
    assert time.monotonic() - started < 60
    assert out.returncode == 6, out.stdout + out.stderr
    message = " ".join(out.stderr.split())
    assert "entities stage: the deadline of 2 s (--deadline) passed while waiting for POST" in message
    assert "Traceback" not in out.stderr


def test_cache_replay_needs_no_server_and_no_model(tmp_path):
    problem = tmp_path / "problem.txt"
    problem.write_text(PROBLEM_TEXT)
    formulation = json.loads((ROOT / "examples" / "production_mix.json").read_text())
    formulation.pop("problem")
    with ScriptedServer(default=Reply(content=json.dumps(formulation))) as server:
        url = server.base_url
        args = ["solve", problem, "--mode", "single", "--base-url", url, "--cache", tmp_path / "cache", "--json"]
        first = nlopt(*args)
        assert first.returncode == 0, first.stderr
    second = nlopt(*args)  # the same arguments, nothing listening
    assert second.returncode == 0, second.stderr
    assert json.loads(second.stdout)["objective"] == json.loads(first.stdout)["objective"]


# --- extract_json on arbitrary input (property) --------------------------------------------

from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

_JUNK = st.text(alphabet=st.sampled_from('{}[]",:\\ ab1\n'), max_size=300)
_JSON_OBJECTS = st.recursive(
    st.none() | st.booleans() | st.integers(-10, 10) | st.text(alphabet='ab{}[]" \\', max_size=5),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text("ab{}", max_size=3), inner, max_size=3),
    max_leaves=10,
).filter(lambda v: isinstance(v, dict))


@settings(max_examples=300, deadline=None)
@given(_JUNK)
def test_extract_json_never_raises_anything_else(text):
    try:
        assert isinstance(extract_json(text), dict)
    except NoJSONFound:
        pass


@settings(max_examples=300, deadline=None)
@given(_JSON_OBJECTS, st.text(alphabet="ab .:\n", max_size=40), st.text(alphabet="ab .:\n{", max_size=40))
def test_extract_json_finds_an_object_in_brace_free_prose(value, before, after):
    # Prose before the object has no braces; after it, anything (an unclosed brace too).
    assert extract_json(before + json.dumps(value) + after) == value

"""The formulate pipeline against a real loopback chat-completions server."""

import json
from pathlib import Path

import pytest
from scripted_server import Reply, ScriptedServer

from nlopt_milp.formulate.audit import audit, numbers_in_text
from nlopt_milp.formulate.llm import Backend, BatchingBackend, Completion, OpenAIBackend
from nlopt_milp.formulate.pipeline import STOP_CLEAN, STOP_MAX_REPAIRS, STOP_REPEATED, Pipeline
from nlopt_milp.formulate import prompts as P
from nlopt_milp.core.validate import load

ROOT = Path(__file__).resolve().parents[1]
MIX = json.loads((ROOT / "examples" / "production_mix.json").read_text())
TEXT = MIX["problem"]
# max 30c + 50t s.t. 2c + 4t <= 100, 3c + 2t <= 90, t <= 20, c >= 5.
# The two resource rows cross at t = 15, c = 20: 600 + 750 = 1350 (vertices (10,20): 1300; (30,0): 900).
MIX_OPT = 1350.0


def mix(**changes) -> dict:
    f = json.loads(json.dumps(MIX))
    f.update(changes)
    return f


def backend(server) -> OpenAIBackend:
    return OpenAIBackend(server.base_url, max_retries=1, retry_backoff=0.01, timeout=10)


def user_messages(server) -> list[str]:
    return [r.json["messages"][-1]["content"] for r in server.chat_requests]


def test_single_mode_correct_formulation(scripted_server):
    scripted_server.script(json.dumps(MIX))
    out = Pipeline(backend(scripted_server), mode="single").run(TEXT)
    assert out.best.result.status == "optimal"
    assert out.best.result.objective == pytest.approx(MIX_OPT, rel=1e-9)
    assert out.best.repairs == 0
    req = scripted_server.chat_requests[0].json
    assert req["response_format"]["type"] == "json_schema"
    assert req["response_format"]["json_schema"]["schema"] == P.stage_schema("formulation")
    assert TEXT in req["messages"][-1]["content"]


def test_malformed_json_is_repaired(scripted_server):
    scripted_server.script("Sure! Here is the model: {not json", json.dumps(MIX))
    out = Pipeline(backend(scripted_server), mode="single", max_repairs=2).run(TEXT)
    assert out.best.result.objective == pytest.approx(MIX_OPT)
    assert out.best.repairs == 1
    checks = [e for e in out.trace.events if e.stage == "check"]
    assert checks[0].errors and "no JSON object" in checks[0].errors[0]
    assert checks[1].errors == []
    assert "no JSON object" in user_messages(scripted_server)[1]


def test_schema_violation_reported_with_path(scripted_server):
    bad = mix()
    bad["constraints"][2] = {**bad["constraints"][2], "template": "upper_limit"}
    scripted_server.script(json.dumps(bad), json.dumps(MIX))
    out = Pipeline(backend(scripted_server), mode="single").run(TEXT)
    assert out.best.result.objective == pytest.approx(MIX_OPT)
    repair_prompt = user_messages(scripted_server)[1]
    assert "constraints[2].template: unknown template 'upper_limit'" in repair_prompt


def test_infeasible_then_corrected(scripted_server):
    bad = mix()
    bad["constraints"][3]["slots"]["limit"] = "500"  # 500 chairs need 1000 labor hours
    scripted_server.script(json.dumps(bad), json.dumps(MIX))
    out = Pipeline(backend(scripted_server), mode="single").run(TEXT)
    assert out.best.result.objective == pytest.approx(MIX_OPT)
    first_check = [e for e in out.trace.events if e.stage == "check"][0]
    assert first_check.responses == ["infeasible"]
    repair_prompt = user_messages(scripted_server)[1]
    assert "infeasible" in repair_prompt and "chair_order" in repair_prompt


def test_server_error_then_success(scripted_server):
    scripted_server.script(Reply(status=500, body="boom"), json.dumps(MIX))
    out = Pipeline(backend(scripted_server), mode="single").run(TEXT)
    assert out.best.result.objective == pytest.approx(MIX_OPT)
    assert len(scripted_server.chat_requests) == 2


def test_repairs_are_bounded_and_last_error_kept(scripted_server):
    scripted_server.script("{}", '{"sets": []}', '{"parameters": []}', "{}")  # three different failing replies
    out = Pipeline(backend(scripted_server), mode="single", max_repairs=2).run(TEXT)
    assert out.chosen is None
    assert out.best.repairs == 2 and out.best.error_kind == "validation_error"
    assert any("variables: required field missing" in e for e in out.best.errors)
    assert len(scripted_server.chat_requests) == 3
    assert out.best.stop_reason == STOP_MAX_REPAIRS
    assert [e.responses for e in out.trace.events if e.stage == "stop"] == [[STOP_MAX_REPAIRS]]


def test_repair_stops_when_a_reply_repeats(scripted_server):
    # Round 2 brings back round 1's reply (laid out differently): the same verdict and the same
    # feedback follow, so a third request would be wasted.
    bad = mix()
    del bad["variables"]
    scripted_server.script(json.dumps(bad), json.dumps(mix(variables=[])), json.dumps(mix(variables=[]), indent=3),
                           json.dumps(MIX))
    out = Pipeline(backend(scripted_server), mode="single", max_repairs=3).run(TEXT)
    assert len(scripted_server.chat_requests) == 3
    assert out.chosen is None and out.best.repairs == 2
    assert out.best.stop_reason == STOP_REPEATED
    stops = [e for e in out.trace.events if e.stage == "stop"]
    assert [(e.sample, e.round, e.responses) for e in stops] == [(0, 2, [STOP_REPEATED])]
    # the first draft counts too: a repair that returns it unchanged stops at once
    server2 = ScriptedServer().__enter__()
    try:
        server2.script(json.dumps(bad), json.dumps(bad), json.dumps(MIX))
        out = Pipeline(backend(server2), mode="single", max_repairs=3).run(TEXT)
        assert len(server2.chat_requests) == 2 and out.best.stop_reason == STOP_REPEATED
    finally:
        server2.__exit__(None, None, None)


def test_clean_sample_records_why_it_stopped(scripted_server):
    scripted_server.script(json.dumps(MIX))
    out = Pipeline(backend(scripted_server), mode="single").run(TEXT)
    assert out.best.stop_reason == STOP_CLEAN
    assert out.trace.events[-1].stage == "stop" and out.trace.events[-1].responses == [STOP_CLEAN]


def test_staged_mode_three_requests():
    answers = P.stage_answers({"problem": TEXT, "formulation": MIX})
    with ScriptedServer() as server:
        server.script(*(json.dumps(answers[s]) for s in ("entities", "classify", "fill")))
        out = Pipeline(backend(server), mode="staged").run(TEXT)
        stages = [r.json["response_format"]["json_schema"]["name"] for r in server.chat_requests]
        schemas = [r.json["response_format"]["json_schema"]["schema"] for r in server.chat_requests]
    assert stages == ["entities", "classify", "fill"]
    assert schemas[0] == P.stage_schema("entities")
    assert schemas[1] == P.classify_schema(TEXT)
    assert list(schemas[2]["properties"]["constraints"]["properties"]) == [c["name"] for c in MIX["constraints"]]
    assert out.best.result.objective == pytest.approx(MIX_OPT)


def test_voting_reports_agreement(scripted_server):
    other = mix()
    other["parameters"][0]["value"] = [30, 60]  # a different model of the same text
    scripted_server.script(json.dumps(MIX), json.dumps(other), json.dumps(MIX))
    # review=False: `other` leaves the 50 of the text unused, which would earn it a review round
    out = Pipeline(backend(scripted_server), mode="single", samples=3, review=False).run(TEXT)
    assert len(scripted_server.chat_requests) == 1  # one request with n=3
    assert scripted_server.chat_requests[0].json["n"] == 3
    assert out.best.result.objective == pytest.approx(MIX_OPT)
    assert out.agreement == "2 of 3 samples agree"
    assert sorted(round(s.result.objective) for s in out.samples) == [1350, 1350, 1500]


def test_formulate_only_does_not_solve(scripted_server):
    bad = mix()
    bad["constraints"][3]["slots"]["limit"] = "500"  # infeasible, but formulate() does not solve
    scripted_server.script(json.dumps(bad))
    out = Pipeline(backend(scripted_server), mode="single").formulate(TEXT)
    assert out.best.formulation is not None and out.best.result is None
    assert len(scripted_server.chat_requests) == 1


def test_audit_findings():
    f = load(mix())
    assert audit(f, TEXT) == []
    dropped = mix()
    del dropped["constraints"][2]  # "At most 20 tables" no longer used
    dropped["variables"].append({"name": "idle"})
    dropped["constraints"][0]["source"] = "The workshop has lots of hours."
    findings = audit(load(dropped), TEXT)
    kinds = sorted(f.kind for f in findings)
    assert kinds == ["source_not_found", "unused_number", "unused_variable"]
    assert any("20" in f.message for f in findings if f.kind == "unused_number")
    listed = mix(unused_numbers=[{"value": "20", "reason": "not binding"}])
    del listed["constraints"][2]
    assert [f.kind for f in audit(load(listed), TEXT)] == []


def test_numbers_in_text():
    got = numbers_in_text("Costs $1,500 and 20% of 3.5 tons; item2 is a name.")
    assert got == [(1500.0, "$1,500"), (0.2, "20%"), (3.5, "3.5")]


def test_every_schema_sent_compiles_with_llguidance():
    # llguidance is the engine of vLLM's `guidance` structured-output backend.
    llguidance = pytest.importorskip("llguidance")
    from nlopt_milp.core.formulation import json_schema
    from nlopt_milp.formulate.backends.openai_compatible import _grammar_friendly
    from nlopt_milp.formulate.llm import PROBE_SCHEMA

    schemas = {stage: P.stage_schema(stage) for stage in P.STAGE_MODELS}
    schemas["nlopt schema"] = json_schema()
    schemas["probe"] = PROBE_SCHEMA
    schemas.update({f"{k} (json_object form)": _grammar_friendly(v) for k, v in list(schemas.items())})
    for name, schema in schemas.items():
        grammar = llguidance.LLMatcher.grammar_from_json_schema(schema)
        assert llguidance.LLMatcher.validate_grammar(grammar) == "", name


def test_reply_cut_off_at_token_limit_is_reported_as_such(scripted_server):
    # A truncated reply may still hold a complete inner object; it must not be read as the answer.
    cut = json.dumps(MIX)[:600]
    scripted_server.script(Reply(content=cut, finish_reason="length"), json.dumps(MIX))
    out = Pipeline(backend(scripted_server), mode="single", max_tokens=200).run(TEXT)
    assert out.best.result.objective == pytest.approx(MIX_OPT)
    first_check = [e for e in out.trace.events if e.stage == "check"][0]
    assert first_check.errors == ["the reply was cut off at the token limit before the JSON was complete; "
                                  "write it more compactly"]
    assert out.trace.events[0].finish_reasons == ["length"]
    assert "cut off at the token limit" in user_messages(scripted_server)[1]


class _AnswerBook(Backend):
    """An in-process backend (like vLLM's engine) that answers a whole batch at once."""

    model = "answer-book"

    def __init__(self, answers: dict[str, str]):
        self.answers = answers
        self.batches: list[int] = []

    def complete(self, req):
        return self.complete_batch([req])[0]

    def complete_batch(self, reqs):
        self.batches.append(len(reqs))
        out = []
        for r in reqs:
            user = r.messages[-1]["content"]
            text = next(a for q, a in self.answers.items() if user.rstrip().endswith(q))
            out.append(Completion(texts=[text] * r.n, model=self.model))
        return out


def test_concurrent_problems_go_to_the_engine_as_one_batch(tmp_path):
    import asyncio

    from nlopt_milp.eval.datasets import Sample
    from nlopt_milp.eval.runner import EvalOptions, run_eval

    texts = [f"{TEXT} (variant {k})" for k in range(5)]
    book = _AnswerBook({t: json.dumps(MIX) for t in texts})
    batching = BatchingBackend(book, window=0.2)
    samples = [Sample(id=str(k), question=t, answer=MIX_OPT, raw_answer=MIX_OPT, benchmark="b")
               for k, t in enumerate(texts)]
    opts = EvalOptions(mode="single", max_repairs=0, concurrency=32)
    records = asyncio.run(run_eval(samples, batching, tmp_path / "log.jsonl", opts, {}, executor=None))
    assert sorted(r["id"] for r in records) == ["0", "1", "2", "3", "4"]
    assert all(r["correct"] for r in records)
    assert book.batches == [5]  # all five problems' requests in one engine call


def test_eval_log_keeps_each_samples_audit_findings(tmp_path):
    """The report shows a failed or doubtful problem's audit findings: the log must carry them."""
    import asyncio

    from nlopt_milp.eval.datasets import Sample
    from nlopt_milp.eval.runner import EvalOptions, run_eval

    text = TEXT + " Delivery costs 7 dollars per order."  # a number the formulation leaves unused
    with ScriptedServer() as server:
        server.script(json.dumps(MIX), json.dumps(MIX))  # the draft, then the review round keeps it
        opts = EvalOptions(mode="single", max_repairs=0, concurrency=1)
        records = asyncio.run(run_eval([Sample(id="0", question=text, answer=MIX_OPT, raw_answer=MIX_OPT,
                                               benchmark="b")], backend(server), tmp_path / "log.jsonl", opts, {},
                                       executor=None))
    (rec,) = records
    assert rec["correct"]
    assert any("the number 7 of the problem text is not used" in f for f in rec["samples"][0]["findings"])
    logged = json.loads((tmp_path / "log.jsonl").read_text().splitlines()[-1])
    assert logged["samples"][0]["findings"] == rec["samples"][0]["findings"]

"""Schemas, prompts, examples and stage logic for grammar-constrained decoding (issue 9),
against a real loopback chat-completions server."""

from __future__ import annotations

import copy
import itertools
import json
import re
from pathlib import Path

import pytest
from scripted_server import Reply, ScriptedServer

from nlopt_milp.core.formulation import SLOT_MODELS, TEMPLATE_NAMES, meaning_slots
from nlopt_milp.formulate import prompts as P
from nlopt_milp.formulate.audit import audit
from nlopt_milp.formulate.llm import Backend, ChatRequest, OpenAIBackend, request_key
from nlopt_milp.formulate.pipeline import Pipeline, assess
from nlopt_milp.formulate.voting import majority, verdict, vote
from nlopt_milp.solve import solve

ROOT = Path(__file__).resolve().parents[1]
# ../shared next to the main checkout (worktrees sit one level deeper)
SHARED = next((p / "shared" for p in ROOT.parents if (p / "shared" / "benchmarks").is_dir()), ROOT.parent / "shared")
BANK = {ex["formulation"]["variables"][0]["name"]: ex for ex in P.bank()}
CRATES, PARK, SMOOTHIE = BANK["ship"], BANK["build"], BANK["banana"]

# Test data (not a prompt example): the investment problem of the README.
INVEST_TEXT = ("He has at most $100000 to invest. Telecom gets at least three times as much as healthcare. "
               "At most $70000 can go to telecom. Telecom returns 3% and healthcare 1%; maximize the return.")
INVEST = {
    "variables": [{"name": "t", "description": "dollars in telecom"}, {"name": "h", "description": "dollars in healthcare"}],
    "objective": {"sense": "maximize", "expr": "0.03 * t + 0.01 * h", "description": "return"},
    "constraints": [
        {"name": "budget", "template": "sum_bound", "source": "He has at most $100000 to invest.",
         "slots": {"terms": ["t", "h"], "sense": "<=", "limit": "100000"}},
        {"name": "telecom_vs_health", "template": "multiple",
         "source": "Telecom gets at least three times as much as healthcare.",
         "slots": {"x": "t", "factor": "3", "y": "h", "sense": ">="}},
        {"name": "telecom_cap", "template": "upper_bound", "source": "At most $70000 can go to telecom.",
         "slots": {"var": "t", "limit": "70000"}},
    ],
}
# t = 70000, h = 30000 would violate t >= 3h; t >= 3h binds: h = 70000 / 3, return 2100 + 233.33.
INVEST_OPT = 2100 + 700 / 3


def backend(server) -> OpenAIBackend:
    return OpenAIBackend(server.base_url, max_retries=0, retry_backoff=0.01, timeout=10)


def sent_schema(server, k: int) -> dict:
    return server.chat_requests[k].json["response_format"]["json_schema"]["schema"]


def answering(answers: dict[str, dict | str]):
    """A responder that answers each request from the stage answers, by the stage name of its schema."""
    def respond(req):
        a = answers[req["response_format"]["json_schema"]["name"]]
        return Reply(content=a if isinstance(a, str) else json.dumps(a))
    return respond


# --- byte-level grammar checks ------------------------------------------------------------------


class _ByteTokenizer:
    eos_token_id = 256
    bos_token_id = None
    tokens = [bytes([i]) for i in range(256)] + [b"<eos>"]
    special_token_ids = [256]

    def __call__(self, s):
        return list(s if isinstance(s, bytes) else s.encode())


def llguidance_accepts(schema: dict, text: str) -> bool:
    llguidance = pytest.importorskip("llguidance")
    tok = llguidance.LLTokenizer(llguidance.TokenizerWrapper(_ByteTokenizer()))
    m = llguidance.LLMatcher(tok, llguidance.LLMatcher.grammar_from_json_schema(schema))
    return bool(m.consume_tokens(list(text.encode()))) and m.is_accepting() and not m.is_error()


def xgrammar_accepts(schema: dict, text: str) -> bool:
    xgr = pytest.importorskip("xgrammar")
    from xgrammar.testing import _is_grammar_accept_string  # the library's own acceptance check
    # what vLLM compiles with disable_any_whitespace: no free whitespace, default separators
    return _is_grammar_accept_string(xgr.Grammar.from_json_schema(json.dumps(schema), any_whitespace=False), text)


def stage_schemas(ex: dict) -> dict[str, dict]:
    a = P.stage_answers(ex)
    ent, cls = P.Entities.model_validate(a["entities"]), P.Classification.model_validate(a["classify"])
    return {"entities": P.stage_schema("entities"), "classify": P.classify_schema(ex["problem"]),
            "fill": P.fill_schema(ent, cls), "formulation": P.stage_schema("formulation")}


@pytest.mark.parametrize("name", sorted(BANK))
def test_every_stage_example_is_accepted_by_the_grammar_engines(name):
    ex = BANK[name]
    answers = P.stage_answers(ex)
    for stage, schema in stage_schemas(ex).items():
        text = P._dump(answers[stage])  # exactly as the prompt shows it
        assert llguidance_accepts(schema, text), (name, stage)
        assert xgrammar_accepts(schema, text), (name, stage)


def test_keys_out_of_schema_order_are_refused_by_the_grammar():
    d = P.stage_answers(CRATES)["entities"]
    swapped = {"variables": d["variables"], **{k: v for k, v in d.items() if k != "variables"}}
    assert not llguidance_accepts(P.stage_schema("entities"), P._dump(swapped))
    c = P.stage_answers(CRATES)["formulation"]["constraints"][0]
    assert list(c)[:3] == ["source", "reading", "name"] and list(c)[-2:] == ["template", "slots"]


# --- point 1 and 4: what the model fills -----------------------------------------------------------


def _objects(schema):
    if isinstance(schema, dict):
        if "properties" in schema:
            yield schema
        for v in schema.values():
            yield from _objects(v)
    elif isinstance(schema, list):
        for v in schema:
            yield from _objects(v)


def test_schemas_sent_require_every_property_and_at_least_one_constraint(scripted_server):
    scripted_server.script(json.dumps(P.stage_answers(SMOOTHIE)["formulation"]))
    Pipeline(backend(scripted_server), mode="single").run(SMOOTHIE["problem"])
    schema = sent_schema(scripted_server, 0)
    for obj in _objects(schema):
        assert obj["required"] == list(obj["properties"]), obj
        assert all("default" not in p for p in obj["properties"].values())
    assert schema["properties"]["constraints"]["minItems"] >= 1
    defs = schema["$defs"]
    for template in TEMPLATE_NAMES:
        slots = defs[SLOT_MODELS[template].__name__]
        for slot in meaning_slots(template):  # sense, demand, count: required, and null is not allowed
            assert slot in slots["required"]
            assert {"type": "null"} not in slots["properties"][slot].get("anyOf", [])
    assert {"sense", "factor", "x", "y"} <= set(defs["MultipleSlots"]["required"])
    assert list(schema["properties"]) == ["notes", "sets", "parameters", "variables", "objective", "constraints",
                                          "unused_numbers"]
    assert list(defs["Variable"]["properties"])[:2] == ["name", "description"]


def test_reply_without_sense_is_rejected_by_the_schema_and_by_validation(scripted_server):
    good = P.stage_answers({"problem": INVEST_TEXT, "formulation": INVEST})["formulation"]
    no_sense = copy.deepcopy(good)
    del no_sense["constraints"][1]["slots"]["sense"]  # "at least three times": the old default said <=
    scripted_server.script(json.dumps(no_sense), json.dumps(good))
    out = Pipeline(backend(scripted_server), mode="single").run(INVEST_TEXT)
    schema = sent_schema(scripted_server, 0)
    assert llguidance_accepts(schema, P._dump(good))
    assert not llguidance_accepts(schema, P._dump(no_sense))
    first = [e for e in out.trace.events if e.stage == "check"][0]
    assert first.responses == ["validation_error"]
    assert first.errors[0].startswith("constraints[1].slots.sense: required")
    assert "constraints[1].slots.sense: required" in scripted_server.chat_requests[1].json["messages"][-1]["content"]
    assert out.best.result.objective == pytest.approx(INVEST_OPT, rel=1e-9)


# --- point 2: empty answers and the review round ---------------------------------------------------


def test_empty_constraints_are_repaired(scripted_server):
    good = P.stage_answers(CRATES)["formulation"]
    empty = {**good, "constraints": []}
    scripted_server.script(json.dumps(empty), json.dumps(good))
    out = Pipeline(backend(scripted_server), mode="single").run(CRATES["problem"])
    first = [e for e in out.trace.events if e.stage == "check"][0]
    assert first.errors == ["constraints: at least one constraint is required; every limit, requirement or "
                            "relation of the text is a constraint"]
    assert out.best.result.objective == pytest.approx(790)


def test_solved_draft_with_unused_numbers_gets_a_review_and_the_corrected_reply_wins(scripted_server):
    good = P.stage_answers(CRATES)["formulation"]
    lax = {**good, "constraints": good["constraints"][:1]}  # the shops' needs dropped: cost 0 is "optimal"
    scripted_server.script(json.dumps(lax), json.dumps(good))
    out = Pipeline(backend(scripted_server), mode="single").run(CRATES["problem"])
    checks = [e for e in out.trace.events if e.stage == "check"]
    assert checks[0].responses == ["optimal"] and checks[0].errors == []
    review = scripted_server.chat_requests[1].json["messages"][-1]["content"]
    assert "the number 60 of the problem text is not used" in review
    assert [e.stage for e in out.trace.events if e.messages] == ["formulation", "review"]
    assert out.best.result.objective == pytest.approx(790) and out.best.reviewed and out.best.repairs == 1


def test_a_review_that_breaks_the_formulation_is_not_taken(scripted_server):
    good = P.stage_answers(CRATES)["formulation"]
    lax = {**good, "constraints": good["constraints"][:1]}
    scripted_server.script(json.dumps(lax), "{not json")
    out = Pipeline(backend(scripted_server), mode="single").run(CRATES["problem"])
    assert out.best.result.objective == pytest.approx(0)
    assert "review not taken: the first formulation stands" in out.trace.events[-2].errors
    assert out.trace.events[-1].stage == "stop"


def test_audit_flags_a_variable_that_no_constraint_limits():
    from nlopt_milp.core.validate import load
    f = load({**SMOOTHIE["formulation"], "constraints": SMOOTHIE["formulation"]["constraints"][2:3]})
    kinds = [x.kind for x in audit(f, SMOOTHIE["problem"])]
    assert "unconstrained_variable" in kinds
    assert [x.kind for x in audit(load(SMOOTHIE["formulation"]), SMOOTHIE["problem"])] == []


# --- point 3: voting ---------------------------------------------------------------------------------


def V(x):
    return ("value", float(x))


def test_infeasible_and_unbounded_are_not_one_group():
    # old rule: {infeasible, unbounded} made a group of 2 and beat two different optima
    verdicts = [verdict("infeasible", None), verdict("unbounded", None), V(10), V(20)]
    v = vote(verdicts, findings=[0, 0, 2, 1])
    assert v.chosen == 3 and v.size == 1  # a group with a solution; tie of 1 vs 1 broken by fewer findings
    assert "fewer audit findings" in v.rule


def test_no_solution_wins_only_as_a_strict_majority():
    assert majority([("infeasible",), ("infeasible",), V(5), V(5)]) == (2, 2)
    assert majority([("infeasible",), ("unbounded",), ("infeasible",), V(5), V(5)]) == (0, 2)


def test_grouping_uses_the_scorers_tolerance_and_does_not_depend_on_order():
    # 1e-5 apart relatively: one answer at the scorer's 1e-4 (the old 1e-6 split them)
    assert majority([V(100), V(100.001), V(90)]) == (0, 2)
    values = [100.0, 100.008, 100.016, 100.024, 50.0]  # 8e-5 steps: no chaining into one group of 4
    results = set()
    for perm in itertools.permutations(range(5)):
        v = vote([V(values[i]) for i in perm])
        results.add((round(v.groups[0].value, 6), v.size))
    assert results == {(100.008, 3)}  # two centres have 3 within tolerance: the lower value, whatever the order


def test_ties_go_to_fewer_findings_then_fewer_repairs():
    assert majority([V(1), V(2)], findings=[3, 1]) == (1, 1)
    assert majority([V(1), V(2)], findings=[1, 1], repairs=[2, 0]) == (1, 1)
    assert majority([V(1), V(2)]) == (0, 1)


def test_the_vote_is_in_the_trace(scripted_server):
    good = P.stage_answers(SMOOTHIE)["formulation"]
    other = copy.deepcopy(good)
    other["constraints"][0]["slots"]["limit"] = "160"  # a different answer
    scripted_server.script(json.dumps(other), json.dumps(good), json.dumps(good))
    out = Pipeline(backend(scripted_server), mode="single", samples=3, review=False).run(SMOOTHIE["problem"])
    assert out.trace.vote["groups"][0]["members"] == [1, 2]
    assert out.trace.vote["groups"][0]["value"] == pytest.approx(395)
    assert out.trace.to_json()["vote"]["chosen"] == out.chosen == 1


# --- point 6: stage 3 tied to stage 2 -------------------------------------------------------------------


def test_stage_three_schema_is_keyed_by_the_classified_constraints():
    a = P.stage_answers(CRATES)
    schema = P.fill_schema(P.Entities.model_validate(a["entities"]), P.Classification.model_validate(a["classify"]))
    cons = schema["properties"]["constraints"]
    assert cons["required"] == ["depot_stock", "shop_need"] and cons["additionalProperties"] is False
    need = cons["properties"]["shop_need"]
    assert need["properties"]["slots"]["properties"]["sense"] == {"enum": [">="]}  # decided in stage 2
    assert need["properties"]["forall"]["items"]["properties"]["set"] == {"enum": ["D", "S"]}
    renamed = json.loads(json.dumps(a["fill"]).replace('"shop_need"', '"shop_demand"'))
    assert not llguidance_accepts(schema, P._dump(renamed))
    cls_schema = P.classify_schema(CRATES["problem"])
    assert cls_schema["$defs"]["ClassifiedConstraint"]["properties"]["source"]["enum"] == P.sentences(CRATES["problem"])


def test_stage_two_direction_that_contradicts_its_template_is_asked_again():
    a = P.stage_answers(SMOOTHIE)
    bad = copy.deepcopy(a["classify"])
    supply = next(c for c in bad["constraints"] if c["name"] == "berry_supply")
    supply["sense"] = ">="
    with ScriptedServer() as server:
        server.script(json.dumps(a["entities"]), json.dumps(bad), json.dumps(a["classify"]), json.dumps(a["fill"]))
        out = Pipeline(backend(server), mode="staged").run(SMOOTHIE["problem"])
        retry = server.chat_requests[2].json["messages"][-1]["content"]
    assert "upper_bound means <=; for >= use lower_bound" in retry
    assert [e.stage for e in out.trace.events if e.messages] == ["entities", "classify", "classify", "fill"]
    assert out.best.result.objective == pytest.approx(395)


# --- point 9: cut-off, partial repair, hints ---------------------------------------------------------------


def test_cut_off_stage_three_reply_is_not_read_as_its_inner_object():
    a = P.stage_answers(CRATES)
    text = json.dumps(a["fill"])
    cut = text[: text.index('"shop_need"') + 5]  # the objective object is complete, the rest is not
    with ScriptedServer() as server:
        server.script(json.dumps(a["entities"]), json.dumps(a["classify"]),
                      Reply(content=cut, finish_reason="length"), text)
        out = Pipeline(backend(server), mode="staged").run(CRATES["problem"])
        asked = [r.json["response_format"]["json_schema"]["name"] for r in server.chat_requests]
    assert asked == ["entities", "classify", "fill", "fill"]  # stages 1 and 2 kept; only stage 3 asked again
    fill_errors = [e.errors for e in out.trace.events if e.stage == "fill"][0]
    assert fill_errors and "cut off at the token limit" in fill_errors[0]
    assert not any("unknown field" in err for e in out.trace.events for err in e.errors)
    assert out.best.result.objective == pytest.approx(790)


def test_unknown_name_gets_a_did_you_mean_hint():
    f = copy.deepcopy(PARK["formulation"])
    f["constraints"][2]["slots"]["if_var"] = "fountain"
    a = assess(f, PARK["problem"], None)
    assert a.problems == ["constraints[2].slots.if_var: unknown name fountain; did you mean build['fountain']?"]


def test_unbounded_model_names_the_variables_that_run_away():
    f = copy.deepcopy(SMOOTHIE["formulation"])
    f["objective"]["sense"] = "maximize"
    f["constraints"] = [f["constraints"][2]]  # only berry is capped
    a = assess(f, SMOOTHIE["problem"], solve)
    assert a.error_kind == "unbounded"
    assert a.problems[0].endswith("these variables grow without limit: banana")


# --- point 10: seeds, limits, version -----------------------------------------------------------------------


def test_seeds_differ_per_sample_stage_and_round_and_max_tokens_per_stage():
    a = P.stage_answers(SMOOTHIE)
    with ScriptedServer(responder=answering(a)) as server:
        Pipeline(backend(server), mode="staged", samples=2, seed=7, review=False).run(SMOOTHIE["problem"])
        reqs = [(r.json["response_format"]["json_schema"]["name"], r.json.get("seed"), r.json.get("max_tokens"))
                for r in server.chat_requests]
    assert sorted(r[0] for r in reqs) == ["classify", "classify", "entities", "fill", "fill"]  # samples run concurrently
    seeds = [r[1] for r in reqs]
    assert len(set(seeds)) == 5 and all(isinstance(s, int) for s in seeds)
    assert {r[0]: r[2] for r in reqs} == {s: P.MAX_TOKENS[s] for s in ("entities", "classify", "fill")}
    p = Pipeline(Backend(), seed=7)
    assert p.request_seed(1, "classify", 0) == Pipeline(Backend(), seed=7).request_seed(1, "classify", 0)
    assert Pipeline(Backend()).request_seed(1, "classify", 0) is None
    req = ChatRequest(messages=[{"role": "user", "content": "x"}], temperature=0.7)
    assert request_key("m", req) != request_key("m", ChatRequest(**{**req.__dict__, "sample": 1}))


def test_prompt_version_is_a_hash_of_what_is_rendered(monkeypatch):
    before = P.prompt_version()
    assert re.fullmatch(r"[0-9a-f]{12}", before) and P.PROMPT_VERSION == before
    P.prompt_version.cache_clear()
    P.system_prompt.cache_clear()
    monkeypatch.setattr(P, "catalog", lambda: "something else")
    try:
        assert P.prompt_version() != before
    finally:
        monkeypatch.undo()
        P.prompt_version.cache_clear()
        P.system_prompt.cache_clear()
    assert P.prompt_version() == before


# --- point 7: the catalog -------------------------------------------------------------------------------------


def test_catalog_is_generated_from_the_slot_models():
    lines = {line.split(":")[0][2:]: line for line in P.catalog().splitlines()}
    assert list(lines) == list(TEMPLATE_NAMES)
    for name, line in lines.items():
        model = SLOT_MODELS[name]
        slots_part = line.split("Slots: ")[1].split(". E.g. ")[0]
        described = dict(re.findall(r"([a-z_]+) \(([^)]*)\)", slots_part))
        assert list(described) == list(model.model_fields)
        for slot, f in model.model_fields.items():
            optional = not f.is_required() and f.default is None
            assert described[slot].endswith("|null") == optional, (name, slot)
        model.model_validate(P.GUIDE[name][2])  # the filled example fits the slot model
    assert "at least" in lines["lower_bound"] and "NOT also in the objective" in lines["fixed_charge"]
    assert len(P.system_prompt()) < 8000  # about 1.5k tokens


# --- point 8: the examples ---------------------------------------------------------------------------------------


def test_bank_examples_solve_to_independent_optima():
    from scipy.optimize import linprog, milp, LinearConstraint, Bounds
    import numpy as np
    # park projects, by brute force over the 16 choices
    cost, visitors = [40000, 25000, 30000, 15000], [300, 120, 250, 90]
    best = max(sum(v for v, b in zip(visitors, c) if b) for c in itertools.product([0, 1], repeat=4)
               if sum(x for x, b in zip(cost, c) if b) <= 80000 and sum(c) <= 2 and (not c[1] or c[3]))
    # crates, an integer transportation problem
    cc = np.array([4, 6, 9, 7, 3, 5])
    A = np.array([[1, 1, 1, 0, 0, 0], [0, 0, 0, 1, 1, 1], [1, 0, 0, 1, 0, 0], [0, 1, 0, 0, 1, 0], [0, 0, 1, 0, 0, 1]])
    crates = milp(cc, constraints=LinearConstraint(A, [-np.inf, -np.inf, 60, 70, 50], [120, 90, np.inf, np.inf, np.inf]),
                  integrality=np.ones(6), bounds=Bounds(0, np.inf)).fun
    # smoothie, an LP: x = banana, y = berry
    smoothie = linprog([2.4, 3.1], A_ub=[[-1, -1], [0.3, -0.7], [0, 1], [1, -2], [0.2, 0.3]],
                       b_ub=[-150, 0, 80, 0, 40]).fun
    from nlopt_milp.core.validate import load_valid
    for ex, want in ((PARK, best), (CRATES, crates), (SMOOTHIE, smoothie)):
        f = load_valid({**ex["formulation"], "problem": ex["problem"]})
        r = solve(f)
        assert r.status == "optimal" and r.objective == pytest.approx(want, rel=1e-9)
        assert audit(f) == []
    domains = {v["domain"] for ex in P.bank() for v in ex["formulation"]["variables"]}
    templates = {c["template"] for ex in P.bank() for c in ex["formulation"]["constraints"]}
    assert domains == {"integer", "binary", "continuous"}
    assert any(c["forall"] for ex in P.bank() for c in ex["formulation"]["constraints"])
    assert {"k_of_n", "dependency"} <= templates  # logic templates


def _strings(value):
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for v in value.values():
            yield from _strings(v)
    elif isinstance(value, list):
        for v in value:
            yield from _strings(v)


def _grams(text: str, n: int = 13) -> set[tuple]:
    words = re.findall(r"[a-z0-9]+", text.lower())
    return {tuple(words[k:k + n]) for k in range(len(words) - n + 1)}


def _corpus_texts():
    for path in sorted((ROOT / "examples").glob("*.txt")):
        yield path.read_text(encoding="utf-8")
    for folder in (SHARED / "benchmarks", SHARED / "nl4opt"):
        for path in sorted(folder.rglob("*")):
            if path.suffix not in (".json", ".jsonl"):
                continue
            raw = path.read_text(encoding="utf-8")
            try:
                items = [json.loads(raw)]
            except ValueError:
                items = [json.loads(line) for line in raw.splitlines() if line.strip()]
            for item in items:
                yield from _strings(item)


def test_examples_share_no_13_word_run_with_the_shipped_examples_or_the_benchmarks():
    if not (SHARED / "benchmarks").is_dir():
        pytest.skip("../shared/benchmarks not present")
    ours = set()
    for ex in P.bank():
        ours |= _grams(ex["problem"])
    hits = set()
    for text in _corpus_texts():
        words = re.findall(r"[a-z0-9]+", text.lower())
        for k in range(len(words) - 12):
            g = tuple(words[k:k + 13])
            if g in ours:
                hits.add(" ".join(g))
    assert not hits
    # the check itself finds a copied sentence
    assert _grams(P.bank()[0]["problem"]) & _grams("x " + P.bank()[0]["problem"][:200])


def test_examples_are_picked_by_similarity():
    shown = P.examples_block("Two depots send crates to shops; how many crates on each route?", "entities")
    assert "Two depots, North and South" in shown
    assert shown.count("Example ") == 2 * P.EXAMPLES_SHOWN


def test_failing_constraints_alone_are_filled_again_in_staged_mode():
    a = P.stage_answers(SMOOTHIE)
    bad = copy.deepcopy(a["fill"])
    bad["constraints"]["banana_vs_berry"]["slots"]["y"] = "berries"
    fixed = {"notes": "", "objective": a["fill"]["objective"],
             "constraints": {"banana_vs_berry": a["fill"]["constraints"]["banana_vs_berry"]}}
    with ScriptedServer() as server:
        server.script(json.dumps(a["entities"]), json.dumps(a["classify"]), json.dumps(bad), json.dumps(fixed))
        out = Pipeline(backend(server), mode="staged").run(SMOOTHIE["problem"])
        repair = server.chat_requests[3].json
    schema = repair["response_format"]["json_schema"]["schema"]
    assert schema["properties"]["constraints"]["required"] == ["banana_vs_berry"]
    assert "unknown name berries; did you mean berry?" in repair["messages"][-1]["content"]
    assert out.best.repairs == 1 and out.best.result.objective == pytest.approx(395)
    assert [c.name for c in out.best.formulation.constraints] == [c["name"] for c in SMOOTHIE["formulation"]["constraints"]]


def test_stage_two_without_a_direction_is_refused_and_a_needless_one_dropped():
    from nlopt_milp.formulate.pipeline import _classification
    a = copy.deepcopy(P.stage_answers(SMOOTHIE)["classify"])
    vs = next(c for c in a["constraints"] if c["name"] == "banana_vs_berry")
    vs["sense"] = None
    with pytest.raises(ValueError, match=r"constraints\[3\] \(banana_vs_berry\): multiple needs a sense"):
        _classification(a, SMOOTHIE["problem"])
    b = copy.deepcopy(P.stage_answers(PARK)["classify"])
    dep = next(c for c in b["constraints"] if c["template"] == "dependency")
    dep["sense"] = "<="
    assert next(c for c in _classification(b, PARK["problem"]).constraints
                if c.template == "dependency").sense is None

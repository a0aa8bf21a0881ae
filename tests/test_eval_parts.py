"""Tests for the eval parts: datasets, scoring, published figures and reports."""

from __future__ import annotations

import json
import math
import os
from pathlib import Path

import pytest

from nlopt_milp.eval import datasets as ds
from nlopt_milp.eval.datasets import (
    BENCHMARKS,
    INFEASIBLE,
    AnswerError,
    DatasetError,
    load_benchmark,
    load_file,
    normalize_answer,
)
from nlopt_milp.eval.published import MODELS, PUBLISHED, published_for, published_table
from nlopt_milp.eval.report import read_log, render_html, load_logs, render_terminal, write_html
from nlopt_milp.eval.scoring import (
    choose_majority,
    classify,
    is_correct,
    is_correct_published,
    pass_at_k,
    score_record,
    summarize,
)

SHARED = Path(os.environ.get("NLOPT_SHARED_DIR", Path(__file__).resolve().parents[2] / "shared")) / "benchmarks"
needs_shared = pytest.mark.skipif(not SHARED.is_dir(), reason="shared benchmark files not present")


# --- answers ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "raw, expected",
    [
        # forms found in the shared files
        (1160, 1160.0),
        (7.5, 7.5),
        ("123", 123.0),
        ("-3", -3.0),
        ("12.5", 12.5),
        (" 172666.667", 172666.667),
        ("No Best Solution", INFEASIBLE),
        # other forms the loader accepts
        ("1,234.5", 1234.5),
        ("$300", 300.0),
        (" 12 ", 12.0),
        ("-$5", -5.0),
        ("$-5", -5.0),
        ("1e3", 1000.0),
        ("\u22124", -4.0),
        ("infeasible", INFEASIBLE),
        ("Infeasible.", INFEASIBLE),
        ("None", INFEASIBLE),
        ("no feasible solution", INFEASIBLE),
        ("No  optimal solution", INFEASIBLE),
        ("unbounded", INFEASIBLE),
        (float("inf"), INFEASIBLE),
    ],
)
def test_normalize_answer(raw, expected):
    assert normalize_answer(raw) == expected


@pytest.mark.parametrize("raw", [None, "", "   ", "abc", "x = 3, y = 4", "1,5", True, float("nan"), [1], "12 apples"])
def test_normalize_answer_rejects(raw):
    with pytest.raises(AnswerError):
        normalize_answer(raw)


# --- local files ------------------------------------------------------------------------------


def _write_jsonl(path: Path, rows: list, extra_lines: list[str] = ()) -> Path:
    lines = [json.dumps(r) for r in rows] + list(extra_lines)
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_exclusion_count(tmp_path):
    path = _write_jsonl(
        tmp_path / "bench.jsonl",
        [
            {"question": "q1", "answer": 10, "index": 1},
            {"question": "q2", "answer": "see the model", "index": 2},
            {"question": "q3", "answer": None, "index": 3},
            {"question": "q4", "answer": "No Best Solution", "index": 4},
            {"question": "", "answer": 5, "index": 5},
        ],
    )
    loaded = load_file(path)
    assert [s.id for s in loaded.samples] == ["1", "4"]
    assert loaded.samples[1].answer == INFEASIBLE
    assert loaded.n_excluded == 3
    reasons = {e.id: e.reason for e in loaded.excluded}
    assert reasons["2"].startswith("not a number")
    assert reasons["3"] == "missing answer"
    assert reasons["5"] == "missing problem text"
    ident, raw, _ = loaded.excluded[0]
    assert (ident, raw) == ("2", "see the model")
    assert "excluded" in loaded.summary_line()


def test_json_list_parquet_and_explicit_fields(tmp_path):
    rows = [{"text": "maximize x", "gt": "$1,000", "id": "a"}, {"text": "minimize y", "gt": 3, "id": "b"}]
    (tmp_path / "list.json").write_text(json.dumps(rows), encoding="utf-8")
    loaded = load_file(tmp_path / "list.json", question_field="text", answer_field="gt", benchmark="custom")
    assert [(s.id, s.answer, s.benchmark) for s in loaded] == [("a", 1000.0, "custom"), ("b", 3.0, "custom")]

    pa = pytest.importorskip("pyarrow")
    import pyarrow.parquet as pq

    table = pa.table({"en_question": ["p1", "p2", "p3"], "en_answer": ["1.5", "No Best Solution", "?"]})
    pq.write_table(table, tmp_path / "bench.parquet")
    loaded = load_file(tmp_path / "bench.parquet", limit=2)
    assert [(s.id, s.answer) for s in loaded] == [("1", 1.5), ("2", INFEASIBLE)]
    assert loaded.n_excluded == 0  # the limit stops before the bad record


def test_json_lines_named_json_with_ids_filter(tmp_path):
    path = _write_jsonl(tmp_path / "MAMO_EasyLP.json", [{"en_question": f"q{i}", "en_answer": str(i)} for i in range(5)])
    loaded = load_file(path, ids=["2", "4"])
    assert loaded.benchmark == "mamo-easy"  # identified by the file name
    assert [(s.id, s.answer) for s in loaded] == [("2", 1.0), ("4", 3.0)]


def test_unknown_fields_and_missing_file(tmp_path):
    path = _write_jsonl(tmp_path / "x.jsonl", [{"prompt": "q", "gt": 1}])
    with pytest.raises(DatasetError, match="--question-field"):
        load_file(path)
    with pytest.raises(DatasetError, match="no such file"):
        load_file(tmp_path / "missing.jsonl")


@needs_shared
def test_shared_optmath_json_lines_and_list():
    nl4opt = load_file(SHARED / "optmath" / "NL4OPT.json")
    assert nl4opt.benchmark == "nl4opt"
    assert len(nl4opt) == 245 and nl4opt.n_excluded == 0
    assert sum(s.answer == INFEASIBLE for s in nl4opt) == 17
    assert nl4opt.samples[0].id == "1" and nl4opt.samples[0].answer == 1160.0

    bench = load_file(SHARED / "optmath" / "OptMATH_Bench.json", limit=3)  # one JSON list
    assert bench.benchmark == "optmath-bench"
    assert [s.id for s in bench] == ["0", "1", "2"]
    assert all(isinstance(s.answer, float) for s in bench)

    complex_lp = load_file(SHARED / "optmath" / "MAMO_ComplexLP.json")
    assert any(s.raw_answer == " 172666.667" and s.answer == 172666.667 for s in complex_lp)


@needs_shared
@pytest.mark.parametrize("name", sorted(p.name for p in (SHARED / "llmopt").glob("*.jsonl")) if SHARED.is_dir() else [])
def test_shared_llmopt_files(name):
    loaded = load_file(SHARED / "llmopt" / name, limit=4)
    assert loaded.benchmark in BENCHMARKS
    assert [s.id for s in loaded] == ["1", "2", "3", "4"]  # from the index field
    assert all(isinstance(s.answer, float) for s in loaded)
    assert "ori" in loaded.samples[0].meta


@needs_shared
def test_shared_mamo_files():
    easy = load_file(SHARED / "mamo" / "mamo_easy_lp.jsonl", limit=3)
    assert easy.benchmark == "mamo-easy"
    assert [s.id for s in easy] == ["1", "2", "3"]
    assert easy.samples[0].question.startswith("A marketing company")
    assert easy.samples[0].meta["Type"]


@needs_shared
def test_every_shared_answer_is_usable():
    for path in sorted(SHARED.glob("*/*.json*")):
        loaded = load_file(path)
        assert loaded.n_excluded == 0, (path, loaded.excluded[:3])


def test_registry_points_to_local_files():
    assert set(BENCHMARKS) == {
        "nl4opt", "mamo-easy", "mamo-complex", "nlp4lp", "complexor",
        "industryor", "optibench", "optmath-bench", "icml-task3",
    }
    assert BENCHMARKS["mamo-easy"].hub_id == "CardinalOperations/MAMO"
    assert BENCHMARKS["mamo-complex"].split == "complex_lp"
    for spec in BENCHMARKS.values():
        assert spec.local_files
        if SHARED.is_dir():
            assert spec.local_paths(), spec.name


def test_hub_offline_fails_fast_with_file_hint(monkeypatch):
    import huggingface_hub.constants as hub_constants

    before = hub_constants.HF_HUB_OFFLINE
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(DatasetError) as err:
        load_benchmark("nl4opt", limit=2)
    message = str(err.value)
    assert "--file" in message
    if SHARED.is_dir():
        assert "NL4OPT.json" in message
    assert hub_constants.HF_HUB_OFFLINE == before  # the offline switch is undone afterwards


def test_benchmark_without_hub_id_points_to_local_file():
    with pytest.raises(DatasetError) as err:
        load_benchmark("optibench")
    assert "--file" in str(err.value)
    if SHARED.is_dir():
        assert "optibench.jsonl" in str(err.value)
    with pytest.raises(DatasetError, match="unknown benchmark"):
        load_benchmark("no-such-benchmark")


def test_load_local_benchmark():
    if not SHARED.is_dir():
        pytest.skip("shared benchmark files not present")
    loaded = ds.load_local_benchmark("industryor", limit=2)
    assert loaded.benchmark == "industryor" and len(loaded) == 2


# --- scoring ----------------------------------------------------------------------------------


def test_tolerance_relative_edges():
    assert is_correct("optimal", 100.0099, 100.0)
    assert is_correct("optimal", 99.9901, 100.0)
    assert not is_correct("optimal", 100.011, 100.0)
    assert is_correct("optimal", 1e6 + 99, 1e6)
    assert not is_correct("optimal", 1e6 + 101, 1e6)
    assert is_correct("optimal", 100.05, 100.0, rel_tol=1e-3)
    assert is_correct("feasible", -50.004, -50.0)


def test_tolerance_near_zero():
    assert is_correct("optimal", 5e-7, 0.0)
    assert is_correct("optimal", -1e-6, 0.0)
    assert not is_correct("optimal", 2e-6, 0.0)
    assert is_correct("optimal", 1e-3 + 9e-7, 1e-3)  # absolute 1e-6 beats relative 1e-7
    assert not is_correct("optimal", 1e-3 + 2e-6, 1e-3)


def test_tolerance_published_5pct():
    assert is_correct_published("optimal", 104.9, 100.0)
    assert is_correct_published("optimal", 95.0, 100.0)
    assert not is_correct_published("optimal", 105.6, 100.0)  # rounds to 106: 6 %
    assert is_correct_published("optimal", 0.4, 0.0)  # rounds to 0
    assert not is_correct_published("optimal", 0.6, 0.0)
    assert is_correct_published("optimal", 40.0, 42.0) and not is_correct("optimal", 40.0, 42.0)


def test_infeasible_ground_truth_and_bad_statuses():
    assert is_correct("infeasible", None, INFEASIBLE)
    assert is_correct("unbounded", None, "infeasible")
    assert is_correct("infeasible_or_unbounded", None, INFEASIBLE)
    assert is_correct_published("infeasible", None, INFEASIBLE)
    assert not is_correct("optimal", 5.0, INFEASIBLE)
    assert not is_correct("infeasible", None, 5.0)
    assert not is_correct("infeasible", 5.0, 5.0)
    assert not is_correct("error", 5.0, 5.0)
    assert not is_correct("optimal", None, 5.0)
    assert not is_correct("optimal", float("nan"), 5.0)
    assert not is_correct("optimal", 5.0, None)


def test_pass_at_k_estimator():
    assert pass_at_k(3, 2, 2) == 1.0
    assert math.isclose(pass_at_k(3, 1, 2), 2 / 3)
    assert math.isclose(pass_at_k(10, 3, 1), 0.3)
    assert pass_at_k(5, 0, 3) == 0.0
    assert math.isclose(pass_at_k(10, 2, 5), 1 - math.comb(8, 5) / math.comb(10, 5))
    with pytest.raises(ValueError):
        pass_at_k(2, 1, 3)


def test_majority_choice():
    opt = lambda v: {"status": "optimal", "objective": v}  # noqa: E731
    assert choose_majority([opt(1.0), opt(2.0), opt(2.00001)]) == 1
    assert choose_majority([opt(1.0), {"status": "infeasible"}]) == 0  # tie: first cluster
    assert choose_majority([{"error_kind": "no_output"}, {"status": "infeasible"}]) == 1
    assert choose_majority([{"error_kind": "no_output"}]) == 0
    assert choose_majority([]) is None


def _records() -> list[dict]:
    opt = lambda v, repairs=0, tokens=None, formulation=None: {  # noqa: E731
        "formulation": formulation or {"constraints": []},
        "status": "optimal",
        "objective": v,
        "repairs": repairs,
        "error": None,
        "error_kind": None,
        "tokens": tokens,
        "seconds": 1.0 if tokens else None,
    }
    f1 = {"constraints": [{"template": "upper_bound"}, {"template": "sum_bound"}]}
    f2 = {"constraints": [{"template": "upper_bound"}, {"template": "ratio"}, {"template": "ratio"}]}
    f3 = {"constraints": [{"template": "either_or"}]}
    no_output = {"formulation": None, "status": None, "objective": None, "repairs": 0, "error": "no JSON", "error_kind": "no_output"}
    return [
        {"type": "result", "id": "a", "benchmark": "nl4opt", "question": "qa", "answer": 100.0,
         "samples": [opt(100.0, 0, 100, f1), opt(100.0, 1, 100), opt(90.0, 0, 100)]},
        {"type": "result", "id": "b", "benchmark": "nl4opt", "question": "qb", "answer": 42.0,
         "samples": [opt(40.0, 2, 10, f2), opt(40.0, 0, 10), opt(42.0, 0, 10)]},
        {"type": "result", "id": "c", "benchmark": "mamo-easy", "question": "qc", "answer": "infeasible",
         "samples": [{"formulation": f3, "status": "infeasible", "objective": None, "repairs": 0},
                     opt(10.0),
                     {"formulation": {"constraints": []}, "status": None, "error_kind": "validation", "repairs": 3}]},
        {"type": "result", "id": "d", "benchmark": "mamo-easy", "question": "qd", "answer": 7.0,
         "samples": [dict(no_output), dict(no_output), dict(no_output)]},
    ]


def test_metrics_on_known_records():
    summary = summarize([{"type": "header", "model": "m"}] + _records())
    assert summary.n == 4
    assert summary.samples_per_problem == 3
    # c: infeasible against one optimum is a tie, and a group with a solution wins unless "no solution"
    # is a strict majority (formulate/voting.py), so c's chosen sample is the wrong 10
    assert summary.sa == 0.25
    assert summary.sa_5pct == 0.5  # 40 vs 42 passes at 5 %
    assert summary.er == 0.75
    assert summary.ast == 0.5
    assert set(summary.pass_at_k) == {1, 2, 3}
    assert math.isclose(summary.pass_at_k[1], 1 / 3)
    assert math.isclose(summary.pass_at_k[2], 7 / 12)
    assert math.isclose(summary.pass_at_k[3], 3 / 4)
    assert summary.maj_at_k == {2: 0.25, 3: 0.25}  # c: see above
    assert summary.taxonomy["correct"] == 1
    assert summary.taxonomy["wrong_objective"] == 2
    assert summary.taxonomy["no_output"] == 1
    assert sum(summary.taxonomy.values()) == 4
    assert summary.mean_tokens == 165.0
    assert summary.mean_seconds == 3.0

    t = summary.templates
    assert (t["upper_bound"].problems_passed, t["upper_bound"].problems_failed, t["upper_bound"].failure_rate) == (1, 1, 0.5)
    assert (t["ratio"].problems_failed, t["ratio"].uses_failed, t["ratio"].failure_rate) == (1, 2, 1.0)
    assert t["sum_bound"].failure_rate == 0.0 and "either_or" not in t  # c's chosen sample has no constraints

    nl4opt, mamo = summary.by_benchmark["nl4opt"], summary.by_benchmark["mamo-easy"]
    assert (nl4opt.n, nl4opt.sa, nl4opt.er, nl4opt.ast) == (2, 0.5, 1.0, 1.0)
    assert (mamo.n, mamo.sa, mamo.er) == (2, 0.0, 0.5)

    data = summary.to_json()
    for key in ("n", "sa", "er", "ast", "sa_5pct", "pass_at_k", "maj_at_k", "taxonomy", "templates", "by_benchmark"):
        assert key in data
    assert data["pass_at_k"]["2"] == summary.pass_at_k[2]
    json.dumps(data)  # serialisable


def test_single_sample_sa_is_pass_at_1_and_no_maj():
    records = [dict(r, samples=r["samples"][:1]) for r in _records()]
    summary = summarize(records)
    assert summary.pass_at_k == {1: summary.sa}
    assert summary.maj_at_k == {}


def test_score_record_and_taxonomy_classes():
    scored = score_record(_records()[1])
    assert scored["chosen"] == 0 and not scored["correct"] and scored["correct_5pct"]
    assert classify({"status": "infeasible"}, 5.0) == "infeasible"
    assert classify({"status": "unbounded"}, 5.0) == "unbounded"
    assert classify({"status": "time_limit"}, 5.0) == "time_limit"
    assert classify({"error_kind": "nonlinear", "formulation": {}}, 5.0) == "nonlinear"
    assert classify({"error_kind": "grounding", "formulation": {}}, 5.0) == "validation_error"
    assert classify({"error_kind": "invalid_json"}, 5.0) == "no_output"
    assert classify({"error_kind": "solver", "formulation": {}}, 5.0) == "solver_error"
    assert classify({"status": "optimal", "objective": 3.0}, INFEASIBLE) == "wrong_objective"
    assert classify(None, 5.0) == "no_output"


def test_runner_record_vocabulary():
    """Records as the pipeline writes them: error_kind names the verdict, chosen is given."""
    records = [
        {"type": "result", "id": "1", "benchmark": "nl4opt", "answer": INFEASIBLE, "chosen": 0,
         "tokens": 900, "seconds": 4.0,
         "samples": [{"formulation": None, "templates": ["ratio", "upper_bound"], "status": "infeasible",
                      "objective": None, "repairs": 3, "error_kind": "infeasible", "tokens": 300, "seconds": 4.0}]},
        {"type": "result", "id": "2", "benchmark": "nl4opt", "answer": 5.0, "chosen": 1, "tokens": 100, "seconds": 2.0,
         "samples": [{"status": "optimal", "objective": 5.0, "repairs": 0, "error_kind": None},
                     {"status": "optimal", "objective": 6.0, "repairs": 1, "error_kind": None}]},
        {"type": "result", "id": "3", "benchmark": "nl4opt", "answer": 5.0, "chosen": None,
         "samples": [{"status": "error", "objective": None, "repairs": 3, "error_kind": "validation_error"},
                     {"status": "error", "objective": None, "repairs": 3, "error_kind": "nonlinear"}]},
        {"type": "result", "id": "4", "benchmark": "nl4opt", "answer": 5.0, "chosen": 0,
         "samples": [{"status": "time_limit", "objective": None, "repairs": 0, "error_kind": "time_limit"}]},
    ]
    summary = summarize(records)
    assert summary.sa == 0.25  # only the infeasible verdict; problem 2 keeps the pipeline's choice (6.0)
    assert summary.er == 0.5
    assert summary.ast == 1.75  # (3 + 1 + 3 + 0) / 4
    assert summary.taxonomy["correct"] == 1
    assert summary.taxonomy["wrong_objective"] == 1
    assert summary.taxonomy["validation_error"] == 1
    assert summary.taxonomy["time_limit"] == 1
    assert summary.mean_tokens == 500.0  # record totals win over per-sample numbers
    assert summary.mean_seconds == 3.0
    assert summary.templates["ratio"].problems_passed == 1  # from the sample's template list
    assert summary.pass_at_k == {1: pytest.approx((1 + 0.5 + 0 + 0) / 4)}


# --- published figures ------------------------------------------------------------------------


def test_published_figures_are_sourced():
    assert {"ORLM-LLaMA-3-8B", "LLMOPT-Qwen2.5-14B", "OptMATH-Qwen2.5-7B", "OptMATH-Qwen2.5-32B"} <= set(MODELS)
    for r in PUBLISHED:
        assert r.benchmark in BENCHMARKS
        assert 0.0 <= r.accuracy <= 1.0
        assert r.source and r.url and r.dataset
    assert published_table()["ORLM-LLaMA-3-8B"]["nl4opt"] == pytest.approx(0.857)
    assert published_table()["OptMATH-Qwen2.5-32B"]["optmath-bench"] == pytest.approx(0.347)
    assert {r.model for r in published_for("mamo-complex")} >= {"ORLM-LLaMA-3-8B", "OptMATH-Qwen2.5-7B"}


# --- reports ----------------------------------------------------------------------------------


def _write_log(path: Path, header: dict, records: list[dict], truncated: bool = False) -> Path:
    lines = [json.dumps(dict(header, type="header"))] + [json.dumps(r) for r in records]
    text = "\n".join(lines) + "\n"
    if truncated:
        text += '{"type": "result", "id": "zz", "benchm'
    path.write_text(text, encoding="utf-8")
    return path


def test_read_log_tolerates_truncated_last_line(tmp_path):
    records = _records()
    rerun = dict(records[0], samples=records[0]["samples"][:1])
    path = _write_log(tmp_path / "run.jsonl", {"model": "m"}, records + [rerun], truncated=True)
    header, got = read_log(path)
    assert header["model"] == "m"
    assert [r["id"] for r in got] == ["a", "b", "c", "d"]
    assert len(got[0]["samples"]) == 1  # the resumed (last) record wins


def test_html_report_renders_and_escapes(tmp_path):
    records = _records()
    evil = "<script>alert('x')</script> Maximise profit & <b>loss</b>"
    records[3]["question"] = evil
    log_a = _write_log(tmp_path / "a.jsonl", {"model": "model-a", "mode": "staged", "backend": "<vllm>"}, records)
    other = [dict(r) for r in _records()]
    other[3]["question"] = evil
    other[3]["samples"] = [{"formulation": {"constraints": []}, "status": "optimal", "objective": 7.0, "repairs": 0}]
    log_b = _write_log(tmp_path / "b.jsonl", {"model": "model-b", "mode": "single"}, other)

    out = write_html([log_a, log_b], tmp_path / "report" / "index.html")
    text = out.read_text(encoding="utf-8")
    for name in ("nl4opt", "mamo-easy", "model-a (staged)", "model-b (single)", "ORLM-LLaMA-3-8B"):
        assert name in text
    assert text.count("<script>") == 1 and "<script>alert" not in text and "<b>loss" not in text  # only our filter
    assert "&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt;" in text
    assert "&lt;vllm&gt;" in text
    assert "<svg" in text
    assert 'src="' not in text and "<link" not in text  # no external assets

    single = render_html(load_logs({"only": log_a}))
    assert "Problems" in single and "&lt;script&gt;" in single


def test_render_terminal(tmp_path):
    from rich.console import Console

    summaries = {"a": summarize(_records()), "b": summarize(_records()[:2])}
    console = Console(record=True, width=240)
    console.print(render_terminal(summaries))
    text = console.export_text()
    assert "nl4opt" in text and "mamo-easy" in text
    assert "50.0%" in text
    assert "wrong_objective" in text and "upper_bound" in text

"""`nlopt eval` end to end: the CLI in a subprocess against the loopback scripted server,
on small slices of the shared benchmark files.

The slice is 8 records of optmath/NL4OPT.json (byte for byte) whose problem text is a
document of nl4opt/test_part_a.jsonl whose gold import (continuous, else integer) solves
to the recorded answer. The scripted server answers each problem according to PLAN, so
SA / ER / AST of a run are known in advance (definitions: nlopt_milp/eval/scoring.py).
"""

from __future__ import annotations

import functools
import json
import math
import os
import re
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import pytest
from scripted_server import Reply, ScriptedServer

ROOT = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("NLOPT_SHARED_DIR", Path(__file__).resolve().parents[2] / "shared"))
ANSWERS = SHARED / "benchmarks" / "optmath" / "NL4OPT.json"
PART_A = SHARED / "nl4opt" / "test_part_a.jsonl"
needs_shared = pytest.mark.skipif(not (ANSWERS.is_file() and PART_A.is_file()),
                                  reason="shared benchmark files (optmath/NL4OPT.json, nl4opt/test_part_a.jsonl) not present")

REPAIR_MARK = "Your formulation of the problem below has problems"
INVALID = "Sure! Here is the model: {not json"

# Slice line (= problem id) -> how the scripted server answers it. With --max-repairs 1:
#   right                  gold formulation                      correct, executed, 0 repairs
#   wrong                  one objective coefficient changed      wrong objective, executed, 0 repairs
#   invalid                never JSON                             no output, not executed, 1 repair (all used)
#   invalid_then_right     not JSON, then gold after the repair   correct, executed, 1 repair
#   infeasible_then_right  conflicting bounds added, then gold    correct, executed, 1 repair
#   no_solution            gold of a "No Best Solution" problem: infeasible both times (the pipeline
#                          asks for one repair); the verdict matches the ground truth:
#                                                                 correct, executed, 1 repair
PLAN = ("right", "wrong", "invalid", "right", "invalid_then_right", "infeasible_then_right", "right", "no_solution")

# By hand from PLAN and scoring.py's definitions.
# --max-repairs 1: correct = ids 1,4,5,6,7,8 -> SA 6/8; executed = all but 3 -> ER 7/8;
# repair rounds of the chosen samples: ids 3,5,6,8 one each -> AST 4/8.
EXPECTED_1 = {"n": 8, "sa": 6 / 8, "sa_5pct": 6 / 8, "er": 7 / 8, "ast": 4 / 8,
              "taxonomy": {"correct": 6, "wrong_objective": 1, "no_output": 1}}
# --max-repairs 0: ids 3 and 5 end without JSON, id 6 ends infeasible (a verdict, but wrong):
# correct = 1,4,7,8 -> SA 4/8; executed = 1,2,4,6,7,8 -> ER 6/8; no repairs -> AST 0.
EXPECTED_0 = {"n": 8, "sa": 4 / 8, "sa_5pct": 4 / 8, "er": 6 / 8, "ast": 0.0,
              "taxonomy": {"correct": 4, "wrong_objective": 1, "no_output": 2, "infeasible": 1}}
REQUESTS_1 = 8 + 4  # one first request per problem + one repair each for ids 3, 5, 6, 8

RESULT_FIELDS = {"type", "id", "benchmark", "question", "answer", "samples", "chosen", "correct", "correct_5pct",
                 "tokens", "seconds"}
SAMPLE_FIELDS = {"formulation", "status", "objective", "repairs", "error", "error_kind", "templates"}


# --- the slice ------------------------------------------------------------------------------------


def _norm(text: str) -> str:
    return " ".join(text.split()).lower()


@dataclass
class Problem:
    id: str  # line number in the slice file = the id the loader gives it
    role: str
    line: str  # the NL4OPT.json record, byte for byte
    question: str
    answer: float | str
    gold: dict  # formulation JSON without `problem`
    wrong: dict | None = None
    infeasible: dict | None = None

    def reply(self, repair: bool) -> str:
        role = self.role
        if role in ("right", "no_solution"):
            return json.dumps(self.gold)
        if role == "wrong":
            return json.dumps(self.wrong)
        if role == "invalid":
            return INVALID
        if role == "invalid_then_right":
            return json.dumps(self.gold) if repair else INVALID
        if role == "infeasible_then_right":
            return json.dumps(self.gold) if repair else json.dumps(self.infeasible)
        raise AssertionError(role)


def _wrong_variant(gold: dict) -> dict:
    """The first objective coefficient doubled (a coefficient 1 becomes 2)."""
    f = json.loads(json.dumps(gold))
    expr = f["objective"]["expr"]
    number = re.search(r"(?<![\w.])\d+(\.\d+)?(?=\s*\*)", expr)
    if number:
        expr = expr[: number.start()] + repr(2 * float(number.group())) + expr[number.end():]
    else:
        first = f["variables"][0]["name"]
        expr = re.sub(rf"\b{first}\b", f"2 * {first}", expr, count=1)
    f["objective"]["expr"] = expr
    return f


def _infeasible_variant(gold: dict) -> dict:
    """Two conflicting bounds on the first variable: at least 10 and at most 5."""
    f = json.loads(json.dumps(gold))
    var = f["variables"][0]["name"]
    f["constraints"] = list(f["constraints"]) + [
        {"name": "extra_min", "source": "", "template": "lower_bound", "slots": {"var": var, "limit": "10"}},
        {"name": "extra_max", "source": "", "template": "upper_bound", "slots": {"var": var, "limit": "5"}},
    ]
    return f


@functools.lru_cache(maxsize=None)
def _slice() -> tuple[Problem, ...]:
    from nlopt_milp.data.nl4opt import import_nl4opt
    from nlopt_milp.eval.datasets import INFEASIBLE, normalize_answer
    from nlopt_milp.eval.scoring import NO_SOLUTION_STATUSES, is_correct, is_correct_published
    from nlopt_milp.solve import solve

    records: dict[str, tuple[str, dict]] = {}
    for line in ANSWERS.read_text(encoding="utf-8").splitlines():
        if line.strip():
            rec = json.loads(line)
            records.setdefault(_norm(rec["en_question"]), (line, rec))
    continuous = import_nl4opt(PART_A)
    integer = {p.id: p for p in import_nl4opt(PART_A, integer=True)}

    numeric: list[Problem] = []
    no_solution: Problem | None = None
    for p in continuous:
        hit = records.get(_norm(p.document))
        if hit is None or not p.ok:
            continue
        line, rec = hit
        answer = normalize_answer(rec["en_answer"])
        if answer == INFEASIBLE and no_solution is not None or answer != INFEASIBLE and len(numeric) >= 7:
            continue
        for f in (p.formulation, integer[p.id].formulation):
            r = solve(f)
            if is_correct(r.status, r.objective, answer):
                break
        else:
            continue
        gold = f.model_dump(mode="json", exclude={"problem"})
        prob = Problem("", "", line, rec["en_question"], answer, gold)
        if answer == INFEASIBLE:
            assert r.status in NO_SOLUTION_STATUSES
            no_solution = prob
        else:
            numeric.append(prob)
        if no_solution is not None and len(numeric) >= 7:
            break
    assert no_solution is not None and len(numeric) == 7, "not enough usable problems in the shared files"

    from nlopt_milp.core.validate import load

    # the "wrong" problem: its changed coefficient must give an objective off by more than 5 %
    wrong_index = None
    for k, prob in enumerate(numeric):
        wrong = _wrong_variant(prob.gold)
        r = solve(load({**wrong, "problem": prob.question}))
        if r.status == "optimal" and not is_correct_published(r.status, r.objective, prob.answer):
            prob.wrong, wrong_index = wrong, k
            break
    assert wrong_index is not None
    ordered = [numeric.pop(wrong_index)] + numeric  # the wrong one first, then the rest in order
    out = []
    pick = iter(ordered[1:])
    for i, role in enumerate(PLAN, start=1):
        prob = no_solution if role == "no_solution" else ordered[0] if role == "wrong" else next(pick)
        prob.id, prob.role = str(i), role
        if role == "infeasible_then_right":
            prob.infeasible = _infeasible_variant(prob.gold)
            r = solve(load({**prob.infeasible, "problem": prob.question}))
            assert r.status == "infeasible"
        out.append(prob)
    return tuple(out)


@pytest.fixture(scope="module")
def plan():
    if not (ANSWERS.is_file() and PART_A.is_file()):
        pytest.skip("shared benchmark files not present")
    return _slice()


def write_slice(plan, path: Path) -> Path:
    path.write_text("".join(p.line + "\n" for p in plan), encoding="utf-8")
    return path


class Responder:
    """Answers each chat request from the plan; remembers which problem each request was for."""

    def __init__(self, plan, delay: float = 0.0):
        self.plan = plan
        self.delay = delay
        self.asked: list[tuple[str, bool, str]] = []  # (problem id, repair?, user message)
        self.unknown: list[str] = []

    def __call__(self, request: dict) -> Reply:
        user = request["messages"][-1]["content"]
        repair = REPAIR_MARK in user
        hits = [p for p in self.plan if p.question in user]
        if len(hits) != 1:
            self.unknown.append(user[-300:])
            return Reply(status=400, body={"error": {"message": "scripted: unknown problem"}})
        self.asked.append((hits[0].id, repair, user))
        return Reply(content=hits[0].reply(repair), delay=self.delay)


# --- running the CLI ----------------------------------------------------------------------------


def cli_env(**extra: str) -> dict:
    env = dict(os.environ)
    env["PYTHONPATH"] = str(ROOT) + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    env["COLUMNS"] = "400"  # rich must not wrap messages
    env["NO_PROXY"] = env["no_proxy"] = "127.0.0.1,localhost"
    for name in ("NLOPT_DEBUG", "NLOPT_MODEL", "NLOPT_BASE_URL", "NLOPT_API_KEY"):
        env.pop(name, None)
    env.update(extra)
    return env


def nlopt(*args: str, timeout: float = 120, **env: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "nlopt_milp.cli.app", *args], capture_output=True, text=True,
                          cwd=ROOT, env=cli_env(**env), timeout=timeout)


def eval_args(slice_file: Path, server: ScriptedServer, log: Path, *extra: str) -> list[str]:
    return ["eval", "nl4opt", "--file", str(slice_file), "--mode", "single", "--max-repairs", "1",
            "--base-url", server.base_url, "--out", str(log), "--json", *extra]


def last_json(proc: subprocess.CompletedProcess) -> dict:
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads(proc.stdout.strip().splitlines()[-1])


def read_lines(log: Path) -> list[dict]:
    return [json.loads(line) for line in log.read_text(encoding="utf-8").splitlines()]


def check_numbers(summary: dict, expected: dict) -> None:
    for key in ("n", "sa", "sa_5pct", "er", "ast"):
        assert summary[key] == pytest.approx(expected[key], abs=1e-12), (key, summary[key], expected[key])
    assert summary["taxonomy"] == {k: expected["taxonomy"].get(k, 0) for k in summary["taxonomy"]}
    assert summary["pass_at_k"] == {"1": pytest.approx(expected["sa"])}  # one sample: pass@1 = SA
    assert summary["maj_at_k"] == {}


def check_log(log: Path, plan) -> list[dict]:
    lines = read_lines(log)  # every line parses
    assert lines[0]["type"] == "header"
    results = [x for x in lines[1:] if x["type"] != "resume"]  # a resumed session starts with a resume line
    assert [x["type"] for x in results] == ["result"] * len(plan)
    ids = [r["id"] for r in results]
    assert sorted(ids, key=int) == [p.id for p in plan]  # one line per problem, no duplicates
    return results


# --- a run that is partly right and partly wrong --------------------------------------------------


@pytest.fixture(scope="module")
def full_run(plan, tmp_path_factory):
    """One uninterrupted run with --max-repairs 1 (shared by the tests below)."""
    tmp = tmp_path_factory.mktemp("full")
    slice_file = write_slice(plan, tmp / "slice.jsonl")
    responder = Responder(plan)
    with ScriptedServer(models=["model-a"], responder=responder) as server:
        proc = nlopt(*eval_args(slice_file, server, tmp / "log.jsonl", "--concurrency", "4"))
    return proc, tmp / "log.jsonl", responder


@needs_shared
def test_partly_right_run_gives_expected_sa_er_ast(full_run, plan):
    proc, log, responder = full_run
    summary = last_json(proc)
    check_numbers(summary, EXPECTED_1)
    assert summary["log"] == str(log) and summary["excluded"] == 0
    assert summary["by_benchmark"]["nl4opt"]["sa"] == pytest.approx(EXPECTED_1["sa"])

    assert responder.unknown == []
    assert len(responder.asked) == REQUESTS_1
    repaired = sorted((pid for pid, repair, _ in responder.asked if repair), key=int)
    assert repaired == ["3", "5", "6", "8"]
    infeasible_repair = next(user for pid, repair, user in responder.asked if pid == "6" and repair)
    assert "infeasible" in infeasible_repair and "extra_min" in infeasible_repair

    header = read_lines(log)[0]
    assert header["benchmark"] == "nl4opt" and header["model"] == "model-a" and header["backend"] == "openai"
    assert header["options"]["mode"] == "single" and header["options"]["max_repairs"] == 1
    assert header["prompt_version"] and header["version"]

    by_id = {r["id"]: r for r in check_log(log, plan)}
    for p in plan:
        rec = by_id[p.id]
        assert RESULT_FIELDS <= set(rec), p.id
        assert rec["benchmark"] == "nl4opt" and rec["question"] == p.question and rec["answer"] == p.answer
        assert len(rec["samples"]) == 1 and SAMPLE_FIELDS <= set(rec["samples"][0])
        s = rec["samples"][0]
        assert rec["correct"] is (p.role not in ("wrong", "invalid")), p.role
        assert rec["correct_5pct"] is rec["correct"]
        assert s["repairs"] == (1 if p.role in ("invalid", "invalid_then_right", "infeasible_then_right",
                                                 "no_solution") else 0), p.role
        assert rec["tokens"] > 0 and rec["seconds"] >= 0
        if p.role == "invalid":
            assert s["formulation"] is None and s["status"] is None and s["error_kind"] == "no_output"
            assert "no JSON object" in s["error"]
        elif p.role == "no_solution":
            assert rec["answer"] == "infeasible" and s["status"] == "infeasible" and s["objective"] is None
        else:
            assert s["status"] == "optimal" and s["error_kind"] is None
            assert s["formulation"]["objective"] == (p.wrong if p.role == "wrong" else p.gold)["objective"]
            assert s["templates"] == sorted({c["template"] for c in p.gold["constraints"]})
            if p.role == "wrong":
                assert not math.isclose(s["objective"], p.answer, rel_tol=0.05)
            else:
                assert math.isclose(s["objective"], p.answer, rel_tol=1e-4)


@pytest.fixture(scope="module")
def no_repair_run(plan, tmp_path_factory):
    """The same slice with --max-repairs 0 and another model name."""
    tmp = tmp_path_factory.mktemp("norepair")
    slice_file = write_slice(plan, tmp / "slice.jsonl")
    responder = Responder(plan)
    with ScriptedServer(models=["model-b"], responder=responder) as server:
        args = eval_args(slice_file, server, tmp / "log.jsonl", "--concurrency", "4")
        args[args.index("--max-repairs") + 1] = "0"
        proc = nlopt(*args)
    return proc, tmp / "log.jsonl", responder


@needs_shared
def test_without_repairs_the_numbers_drop(no_repair_run, plan):
    proc, log, responder = no_repair_run
    check_numbers(last_json(proc), EXPECTED_0)
    assert responder.unknown == []
    assert len(responder.asked) == 8 and not any(repair for _, repair, _ in responder.asked)
    by_id = {r["id"]: r for r in check_log(log, plan)}
    assert by_id["6"]["samples"][0]["status"] == "infeasible" and by_id["6"]["samples"][0]["repairs"] == 0
    assert by_id["5"]["samples"][0]["error_kind"] == "no_output"


# --- interrupted runs and --resume --------------------------------------------------------------


def _count_results(log: Path) -> int:
    if not log.exists():
        return 0
    return sum(1 for line in log.read_bytes().split(b"\n") if line.startswith(b'{"type": "result"'))


def _interrupted_then_resumed(plan, tmp_path, kill) -> tuple[dict, set[str], Responder]:
    slice_file = write_slice(plan, tmp_path / "slice.jsonl")
    log = tmp_path / "log.jsonl"
    responder = Responder(plan, delay=0.3)
    with ScriptedServer(models=["model-a"], responder=responder) as server:
        args = [sys.executable, "-m", "nlopt_milp.cli.app",
                *eval_args(slice_file, server, log, "--concurrency", "1")]
        proc = subprocess.Popen(args, cwd=ROOT, env=cli_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                text=True, start_new_session=True)
        try:
            deadline = time.monotonic() + 60
            while _count_results(log) < 3:
                assert proc.poll() is None, f"finished before it was interrupted: {proc.communicate()}"
                assert time.monotonic() < deadline, "no results in the log"
                time.sleep(0.05)
            kill(proc)
            _, stderr = proc.communicate(timeout=60)
        finally:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
        kill.check(proc, stderr)
        assert _count_results(log) < len(plan), "the run was not interrupted before the end"
        time.sleep(0.3)  # a request of the killed run still in the server finishes unseen
        if kill.tear:  # what a kill during a write leaves: a torn last line
            with open(log, "ab") as fh:
                fh.write(b'{"type": "result", "id": "99", "samp')
        done = {r["id"] for r in read_lines_lenient(log) if r.get("type") == "result"}
        assert 3 <= len(done) < len(plan)
        first_phase = len(responder.asked)
        responder.delay = 0.0
        summary = last_json(subprocess.run(args + ["--resume"], capture_output=True, text=True, cwd=ROOT,
                                           env=cli_env(), timeout=120))
        resumed = {pid for pid, _, _ in responder.asked[first_phase:]}
    assert responder.unknown == []
    assert resumed and not resumed & done  # finished problems are not asked again
    check_log(log, plan)  # every line parses (the torn one was cut off), one line per problem
    return summary, done, responder


class _SigKill:
    tear = True

    def __call__(self, proc):
        os.killpg(proc.pid, signal.SIGKILL)  # the CLI and its solve workers, as by an OOM killer

    @staticmethod
    def check(proc, stderr):
        assert proc.returncode == -signal.SIGKILL


class _SigInt:
    tear = False

    def __call__(self, proc):
        os.killpg(proc.pid, signal.SIGINT)  # Ctrl-C: the whole foreground process group

    @staticmethod
    def check(proc, stderr):
        assert proc.returncode == 130, stderr[-3000:]
        assert "interrupted" in stderr and "--resume" in stderr


def read_lines_lenient(log: Path) -> list[dict]:
    out = []
    for line in log.read_text(encoding="utf-8").splitlines():
        try:
            out.append(json.loads(line))
        except ValueError:
            pass
    return out


@needs_shared
@pytest.mark.parametrize("kill", [_SigKill(), _SigInt()], ids=["sigkill", "sigint"])
def test_resume_after_interruption_gives_the_same_numbers(plan, full_run, tmp_path, kill):
    summary, _, _ = _interrupted_then_resumed(plan, tmp_path, kill)
    check_numbers(summary, EXPECTED_1)
    uninterrupted = last_json(full_run[0])
    for key in ("n", "sa", "sa_5pct", "er", "ast", "taxonomy", "pass_at_k", "maj_at_k", "templates"):
        assert summary[key] == uninterrupted[key], key


# --- the report ------------------------------------------------------------------------------


@needs_shared
def test_report_renders_one_and_two_logs(full_run, no_repair_run, tmp_path):
    _, log_a, _ = full_run
    _, log_b, _ = no_repair_run

    html_one = tmp_path / "one.html"
    proc = nlopt("eval", "report", str(log_a), "--html", str(html_one))
    assert proc.returncode == 0, proc.stderr
    assert "nl4opt" in proc.stdout and "75.0%" in proc.stdout
    text = html_one.read_text(encoding="utf-8")
    assert text.startswith("<!DOCTYPE html>") and text.rstrip().endswith("</html>")
    assert "nl4opt" in text and "model-a (single)" in text
    assert "75.0%" in text and "87.5%" in text  # SA (and SA 5 %), ER

    html_two = tmp_path / "two.html"
    proc = nlopt("eval", "report", str(log_a), str(log_b), "--html", str(html_two), "--json")
    assert proc.returncode == 0, proc.stderr
    report = json.loads(proc.stdout.strip().splitlines()[-1])
    summaries = report["logs"]
    assert set(summaries) == {"model-a (single)", "model-b (single)"}
    paired = report["paired"]  # the same 8 problems: all common; a right on 3 and 5 where b is not
    assert (paired["n_common"], paired["only_first"], paired["only_second"]) == (8, 0, 0)
    assert (paired["first_correct_only"], paired["second_correct_only"]) == (2, 0)
    assert paired["p_value"] == 0.5
    check_numbers(summaries["model-a (single)"], EXPECTED_1)
    check_numbers(summaries["model-b (single)"], EXPECTED_0)
    text = html_two.read_text(encoding="utf-8")
    assert "model-a (single)" in text and "model-b (single)" in text
    assert "75.0%" in text and "87.5%" in text and "50.0%" in text  # SA a, ER a, SA b
    assert "−25.0 pt" in text or "-25.0 pt" in text  # SA of b minus SA of a

    proc = nlopt("eval", "report", str(tmp_path / "missing.jsonl"))
    assert proc.returncode == 2 and "no such log file" in proc.stderr


# --- scoring formulations made elsewhere --------------------------------------------------------


@needs_shared
def test_gold_formulations_against_the_answers(tmp_path):
    from nlopt_milp.data.nl4opt import import_nl4opt, write_jsonl
    from nlopt_milp.eval.datasets import load_file
    from nlopt_milp.eval.scoring import is_correct, is_correct_published
    from nlopt_milp.solve import solve

    problems = import_nl4opt(PART_A)  # what `nlopt data import-nl4opt` writes
    formulations = tmp_path / "gold.jsonl"
    assert write_jsonl(problems, formulations) == len(problems) == 144
    log = tmp_path / "gold-log.jsonl"
    summary = last_json(nlopt("eval", "gold", str(formulations), "--file", str(ANSWERS), "--json", "--out", str(log)))

    # the same measurement in this process: match on the text, solve, compare
    samples = {}
    for s in load_file(ANSWERS).samples:
        samples.setdefault(_norm(s.question), s)
    matched = {p.id: samples[_norm(p.document)] for p in problems if _norm(p.document) in samples}
    correct, correct_5 = set(), set()
    for p in problems:
        if p.id in matched:
            r = solve(p.formulation)
            if is_correct(r.status, r.objective, matched[p.id].answer):
                correct.add(matched[p.id].id)
            if is_correct_published(r.status, r.objective, matched[p.id].answer):
                correct_5.add(matched[p.id].id)

    assert summary["matched"] == summary["n"] == len(matched) == 121
    assert summary["unmatched"] == len(problems) - len(matched) == 23
    assert summary["taxonomy"]["correct"] == len(correct)
    assert len(correct) >= 60  # the continuous variant's gold measurement (tests/test_nl4opt.py)
    assert summary["sa"] == pytest.approx(len(correct) / len(matched))
    assert summary["sa_5pct"] == pytest.approx(len(correct_5) / len(matched))
    assert summary["er"] == 1.0 and summary["ast"] == 0.0

    header, *records = read_lines(log)
    assert header["type"] == "header" and header["backend"] == "gold"
    assert {r["id"] for r in records if r["correct"]} == correct
    report = nlopt("eval", "report", str(log), "--json")
    assert report.returncode == 0, report.stderr
    (only,) = json.loads(report.stdout.strip().splitlines()[-1])["logs"].values()
    assert only["sa"] == summary["sa"] and only["n"] == summary["n"]


# --- the hub without network ------------------------------------------------------------------


def test_hub_offline_exits_2_naming_file(tmp_path):
    t0 = time.monotonic()
    proc = nlopt("eval", "nl4opt", "--out", str(tmp_path / "log.jsonl"), "--base-url", "http://127.0.0.1:9/v1",
                 timeout=90, HF_HUB_OFFLINE="1", HF_DATASETS_OFFLINE="1", HF_HOME=str(tmp_path / "hf"),
                 HF_DATASETS_CACHE=str(tmp_path / "hf" / "datasets"))
    elapsed = time.monotonic() - t0
    assert proc.returncode == 2, (proc.stdout, proc.stderr)
    assert "--file" in proc.stderr and "nl4opt" in proc.stderr
    assert elapsed < 45, elapsed
    assert not (tmp_path / "log.jsonl").exists()


# --- several samples per problem ----------------------------------------------------------------


@needs_shared
def test_samples_pass_at_k_and_maj_at_k(plan, tmp_path):
    # two problems, three samples each (one request with n=3): 2 right + 1 wrong
    #   problem A: [wrong, right, right]  -> maj@2 picks the first (wrong) cluster on a tie; maj@3 right
    #   problem B: [right, wrong, right]  -> maj@2 right; maj@3 right
    # pass@1 = c/n = 2/3; pass@2 = 1 - C(1,2)/C(3,2) = 1; pass@3 = 1; SA (the vote) = 1; ER = 1; AST = 0
    a, b = plan[1], plan[3]
    assert a.role == "wrong" and b.role == "right"
    a = Problem("1", "", a.line, a.question, a.answer, a.gold, wrong=a.wrong)
    b = Problem("2", "", b.line, b.question, b.answer, b.gold, wrong=_wrong_variant(b.gold))
    orders = {a.question: [a.wrong, a.gold, a.gold], b.question: [b.gold, b.wrong, b.gold]}
    requests = []

    reviews = []

    def respond(request):
        user = request["messages"][-1]["content"]
        if user.startswith("Your formulation of the problem below solves"):  # review round: keep it as it is
            reviews.append(request)
            return Reply(content=user.split("\n\nYour formulation:\n", 1)[1].split("\n\nCheck findings:", 1)[0])
        requests.append(request)
        (question,) = [q for q in orders if q in user]
        return Reply(content=[json.dumps(f) for f in orders[question]])

    slice_file = write_slice([a, b], tmp_path / "slice.jsonl")
    with ScriptedServer(responder=respond) as server:
        summary = last_json(nlopt(*eval_args(slice_file, server, tmp_path / "log.jsonl", "--samples", "3")))
    assert len(requests) == 2 and all(r["n"] == 3 for r in requests)
    assert summary["n"] == 2 and summary["samples_per_problem"] == 3
    assert summary["sa"] == 1.0 and summary["er"] == 1.0 and summary["ast"] == 0.0
    assert summary["pass_at_k"] == {"1": pytest.approx(2 / 3), "2": 1.0, "3": 1.0}
    assert summary["maj_at_k"] == {"2": 0.5, "3": 1.0}
    results = {r["id"]: r for r in read_lines(tmp_path / "log.jsonl")[1:]}
    assert [len(r["samples"]) for r in results.values()] == [3, 3]
    assert results["1"]["chosen"] == 1 and results["2"]["chosen"] == 0
    assert results["1"]["agree"] == 2 and results["2"]["agree"] == 2


def test_resume_of_a_log_killed_before_its_first_result(tmp_path):
    """A run killed before any problem finished leaves a header (maybe with a torn line after it);
    resuming cuts the torn line and does not write a second header (a `resume` line instead)."""
    import asyncio
    from concurrent.futures import ThreadPoolExecutor

    from nlopt_milp.eval.runner import EvalOptions, run_eval

    log = tmp_path / "log.jsonl"
    with ThreadPoolExecutor(1) as pool:  # a new log gets its header, also with --resume
        asyncio.run(run_eval([], object(), log, EvalOptions(), {"benchmark": "nl4opt"}, resume=True, executor=pool))
    header = log.read_text(encoding="utf-8")
    assert [json.loads(line)["type"] for line in header.splitlines()] == ["header"]
    with open(log, "a", encoding="utf-8") as fh:
        fh.write('{"type": "result", "id": "1", "sam')
    with ThreadPoolExecutor(1) as pool:
        written = asyncio.run(run_eval([], object(), log, EvalOptions(), {"benchmark": "nl4opt"}, resume=True,
                                       executor=pool))
    text = log.read_text(encoding="utf-8")
    assert written == [] and text.startswith(header)
    assert [json.loads(line)["type"] for line in text.splitlines()] == ["header", "resume"]

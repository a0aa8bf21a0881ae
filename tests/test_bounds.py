"""Bounded work and sound numbers (issue 7, points 3, 6 and 9).

- grounding size: formulations are measured before they are expanded and refused above
  `--max-terms`, naming the part; `--time-limit` covers building the model;
- check vs solve: whatever `check` accepts, `to_linear_model` builds and a solver solves
  (long sums are flat, the model is built from nodes, not from re-parsed text);
- non-finite numbers: an overflow or NaN anywhere is an input error naming the element.
"""

from __future__ import annotations

import copy
import json
import math
from types import SimpleNamespace

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from nlopt_milp.core import expr as E
from nlopt_milp.core import ground
from nlopt_milp.core.size import DEFAULT_MAX_TERMS, model_terms, size_issues
from nlopt_milp.core.validate import check, load
from nlopt_milp.solve import solve, to_linear_model


def invoke(*args: str, input: str | None = None) -> SimpleNamespace:
    """The CLI in-process (typer's CliRunner), as in tests/test_cli.py."""
    from typer.testing import CliRunner

    from nlopt_milp.cli.app import app

    r = CliRunner().invoke(app, list(args), input=input, env={"COLUMNS": "200", "NLOPT_DEBUG": ""},
                           catch_exceptions=False)
    return SimpleNamespace(returncode=r.exit_code, stdout=r.stdout, stderr=r.stderr)


def base(n: int = 2) -> dict:
    elems = [chr(ord("a") + k) for k in range(n)]
    return {
        "version": "1",
        "sets": [{"name": "I", "elements": elems}],
        "parameters": [],
        "variables": [{"name": "x", "index": ["I"], "upper": 10}],
        "objective": {"sense": "maximize", "expr": "sum(x[i] for i in I)"},
        "constraints": [],
    }


def issues(d: dict, **kw) -> list[tuple[str, str]]:
    return [(i.path, i.message) for i in check(load(d), **kw)]


def write(tmp_path, d: dict | list | str, name: str = "f.json") -> str:
    p = tmp_path / name
    p.write_text(d if isinstance(d, str) else json.dumps(d), encoding="utf-8")
    return str(p)


def nested_sums(depth: int) -> str:
    text = "x[i0]"
    for k in range(depth):
        text = f"sum({text} for i{k} in I)"
    return text


@pytest.fixture
def no_expansion(monkeypatch):
    """Grounding a sum fails the test: the size check must answer before anything is expanded."""
    def refuse(*a, **kw):
        raise AssertionError("a sum was expanded")

    monkeypatch.setattr(ground.Data, "_add_sum", refuse)
    monkeypatch.setattr(ground.Data, "combos", refuse)


# --- grounding size ---------------------------------------------------------------------


def test_grounding_size_limit_nested_sums_refused_before_expanding(no_expansion):
    d = base()
    d["objective"]["expr"] = nested_sums(26)  # 2^26 terms in 370 characters
    assert issues(d) == [("objective.expr", "the objective expands to 67,108,864 terms, more than the limit of "
                                            "2,000,000 (--max-terms); use smaller sets or raise the limit")]


def test_grounding_size_limit_forall_instances_refused_before_expanding(no_expansion):
    d = base()
    d["constraints"] = [{"name": "c", "template": "upper_bound", "slots": {"var": "x[j0]", "limit": "5"},
                         "forall": [{"index": f"j{k}", "set": "I"} for k in range(22)]}]
    [(path, msg)] = issues(d)
    assert path == "constraints[0]"
    assert msg.startswith("constraint c expands to ") and "(4,194,304 instances)" in msg and "--max-terms" in msg


def test_grounding_size_limit_variables_and_total(no_expansion):
    d = base(4)
    d["variables"].append({"name": "big", "index": ["I"] * 11})  # 4^11 columns
    [(path, msg)] = issues(d)
    assert path == "variables[1]" and "variable big expands to 4,194,304 terms" in msg
    # each part under the limit, together over it: the largest part is named
    d = base(4)
    d["variables"].append({"name": "w", "index": ["I"] * 5})  # 1,024 columns
    d["constraints"] = [{"name": f"c{k}", "template": "general", "slots": {"expr": "sum(x[i] for i in I) <= 10"}}
                        for k in range(3)]
    [(path, msg)] = issues(d, max_terms=1_050)
    assert path == "variables[1]"
    assert msg.startswith("the model expands to ") and "(variable w: 1,024)" in msg


def test_grounding_size_limit_count_is_exact_at_the_edge():
    d = base(3)
    d["constraints"] = [{"name": "c", "template": "general", "forall": [{"index": "j", "set": "I"}],
                         "slots": {"expr": "sum(x[i] for i in I) <= 10"}}]
    total = sum(p.terms for p in model_terms(load(d)))
    assert issues(d, max_terms=total) == []
    [(path, msg)] = issues(d, max_terms=total - 1)
    assert "--max-terms" in msg


# Random formulations over small sets: the count bounds the model that is really built.
_ELEMS = st.lists(st.sampled_from(["a", "b", "c", "d"]), min_size=1, max_size=4, unique=True)


@st.composite
def sized_formulations(draw):
    elems = draw(_ELEMS)
    d = base(1)
    d["sets"] = [{"name": "I", "elements": elems}, {"name": "J", "elements": draw(_ELEMS)}]
    d["variables"] = [{"name": "x", "index": ["I"], "upper": 10}, {"name": "y", "index": ["I", "J"], "upper": 5},
                      {"name": "b", "index": ["J"], "domain": "binary"}]
    body = st.sampled_from(["x[i]", "2 * x[i] + y[i, j]", "y[i, j] - x[i]", "sum(y[i, j] for j in J)", "3"])
    sums = st.builds(lambda b, f: f"sum({b} for i in I for j in J" + (" if i != 'a')" if f else ")"), body,
                     st.booleans())
    obj = draw(st.lists(sums, min_size=1, max_size=3))
    d["objective"]["expr"] = " + ".join(obj)
    for k in range(draw(st.integers(0, 4))):
        kind = draw(st.sampled_from(["general", "fixed_charge", "assignment", "if_then"]))
        forall = [{"index": "j", "set": "J"}] if draw(st.booleans()) else []
        jj = "j" if forall else "'" + d["sets"][1]["elements"][0] + "'"
        if kind == "general":
            slots = {"expr": f"{draw(sums).replace('for j in J', 'for jj in J').replace('[i, j]', '[i, jj]')} <= 50"
                     if forall else f"{draw(sums)} <= 50"}
        elif kind == "fixed_charge":
            slots = {"var": f"sum(y[i, {jj}] for i in I)", "indicator": f"b[{jj}]", "cost": "4"}
        elif kind == "assignment":
            slots = {"var": f"y[i, {jj}]", "over": [{"index": "i", "set": "I"}], "count": "3", "sense": "<="}
        else:
            slots = {"condition": f"b[{jj}]", "then": f"sum(x[i] for i in I) == y['{elems[0]}', {jj}]"}
        d["constraints"].append({"name": f"c{k}", "template": kind, "forall": forall, "slots": slots})
    return d


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(sized_formulations())
def test_grounding_size_limit_never_under_counts(d):
    f = load(d)
    if check(f, max_terms=10**9):
        return
    counted = sum(p.terms for p in model_terms(f))
    lm = to_linear_model(f)
    built = len(lm.columns) + len(lm.objective) + sum(len(r.coefs) + 1 for r in lm.rows)
    assert counted >= built


def test_grounding_size_limit_cli_check_and_solve(tmp_path):
    d = base()
    d["objective"]["expr"] = nested_sums(26)
    path = write(tmp_path, d)
    r = invoke("check", path, "--json")
    assert r.returncode == 2
    [out] = [json.loads(line) for line in r.stdout.splitlines()]
    assert out["valid"] is False and out["issues"][0]["path"] == "objective.expr"
    assert "67,108,864 terms" in out["issues"][0]["message"]
    r = invoke("solve", "-f", path, "--json")
    assert r.returncode == 2
    out = json.loads(r.stdout.splitlines()[-1])
    assert out["status"] == "invalid" and "--max-terms" in out["issues"][0]["message"]
    # the limit is an option: a small model refused under a tiny limit, solved under the default
    small = write(tmp_path, base(), "small.json")
    r = invoke("check", small, "--max-terms", "3")
    assert r.returncode == 2 and "more than the limit of 3 (--max-terms)" in r.stderr
    r = invoke("solve", "-f", small, "--max-terms", "3")
    assert r.returncode == 2
    r = invoke("solve", "-f", small, "--json", "--max-terms", "1000")
    assert r.returncode == 0 and json.loads(r.stdout)["objective"] == pytest.approx(20.0)


def test_grounding_size_limit_solve_layer_and_pipeline():
    from nlopt_milp.eval.runner import WorkerSolve
    from nlopt_milp.formulate.pipeline import assess

    f = load(base())
    r = solve(f, max_terms=3)
    assert r.status == "error" and "too large to build" in r.message and "--max-terms" in r.message
    assert WorkerSolve(None, max_terms=3)(f).status == "error"
    assert WorkerSolve(None, max_terms=None)(f).status == "optimal"
    # LLM path: a draft over the limit goes back for repair with the reason
    draft = {**base(), "constraints": [{"name": "cap", "template": "general",  # a model writes >= 1 constraint
                                        "slots": {"expr": "x['a'] <= 5"}}]}
    a = assess(json.dumps(draft), "maximize x", None, max_terms=3)
    assert a.formulation is None and a.error_kind == "validation_error"
    assert any("--max-terms" in p for p in a.problems)
    assert assess(json.dumps(draft), "maximize x", None).formulation is not None


def big_assignment(n: int) -> dict:
    d = base(n)
    d["sets"].append({"name": "J", "elements": list(range(n))})
    d["variables"] = [{"name": "y", "index": ["I", "J"], "upper": 1}]
    d["objective"]["expr"] = "sum(y[i, j] for i in I for j in J)"
    d["constraints"] = [{"name": "row", "template": "general", "forall": [{"index": "i", "set": "I"}],
                         "slots": {"expr": "sum(y[i, j] for j in J) <= 1"}}]
    return d


def test_grounding_size_limit_time_limit_covers_the_build(tmp_path):
    f = load(big_assignment(100))  # 10,000 columns: the build checks the clock as it goes
    r = solve(f, time_limit=0)
    assert r.status == "time_limit" and r.exit_code == 5 and r.objective is None
    assert r.message.startswith("building the model took longer than the time limit of 0 s")
    assert solve(f, time_limit=60).status == "optimal"
    out = invoke("solve", "-f", write(tmp_path, big_assignment(100)), "--time-limit", "0", "--json")
    assert out.returncode == 5
    assert json.loads(out.stdout)["status"] == "time_limit"


def test_grounding_size_limit_default_documented():
    from pathlib import Path

    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text(encoding="utf-8")
    assert f"{DEFAULT_MAX_TERMS:,}" in readme and "--max-terms" in readme


# --- check vs solve ----------------------------------------------------------------------


def chain(n: int) -> str:
    return " + ".join(f"{k % 7 + 1} * x['{'ab'[k % 2]}']" for k in range(n))


def test_check_accepts_implies_solve_builds_long_linear_template():
    d = base()
    d["variables"].append({"name": "z", "upper": 3})
    d["constraints"] = [{"name": "lin", "template": "linear",
                         "slots": {"terms": ["z"] * 105 + ["x['a']"] * 105, "sense": "<=", "limit": "400"}}]
    assert issues(d) == []
    lm = to_linear_model(load(d))
    assert lm.rows[0].coefs == {0: 105.0, 2: 105.0} and lm.rows[0].rhs == 400
    r = solve(load(d))
    # maximize x[a] + x[b]: x[b] = 10, 105 x[a] <= 400 - 105 z with z = 0
    assert r.status == "optimal" and r.objective == pytest.approx(10 + 400 / 105)


def test_check_accepts_implies_solve_builds_many_fixed_charges():
    n = 210
    d = {"version": "1", "variables": [{"name": f"v{k}", "upper": 5} for k in range(n)]
         + [{"name": f"b{k}", "domain": "binary"} for k in range(n)],
         "objective": {"sense": "maximize", "expr": " + ".join(f"{k % 3 + 1} * v{k}" for k in range(n))},
         "constraints": [{"name": f"fc{k}", "template": "fixed_charge",
                          "slots": {"var": f"v{k}", "indicator": f"b{k}", "cost": "7"}} for k in range(n)]}
    assert issues(d) == []
    r = solve(load(d))
    # a unit is worth 1, 2 or 3 per unit (5 units); the setup costs 7: only the 3s (15 - 7) and 2s (10 - 7) pay
    assert r.status == "optimal" and r.objective == pytest.approx(70 * 8 + 70 * 3)


def test_check_accepts_implies_solve_builds_long_flat_chain():
    text = chain(300)  # about 3,900 characters
    assert len(text) < E.MAX_LENGTH
    node = E.parse(text)
    assert isinstance(node, E.Add) and len(node.terms) == 300  # flat, not 300 levels deep
    assert E.parse(E.to_text(node)) == node
    d = base()
    d["constraints"] = [{"name": "g", "template": "general", "slots": {"expr": text + " <= 1000"}}]
    assert issues(d) == []
    lm = to_linear_model(load(d))
    a = sum(k % 7 + 1 for k in range(0, 300, 2))
    b = sum(k % 7 + 1 for k in range(1, 300, 2))
    assert lm.rows[0].coefs == {0: a, 1: b}


def balanced(n: int) -> str:
    return "x['a']" if n == 1 else f"({balanced(n // 2)}+{balanced(n - n // 2)})"


def test_check_accepts_implies_solve_builds_balanced_general_near_the_length_limit():
    n = 1
    while len(balanced(n + 1)) + 4 <= 3960:
        n += 1
    text = balanced(n) + "<=5"
    assert 3900 < len(text) <= 3960 and len(E.to_text(E.parse_comparison(text))) > E.MAX_LENGTH
    d = base()
    d["constraints"] = [{"name": "g", "template": "general", "slots": {"expr": text}}]
    assert issues(d) == []
    r = solve(load(d))
    assert r.status == "optimal" and r.objective == pytest.approx(10 + 5 / n)


def test_check_accepts_implies_solve_builds_cli(tmp_path):
    d = base()
    d["constraints"] = [{"name": "g", "template": "general", "slots": {"expr": balanced(390) + "<=5"}},
                        {"name": "lin", "template": "linear", "slots": {"terms": ["x['b']"] * 210, "sense": "<=",
                                                                       "limit": "420"}}]
    path = write(tmp_path, d)
    assert invoke("check", path).returncode == 0
    r = invoke("solve", "-f", path, "--json")
    assert r.returncode == 0
    assert json.loads(r.stdout)["objective"] == pytest.approx(2 + 5 / 390)
    # the exports are built from the same nodes (the generated text is longer than 4,000 characters)
    for to in ("pyomo", "latex", "lp"):
        r = invoke("emit", path, "--to", to)
        assert r.returncode == 0, r.stderr
    compile(invoke("emit", path, "--to", "pyomo").stdout, "model.py", "exec")


# Formulations with many terms, long sums written out, many fixed charges, logical templates.
_COEF = st.integers(-9, 9).map(str) | st.sampled_from(["0.5", "2.25", "1e3"])
_TERM = st.builds(lambda c, v: f"{c} * {v}", _COEF,
                  st.sampled_from(["x['a']", "x['b']", "n['a']", "z", "y['a']", "sum(x[i] for i in I)"]))


def _terms(most: int):
    """Lists of terms of a length drawn evenly up to `most` (plain lists stay short)."""
    return st.integers(1, most).flatmap(lambda n: st.lists(_TERM, min_size=n, max_size=n))


@st.composite
def wide_formulations(draw):
    d = base()
    d["variables"] += [{"name": "n", "index": ["I"], "domain": "integer", "upper": 6},
                       {"name": "y", "index": ["I"], "domain": "binary"}, {"name": "z", "upper": 20}]
    d["objective"] = {"sense": draw(st.sampled_from(["maximize", "minimize"])),
                      "expr": " - ".join(draw(_terms(400)))}
    for k in range(draw(st.integers(0, 6))):
        kind = draw(st.sampled_from(["linear", "sum_bound", "general", "fixed_charges", "if_then", "either_or",
                                     "balanced", "forall"]))
        name = f"c{k}"
        if kind == "forall":  # quantified, filtered, with fixed charges per element
            d["constraints"].append({"name": name, "template": "fixed_charge", "forall": [{"index": "i", "set": "I"}],
                                     "where": draw(st.sampled_from(["i != 'b'", "i == i"])),
                                     "slots": {"var": " + ".join(["n[i]"] * draw(st.integers(1, 300))),
                                               "indicator": "y[i]", "cost": draw(_COEF)}})
            continue
        if kind in ("linear", "sum_bound"):
            slots = {"terms": draw(_terms(300)), "limit": draw(_COEF),
                     "sense": draw(st.sampled_from(["<=", ">=", "=="]))}
        elif kind == "general":
            terms = draw(_terms(600))
            slots = {"expr": " + ".join(terms) + f" <= {draw(_COEF)}"}
        elif kind == "balanced":
            slots = {"expr": balanced(draw(st.integers(1, 400))) + " >= 1"}
            kind = "general"
        elif kind == "fixed_charges":
            for j in range(draw(st.integers(1, 250))):
                e = "ab"[j % 2]
                d["constraints"].append({"name": f"{name}_{j}", "template": "fixed_charge", "slots": {
                    "var": f"x['{e}']", "indicator": f"y['{e}']", "cost": draw(_COEF)}})
            continue
        elif kind == "if_then":
            slots = {"condition": "y['a']", "then": " + ".join(draw(_terms(200)))
                     + f" {draw(st.sampled_from(['<=', '>=', '==']))} 3"}
        else:
            slots = {"first": "x['a'] + z <= 4", "second": " + ".join(draw(_terms(200)))
                     + " >= 2"}
        d["constraints"].append({"name": name, "template": kind, "slots": slots})
    return d


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(wide_formulations())
def test_check_accepts_implies_solve_builds_property(d):
    f = load(d)
    if check(f):
        return
    lm = to_linear_model(f)
    assert all(math.isfinite(c) for r in lm.rows for c in [r.rhs, *r.coefs.values()])
    r = solve(f, iis=False)
    assert r.status in ("optimal", "feasible", "infeasible", "unbounded"), r.message


# --- non-finite numbers -------------------------------------------------------------------


def test_non_finite_overflow_in_the_objective_is_an_input_error(tmp_path):
    d = base()
    d["objective"]["expr"] = "1e308 * 10 * x['a']"
    [(path, msg)] = issues(d)
    assert path == "objective.expr"
    assert msg == "1e+308 * 10 is not a finite number (it overflows); use smaller numbers or other units"
    r = invoke("solve", "-f", write(tmp_path, d), "--json")
    assert r.returncode == 2 and json.loads(r.stdout)["status"] == "invalid"


def test_non_finite_nan_and_folded_overflow_never_vanish():
    for expr in ["(1e308 * 10 - 1e308 * 10) * x['a'] + x['b']",  # NaN
                 "x['a'] / (1e308 * 10) + x['b']",  # would fold to 0 * x[a]
                 "0 * (1e300 * 1e300) * x['a']",  # inf * 0
                 "sum(1e308 * x[i] for i in I) + sum(1e308 * x[i] for i in I)"]:  # terms merge to inf
        d = base()
        d["objective"]["expr"] = expr
        [(path, msg)] = issues(d)
        assert path == "objective.expr" and ("not a finite number" in msg or "is inf" in msg), (expr, msg)


def test_non_finite_row_names_the_constraint_and_instance(tmp_path):
    d = base()
    d["parameters"] = [{"name": "big", "index": ["I"], "value": [1, 1e308]}]
    d["constraints"] = [{"name": "fine", "template": "upper_bound", "slots": {"var": "x['a']", "limit": "4"}},
                        {"name": "cap", "template": "comparison", "forall": [{"index": "i", "set": "I"}],
                         "slots": {"x": "big[i] * x[i]", "y": "-big[i] * x[i]"}}]
    [(path, msg)] = issues(d)
    assert path == "constraints[1]"
    assert msg.startswith("in row cap[b]: the coefficient of x[b] is inf")
    r = invoke("check", write(tmp_path, d))
    assert r.returncode == 2 and "constraints[1]: in row cap[b]" in r.stderr


def test_non_finite_slot_constant_and_cost():
    d = base()
    d["constraints"] = [{"name": "cap", "template": "upper_bound", "forall": [{"index": "i", "set": "I"}],
                         "slots": {"var": "x[i]", "limit": "1e200 * 1e200"}}]
    [(path, msg)] = issues(d)
    assert path == "constraints[0].slots.limit" and "not a finite number" in msg and "(for i='a')" in msg
    d = base()
    d["variables"].append({"name": "y", "index": ["I"], "domain": "binary"})
    d["objective"]["expr"] = "1e308 * y['a']"
    d["constraints"] = [{"name": "fc", "template": "fixed_charge", "forall": [{"index": "i", "set": "I"}],
                         "slots": {"var": "x[i]", "indicator": "y[i]", "cost": "-1.7e308"}}]
    [(path, msg)] = issues(d)  # maximize: the cost is subtracted, 1e308 + 1.7e308 overflows
    assert path == "constraints[0].slots.cost" and "the coefficient of y[a] is inf" in msg


@pytest.mark.parametrize("text", ["NaN", "Infinity", "-Infinity", "1e999"])
def test_non_finite_parameter_values_in_json(tmp_path, text):
    raw = ('{"version": "1", "parameters": [{"name": "p", "value": %s}], "variables": [{"name": "x", "upper": 1}],'
           ' "objective": {"sense": "maximize", "expr": "p * x"}, "constraints": []}' % text)
    r = invoke("check", write(tmp_path, raw), "--json")
    assert r.returncode == 2
    assert json.loads(r.stdout)["issues"] == [{"path": "parameters[0].value", "message": "values must be finite numbers"}]
    bound = raw.replace('"upper": 1', f'"upper": {text}').replace(f'"value": {text}', '"value": 2')
    r = invoke("check", write(tmp_path, bound), "--json")
    assert r.returncode == 2
    assert json.loads(r.stdout)["issues"] == [{"path": "variables[0].upper", "message": "NaN is not a number"
                                               if text == "NaN" else "use null for no bound"}]


_HUGE = st.sampled_from(["1e300", "1e308", "-1.5e308", "1e-300", "3", "0.5"])


@settings(max_examples=150, deadline=None)
@given(st.lists(st.tuples(_HUGE, _HUGE, st.sampled_from(["x['a']", "x['b']", "x[i]"])), min_size=1, max_size=4),
       _HUGE, st.sampled_from(["*", "/"]))
def test_non_finite_property_checked_models_are_finite(parts, limit, op):
    terms = " + ".join(f"{a} {op} {b} * {v}" if op == "*" else f"{a} / {b} * {v}" for a, b, v in parts)
    d = base()
    d["parameters"] = [{"name": "L", "value": float(limit)}]
    d["constraints"] = [{"name": "c", "template": "general", "forall": [{"index": "i", "set": "I"}],
                         "slots": {"expr": f"{terms} <= L * {limit}"}}]
    d["objective"]["expr"] = terms.replace("x[i]", "x['a']")
    f = load(d)
    if check(f):
        return
    lm = to_linear_model(f)
    numbers = [lm.objective_constant, *lm.objective.values()]
    numbers += [x for r in lm.rows for x in (r.rhs, *r.coefs.values())]
    assert all(math.isfinite(x) for x in numbers)
    if max(abs(x) for x in numbers) < 1e9:  # HiGHS refuses matrix values above 1e15 (a solver limit)
        assert solve(f, iis=False).status in ("optimal", "infeasible", "unbounded", "feasible")


def test_grounding_size_limit_eval_gold_and_run_options(tmp_path):
    from nlopt_milp.eval.runner import EvalOptions

    d = base()
    d["problem"] = "Maximize the total of x."
    gold = tmp_path / "gold.jsonl"
    gold.write_text(json.dumps(d) + "\n", encoding="utf-8")
    bench = write(tmp_path, [{"question": d["problem"], "answer": 20}], "bench.json")
    small = invoke("eval", "gold", str(gold), "--file", bench, "--json", "--max-terms", "3")
    assert small.returncode == 0
    summary = json.loads(small.stdout.splitlines()[-1])
    assert summary["taxonomy"]["validation_error"] == 1 and summary["sa"] == 0.0
    default = json.loads(invoke("eval", "gold", str(gold), "--file", bench, "--json").stdout.splitlines()[-1])
    assert default["taxonomy"]["correct"] == 1
    assert EvalOptions().max_terms is None  # eval run's option, logged with the other options
    assert "--max-terms" in invoke("eval", "run", "--help").stdout

"""Regression tests of the solve layer's hardening (issue 7: points 2, 4, 15, 16, 18), one per class."""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from fractions import Fraction
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from nlopt_milp.core.validate import load_valid
from nlopt_milp.solve import SOLVERS, solve, to_linear_model
from nlopt_milp.solve.backends import cpsat_model, finish
from nlopt_milp.solve.export import to_lp, to_mps
from nlopt_milp.solve.verify import clean_point, violations

ROOT = Path(__file__).resolve().parents[1]
MIP_SOLVERS = [s for s in SOLVERS if s not in ("ortools-glop", "ortools-pdlp")]


def model(variables, objective, constraints, sense="maximize", **extra) -> dict:
    return {"version": "1", "variables": variables, "objective": {"sense": sense, "expr": objective},
            "constraints": [{"name": f"c{i}", "template": "general", "slots": {"expr": c}}
                            for i, c in enumerate(constraints)], **extra}


def integer(name, lower=0, upper=None, **kw):
    return {"name": name, "domain": "integer", "lower": lower, "upper": upper, **kw}


# --- point 2: CP-SAT only for what it represents exactly -------------------------------------

def test_cpsat_exact_coefficients():
    f = load_valid(model([integer("x", upper=100)], "x", ["2000000000.5*x <= 10000000000"]))
    for s in ("ortools", "ortools-cpsat", "highs"):
        r = solve(f, solver=s)
        assert r.status == "optimal" and r.values == {"x": 4.0} and r.objective == 4.0, (s, r)
    assert solve(f, solver="ortools").solver == "ortools-cpsat"


@settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck))
@given(st.integers(1, 10**9), st.integers(0, 3), st.integers(0, 10**11), st.integers(0, 3))
def test_cpsat_exact_coefficients_property(a_digits, a_places, b_digits, b_places):
    """max x s.t. a x <= b over integers: CP-SAT gives floor(b / a) exactly, as written in decimals."""
    a, b = Fraction(a_digits, 10 ** a_places), Fraction(b_digits, 10 ** b_places)
    text_a, text_b = f"{float(a)!r}", f"{float(b)!r}"
    f = load_valid(model([integer("x", upper=10**6)], "x", [f"{text_a}*x <= {text_b}"]))
    expected = min(math.floor(Fraction(text_b) / Fraction(text_a)), 10**6)
    r = solve(f, solver="ortools")
    assert r.status == "optimal" and r.objective == expected, (text_a, text_b, r)


def test_cpsat_falls_back_to_scip_when_scaling_does_not_fit():
    f = load_valid(model([integer("x", upper=2**40)], "x", ["1.000000001*x <= 1000000"]))
    assert cpsat_model(to_linear_model(f))[0] is None
    r = solve(f, solver="ortools")
    assert r.solver == "ortools-scip" and r.status == "optimal" and r.objective == math.floor(1e6 / 1.000000001)
    r = solve(f, solver="ortools-cpsat")
    assert r.status == "error" and "cannot represent" in r.message and "64-bit" in r.message


def test_cpsat_integer_objective():
    # a proven optimum is reported as optimal with gap 0, not "feasible, gap 1e+10"
    f = load_valid(model([{"name": "x", "domain": "binary"}], "x", ["x <= 0.5"]))
    for s in ("ortools", "ortools-cpsat"):
        r = solve(f, solver=s)
        assert (r.status, r.objective, r.gap) == ("optimal", 0.0, 0.0), r
    # decimal objective coefficients are scaled to integers exactly
    f = load_valid(model([integer("x", upper=3), integer("y", upper=3)], "0.1*x + 0.25*y + 0.5",
                         ["x + y <= 4"]))
    cm, _ = cpsat_model(to_linear_model(f))
    assert cm.objective == {0: 2, 1: 5} and cm.objective_scale == 20
    r = solve(f, solver="ortools")
    assert r.solver == "ortools-cpsat" and r.status == "optimal" and r.gap == 0.0
    assert r.objective == pytest.approx(0.1 * 1 + 0.25 * 3 + 0.5, abs=1e-12)


def test_cpsat_integer_objective_bounds_near_1e16():
    f = load_valid(model([integer("x", -1e16, 1e16), integer("y", -1e16, 1e16)], "x + y", ["x - y <= 3"]))
    for s in ("highs", "ortools", "ortools-scip"):
        r = solve(f, solver=s)
        assert r.status == "optimal" and r.objective == 2e16 and r.exit_code == 0, (s, r)


# --- verification of every solver point ----------------------------------------------------------

def test_solver_point_verified():
    f = load_valid(model([integer("x", upper=100)], "x", ["2000000000.5*x <= 10000000000"]))
    lm = to_linear_model(f)
    found = violations(lm, [5.0])
    assert [(v.what, v.label, v.amount) for v in found] == [("row", "c0", 2.5)]
    assert violations(lm, [4.0]) == []
    r = finish(lm, "optimal", [5.0], "some-solver", 0.0, "Some: OPTIMAL")
    assert r.status == "error" and r.exit_code == 5 and r.values == {} and r.objective is None
    assert "c0 violated by 2.5" in r.message and "not reported" in r.message and r.raw_values == {"x": 5.0}
    # SCIP itself returns x = 5 here: the check turns it into an error instead of a wrong optimum
    r = solve(f, solver="ortools-scip")
    assert r.status in ("optimal", "error")
    assert r.status == "error" and "c0" in r.message or r.values == {"x": 4.0}


def test_solver_point_verified_bounds_and_integrality():
    f = load_valid(model([integer("x", upper=3), {"name": "z", "upper": 2}], "x + z", ["x + z <= 4"]))
    lm = to_linear_model(f)
    assert [v.what for v in violations(lm, [1.5, 0.0])] == ["integrality"]
    assert sorted((v.what, v.label) for v in violations(lm, [2.0, 2.5])) == [("bound", "z"), ("row", "c0")]
    assert violations(lm, [2.0, 2.0]) == [] and violations(lm, [2.0000001, 2.0]) == []


# --- point 16: one status for every backend ------------------------------------------------------

@pytest.mark.parametrize("variable", [
    integer("x", 0.5, 0.7), {"name": "x", "domain": "binary", "lower": 2}, integer("x", 1.2, 1.9),
])
def test_integer_bounds_normalised(variable):
    f = load_valid(model([variable], "x", ["x <= 5"]))
    for s in MIP_SOLVERS:
        r = solve(f, solver=s)
        assert r.status == "infeasible" and r.exit_code == 3, (s, r)
        assert [m.constraint for m in r.iis] == ["bounds of x"], (s, r.iis)
        assert "lower bound" in r.iis[0].source and "upper bound" in r.iis[0].source


def test_integer_bounds_normalised_rounds_inward():
    f = load_valid(model([integer("x", 0.2, 1.8)], "x", ["x <= 5"]))
    assert [(c.lower, c.upper) for c in to_linear_model(f).columns] == [(1, 1)]
    for s in MIP_SOLVERS:
        assert solve(f, solver=s).objective == 1.0, s


@pytest.mark.parametrize("objective", ["3", "0", "x - x", "2 + 0*x"])
@pytest.mark.parametrize("constraints", [[], ["x <= 2"], ["x >= 7"]])
@pytest.mark.parametrize("domain", ["integer", "continuous"])
def test_constant_objective_all_backends(objective, constraints, domain):
    f = load_valid(model([{"name": "x", "domain": domain, "upper": 3}], objective, constraints))
    expected = {"3": 3.0, "0": 0.0, "x - x": 0.0, "2 + 0*x": 2.0}[objective]
    solvers = MIP_SOLVERS if domain == "integer" else [s for s in SOLVERS if s != "ortools-cpsat"]
    for s in solvers:
        r = solve(f, solver=s)
        if constraints == ["x >= 7"]:
            assert r.status == "infeasible", (s, r)
        else:
            assert r.status == "optimal" and r.objective == expected and 0 <= r.values["x"] <= 3, (s, r)


def fixed_charge(upper: float) -> dict:
    return {"version": "1", "variables": [{"name": "x", "upper": upper}, {"name": "y", "domain": "binary"}],
            "objective": {"sense": "maximize", "expr": "x"},
            "constraints": [{"name": "fc", "template": "fixed_charge", "slots": {"var": "x", "indicator": "y"}}]}


def test_big_m_too_large():
    f = load_valid(fixed_charge(1e15))
    for s in MIP_SOLVERS:
        r = solve(f, solver=s)
        assert r.status == "error" and r.exit_code == 5, (s, r)
        assert "row fc" in r.message and "tighten the upper bound of x" in r.message, r.message
    ok = load_valid(fixed_charge(1e9))
    for s in MIP_SOLVERS[:-1]:  # not ortools-cpsat: x is continuous
        r = solve(ok, solver=s)
        assert r.status == "optimal" and r.objective == 1e9, (s, r)


def test_big_m_too_large_bounds_and_rhs():
    f = load_valid(model([{"name": "x", "upper": 1e20}], "x", ["x <= 5"]))
    r = solve(f)
    assert r.status == "error" and "upper bound 1e+20 of x" in r.message
    f = load_valid(model([{"name": "x", "upper": 5}], "x", ["x <= 1e21"]))
    r = solve(f, solver="ortools")
    assert r.status == "error" and "right-hand side 1e+21 of row c0" in r.message


# --- point 4: clean values, raw ones kept ---------------------------------------------------------

def test_display_rounding_machine_scheduling():
    f = load_valid(json.loads((ROOT / "examples" / "machine_scheduling.json").read_text()))
    for s in ("highs", "highs-pyomo", "ortools"):
        r = solve(f, solver=s)
        assert r.status == "optimal" and r.objective == 24.0, (s, r)
        assert r.values["start_a"] == 5.0 and r.values["start_b"] == 2.0, (s, r.values)
        assert set(r.raw_values) == set(r.values)
        assert all(abs(r.raw_values[k] - v) <= 1e-5 for k, v in r.values.items())


def test_display_rounding_json_has_raw_values(tmp_path):
    proc = subprocess.run([sys.executable, "-m", "nlopt_milp.cli.app", "solve", "-f",
                           str(ROOT / "examples" / "machine_scheduling.json"), "--json"],
                          capture_output=True, text=True, env=dict(os.environ, PYTHONPATH=str(ROOT)), timeout=120)
    assert proc.returncode == 0, proc.stderr
    d = json.loads(proc.stdout.splitlines()[0])
    assert d["objective"] == 24 and d["values"]["start_a"] == 5 and "raw_values" in d
    assert set(d["raw_values"]) == set(d["values"])


def test_display_rounding_keeps_raw_when_rounding_breaks_a_row():
    f = load_valid(model([integer("y", upper=1), integer("n", upper=1)], "y", ["1000000*y >= n"], sense="minimize"))
    lm = to_linear_model(f)
    x, note = clean_point(lm, [1e-6, 1.0])  # within integrality tolerance, but y = 0 breaks the row
    assert x == [1e-6, 1.0] and "unrounded" in note
    x, note = clean_point(lm, [1.0000001, 1.0])
    assert x == [1.0, 1.0] and note == ""
    r = finish(lm, "optimal", [1e-6, 1.0], "s", 0.0, "ok")
    assert r.status == "optimal" and r.values == {"y": 1e-6, "n": 1.0} and r.objective == 1e-6


# --- point 15: LP / MPS names ---------------------------------------------------------------------

def names_model(elements: list) -> dict:
    n = len(elements)
    return {"version": "1", "sets": [{"name": "S", "elements": elements}],
            "parameters": [{"name": "w", "index": ["S"], "value": list(range(1, n + 1))}],
            "variables": [{"name": "x", "index": ["S", "S"], "domain": "integer", "upper": 3},
                          {"name": "z", "index": ["S"], "upper": 2.5}],
            "objective": {"sense": "maximize", "expr": "sum(w[s]*x[s,t] for s in S for t in S) + sum(z[s] for s in S)"},
            "constraints": [{"name": "c", "template": "general", "forall": [{"index": "s", "set": "S"}],
                             "slots": {"expr": "sum(x[s,t] + x[t,s] for t in S) + z[s] <= 4.5"}}]}


def read_back_optimum(text: str, suffix: str, tmp_path) -> float:
    import highspy

    path = tmp_path / f"model{suffix}"
    path.write_text(text, encoding="utf-8")
    h = highspy.Highs()
    h.setOptionValue("output_flag", False)
    assert h.readModel(str(path)) == highspy.HighsStatus.kOk
    h.run()
    assert h.getModelStatus() == highspy.HighsModelStatus.kOptimal
    return h.getInfo().objective_function_value


@pytest.mark.parametrize("elements", [["a b", "a-b"], ["é", "ü"], ["a_b", "a", "b_a"], [1, "1.5", "1_5", "x y"]])
def test_lp_mps_unique_names(elements, tmp_path):
    f = load_valid(names_model(elements))
    expected = solve(f).objective
    for fn, suffix in ((to_lp, ".lp"), (to_mps, ".mps")):
        text = fn(f)
        assert read_back_optimum(text, suffix, tmp_path) == pytest.approx(expected, rel=1e-9)


ELEMENT = st.one_of(
    st.text(st.characters(whitelist_categories=("L", "N", "P", "S", "Zs"), blacklist_characters="\"'\\"),
            min_size=1, max_size=6).map(str.strip).filter(bool),
    st.integers(-5, 50),
)


def element_key(e):
    from nlopt_milp.core.elements import key

    return key(e)  # the identity rule: 1, "1" and "1.0" are one element


@settings(max_examples=20, deadline=None, suppress_health_check=list(HealthCheck))
@given(st.lists(ELEMENT, min_size=2, max_size=3, unique_by=element_key))
def test_lp_mps_unique_names_property(elements):
    import tempfile

    f = load_valid(names_model(elements))
    expected = solve(f).objective
    with tempfile.TemporaryDirectory() as tmp:
        for fn, suffix in ((to_lp, ".lp"), (to_mps, ".mps")):
            assert read_back_optimum(fn(f), suffix, Path(tmp)) == pytest.approx(expected, rel=1e-9), elements


# --- point 18: IIS bounds by index and side ------------------------------------------------------

def test_iis_bounds_name_index_and_side():
    f = load_valid({"version": "1", "sets": [{"name": "S", "elements": ["a", "b"]}],
                    "variables": [{"name": "z", "index": ["S"], "domain": "integer", "upper": 3}],
                    "objective": {"sense": "maximize", "expr": "sum(z[s] for s in S)"},
                    "constraints": [{"name": "gap", "template": "general", "slots": {"expr": "z['a'] - z['b'] >= 5"}}]})
    for s in ("highs", "ortools"):
        r = solve(f, solver=s)
        assert r.status == "infeasible"
        bounds = [m for m in r.iis if m.constraint == "bounds of z"]
        assert len(bounds) == 1, r.iis
        assert bounds[0].source == ("upper bound 3 of z[a] and lower bound 0 of z[b] (variables declaration; "
                                    "the default lower bound: not set in the variables declaration)") \
            or ("upper bound 3 of z[a]" in bounds[0].source and "lower bound 0 of z[b]" in bounds[0].source), bounds
        assert "lower bound 0 of z[a]" not in bounds[0].source and "upper bound 3 of z[b]" not in bounds[0].source

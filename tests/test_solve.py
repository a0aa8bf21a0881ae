"""Solving: Pyomo model, HiGHS (direct and through Pyomo) and OR-Tools backends, status mapping, duals, IIS.

Every optimum is checked against a value known independently: by hand (in the
comments), by brute force, or by a hand-written highspy model.
"""

from __future__ import annotations

import copy
import itertools
import json
import random
import subprocess
import sys

import pytest

from nlopt_milp.core.validate import load_valid
from nlopt_milp.solve import (
    SolveResult, check_agreement, explain_binding, solve, solve_linear, to_linear_model,
)
from nlopt_milp.solve.backends import Options, cpsat_model, feasible_zero_objective, run
from nlopt_milp.solve.iis import find_iis, origin_names
from nlopt_milp.solve.result import IISMember

TOL = 1e-6
BACKENDS = ["highs", "ortools"]


def close(a, b, tol=TOL):
    return a is not None and b is not None and abs(a - b) <= tol * max(1.0, abs(a), abs(b))


# --- models ------------------------------------------------------------------------------

INVEST = {
    "version": "1", "name": "invest",
    "variables": [{"name": "telecom"}, {"name": "healthcare"}],
    "objective": {"sense": "maximize", "expr": "0.03*telecom + 0.01*healthcare", "description": "yearly return"},
    "constraints": [
        {"name": "budget", "template": "sum_bound", "source": "At most $100,000 can be invested.",
         "slots": {"terms": ["telecom", "healthcare"], "limit": "100000"}},
        {"name": "ratio3", "template": "multiple", "source": "Telecom gets at least three times healthcare.",
         "slots": {"x": "telecom", "factor": "3", "y": "healthcare", "sense": ">="}},
        {"name": "cap", "template": "upper_bound", "source": "At most $70,000 goes to telecom.",
         "slots": {"var": "telecom", "limit": "70000"}},
    ],
}
# By hand: telecom <= 70000 binds; healthcare <= telecom / 3 binds (budget has room:
# 70000 + 23333.33 < 100000) -> 0.03 * 70000 + 0.01 * 23333.33 = 2333.33.
# Shadow prices: cap +1 -> telecom +1, healthcare +1/3 -> +0.03 + 0.01/3 = 0.0333...;
# ratio3 rhs +1 (telecom - 3 h >= 1) -> healthcare -1/3 -> -0.00333...; budget 0.
INVEST_OPT = 0.03 * 70000 + 0.01 * 70000 / 3

BLEND = {
    "version": "1", "name": "blend",
    "variables": [{"name": "t"}, {"name": "h"}, {"name": "u"}],
    "objective": {"sense": "minimize", "expr": "3*t + 5*h + 2*u", "description": "total cost"},
    "constraints": [
        {"name": "demand", "template": "linear", "slots": {"terms": ["t", "h", "u"], "sense": ">=", "limit": "10"}},
        {"name": "mix", "template": "general", "slots": {"expr": "t - h <= 2"}},
        {"name": "fix", "template": "general", "slots": {"expr": "u == 1"}},
        {"name": "tcap", "template": "upper_bound", "slots": {"var": "t", "limit": "8"}},
    ],
}
# By hand: u = 1, t + h >= 9 and t - h <= 2 bind -> t = 5.5, h = 3.5: 16.5 + 17.5 + 2 = 36.
# demand +1: t = 6, h = 4 -> 40 (dual 4); mix +1: t = 6, h = 3 -> 35 (dual -1);
# fix +1: u = 2, t = 5, h = 3 -> 34 (dual -2); tcap slack (dual 0).
BLEND_OPT, BLEND_DUALS = 36.0, {"demand": 4.0, "mix": -1.0, "fix": -2.0, "tcap": 0.0}

F, C = ["n", "s", "e"], [1, 2, 3, 4]
FIX, CAP, DEM = [120, 100, 90], [60, 50, 40], [15, 20, 25, 10]
COST = [[2, 4, 5, 3], [3, 2, 4, 5], [5, 3, 2, 4]]
FACILITY = {
    "version": "1", "name": "facility",
    "sets": [{"name": "F", "elements": F}, {"name": "C", "elements": C}],
    "parameters": [
        {"name": "fix", "index": ["F"], "value": FIX}, {"name": "cap", "index": ["F"], "value": CAP},
        {"name": "dem", "index": ["C"], "value": DEM}, {"name": "cost", "index": ["F", "C"], "value": COST},
    ],
    "variables": [
        {"name": "x", "index": ["F", "C"]}, {"name": "y", "index": ["F"], "domain": "binary"},
        {"name": "o", "upper": 20}, {"name": "e", "upper": 30},
    ],
    "objective": {"sense": "minimize", "expr": "sum(cost[f,c]*x[f,c] for f in F for c in C) + 4*o + 3*e"},
    "constraints": [
        {"name": "demand", "template": "assignment", "forall": [{"index": "c", "set": "C"}],
         "slots": {"var": "x[f,c]", "over": [{"index": "f", "set": "F"}], "count": "dem[c]"}},
        {"name": "open", "template": "fixed_charge", "forall": [{"index": "f", "set": "F"}],
         "slots": {"var": "sum(x[f,c] for c in C)", "indicator": "y[f]", "capacity": "cap[f]", "cost": "fix[f]"}},
        {"name": "lot", "template": "semi_continuous", "source": "Ship nothing or at least 5.",
         "forall": [{"index": "f", "set": "F"}, {"index": "c", "set": "C"}],
         "slots": {"var": "x[f,c]", "minimum": "5", "maximum": "dem[c]"}},
        {"name": "eo", "template": "either_or",
         "slots": {"first": "sum(x['n',c] for c in C) - o <= 30", "second": "e >= 10", "big_m": "100"}},
        {"name": "it", "template": "if_then", "forall": [{"index": "f", "set": "F"}], "where": "f != 'e'",
         "slots": {"condition": "y[f]", "then": "o >= 2"}},
    ],
}


def facility_optimum_by_highspy() -> float:
    """The facility model written by hand, big-Ms and all, straight in highspy."""
    import highspy

    h = highspy.Highs()
    h.setOptionValue("output_flag", False)
    x = {(f, c): h.addVariable(lb=0) for f in F for c in C}
    y = {f: h.addBinary() for f in F}
    w = {(f, c): h.addBinary() for f in F for c in C}  # ships at all
    z = h.addBinary()  # 0: first alternative holds, 1: second
    o, e = h.addVariable(lb=0, ub=20), h.addVariable(lb=0, ub=30)
    for j, c in enumerate(C):
        h.addConstr(sum(x[f, c] for f in F) == DEM[j])
        for f in F:
            h.addConstr(x[f, c] >= 5 * w[f, c])
            h.addConstr(x[f, c] <= DEM[j] * w[f, c])
    for i, f in enumerate(F):
        h.addConstr(sum(x[f, c] for c in C) <= CAP[i] * y[f])
    h.addConstr(sum(x["n", c] for c in C) - o - 30 <= 100 * z)
    h.addConstr(10 - e <= 100 * (1 - z))
    for f in ("n", "s"):
        h.addConstr(2 - o <= 2 * (1 - y[f]))
    h.minimize(sum(COST[i][j] * x[f, c] for i, f in enumerate(F) for j, c in enumerate(C))
               + sum(FIX[i] * y[f] for i, f in enumerate(F)) + 4 * o + 3 * e)
    assert h.getModelStatus() == highspy.HighsModelStatus.kOptimal
    return h.getInfo().objective_function_value


def knapsack(integer_upper: int | None = 2) -> dict:
    return {
        "version": "1", "name": "knap",
        "sets": [{"name": "I", "elements": list(range(6))}],
        "parameters": [{"name": "wt", "index": ["I"], "value": KW}, {"name": "val", "index": ["I"], "value": KV}],
        "variables": [{"name": "x", "index": ["I"], "domain": "integer", "upper": integer_upper}],
        "objective": {"sense": "maximize", "expr": "sum(val[i]*x[i] for i in I) + 1"},
        "constraints": [{"name": "weight", "template": "linear",
                         "slots": {"terms": ["sum(wt[i]*x[i] for i in I)"], "sense": "<=", "limit": "10.25"}}],
    }


KW, KV = [2.5, 3.5, 4.0, 1.5, 5.0, 3.0], [3.1, 4.2, 5.5, 1.9, 6.3, 3.7]


def knapsack_brute_force() -> float:
    best = -1.0
    for xs in itertools.product(range(3), repeat=6):
        if sum(w * x for w, x in zip(KW, xs)) <= 10.25 + 1e-9:
            best = max(best, sum(v * x for v, x in zip(KV, xs)))
    return best + 1  # objective constant


def market_split(m: int = 4, n: int = 30, seed: int = 1, slack: bool = False) -> dict:
    """Cornuejols-Dawande market split: tiny, and notoriously hard for branch and bound."""
    rnd = random.Random(seed)
    a = [[rnd.randint(0, 99) for _ in range(n)] for _ in range(m)]
    d = [sum(r) // 2 for r in a]
    f = {"version": "1", "name": "split",
         "sets": [{"name": "R", "elements": list(range(m))}, {"name": "J", "elements": list(range(n))}],
         "parameters": [{"name": "a", "index": ["R", "J"], "value": a}, {"name": "d", "index": ["R"], "value": d}],
         "variables": [{"name": "x", "index": ["J"], "domain": "binary"}],
         "objective": {"sense": "minimize", "expr": "0"},
         "constraints": [{"name": "split", "template": "general", "forall": [{"index": "r", "set": "R"}],
                          "slots": {"expr": "sum(a[r,j]*x[j] for j in J) == d[r]"}}]}
    if slack:  # always feasible; proving the optimum 0 is the hard part
        f["variables"] += [{"name": "sp", "index": ["R"], "domain": "integer", "upper": 1000},
                           {"name": "sm", "index": ["R"], "domain": "integer", "upper": 1000}]
        f["objective"]["expr"] = "sum(sp[r] + sm[r] for r in R)"
        f["constraints"][0]["slots"]["expr"] = "sum(a[r,j]*x[j] for j in J) + sp[r] - sm[r] == d[r]"
    return f


def infeasible_model(domain: str = "continuous") -> dict:
    return {
        "version": "1", "name": "clash",
        "variables": [{"name": "x", "domain": domain}, {"name": "z", "domain": domain}],
        "objective": {"sense": "minimize", "expr": "x + z"},
        "constraints": [
            {"name": "atleast", "template": "lower_bound", "source": "We need at least 10 units.",
             "slots": {"var": "x", "limit": "10"}},
            {"name": "irrelevant", "template": "lower_bound", "source": "z is at least 3.",
             "slots": {"var": "z", "limit": "3"}},
            {"name": "atmost", "template": "upper_bound", "source": "No more than 5 units fit.",
             "slots": {"var": "x", "limit": "5"}},
        ],
    }


# --- import hygiene ----------------------------------------------------------------------

def test_import_does_not_load_solvers():
    code = ("import sys, nlopt_milp.solve\n"
            "heavy = [m for m in sys.modules if m.split('.')[0] in ('pyomo', 'highspy', 'ortools')]\n"
            "assert not heavy, heavy\n")
    subprocess.run([sys.executable, "-c", code], check=True)


# --- Pyomo model -------------------------------------------------------------------------

def test_to_pyomo_components_follow_the_formulation():
    import pyomo.environ as pyo

    from nlopt_milp.solve.pyomo_model import pyomo_map, to_pyomo

    lm = to_linear_model(load_valid(FACILITY))
    m = to_pyomo(lm)
    assert {"x", "y", "o", "e", "either_eo"} <= {v.name for v in m.component_objects(pyo.Var)}
    cons = {c.name for c in m.component_objects(pyo.Constraint)}
    assert {"demand", "open", "lot_min", "lot_max", "eo_first", "eo_second", "it"} == cons
    assert m.x["s", 3].lb == 0 and m.x["s", 3].ub is None and m.x["s", 3].domain is pyo.Reals
    assert m.y["e"].domain is pyo.Binary and m.o.ub == 20
    assert list(m.it.keys()) == ["n", "s"]  # where f != 'e'
    assert m.lot_max["n", 2].upper == 0.0
    assert len(m.demand) == 4 and m.demand[3].lower == m.demand[3].upper == 25
    pm = pyomo_map(m)
    assert [v.name for v in pm.columns] == [c.label.replace(" ", "") for c in lm.columns]
    assert all(pm.rows[k] is not None for k in range(len(lm.rows)))
    obj = getattr(m, pm.objective)
    assert obj.sense == pyo.minimize


def test_to_pyomo_reserved_names_and_constant_objective():
    import pyomo.environ as pyo

    from nlopt_milp.solve.pyomo_model import pyomo_map, to_pyomo

    f = load_valid({"version": "1", "variables": [{"name": "name", "upper": 4}, {"name": "objective", "upper": 3}],
                    "objective": {"sense": "maximize", "expr": "name + objective + 10"},
                    "constraints": [{"name": "model", "template": "general", "slots": {"expr": "name + objective <= 5"}}]})
    m = to_pyomo(to_linear_model(f))
    pm = pyomo_map(m)
    assert pm.var_component == {"name": "name_", "objective": "objective"}
    assert pm.con_component == {"model": "model_"} and pm.objective == "objective_"
    assert pyo.value(getattr(m, pm.objective).expr.constant) == 10
    for s in BACKENDS:
        r = solve(f, solver=s)
        assert r.status == "optimal" and close(r.objective, 15.0), r
        assert set(r.values) == {"name", "objective"}


# --- LP ----------------------------------------------------------------------------------

@pytest.mark.parametrize("solver", ["highs", "highs-pyomo", "ortools", "ortools-glop", "ortools-scip", "ortools-pdlp"])
def test_lp_investment(solver):
    r = solve(load_valid(INVEST), solver=solver)
    assert r.status == "optimal" and r.exit_code == 0, r.message
    assert close(r.objective, INVEST_OPT, 1e-6 if solver != "ortools-pdlp" else 1e-5)
    assert close(r.values["telecom"], 70000, 1e-6) and close(r.values["healthcare"], 70000 / 3, 1e-6)
    assert r.gap is None and r.iis is None
    assert close(r.slacks["budget"], 100000 - 70000 * 4 / 3, 1e-6) and abs(r.slacks["cap"]) < 1e-6
    if solver in ("highs", "highs-pyomo", "ortools", "ortools-glop"):
        assert r.solver == {"ortools": "ortools-glop"}.get(solver, solver)
        assert close(r.duals["cap"], 0.03 + 0.01 / 3) and close(r.duals["ratio3"], -0.01 / 3)
        assert abs(r.duals["budget"]) < 1e-9


@pytest.mark.parametrize("solver", ["highs", "highs-pyomo", "ortools-glop"])
@pytest.mark.parametrize("model", ["invest", "blend"])
def test_duals_match_rhs_perturbation(solver, model):
    """dual = objective change when the row's rhs grows by one, for max and min, <=, >= and ==."""
    f = load_valid(INVEST if model == "invest" else BLEND)
    lm = to_linear_model(f)
    base = solve_linear(lm, solver)
    assert base.status == "optimal"
    if model == "blend":
        assert close(base.objective, BLEND_OPT)
        assert all(close(base.duals[k], v) or abs(base.duals[k] - v) < 1e-9 for k, v in BLEND_DUALS.items())
    for k, row in enumerate(lm.rows):
        moved = copy.deepcopy(lm)
        moved.rhs[k] += 1.0  # the arrays are the model (rows are views)
        r = solve_linear(moved, solver)
        assert r.status == "optimal"
        assert abs((r.objective - base.objective) - base.duals[row.label]) < 1e-6, row.label


def test_explain_binding_words():
    f = load_valid(INVEST)
    lm = to_linear_model(f)
    lines = explain_binding(lm, solve(f), f)
    assert lines == [
        'one more unit of `ratio3` ("Telecom gets at least three times healthcare.") costs 0.00333333 of yearly return',
        'one more unit of `cap` ("At most $70,000 goes to telecom.") is worth 0.0333333 of yearly return',
    ]
    fb = load_valid(BLEND)
    lines = explain_binding(to_linear_model(fb), solve(fb), fb)
    assert lines == ["one more unit of `demand` adds 4 to total cost", "one more unit of `mix` saves 1 of total cost",
                     "one more unit of `fix` saves 2 of total cost"]
    assert explain_binding(lm, SolveResult("infeasible"), f) == []


# --- MIP ---------------------------------------------------------------------------------

def test_mip_facility_matches_hand_written_highspy_model():
    f = load_valid(FACILITY)
    expected = facility_optimum_by_highspy()
    results = {s: solve(f, solver=s) for s in BACKENDS}
    for s, r in results.items():
        assert r.status == "optimal", (s, r.message)
        assert close(r.objective, expected), (s, r.objective, expected)
        assert r.gap is not None and r.gap <= 1e-4
        assert r.duals == {} and r.slacks == {}
        v = r.values
        for f_ in F:
            for c in C:
                assert v[f"x[{f_},{c}]"] == 0 or v[f"x[{f_},{c}]"] >= 5 - 1e-6  # semi-continuous
            assert v[f"y[{f_}]"] in (0.0, 1.0)  # integers come back clean
        for f_ in ("n", "s"):
            assert v[f"y[{f_}]"] == 0 or v["o"] >= 2 - 1e-6  # if-then
        assert sum(v[f"x[n,{c}]"] for c in C) - v["o"] <= 30 + 1e-6 or v["e"] >= 10 - 1e-6  # either-or
    assert results["ortools"].solver == "ortools-scip"


def test_cpsat_for_pure_bounded_integer_models():
    f = load_valid(knapsack())
    lm = to_linear_model(f)
    cm, _ = cpsat_model(lm)
    rows = cm.rows
    assert rows[0][0][0] == 5 and rows[0][2] == 20  # x2 (common denominator); 20.5 rounded down
    assert cm.objective_scale == 10 and cm.objective[0] == 31
    expected = knapsack_brute_force()
    for s in ("ortools", "ortools-cpsat", "highs", "ortools-scip"):
        r = solve(f, solver=s)
        assert r.status == "optimal" and close(r.objective, expected), (s, r)
    assert solve(f, solver="ortools").solver == "ortools-cpsat"
    unbounded = load_valid(knapsack(integer_upper=None))
    assert cpsat_model(to_linear_model(unbounded))[0] is None
    r = solve(unbounded, solver="ortools")
    assert r.solver == "ortools-scip" and close(r.objective, solve(unbounded).objective)
    assert r.objective > expected
    assert solve(unbounded, solver="ortools-cpsat").status == "error"


def test_integral_rows_scaling_rounds_inequalities_inward():
    f = load_valid({"version": "1", "variables": [{"name": "a", "domain": "integer", "upper": 9},
                                                  {"name": "b", "domain": "integer", "upper": 9}],
                    "objective": {"sense": "maximize", "expr": "a + b"},
                    "constraints": [{"name": "r1", "template": "general", "slots": {"expr": "0.5*a + 1.25*b <= 10.3"}},
                                    {"name": "r2", "template": "general", "slots": {"expr": "a + b >= 0.5"}}]})
    rows = cpsat_model(to_linear_model(f))[0].rows
    assert rows == [({0: 2, 1: 5}, "<=", 41), ({0: 1, 1: 1}, ">=", 1)]
    assert close(solve(f, solver="ortools-cpsat").objective, solve(f, solver="highs").objective)


# --- infeasible / unbounded ------------------------------------------------------------------

@pytest.mark.parametrize("solver", ["highs", "ortools", "ortools-scip", "ortools-cpsat"])
@pytest.mark.parametrize("domain", ["continuous", "integer"])
def test_infeasible_reports_iis_by_constraint(solver, domain):
    f = infeasible_model(domain)
    if solver == "ortools-cpsat":
        if domain == "continuous":
            pytest.skip("CP-SAT takes integer models only")
        for v in f["variables"]:
            v["upper"] = 100
    r = solve(load_valid(f), solver=solver)
    assert r.status == "infeasible" and r.exit_code == 3, r.message
    assert r.objective is None and r.values == {}
    assert r.iis == [IISMember("atleast", "We need at least 10 units.", ["atleast"]),
                     IISMember("atmost", "No more than 5 units fit.", ["atmost"])]


def test_iis_names_original_template_constraints_and_rows():
    f = load_valid({
        "version": "1", "sets": [{"name": "I", "elements": ["a", "b", "c"]}],
        "parameters": [{"name": "need", "index": ["I"], "value": [1, 7, 2]}, {"name": "cap", "index": ["I"], "value": [5, 5, 5]}],
        "variables": [{"name": "y", "index": ["I"]}, {"name": "p", "upper": 5}, {"name": "q", "upper": 5}],
        "objective": {"sense": "minimize", "expr": "sum(y[i] for i in I) + p + q"},
        "constraints": [
            {"name": "needs", "template": "lower_bound", "source": "Each site needs its minimum.",
             "forall": [{"index": "i", "set": "I"}], "slots": {"var": "y[i]", "limit": "need[i]"}},
            {"name": "caps", "template": "upper_bound", "source": "Each site holds at most 5.",
             "forall": [{"index": "i", "set": "I"}], "slots": {"var": "y[i]", "limit": "cap[i]"}},
            {"name": "eo", "template": "either_or", "source": "Either p or q reaches 6.",
             "slots": {"first": "p >= 6", "second": "q >= 6", "big_m": "10"}},
        ],
    })
    lm = to_linear_model(f)
    members, note = find_iis(lm, origin_names(f))
    assert note == ""
    # two independent conflicts; the deletion filter returns one of them, irreducibly (eo clashes
    # with the declared bounds p, q <= 5, so those are named too; the needs/caps clash needs none)
    assert members in (
        [IISMember("needs", "Each site needs its minimum.", ["needs[b]"]),
         IISMember("caps", "Each site holds at most 5.", ["caps[b]"])],
        [IISMember("eo", "Either p or q reaches 6.", ["eo_first", "eo_second"]),
         IISMember("bounds of p", "upper bound 5 of variable p (variables declaration)", ["p"]),
         IISMember("bounds of q", "upper bound 5 of variable q (variables declaration)", ["q"])],
    )
    r = solve(f)
    assert r.status == "infeasible" and r.iis == members


def test_iis_maps_linearized_names_back_despite_name_clashes():
    f = load_valid({"version": "1", "variables": [{"name": "p", "upper": 10}, {"name": "q", "upper": 10}],
                    "objective": {"sense": "maximize", "expr": "p + q"},
                    "constraints": [
                        {"name": "eo", "template": "either_or", "source": "One of them exceeds 12.",
                         "slots": {"first": "p >= 12", "second": "q >= 12"}},
                        {"name": "eo_first", "template": "general", "source": "Together at most 30.",
                         "slots": {"expr": "p + q <= 30"}},
                    ]})
    origins = origin_names(f)
    assert sorted(origins.values()) == ["eo", "eo", "eo_first"] and origins["eo_first"] == "eo_first"
    for s in BACKENDS:
        r = solve(f, solver=s)
        assert r.status == "infeasible"
        assert [(m.constraint, m.source, len(m.rows)) for m in r.iis] == [
            ("eo", "One of them exceeds 12.", 2),  # against p, q <= 10: the bounds take part
            ("bounds of p", "upper bound 10 of variable p (variables declaration)", 1),
            ("bounds of q", "upper bound 10 of variable q (variables declaration)", 1)]


@pytest.mark.parametrize("solver", BACKENDS)
def test_iis_names_the_variable_bound_that_takes_part(solver):
    f = load_valid({"version": "1", "variables": [{"name": "x", "upper": 10}],
                    "objective": {"sense": "minimize", "expr": "x"},
                    "constraints": [{"name": "need", "template": "general", "source": "We need at least 12.",
                                     "slots": {"expr": "x >= 12"}}]})
    r = solve(f, solver=solver)
    assert r.status == "infeasible"
    assert r.iis == [IISMember("need", "We need at least 12.", ["need"]),
                     IISMember("bounds of x", "upper bound 10 of variable x (variables declaration)", ["x"])]
    assert "; " not in r.message  # complete: no note


@pytest.mark.parametrize("solver", BACKENDS)
def test_iis_leaves_out_bounds_that_do_not_take_part(solver):
    f = load_valid({"version": "1", "variables": [{"name": "x", "lower": 1, "upper": 100}, {"name": "z", "upper": 4}],
                    "objective": {"sense": "minimize", "expr": "x + z"},
                    "constraints": [
                        {"name": "atleast", "template": "general", "source": "a", "slots": {"expr": "x + z >= 10"}},
                        {"name": "atmost", "template": "general", "source": "b", "slots": {"expr": "x + z <= 5"}},
                        {"name": "zcap", "template": "general", "source": "c", "slots": {"expr": "z <= 3"}},
                    ]})
    r = solve(f, solver=solver)
    assert r.status == "infeasible"
    assert r.iis == [IISMember("atleast", "a", ["atleast"]), IISMember("atmost", "b", ["atmost"])]


@pytest.mark.parametrize("solver", BACKENDS)
def test_iis_of_a_mip_names_the_integer_bound_not_the_binary_domain(solver):
    f = load_valid({"version": "1",
                    "variables": [{"name": "b", "domain": "binary"},
                                  {"name": "n", "domain": "integer", "lower": 1, "upper": 4},
                                  {"name": "y", "upper": 100}],
                    "objective": {"sense": "minimize", "expr": "n + y"},
                    "constraints": [
                        {"name": "link", "template": "general", "source": "An open depot gets at least 5 trucks.",
                         "slots": {"expr": "n >= 5*b"}},
                        {"name": "must", "template": "general", "source": "The depot opens.",
                         "slots": {"expr": "b >= 1"}},
                        {"name": "ymin", "template": "general", "source": "y at least 2.", "slots": {"expr": "y >= 2"}},
                    ]})
    r = solve(f, solver=solver)
    assert r.status == "infeasible"
    # b's [0, 1] is its domain (never named); n's lower bound 1 plays no part
    assert r.iis == [
        IISMember("link", "An open depot gets at least 5 trucks.", ["link"]),
        IISMember("must", "The depot opens.", ["must"]),
        IISMember("bounds of n", "upper bound 4 of variable n (variables declaration)", ["n"]),
    ]


def test_iis_names_bounds_per_column_with_parameter_values():
    f = load_valid({"version": "1", "sets": [{"name": "I", "elements": ["a", "b", "c"]}],
                    "parameters": [{"name": "need", "index": ["I"], "value": [1, 7, 2]},
                                   {"name": "cap", "index": ["I"], "value": [5, 6, 5]}],
                    "variables": [{"name": "y", "index": ["I"], "upper": "cap"}, {"name": "s", "lower": None}],
                    "objective": {"sense": "minimize", "expr": "sum(y[i] for i in I)"},
                    "constraints": [
                        {"name": "needs", "template": "lower_bound", "source": "Each site needs its minimum.",
                         "forall": [{"index": "i", "set": "I"}], "slots": {"var": "y[i]", "limit": "need[i]"}},
                        {"name": "neg", "template": "general", "source": "s is negative.", "slots": {"expr": "s <= -1"}},
                    ]})
    for s in BACKENDS:
        r = solve(f, solver=s)
        assert r.status == "infeasible"
        assert r.iis == [IISMember("needs", "Each site needs its minimum.", ["needs[b]"]),
                         IISMember("bounds of y", "upper bound 6 of y[b] (parameter cap in the variables "
                                                  "declaration)", ["y[b]"])]
    # a default bound is said to be one; `gap` goes (sum with the lower bounds is infeasible alone)
    f = load_valid({"version": "1", "variables": [{"name": "x", "upper": 3}, {"name": "w", "lower": 2, "upper": 5}],
                    "objective": {"sense": "minimize", "expr": "x"},
                    "constraints": [{"name": "gap", "template": "general", "source": "g",
                                     "slots": {"expr": "x - w >= 1"}},
                                    {"name": "sum", "template": "general", "source": "s",
                                     "slots": {"expr": "x + w <= 1"}}]})
    r = solve(f)
    assert r.status == "infeasible"
    assert r.iis == [
        IISMember("sum", "s", ["sum"]),
        IISMember("bounds of x", "lower bound 0 of variable x (the default lower bound: not set in the "
                                 "variables declaration)", ["x"]),
        IISMember("bounds of w", "lower bound 2 of variable w (variables declaration)", ["w"])]


def test_iis_bound_filter_restores_the_oracle_bounds():
    from nlopt_milp.solve.iis import FeasibilityOracle, needed_bounds

    import numpy as np

    f = load_valid({"version": "1", "variables": [{"name": "x", "lower": 1, "upper": 10}, {"name": "z", "upper": 2}],
                    "objective": {"sense": "minimize", "expr": "x"},
                    "constraints": [{"name": "need", "template": "general", "slots": {"expr": "x + z >= 13"}}]})
    lm = to_linear_model(f)
    oracle = FeasibilityOracle(lm)
    active = np.ones(len(lm.rows), dtype=bool)
    needed, note = needed_bounds(lm, oracle, oracle.feasible, active)
    assert note == "" and needed == [(0, "upper"), (1, "upper")]
    lp = oracle.h.getLp()
    assert list(lp.col_lower_) == [1.0, 0.0] and list(lp.col_upper_) == [10.0, 2.0]
    assert oracle.feasible(active) is False


def test_iis_bounds_alone_and_a_time_limit_in_the_bound_filter(monkeypatch):
    from nlopt_milp.core.validate import load
    from nlopt_milp.solve.iis import FeasibilityOracle

    # integer bounds that round to an empty range: the bounds alone clash, said with their declaration
    f = load({"version": "1", "variables": [{"name": "n", "domain": "integer", "lower": 0.2, "upper": 0.8}],
              "objective": {"sense": "minimize", "expr": "n"},
              "constraints": [{"name": "c", "template": "general", "slots": {"expr": "n >= 0"}}]})
    assert solve(f).iis == [IISMember(
        "bounds of n", "lower bound 1 of variable n (variables declaration: 0.2, rounded up for an integer); "
                       "upper bound 0 of variable n (variables declaration: 0.8, rounded down for an integer)", ["n"])]

    # undecided checks in the bound phase: the bounds are kept, and the note says so
    f = load_valid({"version": "1", "variables": [{"name": "x", "upper": 10}],
                    "objective": {"sense": "minimize", "expr": "x"},
                    "constraints": [{"name": "need", "template": "general", "slots": {"expr": "x >= 12"}}]})
    real, calls = FeasibilityOracle.feasible, []

    def flaky(self, active):
        calls.append(1)
        return None if len(calls) > 3 else real(self, active)  # full, none, group filter; then undecided

    monkeypatch.setattr(FeasibilityOracle, "feasible", flaky)
    members, note = find_iis(to_linear_model(f), origin_names(f))
    assert [m.constraint for m in members] == ["need", "bounds of x"] and "time limit" in note


def test_trivially_violated_row():
    f = load_valid({"version": "1", "variables": [{"name": "x"}], "objective": {"sense": "minimize", "expr": "x"},
                    "constraints": [{"name": "never", "template": "general", "source": "s", "slots": {"expr": "0*x >= 1"}}]})
    for s in BACKENDS:
        r = solve(f, solver=s)
        assert r.status == "infeasible" and r.iis == [IISMember("never", "s", ["never"])]


@pytest.mark.parametrize("solver", ["highs", "ortools", "ortools-scip", "ortools-glop", "ortools-pdlp"])
@pytest.mark.parametrize("domain", ["continuous", "integer"])
def test_unbounded(solver, domain):
    f = load_valid({"version": "1", "variables": [{"name": "x", "domain": domain}, {"name": "y", "domain": domain}],
                    "objective": {"sense": "maximize", "expr": "x + y"},
                    "constraints": [{"name": "c", "template": "general", "slots": {"expr": "x - y <= 3"}}]})
    if domain == "integer" and solver in ("ortools-glop", "ortools-pdlp"):
        pytest.skip("LP-only engine")
    r = solve(f, solver=solver)
    if solver == "ortools-pdlp":  # PDLP stops without a verdict on unbounded LPs
        assert r.status == "error" and "unbounded" in r.message
        return
    assert r.status == "unbounded" and r.exit_code == 4 and r.objective is None, r.message
    assert r.iis is None


def test_infeasible_or_unbounded_is_settled_pyomo(monkeypatch):
    from pyomo.contrib.solver.common.results import Results, SolutionStatus, TerminationCondition
    from pyomo.contrib.solver.solvers.highs import Highs

    calls = []

    def fake_solve(self, model, **kwds):
        calls.append(kwds.get("solver_options", {}))
        res = Results()
        res.termination_condition = TerminationCondition.infeasibleOrUnbounded
        res.solution_status = SolutionStatus.noSolution
        return res

    monkeypatch.setattr(Highs, "solve", fake_solve)
    unbounded = to_linear_model(load_valid({"version": "1", "variables": [{"name": "x"}],
                                            "objective": {"sense": "maximize", "expr": "x"}}))
    infeasible = to_linear_model(load_valid(infeasible_model()))
    assert run(unbounded, "highs-pyomo", Options()).status == "unbounded"
    assert run(infeasible, "highs-pyomo", Options()).status == "infeasible"
    assert calls[1].get("presolve") == "off"  # first retried without presolve
    assert feasible_zero_objective(unbounded, None) is True and feasible_zero_objective(infeasible, None) is False


def test_infeasible_or_unbounded_is_settled_direct(monkeypatch):
    """The direct HiGHS route: retried without presolve, then settled by the feasibility solve."""
    import highspy

    from nlopt_milp.solve import highs_direct

    presolve = []
    real = highs_direct.highs_model

    def stubborn(lm, objective=True):
        h = real(lm, objective)
        if objective:  # the solve itself; the feasibility oracle (objective=False) stays real
            h.run = lambda: presolve.append(h.getOptionValue("presolve")[1])  # (status, value)
            h.getModelStatus = lambda: highspy.HighsModelStatus.kUnboundedOrInfeasible
        return h

    monkeypatch.setattr(highs_direct, "highs_model", stubborn)
    unbounded = to_linear_model(load_valid({"version": "1", "variables": [{"name": "x"}],
                                            "objective": {"sense": "maximize", "expr": "x"}}))
    infeasible = to_linear_model(load_valid(infeasible_model()))
    r = run(unbounded, "highs", Options())
    assert r.status == "unbounded" and r.message == "HiGHS: Primal infeasible or unbounded; settled by a feasibility solve"
    assert presolve == ["choose", "off"]  # first retried without presolve
    assert run(infeasible, "highs", Options()).status == "infeasible"


# --- HiGHS directly vs through Pyomo -------------------------------------------------------

def _ior_model() -> dict:
    """Unbounded integer model: HiGHS's presolve says only "infeasible or unbounded"."""
    return {"version": "1", "variables": [{"name": "x", "domain": "integer"}, {"name": "y", "domain": "integer"},
                                          {"name": "idle", "lower": 2, "upper": 5}],
            "objective": {"sense": "maximize", "expr": "x + y"},
            "constraints": [{"name": "c", "template": "general", "slots": {"expr": "x - y <= 3"}}]}


def _ior_infeasible_model() -> dict:
    """Integer infeasible (x - y = 0 leaves 3b0 + 5b1 + ... = 1, which no subset sums to) with an
    unbounded LP relaxation: HiGHS says only "infeasible or unbounded", with and without presolve,
    so the feasibility solve settles it."""
    return {"version": "1",
            "variables": [{"name": "x", "domain": "integer"}, {"name": "y", "domain": "integer"},
                          {"name": "b", "index": ["K"], "domain": "binary"}],
            "sets": [{"name": "K", "elements": [0, 1, 2, 3, 4, 5]}],
            "parameters": [{"name": "w", "index": ["K"], "value": [3, 5, 7, 11, 13, 17]}],
            "objective": {"sense": "maximize", "expr": "x + y"},
            "constraints": [
                {"name": "sum", "template": "general", "slots": {"expr": "sum(w[k]*b[k] for k in K) == 1 + x - y"}},
                {"name": "le", "template": "general", "slots": {"expr": "x - y <= 0"}},
                {"name": "ge", "template": "general", "slots": {"expr": "x - y >= 0"}},
            ]}


IOR_INFEASIBLE = _ior_infeasible_model()
WITH_IDLE = {**INVEST, "variables": INVEST["variables"] + [{"name": "idle", "lower": 2, "upper": 5}]}


@pytest.mark.parametrize("model, status", [
    (INVEST, "optimal"), (BLEND, "optimal"), (WITH_IDLE, "optimal"), (FACILITY, "optimal"), (knapsack(), "optimal"),
    (infeasible_model(), "infeasible"), (infeasible_model("integer"), "infeasible"),
    ({"version": "1", "variables": [{"name": "x"}, {"name": "y"}], "objective": {"sense": "maximize", "expr": "x + y"},
      "constraints": [{"name": "c", "template": "general", "slots": {"expr": "x - y <= 3"}}]}, "unbounded"),
    (_ior_model(), "unbounded"), (IOR_INFEASIBLE, "infeasible"),
], ids=["lp-max", "lp-min", "lp-idle-column", "mip", "knapsack", "infeasible-lp", "infeasible-mip", "unbounded-lp",
        "ior-unbounded", "ior-infeasible"])
def test_highs_direct_and_pyomo_agree(model, status):
    """Same status, objective, values, gap, duals, slacks, message and IIS either way."""
    f = load_valid(model)
    direct, pyomo = solve(f, solver="highs"), solve(f, solver="highs-pyomo")
    assert (direct.solver, pyomo.solver) == ("highs", "highs-pyomo")
    assert direct.status == pyomo.status == status, (direct.message, pyomo.message)
    assert direct.message == pyomo.message
    assert direct.iis == pyomo.iis
    if model is IOR_INFEASIBLE:  # the real settle path, not a stub
        assert "settled by a feasibility solve" in direct.message
    if status != "optimal":
        assert direct.objective is None and pyomo.objective is None and direct.values == pyomo.values == {}
        return
    assert close(direct.objective, pyomo.objective)
    assert direct.values.keys() == pyomo.values.keys()
    assert all(close(direct.values[k], pyomo.values[k]) for k in direct.values), (direct.values, pyomo.values)
    assert (direct.gap is None) == (pyomo.gap is None)
    if direct.gap is not None:
        assert direct.gap <= 1e-4 and pyomo.gap <= 1e-4
    assert direct.duals.keys() == pyomo.duals.keys() and direct.slacks.keys() == pyomo.slacks.keys()
    assert all(close(direct.duals[k], pyomo.duals[k]) for k in direct.duals)
    assert all(close(direct.slacks[k], pyomo.slacks[k]) for k in direct.slacks)
    if model is WITH_IDLE:  # a column nothing mentions: 0 moved inside its bounds
        assert direct.values["idle"] == pyomo.values["idle"] == 2.0


def test_highs_direct_is_silent_and_skips_pyomo():
    code = ("import sys\n"
            "from nlopt_milp.core.validate import load_file\n"
            "from nlopt_milp.solve import solve\n"
            "r = solve(load_file('examples/production_mix.json'), threads=1)\n"
            "assert r.status == 'optimal' and r.objective == 1350, r\n"
            "assert not [m for m in sys.modules if m.split('.')[0] == 'pyomo']\n")
    from pathlib import Path

    out = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True,
                         cwd=Path(__file__).resolve().parent.parent)
    assert out.stdout == "" and out.stderr == ""


# --- limits and errors -------------------------------------------------------------------

@pytest.mark.parametrize("solver", ["highs", "highs-pyomo", "ortools-scip", "ortools-cpsat"])
def test_time_limit(solver):
    r = solve(load_valid(market_split()), solver=solver, time_limit=1.0)
    if r.status in ("optimal", "infeasible"):
        pytest.skip(f"{solver} settled the market split within the limit")
    assert r.status == "time_limit" and r.exit_code == 5 and r.objective is None, r.message
    r = solve(load_valid(market_split(slack=True)), solver=solver, time_limit=1.0)
    if r.status == "optimal":
        pytest.skip(f"{solver} proved the optimum within the limit")
    assert r.status == "feasible" and r.exit_code == 0 and r.objective is not None
    assert r.gap is not None and r.gap > 0 and r.seconds < 30


def test_options_threads_and_gap():
    f = load_valid(FACILITY)
    expected = facility_optimum_by_highspy()
    for threads, solver in itertools.product((1, 2, None, 1), ("highs", "highs-pyomo")):
        # HiGHS's scheduler is restarted when the thread count changes
        r = solve(f, solver=solver, threads=threads)
        assert r.status == "optimal" and close(r.objective, expected), (threads, solver, r.message)
    for s in ("highs", "highs-pyomo", "ortools-scip"):
        r = solve(f, solver=s, mip_gap=0.5)
        assert r.status in ("optimal", "feasible") and r.gap <= 0.5 + 1e-9
        assert r.status == ("feasible" if r.gap > 1e-4 else "optimal")
        assert expected - 1e-6 <= r.objective <= expected / 0.5
    a = check_agreement(f, mip_gap=0.5)
    assert set(a.results) == {"highs", "ortools"} and all(r.has_solution for r in a.results.values())


def test_solver_exceptions_become_error_status(monkeypatch):
    import nlopt_milp.solve as S

    def boom(*a, **k):
        raise RuntimeError("solver exploded\nwith a long traceback")

    monkeypatch.setattr(S, "run", boom)
    r = solve(load_valid(INVEST))
    assert r.status == "error" and r.exit_code == 5 and r.message == "highs failed: RuntimeError: solver exploded"
    assert solve(load_valid(INVEST), solver="gurobi").status == "error"


def test_lp_only_engines_refuse_mips():
    r = solve(load_valid(FACILITY), solver="ortools-glop")
    assert r.status == "error" and "integer" in r.message


# --- result and agreement ------------------------------------------------------------------

def test_result_json_and_exit_codes():
    r = solve(load_valid(infeasible_model()))
    data = json.loads(json.dumps(r.to_json()))
    assert {"status", "objective", "values", "solver", "seconds", "gap", "message", "duals", "slacks", "iis"} <= set(data)
    assert data["iis"][0] == {"constraint": "atleast", "source": "We need at least 10 units.", "rows": ["atleast"]}
    codes = {s: SolveResult(s).exit_code for s in ("optimal", "feasible", "infeasible", "unbounded", "time_limit", "error")}
    assert codes == {"optimal": 0, "feasible": 0, "infeasible": 3, "unbounded": 4, "time_limit": 5, "error": 5}
    with pytest.raises(ValueError):
        SolveResult("solved")


def test_check_agreement():
    for model, expected in ((INVEST, INVEST_OPT), (FACILITY, None), (knapsack(), knapsack_brute_force())):
        a = check_agreement(load_valid(model))
        assert a.agree, a.message
        assert set(a.results) == {"highs", "ortools"}
        if expected is not None:
            assert close(a.results["highs"].objective, expected)
    a = check_agreement(load_valid(infeasible_model()))
    assert a.agree and a.results["highs"].status == "infeasible"


def test_compare_detects_disagreement():
    from nlopt_milp.solve import compare

    ok, msg = compare({"highs": SolveResult("optimal", 1.0), "ortools": SolveResult("optimal", 1.0 + 1e-9)})
    assert ok
    ok, msg = compare({"highs": SolveResult("optimal", 1.0), "ortools": SolveResult("optimal", 1.01)})
    assert not ok and "objective" in msg
    ok, msg = compare({"highs": SolveResult("optimal", 1.0), "ortools": SolveResult("infeasible")})
    assert not ok and "status" in msg


def test_solver_pool_runs_below_the_callers_priority():
    """Solves yield the CPU to the process that reads replies and sends requests (solve/pool.py)."""
    import os

    from nlopt_milp.solve.pool import NICE, solver_pool

    with solver_pool(1) as pool:
        assert pool.submit(os.nice, 0).result(timeout=60) == min(19, os.nice(0) + NICE)

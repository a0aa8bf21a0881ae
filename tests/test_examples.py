"""The shipped examples: valid, solvable by both backends, and correct.

Each example's optimum is computed here INDEPENDENTLY of nlopt_milp: a direct model
written with highspy or OR-Tools (pywraplp) from the numbers of the problem text, or a
brute-force enumeration, and for most examples also a hand-derived optimum (arithmetic
in the comment). None of these reads the example JSON through our code.
"""

from __future__ import annotations

import itertools
import json
import math
from pathlib import Path

import highspy
import pytest
from ortools.linear_solver import pywraplp

from nlopt_milp.core.formulation import TEMPLATE_NAMES
from nlopt_milp.core.validate import check, load_file

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
NAMES = sorted(p.stem for p in EXAMPLES.glob("*.json"))
REL = 1e-6


# --- independent helpers -------------------------------------------------------------


def _highs() -> highspy.Highs:
    h = highspy.Highs()
    h.setOptionValue("output_flag", False)
    return h


def _highs_optimum(h: highspy.Highs) -> float:
    h.run()
    assert h.getModelStatus() == highspy.HighsModelStatus.kOptimal, h.modelStatusToString(h.getModelStatus())
    return h.getInfo().objective_function_value


def _ortools_optimum(solver: pywraplp.Solver) -> float:
    assert solver.Solve() == pywraplp.Solver.OPTIMAL
    return solver.Objective().Value()


# --- independent models, one per example ------------------------------------------------


def ref_production_mix() -> float:
    # max 30c + 50t  s.t. labor 2c + 4t <= 100, oak 3c + 2t <= 90, t <= 20, c >= 5.
    # Labor and oak binding: 2c + 4t = 100, 3c + 2t = 90 -> 4c = 80 -> c = 20, t = 15 -> 600 + 750 = 1350.
    # Other vertices: t = 20 -> c <= 10 (labor) -> 1300; t = 0 -> c = 30 (oak) -> 900.
    # Duals: 2a + 3b = 30, 4a + 2b = 50 -> labor a = 11.25 $/h, oak b = 2.5 $/board-foot (both > 0).
    h = _highs()
    c = h.addVariable(lb=5)
    t = h.addVariable(ub=20)
    h.addConstr(2 * c + 4 * t <= 100)
    h.addConstr(3 * c + 2 * t <= 90)
    h.maximize(30 * c + 50 * t)
    return h.getInfo().objective_function_value


def ref_diet() -> float:
    # min .2o + .3m + .25e  s.t. 5o + 8m + 6e >= 40, 150o + 100m + 70e >= 850, o + m + e <= 10.
    # Both nutrient rows binding: o = 8 - 1.6m, 150(8 - 1.6m) + 100m = 850 -> 140m = 350 -> m = 2.5, o = 4
    # -> .8 + .75 = 1.55 (6.5 servings <= 10).
    # Dual certificate: 5y1 + 150y2 = .2, 8y1 + 100y2 = .3 -> y2 = 1/7000, y1 = .04 - 30/7000 (both >= 0);
    # egg reduced cost .25 - (6y1 + 70y2) = .25 - .2243 > 0, so eggs stay out.
    h = _highs()
    o, m, e = (h.addVariable() for _ in range(3))
    h.addConstr(5 * o + 8 * m + 6 * e >= 40)
    h.addConstr(150 * o + 100 * m + 70 * e >= 850)
    h.addConstr(o + m + e <= 10)
    h.minimize(0.2 * o + 0.3 * m + 0.25 * e)
    return h.getInfo().objective_function_value


def ref_transportation() -> float:
    # Bexley (40) is cheapest for Dunn (3) and Eton (7 vs 9): 25 + 15 = 40 exactly; Alton -> Cole 20.
    # Cost 20*4 + 25*3 + 15*7 = 80 + 75 + 105 = 260.
    # Dual certificate: supply prices u = (Alton 0, Bexley -2), demand prices v = (Cole 4, Dunn 5, Eton 9);
    # reduced costs c - u - v: Alton 0, 1, 0; Bexley 3, 0, 0 (all >= 0);
    # dual objective 30*0 + 40*(-2) + 20*4 + 25*5 + 15*9 = -80 + 80 + 125 + 135 = 260.
    solver = pywraplp.Solver.CreateSolver("GLOP")
    supply = {"alton": 30, "bexley": 40}
    demand = {"cole": 20, "dunn": 25, "eton": 15}
    cost = {("alton", "cole"): 4, ("alton", "dunn"): 6, ("alton", "eton"): 9,
            ("bexley", "cole"): 5, ("bexley", "dunn"): 3, ("bexley", "eton"): 7}
    x = {k: solver.NumVar(0, solver.infinity(), f"x_{k[0]}_{k[1]}") for k in cost}
    for s, cap in supply.items():
        solver.Add(sum(x[s, m] for m in demand) <= cap)
    for m, d in demand.items():
        solver.Add(sum(x[s, m] for s in supply) >= d)
    solver.Minimize(sum(cost[k] * x[k] for k in cost))
    return _ortools_optimum(solver)


def ref_assignment() -> float:
    # Enumerate the 6 permutations; best: Ann-painting 2 + Bob-wiring 6 + Cal-testing 1 = 9.
    hours = [[9, 2, 7], [6, 4, 3], [5, 8, 1]]
    return min(sum(hours[w][j] for w, j in enumerate(p)) for p in itertools.permutations(range(3)))


def ref_blending() -> float:
    # min .3c + .6s + .4o  s.t. c + s + o = 100, .1c + .4s + .15o >= 20, c <= 50.
    # c = 50: 5 + .4s + .15(50 - s) >= 20 -> .25s >= 7.5 -> s = 30, o = 20 -> 15 + 18 + 8 = 41.
    # Moving 1 kg corn to oats (+.10) lets .2 kg soymeal become oats (-.04): net +.06, so corn stays at 50.
    h = _highs()
    c, s, o = (h.addVariable() for _ in range(3))
    h.addConstr(c + s + o == 100)
    h.addConstr(0.1 * c + 0.4 * s + 0.15 * o >= 0.2 * (c + s + o))
    h.addConstr(c <= 0.5 * (c + s + o))
    h.minimize(0.3 * c + 0.6 * s + 0.4 * o)
    return h.getInfo().objective_function_value


def ref_knapsack() -> float:
    # Brute force over 32 subsets; best: tent + camera + food (5 + 3 + 2 = 10 kg) = 10 + 6 + 5 = 21
    # (tent + stove + book 10 kg = 18; stove + camera + food + book 10 kg = 19).
    weight = [5, 4, 3, 2, 1]
    points = [10, 7, 6, 5, 1]
    best = 0
    for pick in itertools.product((0, 1), repeat=5):
        if sum(w * p for w, p in zip(weight, pick)) <= 10:
            best = max(best, sum(v * p for v, p in zip(points, pick)))
    return best


def ref_facility_location() -> float:
    # Demand 15 + 20 + 10 = 45. Alone, North (cap 40) and East (cap 30) cannot serve it; South alone:
    # 120 + 15*3 + 20*1 + 10*3 = 120 + 95 = 215. Two or more warehouses cost at least 100 + 90 = 190 to
    # open plus at least the cheapest shipping 15*2 + 20*1 + 10*2 = 70, i.e. >= 260 > 215.
    # Optimum 215: open South only.
    h = _highs()
    F, C = ["north", "south", "east"], ["ames", "bly", "cary"]
    fix = {"north": 100, "south": 120, "east": 90}
    cap = {"north": 40, "south": 50, "east": 30}
    dem = {"ames": 15, "bly": 20, "cary": 10}
    cost = {"north": [2, 4, 5], "south": [3, 1, 3], "east": [6, 3, 2]}
    x = {(f, c): h.addVariable() for f in F for c in C}
    y = {f: h.addVariable(lb=0, ub=1, type=highspy.HighsVarType.kInteger) for f in F}
    for c in C:
        h.addConstr(sum(x[f, c] for f in F) == dem[c])
    for f in F:
        shipped = sum(x[f, c] for c in C)
        h.addConstr(shipped - cap[f] * y[f] <= 0)
        h.addConstr(shipped - 20 * y[f] >= 0)
    h.setMinimize()
    h.setObjective(sum(cost[f][k] * x[f, c] for f in F for k, c in enumerate(C)) + sum(fix[f] * y[f] for f in F))
    return _highs_optimum(h)


def ref_inventory() -> float:
    # A cake baked in week s for week t costs bake_cost[s] + (t - s) (holding), so the cheapest source is:
    # week 1's net 15 (20 - 5 start): week 1 at 5; week 2's 30: week 1 or 2 at 6; week 3's 25: weeks 1-3 at 7;
    # week 4's 15 + the 5 final cakes: week 4 at 6 (week 2 gives 8, week 3 gives 8), the 5 final cakes
    # also pay 1 holding at the end of week 4. Capacity 30/week is never short (e.g. bake 30, 30, 10, 20).
    # Cost 15*5 + 30*6 + 25*7 + 20*6 + 5*1 = 75 + 180 + 175 + 120 + 5 = 555 (plan not unique, cost is).
    solver = pywraplp.Solver.CreateSolver("GLOP")
    T = [1, 2, 3, 4]
    demand = {1: 20, 2: 30, 3: 25, 4: 15}
    cost = {1: 5, 2: 6, 3: 7, 4: 6}
    bake = {t: solver.NumVar(0, 30, f"bake{t}") for t in T}
    stock = {t: solver.NumVar(0, solver.infinity(), f"stock{t}") for t in T}
    for t in T:
        before = 5 if t == 1 else stock[t - 1]
        solver.Add(before + bake[t] - stock[t] == demand[t])
    solver.Add(stock[4] >= 5)
    solver.Minimize(sum(cost[t] * bake[t] + stock[t] for t in T))
    return _ortools_optimum(solver)


def ref_project_selection() -> float:
    # Brute force over the 32 subsets. By hand: with D (so without B), {A, D} 22 is best
    # ({A, D, E} and {A, C, D} cost 13 and 14 > 12; C needs A). Without D, within $12k:
    # {A, B, E} cost 12 -> 12 + 9 + 5 = 26; {A, C, E} cost 11 -> 24; {A, B, C} costs 13. Optimum 26.
    npv = dict(A=12, B=9, C=7, D=10, E=5)
    cost = dict(A=6, B=4, C=3, D=5, E=2)
    best = -math.inf
    for r in range(6):
        for pick in itertools.combinations("ABCDE", r):
            if not 2 <= len(pick) <= 3 or sum(cost[p] for p in pick) > 12:
                continue
            if "C" in pick and "A" not in pick:
                continue
            if "B" in pick and "D" in pick:
                continue
            best = max(best, sum(npv[p] for p in pick))
    return best


def ref_machine_scheduling() -> float:
    # Objective (sA + 4) + 3 (sB + 3). A first: sA = 0, sB = max(2, 4) = 4 -> 4 + 3*7 = 25.
    # B first: sB = 2, sA = 5 -> 9 + 3*5 = 24. Optimum 24 (B first, machine idle in hours 0-2).
    a_first = (0 + 4) + 3 * (max(2, 0 + 4) + 3)
    b_first = (max(0, 2 + 3) + 4) + 3 * (2 + 3)
    # the same with an independent disjunctive MIP (own big-M 100)
    solver = pywraplp.Solver.CreateSolver("SCIP")
    sa, sb = solver.NumVar(0, 20, "sa"), solver.NumVar(2, 20, "sb")
    z = solver.IntVar(0, 1, "z")
    solver.Add(sa + 4 <= sb + 100 * z)
    solver.Add(sb + 3 <= sa + 100 * (1 - z))
    solver.Minimize(sa + 4 + 3 * (sb + 3))
    assert _ortools_optimum(solver) == pytest.approx(min(a_first, b_first), rel=REL)
    return min(a_first, b_first)


def ref_minimum_lot() -> float:
    # LP relaxation would make hinges 40 + clips 10 (190) but 10 clips < lot 20.
    # Hinges 30 + clips 20 = 50 h -> 120 + 60 = 180; hinges 40 alone -> 160; brackets 10 + hinges 30 -> 170.
    # Optimum 180. Independently: one highspy LP per on/off pattern of the three products.
    profit, hours, lot, cap = [5, 4, 3], [2, 1, 1], [10, 30, 20], [20, 40, 25]
    best = -math.inf
    for on in itertools.product((0, 1), repeat=3):
        h = _highs()
        x = [h.addVariable(lb=lot[k] * on[k], ub=cap[k] * on[k]) for k in range(3)]
        h.addConstr(sum(hours[k] * x[k] for k in range(3)) <= 50)
        h.maximize(sum(profit[k] * x[k] for k in range(3)))
        if h.getModelStatus() == highspy.HighsModelStatus.kOptimal:
            best = max(best, h.getInfo().objective_function_value)
    return best


def ref_portfolio() -> float:
    # Cash at its floor 10 (2% is the lowest return), stocks at the cap 40 (9% the highest).
    # 50 left: real estate (7%) beats bonds (4%), limited by RE <= stocks = 40 and bonds >= RE/4:
    # RE = 40, bonds = 10 -> .04*10 + .09*40 + .07*40 + .02*10 = .4 + 3.6 + 2.8 + .2 = 7.0 ($k).
    solver = pywraplp.Solver.CreateSolver("GLOP")
    b, s, r, c = (solver.NumVar(0, solver.infinity(), n) for n in ("b", "s", "r", "c"))
    total = b + s + r + c
    solver.Add(total == 100)
    solver.Add(s <= 0.4 * total)
    solver.Add(c >= 0.1 * total)
    solver.Add(b >= 0.25 * r)
    solver.Add(r <= s)
    solver.Maximize(0.04 * b + 0.09 * s + 0.07 * r + 0.02 * c)
    return _ortools_optimum(solver)


def ref_shift_staffing() -> float:
    # Cover constraints: s1 + s4 >= 3, s1 + s2 >= 5, s2 + s3 >= 4, s3 + s4 >= 6.
    # (s1 + s2) + (s3 + s4) >= 5 + 6 = 11, attained by s = (5, 0, 4, 2). Brute force 0..6 each.
    need = [3, 5, 4, 6]
    best = math.inf
    for s in itertools.product(range(7), repeat=4):
        if all(s[t] + s[t - 1] >= need[t] for t in range(4)):  # s[-1] is period 4
            best = min(best, sum(s))
    return best


REFERENCE = {
    "production_mix": (ref_production_mix, 1350),
    "diet": (ref_diet, 1.55),
    "transportation": (ref_transportation, 260),
    "assignment": (ref_assignment, 9),
    "blending": (ref_blending, 41),
    "knapsack": (ref_knapsack, 21),
    "facility_location": (ref_facility_location, 215),
    "inventory": (ref_inventory, 555),
    "project_selection": (ref_project_selection, 26),
    "machine_scheduling": (ref_machine_scheduling, 24),
    "minimum_lot": (ref_minimum_lot, 180),
    "portfolio": (ref_portfolio, 7.0),
    "shift_staffing": (ref_shift_staffing, 11),
}

# Variable values where the optimum is unique (checked against the solvers' values).
UNIQUE_VALUES = {
    "production_mix": {"make[chair]": 20, "make[table]": 15},
    "diet": {"serve[oatmeal]": 4, "serve[milk]": 2.5, "serve[egg]": 0},
    "transportation": {"ship[alton,cole]": 20, "ship[bexley,dunn]": 25, "ship[bexley,eton]": 15},
    "assignment": {"assign[ann,painting]": 1, "assign[bob,wiring]": 1, "assign[cal,testing]": 1},
    "blending": {"kg[corn]": 50, "kg[soymeal]": 30, "kg[oats]": 20},
    "knapsack": {"take[tent]": 1, "take[stove]": 0, "take[camera]": 1, "take[food]": 1, "take[book]": 0},
    "facility_location": {"open[north]": 0, "open[south]": 1, "open[east]": 0},
    "project_selection": {"pick[A]": 1, "pick[B]": 1, "pick[C]": 0, "pick[D]": 0, "pick[E]": 1},
    "machine_scheduling": {"start_a": 5, "start_b": 2},
    "minimum_lot": {"make[bracket]": 0, "make[hinge]": 30, "make[clip]": 20},
    "portfolio": {"amount[bonds]": 10, "amount[stocks]": 40, "amount[realestate]": 40, "amount[cash]": 10},
}


# --- tests ---------------------------------------------------------------------------


def test_at_least_twelve_examples_each_with_a_reference():
    assert len(NAMES) >= 12
    assert set(NAMES) == set(REFERENCE)


@pytest.mark.parametrize("name", NAMES)
def test_example_validates(name):
    f = load_file(EXAMPLES / f"{name}.json")
    assert check(f) == []
    assert f.name == name


@pytest.mark.parametrize("name", NAMES)
def test_text_file_matches_problem_and_sources(name):
    f = load_file(EXAMPLES / f"{name}.json")
    text = (EXAMPLES / f"{name}.txt").read_text(encoding="utf-8").strip()
    assert f.problem == text
    for c in f.constraints:
        assert c.name
        assert c.source, c.name
        assert c.source in text, f"{name}.{c.name}: source not in the problem text: {c.source!r}"


def test_examples_cover_every_template():
    used = set()
    for name in NAMES:
        raw = json.loads((EXAMPLES / f"{name}.json").read_text(encoding="utf-8"))
        used |= {c["template"] for c in raw["constraints"]}
    assert used == set(TEMPLATE_NAMES), f"missing: {sorted(set(TEMPLATE_NAMES) - used)}"


@pytest.mark.parametrize("name", NAMES)
def test_reference_matches_hand_derived_optimum(name):
    ref, hand = REFERENCE[name]
    assert ref() == pytest.approx(hand, rel=REL)


@pytest.mark.parametrize("solver", ["highs", "highs-pyomo", "ortools"])
@pytest.mark.parametrize("name", NAMES)
def test_example_solves_to_independent_optimum(name, solver):
    from nlopt_milp.solve import solve

    f = load_file(EXAMPLES / f"{name}.json")
    r = solve(f, solver=solver)
    assert r.status == "optimal"
    ref, _ = REFERENCE[name]
    assert r.objective == pytest.approx(ref(), rel=REL)
    for label, value in UNIQUE_VALUES.get(name, {}).items():
        assert r.values[label] == pytest.approx(value, rel=REL, abs=1e-6), label


@pytest.mark.parametrize("solver", ["highs", "highs-pyomo", "ortools"])
def test_production_mix_shadow_prices(solver):
    # Binding rows 2c + 4t = 100 (labor), 3c + 2t = 90 (oak) with prices a, b:
    # 2a + 3b = 30, 4a + 2b = 50 -> b = 2.5 $/board-foot, a = 11.25 $/labor hour.
    from nlopt_milp.solve import solve

    r = solve(load_file(EXAMPLES / "production_mix.json"), solver=solver)
    assert r.status == "optimal"
    assert r.duals["labor_hours"] == pytest.approx(11.25, rel=REL)
    assert r.duals["oak_stock"] == pytest.approx(2.5, rel=REL)
    assert r.duals["table_sales"] == pytest.approx(0.0, abs=1e-9)  # 15 < 20 tables: not binding

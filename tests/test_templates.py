"""The template catalog: the exact linear rows each template emits, derived big-Ms, render()."""

from __future__ import annotations

import math

import pytest

from nlopt_milp.core import expr as E
from nlopt_milp.core.formulation import TEMPLATE_NAMES, Formulation
from nlopt_milp.core.ground import Data
from nlopt_milp.core.templates import CATALOG, instances, linearize, render
from nlopt_milp.core.validate import check, load
from nlopt_milp.solve.linear_model import to_linear_model

SETS = [{"name": "P", "elements": ["a", "b"]}, {"name": "J", "elements": [1, 2, 3]}]
PARAMS = [{"name": "cap", "index": ["P"], "value": [5, 7]}, {"name": "w", "index": ["P"], "value": [2, 3]}]
VARS = [
    {"name": "x", "upper": 100},
    {"name": "u", "upper": 10},
    {"name": "v", "lower": -4, "upper": 6},
    {"name": "q", "index": ["P"], "upper": 50},
    {"name": "y", "domain": "binary"},
    {"name": "b", "index": ["P"], "domain": "binary"},
    {"name": "a", "index": ["P", "J"], "domain": "binary"},
]


def model(*constraints, objective=None, sense="minimize", variables=None) -> Formulation:
    f = load({
        "sets": SETS, "parameters": PARAMS, "variables": variables or VARS,
        "objective": {"sense": sense, "expr": objective or "x"},
        "constraints": list(constraints),
    })
    assert check(f) == [], check(f)
    return f


def rows(f: Formulation) -> list[tuple[str, dict[str, float], str, float]]:
    """(row label, {column label: coefficient}, sense, rhs) of every emitted row, with -0.0 as 0.0."""
    lm = to_linear_model(f)
    return [(r.label, {lm.columns[k].label: c + 0.0 for k, c in r.coefs.items()}, r.sense, r.rhs + 0.0)
            for r in lm.rows]


def objective(f: Formulation) -> tuple[dict[str, float], float]:
    lm = to_linear_model(f)
    return {lm.columns[k].label: c for k, c in lm.objective.items()}, lm.objective_constant


def c(name, template, slots, **kw) -> dict:
    return {"name": name, "template": template, "slots": slots, **kw}


FORALL_P = [{"index": "p", "set": "P"}]


# --- one case per template ----------------------------------------------------------------
# (constraint, expected rows, expected render line)

CASES = {
    "upper_bound": (
        c("ub", "upper_bound", {"var": "q[p]", "limit": "cap[p]"}, forall=FORALL_P),
        [("ub[a]", {"q[a]": 1.0}, "<=", 5.0), ("ub[b]", {"q[b]": 1.0}, "<=", 7.0)],
        "q[p] is at most cap[p] for each p in P",
    ),
    "lower_bound": (
        c("lb", "lower_bound", {"var": "2 * x + 1", "limit": "9"}),
        [("lb", {"x": 2.0}, ">=", 8.0)],
        "2 * x + 1 is at least 9",
    ),
    "sum_bound": (
        c("tot", "sum_bound", {"terms": ["sum(q[p] for p in P)", "2 * x"], "limit": "100"}),
        [("tot", {"q[a]": 1.0, "q[b]": 1.0, "x": 2.0}, "<=", 100.0)],
        "total of sum(q[p] for p in P) + 2 * x <= 100",
    ),
    "linear": (
        c("res", "linear", {"terms": ["sum(w[p] * q[p] for p in P)", "-x"], "sense": ">=", "limit": "-3"}),
        [("res", {"q[a]": 2.0, "q[b]": 3.0, "x": -1.0}, ">=", -3.0)],
        "sum(w[p] * q[p] for p in P) + -x >= -3",
    ),
    "ratio": (
        c("share", "ratio", {"var": "q['a']", "total": ["q['a']", "q['b']"], "ratio": "0.25"}),
        # q[a] >= 0.25 (q[a] + q[b])
        [("share", {"q[a]": 0.75, "q[b]": -0.25}, ">=", 0.0)],
        "q['a'] is at least 0.25 of the total q['a'] + q['b']",
    ),
    "multiple": (
        c("mult", "multiple", {"x": "q['a']", "factor": "3", "y": "q['b']", "sense": ">="}),
        [("mult", {"q[a]": 1.0, "q[b]": -3.0}, ">=", 0.0)],
        "q['a'] >= 3 times q['b']",
    ),
    "comparison": (
        c("cmp", "comparison", {"x": "x", "y": "u + 1"}),
        [("cmp", {"x": 1.0, "u": -1.0}, "<=", 1.0)],
        "x <= u + 1",
    ),
    "balance": (
        c("bal", "balance", {"inflow": "x + u", "outflow": "v + q['a']", "demand": "5"}),
        # x + u - (v + q[a]) == 5: the outflow is subtracted as a whole
        [("bal", {"x": 1.0, "u": 1.0, "v": -1.0, "q[a]": -1.0}, "==", 5.0)],
        "inflow x + u minus outflow v + q['a'] == 5",
    ),
    "assignment": (
        c("assign", "assignment", {"var": "a[p, j]", "over": [{"index": "p", "set": "P"}]},
          forall=[{"index": "j", "set": "J"}]),
        [(f"assign[{j}]", {f"a[a,{j}]": 1.0, f"a[b,{j}]": 1.0}, "==", 1.0) for j in (1, 2, 3)],
        "sum of a[p, j] over p in P == 1 for each j in J",
    ),
    "if_then": (
        c("it", "if_then", {"condition": "y", "then": "x >= 10"}),
        # y = 1 => x >= 10 ;  10 - x <= M (1 - y), M = 10 - lower(x) = 10
        [("it", {"x": -1.0, "y": 10.0}, "<=", 0.0)],
        "if y = 1 then x >= 10",
    ),
    "either_or": (
        c("eo", "either_or", {"first": "x >= 20", "second": "u <= 4"}),
        # 20 - x <= 20 z ;  u - 4 <= 6 (1 - z)
        [("eo_first", {"x": -1.0, "either_eo": -20.0}, "<=", -20.0),
         ("eo_second", {"u": 1.0, "either_eo": 6.0}, "<=", 10.0)],
        "either x >= 20 or u <= 4",
    ),
    "k_of_n": (
        c("kn", "k_of_n", {"terms": ["y", "sum(b[p] for p in P)"], "mode": "at_least", "k": "2"}),
        [("kn", {"y": 1.0, "b[a]": 1.0, "b[b]": 1.0}, ">=", 2.0)],
        "at least 2 of y, sum(b[p] for p in P)",
    ),
    "fixed_charge": (
        c("fc", "fixed_charge", {"var": "q[p]", "indicator": "b[p]", "capacity": "cap[p]", "cost": "w[p] * 10"},
          forall=FORALL_P),
        [("fc[a]", {"q[a]": 1.0, "b[a]": -5.0}, "<=", 0.0), ("fc[b]", {"q[b]": 1.0, "b[b]": -7.0}, "<=", 0.0)],
        "q[p] needs setup b[p] (at most cap[p]), setup cost w[p] * 10 for each p in P",
    ),
    "mutual_exclusion": (
        c("mx", "mutual_exclusion", {"terms": ["y", "b['a']", "b['b']"]}),
        [("mx", {"y": 1.0, "b[a]": 1.0, "b[b]": 1.0}, "<=", 1.0)],
        "at most one of y, b['a'], b['b']",
    ),
    "dependency": (
        c("dep", "dependency", {"if_var": "b['a']", "then_var": "y"}),
        [("dep", {"b[a]": 1.0, "y": -1.0}, "<=", 0.0)],
        "b['a'] requires y",
    ),
    "semi_continuous": (
        c("lot", "semi_continuous", {"var": "x", "minimum": "5", "maximum": "40"}),
        # x >= 5 on ; x <= 40 on  (on: a new binary)
        [("lot_min", {"x": 1.0, "on_lot": -5.0}, ">=", 0.0), ("lot_max", {"x": 1.0, "on_lot": -40.0}, "<=", 0.0)],
        "x is 0 or between 5 and 40",
    ),
    "general": (
        c("gen", "general", {"expr": "2 * x + 3 * u <= 12 + v"}),
        [("gen", {"x": 2.0, "u": 3.0, "v": -1.0}, "<=", 12.0)],
        "2 * x + 3 * u <= 12 + v",
    ),
}


def test_catalog_matches_formulation_model():
    assert tuple(CATALOG) == TEMPLATE_NAMES
    assert set(CASES) == set(CATALOG), "every template has a case"


@pytest.mark.parametrize("name", list(CASES))
def test_template_rows(name):
    constraint, expected, _ = CASES[name]
    got = rows(model(constraint))
    assert [(label, sense) for label, _, sense, _ in got] == [(label, sense) for label, _, sense, _ in expected]
    for (label, coefs, _, rhs), (_, want_coefs, _, want_rhs) in zip(got, expected):
        assert coefs == pytest.approx(want_coefs), label
        assert rhs == pytest.approx(want_rhs), label


@pytest.mark.parametrize("name", list(CASES))
def test_template_render(name):
    constraint, _, line = CASES[name]
    f = model(constraint)
    text = render(f.constraints[0])
    assert text == line
    assert "\n" not in text


@pytest.mark.parametrize("name", list(CASES))
def test_linearized_is_general_and_valid(name):
    constraint, _, _ = CASES[name]
    f = model(constraint)
    lf = linearize(f)
    assert all(k.template == "general" for k in lf.constraints)
    assert check(lf) == []
    # grounding the linearized formulation directly gives the same rows
    assert to_linear_model(lf, linearized=True).rows == to_linear_model(f).rows


# --- variants: senses, modes, equalities, derived and given big-Ms ---------------------------


@pytest.mark.parametrize("mode, sense", [("at_least", ">="), ("at_most", "<="), ("exactly", "==")])
def test_k_of_n_modes(mode, sense):
    f = model(c("kn", "k_of_n", {"terms": ["y", "b['a']", "b['b']"], "mode": mode, "k": "2"}))
    assert rows(f) == [("kn", {"y": 1.0, "b[a]": 1.0, "b[b]": 1.0}, sense, 2.0)]


@pytest.mark.parametrize("sense", ["<=", ">=", "=="])
def test_sum_bound_and_ratio_senses(sense):
    f = model(c("s", "sum_bound", {"terms": ["x", "u"], "sense": sense, "limit": "9"}),
              c("r", "ratio", {"var": "u", "total": ["x", "u"], "ratio": "0.5", "sense": sense}))
    assert rows(f) == [("s", {"x": 1.0, "u": 1.0}, sense, 9.0), ("r", {"x": -0.5, "u": 0.5}, sense, 0.0)]


def test_ratio_render_senses():
    for sense, word in (("<=", "at most"), (">=", "at least"), ("==", "exactly")):
        f = model(c("r", "ratio", {"var": "u", "total": ["x", "u"], "ratio": "0.5", "sense": sense}))
        assert render(f.constraints[0]) == f"u is {word} 0.5 of the total x + u"


def test_balance_default_demand_and_indexed():
    f = model(c("bal", "balance", {"inflow": "q[p]", "outflow": "cap[p] * b[p] - x"}, forall=FORALL_P))
    # q[p] - (cap[p] b[p] - x) == 0
    assert rows(f) == [
        ("bal[a]", {"q[a]": 1.0, "b[a]": -5.0, "x": 1.0}, "==", 0.0),
        ("bal[b]", {"q[b]": 1.0, "b[b]": -7.0, "x": 1.0}, "==", 0.0),
    ]


def test_assignment_count_and_sense():
    f = model(c("assign", "assignment", {"var": "a[p, j]", "over": [{"index": "j", "set": "J"}], "count": "2",
                                         "sense": "<="}, forall=FORALL_P))
    assert rows(f) == [
        ("assign[a]", {"a[a,1]": 1.0, "a[a,2]": 1.0, "a[a,3]": 1.0}, "<=", 2.0),
        ("assign[b]", {"a[b,1]": 1.0, "a[b,2]": 1.0, "a[b,3]": 1.0}, "<=", 2.0),
    ]


def test_if_then_upper_then_derives_big_m_from_upper_bound():
    # y = 1 => x <= 30 ; x - 30 <= M (1 - y), M = 100 - 30 = 70
    f = model(c("it", "if_then", {"condition": "y", "then": "x <= 30"}))
    assert rows(f) == [("it", {"x": 1.0, "y": 70.0}, "<=", 100.0)]
    lf = linearize(f)
    [bigm] = [p for p in lf.parameters if p.name == "bigM_it"]
    assert bigm.value == 70.0 and bigm.index == []
    assert lf.constraints[0].slots.expr == "x - 30 <= bigM_it * (1 - y)"


def test_if_then_equality_gives_two_rows_with_own_big_ms():
    # y = 1 => x == 30 ; x - 30 <= 70 (1 - y) ; 30 - x <= 30 (1 - y)
    f = model(c("it", "if_then", {"condition": "y", "then": "x == 30"}))
    assert rows(f) == [
        ("it_le", {"x": 1.0, "y": 70.0}, "<=", 100.0),
        ("it_ge", {"x": -1.0, "y": 30.0}, "<=", 0.0),
    ]
    assert [p.name for p in linearize(f).parameters][-2:] == ["bigM_it", "bigM_it_2"]


def test_if_then_given_big_m():
    f = model(c("it", "if_then", {"condition": "y", "then": "x >= 10", "big_m": "1000"}))
    assert rows(f) == [("it", {"x": -1.0, "y": 1000.0}, "<=", 990.0)]
    assert not any(p.name.startswith("bigM") for p in linearize(f).parameters)


def test_if_then_indexed_big_m_per_instance():
    # b[p] = 1 => q[p] >= cap[p] ; cap[p] - q[p] <= cap[p] (1 - b[p]); the filter leaves p = 'b' out
    f = model(c("it", "if_then", {"condition": "b[p]", "then": "q[p] >= cap[p]"}, forall=FORALL_P,
                where="p != 'b'"))
    assert rows(f) == [("it[a]", {"q[a]": -1.0, "b[a]": 5.0}, "<=", 0.0)]
    [bigm] = [p for p in linearize(f).parameters if p.name == "bigM_it"]
    assert bigm.index == ["P"] and bigm.value == [5.0, 0.0]


def test_if_then_big_m_uses_negative_lower_bound():
    # y = 1 => v >= 2 ; 2 - v <= M (1 - y), M = 2 - (-4) = 6
    f = model(c("it", "if_then", {"condition": "y", "then": "v >= 2"}))
    assert rows(f) == [("it", {"v": -1.0, "y": 6.0}, "<=", 4.0)]


def test_if_then_big_m_never_negative():
    # y = 1 => x <= 200 always holds (x <= 100): M = max(100 - 200, 0) = 0
    f = model(c("it", "if_then", {"condition": "y", "then": "x <= 200"}))
    assert rows(f) == [("it", {"x": 1.0}, "<=", 200.0)]
    assert [p.value for p in linearize(f).parameters if p.name == "bigM_it"] == [0.0]


def test_either_or_aux_binary_and_big_ms():
    f = model(c("eo", "either_or", {"first": "x >= 20", "second": "u <= 4"}))
    lf = linearize(f)
    [aux] = [v for v in lf.variables if v.name == "either_eo"]
    assert aux.domain == "binary" and aux.index == []
    assert {p.name: p.value for p in lf.parameters if p.name.startswith("bigM")} == {"bigM_eo": 20.0, "bigM_eo_2": 6.0}
    assert [k.slots.expr for k in lf.constraints] == [
        "20 - x <= bigM_eo * either_eo",
        "u - 4 <= bigM_eo_2 * (1 - either_eo)",
    ]
    lm = to_linear_model(f)
    col = lm.columns[lm.column_of[("either_eo", ())]]
    assert (col.domain, col.lower, col.upper) == ("binary", 0, 1)


def test_either_or_indexed_aux_binary():
    f = model(c("eo", "either_or", {"first": "q[p] >= 10", "second": "q[p] <= 2"}, forall=FORALL_P))
    lf = linearize(f)
    [aux] = [v for v in lf.variables if v.name == "either_eo"]
    assert aux.index == ["P"]
    # 10 - q[p] <= 10 z[p] ; q[p] - 2 <= 48 (1 - z[p])
    assert rows(f) == [
        ("eo_first[a]", {"q[a]": -1.0, "either_eo[a]": -10.0}, "<=", -10.0),
        ("eo_first[b]", {"q[b]": -1.0, "either_eo[b]": -10.0}, "<=", -10.0),
        ("eo_second[a]", {"q[a]": 1.0, "either_eo[a]": 48.0}, "<=", 50.0),
        ("eo_second[b]", {"q[b]": 1.0, "either_eo[b]": 48.0}, "<=", 50.0),
    ]


def test_either_or_given_big_m_for_both():
    f = model(c("eo", "either_or", {"first": "x >= 20", "second": "u <= 4", "big_m": "99"}))
    assert rows(f) == [
        ("eo_first", {"x": -1.0, "either_eo": -99.0}, "<=", -20.0),
        ("eo_second", {"u": 1.0, "either_eo": 99.0}, "<=", 103.0),
    ]


def test_aux_names_avoid_existing_names():
    variables = VARS + [{"name": "either_eo"}, {"name": "bigM_eo"}]
    f = load({"sets": SETS, "parameters": PARAMS, "variables": variables,
              "objective": {"sense": "minimize", "expr": "x + either_eo + bigM_eo"},
              "constraints": [c("eo", "either_or", {"first": "x >= 20", "second": "u <= 4"})]})
    assert check(f) == []
    lf = linearize(f)
    names = [v.name for v in lf.variables] + [p.name for p in lf.parameters]
    assert len(names) == len(set(names))
    assert "either_eo_2" in names and "bigM_eo_2" in names


def test_linearized_constraint_names_are_unique():
    # 'lot' expands to lot_min / lot_max; another constraint is already called lot_min
    long = "L" * 64
    f = model(
        c("lot", "semi_continuous", {"var": "x", "minimum": "5", "maximum": "40"}),
        c("lot_min", "lower_bound", {"var": "u", "limit": "1"}),
        c(long, "either_or", {"first": "x >= 20", "second": "u <= 4"}),
    )
    lf = linearize(f)
    names = [k.name for k in lf.constraints]
    assert len(names) == len(set(names)), names
    assert all(len(n) <= 64 for n in names)
    assert names[2] == "lot_min"  # an untouched constraint keeps its name
    assert names[3].endswith("_first") and names[4].endswith("_second")
    assert check(lf) == []
    labels = [r.label for r in to_linear_model(f).rows]
    assert len(labels) == len(set(labels))


def test_fixed_charge_cost_minimize_adds():
    f = model(CASES["fixed_charge"][0], objective="x + sum(q[p] for p in P)", sense="minimize")
    lf = linearize(f)
    assert lf.objective.expr == "x + sum(q[p] for p in P) + sum(w[p] * 10 * b[p] for p in P)"
    coefs, const = objective(f)
    assert coefs == {"x": 1.0, "q[a]": 1.0, "q[b]": 1.0, "b[a]": 20.0, "b[b]": 30.0}
    assert const == 0.0


def test_fixed_charge_cost_maximize_subtracts():
    f = model(CASES["fixed_charge"][0], objective="x + sum(q[p] for p in P)", sense="maximize")
    assert linearize(f).objective.expr == "x + sum(q[p] for p in P) - sum(w[p] * 10 * b[p] for p in P)"
    coefs, _ = objective(f)
    assert coefs == {"x": 1.0, "q[a]": 1.0, "q[b]": 1.0, "b[a]": -20.0, "b[b]": -30.0}


def test_fixed_charge_cost_respects_where():
    con = c("fc", "fixed_charge", {"var": "q[p]", "indicator": "b[p]", "cost": "100"}, forall=FORALL_P,
            where="p == 'b'")
    f = model(con, objective="x")
    assert objective(f)[0] == {"x": 1.0, "b[b]": 100.0}
    # capacity derived from q's upper bound, only for the filtered instance
    assert rows(f) == [("fc[b]", {"q[b]": 1.0, "b[b]": -50.0}, "<=", 0.0)]


def test_fixed_charge_unquantified_cost_and_derived_capacity():
    f = model(c("fc", "fixed_charge", {"var": "x", "indicator": "y", "cost": "250"}), objective="3 * x",
              sense="minimize")
    assert rows(f) == [("fc", {"x": 1.0, "y": -100.0}, "<=", 0.0)]
    assert objective(f)[0] == {"x": 3.0, "y": 250.0}
    assert linearize(f).objective.expr == "3 * x + 250 * y"


def test_fixed_charge_without_cost_leaves_objective():
    f = model(c("fc", "fixed_charge", {"var": "x", "indicator": "y", "capacity": "60"}), objective="x")
    assert linearize(f).objective.expr == "x"
    assert rows(f) == [("fc", {"x": 1.0, "y": -60.0}, "<=", 0.0)]
    assert render(f.constraints[0]) == "x needs setup y (at most 60)"


def test_objective_with_lower_precedence_gets_cost_correctly():
    # maximize x - u, cost subtracted: x - u - 5 y (not x - (u - 5 y))
    f = model(c("fc", "fixed_charge", {"var": "x", "indicator": "y", "cost": "5"}), objective="x - u",
              sense="maximize")
    assert objective(f)[0] == {"x": 1.0, "u": -1.0, "y": -5.0}


def test_semi_continuous_given_indicator():
    f = model(c("lot", "semi_continuous", {"var": "q[p]", "minimum": "cap[p]", "maximum": "20", "indicator": "b[p]"},
                forall=FORALL_P))
    assert not any(v.name.startswith("on_") for v in linearize(f).variables)
    assert rows(f) == [
        ("lot_min[a]", {"q[a]": 1.0, "b[a]": -5.0}, ">=", 0.0),
        ("lot_min[b]", {"q[b]": 1.0, "b[b]": -7.0}, ">=", 0.0),
        ("lot_max[a]", {"q[a]": 1.0, "b[a]": -20.0}, "<=", 0.0),
        ("lot_max[b]", {"q[b]": 1.0, "b[b]": -20.0}, "<=", 0.0),
    ]


def test_semi_continuous_maximum_from_upper_bound():
    f = model(c("lot", "semi_continuous", {"var": "x", "minimum": "5"}))
    lf = linearize(f)
    assert [v.name for v in lf.variables if v.name.startswith("on_")] == ["on_lot"]
    assert [p.value for p in lf.parameters if p.name == "bigM_lot"] == [100.0]
    assert rows(f) == [
        ("lot_min", {"x": 1.0, "on_lot": -5.0}, ">=", 0.0),
        ("lot_max", {"x": 1.0, "on_lot": -100.0}, "<=", 0.0),
    ]
    assert render(f.constraints[0]) == "x is 0 or between 5 and its upper bound"


def test_semi_continuous_aux_binary_indexed_like_constraint():
    f = model(c("lot", "semi_continuous", {"var": "q[p]", "minimum": "3"}, forall=FORALL_P))
    [on] = [v for v in linearize(f).variables if v.name == "on_lot"]
    assert on.index == ["P"] and on.domain == "binary"
    assert rows(f)[2:] == [
        ("lot_max[a]", {"q[a]": 1.0, "on_lot[a]": -50.0}, "<=", 0.0),
        ("lot_max[b]", {"q[b]": 1.0, "on_lot[b]": -50.0}, "<=", 0.0),
    ]


def test_general_with_forall_and_where():
    f = model(c("g", "general", {"expr": "sum(a[p, j] for j in J if j != 2) <= b[p]"}, forall=FORALL_P,
                where="p != 'a'"))
    assert rows(f) == [("g[b]", {"a[b,1]": 1.0, "a[b,3]": 1.0, "b[b]": -1.0}, "<=", 0.0)]
    assert render(f.constraints[0]) == "sum(a[p, j] for j in J if j != 2) <= b[p] for each p in P with p != 'a'"


def test_multiple_with_parameter_factor():
    f = model(c("m", "multiple", {"x": "q[p]", "factor": "w[p] / 2", "y": "x - u"}, forall=FORALL_P))
    # q[p] <= w[p]/2 (x - u)
    assert rows(f) == [
        ("m[a]", {"q[a]": 1.0, "x": -1.0, "u": 1.0}, "<=", 0.0),
        ("m[b]", {"q[b]": 1.0, "x": -1.5, "u": 1.5}, "<=", 0.0),
    ]


def test_sources_and_row_labels():
    con = c("ub", "upper_bound", {"var": "q[p]", "limit": "cap[p]"}, forall=FORALL_P,
            source="No product line may exceed its capacity.")
    lm = to_linear_model(model(con))
    assert lm.sources == {"ub": "No product line may exceed its capacity."}
    assert [r.index for r in lm.rows] == [("a",), ("b",)]


def test_columns_bounds():
    lm = to_linear_model(model())
    cols = {col.label: (col.domain, col.lower, col.upper) for col in lm.columns}
    assert cols["x"] == ("continuous", 0.0, 100.0)
    assert cols["v"] == ("continuous", -4.0, 6.0)
    assert cols["b[a]"] == ("binary", 0, 1)
    assert cols["a[b,3]"] == ("binary", 0, 1)
    assert len(cols) == 3 + 2 + 1 + 2 + 6


def test_unbounded_column():
    lm = to_linear_model(model(variables=[{"name": "x", "lower": None}]))
    assert lm.columns[0].lower == -math.inf and lm.columns[0].upper == math.inf


def test_instances_applies_where():
    f = model(c("ub", "upper_bound", {"var": "q[p]", "limit": "1"}, forall=FORALL_P, where="p == 'b'"))
    assert list(instances(f.constraints[0], Data(f))) == [{"p": "b"}]


def test_linearize_keeps_original_untouched():
    f = model(CASES["either_or"][0], CASES["fixed_charge"][0])
    before = f.model_dump()
    linearize(f)
    assert f.model_dump() == before


def test_emitted_text_reparses():
    f = model(*(case[0] for case in CASES.values()))
    for k in linearize(f).constraints:
        node = E.parse_comparison(k.slots.expr)
        assert E.to_text(node) == k.slots.expr


def test_long_sum_bound_survives_linearize():
    n = 150
    variables = [{"name": f"x{k}", "upper": 1} for k in range(n)]
    f = load({"variables": variables, "objective": {"sense": "minimize", "expr": "x0"},
              "constraints": [c("s", "sum_bound", {"terms": [f"x{k}" for k in range(n)], "limit": "3"})]})
    assert check(f) == []
    [row] = to_linear_model(f).rows
    assert len(row.coefs) == n and row.rhs == 3.0

"""The vectorized build equals the reference grounder's, exactly, and solves to the same optimum.

For every example, every template (the cases of test_templates and the random models of
test_differential) and hypothesis-generated formulations (`forall`, `where`, offsets such as
`t-1`, numeric and text elements, sums with filters, float coefficients whose sums depend on
the order of additions), `build(lin)` (vectorized, falling back per constraint) must give the
same arrays bit for bit as `build(lin, reference=True)` (every instance grounded by
`ground.Data.linear`), the same labels, and the same objective when solved.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from nlopt_milp.core.ground import NonFiniteError
from nlopt_milp.core.templates import CATALOG, linearize_nodes
from nlopt_milp.core.validate import check, load, load_file, load_valid
from nlopt_milp.solve import solve_linear
from nlopt_milp.solve.linear_model import build

EXAMPLES = sorted(Path(__file__).resolve().parents[1].glob("examples/*.json"))
ARRAYS = ("indptr", "indices", "values", "cost", "col_lower", "col_upper", "col_domain", "row_sense", "rhs")


def assert_same(fast, ref) -> None:
    assert (fast.n_rows, fast.n_cols) == (ref.n_rows, ref.n_cols)
    for name in ARRAYS:
        a, b = getattr(fast, name), getattr(ref, name)
        assert a.dtype == b.dtype and np.array_equal(a, b), name  # exact, bit for bit (no tolerance)
        assert np.array_equal(np.signbit(a), np.signbit(b)) if a.dtype == float else True, name
    assert fast.objective_constant == ref.objective_constant
    assert fast.row_labels() == ref.row_labels() and fast.column_labels() == ref.column_labels()
    assert [r.index for r in fast.rows] == [r.index for r in ref.rows]
    assert [c.key for c in fast.columns] == [c.key for c in ref.columns]


def compare(f, vectorized: bool = True, solve: bool = True):
    lin = linearize_nodes(f)
    fast, ref = build(lin), build(lin, reference=True)
    assert_same(fast, ref)
    if vectorized:
        assert fast.fallbacks == []
    if solve:
        a, b = solve_linear(fast), solve_linear(ref)
        assert a.status == b.status
        assert a.objective == b.objective
    return fast


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.stem)
def test_examples_vectorized_equal_reference(path):
    lm = compare(load_file(path))
    assert lm.n_rows and lm.n_cols


def test_template_cases_vectorized_equal_reference():
    from tests.test_templates import CASES

    assert set(CASES) == set(CATALOG)
    for name, (constraint, _rows, _text) in CASES.items():
        from tests.test_templates import model

        compare(model(constraint), vectorized=True, solve=False)


@pytest.mark.parametrize("template", sorted(CATALOG))
def test_differential_models_vectorized_equal_reference(template):
    from tests.test_differential import build as spec_of

    for seed in range(8):
        f = load_valid(json.dumps(spec_of(template, seed).json))
        compare(f, vectorized=False)  # string elements used as numbers may fall back: still equal


def test_fallback_is_used_and_equal():
    """A product of variables' sums cannot vectorize: the reference grounds it (and says what is wrong)."""
    f = load({"sets": [{"name": "T", "elements": [1, 2, 3]}],
              "parameters": [{"name": "d", "index": ["T"], "value": [1, 2, 3]}],
              "variables": [{"name": "x", "index": ["T"], "upper": 5}],
              "objective": {"sense": "minimize", "expr": "sum(x[t] for t in T)"},
              "constraints": [{"name": "c", "template": "general", "forall": [{"index": "t", "set": "T"}],
                               "slots": {"expr": "(x[t] - x[t]) * (x[t] + 1) >= d[t] - 5"}}]})
    lin = linearize_nodes(f)
    fast, ref = build(lin), build(lin, reference=True)
    assert_same(fast, ref)
    assert fast.fallbacks and fast.fallbacks[0].startswith("c: ")


def test_non_finite_names_the_row():
    f = load({"sets": [{"name": "T", "elements": ["a", "b"]}],
              "parameters": [{"name": "d", "index": ["T"], "value": [1, 1e308]}],
              "variables": [{"name": "x", "index": ["T"]}],
              "objective": {"sense": "minimize", "expr": "sum(x[t] for t in T)"},
              "constraints": [{"name": "c", "template": "general", "forall": [{"index": "t", "set": "T"}],
                               "slots": {"expr": "x[t] >= d[t] * 10"}}]})
    with pytest.raises(NonFiniteError) as info:
        build(linearize_nodes(f))
    assert str(info.value).startswith("c[b]: ")


# --- hypothesis: random quantified formulations -------------------------------------------------

NUMS = st.sampled_from([0.1, 0.2, 0.3, 1 / 3, 2.5, -1.7, 3.0, 1e-3, 7.25, -0.1, 1.0])
TEXTS = st.sampled_from(["a", "b b", "1", "01", "c", "2.0", "x-y", "é"])


@st.composite
def formulations(draw):
    nt = draw(st.integers(2, 5))
    start = draw(st.integers(-2, 3))
    T = list(range(start, start + nt))
    if draw(st.booleans()):
        T = [str(t) for t in T]  # numeric text: the same numbers
    S = draw(st.lists(st.one_of(TEXTS, st.integers(10, 12)), min_size=1, max_size=4, unique_by=lambda e: str(float(e)) if isinstance(e, int) or e.replace(".", "").isdigit() else e))
    # numeric text and numbers must not collide (one identity rule): keep S distinct by key
    keys, S2 = set(), []
    from nlopt_milp.core import elements

    for e in S:
        if elements.key(e) not in keys:
            keys.add(elements.key(e))
            S2.append(e)
    S = S2
    vals = lambda n: [draw(NUMS) for _ in range(n)]  # noqa: E731
    params = [
        {"name": "d", "index": ["T"], "value": vals(len(T))},
        {"name": "c", "index": ["S", "T"], "value": [vals(len(T)) for _ in S]},
        {"name": "k", "value": draw(NUMS)},
    ]
    variables = [
        {"name": "x", "index": ["T"], "lower": -5, "upper": 5},
        {"name": "y", "index": ["S", "T"], "upper": 3, "domain": draw(st.sampled_from(["continuous", "integer"]))},
        {"name": "z", "lower": -10, "upper": 10},
    ]
    first = json.dumps(T[0])
    lit = json.dumps(S[0], ensure_ascii=False)
    patterns = [
        ("t", f"t != {first}", "x[t] - x[t-1] <= d[t] + k"),
        ("t", f"t > {first}", "0.1 * x[t-1] + 0.2 * x[t] + 0.3 * x[t-1] >= -d[t]"),
        ("t", None, "sum(c[s, t] * y[s, t] for s in S) + k * x[t] - 0.1 * z <= 3 * d[t] + 1"),
        ("t", None, f"sum(y[s, t] for s in S if s != {lit}) - x[t] >= -4"),
        ("s", None, "sum(c[s, t] * y[s, t] + 0.1 * x[t] for t in T) <= 7.5"),
        ("s", None, f"sum(x[u] * 0.3 for u in T for v in T if u <= v) + y[s, {first}] >= -30"),
        ("t", None, "(x[t] + 2) * 0.1 - (z - d[t]) / 3 <= k * 2"),
        ("t", f"t == {first} or d[t] > 0", "-(x[t] - 1) + sum(0.1 * x[u] for u in T if u >= t) <= 2 + z * 0.2"),
        (None, None, "sum(sum(c[s, t] * y[s, t] for s in S) for t in T) + z >= -50"),
        ("s", f"s == {lit}", "sum(y[s, t] for t in T) + sum(0.1 * y[s, t] for t in T) <= 4"),
    ]
    chosen = draw(st.lists(st.sampled_from(range(len(patterns))), min_size=1, max_size=4, unique=True))
    constraints = []
    for n, k in enumerate(chosen):
        idx, where, expr = patterns[k]
        c = {"name": f"r{n}", "template": "general", "slots": {"expr": expr}}
        if idx:
            c["forall"] = [{"index": idx, "set": "T" if idx == "t" else "S"}]
        if where:
            c["where"] = where
        constraints.append(c)
    objective = draw(st.sampled_from([
        "sum(d[t] * x[t] for t in T) + 0.1 * z",
        "sum(c[s, t] * y[s, t] for s in S for t in T) - sum(0.3 * x[t] for t in T)",
        "z + sum(x[t] for t in T) * 0.1 + k",
    ]))
    return {"sets": [{"name": "T", "elements": T}, {"name": "S", "elements": S}],
            "parameters": params, "variables": variables,
            "objective": {"sense": draw(st.sampled_from(["minimize", "maximize"])), "expr": objective},
            "constraints": constraints}


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(formulations())
def test_hypothesis_vectorized_equal_reference(doc):
    f = load(doc)
    issues = check(f)
    assert issues == [], issues
    lm = compare(f)
    assert math.isfinite(lm.objective_constant)

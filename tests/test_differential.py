"""Differential test: random small MILPs over every template, solved by HiGHS and OR-Tools,
against an independent brute force.

Each model is generated from a small random *spec* that is rendered twice: once as a
formulation (JSON text with `forall`, `where`, sums with filters, quoted elements of mixed
kinds such as "1", "a b", numbers) and once as plain Python predicates over the original
elements, which the brute force checks at every integer point (tiny domains). The brute
force shares no code with grounding, linearization or the solvers: it reads the templates'
meaning (either-or: one of two comparisons holds; semi-continuous: 0 or within [min, max];
fixed charge: var <= capacity * indicator, setup cost in the objective; ...).
Status and optimum must agree with every backend.
"""

from __future__ import annotations

import itertools
import json
import random

import pytest

from nlopt_milp.core.templates import CATALOG
from nlopt_milp.core.validate import load_valid
from nlopt_milp.solve import solve

POOL = ["1", "a b", 2, "é", 0, "x-y", "10", 3, "s"]
SEEDS_PER_TEMPLATE = 20
TOL = 1e-6
BACKENDS_EVERY = ("highs", "ortools")  # ortools: CP-SAT on these pure integer models
BACKENDS_SOME = ("ortools-scip", "highs-pyomo")  # every few models (slower to build)


class Spec:
    """One random model: its formulation JSON and its brute-force meaning."""

    def __init__(self, rnd: random.Random, numeral_literals: bool = False):
        self.rnd = rnd
        self.numerals = numeral_literals
        k = rnd.choice((2, 3))
        self.S = rnd.sample(POOL, k)
        self.xlo = {e: rnd.choice((0, 0, -1)) for e in self.S}
        self.xhi = {e: rnd.choice((1, 2)) for e in self.S}
        self.constraints: list[dict] = []
        self.checks: list = []  # predicate(point) -> bool
        self.costs: list = []  # point -> extra objective (fixed-charge setup costs, signed)
        self.sense = rnd.choice(("minimize", "maximize"))

    # --- rendering ------------------------------------------------------------------
    def lit(self, e) -> str:
        if self.numerals and isinstance(e, str) and e.isdigit():
            return e  # the string element "1" written as the numeral 1 (one identity rule)
        return json.dumps(e, ensure_ascii=False) if isinstance(e, str) else str(e)

    def elem(self):
        return self.rnd.choice(self.S)

    def coef(self) -> int:
        return self.rnd.choice((1, 1, 2, -1, 3))

    # --- linear expressions: (text, value(point, s)) ------------------------------------
    def linear(self, bound: bool):
        """A random linear expression; `s` is the quantified index when `bound`."""
        r = self.rnd
        forms = ["x_fixed", "y", "sum", "sum_where", "b_fixed"]
        if bound:
            forms += ["x_s", "x_s", "b_s"]
        form = r.choice(forms)
        a = self.coef()
        if form == "x_s":
            return f"{a}*x[s]", lambda p, s: a * p["x"][s]
        if form == "b_s":
            return f"{a}*b[s]", lambda p, s: a * p["b"][s]
        if form == "x_fixed":
            e = self.elem()
            return f"{a}*x[{self.lit(e)}]", lambda p, s: a * p["x"][e]
        if form == "b_fixed":
            e = self.elem()
            return f"{a}*b[{self.lit(e)}]", lambda p, s: a * p["b"][e]
        if form == "y":
            return f"{a}*y", lambda p, s: a * p["y"]
        if form == "sum":
            return f"sum({a}*x[t] for t in S)", lambda p, s: sum(a * p["x"][t] for t in self.S)
        # sum with a filter against the bound index or an element
        if bound and r.random() < 0.5:
            return (f"sum({a}*x[t] for t in S if t != s)",
                    lambda p, s: sum(a * p["x"][t] for t in self.S if t != s))
        e = self.elem()
        return (f"sum({a}*b[t] for t in S if t != {self.lit(e)})",
                lambda p, s: sum(a * p["b"][t] for t in self.S if t != e))

    def plus(self, bound: bool, n: int):
        parts = [self.linear(bound) for _ in range(n)]
        return " + ".join(t for t, _ in parts), (lambda p, s: sum(f(p, s) for _, f in parts))

    def comparison(self, bound: bool):
        lhs, fl = self.plus(bound, self.rnd.choice((1, 2)))
        op = self.rnd.choice(("<=", ">=", "<=", ">=", "=="))
        rhs = self.rnd.randint(-2, 4)
        return f"{lhs} {op} {rhs}", (lambda p, s: holds(fl(p, s), op, rhs))

    # --- quantifiers ----------------------------------------------------------------
    def quantifier(self) -> tuple[dict, list]:
        """forall/where JSON fields and the list of index values it stands for ([None] when scalar)."""
        r = self.rnd.random()
        if r < 0.3:
            return {}, [None]
        out = {"forall": [{"index": "s", "set": "S"}]}
        if r < 0.55:
            return out, list(self.S)
        e = self.elem()
        if r < 0.8:
            return {**out, "where": f"s != {self.lit(e)}"}, [t for t in self.S if t != e]
        if r < 0.9:
            return {**out, "where": f"s == {self.lit(e)}"}, [t for t in self.S if t == e]
        e2 = self.elem()
        kept = [t for t in self.S if t != e and t != e2]
        if not kept:  # a filter that excludes everything is rejected by validation
            return out, list(self.S)
        return {**out, "where": f"s != {self.lit(e)} and s != {self.lit(e2)}"}, kept

    def add(self, template: str) -> None:
        q, idx = self.quantifier()
        bound = bool(q)
        slots, check = getattr(self, f"t_{template}")(bound)
        name = f"c{len(self.constraints)}"
        self.constraints.append({"name": name, "template": template, **q, "slots": slots})
        self.checks.append(lambda p, check=check, idx=idx: all(check(p, s) for s in idx))
        if template == "fixed_charge" and "cost" in slots:
            self._cost_instances = idx

    # --- templates: (slots, predicate(point, s)) --------------------------------------------
    def t_upper_bound(self, bound):
        (t, f), lim = self.linear(bound), self.rnd.randint(-1, 3)
        return {"var": t, "limit": str(lim)}, lambda p, s: f(p, s) <= lim

    def t_lower_bound(self, bound):
        (t, f), lim = self.linear(bound), self.rnd.randint(-1, 3)
        return {"var": t, "limit": str(lim)}, lambda p, s: f(p, s) >= lim

    def t_sum_bound(self, bound, template="sum_bound"):
        parts = [self.linear(bound) for _ in range(self.rnd.choice((1, 2)))]
        op, lim = self.rnd.choice(("<=", ">=", "==")), self.rnd.randint(-1, 4)
        return ({"terms": [t for t, _ in parts], "sense": op, "limit": str(lim)},
                lambda p, s: holds(sum(f(p, s) for _, f in parts), op, lim))

    def t_linear(self, bound):
        return self.t_sum_bound(bound, "linear")

    def t_ratio(self, bound):
        (tv, fv) = self.linear(bound)
        total = [self.linear(bound) for _ in range(2)]
        ratio, op = self.rnd.choice((0.5, 0.25, 1)), self.rnd.choice(("<=", ">="))
        return ({"var": tv, "total": [t for t, _ in total], "ratio": str(ratio), "sense": op},
                lambda p, s: holds(fv(p, s), op, ratio * sum(f(p, s) for _, f in total)))

    def t_multiple(self, bound):
        (tx, fx), (ty, fy) = self.linear(bound), self.linear(bound)
        factor, op = self.rnd.choice((2, -1, 0.5)), self.rnd.choice(("<=", ">=", "=="))
        return ({"x": tx, "factor": str(factor), "y": ty, "sense": op},
                lambda p, s: holds(fx(p, s), op, factor * fy(p, s)))

    def t_comparison(self, bound):
        (tx, fx), (ty, fy) = self.linear(bound), self.linear(bound)
        op = self.rnd.choice(("<=", ">=", "=="))
        return {"x": tx, "y": ty, "sense": op}, lambda p, s: holds(fx(p, s), op, fy(p, s))

    def t_balance(self, bound):
        (ti, fi), (to, fo) = self.linear(bound), self.linear(bound)
        d, op = self.rnd.randint(-2, 2), self.rnd.choice(("<=", ">=", "=="))
        return ({"inflow": ti, "outflow": to, "demand": str(d), "sense": op},
                lambda p, s: holds(fi(p, s) - fo(p, s), op, d))

    def t_assignment(self, bound):
        var, fn = self.rnd.choice([("x[t]", lambda p, t: p["x"][t]), ("b[t]", lambda p, t: p["b"][t]),
                                   ("2*x[t] - b[t]", lambda p, t: 2 * p["x"][t] - p["b"][t])])
        count, op = self.rnd.randint(0, 3), self.rnd.choice(("<=", ">=", "=="))
        return ({"var": var, "over": [{"index": "t", "set": "S"}], "count": str(count), "sense": op},
                lambda p, s: holds(sum(fn(p, t) for t in self.S), op, count))

    def binary(self, bound):
        if bound and self.rnd.random() < 0.6:
            return "b[s]", lambda p, s: p["b"][s]
        e = self.elem()
        return f"b[{self.lit(e)}]", lambda p, s: p["b"][e]

    def t_if_then(self, bound):
        (tb, fb), (tc, fc) = self.binary(bound), self.comparison(bound)
        return {"condition": tb, "then": tc}, lambda p, s: fb(p, s) == 0 or fc(p, s)

    def t_either_or(self, bound):
        (t1, f1), (t2, f2) = self.comparison(bound), self.comparison(bound)
        return {"first": t1, "second": t2}, lambda p, s: f1(p, s) or f2(p, s)

    def t_k_of_n(self, bound):
        terms = [self.binary(bound) for _ in range(self.rnd.choice((1, 2)))]
        if self.rnd.random() < 0.5:
            terms.append(("sum(b[t] for t in S)", lambda p, s: sum(p["b"][t] for t in self.S)))
        mode, k = self.rnd.choice(("at_least", "at_most", "exactly")), self.rnd.randint(0, 2)
        op = {"at_least": ">=", "at_most": "<=", "exactly": "=="}[mode]
        return ({"terms": [t for t, _ in terms], "mode": mode, "k": str(k)},
                lambda p, s: holds(sum(f(p, s) for _, f in terms), op, k))

    def t_fixed_charge(self, bound):
        (tv, fv, big_m), (tb, fb) = self.x_term(bound), self.binary(bound)
        slots = {"var": tv, "indicator": tb}
        cap = None
        if self.rnd.random() < 0.4:
            cap = self.rnd.randint(0, 2)
            slots["capacity"] = str(cap)
        if self.rnd.random() < 0.6:
            cost = self.rnd.randint(1, 3)
            slots["cost"] = str(cost)
            sign = 1 if self.sense == "minimize" else -1
            self.costs.append(lambda p, fb=fb: sign * cost * sum(fb(p, s) for s in self._cost_instances))
        return slots, lambda p, s: fv(p, s) <= (cap if cap is not None else big_m(s)) * fb(p, s)

    def x_term(self, bound):
        """`x[s]` or `x[element]`: (text, value, its derived big-M: the upper bound, at least 0)."""
        if bound and self.rnd.random() < 0.6:
            return "x[s]", lambda p, s: p["x"][s], lambda s: max(self.xhi[s], 0)
        e = self.elem()
        return f"x[{self.lit(e)}]", lambda p, s: p["x"][e], lambda s: max(self.xhi[e], 0)

    def t_mutual_exclusion(self, bound):
        terms = [self.binary(bound) for _ in range(self.rnd.choice((2, 3)))]
        return {"terms": [t for t, _ in terms]}, lambda p, s: sum(f(p, s) for _, f in terms) <= 1

    def t_dependency(self, bound):
        (ti, fi), (tt, ft) = self.binary(bound), self.binary(bound)
        return {"if_var": ti, "then_var": tt}, lambda p, s: fi(p, s) <= ft(p, s)

    def t_semi_continuous(self, bound):
        tv, fv, big_m = self.x_term(bound)
        lo = self.rnd.choice((1, 2))
        slots = {"var": tv, "minimum": str(lo)}
        hi = None
        if self.rnd.random() < 0.4:
            hi = self.rnd.choice((1, 2))
            slots["maximum"] = str(hi)
        ind = None
        if self.rnd.random() < 0.4:
            tb, ind = self.binary(bound)
            slots["indicator"] = tb

        def check(p, s):
            v, top = fv(p, s), hi if hi is not None else big_m(s)
            on = (lo <= v <= top)
            if ind is None:
                return v == 0 or on
            return (ind(p, s) == 0 and v == 0) or (ind(p, s) == 1 and on)
        return slots, check

    def t_general(self, bound):
        t, f = self.comparison(bound)
        return {"expr": t}, f

    # --- the whole model ----------------------------------------------------------------
    def formulation(self) -> dict:
        ocx = {e: self.rnd.randint(-3, 3) for e in self.S}
        ocb = {e: self.rnd.randint(-3, 3) for e in self.S}
        ocy, const = self.rnd.randint(-2, 2), self.rnd.randint(-3, 3)
        self.objective = lambda p: (sum(ocx[e] * p["x"][e] + ocb[e] * p["b"][e] for e in self.S) + ocy * p["y"]
                                    + const + sum(c(p) for c in self.costs))
        return {
            "version": "1", "name": "differential",
            "sets": [{"name": "S", "elements": self.S}],
            "parameters": [{"name": "cx", "index": ["S"], "value": [ocx[e] for e in self.S]},
                           {"name": "cb", "index": ["S"], "value": [ocb[e] for e in self.S]},
                           {"name": "xlo", "index": ["S"], "value": [self.xlo[e] for e in self.S]},
                           {"name": "xhi", "index": ["S"], "value": [self.xhi[e] for e in self.S]}],
            "variables": [{"name": "x", "index": ["S"], "domain": "integer", "lower": "xlo", "upper": "xhi"},
                          {"name": "b", "index": ["S"], "domain": "binary"},
                          {"name": "y", "domain": "integer", "lower": 0, "upper": 3}],
            "objective": {"sense": self.sense,
                          "expr": f"sum(cx[s]*x[s] + cb[s]*b[s] for s in S) + {ocy}*y + {const}"},
            "constraints": self.constraints,
        }

    def brute_force(self) -> float | None:
        """The optimum over all integer points (None: infeasible)."""
        best = None
        xs = [range(self.xlo[e], self.xhi[e] + 1) for e in self.S]
        for xv in itertools.product(*xs):
            for bv in itertools.product((0, 1), repeat=len(self.S)):
                for y in range(4):
                    p = {"x": dict(zip(self.S, xv)), "b": dict(zip(self.S, bv)), "y": y}
                    if all(c(p) for c in self.checks):
                        v = self.objective(p)
                        if best is None or (v > best if self.sense == "maximize" else v < best):
                            best = v
        return best


def holds(a, op, b) -> bool:
    return a <= b + 1e-9 if op == "<=" else a >= b - 1e-9 if op == ">=" else abs(a - b) <= 1e-9


def build(template: str, seed: int, numeral_literals: bool = False) -> Spec:
    rnd = random.Random(f"{template}-{seed}")
    spec = Spec(rnd, numeral_literals)
    spec.add(template)
    for _ in range(rnd.choice((0, 1, 2))):
        extra = rnd.choice(sorted(CATALOG))
        if extra == "fixed_charge" and any(c["template"] == "fixed_charge" for c in spec.constraints):
            extra = "general"  # one setup-cost bookkeeping per spec
        spec.add(extra)
    spec.json = spec.formulation()  # draws the objective: once
    return spec


def run_and_compare(spec: Spec, seed: int) -> None:
    f = load_valid(spec.json)
    expected = spec.brute_force()
    backends = BACKENDS_EVERY + ((BACKENDS_SOME[seed % 2],) if seed % 4 == 0 else ())
    for backend in backends:
        r = solve(f, solver=backend, iis=False)
        where = f"{backend} on {json.dumps(spec.json, ensure_ascii=False)}: {r.status} {r.objective} {r.message}"
        if expected is None:
            assert r.status == "infeasible", where
        else:
            assert r.status == "optimal", where
            assert abs(r.objective - expected) <= TOL * max(1.0, abs(expected)), f"expected {expected}; {where}"
            # the reported point is the optimum's: its objective recomputed from the values
            assert set(r.values) >= {f"x[{e}]" for e in spec.S}, where


@pytest.mark.parametrize("template", sorted(CATALOG))
def test_differential_every_template(template):
    for seed in range(SEEDS_PER_TEMPLATE):
        run_and_compare(build(template, seed), seed)


@pytest.mark.parametrize("template", ["general", "either_or", "semi_continuous"])
def test_differential_numeral_literals_name_string_elements(template):
    """`x[1]` and `s != 1` written for the string element "1": one identity rule everywhere."""
    for seed in range(SEEDS_PER_TEMPLATE):
        spec = build(template, seed, numeral_literals=True)
        if not any(isinstance(e, str) and e.isdigit() for e in spec.S):
            continue
        run_and_compare(spec, seed)


def test_brute_force_is_not_vacuous():
    """The generator makes both feasible and infeasible models, and binding constraints."""
    outcomes = [build(t, s).brute_force() for t in sorted(CATALOG) for s in range(4)]
    assert any(o is None for o in outcomes) and sum(o is not None for o in outcomes) > len(outcomes) // 2

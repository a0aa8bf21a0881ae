"""Model size: our path against hand-built highspy, linopy and Pyomo on the same models.

Three model families, generated from random data with a fixed seed (every model feasible):

* ``transport``: transportation LP, x[s,d] >= 0, supply rows (<=) and demand rows (>=);
* ``facility``: capacitated facility location with fixed charges, open[f] binary,
  x[f,c] in [0, 1] (share of customer c served by f), each customer served once, capacity
  rows `sum demand[c] x[f,c] <= cap[f] open[f]`, cost fixed[f] open[f] + cost[f,c] x[f,c];
* ``lotsizing``: lot sizing with setups, make[i,t], stock[i,t] >= 0, setup[i,t] binary,
  balance `stock[i,t-1] + make[i,t] - stock[i,t] == demand[i,t]` (the `t-1` offset),
  `make[i,t] <= big[i,t] setup[i,t]`, shared capacity per period.

Each (family, size, approach) runs in its own process (so peak RSS is that run's), in
alternating order over `--repeat` rounds; medians are shown. Approaches:

* ``ours``: the formulation JSON dict -> `load` -> `check` (which grounds the model once,
  vectorized, and keeps it) -> HiGHS (`solve`): phases load, check, ground (inside check),
  pass (arrays -> `passModel`), solve (HiGHS `run`), read back (values checked against the
  rows, labels, slacks, duals);
* ``highspy``: the same data, as numpy arrays in hand -> `passModel` (highspy's array form) -> `run()`;
* ``lists``: the same as ``highspy``, but starting from the plain lists our JSON holds (`numpy.asarray`
  of each is on the clock), i.e. hand-built highspy from the input ours gets;
* ``linopy``: linopy's model (xarray) -> `to_highspy()` -> `run()` (skipped if linopy is missing);
* ``pyomo``: a Pyomo `ConcreteModel` -> Pyomo's HiGHS interface (pass and solve in one).

"build" is everything until the model sits in HiGHS; "solve" is HiGHS's run plus reading the
answer back. Objectives must agree (relative 1e-6; MIPs within their gap). Sizes above
`--solve-max` (default: 100k for the LP, 10k for the MIPs) are built only. Peak RSS is the
process's maximum resident set minus what it had after its imports (MB).

    python benchmarks/model_size.py [--sizes 1000,10000,100000] [--families transport,facility,lotsizing]
        [--big 1000000] [--repeat 3] [--approaches ours,highspy,lists,linopy,pyomo]
"""

from __future__ import annotations

import argparse
import json
import math
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

SEED = 20240607
FAMILIES = ("transport", "facility", "lotsizing")
APPROACHES = ("ours", "highspy", "lists", "linopy", "pyomo")
MIP_TIME_LIMIT = 60.0
MAX_TERMS = 100_000_000  # the default --max-terms (2,000,000) stops the 1M-variable LP, as it should


def rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


# --- data ----------------------------------------------------------------------------------

def shape(family: str, n: int) -> tuple[int, int]:
    if family == "transport":  # |S| x |D| = n, |D| about twice |S|
        s = max(d for d in range(1, int(math.isqrt(n // 2)) + 1) if n % d == 0) if n >= 2 else 1
        return s, n // s
    if family == "facility":  # |F| x |C| + |F| ~ n
        f = max(5, round(math.sqrt(n) / 5))
        return f, max(1, n // f)
    t = max(4, round(math.sqrt(n / 3) / 2))  # lotsizing: 3 |I| |T| ~ n
    return max(1, n // (3 * t)), t


def instance(family: str, n: int) -> dict:
    import numpy as np

    rng = np.random.default_rng(SEED + n)
    a, b = shape(family, n)
    if family == "transport":
        demand = rng.integers(10, 101, b).astype(float)
        w = rng.uniform(0.5, 1.5, a)
        supply = np.ceil(1.5 * demand.sum() * w / w.sum())
        return {"S": [f"s{k}" for k in range(a)], "D": [f"d{k}" for k in range(b)], "supply": supply,
                "demand": demand, "cost": rng.integers(1, 101, (a, b)).astype(float)}
    if family == "facility":
        demand = rng.integers(5, 51, b).astype(float)
        cap = np.ceil(2.5 * demand.sum() / a * rng.uniform(0.8, 1.2, a))
        return {"F": [f"f{k}" for k in range(a)], "C": [f"c{k}" for k in range(b)], "demand": demand, "cap": cap,
                "fixed": rng.integers(500, 2001, a).astype(float), "cost": rng.integers(1, 101, (a, b)).astype(float)}
    demand = rng.integers(0, 41, (a, b)).astype(float)
    return {"I": [f"i{k}" for k in range(a)], "T": list(range(1, b + 1)), "demand": demand,
            "cap": np.full(b, math.ceil(1.6 * demand.sum(axis=0).max())),
            "setup": rng.integers(50, 201, a).astype(float), "hold": rng.uniform(0.5, 2.0, a).round(2),
            "big": np.cumsum(demand[:, ::-1], axis=1)[:, ::-1].copy()}  # remaining demand: a valid big-M


def formulation(family: str, d: dict) -> dict:
    """The instance as our formulation JSON (plain lists, as a user would have them)."""
    L = lambda a: a.tolist()  # noqa: E731
    if family == "transport":
        return {"version": "1", "name": "transport",
                "sets": [{"name": "S", "elements": d["S"]}, {"name": "D", "elements": d["D"]}],
                "parameters": [{"name": "supply", "index": ["S"], "value": L(d["supply"])},
                               {"name": "demand", "index": ["D"], "value": L(d["demand"])},
                               {"name": "cost", "index": ["S", "D"], "value": L(d["cost"])}],
                "variables": [{"name": "x", "index": ["S", "D"], "lower": 0, "upper": None}],
                "objective": {"sense": "minimize", "expr": "sum(cost[s, d] * x[s, d] for s in S for d in D)"},
                "constraints": [
                    {"name": "capacity", "template": "sum_bound", "forall": [{"index": "s", "set": "S"}],
                     "slots": {"terms": ["sum(x[s, d] for d in D)"], "sense": "<=", "limit": "supply[s]"}},
                    {"name": "meet_demand", "template": "linear", "forall": [{"index": "d", "set": "D"}],
                     "slots": {"terms": ["sum(x[s, d] for s in S)"], "sense": ">=", "limit": "demand[d]"}}]}
    if family == "facility":
        return {"version": "1", "name": "facility",
                "sets": [{"name": "F", "elements": d["F"]}, {"name": "C", "elements": d["C"]}],
                "parameters": [{"name": "demand", "index": ["C"], "value": L(d["demand"])},
                               {"name": "cap", "index": ["F"], "value": L(d["cap"])},
                               {"name": "fixed", "index": ["F"], "value": L(d["fixed"])},
                               {"name": "cost", "index": ["F", "C"], "value": L(d["cost"])}],
                "variables": [{"name": "open", "index": ["F"], "domain": "binary"},
                              {"name": "x", "index": ["F", "C"], "lower": 0, "upper": 1}],
                "objective": {"sense": "minimize",
                              "expr": "sum(fixed[f] * open[f] for f in F) + sum(cost[f, c] * x[f, c] for f in F for c in C)"},
                "constraints": [
                    {"name": "served", "template": "general", "forall": [{"index": "c", "set": "C"}],
                     "slots": {"expr": "sum(x[f, c] for f in F) == 1"}},
                    {"name": "capacity", "template": "general", "forall": [{"index": "f", "set": "F"}],
                     "slots": {"expr": "sum(demand[c] * x[f, c] for c in C) <= cap[f] * open[f]"}}]}
    return {"version": "1", "name": "lotsizing",
            "sets": [{"name": "I", "elements": d["I"]}, {"name": "T", "elements": d["T"]}],
            "parameters": [{"name": "demand", "index": ["I", "T"], "value": L(d["demand"])},
                           {"name": "big", "index": ["I", "T"], "value": L(d["big"])},
                           {"name": "cap", "index": ["T"], "value": L(d["cap"])},
                           {"name": "setup_cost", "index": ["I"], "value": L(d["setup"])},
                           {"name": "hold", "index": ["I"], "value": L(d["hold"])}],
            "variables": [{"name": "make", "index": ["I", "T"], "lower": 0},
                          {"name": "stock", "index": ["I", "T"], "lower": 0},
                          {"name": "setup", "index": ["I", "T"], "domain": "binary"}],
            "objective": {"sense": "minimize",
                          "expr": "sum(setup_cost[i] * setup[i, t] + hold[i] * stock[i, t] for i in I for t in T)"},
            "constraints": [
                {"name": "first", "template": "general",
                 "forall": [{"index": "i", "set": "I"}, {"index": "t", "set": "T"}], "where": "t == 1",
                 "slots": {"expr": "make[i, t] - stock[i, t] == demand[i, t]"}},
                {"name": "balance", "template": "general",
                 "forall": [{"index": "i", "set": "I"}, {"index": "t", "set": "T"}], "where": "t > 1",
                 "slots": {"expr": "stock[i, t - 1] + make[i, t] - stock[i, t] == demand[i, t]"}},
                {"name": "setup_link", "template": "general",
                 "forall": [{"index": "i", "set": "I"}, {"index": "t", "set": "T"}],
                 "slots": {"expr": "make[i, t] <= big[i, t] * setup[i, t]"}},
                {"name": "capacity", "template": "general", "forall": [{"index": "t", "set": "T"}],
                 "slots": {"expr": "sum(make[i, t] for i in I) <= cap[t]"}}]}


# --- the approaches ----------------------------------------------------------------------

def run_ours(family: str, d: dict, solve_it: bool) -> dict:
    from nlopt_milp.core import model as core_model
    from nlopt_milp.core.validate import check, load
    from nlopt_milp.solve import backends, highs_direct, solve

    t: dict[str, float] = {}

    def timed(mod, name, key):
        real = getattr(mod, name)

        def wrapper(*a, **k):
            s = time.perf_counter()
            try:
                return real(*a, **k)
            finally:
                t[key] = t.get(key, 0.0) + time.perf_counter() - s
        setattr(mod, name, wrapper)

    timed(core_model, "build", "ground")
    timed(highs_direct, "highs_model", "pass")
    timed(backends, "finish", "read back")
    doc = formulation(family, d)
    base = rss_mb()
    s = time.perf_counter()
    f = load(doc)
    t["load"] = time.perf_counter() - s
    s = time.perf_counter()
    issues = check(f, max_terms=MAX_TERMS)
    t["check"] = time.perf_counter() - s - t.get("ground", 0.0)
    if issues:
        raise SystemExit(f"invalid formulation: {issues[:3]}")
    obj = None
    if solve_it:
        s = time.perf_counter()
        res = solve(f, time_limit=MIP_TIME_LIMIT, max_terms=MAX_TERMS)
        total = time.perf_counter() - s
        if res.status not in ("optimal", "feasible"):
            raise SystemExit(f"ours: {res.status} {res.message}")
        obj = res.objective
        t["solve"] = total - t["pass"] - t["read back"]
    else:
        from nlopt_milp.core.model import recall

        s = time.perf_counter()
        highs_direct.highs_model(recall(f)[1])
    t["build"] = t["load"] + t["check"] + t["ground"] + t["pass"]
    return {"times": t, "objective": obj, "rss": rss_mb() - base}


def _highs(num_col, cost, lo, hi, rlo, rhi, start, index, value, integrality=None, colwise=False):
    """Arrays straight into HiGHS: highspy's array form of `passModel` (the fastest way in)."""
    import highspy
    import numpy as np

    h = highspy.Highs()
    h.setOptionValue("output_flag", False)
    fmt = highspy.MatrixFormat.kColwise if colwise else highspy.MatrixFormat.kRowwise
    integ = np.zeros(num_col, dtype=np.int32) if integrality is None else integrality.astype(np.int32)
    h.passModel(num_col, len(rlo), len(value), int(fmt.value), 1, 0.0, cost, lo, hi, rlo, rhi,
                start.astype(np.int32), index.astype(np.int32), value, integ)
    return h


def build_highspy(family: str, d: dict):
    import numpy as np
    from scipy.sparse import coo_array

    if family == "transport":
        ns, nd = len(d["S"]), len(d["D"])
        n = ns * nd
        s_of, d_of = np.divmod(np.arange(n), nd)
        return _highs(n, d["cost"].ravel(), np.zeros(n), np.full(n, np.inf),
                      np.concatenate([np.full(ns, -np.inf), d["demand"]]), np.concatenate([d["supply"], np.full(nd, np.inf)]),
                      np.arange(0, 2 * n + 1, 2, dtype=np.int32),
                      np.column_stack([s_of, ns + d_of]).ravel().astype(np.int32), np.ones(2 * n), colwise=True)
    if family == "facility":
        nf, nc = len(d["F"]), len(d["C"])
        n = nf + nf * nc  # open[f], then x[f,c]
        x = nf + np.arange(nf * nc)
        f_of, c_of = np.divmod(np.arange(nf * nc), nc)
        rows = np.concatenate([c_of, nc + f_of, nc + np.arange(nf)])
        cols = np.concatenate([x, x, np.arange(nf)])
        vals = np.concatenate([np.ones(nf * nc), d["demand"][c_of], -d["cap"]])
        a = coo_array((vals, (rows, cols)), shape=(nc + nf, n)).tocsr()
        integrality = np.zeros(n, dtype=np.int8)
        integrality[:nf] = 1
        return _highs(n, np.concatenate([d["fixed"], d["cost"].ravel()]), np.zeros(n), np.ones(n),
                      np.concatenate([np.ones(nc), np.full(nf, -np.inf)]), np.concatenate([np.ones(nc), np.zeros(nf)]),
                      a.indptr.astype(np.int32), a.indices.astype(np.int32), a.data, integrality)
    ni, nt = len(d["I"]), len(d["T"])
    m = ni * nt
    k = np.arange(m)
    i_of, t_of = np.divmod(k, nt)
    make, stock, setup = k, m + k, 2 * m + k
    prev = t_of > 0
    # balance rows 0..m-1, link rows m..2m-1, capacity rows 2m..2m+nt-1
    rows = np.concatenate([k[prev], k, k, m + k, m + k, 2 * m + t_of])
    cols = np.concatenate([stock[prev] - 1, make, stock, make, setup, make])
    vals = np.concatenate([np.ones(prev.sum()), np.ones(m), -np.ones(m), np.ones(m), -d["big"].ravel(), np.ones(m)])
    a = coo_array((vals, (rows, cols)), shape=(2 * m + nt, 3 * m)).tocsr()
    integrality = np.zeros(3 * m, dtype=np.int8)
    integrality[2 * m:] = 1
    dem = d["demand"].ravel()
    return _highs(3 * m, np.concatenate([np.zeros(m), np.repeat(d["hold"], nt), np.repeat(d["setup"], nt)]),
                  np.zeros(3 * m), np.concatenate([np.full(2 * m, np.inf), np.ones(m)]),
                  np.concatenate([dem, np.full(m, -np.inf), np.full(nt, -np.inf)]),
                  np.concatenate([dem, np.zeros(m), d["cap"]]), a.indptr.astype(np.int32), a.indices.astype(np.int32),
                  a.data, integrality)


def build_linopy(family: str, d: dict):
    import linopy
    import pandas as pd
    import xarray as xr

    def index(values, dims):  # a coordinate: linopy wants a named pandas Index
        return pd.Index(values, name=dims)

    m = linopy.Model()
    if family == "transport":
        S, D = index(d["S"], "S"), index(d["D"], "D")
        x = m.add_variables(lower=0, coords=[S, D], name="x")
        m.add_constraints(x.sum("D") <= xr.DataArray(d["supply"], coords=[S]), name="capacity")
        m.add_constraints(x.sum("S") >= xr.DataArray(d["demand"], coords=[D]), name="demand")
        m.add_objective((xr.DataArray(d["cost"], coords=[S, D]) * x).sum())
    elif family == "facility":
        F, C = index(d["F"], "F"), index(d["C"], "C")
        o = m.add_variables(binary=True, coords=[F], name="open")
        x = m.add_variables(lower=0, upper=1, coords=[F, C], name="x")
        m.add_constraints(x.sum("F") == 1, name="served")
        m.add_constraints((xr.DataArray(d["demand"], coords=[C]) * x).sum("C")
                          - xr.DataArray(d["cap"], coords=[F]) * o <= 0, name="capacity")
        m.add_objective((xr.DataArray(d["fixed"], coords=[F]) * o).sum()
                        + (xr.DataArray(d["cost"], coords=[F, C]) * x).sum())
    else:
        I, T = index(d["I"], "I"), index(d["T"], "T")
        make = m.add_variables(lower=0, coords=[I, T], name="make")
        stock = m.add_variables(lower=0, coords=[I, T], name="stock")
        setup = m.add_variables(binary=True, coords=[I, T], name="setup")
        dem = xr.DataArray(d["demand"], coords=[I, T])
        m.add_constraints(stock.shift(T=1) + make - stock == dem, name="balance")  # shift: stock[t-1], none at t=1
        m.add_constraints(make - xr.DataArray(d["big"], coords=[I, T]) * setup <= 0, name="link")
        m.add_constraints(make.sum("I") <= xr.DataArray(d["cap"], coords=[T]), name="capacity")
        m.add_objective((xr.DataArray(d["setup"], coords=[I]) * setup).sum()
                        + (xr.DataArray(d["hold"], coords=[I]) * stock).sum())
    h = m.to_highspy()
    h.setOptionValue("output_flag", False)
    return h


def build_pyomo(family: str, d: dict):
    import pyomo.environ as pyo

    m = pyo.ConcreteModel()
    if family == "transport":
        S, D = d["S"], d["D"]
        cost = {(s, t): c for s, row in zip(S, d["cost"].tolist()) for t, c in zip(D, row)}
        sup, dem = dict(zip(S, d["supply"].tolist())), dict(zip(D, d["demand"].tolist()))
        m.x = pyo.Var(S, D, domain=pyo.NonNegativeReals)
        m.cap = pyo.Constraint(S, rule=lambda m, s: sum(m.x[s, t] for t in D) <= sup[s])
        m.dem = pyo.Constraint(D, rule=lambda m, t: sum(m.x[s, t] for s in S) >= dem[t])
        m.obj = pyo.Objective(expr=sum(cost[k] * m.x[k] for k in cost))
    elif family == "facility":
        F, C = d["F"], d["C"]
        cost = {(f, c): v for f, row in zip(F, d["cost"].tolist()) for c, v in zip(C, row)}
        dem, cap, fixed = dict(zip(C, d["demand"].tolist())), dict(zip(F, d["cap"].tolist())), dict(zip(F, d["fixed"].tolist()))
        m.open = pyo.Var(F, domain=pyo.Binary)
        m.x = pyo.Var(F, C, bounds=(0, 1))
        m.served = pyo.Constraint(C, rule=lambda m, c: sum(m.x[f, c] for f in F) == 1)
        m.cap = pyo.Constraint(F, rule=lambda m, f: sum(dem[c] * m.x[f, c] for c in C) <= cap[f] * m.open[f])
        m.obj = pyo.Objective(expr=sum(fixed[f] * m.open[f] for f in F) + sum(cost[k] * m.x[k] for k in cost))
    else:
        I, T = d["I"], d["T"]
        dem = {(i, t): v for i, row in zip(I, d["demand"].tolist()) for t, v in zip(T, row)}
        big = {(i, t): v for i, row in zip(I, d["big"].tolist()) for t, v in zip(T, row)}
        cap, setup, hold = dict(zip(T, d["cap"].tolist())), dict(zip(I, d["setup"].tolist())), dict(zip(I, d["hold"].tolist()))
        m.make = pyo.Var(I, T, domain=pyo.NonNegativeReals)
        m.stock = pyo.Var(I, T, domain=pyo.NonNegativeReals)
        m.setup = pyo.Var(I, T, domain=pyo.Binary)
        m.bal = pyo.Constraint(I, T, rule=lambda m, i, t: (m.stock[i, t - 1] if t > 1 else 0)
                               + m.make[i, t] - m.stock[i, t] == dem[i, t])
        m.link = pyo.Constraint(I, T, rule=lambda m, i, t: m.make[i, t] <= big[i, t] * m.setup[i, t])
        m.cap = pyo.Constraint(T, rule=lambda m, t: sum(m.make[i, t] for i in I) <= cap[t])
        m.obj = pyo.Objective(expr=sum(setup[i] * m.setup[i, t] + hold[i] * m.stock[i, t] for i in I for t in T))
    return m


def from_lists(family: str, d: dict):
    """highspy from the plain lists our formulation JSON holds: numpy arrays made of them, then `build_highspy`."""
    import numpy as np

    return build_highspy(family, {k: np.asarray(v, dtype=float) if k not in SET_KEYS else v for k, v in d.items()})


SET_KEYS = {"S", "D", "F", "C", "I", "T"}


def run_other(approach: str, family: str, d: dict, solve_it: bool) -> dict:
    if approach == "lists":  # the same plain lists ours starts from (made before the clock starts)
        d = {k: v.tolist() if hasattr(v, "tolist") else v for k, v in d.items()}
    base = rss_mb()
    s = time.perf_counter()
    built = {"highspy": build_highspy, "lists": from_lists, "linopy": build_linopy, "pyomo": build_pyomo}[approach](family, d)
    t = {"build": time.perf_counter() - s}
    obj = None
    if solve_it:
        s = time.perf_counter()
        if approach == "pyomo":
            from pyomo.contrib.solver.solvers.highs import Highs

            res = Highs().solve(built, time_limit=MIP_TIME_LIMIT)
            obj = res.incumbent_objective
        else:
            built.setOptionValue("time_limit", MIP_TIME_LIMIT)
            built.run()
            sol = built.getSolution()
            _values = list(sol.col_value)  # read back, as the others do
            obj = built.getInfo().objective_function_value
        t["solve"] = time.perf_counter() - s
    return {"times": t, "objective": obj, "rss": rss_mb() - base}


def worker(family: str, n: int, approach: str, solve_it: bool) -> None:
    import numpy  # noqa: F401 - imports count before the baseline, for every approach alike
    import highspy  # noqa: F401
    import scipy.sparse  # noqa: F401

    if approach == "ours":
        import nlopt_milp.core.validate  # noqa: F401
        import nlopt_milp.solve  # noqa: F401
    elif approach == "linopy":
        import linopy  # noqa: F401
    elif approach == "pyomo":
        import pyomo.environ  # noqa: F401
        from pyomo.contrib.solver.solvers.highs import Highs  # noqa: F401
    warm = instance(family, 300)  # first calls (lazy imports, HiGHS's first instance) are not the model's cost
    run_ours(family, warm, True) if approach == "ours" else run_other(approach, family, warm, True)
    d = instance(family, n)
    out = run_ours(family, d, solve_it) if approach == "ours" else run_other(approach, family, d, solve_it)
    print(json.dumps(out))


# --- the table --------------------------------------------------------------------------------

def measure(family: str, n: int, approach: str, solve_it: bool) -> dict | None:
    cmd = [sys.executable, __file__, "--worker", family, str(n), approach, "1" if solve_it else "0"]
    p = subprocess.run(cmd, capture_output=True, text=True, cwd=str(ROOT))
    if p.returncode != 0:
        tail = (p.stderr.strip().splitlines() or ["?"])[-1]
        print(f"  ({approach} {family} {n}: failed: {tail})", file=sys.stderr)
        return None
    return json.loads(p.stdout.strip().splitlines()[-1])


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--sizes", default="1000,10000,100000", help="numbers of variables (about)")
    ap.add_argument("--big", type=int, default=1_000_000, help="build-only size for the transportation LP (0: none)")
    ap.add_argument("--families", default=",".join(FAMILIES))
    ap.add_argument("--approaches", default=",".join(APPROACHES))
    ap.add_argument("--repeat", type=int, default=3, help="rounds (alternating order); medians are shown")
    ap.add_argument("--solve-max-lp", type=int, default=100_000)
    ap.add_argument("--solve-max-mip", type=int, default=10_000)
    ap.add_argument("--worker", nargs=4, help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.worker:
        family, n, approach, solve_it = args.worker
        worker(family, int(n), approach, solve_it == "1")
        return 0
    approaches = [a for a in args.approaches.split(",") if a]
    if "linopy" in approaches:
        try:
            import linopy  # noqa: F401
        except ImportError:
            approaches.remove("linopy")
    sizes = [int(s) for s in args.sizes.split(",") if s]
    plan = [(fam, n) for fam in args.families.split(",") for n in sizes]
    if args.big and "transport" in args.families:
        plan.append(("transport", args.big))
    print("times in seconds (median of %d, alternating order); rss: peak MB above the imports" % args.repeat)
    print(f"{'family':<10}{'vars':>8} {'approach':<8}{'build':>8}{'ratio':>6}{'solve':>8}{'ratio':>6}{'rss':>7}{'ratio':>6}"
          f"   ours: load / check / ground / pass / solve / read back")
    for fam, n in plan:
        solve_it = n <= (args.solve_max_lp if fam == "transport" else args.solve_max_mip) and n != args.big
        runs: dict[str, list[dict]] = {a: [] for a in approaches}
        for r in range(args.repeat):
            order = approaches if r % 2 == 0 else approaches[::-1]
            for a in order:
                if a == "pyomo" and n > 200_000:
                    continue  # minutes and gigabytes: not informative
                out = measure(fam, n, a, solve_it)
                if out is not None:
                    runs[a].append(out)
        med = {a: _median(v) for a, v in runs.items() if v}
        objs = {a: m["objective"] for a, m in med.items() if m["objective"] is not None}
        if len(objs) > 1:
            ref = objs.get("highspy", next(iter(objs.values())))
            tol = 1e-6 if fam == "transport" else 2e-4
            for a, o in objs.items():
                if abs(o - ref) > tol * max(1.0, abs(ref)):
                    print(f"  objectives differ: {a} {o!r} vs {ref!r}", file=sys.stderr)
        hs = med.get("highspy")
        for a, m in med.items():
            t = m["times"]
            ratio = lambda k: f"{t[k] / hs['times'][k]:>7.2f}" if hs and k in t and k in hs["times"] else f"{'':>7}"  # noqa: E731
            rr = f"{m['rss'] / hs['rss']:>6.2f}" if hs and hs["rss"] > 0 else f"{'':>6}"
            solve_s = f"{t['solve']:>8.3f}" if "solve" in t else f"{'-':>8}"
            phases = ""
            if a == "ours":
                phases = "   " + " / ".join(f"{t.get(k, 0.0):.3f}" for k in ("load", "check", "ground", "pass", "solve", "read back"))
            shp = "x".join(map(str, shape(fam, n)))
            print(f"{fam:<10}{n:>8} {a:<8}{t['build']:>8.3f}{ratio('build')}{solve_s}{ratio('solve')}"
                  f"{m['rss']:>7.0f}{rr}{phases}" + (f"   ({shp})" if a == "highspy" else ""), flush=True)
    return 0


def _median(runs: list[dict]) -> dict:
    keys = set().union(*(r["times"] for r in runs))
    return {"times": {k: statistics.median(r["times"][k] for r in runs if k in r["times"]) for k in keys},
            "rss": statistics.median(r["rss"] for r in runs),
            "objective": runs[0]["objective"]}


if __name__ == "__main__":
    sys.exit(main())

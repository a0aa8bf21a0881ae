"""Model size: build + solve time through our path against building the same model in highspy.

For each size N (number of variables) a transportation LP is generated: |S| plants with
a capacity, |D| customers with a demand, one shipment variable x[s,d] per pair (|S|*|D| = N),
cost per unit on every route. Data are random with a fixed seed; total capacity exceeds total
demand by half, so every model is feasible and bounded.

In one process, for every size:

* ours: the formulation as a JSON dict -> `load` -> `check` -> `solve(f)` (HiGHS),
  the way `nlopt solve` runs it;
* highspy direct: the same data -> numpy arrays -> `HighsLp` -> `passModel` -> `run()`.

Both objectives must agree (relative 1e-6). The table prints both times, their ratio, and our
stage split: validate (`load` + `check`) and solve (`solve(f)`: linearize, ground, HiGHS, the
answer read back), with ground (`to_linear_model`, timed again on its own after the solve) as
the part of solve spent building the flat model. Every time is the best of `--repeat` runs.

    python benchmarks/model_size.py [--sizes 100,500,2000,5000,20000] [--repeat 3]
"""

from __future__ import annotations

import argparse
import math
import random
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from nlopt_milp.core.validate import check, load  # noqa: E402
from nlopt_milp.solve import solve, to_linear_model  # noqa: E402

SEED = 20240607
SIZES = (100, 500, 2000, 5000, 20000)


def shape(n: int) -> tuple[int, int]:
    """|S| x |D| = n with |D| about twice |S| (100 -> 5x20, 5000 -> 50x100, 20000 -> 100x200)."""
    s = max(d for d in range(1, int(math.isqrt(n // 2)) + 1) if n % d == 0) if n >= 2 else 1
    return s, n // s


def instance(n: int) -> dict:
    """Raw data of the size-n transportation problem (plain lists, as a user would have them)."""
    ns, nd = shape(n)
    rng = random.Random(SEED + n)
    demand = [float(rng.randint(10, 100)) for _ in range(nd)]
    weights = [rng.uniform(0.5, 1.5) for _ in range(ns)]
    total = 1.5 * sum(demand)
    supply = [float(math.ceil(total * w / sum(weights))) for w in weights]
    cost = [[float(rng.randint(1, 100)) for _ in range(nd)] for _ in range(ns)]
    return {"S": [f"s{k}" for k in range(ns)], "D": [f"d{k}" for k in range(nd)],
            "supply": supply, "demand": demand, "cost": cost}


def formulation(data: dict) -> dict:
    """The instance as a formulation JSON dict."""
    return {
        "version": "1",
        "name": f"transport_{len(data['S'])}x{len(data['D'])}",
        "sets": [{"name": "S", "elements": data["S"]}, {"name": "D", "elements": data["D"]}],
        "parameters": [
            {"name": "supply", "index": ["S"], "value": data["supply"]},
            {"name": "demand", "index": ["D"], "value": data["demand"]},
            {"name": "cost", "index": ["S", "D"], "value": data["cost"]},
        ],
        "variables": [{"name": "x", "index": ["S", "D"], "lower": 0, "upper": None}],
        "objective": {"sense": "minimize", "expr": "sum(cost[s, d] * x[s, d] for s in S for d in D)"},
        "constraints": [
            {"name": "capacity", "template": "sum_bound", "forall": [{"index": "s", "set": "S"}],
             "slots": {"terms": ["sum(x[s, d] for d in D)"], "sense": "<=", "limit": "supply[s]"}},
            {"name": "meet_demand", "template": "linear", "forall": [{"index": "d", "set": "D"}],
             "slots": {"terms": ["sum(x[s, d] for s in S)"], "sense": ">=", "limit": "demand[d]"}},
        ],
    }


def ours(doc: dict) -> tuple[float, dict[str, float]]:
    """Objective and stage times through load -> check -> solve."""
    t0 = time.perf_counter()
    f = load(doc)
    issues = check(f)
    t1 = time.perf_counter()
    if issues:
        raise SystemExit(f"generated formulation is invalid: {issues[:3]}")
    res = solve(f)
    t2 = time.perf_counter()
    if res.status != "optimal":
        raise SystemExit(f"our solve: {res.status} {res.message}")
    g0 = time.perf_counter()
    to_linear_model(f)
    ground = time.perf_counter() - g0
    return res.objective, {"total": t2 - t0, "validate": t1 - t0, "solve": t2 - t1, "ground": ground}


def direct(data: dict) -> tuple[float, float]:
    """Objective and time building the same LP with highspy (numpy arrays, column-wise) and solving it."""
    import highspy
    import numpy as np

    t0 = time.perf_counter()
    ns, nd = len(data["S"]), len(data["D"])
    n = ns * nd
    lp = highspy.HighsLp()
    lp.num_col_, lp.num_row_ = n, ns + nd
    lp.col_cost_ = np.asarray(data["cost"], dtype=float).ravel()  # column s*nd + d is x[s,d]
    lp.col_lower_ = np.zeros(n)
    lp.col_upper_ = np.full(n, highspy.kHighsInf)
    lp.row_lower_ = np.concatenate([np.full(ns, -highspy.kHighsInf), np.asarray(data["demand"], dtype=float)])
    lp.row_upper_ = np.concatenate([np.asarray(data["supply"], dtype=float), np.full(nd, highspy.kHighsInf)])
    s_of, d_of = np.divmod(np.arange(n), nd)
    lp.a_matrix_.format_ = highspy.MatrixFormat.kColwise
    lp.a_matrix_.start_ = np.arange(0, 2 * n + 1, 2, dtype=np.int32)
    lp.a_matrix_.index_ = np.column_stack([s_of, ns + d_of]).ravel().astype(np.int32)
    lp.a_matrix_.value_ = np.ones(2 * n)
    h = highspy.Highs()
    h.setOptionValue("output_flag", False)
    h.passModel(lp)
    h.run()
    if h.getModelStatus() != highspy.HighsModelStatus.kOptimal:
        raise SystemExit(f"highspy direct: {h.modelStatusToString(h.getModelStatus())}")
    obj = h.getInfo().objective_function_value
    return obj, time.perf_counter() - t0


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--sizes", default=",".join(map(str, SIZES)), help="comma-separated numbers of variables")
    ap.add_argument("--repeat", type=int, default=3, help="runs per size; the best time counts")
    args = ap.parse_args(argv)
    sizes = [int(s) for s in args.sizes.split(",") if s.strip()]

    warm = instance(100)  # imports, HiGHS's first instance
    ours(formulation(warm))
    direct(warm)

    print(f"transportation LP, best of {args.repeat}; times in seconds")
    head = f"{'variables':>9} {'shape':>8} {'ours':>8} {'highspy':>8} {'ratio':>6}  {'validate':>8} {'solve':>8} {'(ground)':>8}"
    print(head)
    print("-" * len(head))
    for n in sizes:
        data = instance(n)
        best_ours: dict[str, float] | None = None
        best_direct = math.inf
        for _ in range(args.repeat):
            doc = formulation(data)
            obj_ours, t = ours(doc)
            obj_direct, td = direct(data)
            if abs(obj_ours - obj_direct) > 1e-6 * max(1.0, abs(obj_direct)):
                raise SystemExit(f"size {n}: objectives differ: ours {obj_ours!r}, highspy {obj_direct!r}")
            best_ours = t if best_ours is None else {k: min(v, t[k]) for k, v in best_ours.items()}
            best_direct = min(best_direct, td)
        ns, nd = shape(n)
        b = best_ours
        print(f"{ns * nd:>9} {f'{ns}x{nd}':>8} {b['total']:>8.3f} {best_direct:>8.3f} {b['total'] / best_direct:>6.1f}"
              f"  {b['validate']:>8.3f} {b['solve']:>8.3f} {b['ground']:>8.3f}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())

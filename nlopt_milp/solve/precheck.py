"""What is settled before any solver runs, the same way for every backend.

- Empty domains: an integer column whose bounds round to nothing (x in [0.5, 0.7] -> [1, 0])
  or a binary declared with `lower 2` is infeasible; the IIS names the clashing bounds.
  (OR-Tools would call such a model MODEL_INVALID, HiGHS infeasible: now all say infeasible.)
- Numbers beyond what the solvers accept: HiGHS rejects matrix coefficients of 1e15 or more
  and reads bounds, right-hand sides and costs of 1e20 or more as infinite, which changes the
  model silently. Such a model is refused (status error) with a message naming the row or
  the variable bound to tighten (a derived big-M is the bound of a variable in its row).
- A constant objective without constraints on the variables is optimal at once (Pyomo's
  HiGHS interface gives no verdict on such an "empty" model).
"""

from __future__ import annotations

import math

from .linear_model import LinearModel
from .result import SolveResult

MAX_COEFFICIENT = 1e15  # HiGHS's large_matrix_value: larger matrix entries make it reject the model
MAX_VALUE = 1e20  # HiGHS's infinite bound / cost: from there on a number means "no limit" to it


def _num(v: float) -> str:
    return f"{v:.6g}"


def empty_domains(lm: LinearModel, solver: str, declared: dict) -> SolveResult | None:
    """Infeasible when some column's bounds leave no value (the IIS names both bounds)."""
    from .iis import bound_members

    bad = (lm.col_lower > lm.col_upper).nonzero()[0].tolist()
    if not bad:
        return None
    members = bound_members(lm, [(j, side) for j in bad for side in ("lower", "upper")], declared)
    shown = ", ".join(f"{lm.column_label(j)} in [{_num(lm.col_lower[j])}, {_num(lm.col_upper[j])}]"
                      for j in bad[:5])
    more = f" and {len(bad) - 5} more" if len(bad) > 5 else ""
    return SolveResult("infeasible", solver=solver, iis=members,
                       message=f"no value fits the bounds of {shown}{more} (integers: bounds rounded inward)")


def _culprit(lm: LinearModel, row, j: int) -> str:
    """The variable bound a coefficient in `row` most likely derives from (a big-M): the largest other one."""
    best, what = 0.0, ""
    for k in row.coefs:
        if k == j:
            continue
        col = lm.columns[k]
        for side in ("lower", "upper"):
            b = getattr(col, side)
            if math.isfinite(b) and abs(b) > best:
                best, what = abs(b), f"the {side} bound of {col.label} ({_num(b)})"
    return f"; a derived big-M comes from variable bounds: tighten {what} or give the big-M slot" if what else ""


def too_large(lm: LinearModel, solver: str) -> SolveResult | None:
    """Error when a number is beyond what the solvers accept (see the module doc)."""
    import numpy as np

    with np.errstate(invalid="ignore"):
        big = lambda a, limit: np.isfinite(a) & (np.abs(a) >= limit)  # noqa: E731
        if not (big(lm.col_lower, MAX_VALUE).any() or big(lm.col_upper, MAX_VALUE).any()
                or big(lm.cost, MAX_VALUE).any() or big(lm.rhs, MAX_VALUE).any()
                or big(lm.values, MAX_COEFFICIENT).any()):
            return None  # the common case, without building rows
    problems: list[str] = []
    for j, col in enumerate(lm.columns):
        for side in ("lower", "upper"):
            b = getattr(col, side)
            if math.isfinite(b) and abs(b) >= MAX_VALUE:
                problems.append(f"the {side} bound {_num(b)} of {col.label} is at or beyond {_num(MAX_VALUE)}, "
                                "which solvers read as no bound: tighten it or leave it out")
    for j, a in lm.objective.items():
        if abs(a) >= MAX_VALUE:
            problems.append(f"the objective coefficient {_num(a)} of {lm.columns[j].label} is at or beyond "
                            f"{_num(MAX_VALUE)}: rescale the objective")
    for r in lm.rows:
        if abs(r.rhs) >= MAX_VALUE:
            problems.append(f"the right-hand side {_num(r.rhs)} of row {r.label} is at or beyond {_num(MAX_VALUE)}: "
                            "rescale the constraint")
        for j, a in r.coefs.items():
            if abs(a) >= MAX_COEFFICIENT:
                problems.append(f"the coefficient {_num(a)} of {lm.columns[j].label} in row {r.label} is at or beyond "
                                f"{_num(MAX_COEFFICIENT)}, more than the solvers accept{_culprit(lm, r, j)}")
                break
        if len(problems) >= 3:
            break
    if not problems:
        return None
    return SolveResult("error", solver=solver, message="numbers too large to solve reliably: " + "; ".join(problems[:3]))


def constant_model(lm: LinearModel, solver: str) -> SolveResult | None:
    """Optimal at once when no row and not the objective use a variable (a constant objective and
    no constraints): some solvers call such a model empty and give no verdict."""
    from .backends import _inside, finish
    from .highs_direct import used_columns

    if any(used_columns(lm)):
        return None
    return finish(lm, "optimal", [_inside(c) for c in lm.columns], solver, 0.0,
                  "constant objective and no constraint on the variables")


def precheck(lm: LinearModel, solver: str, origins=None) -> SolveResult | None:
    """A result settled without a solver (empty domain, oversized numbers, nothing to solve), or None."""
    return (empty_domains(lm, solver, getattr(origins, "bounds", None) or {}) or too_large(lm, solver)
            or constant_model(lm, solver))

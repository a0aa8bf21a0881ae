"""Check a solver's point against the model it was given, and clean it for display.

Every backend's answer goes through `finish` (backends.py), which calls `violations` on
the raw point before anything is reported: a point that breaks a row, a bound or
integrality of the ORIGINAL `LinearModel` (not a solver's rescaled copy) beyond the
tolerances below is never reported as optimal or feasible.

Tolerances (why two kinds):
- solver points are feasible only within the solvers' own tolerances (HiGHS, SCIP: 1e-6
  on scaled rows and on integrality), so a row may be off by FEAS_TOL times the size of
  its largest term or right-hand side;
- a row whose columns are all integers and whose values are exact integers (CP-SAT's
  points, rounded MIP points) is evaluated exactly (fractions of the float coefficients):
  it may be off only by EXACT_TOL plus a few units in the last place of its terms, so an
  "optimal" x = 5 for `2000000000.5 x <= 1e10` is caught.

`clean_point` is the point shown to people: integer columns rounded, continuous values
within SNAP_TOL of an integer snapped to it, kept only when that point passes the same
check (else the raw point is shown).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from fractions import Fraction

from .linear_model import LinearModel

FEAS_TOL = 1e-6  # relative to the row's scale: max(1, |rhs|, largest |a_j x_j|)
INT_TOL = 1e-5  # |x - round(x)| of an integer column (solvers use 1e-6; one more digit of slack)
BOUND_TOL = 1e-6  # relative to max(1, |bound|)
EXACT_TOL = 1e-9  # absolute, for rows evaluated exactly
ULPS = 8 * 2.0 ** -52  # relative to sum |a_j x_j|: float rounding of coefficients read from decimals
SNAP_TOL = 1e-6  # relative: continuous values this close to an integer are shown as that integer


@dataclass
class Violation:
    what: str  # "row" | "bound" | "integrality"
    label: str  # row or column label
    amount: float  # by how much (absolute)
    tolerance: float

    def __str__(self) -> str:
        kind = {"row": "constraint row", "bound": "bound of", "integrality": "integrality of"}[self.what]
        return f"{kind} {self.label} violated by {self.amount:.6g} (tolerance {self.tolerance:.3g})"


def _is_int(v: float) -> bool:
    return math.isfinite(v) and float(v).is_integer()


def row_violation(row, x, integral) -> tuple[float, float]:
    """(violation >= 0, tolerance) of one row at point x; `integral[j]`: column j is an integer column
    at an integer value (its rows are then evaluated exactly)."""
    terms = [a * x[j] for j, a in row.coefs.items()]
    exact = all(integral[j] for j in row.coefs)
    if exact:
        scale = max(math.fsum(abs(t) for t in terms), abs(row.rhs))
        tol = EXACT_TOL + ULPS * scale
        bad = _bad(math.fsum(terms) - row.rhs, row.sense)
        if bad + ULPS * scale > tol:  # too close to call in floats: evaluate exactly
            act = sum((Fraction(a) * Fraction(x[j]) for j, a in row.coefs.items()), Fraction(0))
            bad = float(_bad(act - Fraction(row.rhs), row.sense))
        return bad, tol
    tol = FEAS_TOL * max(1.0, abs(row.rhs), max((abs(t) for t in terms), default=0.0))
    return _bad(math.fsum(terms) - row.rhs, row.sense), tol


def _bad(diff, sense: str):
    if sense == "<=":
        return max(diff, 0)
    if sense == ">=":
        return max(-diff, 0)
    return abs(diff)


def violations(lm: LinearModel, x, limit: int = 3) -> list[Violation]:
    """The worst violations (at most `limit`) of point x against the model's bounds, integrality and rows.

    Vectorized over the arrays; the columns and rows that are not clearly fine (within their
    tolerance by more than the rounding of a float sum) are then judged one by one, exactly
    as `row_violation` says.
    """
    import numpy as np

    x = np.asarray(x, dtype=float)
    lo, hi, cont = lm.col_lower, lm.col_upper, lm.col_domain == 0
    with np.errstate(invalid="ignore"):
        ok = np.isfinite(x) & (lo <= x) & (x <= hi) & (cont | (x == np.round(x)))
    found: list[Violation] = []
    for j in np.flatnonzero(~ok).tolist():
        col, v = lm.column(j), float(x[j])
        if not math.isfinite(v):
            found.append(Violation("bound", col.label, math.inf, 0.0))
            continue
        for b, bad in ((col.lower, col.lower - v), (col.upper, v - col.upper)):
            tol = BOUND_TOL * max(1.0, abs(b)) if math.isfinite(b) else math.inf
            if bad > tol:
                found.append(Violation("bound", col.label, bad, tol))
        if col.domain != "continuous" and abs(v - round(v)) > INT_TOL:
            found.append(Violation("integrality", col.label, abs(v - round(v)), INT_TOL))
    xs = np.where(np.isfinite(x), x, 0.0)
    integral = ~cont & (xs == np.round(xs)) & np.isfinite(x)
    terms = lm.values * xs[lm.indices]
    act = lm.row_reduce(terms, np.add)
    size = lm.row_reduce(np.abs(terms), np.add)
    biggest = lm.row_reduce(np.abs(terms), np.maximum)
    n_terms = np.diff(lm.indptr)
    exact = lm.row_reduce((~integral[lm.indices]).astype(float), np.add) == 0
    rhs, sense = lm.rhs, lm.row_sense
    diff = act - rhs
    bad = np.where(sense == 0, np.maximum(diff, 0), np.where(sense == 1, np.maximum(-diff, 0), np.abs(diff)))
    tol = np.where(exact, EXACT_TOL + ULPS * np.maximum(size, np.abs(rhs)),
                   FEAS_TOL * np.maximum(np.maximum(1.0, np.abs(rhs)), biggest))
    rounding = (n_terms + 2) * 2.0 ** -52 * (size + np.abs(rhs))  # how far a float sum may be off
    for k in np.flatnonzero(~(bad + rounding <= tol)).tolist():  # NaN-safe: unclear rows are judged exactly
        r = lm.row(k)
        b, t = row_violation(r, xs, integral)
        if b > t:
            found.append(Violation("row", r.label, b, t))
    found.sort(key=lambda v: -(v.amount / v.tolerance if v.tolerance else math.inf))
    return found[:limit]


def rejection(solver: str, found: list[Violation]) -> str:
    """The message of a point that failed the check."""
    return f"{solver} returned a point that violates the model ({'; '.join(map(str, found))}); not reported"


def clean_point(lm: LinearModel, raw) -> tuple[list[float], str]:
    """The point to show, and a note ("" when it is the cleaned point, else why the raw one is shown).

    Cleaned: integer columns rounded, continuous values within SNAP_TOL of an integer snapped,
    -0.0 and |v| < 1e-12 made 0. Used only if it passes `violations`; failing that, integers
    rounded alone; failing that, the raw point (which has passed the check already).
    """
    import numpy as np

    raw = np.asarray(raw, dtype=float)
    cont = lm.col_domain == 0
    r = np.round(raw)
    near_int = np.abs(raw - r) <= INT_TOL
    for continuous_too in (True, False):
        x = np.where(~cont, np.where(near_int, r, raw), raw)
        tiny = cont & (np.abs(raw) < 1e-12)
        if continuous_too:
            snap = cont & ~tiny & (np.abs(raw - r) <= SNAP_TOL * np.maximum(1.0, np.abs(raw)))
            x = np.where(snap, r, x)
        x = np.where(tiny, 0.0, x) + 0.0
        if np.array_equal(x, raw) or not violations(lm, x, limit=1):  # (the raw point has passed the check in `finish`)
            return x.tolist(), ""
    return (raw + 0.0).tolist(), "values shown unrounded: the rounded point breaks a constraint"

"""Irreducible infeasible subsystems, reported by formulation constraint.

A deletion filter over *named constraint groups*: every original formulation
constraint (all rows of all its linearized pieces) is one group. Drop a group; if
the rest is still infeasible the group is not needed, otherwise it stays. What
remains is irreducible at the level users think in (their named constraints), and
works for LPs and MILPs alike. Rows inside the kept groups are then filtered the
same way (small models only) to name the instances that clash, e.g. `demand[3]`.

Feasibility checks use highspy directly on the flat `LinearModel` (zero objective; the
model is built by `highs_direct.highs_model`, as for the default `highs` backend),
toggling rows by freeing their bounds, so no model is rebuilt between checks.
"""

from __future__ import annotations

import math
import re
import time

from .highs_direct import highs_model, row_bounds
from .linear_model import LinearModel
from .result import IISMember

MAX_ROWS_REFINED = 300  # row-level filter only when the kept groups have at most this many rows


class FeasibilityOracle:
    """Is the model feasible with only these rows active?  True / False / None (undecided)."""

    def __init__(self, lm: LinearModel, time_limit: float | None = None):
        import numpy as np

        self.h = highs_model(lm, objective=False)
        self.lo, self.hi = row_bounds(lm)
        self.active = np.ones(len(lm.rows), dtype=bool)
        self.time_limit = time_limit
        self.np = np

    def feasible(self, active) -> bool | None:
        import highspy

        np = self.np
        active = np.asarray(active, dtype=bool)
        changed = np.nonzero(active != self.active)[0]
        if len(changed):
            lo = np.where(active[changed], self.lo[changed], -math.inf)
            hi = np.where(active[changed], self.hi[changed], math.inf)
            self.h.changeRowsBounds(len(changed), changed.astype(np.int32), lo, hi)
            self.active = active.copy()
        if self.time_limit is not None:
            self.h.setOptionValue("time_limit", max(float(self.time_limit), 0.01))
        S = highspy.HighsModelStatus
        for presolve in ("choose", "off"):
            self.h.setOptionValue("presolve", presolve)
            self.h.run()
            status = self.h.getModelStatus()
            if status in (S.kOptimal, S.kModelEmpty):
                return True
            if status == S.kInfeasible:
                return False
            if status != S.kUnboundedOrInfeasible:  # time limit, numerical trouble
                return True if self.h.getInfo().primal_solution_status == 2 else None
        return False  # zero objective: never unbounded


def origin_names(f, lf=None) -> dict[str, str]:
    """Linearized constraint name -> original formulation constraint name.

    `lf` is `linearize(f)`. Each template emits a known number of comparisons, in order
    (either_or: 1 or 2 per alternative, if_then: 1 or 2, semi_continuous: 2, others 1), so
    the two constraint lists are walked side by side; names are only a fallback.
    """
    from ..core import expr as E
    from ..core.templates import linearize

    def n_relaxed(text: str) -> int:
        return 2 if E.parse_comparison(text).op == "==" else 1

    def count(c) -> int:
        if c.template == "either_or":
            return n_relaxed(c.slots.first) + n_relaxed(c.slots.second)
        if c.template == "if_then":
            return n_relaxed(c.slots.then)
        return 2 if c.template == "semi_continuous" else 1

    if lf is None:
        lf = linearize(f)
    try:
        counts = [count(c) for c in f.constraints]
    except Exception:  # unparsable slot: the formulation was not valid
        counts = []
    out: dict[str, str] = {}
    if sum(counts) == len(lf.constraints):
        k = 0
        for c, n in zip(f.constraints, counts):
            group = lf.constraints[k:k + n]
            k += n
            if not all(g.source == c.source and g.forall == c.forall and g.name.startswith(c.name[:40]) for g in group):
                out = {}
                break
            out.update({g.name: c.name for g in group})
    if out:
        return out
    names = {c.name for c in f.constraints}  # fallback: by name
    return {g.name: origin_of(g.name, {n: n for n in names}) for g in lf.constraints}


def origin_of(name: str, origins: dict[str, str]) -> str:
    """The original name of a linearized constraint: from `origins`, else by its suffix."""
    if name in origins:
        return origins[name]
    name = re.sub(r"_\d+$", "", name)  # de-duplicated names: eo_first_2
    for s in ("_first_le", "_first_ge", "_second_le", "_second_ge", "_first", "_second", "_min", "_max", "_le", "_ge"):
        if name.endswith(s) and name[: -len(s)] in origins.values():
            return name[: -len(s)]
    return name


def find_iis(lm: LinearModel, origins: dict[str, str] | None = None, time_limit: float = 60.0
             ) -> tuple[list[IISMember] | None, str]:
    """An irreducible infeasible set of named constraints, and a note ("" when complete).

    Returns (None, why) when the model is not infeasible to HiGHS or nothing could be decided.
    """
    np = __import__("numpy")
    origins = origins or {}
    start = time.monotonic()
    left = lambda: time_limit - (time.monotonic() - start)  # noqa: E731

    groups: dict[str, list[int]] = {}
    for k, r in enumerate(lm.rows):
        groups.setdefault(origin_of(r.constraint, origins), []).append(k)
    oracle = FeasibilityOracle(lm, time_limit=left())

    def check(active) -> bool | None:
        if left() <= 0:
            return None
        oracle.time_limit = left()
        return oracle.feasible(active)

    full = np.ones(len(lm.rows), dtype=bool)
    verdict = check(full)
    if verdict is not False:
        return None, "HiGHS does not confirm the infeasibility" if verdict else "no IIS: time limit"

    none = np.zeros(len(lm.rows), dtype=bool)
    if check(none) is False:  # the variable bounds alone clash
        bad = [c for c in lm.columns if c.lower > c.upper]
        by_var: dict[str, list[str]] = {}
        for c in bad:
            by_var.setdefault(c.key[0], []).append(c.label)
        members = [IISMember(f"bounds of {v}", "", labels) for v, labels in by_var.items()]
        return members, "" if members else "the variable bounds and integrality alone are infeasible"

    # group-level deletion filter; big groups are tried first, so small ones tend to make the IIS
    active = full.copy()
    note = ""
    kept: list[str] = []
    for name, rows in sorted(groups.items(), key=lambda g: -len(g[1])):
        active[rows] = False
        verdict = check(active)
        if verdict is False:
            continue  # not needed
        active[rows] = True
        kept.append(name)
        if verdict is None:
            note = "IIS may not be irreducible (time limit)"

    # row-level filter inside the kept groups
    kept_rows = np.nonzero(active)[0]
    if not note and 0 < len(kept_rows) <= MAX_ROWS_REFINED:
        group_of = {k: name for name in kept for k in groups[name]}
        for k in kept_rows:
            if active[groups[group_of[k]]].sum() <= 1:
                continue  # the last row of a needed group is needed
            active[k] = False
            verdict = check(active)
            if verdict is not False:
                active[k] = True
                if verdict is None:
                    note = "rows of the IIS may not be minimal (time limit)"
                    break

    members = [
        IISMember(name, lm.sources.get(lm.rows[rows[0]].constraint, ""), [lm.rows[k].label for k in rows if active[k]])
        for name, rows in groups.items() if name in kept
    ]
    return members, note

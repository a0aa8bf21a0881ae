"""Irreducible infeasible subsystems, reported by formulation constraint.

A deletion filter over *named constraint groups*: every original formulation
constraint (all rows of all its linearized pieces) is one group. Drop a group; if
the rest is still infeasible the group is not needed, otherwise it stays. What
remains is irreducible at the level users think in (their named constraints), and
works for LPs and MILPs alike. Rows inside the kept groups are then filtered the
same way (small models only) to name the instances that clash, e.g. `demand[3]`.

Variable bounds are held fixed while constraints are filtered; afterwards a second deletion
filter, over the bounds of the variables in the kept rows (by variable, then by side, then by
column on small models), names the bounds that take part as `bounds of x` members, so an IIS
such as `x >= 12` against the declared `x <= 10` is not reported as one lone constraint.
Binaries' [0, 1] bounds are their domain: never relaxed, never reported.

Feasibility checks use highspy directly on the flat `LinearModel` (zero objective; the
model is built by `highs_direct.highs_model`, as for the default `highs` backend),
toggling rows (and columns' bounds) by freeing their bounds, so no model is rebuilt between checks.
"""

from __future__ import annotations

import math
import re
import time

from .highs_direct import highs_model, row_bounds
from .linear_model import LinearModel
from .result import IISMember

MAX_ROWS_REFINED = 300  # row-level filter only when the kept groups have at most this many rows
MAX_BOUNDS_REFINED = 300  # column-level bound filter only when the needed variables have at most this many bounds
MAX_BOUNDS_NAMED = 10  # bounds named one by one in a `bounds of` member; the rest are counted


class FeasibilityOracle:
    """Is the model feasible with only these rows active?  True / False / None (undecided)."""

    def __init__(self, lm: LinearModel, time_limit: float | None = None):
        import numpy as np

        self.h = highs_model(lm, objective=False)
        self.lo, self.hi = row_bounds(lm)
        self.active = np.ones(lm.n_rows, dtype=bool)
        self.col_lo = lm.col_lower.copy()  # as declared
        self.col_hi = lm.col_upper.copy()
        self.cur_lo, self.cur_hi = self.col_lo.copy(), self.col_hi.copy()  # as HiGHS has them now
        self.time_limit = time_limit
        self.np = np

    def set_col_bounds(self, lo, hi) -> None:
        """Give the columns these bounds (only the changed ones are passed to HiGHS)."""
        np = self.np
        lo, hi = np.asarray(lo, dtype=float), np.asarray(hi, dtype=float)
        changed = np.nonzero((lo != self.cur_lo) | (hi != self.cur_hi))[0]
        if len(changed):
            self.h.changeColsBounds(len(changed), changed.astype(np.int32), lo[changed].copy(), hi[changed].copy())
            self.cur_lo, self.cur_hi = lo.copy(), hi.copy()

    def restore_col_bounds(self) -> None:
        self.set_col_bounds(self.col_lo, self.col_hi)

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


class Origins(dict):
    """Linearized constraint name -> original name, plus where each variable's bounds come from.

    `bounds[variable][side]` (side: lower / upper) says in words where a bound is declared, e.g.
    "variables declaration" or "parameter cap in the variables declaration"; `find_iis` uses it
    to describe the bounds it names.
    """

    def __init__(self, *args, bounds: dict[str, dict[str, str]] | None = None, **kw):
        super().__init__(*args, **kw)
        self.bounds = bounds or {}


def bound_origins(f) -> dict[str, dict[str, str]]:
    """Variable name -> {"lower"/"upper": where that bound comes from, in words}."""
    out: dict[str, dict[str, str]] = {}
    for v in getattr(f, "variables", []):
        sides = {}
        for side in ("lower", "upper"):
            raw = getattr(v, side, None)
            if raw is None:
                continue
            if isinstance(raw, str):
                sides[side] = f"parameter {raw} in the variables declaration"
            elif side in getattr(v, "model_fields_set", {side}):
                sides[side] = "variables declaration"
                if v.domain == "integer" and not float(raw).is_integer():
                    sides[side] += f": {_number(raw)}, rounded {'up' if side == 'lower' else 'down'} for an integer"
            else:
                sides[side] = f"the default {side} bound: not set in the variables declaration"
        out[v.name] = sides
    return out


def origin_names(f, lf=None) -> Origins:
    """Linearized constraint name -> original formulation constraint name.

    `lf` is `linearize(f)`. Each template emits a known number of comparisons, in order
    (either_or: 1 or 2 per alternative, if_then: 1 or 2, semi_continuous: 2, others 1), so
    the two constraint lists are walked side by side; names are only a fallback. The result
    also carries `bounds` (see `Origins`), for the bounds an IIS names.
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
    bounds = bound_origins(lf)
    if out:
        return Origins(out, bounds=bounds)
    names = {c.name for c in f.constraints}  # fallback: by name
    return Origins({g.name: origin_of(g.name, {n: n for n in names}) for g in lf.constraints}, bounds=bounds)


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

    The constraint members come first; then one `bounds of <variable>` member per variable whose
    bounds take part (see `needed_bounds`), described with `origins.bounds` when `origins` is
    an `Origins` (as `origin_names` returns).

    Returns (None, why) when the model is not infeasible to HiGHS or nothing could be decided.
    """
    np = __import__("numpy")
    declared = getattr(origins, "bounds", None) or {}
    origins = origins or {}
    start = time.monotonic()
    left = lambda: time_limit - (time.monotonic() - start)  # noqa: E731

    groups: dict[str, list[int]] = {}
    for b in lm.row_blocks:
        groups.setdefault(origin_of(b.name, origins), []).extend(range(b.start, b.stop))
    oracle = FeasibilityOracle(lm, time_limit=left())

    def check(active) -> bool | None:
        if left() <= 0:
            return None
        oracle.time_limit = left()
        return oracle.feasible(active)

    full = np.ones(lm.n_rows, dtype=bool)
    verdict = check(full)
    if verdict is not False:
        return None, "HiGHS does not confirm the infeasibility" if verdict else "no IIS: time limit"

    none = np.zeros(lm.n_rows, dtype=bool)
    if check(none) is False:  # the variable bounds alone clash
        bad = [(j, side) for j in np.flatnonzero(lm.col_lower > lm.col_upper).tolist() for side in ("lower", "upper")]
        members = bound_members(lm, bad, declared)
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
    needed, bound_note = needed_bounds(lm, oracle, check, active)
    note = "; ".join(n for n in (note, bound_note) if n)
    return members + bound_members(lm, needed, declared), note


def needed_bounds(lm: LinearModel, oracle: FeasibilityOracle, check, active) -> tuple[list[tuple[int, str]], str]:
    """The finite bounds (column, "lower"/"upper") the rows `active` need to stay infeasible, and a note.

    A deletion filter: relax a unit of bounds (to -inf / inf; integrality stays); if the model
    stays infeasible the unit is not needed and stays relaxed, else it is restored. Units are
    all bounds of one formulation variable, then (inside the needed variables) one side, then,
    on small models, one column's side. Binaries' bounds are their domain and are left alone.
    The oracle's column bounds are restored at the end.
    """
    np = oracle.np
    cols = sorted({j for k in np.nonzero(active)[0] for j in lm.rows[k].coefs})
    entries = [(j, side) for j in cols if lm.columns[j].domain != "binary"
               for side in ("lower", "upper") if math.isfinite(getattr(lm.columns[j], side))]
    if not entries:
        return [], ""
    relaxed: set[tuple[int, str]] = set()

    def test(extra) -> bool | None:
        lo, hi = oracle.col_lo.copy(), oracle.col_hi.copy()
        for j, side in relaxed | set(extra):
            if side == "lower":
                lo[j] = -math.inf
            else:
                hi[j] = math.inf
        oracle.set_col_bounds(lo, hi)
        return check(active)

    note = ""

    def deletion_filter(units: list[list[tuple[int, str]]], parent_of: list[int] | None = None):
        """Relax unit by unit; the needed ones are returned. The last unrelaxed unit of a parent is needed."""
        nonlocal note
        left_in = {}
        if parent_of is not None:
            for p in parent_of:
                left_in[p] = left_in.get(p, 0) + 1
        kept = []
        for i, unit in enumerate(units):
            if parent_of is not None and left_in[parent_of[i]] <= 1:
                kept.append(unit)
                continue
            verdict = test(unit)
            if verdict is False:
                relaxed.update(unit)
                if parent_of is not None:
                    left_in[parent_of[i]] -= 1
                continue
            kept.append(unit)
            if verdict is None:
                note = "bounds of the IIS may not be minimal (time limit)"
        return kept

    try:
        verdict = test(entries)
        if verdict is False:  # infeasible with every bound relaxed: no bound is needed
            return [], ""
        if verdict is None:
            return sorted(entries), "the bounds taking part were not determined (time limit)"
        by_var: dict[str, list[tuple[int, str]]] = {}
        for e in entries:
            by_var.setdefault(lm.columns[e[0]].key[0], []).append(e)
        kept = deletion_filter(sorted(by_var.values(), key=len, reverse=True))
        if not note:  # each needed variable: its lower and its upper bounds apart
            units, parents = [], []
            for p, unit in enumerate(kept):
                for side in ("lower", "upper"):
                    part = [e for e in unit if e[1] == side]
                    if part:
                        units.append(part)
                        parents.append(p)
            kept = deletion_filter(units, parents)
        if not note and sum(len(u) for u in kept) <= MAX_BOUNDS_REFINED:  # each column's side
            units, parents = [], []
            for p, unit in enumerate(kept):
                units += [[e] for e in unit]
                parents += [p] * len(unit)
            deletion_filter(units, parents)
        return sorted(e for e in entries if e not in relaxed), note
    finally:
        oracle.restore_col_bounds()


def bound_members(lm: LinearModel, bounds, declared: dict[str, dict[str, str]] | None = None) -> list[IISMember]:
    """One `bounds of <variable>` member per variable, in column order, its source naming each bound.

    `bounds` holds (column, "lower"/"upper") pairs; `declared` says where each variable's bounds
    come from (see `bound_origins`). An indexed variable's bounds are named per (index, side):
    "lower bound 0 of z[a] and upper bound 3 of z[b] (variables declaration)".
    """
    declared = declared or {}
    by_var: dict[str, list[tuple[int, str]]] = {}
    for j, side in sorted(set(bounds), key=lambda p: (p[0], p[1] != "lower")):
        by_var.setdefault(lm.columns[j].key[0], []).append((j, side))
    members = []
    for var, pairs in by_var.items():
        indexed = any(lm.columns[j].key[1] for j, _ in pairs)
        parts = []  # (text, origin)
        for j, side in pairs:
            what = lm.columns[j].label if indexed else f"variable {var}"
            parts.append((f"{side} bound {_number(getattr(lm.columns[j], side))} of {what}",
                          declared.get(var, {}).get(side, "")))
        if len(parts) > MAX_BOUNDS_NAMED:
            parts = parts[:MAX_BOUNDS_NAMED] + [(f"{len(parts) - MAX_BOUNDS_NAMED} more", parts[-1][1])]
        origins = {o for _, o in parts}
        if len(origins) == 1:
            origin = origins.pop()
            source = " and ".join(t for t, _ in parts) + (f" ({origin})" if origin else "")
        else:
            source = "; ".join(t + (f" ({o})" if o else "") for t, o in parts)
        labels = [lm.columns[j].label for j in sorted({j for j, _ in pairs})]
        members.append(IISMember(f"bounds of {var}", source, labels))
    return members


def _number(v: float) -> str:
    return str(int(v)) if float(v).is_integer() and abs(v) < 1e15 else f"{v:.10g}"

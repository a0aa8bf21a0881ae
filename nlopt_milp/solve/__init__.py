"""Solve a formulation: Formulation -> LinearModel -> solver -> SolveResult.

HiGHS (the default) and OR-Tools take the LinearModel directly; `highs-pyomo` goes
LinearModel -> Pyomo model -> Pyomo's HiGHS interface (the route of exported Pyomo scripts).

Importing this package is cheap: Pyomo, highspy and OR-Tools are imported only
when a solve runs (the CLI's `--help` must not pay for them).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from ..core.ground import BuildTimeout
from ..core.model import recall
from ..core.size import size_issues
from ..core.templates import linearize_nodes
from .backends import SOLVERS, Options, run
from .explain import explain_binding
from .iis import find_iis, origin_names
from .linear_model import LinearModel, to_linear_model
from .precheck import precheck
from .result import IISMember, SolveResult

__all__ = [
    "SOLVERS", "Agreement", "IISMember", "LinearModel", "SolveResult", "check_agreement", "compare",
    "explain_binding", "solve", "solve_linear", "to_linear_model",
]

TRIVIAL_TOL = 1e-9
IIS_TIME_LIMIT = 60.0


def solve(f, solver: str = "highs", time_limit: float | None = None, mip_gap: float | None = None,
          threads: int | None = None, iis: bool = True, max_terms: int | None = None,
          log: bool = False) -> SolveResult:
    """Solve a valid formulation. Never raises for solver trouble: status "error" instead.

    solver: "highs" (default: HiGHS directly via highspy), "highs-pyomo" (the Pyomo model
    solved through Pyomo's HiGHS interface; same results, slower), "ortools" (CP-SAT for pure
    bounded integer models, else SCIP for MILPs and GLOP for LPs), or one of "ortools-scip",
    "ortools-glop", "ortools-pdlp", "ortools-cpsat". With `iis`, an infeasible result names
    the clashing constraints. `time_limit` covers building the model as well as solving it
    (a build that overruns it gives status "time_limit"); a model above `max_terms` terms
    (default `core.size.DEFAULT_MAX_TERMS`) is not built; with `log`, the solver's own log goes to stderr.
    """
    start = time.perf_counter()
    t0 = time.monotonic()
    deadline = t0 + time_limit if time_limit is not None else None
    try:
        too_big = size_issues(f, max_terms)
        if too_big:
            return SolveResult("error", solver=solver, seconds=time.perf_counter() - start,
                               message="the model is too large to build: " + "; ".join(f"{p}: {m}" for p, m in too_big))
        kept = recall(f)  # grounded by `check` already: that build counts against the time limit
        lin, lm = kept if kept is not None else (None, None)
        if lm is not None and deadline is not None:
            deadline -= lm.build_seconds
            if time.monotonic() > deadline:
                raise BuildTimeout("building the model took longer than the time limit")
        if lm is None:
            lin = linearize_nodes(f, deadline)
            lm = to_linear_model(lin, deadline=deadline)
        origins = origin_names(f, lin.formulation)
    except BuildTimeout:
        return SolveResult("time_limit", solver=solver, seconds=time.perf_counter() - start,
                           message=f"building the model took longer than the time limit of {time_limit:g} s; "
                                   "nothing was solved (raise --time-limit or make the model smaller)")
    except Exception as e:  # grounding trouble on a formulation that slipped past validation
        return SolveResult("error", solver=solver, seconds=time.perf_counter() - start,
                           message=f"cannot build the model: {_short(e)}")
    if time_limit is not None:  # what the build left of the time limit goes to the solver
        time_limit = max(deadline - time.monotonic(), 1e-3)
    res = solve_linear(lm, solver, time_limit=time_limit, mip_gap=mip_gap, threads=threads, iis=iis,
                       origins=origins, log=log)
    res.seconds = round(time.perf_counter() - start, 6)
    _split_time(res)
    return res


def _split_time(res: SolveResult) -> None:
    """build_seconds: everything but the solver's run and the IIS search (templates, grounding, imports,
    the solver's model); solve_seconds: the solver's run (a backend that does not time it apart: its call)."""
    if res.solve_seconds is None:
        res.solve_seconds = 0.0
    res.build_seconds = round(max(res.seconds - res.solve_seconds - (res.iis_seconds or 0.0), 0.0), 6)


def solve_linear(lm: LinearModel, solver: str = "highs", time_limit: float | None = None,
                 mip_gap: float | None = None, threads: int | None = None, iis: bool = True,
                 origins: dict[str, str] | None = None, log: bool = False) -> SolveResult:
    """Solve a flat linear model (see `solve`); `origins` maps linearized to original constraint names."""
    if solver not in SOLVERS:
        return SolveResult("error", solver=solver, message=f"unknown solver {solver!r}; choose one of {', '.join(SOLVERS)}")
    trivial = _trivial(lm, solver, origins or {}) or precheck(lm, solver, origins)
    if trivial is not None:
        return trivial
    try:
        res = run(lm, solver, Options(time_limit, mip_gap, threads, log=log))
    except Exception as e:
        return SolveResult("error", solver=solver, message=f"{solver} failed: {_short(e)}")
    if res.solve_seconds is None:  # the backend did not time its run apart from its model: its whole call
        res.solve_seconds = res.seconds
    if res.status == "infeasible" and iis:
        started = time.perf_counter()
        try:
            limit = min(IIS_TIME_LIMIT, time_limit) if time_limit else IIS_TIME_LIMIT
            members, note = find_iis(lm, origins, time_limit=limit)
            res.iis = members
            if note:
                res.message += f"; {note}"
        except Exception as e:
            res.message += f"; no IIS: {_short(e)}"
        res.iis_seconds = round(time.perf_counter() - started, 6)
    return res


def _trivial(lm: LinearModel, solver: str, origins: dict[str, str]) -> SolveResult | None:
    """Rows without variables that are violated (`0 <= -1`), and models without variables."""
    from .iis import origin_of

    import numpy as np

    empty = lm.indptr[:-1] == lm.indptr[1:]
    tol = TRIVIAL_TOL
    holds = np.where(lm.row_sense == 0, lm.rhs >= -tol, np.where(lm.row_sense == 1, lm.rhs <= tol, np.abs(lm.rhs) <= tol))
    bad = [lm.row(k) for k in np.flatnonzero(empty & ~holds).tolist()]
    if bad:
        groups: dict[str, IISMember] = {}
        for r in bad:
            name = origin_of(r.constraint, origins)
            groups.setdefault(name, IISMember(name, lm.sources.get(r.constraint, ""))).rows.append(r.label)
        return SolveResult("infeasible", solver=solver, iis=list(groups.values()),
                           message="a constraint without variables is violated: " + ", ".join(groups))
    if not lm.n_cols:
        return SolveResult("optimal", objective=lm.objective_constant, solver=solver, message="no variables",
                           gap=None, slacks={label: 0.0 for label in lm.row_labels()})
    return None


def _short(e: Exception, limit: int = 300) -> str:
    text = f"{type(e).__name__}: {e}".strip()
    text = text.splitlines()[0] if text else type(e).__name__
    return text if len(text) <= limit else text[: limit - 3] + "..."


# --- agreement -------------------------------------------------------------------------

@dataclass
class Agreement:
    results: dict[str, SolveResult] = field(default_factory=dict)
    agree: bool = False
    message: str = ""

    def to_json(self) -> dict:
        return {"agree": self.agree, "message": self.message,
                "results": {k: r.to_json() for k, r in self.results.items()}}


def check_agreement(f, solvers: tuple[str, ...] = ("highs", "ortools"), rel_tol: float = 1e-6,
                    abs_tol: float = 1e-6, **opts) -> Agreement:
    """Solve with several backends and compare status and objective.

    Options (`time_limit`, `mip_gap`, `threads`, `iis`) go to every solve; with a `mip_gap`
    objectives only need to agree within that gap.
    """
    opts.setdefault("iis", False)
    results = {s: solve(f, solver=s, **opts) for s in solvers}
    agree, message = compare(results, rel_tol=max(rel_tol, opts.get("mip_gap") or 0.0), abs_tol=abs_tol)
    return Agreement(results, agree, message)


def compare(results: dict[str, SolveResult], rel_tol: float = 1e-6, abs_tol: float = 1e-6) -> tuple[bool, str]:
    """Same status (optimal and feasible count as one) and objectives within tolerance."""
    items = list(results.items())
    (n0, r0), rest = items[0], items[1:]
    for n, r in rest:
        if r.status != r0.status and not (r.has_solution and r0.has_solution):
            return False, f"status differs: {n0} {r0.status}, {n} {r.status}"
        if r0.objective is not None or r.objective is not None:
            a, b = r0.objective, r.objective
            if a is None or b is None or abs(a - b) > max(abs_tol, rel_tol * max(abs(a), abs(b))):
                return False, f"objective differs: {n0} {a}, {n} {b}"
    shown = f", objective {r0.objective:.10g}" if r0.objective is not None else ""
    return True, f"{' and '.join(results)} agree: {r0.status}{shown}"

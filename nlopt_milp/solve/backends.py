"""Solver backends: HiGHS (directly via highspy, or through Pyomo) and OR-Tools (SCIP, GLOP, PDLP, CP-SAT).

Each backend takes the flat `LinearModel` and returns a raw `SolveResult` (no IIS);
`finish` turns a solver's column values into the common result (clean values,
objective with its constant, slacks). Solver libraries are imported inside functions.

`highs` passes the LinearModel straight to highspy (`highs_direct.highs_model`);
`highs-pyomo` builds the Pyomo model (`to_pyomo`, as the exported scripts do) and
solves it through Pyomo's HiGHS interface. Both give the same results; the direct
route skips the Pyomo model and interface, which cost far more than HiGHS itself on
small models.

Conventions shared by all backends:
- duals are d(objective)/d(rhs) of the row as written (`coefs . x  sense  rhs`),
  in the problem's own sense (max or min) - checked by perturbation in the tests;
- slacks are rhs - activity for <=, activity - rhs for >=, and that for ==; >= 0 when satisfied;
- "infeasible or unbounded" is settled by a feasibility solve with a zero objective.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from fractions import Fraction

from .linear_model import LinearModel
from .result import SolveResult
from .verify import clean_point, rejection, violations

SOLVERS = ("highs", "highs-pyomo", "ortools", "ortools-scip", "ortools-glop", "ortools-pdlp", "ortools-cpsat")
PROVEN_GAP, ABS_GAP = 1e-4, 1e-6  # the solvers' default MIP gaps: within either, a result counts as optimal


@dataclass
class Options:
    time_limit: float | None = None  # seconds
    mip_gap: float | None = None  # relative
    threads: int | None = None
    log: bool = False  # the solver's own log, to stderr


def run(lm: LinearModel, solver: str, opts: Options) -> SolveResult:
    """Dispatch to a backend by name (see SOLVERS)."""
    if solver == "highs":
        return solve_highs(lm, opts)
    if solver == "highs-pyomo":
        return solve_highs_pyomo(lm, opts)
    if solver == "ortools" or solver.startswith("ortools-"):
        return solve_ortools(lm, opts, engine=solver.partition("-")[2] or "auto")
    raise ValueError(f"unknown solver {solver!r}; choose one of {', '.join(SOLVERS)}")


# --- shared -------------------------------------------------------------------------

def activity(row, x) -> float:
    return sum(c * x[j] for j, c in row.coefs.items())


def slack(row, x) -> float:
    a = activity(row, x)
    return a - row.rhs if row.sense == ">=" else row.rhs - a


def objective_value(lm: LinearModel, x) -> float:
    import numpy as np

    nz = np.flatnonzero(lm.cost)
    return lm.objective_constant + math.fsum((lm.cost[nz] * np.asarray(x, dtype=float)[nz]).tolist())


def relative_gap(obj: float | None, bound: float | None) -> float | None:
    if obj is None or bound is None or not math.isfinite(bound):
        return None
    diff = abs(obj - bound)
    return 0.0 if diff <= 1e-12 else diff / max(abs(obj), 1e-10)


def finish(lm: LinearModel, status: str, raw, solver: str, seconds: float, message: str,
           bound: float | None = None, duals: list[float] | None = None) -> SolveResult:
    """The common result; `raw` are column values (or None when there is no solution)."""
    res = SolveResult(status=status, solver=solver, seconds=round(seconds, 6), message=message)
    if raw is None or status not in ("optimal", "feasible"):
        return res
    import numpy as np

    raw = np.asarray(raw, dtype=float)
    labels = lm.column_labels()
    res.raw_values = dict(zip(labels, (raw + 0.0).tolist()))
    found = violations(lm, raw)
    if found:  # never report a point that breaks the model (see verify.py)
        res.status, res.message = "error", f"{message}; {rejection(solver, found)}"
        return res
    x, note = clean_point(lm, raw)
    if note:
        res.message += f"; {note}"
    res.values = dict(zip(labels, x))
    res.objective = objective_value(lm, x)
    if lm.is_mip:
        res.gap = relative_gap(res.objective, bound)
        if res.gap is None and status == "optimal":
            res.gap = 0.0
        if status == "optimal" and res.gap is not None and res.gap > PROVEN_GAP and abs(res.objective - bound) > ABS_GAP:
            res.status = "feasible"  # stopped at the requested gap: not proven optimal
            res.message += f"; stopped at gap {res.gap:.3g}"
    else:
        rows = lm.row_labels()
        sl = lm.slacks(x)
        sl = np.where(np.abs(sl) <= 1e-9 * np.maximum(1.0, np.abs(lm.rhs)), 0.0, sl) + 0.0
        res.slacks = dict(zip(rows, sl.tolist()))
        if duals is not None:
            d = np.asarray(duals, dtype=float)
            d = np.where(np.abs(d) <= 1e-9, 0.0, d) + 0.0
            res.duals = dict(zip(rows, d.tolist()))
    return res


def _inside(col) -> float:
    """A value for a column no row or objective uses: 0 moved inside its bounds."""
    return min(max(0.0, col.lower), col.upper)


def _zero(v: float, scale: float = 0.0) -> float:
    return 0.0 if abs(v) <= 1e-9 * max(1.0, abs(scale)) else v


def error(solver: str, message: str, seconds: float = 0.0) -> SolveResult:
    return SolveResult(status="error", solver=solver, seconds=round(seconds, 6), message=message)


def feasible_zero_objective(lm: LinearModel, time_limit: float | None) -> bool | None:
    """Settle 'infeasible or unbounded': is there any feasible point at all?"""
    from .iis import FeasibilityOracle

    import numpy as np

    return FeasibilityOracle(lm, time_limit=time_limit).feasible(np.ones(len(lm.rows), dtype=bool))


def _status(kind: str, has_solution: bool, message: str, lm: LinearModel, opts: Options, start: float
            ) -> tuple[str, str]:
    """Our status from a HiGHS verdict (optimal / infeasible / unbounded / either / time_limit / other)."""
    if kind in ("optimal", "infeasible", "unbounded"):
        return kind, message
    if kind == "either":  # HiGHS could not tell infeasible from unbounded even without presolve
        feasible = feasible_zero_objective(lm, _remaining(opts, start))
        status = {True: "unbounded", False: "infeasible", None: "error"}[feasible]
        return status, message + ("; settled by a feasibility solve" if feasible is not None else " (undecided)")
    if kind == "time_limit":
        return ("feasible" if has_solution else "time_limit"), message
    return ("feasible" if has_solution else "error"), message


def _remaining(opts: Options, start: float) -> float | None:
    if opts.time_limit is None:
        return None
    return max(opts.time_limit - (time.perf_counter() - start), 0.01)


# --- HiGHS ---------------------------------------------------------------------------------

import contextlib  # noqa: E402
import os  # noqa: E402
import sys  # noqa: E402


@contextlib.contextmanager
def stdout_to_stderr(on: bool):
    """Solvers print their logs to the C-level stdout; with `on`, send fd 1 to stderr meanwhile
    (stdout carries the answer, e.g. --json)."""
    if not on:
        yield
        return
    import ctypes

    sys.stdout.flush()
    saved = os.dup(1)
    try:
        os.dup2(2, 1)
        yield
    finally:
        ctypes.CDLL(None).fflush(None)  # C stdio buffers go out before fd 1 is restored
        os.dup2(saved, 1)
        os.close(saved)


@contextlib.contextmanager
def solver_log(h, on: bool):
    """With `on`, HiGHS logs its run to stderr."""
    if not on:
        yield
        return
    h.setOptionValue("output_flag", True)
    h.setOptionValue("log_to_console", True)
    try:
        with stdout_to_stderr(True):
            yield
    finally:
        h.setOptionValue("output_flag", False)


def _highs_threads(opts: Options) -> None:
    if opts.threads is not None:
        import highspy

        # HiGHS fixes its thread count when its global scheduler starts: restart it for this request
        highspy.Highs.resetGlobalScheduler(True)


SMALL_MIP_COLUMNS = 200


def solve_highs(lm: LinearModel, opts: Options) -> SolveResult:
    """HiGHS on the LinearModel directly (no Pyomo); the same results as `solve_highs_pyomo`."""
    start = time.perf_counter()
    try:
        import highspy
    except ImportError:
        return error("highs", "HiGHS (highspy) is not available")
    from .highs_direct import highs_model, used_columns

    _highs_threads(opts)
    h = highs_model(lm)
    if opts.threads is not None:
        h.setOptionValue("threads", int(opts.threads))
    if opts.mip_gap is not None:
        h.setOptionValue("mip_rel_gap", float(opts.mip_gap))
    if lm.n_cols <= SMALL_MIP_COLUMNS:
        # The feasibility-jump heuristic costs ~5 ms on every small MIP (knapsack example: 8.5 -> 3.4 ms)
        # and branch and bound finds their optimum at once anyway; it stays on for larger models.
        h.setOptionValue("mip_heuristic_run_feasibility_jump", False)

    ran = [0.0]  # seconds inside HiGHS's run(), apart from building the model

    def run_once():
        limit = _remaining(opts, start)
        if limit is not None:
            h.setOptionValue("time_limit", float(limit))
        t0 = time.perf_counter()
        with solver_log(h, opts.log):
            h.run()
        ran[0] += time.perf_counter() - t0
        return h.getModelStatus()

    S = highspy.HighsModelStatus
    code = run_once()
    if code == S.kUnboundedOrInfeasible:
        h.setOptionValue("presolve", "off")
        code = run_once()
    info = h.getInfo()
    has_feasible = info.primal_solution_status == 2  # 0: none, 1: infeasible, 2: feasible
    has_solution = code == S.kOptimal or has_feasible
    message = f"HiGHS: {h.modelStatusToString(code)}"  # HiGHS's own words, e.g. "Optimal"

    kind = {S.kOptimal: "optimal", S.kInfeasible: "infeasible", S.kUnbounded: "unbounded",
            S.kUnboundedOrInfeasible: "either", S.kTimeLimit: "time_limit"}.get(code, "other")
    status, message = _status(kind, has_solution, message, lm, opts, start)

    raw = duals = bound = None
    if status in ("optimal", "feasible"):
        sol = h.getSolution()
        if not sol.value_valid:
            return error("highs", message + "; no solution values", time.perf_counter() - start)
        import numpy as np

        used = used_columns(lm)  # a column nothing mentions: 0 moved inside its bounds, as for Pyomo
        raw = np.where(used, np.asarray(sol.col_value, dtype=float),
                       np.minimum(np.maximum(0.0, lm.col_lower), lm.col_upper))
        if not lm.is_mip and status == "optimal" and sol.dual_valid:
            duals = np.asarray(sol.row_dual)  # already d(objective)/d(row bound), in the problem's own sense
    if info.mip_node_count == -1:  # solved as an LP
        bound = info.objective_function_value if has_feasible and code == S.kOptimal else None
    else:
        bound = info.mip_dual_bound
    res = finish(lm, status, raw, "highs", time.perf_counter() - start, message, bound=bound, duals=duals)
    res.solve_seconds = round(ran[0], 6)
    return res


# --- HiGHS via Pyomo --------------------------------------------------------------------

def solve_highs_pyomo(lm: LinearModel, opts: Options) -> SolveResult:
    """HiGHS through Pyomo's HiGHS interface on the Pyomo model of `to_pyomo` (the exported scripts' route)."""
    from pyomo.contrib.solver.common.results import SolutionStatus, TerminationCondition as TC
    from pyomo.contrib.solver.solvers.highs import Highs

    from .pyomo_model import pyomo_map, to_pyomo

    start = time.perf_counter()
    model = to_pyomo(lm)
    pmap = pyomo_map(model)
    solver = Highs()
    if not solver.available():
        return error("highs-pyomo", "HiGHS (highspy) is not available")

    def run_once(**extra):
        return solver.solve(
            model, tee=False, load_solutions=False, raise_exception_on_nonoptimal_result=False,
            time_limit=_remaining(opts, start), rel_gap=opts.mip_gap, threads=opts.threads,
            solver_options={"output_flag": False, **extra},
        )

    _highs_threads(opts)
    res = run_once()
    tc = res.termination_condition
    if tc == TC.infeasibleOrUnbounded:
        res = run_once(presolve="off")
        tc = res.termination_condition
    has_solution = res.solution_status in (SolutionStatus.optimal, SolutionStatus.feasible)
    hm = getattr(solver, "_solver_model", None)  # the highspy.Highs inside Pyomo's interface
    message = f"HiGHS: {hm.modelStatusToString(hm.getModelStatus())}" if hm is not None else f"HiGHS: {tc.name}"

    kind = {TC.convergenceCriteriaSatisfied: "optimal", TC.provenInfeasible: "infeasible",
            TC.locallyInfeasible: "infeasible", TC.unbounded: "unbounded", TC.infeasibleOrUnbounded: "either",
            TC.maxTimeLimit: "time_limit"}.get(tc, "other")
    status, message = _status(kind, has_solution, message, lm, opts, start)

    raw = duals = None
    if status in ("optimal", "feasible"):
        values = res.solution_loader.get_vars()  # only variables the solver saw
        raw = [values[v] if v in values else _inside(col) for v, col in zip(pmap.columns, lm.columns)]
        if not lm.is_mip and status == "optimal":
            try:
                d = res.solution_loader.get_duals()
                duals = [d.get(c, 0.0) for c in pmap.rows]
            except Exception:  # no valid duals
                duals = None
    return finish(lm, status, raw, "highs-pyomo", time.perf_counter() - start, message,
                  bound=res.objective_bound, duals=duals)


# --- OR-Tools --------------------------------------------------------------------------

CPSAT_MAX = 2 ** 62  # CP-SAT needs every linear expression's range inside int64: keep a factor 2 of room
CPSAT_MAX_BOUND = 2 ** 53  # column bounds must be exact floats and ints alike


@dataclass
class CpsatModel:
    """The model in integers, exactly: rows (coefs, sense, rhs) and the objective times `objective_scale`."""

    rows: list[tuple[dict[int, int], str, int]]
    objective: dict[int, int]
    objective_scale: int  # the integer objective is `objective_scale` times the model's (constant apart)


def _decimal(a: float) -> Fraction:
    """The number as written: the shortest decimal that reads back as this float (0.1 -> 1/10)."""
    return Fraction(repr(a))


def _scaled(coefs: dict[int, float]) -> tuple[dict[int, int], int]:
    """Integer coefficients and the common denominator they were multiplied by (exact)."""
    fr = {j: _decimal(a) for j, a in coefs.items()}
    den = math.lcm(*(f.denominator for f in fr.values())) if fr else 1
    return {j: int(f * den) for j, f in fr.items()}, den


def _range(coefs: dict[int, int], lm: LinearModel) -> int:
    """Largest |value| the expression can take over the column bounds."""
    return sum(abs(a) * int(max(abs(lm.columns[j].lower), abs(lm.columns[j].upper))) for j, a in coefs.items())


def cpsat_model(lm: LinearModel) -> tuple[CpsatModel | None, str]:
    """The model in integers for CP-SAT, or (None, why not).

    Eligible: every column integer/binary with finite bounds below 2**53, and every row and the
    objective representable exactly in int64 after multiplying by the common denominator of its
    (decimal) coefficients, with room for the largest value over the bounds. An inequality's
    rhs is then rounded inward (exact: the left side is an integer); an equation with a
    fractional rhs has no integer solution and is written `0 == 1`.
    """
    for c in lm.columns:
        if c.domain == "continuous":
            return None, f"variable {c.label} is continuous"
        if not (abs(c.lower) <= CPSAT_MAX_BOUND and abs(c.upper) <= CPSAT_MAX_BOUND):
            return None, f"variable {c.label} has a bound beyond 2**53 (or none)"
    numbers = [a for r in lm.rows for a in (*r.coefs.values(), r.rhs)] + list(lm.objective.values())
    if not all(math.isfinite(a) for a in numbers):
        return None, "a coefficient or right-hand side is not finite"
    rows = []
    for r in lm.rows:
        coefs, den = _scaled(r.coefs)
        rhs = _decimal(r.rhs) * den
        if _range(coefs, lm) + abs(rhs) >= CPSAT_MAX:
            return None, f"row {r.label} does not fit in 64-bit integers after scaling"
        if rhs.denominator != 1:
            if r.sense == "==":
                coefs, rhs = {}, Fraction(1)  # never holds: 0 == 1
            else:
                rhs = math.floor(rhs) if r.sense == "<=" else math.ceil(rhs)
        rows.append((coefs, r.sense, int(rhs)))
    objective, scale = _scaled(lm.objective)
    if _range(objective, lm) >= CPSAT_MAX:
        return None, "the objective does not fit in 64-bit integers after scaling"
    return CpsatModel(rows, objective, scale), ""


def solve_ortools(lm: LinearModel, opts: Options, engine: str = "auto") -> SolveResult:
    if engine == "auto":
        # CP-SAT only for what it represents exactly; the rest goes to SCIP (MILP) or GLOP (LP)
        engine = "cpsat" if lm.columns and cpsat_model(lm)[0] is not None else ("scip" if lm.is_mip else "glop")
    name = f"ortools-{engine}"
    if engine == "cpsat":
        return _solve_cpsat(lm, opts)
    if engine not in ("scip", "glop", "pdlp"):
        raise ValueError(f"unknown OR-Tools engine {engine!r}; use scip, glop, pdlp or cpsat")
    if engine in ("glop", "pdlp") and lm.is_mip:
        return error(name, f"{engine.upper()} solves LPs only; this model has integer variables (use ortools-scip)")
    return _solve_mpsolver(lm, opts, engine)


def _solve_mpsolver(lm: LinearModel, opts: Options, engine: str, zero_objective: bool = False) -> SolveResult:
    from ortools.linear_solver import pywraplp

    name = f"ortools-{engine}"
    start = time.perf_counter()
    solver = pywraplp.Solver.CreateSolver(engine.upper())
    if solver is None:
        return error(name, f"OR-Tools has no {engine.upper()} solver in this build")
    solver.EnableOutput() if opts.log else solver.SuppressOutput()
    inf = solver.infinity()
    xs = []
    for c in lm.columns:
        lo = c.lower if math.isfinite(c.lower) else -inf
        hi = c.upper if math.isfinite(c.upper) else inf
        xs.append(solver.IntVar(lo, hi, c.label) if c.domain != "continuous" else solver.NumVar(lo, hi, c.label))
    cons = []
    for r in lm.rows:
        lo = r.rhs if r.sense in (">=", "==") else -inf
        hi = r.rhs if r.sense in ("<=", "==") else inf
        ct = solver.Constraint(lo, hi, r.label)
        for j, a in r.coefs.items():
            ct.SetCoefficient(xs[j], a)
        cons.append(ct)
    obj = solver.Objective()
    if not zero_objective:
        for j, a in lm.objective.items():
            obj.SetCoefficient(xs[j], a)
        obj.SetOffset(lm.objective_constant)
    obj.SetMaximization() if lm.sense == "maximize" else obj.SetMinimization()
    if opts.time_limit is not None:
        solver.SetTimeLimit(max(int(opts.time_limit * 1000), 1))
    if opts.threads is not None and engine == "scip":
        solver.SetNumThreads(int(opts.threads))
    params = pywraplp.MPSolverParameters()
    if opts.mip_gap is not None and lm.is_mip:
        params.SetDoubleParam(pywraplp.MPSolverParameters.RELATIVE_MIP_GAP, float(opts.mip_gap))
    with stdout_to_stderr(opts.log):
        code = solver.Solve(params)
    seconds = time.perf_counter() - start
    S = pywraplp.Solver
    names = {S.OPTIMAL: "OPTIMAL", S.FEASIBLE: "FEASIBLE", S.INFEASIBLE: "INFEASIBLE", S.UNBOUNDED: "UNBOUNDED",
             S.ABNORMAL: "ABNORMAL", S.NOT_SOLVED: "NOT_SOLVED", S.MODEL_INVALID: "MODEL_INVALID"}
    message = f"OR-Tools {engine.upper()}: {names.get(code, code)}"
    timed_out = opts.time_limit is not None and seconds >= 0.95 * opts.time_limit
    if code == S.OPTIMAL:
        status = "optimal"
    elif code == S.FEASIBLE:
        status = "feasible"
    elif code == S.INFEASIBLE:
        status = "infeasible"
        if not zero_objective:
            # MPSolver reports SCIP's and GLOP's "infeasible or unbounded" as INFEASIBLE: look for any point
            probe = _solve_mpsolver(lm, Options(opts.time_limit, None, opts.threads), engine, zero_objective=True)
            if probe.status in ("optimal", "feasible"):
                status, message = "unbounded", message + "; a feasible point exists, so unbounded"
    elif code == S.UNBOUNDED:
        status = "unbounded"
    elif code == S.NOT_SOLVED and timed_out:
        status = "time_limit"
    else:
        status = "error"
        if engine == "pdlp" and code == S.NOT_SOLVED:  # what PDLP says of unbounded LPs
            message += " (no verdict; the LP may be unbounded: try highs or ortools-glop)"
    raw = duals = None
    if status in ("optimal", "feasible"):
        raw = [x.solution_value() for x in xs]
        if engine in ("glop", "pdlp") and status == "optimal":
            duals = [c.dual_value() for c in cons]
    bound = solver.Objective().BestBound() if lm.is_mip and status in ("optimal", "feasible") else None
    return finish(lm, status, raw, name, seconds, message, bound=bound, duals=duals)


def _solve_cpsat(lm: LinearModel, opts: Options) -> SolveResult:
    from ortools.sat.python import cp_model

    start = time.perf_counter()
    cm, why = cpsat_model(lm)
    if cm is None:
        return error("ortools-cpsat", f"CP-SAT cannot represent this model exactly ({why}); use ortools or ortools-scip")
    model = cp_model.CpModel()
    xs = [model.NewIntVar(int(c.lower), int(c.upper), c.label) for c in lm.columns]
    for coefs, sense, rhs in cm.rows:
        expr = cp_model.LinearExpr.WeightedSum([xs[j] for j in coefs], list(coefs.values()))
        if sense == "<=":
            model.Add(expr <= rhs)
        elif sense == ">=":
            model.Add(expr >= rhs)
        else:
            model.Add(expr == rhs)
    if cm.objective:  # integer coefficients: CP-SAT's bound and optimum are then exact
        obj = cp_model.LinearExpr.WeightedSum([xs[j] for j in cm.objective], list(cm.objective.values()))
        model.Maximize(obj) if lm.sense == "maximize" else model.Minimize(obj)
    solver = cp_model.CpSolver()
    p = solver.parameters
    if opts.time_limit is not None:
        p.max_time_in_seconds = float(opts.time_limit)
    p.relative_gap_limit = float(opts.mip_gap) if opts.mip_gap is not None else 0.0
    if opts.threads:
        p.num_workers = int(opts.threads)
    if opts.log:
        p.log_search_progress, p.log_to_stdout = True, False
        solver.log_callback = lambda line: print(line, file=sys.stderr)
    code = solver.Solve(model)
    seconds = time.perf_counter() - start
    message = f"OR-Tools CP-SAT: {solver.StatusName(code)}"
    if code == cp_model.OPTIMAL:
        status = "optimal"
    elif code == cp_model.FEASIBLE:
        status = "feasible"
    elif code == cp_model.INFEASIBLE:
        status = "infeasible"
    elif code == cp_model.UNKNOWN and opts.time_limit is not None:
        status = "time_limit"
    else:
        status = "error"
    raw = [solver.Value(x) for x in xs] if status in ("optimal", "feasible") else None
    bound = None
    if raw is not None and cm.objective:
        bound = solver.BestObjectiveBound() / cm.objective_scale + lm.objective_constant
    return finish(lm, status, raw, "ortools-cpsat", seconds, message, bound=bound)

"""What a solve returns, independent of the solver that produced it."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field

STATUSES = ("optimal", "feasible", "infeasible", "unbounded", "time_limit", "error")

# process exit codes of the CLI, by status
EXIT_CODES = {"optimal": 0, "feasible": 0, "infeasible": 3, "unbounded": 4, "time_limit": 5, "error": 5}


@dataclass
class IISMember:
    """One formulation constraint of an irreducible infeasible subsystem."""

    constraint: str  # original formulation constraint name (before linearization)
    source: str  # the sentence of the problem text it comes from
    rows: list[str] = field(default_factory=list)  # row labels of this constraint that take part


@dataclass
class SolveResult:
    status: str  # one of STATUSES
    objective: float | None = None  # including the objective constant
    values: dict[str, float] = field(default_factory=dict)  # column label -> value (cleaned: see solve.verify)
    raw_values: dict[str, float] = field(default_factory=dict)  # column label -> value as the solver returned it
    solver: str = ""  # highs | highs-pyomo | ortools-scip | ortools-glop | ortools-pdlp | ortools-cpsat
    seconds: float = 0.0  # the whole solve: build_seconds + solve_seconds (+ iis_seconds)
    gap: float | None = None  # relative MIP gap; None for LPs
    message: str = ""
    duals: dict[str, float] = field(default_factory=dict)  # row label -> d objective / d rhs (LP only)
    slacks: dict[str, float] = field(default_factory=dict)  # row label -> slack, >= 0 when satisfied (LP only)
    iis: list[IISMember] | None = None
    build_seconds: float | None = None  # building the model (templates, grounding, the solver's model, imports)
    solve_seconds: float | None = None  # inside the solver's own run
    iis_seconds: float | None = None  # the search for the conflicting constraints of an infeasible model

    def __post_init__(self) -> None:
        if self.status not in STATUSES:
            raise ValueError(f"unknown status {self.status!r}")

    @property
    def exit_code(self) -> int:
        return EXIT_CODES[self.status]

    @property
    def has_solution(self) -> bool:
        return self.status in ("optimal", "feasible")

    def to_json(self) -> dict:
        """A plain dict (JSON-serializable: infinities and NaNs become None)."""
        out = asdict(self)
        out["objective"] = _finite(self.objective)
        out["gap"] = _finite(self.gap)
        out["exit_code"] = self.exit_code
        return out


def _finite(x: float | None) -> float | None:
    return x if x is not None and math.isfinite(x) else None

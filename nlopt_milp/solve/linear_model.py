"""Reduction: a linearized formulation -> a flat linear model (columns and rows).

Every quantified constraint becomes one row per index combination; every indexed
variable one column per element tuple. Rows remember which formulation constraint
they came from, so solver answers (duals, IIS) can be reported by name and sentence.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from ..core import expr as E
from ..core.formulation import Formulation
from ..core.ground import Data, NonFiniteError, VarKey, var_label
from ..core.templates import Linearized, instances, linearize_nodes


@dataclass
class Column:
    key: VarKey
    domain: str  # continuous | integer | binary
    lower: float  # -inf allowed
    upper: float  # inf allowed

    @property
    def label(self) -> str:
        return var_label(self.key)


@dataclass
class Row:
    constraint: str  # name of the linearized constraint
    index: tuple  # element tuple of its forall
    coefs: dict[int, float]  # column -> coefficient
    sense: str  # <= >= ==
    rhs: float

    @property
    def label(self) -> str:
        return f"{self.constraint}[{','.join(str(i) for i in self.index)}]" if self.index else self.constraint


@dataclass
class LinearModel:
    sense: str  # minimize | maximize
    columns: list[Column]
    rows: list[Row]
    objective: dict[int, float]
    objective_constant: float = 0.0
    sources: dict[str, str] = field(default_factory=dict)  # constraint name -> source sentence
    column_of: dict[VarKey, int] = field(default_factory=dict)

    @property
    def is_mip(self) -> bool:
        return any(c.domain != "continuous" for c in self.columns)


def to_linear_model(f: "Formulation | Linearized", linearized: bool = False,
                    deadline: float | None = None) -> LinearModel:
    """Ground a valid formulation (templates are expanded first unless `linearized`).

    `f` may be a `Linearized` (from `linearize_nodes`): then the rows are built from its nodes.
    A plain formulation with `linearized=True` has its general constraints' text parsed.
    `deadline` (time.monotonic()) stops a build that runs too long with `BuildTimeout`.
    A non-finite number anywhere raises `NonFiniteError` naming the row.
    """
    if isinstance(f, Linearized):
        lin = f
    elif linearized:
        lin = Linearized(f, {c.name: E.parse_comparison(c.slots.expr) for c in f.constraints},
                         E.parse(f.objective.expr))
    else:
        lin = linearize_nodes(f, deadline)
    lf = lin.formulation
    data = Data(lf)
    data.deadline = deadline
    columns: list[Column] = []
    column_of: dict[VarKey, int] = {}
    for v in lf.variables:
        for key in data.var_keys(v.name):
            lo, hi = data.var_bound(key, "lower"), data.var_bound(key, "upper")
            if v.domain in ("integer", "binary"):
                lo = math.ceil(lo - 1e-9) if math.isfinite(lo) else lo
                hi = math.floor(hi + 1e-9) if math.isfinite(hi) else hi
            column_of[key] = len(columns)
            columns.append(Column(key, v.domain, lo, hi))
            if not len(columns) & 0xFFF:
                data.check_deadline()

    def coefs(lin) -> dict[int, float]:
        return {column_of[k]: c for k, c in lin.terms.items() if c != 0.0}

    try:
        obj = data.linear(lin.objective, {})
    except NonFiniteError as e:
        raise NonFiniteError(f"objective: {e}") from None
    rows: list[Row] = []
    sources: dict[str, str] = {}
    for c in lf.constraints:
        cmp = lin.comparisons[c.name]
        sources[c.name] = c.source
        diff = E.BinOp("-", cmp.left, cmp.right)
        for env in instances(c, data):
            index = tuple(env[b.index] for b in c.forall)
            try:
                grounded = data.linear(diff, env)
            except NonFiniteError as e:
                raise NonFiniteError(f"{Row(c.name, index, {}, '', 0.0).label}: {e}") from None
            rows.append(Row(c.name, index, coefs(grounded), cmp.op, -grounded.const + 0.0))
    return LinearModel(lf.objective.sense, columns, rows, coefs(obj), obj.const, sources, column_of)

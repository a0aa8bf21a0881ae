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
from ..core.ground import Data, VarKey, var_label
from ..core.templates import instances, linearize


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


def to_linear_model(f: Formulation, linearized: bool = False) -> LinearModel:
    """Ground a valid formulation (templates are expanded first unless `linearized`)."""
    lf = f if linearized else linearize(f)
    data = Data(lf)
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

    def coefs(lin) -> dict[int, float]:
        return {column_of[k]: c for k, c in lin.terms.items() if c != 0.0}

    obj = data.linear(E.parse(lf.objective.expr), {})
    rows: list[Row] = []
    sources: dict[str, str] = {}
    for c in lf.constraints:
        cmp = E.parse_comparison(c.slots.expr)
        sources[c.name] = c.source
        diff = E.BinOp("-", cmp.left, cmp.right)
        for env in instances(c, data):
            lin = data.linear(diff, env)
            rows.append(Row(c.name, tuple(env[b.index] for b in c.forall), coefs(lin), cmp.op, -lin.const + 0.0))
    return LinearModel(lf.objective.sense, columns, rows, coefs(obj), obj.const, sources, column_of)

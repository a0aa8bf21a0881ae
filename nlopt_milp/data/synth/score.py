"""Complexity score of an instance, computed on our flat linear model.

S = 1·binaries + 1.5·integers + 0.5·continuous + 0.5·linear rows + 2·indicator rows
    + 3·general constraints + 500·(share of big-M rows) + 0.1·expression length

(OptMATH's score). On our model: indicator rows are the rows that the logical templates
(if_then, either_or, fixed_charge, semi_continuous) linearize with a big-M or an
indicator; the big-M share is their fraction of all rows; the catalog has no general
constraints (max / min / abs), so that term is 0; the expression length is the number
of nonzero coefficients (objective and rows). Bands: easy < 50, medium < 150,
hard < 500, very_hard from 500.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

LOGICAL = frozenset({"if_then", "either_or", "fixed_charge", "semi_continuous"})
BANDS = (("easy", 50.0), ("medium", 150.0), ("hard", 500.0), ("very_hard", float("inf")))


@dataclass
class Size:
    binaries: int = 0
    integers: int = 0
    continuous: int = 0
    linear_rows: int = 0
    indicator_rows: int = 0
    general: int = 0
    nonzeros: int = 0

    @property
    def variables(self) -> int:
        return self.binaries + self.integers + self.continuous

    @property
    def rows(self) -> int:
        return self.linear_rows + self.indicator_rows

    @property
    def score(self) -> float:
        share = self.indicator_rows / self.rows if self.rows else 0.0
        s = (self.binaries + 1.5 * self.integers + 0.5 * self.continuous + 0.5 * self.linear_rows
             + 2 * self.indicator_rows + 3 * self.general + 500 * share + 0.1 * self.nonzeros)
        return round(s, 3)

    def to_json(self) -> dict:
        return {**asdict(self), "variables": self.variables, "rows": self.rows}


def band(score: float) -> str:
    return next(name for name, upper in BANDS if score < upper)


def measure(f, lf, lm, origins) -> Size:
    """Counts of the flat model `lm` of `f` (`lf` its linearization, `origins` from `origin_names`)."""
    from ...solve.iis import origin_of

    s = Size()
    for col in lm.columns:
        if col.domain == "binary" or (col.domain == "integer" and col.lower >= 0 and col.upper <= 1):
            s.binaries += 1
        elif col.domain == "integer":
            s.integers += 1
        else:
            s.continuous += 1
    template_of = {c.name: c.template for c in f.constraints}
    for row in lm.rows:
        if template_of.get(origin_of(row.constraint, origins)) in LOGICAL:
            s.indicator_rows += 1
        else:
            s.linear_rows += 1
    s.nonzeros = len(lm.objective) + sum(len(r.coefs) for r in lm.rows)
    return s

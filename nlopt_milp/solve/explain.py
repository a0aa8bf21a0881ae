"""Shadow prices in plain words: which constraints bind an LP optimum and what they are worth."""

from __future__ import annotations

from .linear_model import LinearModel
from .result import SolveResult

DUAL_TOL = 1e-9


def explain_binding(lm: LinearModel, result: SolveResult, f=None, tol: float = DUAL_TOL) -> list[str]:
    """One sentence per row with a nonzero shadow price (LP optima only; [] otherwise).

    The shadow price is the change of the objective per unit increase of the row's
    right-hand side, e.g. "one more unit of `labor` ("Each week 40 hours of labor are
    available") is worth 2.5 of profit".
    """
    if not result.duals or result.status != "optimal":
        return []
    what = (f.objective.description.strip() if f is not None and f.objective.description else "") or "the objective"
    maximize = lm.sense == "maximize"
    lines = []
    labels = lm.row_labels()
    for b in lm.row_blocks:
        for k in range(b.start, b.stop):
            label = labels[k]
            d = result.duals.get(label, 0.0)
            if abs(d) <= tol:
                continue
            amount = f"{abs(d):.6g}"
            if maximize:
                effect = f"is worth {amount} of {what}" if d > 0 else f"costs {amount} of {what}"
            else:
                effect = f"adds {amount} to {what}" if d > 0 else f"saves {amount} of {what}"
            source = lm.sources.get(b.name, "")
            quoted = f' ("{source}")' if source else ""
            lines.append(f"one more unit of `{label}`{quoted} {effect}")
    return lines

"""Majority voting over sampled formulations: one rule for the pipeline and the scorer.

Each sample votes with its verdict: an objective value (values within tolerance of a
group's first value join it) or "no solution" (infeasible / unbounded). Samples without
a verdict (no formulation, solver error, time limit) do not vote. The largest group wins;
ties go to the group formed first.
"""

from __future__ import annotations

SOLVED = frozenset({"optimal", "feasible"})
NO_SOLUTION = frozenset({"infeasible", "unbounded", "infeasible_or_unbounded"})


def verdict(status: str | None, objective: float | None) -> tuple | None:
    status = (status or "").lower()
    if status in NO_SOLUTION:
        return ("no_solution",)
    if status in SOLVED and isinstance(objective, (int, float)) and objective == objective:
        return ("value", float(objective))
    return None


def majority(verdicts: list[tuple | None], rel_tol: float = 1e-6, abs_tol: float = 1e-6) -> tuple[int | None, int]:
    """(index of the first sample of the winning group, its size); (None, 0) when nobody voted."""
    groups: list[tuple[tuple, list[int]]] = []
    for k, v in enumerate(verdicts):
        if v is None:
            continue
        for key, members in groups:
            if key[0] == v[0] and (v[0] == "no_solution" or abs(v[1] - key[1]) <= max(rel_tol * abs(key[1]), abs_tol)):
                members.append(k)
                break
        else:
            groups.append((v, [k]))
    if not groups:
        return None, 0
    best = max(groups, key=lambda g: len(g[1]))  # max keeps the first of equal sizes
    return best[1][0], len(best[1])

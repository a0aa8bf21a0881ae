"""Majority voting over sampled formulations: one rule for the pipeline and the scorer.

Each sample votes with its verdict: an objective value, "infeasible" or "unbounded".
Samples without a verdict (no formulation, solver error, time limit) do not vote.

- Values are grouped at the scorer's tolerance (relative 1e-4, absolute 1e-6 near zero):
  the value with the most others within tolerance of it is a group's centre, its group is
  those values, and the rest are grouped the same way (equal counts: the tighter group, then
  the lower value). Groups never chain (every member is within tolerance of the centre) and
  do not depend on sample order.
- Infeasible and unbounded are separate verdicts. A value group wins unless the samples
  without a solution are a strict majority of the votes; then the larger of the two wins.
- Ties go to fewer audit findings (mean over the group), then fewer repairs, then sample order.
"""

from __future__ import annotations

from dataclasses import dataclass, field

SOLVED = frozenset({"optimal", "feasible"})
NO_SOLUTION = frozenset({"infeasible", "unbounded", "infeasible_or_unbounded"})


def verdict(status: str | None, objective: float | None) -> tuple | None:
    status = (status or "").lower()
    if status in NO_SOLUTION:
        return ("unbounded",) if status == "unbounded" else ("infeasible",)
    if status in SOLVED and isinstance(objective, (int, float)) and objective == objective:
        return ("value", float(objective))
    return None


@dataclass
class Group:
    verdict: str  # value | infeasible | unbounded
    value: float | None
    members: list[int]
    findings: float = 0.0  # mean audit findings of the members
    repairs: float = 0.0  # mean repair rounds of the members


@dataclass
class Vote:
    chosen: int | None  # the sample that represents the winning group
    size: int  # samples in the winning group
    groups: list[Group] = field(default_factory=list)
    rule: str = ""  # why the winner won, in words

    def to_json(self) -> dict:
        return {"chosen": self.chosen, "size": self.size, "rule": self.rule,
                "groups": [{"verdict": g.verdict, "value": g.value, "members": g.members,
                            "findings": g.findings, "repairs": g.repairs} for g in self.groups]}


def _close(a: float, b: float, rel_tol: float, abs_tol: float) -> bool:
    return abs(a - b) <= max(rel_tol * max(abs(a), abs(b)), abs_tol)


def vote(verdicts: list[tuple | None], rel_tol: float = 1e-4, abs_tol: float = 1e-6,
         findings: list[int] | None = None, repairs: list[int] | None = None) -> Vote:
    n = len(verdicts)
    findings = findings or [0] * n
    repairs = repairs or [0] * n
    values = {k: v[1] for k, v in enumerate(verdicts) if v is not None and v[0] == "value"}
    groups: list[Group] = []
    left = dict(values)
    while left:
        def near(k):
            return [j for j in left if _close(left[k], left[j], rel_tol, abs_tol)]
        # most neighbours; then the tightest group; then the lower value (never the sample order)
        centre = max(left, key=lambda k: (len(near(k)), -sum(abs(left[j] - left[k]) for j in near(k)), -left[k]))
        members = sorted(near(centre))
        groups.append(Group("value", left[centre], members))
        for j in members:
            del left[j]
    for kind in ("infeasible", "unbounded"):
        members = [k for k, v in enumerate(verdicts) if v is not None and v[0] == kind]
        if members:
            groups.append(Group(kind, None, members))
    if not groups:
        return Vote(None, 0, [], "no sample has a verdict")
    for g in groups:
        g.findings = sum(findings[k] for k in g.members) / len(g.members)
        g.repairs = sum(repairs[k] for k in g.members) / len(g.members)

    def rank(g: Group):
        return (-len(g.members), g.findings, g.repairs, g.members[0])

    votes = sum(len(g.members) for g in groups)
    no_solution = sum(len(g.members) for g in groups if g.verdict != "value")
    with_value = [g for g in groups if g.verdict == "value"]
    if with_value and 2 * no_solution <= votes:
        pool, rule = with_value, "the largest group with a solution"
    else:
        pool = [g for g in groups if g.verdict != "value"]
        rule = "no solution is a strict majority of the votes" if with_value else "no sample has a solution"
    pool.sort(key=rank)
    best = pool[0]
    if len(pool) > 1 and len(pool[1].members) == len(best.members):
        rule += "; tie broken by fewer audit findings, then fewer repairs, then sample order"
    chosen = min(best.members, key=lambda k: (findings[k], repairs[k], k))
    groups.sort(key=rank)
    return Vote(chosen, len(best.members), groups, rule)


def majority(verdicts: list[tuple | None], rel_tol: float = 1e-4, abs_tol: float = 1e-6,
             findings: list[int] | None = None, repairs: list[int] | None = None) -> tuple[int | None, int]:
    """(index of the sample that represents the winning group, its size); (None, 0) when nobody voted."""
    v = vote(verdicts, rel_tol, abs_tol, findings, repairs)
    return v.chosen, v.size

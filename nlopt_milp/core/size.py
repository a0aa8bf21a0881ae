"""How large a formulation grows when grounded, counted before anything is expanded.

Grounding walks every `forall` instance and every `sum` generator, so a short text can
stand for an astronomical amount of work: 26 nested sums over a two-element set are
2^26 terms in a 630-byte objective. `model_terms` bounds that work from the set sizes
alone (no expansion, linear in the size of the expressions): every leaf of an expression
counts once per combination of the sums around it, every constraint instance counts its
row, its `where` filter and the comparisons its template emits (both sides, big-M
derivations, fixed-charge costs), every variable one column per element tuple.

The count is an upper bound: filters are assumed to let everything through and like
terms are counted before they are merged, so it never under-counts what grounding does.
`size_issues` turns counts above `max_terms` into (JSON path, message) pairs.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from . import expr as E

if TYPE_CHECKING:
    from .formulation import Formulation

DEFAULT_MAX_TERMS = 2_000_000
_CAP = 1 << 62  # counts saturate here: beyond any limit, and cheap to multiply


@dataclass(frozen=True)
class Part:
    """One element of a formulation and the terms it grounds to."""

    path: str  # "objective.expr", "constraints[3]", "variables[0]"
    label: str  # "the objective", "constraint cap", "variable x"
    terms: int
    instances: int = 1  # forall combinations (constraints), element tuples (variables)


def _mul(a: int, b: int) -> int:
    return min(_CAP, a * b)


def node_terms(node: E.Node | None, sizes: dict[str, int]) -> int:
    """An upper bound on the leaves grounding `node` visits once (unknown sets count as empty)."""
    if node is None:
        return 0
    if isinstance(node, (E.Num, E.Str, E.Name)):
        return 1
    if isinstance(node, E.Index):
        return min(_CAP, 1 + sum(node_terms(a, sizes) for a in node.args if not isinstance(a, (E.Num, E.Str, E.Name))))
    if isinstance(node, E.Add):
        return min(_CAP, sum(node_terms(t, sizes) for t in node.terms))
    if isinstance(node, (E.BinOp, E.Compare)):
        return min(_CAP, node_terms(node.left, sizes) + node_terms(node.right, sizes))
    if isinstance(node, (E.Neg, E.Not)):
        return node_terms(node.operand, sizes)
    if isinstance(node, E.BoolOp):
        return min(_CAP, sum(node_terms(v, sizes) for v in node.values))
    if isinstance(node, E.Sum):
        combos = 1
        for g in node.generators:
            combos = _mul(combos, sizes.get(g.set, 0))
        return _mul(combos, node_terms(node.body, sizes) + node_terms(node.condition, sizes))
    raise TypeError(f"not a node: {node!r}")


def model_terms(f: "Formulation") -> list[Part]:
    """The parts of `f` with their term counts; parts whose text does not parse count 0
    (validation reports them, and they are never grounded)."""
    from .templates import SlotError, emit

    sizes = {s.name: len(s.elements) for s in f.sets}
    parts: list[Part] = []
    for k, v in enumerate(f.variables):
        n = 1
        for s in v.index:
            n = _mul(n, sizes.get(s, 0))
        parts.append(Part(f"variables[{k}]", f"variable {v.name}", n, n))
    try:
        parts.append(Part("objective.expr", "the objective", node_terms(E.parse(f.objective.expr), sizes)))
    except E.ExprError:
        pass
    for k, c in enumerate(f.constraints):
        instances = 1
        for b in c.forall:
            instances = _mul(instances, sizes.get(b.set, 0))
        try:
            where = E.parse_condition(c.where) if c.where else None
            out = emit(c, None, set(), derive=False)  # structure only: nothing is grounded
        except (SlotError, E.ExprError):
            continue
        per = 1 + node_terms(where, sizes) + len(out.variables) + len(out.parameters)
        per += sum(node_terms(cmp, sizes) + 1 for _, cmp in out.comparisons)
        per += sum(node_terms(n, sizes) for n in out.derived + out.objective_terms)
        parts.append(Part(f"constraints[{k}]", f"constraint {c.name}", _mul(instances, min(_CAP, per)), instances))
    return parts


def size_issues(f: "Formulation", max_terms: int | None = None) -> list[tuple[str, str]]:
    """(path, message) for every part above `max_terms` (default DEFAULT_MAX_TERMS), or for
    the largest part when only the total is above it. Empty when the model is small enough."""
    limit = DEFAULT_MAX_TERMS if max_terms is None else max_terms
    parts = model_terms(f)
    hint = f"more than the limit of {limit:,} (--max-terms); use smaller sets or raise the limit"
    out = []
    for p in parts:
        if p.terms > limit:
            each = f" ({_fmt(p.instances)} instances)" if p.instances > 1 and not p.path.startswith("variables") else ""
            out.append((p.path, f"{p.label} expands to {_fmt(p.terms)} terms{each}, {hint}"))
    total = min(_CAP, sum(p.terms for p in parts))
    if not out and total > limit:
        big = max(parts, key=lambda p: p.terms)
        out.append((big.path, f"the model expands to {_fmt(total)} terms in all ({big.label}: {_fmt(big.terms)}), "
                              f"{hint}"))
    return out


def _fmt(n: int) -> str:
    return f"{n:,}" if n < _CAP else f"more than {_CAP:,}"

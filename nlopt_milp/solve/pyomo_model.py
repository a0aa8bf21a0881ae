"""Reduction: a flat `LinearModel` -> a Pyomo `ConcreteModel`.

One `Var` component per formulation variable (indexed by its element tuples, scalar
when unindexed) and one `Constraint` component per (linearized) formulation
constraint, indexed by the element tuples of its `forall`. Component names equal the
formulation names, so LP/MPS files and Pyomo scripts read like the formulation.

The model carries a `PyomoMap` (see `pyomo_map`) that lines its VarData/ConstraintData
up with `lm.columns` / `lm.rows`, so solver answers can be read back by label.

Pyomo is imported lazily: importing this module is cheap.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from .linear_model import LinearModel

if TYPE_CHECKING:  # pragma: no cover
    import pyomo.environ as pyo

_MAP_ATTR = "_nlopt_map"


@dataclass
class PyomoMap:
    """How a Pyomo model lines up with the `LinearModel` it was built from."""

    columns: list[Any]  # VarData, aligned with lm.columns
    rows: list[Any]  # ConstraintData, aligned with lm.rows
    var_component: dict[str, str] = field(default_factory=dict)  # formulation variable -> component name
    con_component: dict[str, str] = field(default_factory=dict)  # linearized constraint -> component name
    objective: str = "objective"  # name of the Objective component


def pyomo_map(model) -> PyomoMap:
    """The `PyomoMap` of a model built by `to_pyomo`."""
    return getattr(model, _MAP_ATTR)


def _pyomo_index(idx: tuple):
    """Pyomo flattens 1-tuples: index a one-set component by the bare element."""
    return idx[0] if len(idx) == 1 else idx


def _component_name(model, name: str, used: set[str]) -> str:
    """`name` itself unless Pyomo reserves it (e.g. `name`, `model`, `active`): then `name_`, `name__`..."""
    out = name
    while out in used or hasattr(model, out):
        out += "_"
    used.add(out)
    return out


def _grouped(items, key) -> dict[str, list[int]]:
    groups: dict[str, list[int]] = {}
    for k, item in enumerate(items):
        groups.setdefault(key(item), []).append(k)
    return groups


def to_pyomo(lm: LinearModel) -> "pyo.ConcreteModel":
    """Build the Pyomo model of a linear model (names as in the formulation)."""
    from pyomo.common.gc_manager import PauseGC

    with PauseGC():  # many small expression objects: the cyclic GC would dominate the build time
        return _build(lm)


def _build(lm: LinearModel) -> "pyo.ConcreteModel":
    import pyomo.environ as pyo
    from pyomo.core.expr.numeric_expr import LinearExpression, MonomialTermExpression

    domains = {"continuous": pyo.Reals, "integer": pyo.Integers, "binary": pyo.Binary}
    m = pyo.ConcreteModel(name="nlopt_milp")
    used: set[str] = set()
    # Index sets are named with a leading underscore: formulation names cannot start with one.
    columns: list[Any] = [None] * len(lm.columns)
    var_component: dict[str, str] = {}
    for name, ks in _grouped(lm.columns, lambda c: c.key[0]).items():
        cname = _component_name(m, name, used)
        var_component[name] = cname
        first = lm.columns[ks[0]]
        domain = domains[first.domain]
        if not first.key[1]:
            m.add_component(cname, pyo.Var(domain=domain))
            datas = [getattr(m, cname)]
        else:
            idx = [_pyomo_index(lm.columns[k].key[1]) for k in ks]
            iset = pyo.Set(initialize=idx, ordered=True, dimen=len(first.key[1]))
            m.add_component(f"_{cname}_index", iset)
            m.add_component(cname, pyo.Var(iset, domain=domain))
            datas = list(getattr(m, cname).values())  # dense, in index-set order
        for k, vd in zip(ks, datas):
            col = lm.columns[k]
            vd.setlb(col.lower if col.lower > -float("inf") else None)
            vd.setub(col.upper if col.upper < float("inf") else None)
            columns[k] = vd

    def linear(coefs: dict[int, float], constant: float = 0.0):
        # bare VarData for unit coefficients: fewer expression nodes to build
        args = [columns[j] if a == 1.0 else MonomialTermExpression((a, columns[j])) for j, a in coefs.items()]
        if constant:
            args.insert(0, constant)
        return LinearExpression(args)

    def relation(row):
        body = linear(row.coefs)
        if row.sense == "<=":
            return body <= row.rhs
        if row.sense == ">=":
            return body >= row.rhs
        return body == row.rhs

    rows: list[Any] = [None] * len(lm.rows)
    con_component: dict[str, str] = {}
    for name, ks in _grouped(lm.rows, lambda r: r.constraint).items():
        cname = _component_name(m, name, used)
        con_component[name] = cname
        if len(ks) == 1 and not lm.rows[ks[0]].index:
            m.add_component(cname, pyo.Constraint(expr=relation(lm.rows[ks[0]])))
            rows[ks[0]] = getattr(m, cname)
            continue
        idx = [_pyomo_index(lm.rows[k].index) for k in ks]
        if len(set(idx)) != len(idx) or any(not lm.rows[k].index for k in ks):
            # duplicate (name, index) pairs: fall back to positional indices 1..n
            idx = list(range(1, len(ks) + 1))
        iset = pyo.Set(initialize=idx, ordered=True, dimen=None)
        m.add_component(f"_{cname}_index", iset)
        comp = pyo.Constraint(iset)
        m.add_component(cname, comp)
        for k, i in zip(ks, idx):
            comp[i] = relation(lm.rows[k])
            rows[k] = comp[i]

    oname = _component_name(m, "objective", used)
    sense = pyo.maximize if lm.sense == "maximize" else pyo.minimize
    m.add_component(oname, pyo.Objective(expr=linear(lm.objective, lm.objective_constant), sense=sense))
    object.__setattr__(m, _MAP_ATTR, PyomoMap(columns, rows, var_component, con_component, oname))
    return m

"""Grounding: evaluate expressions against a formulation's data.

`Data` holds the sets, parameter tables and variable declarations of a formulation;
`Data.evaluate` turns an expression node plus index bindings into a number, a set
element, or a `LinExpr` (a linear combination of concrete variables). Products of two
variable terms are reported as nonlinear, naming the term.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Iterator, Union

from . import expr as E
from .formulation import Element, Formulation, Parameter

VarKey = tuple[str, tuple[Element, ...]]  # ("x", ("a", 1))
MAX_INSTANCES = 2_000_000


class GroundError(ValueError):
    """An expression that cannot be evaluated against the data (unknown name, bad index, nonlinear...)."""


class NonlinearError(GroundError):
    pass


def var_label(key: VarKey) -> str:
    name, idx = key
    return f"{name}[{','.join(str(i) for i in idx)}]" if idx else name


@dataclass
class LinExpr:
    terms: dict[VarKey, float] = field(default_factory=dict)
    const: float = 0.0

    @staticmethod
    def var(key: VarKey) -> "LinExpr":
        return LinExpr({key: 1.0})

    def is_constant(self) -> bool:
        return not any(self.terms.values())

    def scaled(self, c: float) -> "LinExpr":
        return LinExpr({k: v * c for k, v in self.terms.items()}, self.const * c)

    def plus(self, other: "LinExpr", sign: float = 1.0) -> "LinExpr":
        terms = dict(self.terms)
        for k, v in other.terms.items():
            terms[k] = terms.get(k, 0.0) + sign * v
        return LinExpr(terms, self.const + sign * other.const)

    def add_inplace(self, other: "LinExpr") -> None:
        for k, v in other.terms.items():
            self.terms[k] = self.terms.get(k, 0.0) + v
        self.const += other.const

    def nonzero(self) -> dict[VarKey, float]:
        return {k: v for k, v in self.terms.items() if v != 0.0}

    def __str__(self) -> str:
        parts = [f"{v:g}*{var_label(k)}" for k, v in self.nonzero().items()]
        if self.const or not parts:
            parts.append(f"{self.const:g}")
        return " + ".join(parts)


Value = Union[float, str, int, LinExpr]


class Data:
    """The evaluation context of a (structurally valid) formulation."""

    def __init__(self, f: Formulation):
        self.formulation = f
        self.sets: dict[str, list[Element]] = {s.name: list(s.elements) for s in f.sets}
        # element lookup that forgives "1" vs 1 (JSON keys, LLM habits)
        self._members: dict[str, dict[object, Element]] = {}
        for name, elems in self.sets.items():
            m: dict[object, Element] = {}
            for e in elems:
                m.setdefault(e, e)
                m.setdefault(str(e), e)
            self._members[name] = m
        self.params: dict[str, Parameter] = {p.name: p for p in f.parameters}
        self.vars = {v.name: v for v in f.variables}
        self._tables: dict[str, dict[tuple, float]] = {}

    # -- sets and tables ------------------------------------------------------------

    def member(self, set_name: str, value: object) -> Element | None:
        m = self._members[set_name]
        if isinstance(value, float) and value.is_integer():
            value = int(value)
        if value in m:
            return m[value]
        return m.get(str(value))

    def table(self, name: str) -> dict[tuple, float]:
        """A parameter's values keyed by element tuples; raises GroundError on shape mismatch."""
        if name not in self._tables:
            p = self.params[name]
            table: dict[tuple, float] = {}
            for s in p.index:
                if s not in self.sets:
                    raise GroundError(f"parameter {name} is indexed by unknown set {s}")
            _fill(table, (), p.value, [self.sets[s] for s in p.index], p.index, name)
            self._tables[name] = table
        return self._tables[name]

    def combos(self, bindings: list[tuple[str, str]], env: dict | None = None) -> Iterator[dict]:
        """All index assignments of `[(index, set), ...]`, extending env."""
        env = dict(env or {})
        for idx, s in bindings:
            if s not in self.sets:
                raise GroundError(f"unknown set {s}")
        yield from self._combos(bindings, 0, env)

    def _combos(self, b, k, env):
        if k == len(b):
            yield dict(env)
            return
        idx, s = b[k]
        for e in self.sets[b[k][1]]:
            env[idx] = e
            yield from self._combos(b, k + 1, env)
        env.pop(idx, None)

    def var_keys(self, name: str) -> list[VarKey]:
        v = self.vars[name]
        if not v.index:
            return [(name, ())]
        out: list[VarKey] = []
        for env in self.combos([(f"_{k}", s) for k, s in enumerate(v.index)]):
            out.append((name, tuple(env[f"_{k}"] for k in range(len(v.index)))))
        return out

    def var_bound(self, key: VarKey, which: str) -> float:
        """Lower or upper bound of one concrete variable (binary: [0, 1])."""
        v = self.vars[key[0]]
        raw = getattr(v, which)
        if v.domain == "binary":
            lo, hi = 0.0, 1.0
            if raw is None or isinstance(raw, str):
                return lo if which == "lower" else hi
            return max(lo, float(raw)) if which == "lower" else min(hi, float(raw))
        if raw is None:
            return -math.inf if which == "lower" else math.inf
        if isinstance(raw, str):
            p = self.params.get(raw)
            if p is None:
                raise GroundError(f"bound {raw!r} of variable {v.name} is not a parameter")
            if list(p.index) not in ([], list(v.index)):
                raise GroundError(
                    f"bound parameter {raw} is indexed by {p.index}, variable {v.name} by {v.index}"
                )
            t = self.table(raw)
            return float(t[key[1]] if p.index else t[()])
        return float(raw)

    # -- evaluation ------------------------------------------------------------------

    def evaluate(self, node: E.Node, env: dict) -> Value:
        if isinstance(node, E.Num):
            return node.value
        if isinstance(node, E.Str):
            return node.value
        if isinstance(node, E.Name):
            return self._name(node.id, env)
        if isinstance(node, E.Index):
            return self._index(node, env)
        if isinstance(node, E.Neg):
            v = self.evaluate(node.operand, env)
            return v.scaled(-1.0) if isinstance(v, LinExpr) else -self._number(v, node)
        if isinstance(node, E.BinOp):
            return self._binop(node, env)
        if isinstance(node, E.Sum):
            total = LinExpr()
            bindings = [(g.index, g.set) for g in node.generators]
            seen: set[str] = set()
            for g in node.generators:
                if g.index in seen or g.index in env:
                    raise GroundError(f"index {g.index} is already bound; use another name in sum(... for {g.index} in {g.set})")
                seen.add(g.index)
            count = 0
            for inner in self.combos(bindings, env):
                count += 1
                if count > MAX_INSTANCES:
                    raise GroundError(f"sum over more than {MAX_INSTANCES} terms")
                if node.condition is not None and not self.condition(node.condition, inner):
                    continue
                v = self.evaluate(node.body, inner)
                if isinstance(v, LinExpr):
                    total.add_inplace(v)
                else:
                    total.const += self._number(v, node.body)
            return total if total.terms else total.const
        if isinstance(node, (E.Compare, E.BoolOp, E.Not)):
            raise GroundError(f"a condition is not allowed here: {E.to_text(node)}")
        raise GroundError(f"cannot evaluate {node!r}")

    def linear(self, node: E.Node, env: dict) -> LinExpr:
        v = self.evaluate(node, env)
        if isinstance(v, LinExpr):
            return v
        return LinExpr({}, self._number(v, node))

    def constant(self, node: E.Node, env: dict) -> float:
        v = self.evaluate(node, env)
        if isinstance(v, LinExpr):
            if not v.is_constant():
                raise GroundError(f"must be a constant, but {E.to_text(node)} contains variables")
            return v.const
        return self._number(v, node)

    def condition(self, node: E.Node, env: dict) -> bool:
        if isinstance(node, E.BoolOp):
            if node.op == "and":
                return all(self.condition(v, env) for v in node.values)
            return any(self.condition(v, env) for v in node.values)
        if isinstance(node, E.Not):
            return not self.condition(node.operand, env)
        if isinstance(node, E.Compare):
            a, b = self.evaluate(node.left, env), self.evaluate(node.right, env)
            if isinstance(a, LinExpr) or isinstance(b, LinExpr):
                if (isinstance(a, LinExpr) and not a.is_constant()) or (isinstance(b, LinExpr) and not b.is_constant()):
                    raise GroundError(f"a filter cannot use variables: {E.to_text(node)}")
                a = a.const if isinstance(a, LinExpr) else a
                b = b.const if isinstance(b, LinExpr) else b
            if node.op in ("==", "!="):
                eq = _same(a, b)
                return eq if node.op == "==" else not eq
            if isinstance(a, str) or isinstance(b, str):
                if not (isinstance(a, str) and isinstance(b, str)):
                    raise GroundError(f"cannot order a name and a number: {E.to_text(node)}")
            return {"<=": a <= b, ">=": a >= b, "<": a < b, ">": a > b}[node.op]  # type: ignore[operator]
        raise GroundError(f"expected a condition, found {E.to_text(node)}")

    # -- helpers ---------------------------------------------------------------------

    def _name(self, name: str, env: dict) -> Value:
        if name in env:
            return env[name]
        if name in self.params:
            p = self.params[name]
            if p.index:
                raise GroundError(f"parameter {name} is indexed by {', '.join(p.index)}: write {name}[...]")
            return self.table(name)[()]
        if name in self.vars:
            v = self.vars[name]
            if v.index:
                raise GroundError(f"variable {name} is indexed by {', '.join(v.index)}: write {name}[...]")
            return LinExpr.var((name, ()))
        if name in self.sets:
            raise GroundError(f"set {name} cannot be used as a value; iterate it with sum(... for i in {name})")
        raise GroundError(f"unknown name {name}")

    def _index(self, node: E.Index, env: dict) -> Value:
        name = node.name
        if name in self.params:
            index_sets = self.params[name].index
            kind = "parameter"
        elif name in self.vars:
            index_sets = self.vars[name].index
            kind = "variable"
        elif name in env:
            raise GroundError(f"index {name} cannot be indexed")
        else:
            raise GroundError(f"unknown name {name}")
        if len(node.args) != len(index_sets):
            raise GroundError(
                f"{kind} {name} takes {len(index_sets)} ind{'ex' if len(index_sets) == 1 else 'ices'}"
                f"{' (' + ', '.join(index_sets) + ')' if index_sets else ''}, got {len(node.args)}"
            )
        key = []
        for arg, s in zip(node.args, index_sets):
            raw = self.evaluate(arg, env)
            if isinstance(raw, LinExpr):
                if not raw.is_constant():
                    raise GroundError(f"an index cannot contain variables: {name}[{E.to_text(arg)}]")
                raw = raw.const
            elem = self.member(s, raw)
            if elem is None:
                shown = int(raw) if isinstance(raw, float) and raw.is_integer() else raw
                raise GroundError(f"{name}[{E.to_text(arg)}]: {shown!r} is not an element of set {s}")
            key.append(elem)
        if kind == "parameter":
            return self.table(name)[tuple(key)]
        return LinExpr.var((name, tuple(key)))

    def _binop(self, node: E.BinOp, env: dict) -> Value:
        a = self.evaluate(node.left, env)
        b = self.evaluate(node.right, env)
        la, lb = isinstance(a, LinExpr), isinstance(b, LinExpr)
        if node.op in "+-":
            sign = 1.0 if node.op == "+" else -1.0
            if not la and not lb:
                return self._number(a, node.left) + sign * self._number(b, node.right)
            aa = a if la else LinExpr({}, self._number(a, node.left))
            bb = b if lb else LinExpr({}, self._number(b, node.right))
            return aa.plus(bb, sign)
        if node.op == "*":
            if la and lb:
                if a.is_constant():
                    return b.scaled(a.const)
                if b.is_constant():
                    return a.scaled(b.const)
                raise NonlinearError(f"nonlinear term {E.to_text(node)}: product of two variable terms")
            if la:
                return a.scaled(self._number(b, node.right))
            if lb:
                return b.scaled(self._number(a, node.left))
            return self._number(a, node.left) * self._number(b, node.right)
        # division
        if lb:
            if not b.is_constant():
                raise NonlinearError(f"nonlinear term {E.to_text(node)}: division by a variable term")
            d = b.const
        else:
            d = self._number(b, node.right)
        if d == 0:
            raise GroundError(f"division by zero in {E.to_text(node)}")
        return a.scaled(1.0 / d) if la else self._number(a, node.left) / d

    @staticmethod
    def _number(v: Value, node: E.Node) -> float:
        if isinstance(v, LinExpr):
            if v.is_constant():
                return v.const
            raise GroundError(f"{E.to_text(node)} must be a constant")
        if isinstance(v, str):
            raise GroundError(f"element {v!r} is a name, not a number, in {E.to_text(node)}")
        return float(v)


def _same(a, b) -> bool:
    if isinstance(a, str) or isinstance(b, str):
        return str(a) == str(b) if not (isinstance(a, float) or isinstance(b, float)) else str(a) == str(b)
    return float(a) == float(b)


def _fill(table: dict, prefix: tuple, value, sets: list[list], set_names: list[str], pname: str, path: str = "") -> None:
    if not sets:
        if isinstance(value, list):
            raise GroundError(f"parameter {pname}{path}: expected a number, got a list")
        table[prefix] = float(value)
        return
    if not isinstance(value, list):
        raise GroundError(
            f"parameter {pname}{path}: expected a list of {len(sets[0])} entries (set {set_names[0]}), got a number"
        )
    if len(value) != len(sets[0]):
        raise GroundError(
            f"parameter {pname}{path}: has {len(value)} entries, set {set_names[0]} has {len(sets[0])} elements"
        )
    for k, (elem, sub) in enumerate(zip(sets[0], value)):
        _fill(table, prefix + (elem,), sub, sets[1:], set_names[1:], pname, f"{path}[{k}]")

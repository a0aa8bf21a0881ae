"""Grounding: evaluate expressions against a formulation's data.

`Data` holds the sets, parameter tables and variable declarations of a formulation;
`Data.evaluate` turns an expression node plus index bindings into a number, a set
element, or a `LinExpr` (a linear combination of concrete variables). Products of two
variable terms are reported as nonlinear, naming the term. `Data.linear` adds the terms of
sums, `+`, `-` and `constant * term` straight into one `LinExpr` (models with thousands of
terms per row would otherwise build and merge a `LinExpr` per term).
"""

from __future__ import annotations

import copy
import itertools
import math
import time
from dataclasses import dataclass, field
from typing import Iterator, Union

from . import elements
from . import expr as E
from .formulation import Element, Formulation, Parameter

VarKey = tuple[str, tuple[Element, ...]]  # ("x", ("a", 1))


class GroundError(ValueError):
    """An expression that cannot be evaluated against the data (unknown name, bad index, nonlinear...)."""


class NonlinearError(GroundError):
    pass


class NonFiniteError(GroundError):
    """A number that overflowed (or became NaN) while grounding: an input error, never a coefficient."""


class BuildTimeout(GroundError):
    """Grounding ran past `Data.deadline` (the time limit covers building as well as solving)."""


def first_nonfinite(lin: "LinExpr") -> str | None:
    """What in `lin` is not a finite number (inf or NaN), for a message; None when all is finite."""
    for k, v in lin.terms.items():
        if not math.isfinite(v):
            return f"the coefficient of {var_label(k)} is {v}"
    if not math.isfinite(lin.const):
        return f"the constant term is {lin.const}"
    return None


def _overflow(what: str) -> NonFiniteError:
    return NonFiniteError(f"{what} is not a finite number (it overflows); use smaller numbers or other units")


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

    deadline: float | None = None  # time.monotonic() past which grounding raises BuildTimeout

    def __init__(self, f: Formulation):
        self.formulation = f
        self.sets: dict[str, list[Element]] = {s.name: list(s.elements) for s in f.sets}
        # element lookup by identity (elements.key), plus each element itself for the common
        # lookup of an element of the same set (a valid set has no two elements of one key)
        self._members: dict[str, dict[object, Element]] = {}
        for name, elems in self.sets.items():
            m: dict[object, Element] = {}
            for e in elems:
                m.setdefault(elements.key(e), e)
                m.setdefault(e, e)
            self._members[name] = m
        self.params: dict[str, Parameter] = {p.name: p for p in f.parameters}
        self.vars = {v.name: v for v in f.variables}
        self._tables: dict[str, dict[tuple, float]] = {}

    def extended(self, parameters: list[Parameter], variables: list) -> "Data":
        """This context plus more declarations (a template's aux variables and big-M parameters).

        Sets, element lookups and the parameter tables built so far are shared, not rebuilt;
        `formulation` stays the one this context was first built from.
        """
        out = copy.copy(self)
        added = {p.name: p for p in parameters}
        out.params = {**self.params, **added}
        out.vars = {**self.vars, **{v.name: v for v in variables}}
        out._tables = {k: t for k, t in self._tables.items() if k not in added}
        return out

    # -- sets and tables ------------------------------------------------------------

    def member(self, set_name: str, value: object) -> Element | None:
        m = self._members[set_name]
        elem = m.get(value)
        return elem if elem is not None else m.get(elements.key(value))

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
        """All index assignments of `[(index, set), ...]`, extending env (a new dict each)."""
        env = dict(env or {})
        indices = [idx for idx, _ in bindings]
        for elems in self._product([s for _, s in bindings]):
            env.update(zip(indices, elems))
            yield dict(env)

    def _product(self, set_names: list[str]) -> Iterator[tuple]:
        """Element tuples of the sets' cross product, in order (raises on an unknown set)."""
        for s in set_names:
            if s not in self.sets:
                raise GroundError(f"unknown set {s}")
        return itertools.product(*(self.sets[s] for s in set_names))

    def var_keys(self, name: str) -> list[VarKey]:
        return [(name, elems) for elems in self._product(self.vars[name].index)]

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
            return self._combine(node, self.evaluate(node.left, env), self.evaluate(node.right, env))
        if isinstance(node, (E.Sum, E.Add)):
            total = LinExpr()
            self._add(node, env, 1.0, total)
            if total.terms:
                return total
            if not math.isfinite(total.const):
                raise _overflow(E.to_text(node)[:80])
            return total.const
        if isinstance(node, (E.Compare, E.BoolOp, E.Not)):
            raise GroundError(f"a condition is not allowed here: {E.to_text(node)}")
        raise GroundError(f"cannot evaluate {node!r}")

    def linear(self, node: E.Node, env: dict) -> LinExpr:
        out = LinExpr()
        self._add(node, env, 1.0, out)
        bad = first_nonfinite(out)
        if bad:
            raise NonFiniteError(f"{bad} (a number overflows); use smaller numbers or other units")
        return out

    def _add(self, node: E.Node, env: dict, coef: float, acc: LinExpr) -> None:
        """acc += coef * node: `linear` without a LinExpr per term.

        Sums, `+`, `-`, negation and `number * term` add into `acc` directly; everything else
        is evaluated and then added. Same results and errors as `evaluate`: where `evaluate`
        would first evaluate both operands of a `+` and only then reject an operand that is a
        set element (not a number), that `+` is evaluated as a whole.
        """
        if isinstance(node, E.Index):
            kind, elems = self._resolve(node, env)
            if kind == "variable":
                key = (node.name, elems)
                acc.terms[key] = acc.terms.get(key, 0.0) + coef
            else:
                acc.const += coef * self.table(node.name)[elems]
            return
        if isinstance(node, E.Sum):
            self._add_sum(node, env, coef, acc)
            return
        if isinstance(node, E.Add):
            if len(node.terms) > 1 and self._is_element(node.terms[0], env):
                self.evaluate(node.terms[1], env)  # errors in evaluation order: both operands of the first +
            for sign, term in zip(node.signs, node.terms):
                self._add(term, env, coef if sign == "+" else -coef, acc)
            return
        if isinstance(node, E.BinOp) and not self._is_element(node.left, env):
            if node.op in "+-":
                self._add(node.left, env, coef, acc)
                self._add(node.right, env, coef if node.op == "+" else -coef, acc)
                return
            if node.op == "*":
                a = self.evaluate(node.left, env)
                if isinstance(a, (int, float)):  # a number times anything: scale the other side
                    self._number(a, node.left)  # finite, or NonFiniteError
                    self._add(node.right, env, coef * a, acc)
                    return
                v = self._combine(node, a, self.evaluate(node.right, env))
            else:
                v = self.evaluate(node, env)
        elif isinstance(node, E.Neg) and not self._is_element(node.operand, env):
            self._add(node.operand, env, -coef, acc)
            return
        else:
            v = self.evaluate(node, env)
        if isinstance(v, LinExpr):
            for k, c in v.terms.items():
                acc.terms[k] = acc.terms.get(k, 0.0) + coef * c
            acc.const += coef * v.const
        else:
            acc.const += coef * self._number(v, node)

    @staticmethod
    def _is_element(node: E.Node, env: dict) -> bool:
        """An index name bound to an element that is a name, not a number."""
        return isinstance(node, E.Name) and isinstance(env.get(node.id), str) and elements.number(env[node.id]) is None

    def _add_sum(self, node: E.Sum, env: dict, coef: float, acc: LinExpr) -> None:
        seen: set[str] = set()
        for g in node.generators:
            if g.index in seen or g.index in env:
                raise GroundError(f"index {g.index} is already bound; use another name in sum(... for {g.index} in {g.set})")
            seen.add(g.index)
        indices = [g.index for g in node.generators]
        inner = dict(env)
        for count, elems in enumerate(self._product([g.set for g in node.generators]), 1):
            if not count & 0xFFF:  # the size is bounded before grounding (core.size); the time here
                self.check_deadline()
            inner.update(zip(indices, elems))
            if node.condition is not None and not self.condition(node.condition, inner):
                continue
            self._add(node.body, inner, coef, acc)

    def constant(self, node: E.Node, env: dict) -> float:
        v = self.evaluate(node, env)
        if isinstance(v, LinExpr):
            if not v.is_constant():
                raise GroundError(f"must be a constant, but {E.to_text(node)} contains variables")
            v = v.const
        return self._number(v, node)

    def check_deadline(self) -> None:
        if self.deadline is not None and time.monotonic() > self.deadline:
            raise BuildTimeout("building the model took longer than the time limit")

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
                eq = elements.same(a, b)
                return eq if node.op == "==" else not eq
            try:
                return elements.order(node.op, a, b)
            except elements.ElementOrderError as e:
                raise GroundError(f"{e}: {E.to_text(node)}") from None
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
        kind, key = self._resolve(node, env)
        if kind == "parameter":
            return self.table(node.name)[key]
        return LinExpr.var((node.name, key))

    def _resolve(self, node: E.Index, env: dict) -> tuple[str, tuple[Element, ...]]:
        """("parameter" | "variable", element tuple) of `name[args]`."""
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
            elem = None
            if isinstance(arg, E.Name) and arg.id in env:  # the common x[i, j]: a bound index
                elem = self.member(s, env[arg.id])
            key.append(elem if elem is not None else self._element(name, arg, s, env))
        return kind, tuple(key)

    def _element(self, name: str, arg: E.Node, s: str, env: dict) -> Element:
        """The element of set `s` that index expression `arg` of `name[...]` stands for."""
        raw = self.evaluate(arg, env)
        if isinstance(raw, LinExpr):
            if not raw.is_constant():
                raise GroundError(f"an index cannot contain variables: {name}[{E.to_text(arg)}]")
            raw = raw.const
        elem = self.member(s, raw)
        if elem is None:
            shown = int(raw) if isinstance(raw, float) and raw.is_integer() else raw
            raise GroundError(f"{name}[{E.to_text(arg)}]: {shown!r} is not an element of set {s}")
        return elem

    def _combine(self, node: E.BinOp, a: Value, b: Value) -> Value:
        """`a op b` for the evaluated operands of `node`."""
        la, lb = isinstance(a, LinExpr), isinstance(b, LinExpr)
        if node.op in "+-":
            sign = 1.0 if node.op == "+" else -1.0
            if not la and not lb:
                return _finite(self._number(a, node.left) + sign * self._number(b, node.right), node)
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
            return _finite(self._number(a, node.left) * self._number(b, node.right), node)
        # division
        if lb:
            if not b.is_constant():
                raise NonlinearError(f"nonlinear term {E.to_text(node)}: division by a variable term")
            d = b.const
        else:
            d = self._number(b, node.right)
        if d == 0:
            raise GroundError(f"division by zero in {E.to_text(node)}")
        return a.scaled(_finite(1.0 / d, node)) if la else _finite(self._number(a, node.left) / d, node)

    @staticmethod
    def _number(v: Value, node: E.Node) -> float:
        if isinstance(v, LinExpr):
            if v.is_constant():
                return _finite(v.const, node)
            raise GroundError(f"{E.to_text(node)} must be a constant")
        if isinstance(v, str):
            n = elements.number(v)
            if n is None:
                raise GroundError(f"element {v!r} is a name, not a number, in {E.to_text(node)}")
            return _finite(n, node)
        try:
            return _finite(float(v), node)
        except OverflowError:  # an integer element beyond float range
            raise _overflow(E.to_text(node)[:80]) from None


def _finite(v: float, node: E.Node) -> float:
    if not math.isfinite(v):
        raise _overflow(E.to_text(node)[:80])
    return v


def _fill(table: dict, prefix: tuple, value, sets: list[list], set_names: list[str], pname: str,
          at: tuple[int, ...] = ()) -> None:
    path = "".join(f"[{k}]" for k in at)  # positions in the nested lists, for messages
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
    if len(sets) == 1 and not any(isinstance(v, list) for v in value):  # the innermost list: numbers
        for elem, v in zip(sets[0], value):
            table[prefix + (elem,)] = float(v)
        return
    for k, (elem, sub) in enumerate(zip(sets[0], value)):
        _fill(table, prefix + (elem,), sub, sets[1:], set_names[1:], pname, at + (k,))

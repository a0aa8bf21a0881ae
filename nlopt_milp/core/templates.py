"""The constraint-template catalog.

Each template declares the kind of each slot (so validation is generic and paths are
precise), renders a one-line human description, and emits plain linear comparisons.
The LLM only names a template and fills its slots; this module writes the algebra,
including the big-M linearizations of the logical templates.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Callable

from . import expr as E
from .formulation import Formulation, General, GeneralSlots, Parameter, Variable
from .ground import Data, GroundError, LinExpr, var_label

# Slot kinds: how each slot is parsed and checked.
LINEAR = "linear"            # a linear expression (variables allowed)
CONSTANT = "constant"        # no variables
FRACTION = "fraction"        # constant in [0, 1]
BINARY = "binary"            # exactly one binary variable
COMPARISON = "comparison"    # lhs <=|>=|== rhs, linear
LINEAR_LIST = "linear_list"
BINARY_LIST = "binary_list"  # each term a binary variable or a sum of binaries


@dataclass
class Template:
    name: str
    title: str
    slots: dict[str, str]  # slot -> kind; optional slots may be None in the data
    render: Callable[[dict], str]  # slot texts -> one line for humans
    emit: Callable[["Emitter", dict], None]  # slot nodes -> comparisons


@dataclass
class Emission:
    """What one constraint expands to."""

    comparisons: list[tuple[str, E.Compare]] = field(default_factory=list)  # (name suffix, comparison)
    variables: list[Variable] = field(default_factory=list)
    parameters: list[Parameter] = field(default_factory=list)
    objective_terms: list[E.Node] = field(default_factory=list)  # added as a cost (sign by sense)
    derived: list[E.Node] = field(default_factory=list)  # excesses whose big-M was (or would be) derived


class Emitter:
    """Helper passed to a template's emit: builds comparisons, aux variables and big-M parameters."""

    def __init__(self, constraint, data: Data, taken: set[str], derive: bool = True):
        self.c = constraint
        self.data = data
        self.taken = taken
        self.derive = derive  # False: structure only (big-M as a placeholder), nothing is grounded
        self.out = Emission()

    # building blocks
    def add(self, op: str, lhs: E.Node, rhs: E.Node, suffix: str = "") -> None:
        self.out.comparisons.append((suffix, E.Compare(op, lhs, rhs)))

    def fresh(self, base: str) -> str:
        name, k = base[:60], 2
        while name in self.taken:
            name, k = f"{base[:57]}_{k}", k + 1
        self.taken.add(name)
        return name

    def ref(self, name: str) -> E.Node:
        """Reference to an aux component indexed like the constraint."""
        if not self.c.forall:
            return E.Name(name)
        return E.Index(name, tuple(E.Name(b.index) for b in self.c.forall))

    def aux_binary(self, role: str) -> E.Node:
        name = self.fresh(f"{role}_{self.c.name}")
        self.out.variables.append(
            Variable(name=name, index=[b.set for b in self.c.forall], domain="binary",
                     description=f"auxiliary binary of constraint {self.c.name} ({role})")
        )
        return self.ref(name)

    def big_m(self, given: E.Node | None, excess: E.Node, what: str, slot: str = "big_m") -> E.Node:
        """A big-M for `excess <= M` when relaxed: the given slot, or the max of `excess` over bounds."""
        if given is not None:
            return given
        self.out.derived.append(excess)
        if not self.derive:
            return ONE
        values = {}
        for env in instances(self.c, self.data):
            lin = self.data.linear(excess, env)
            hi, culprit = upper(lin, self.data)
            if math.isinf(hi):
                why = (f"variable {culprit} has no finite bound; bound it" if culprit else
                       "the variable bounds are so large that it overflows; use smaller bounds")
                err = GroundError(f"cannot derive a big-M for {what}{_where(self.c, env)}: {why} or give slots.{slot}")
                err.slot = what.split(" ")[0]  # the slot path, for validate
                raise err
            values[_key(self.c, env)] = max(hi, 0.0)
        name = self.fresh(f"bigM_{self.c.name}")
        self.out.parameters.append(
            Parameter(name=name, index=[b.set for b in self.c.forall], value=_nested(self.c, self.data, values),
                      description=f"big-M of constraint {self.c.name}, derived from variable bounds")
        )
        return self.ref(name)


def upper(lin: LinExpr, data: Data) -> tuple[float, str]:
    """Largest value of a linear expression over the variable bounds, and a variable that makes it infinite."""
    total = lin.const
    for key, c in lin.terms.items():
        if c == 0:
            continue
        b = data.var_bound(key, "upper" if c > 0 else "lower")
        if math.isinf(b):
            return math.inf, var_label(key)
        total += c * b
    if not math.isfinite(total):  # finite bounds whose total overflows: no culprit to name
        return math.inf, ""
    return total, ""


def instances(c, data: Data):
    """Index environments of a quantified constraint, after its `where` filter."""
    cond = E.parse_condition(c.where) if c.where else None
    for k, env in enumerate(data.combos([(b.index, b.set) for b in c.forall]), 1):
        if not k & 0x3FF:
            data.check_deadline()
        if cond is None or data.condition(cond, env):
            yield env


def _key(c, env) -> tuple:
    return tuple(env[b.index] for b in c.forall)


def _where(c, env) -> str:
    if not c.forall:
        return ""
    return " for " + ", ".join(f"{b.index}={env[b.index]!r}" for b in c.forall)


def _nested(c, data: Data, values: dict[tuple, float], prefix: tuple = ()):
    k = len(prefix)
    if k == len(c.forall):
        return values.get(prefix, 0.0)
    return [_nested(c, data, values, prefix + (e,)) for e in data.sets[c.forall[k].set]]


# --- node helpers --------------------------------------------------------------------

def _sum(nodes: list[E.Node]) -> E.Node:
    # one flat node: a 210-term list must not become a 210-level chain
    return nodes[0] if len(nodes) == 1 else E.Add(tuple(nodes), ("+",) * len(nodes))


def _sub(a: E.Node, b: E.Node) -> E.Node:
    return E.BinOp("-", a, b)


def _mul(a: E.Node, b: E.Node) -> E.Node:
    return E.BinOp("*", a, b)


ONE = E.Num(1.0)
ZERO = E.Num(0.0)


def _relax(em: Emitter, cmp: E.Compare, switch: E.Node, big_m: E.Node | None, what: str, suffix: str) -> None:
    """Emit `cmp` so that it holds when switch == 0 and is relaxed by M * switch."""
    parts = []
    if cmp.op in ("<=", "=="):
        parts.append(("le", _sub(cmp.left, cmp.right)))
    if cmp.op in (">=", "=="):
        parts.append(("ge", _sub(cmp.right, cmp.left)))
    for tag, excess in parts:
        m = em.big_m(big_m, excess, what)
        em.add("<=", excess, _mul(m, switch), suffix + (f"_{tag}" if len(parts) > 1 else ""))


# --- emitters ------------------------------------------------------------------------

def _emit_upper(em, s):
    em.add("<=", s["var"], s["limit"])


def _emit_lower(em, s):
    em.add(">=", s["var"], s["limit"])


def _emit_sum(em, s):
    em.add(s["sense"], _sum(s["terms"]), s["limit"])


def _emit_ratio(em, s):
    em.add(s["sense"], s["var"], _mul(s["ratio"], _sum(s["total"])))


def _emit_multiple(em, s):
    em.add(s["sense"], s["x"], _mul(s["factor"], s["y"]))


def _emit_comparison(em, s):
    em.add(s["sense"], s["x"], s["y"])


def _emit_balance(em, s):
    em.add(s["sense"], _sub(s["inflow"], s["outflow"]), s["demand"])


def _emit_assignment(em, s):
    gens = tuple(E.Generator(b.index, b.set) for b in s["over"])
    em.add(s["sense"], E.Sum(s["var"], gens), s["count"])


def _emit_if_then(em, s):
    # y = 1 ⇒ then  ⇔  excess(then) <= M (1 - y)
    _relax(em, s["then"], _sub(ONE, s["condition"]), s["big_m"], "slots.then", "")


def _emit_either_or(em, s):
    z = em.aux_binary("either")
    _relax(em, s["first"], z, s["big_m"], "slots.first", "_first")
    _relax(em, s["second"], _sub(ONE, z), s["big_m"], "slots.second", "_second")


def _emit_k_of_n(em, s):
    op = {"at_least": ">=", "at_most": "<=", "exactly": "=="}[s["mode"]]
    em.add(op, _sum(s["terms"]), s["k"])


def _emit_fixed_charge(em, s):
    cap = s["capacity"] if s["capacity"] is not None else em.big_m(None, s["var"], "slots.var (no capacity given)", "capacity")
    em.add("<=", s["var"], _mul(cap, s["indicator"]))
    if s["cost"] is not None:
        em.out.objective_terms.append(_mul(s["cost"], s["indicator"]))


def _emit_mutex(em, s):
    em.add("<=", _sum(s["terms"]), ONE)


def _emit_dependency(em, s):
    em.add("<=", s["if_var"], s["then_var"])


def _emit_semicontinuous(em, s):
    y = s["indicator"] if s["indicator"] is not None else em.aux_binary("on")
    hi = s["maximum"] if s["maximum"] is not None else em.big_m(None, s["var"], "slots.var (no maximum given)", "maximum")
    em.add(">=", s["var"], _mul(s["minimum"], y), "_min")
    em.add("<=", s["var"], _mul(hi, y), "_max")


def _emit_general(em, s):
    em.add(s["expr"].op, s["expr"].left, s["expr"].right)


def _t(*parts: str) -> Callable[[dict], str]:
    """A renderer from a format string over slot texts."""
    fmt = "".join(parts)
    return lambda s: fmt.format(**s)


def _render_list(s: dict, key: str) -> str:
    return " + ".join(s[key])


CATALOG: dict[str, Template] = {t.name: t for t in [
    Template("upper_bound", "upper bound", {"var": LINEAR, "limit": CONSTANT},
             _t("{var} is at most {limit}"), _emit_upper),
    Template("lower_bound", "lower bound", {"var": LINEAR, "limit": CONSTANT},
             _t("{var} is at least {limit}"), _emit_lower),
    Template("sum_bound", "total bound", {"terms": LINEAR_LIST, "limit": CONSTANT},
             lambda s: f"total of {_render_list(s, 'terms')} {s['sense']} {s['limit']}", _emit_sum),
    Template("linear", "resource / demand", {"terms": LINEAR_LIST, "limit": CONSTANT},
             lambda s: f"{_render_list(s, 'terms')} {s['sense']} {s['limit']}", _emit_sum),
    Template("ratio", "ratio / proportion", {"var": LINEAR, "total": LINEAR_LIST, "ratio": FRACTION},
             lambda s: f"{s['var']} is {'at least' if s['sense'] == '>=' else 'at most' if s['sense'] == '<=' else 'exactly'} "
                       f"{s['ratio']} of the total {_render_list(s, 'total')}", _emit_ratio),
    Template("multiple", "multiple comparison", {"x": LINEAR, "factor": CONSTANT, "y": LINEAR},
             _t("{x} {sense} {factor} times {y}"), _emit_multiple),
    Template("comparison", "pairwise comparison", {"x": LINEAR, "y": LINEAR},
             _t("{x} {sense} {y}"), _emit_comparison),
    Template("balance", "flow balance", {"inflow": LINEAR, "outflow": LINEAR, "demand": CONSTANT},
             _t("inflow {inflow} minus outflow {outflow} {sense} {demand}"), _emit_balance),
    Template("assignment", "assignment / partition", {"var": LINEAR, "count": CONSTANT},
             lambda s: f"sum of {s['var']} over {', '.join(b['index'] + ' in ' + b['set'] for b in s['over'])} "
                       f"{s['sense']} {s['count']}", _emit_assignment),
    Template("if_then", "if-then (indicator)", {"condition": BINARY, "then": COMPARISON, "big_m": CONSTANT},
             _t("if {condition} = 1 then {then}"), _emit_if_then),
    Template("either_or", "either-or", {"first": COMPARISON, "second": COMPARISON, "big_m": CONSTANT},
             _t("either {first} or {second}"), _emit_either_or),
    Template("k_of_n", "k of n", {"terms": BINARY_LIST, "k": CONSTANT},
             lambda s: f"{s['mode'].replace('_', ' ')} {s['k']} of {', '.join(s['terms'])}", _emit_k_of_n),
    Template("fixed_charge", "fixed charge / setup", {"var": LINEAR, "indicator": BINARY, "capacity": CONSTANT,
                                                      "cost": CONSTANT},
             lambda s: f"{s['var']} needs setup {s['indicator']}"
                       + (f" (at most {s['capacity']})" if s.get("capacity") else "")
                       + (f", setup cost {s['cost']}" if s.get("cost") else ""), _emit_fixed_charge),
    Template("mutual_exclusion", "mutual exclusion", {"terms": BINARY_LIST},
             lambda s: f"at most one of {', '.join(s['terms'])}", _emit_mutex),
    Template("dependency", "dependency", {"if_var": BINARY, "then_var": BINARY},
             _t("{if_var} requires {then_var}"), _emit_dependency),
    Template("semi_continuous", "minimum lot (semi-continuous)",
             {"var": LINEAR, "minimum": CONSTANT, "maximum": CONSTANT, "indicator": BINARY},
             lambda s: f"{s['var']} is 0 or between {s['minimum']} and {s.get('maximum') or 'its upper bound'}",
             _emit_semicontinuous),
    Template("general", "general linear", {"expr": COMPARISON}, _t("{expr}"), _emit_general),
]}


def parse_slot(kind: str, text: str):
    if kind == COMPARISON:
        return E.parse_comparison(text)
    return E.parse(text)


def parsed_slots(c) -> dict:
    """Slot values with expression strings parsed into nodes (lists parsed item by item).

    Raises `SlotError(slot_path, ExprError)` for the first bad slot; `validate` reports all of them.
    """
    tmpl = CATALOG[c.template]
    out: dict = {}
    for key, value in c.slots:
        kind = tmpl.slots.get(key)
        if kind is None or value is None:
            out[key] = value
        elif isinstance(value, list):
            out[key] = [_parse_at(kind, v, f"slots.{key}[{k}]") for k, v in enumerate(value)]
        else:
            out[key] = _parse_at(kind, value, f"slots.{key}")
    return out


class SlotError(E.ExprError):
    """An ExprError in a named slot (so `except ExprError` catches bad slots too)."""

    def __init__(self, path: str, error: E.ExprError):
        super().__init__(f"{path}: {error.reason}", error.text, error.pos)
        self.path, self.error = path, error


def _parse_at(kind, text, path):
    try:
        return parse_slot(kind, text)
    except E.ExprError as e:
        raise SlotError(path, e) from None


def render(c) -> str:
    """One line for humans, e.g. 'telecom >= 3 times healthcare'."""
    tmpl = CATALOG[c.template]
    s = {k: _one_line(v) for k, v in c.slots.model_dump().items()}
    line = tmpl.render(s)
    if c.forall:
        line += " for each " + ", ".join(f"{b.index} in {b.set}" for b in c.forall)
        if c.where:
            line += f" with {_one_line(c.where)}"
    return line


def _one_line(v):
    """Slot text as written, on one line (expressions may contain newlines)."""
    if isinstance(v, str):
        return " ".join(v.split())
    if isinstance(v, list):
        return [_one_line(x) for x in v]
    return v


def emit(c, data: Data, taken: set[str], derive: bool = True) -> Emission:
    """What constraint `c` expands to; with `derive=False` big-Ms are placeholders (no grounding)."""
    em = Emitter(c, data, taken, derive)
    CATALOG[c.template].emit(em, parsed_slots(c))
    return em.out


def _unique(name: str, taken: set[str]) -> str:
    out, k = name, 2
    while out in taken:
        tail = f"_{k}"
        out, k = name[:64 - len(tail)] + tail, k + 1
    taken.add(out)
    return out


@dataclass
class Linearized:
    """A formulation with only general linear constraints, and the nodes it was made from.

    `formulation` holds the constraints as text (for export and display); the model is
    built from `comparisons` and `objective`, never from re-parsed text, so whatever
    validates also builds, however long the generated text is.
    """

    formulation: Formulation
    comparisons: dict[str, E.Compare]  # linearized constraint name -> its comparison
    objective: E.Node
    data: Data | None = None  # the evaluation context of `formulation` (kept so building need not redo it)


def linearize(f: Formulation) -> Formulation:
    """Reduction: a formulation with templates -> one with only general linear constraints.

    Auxiliary binaries and big-M parameters are added as ordinary variables and parameters;
    fixed-charge costs are added to the objective. Assumes `f` is valid.
    """
    return linearize_nodes(f).formulation


def linearize_nodes(f: Formulation, deadline: float | None = None, data: Data | None = None) -> Linearized:
    """`linearize`, keeping the nodes; `deadline` (time.monotonic()) bounds big-M derivation.

    `data`: the evaluation context of `f` if the caller has one (it is extended, not changed).
    """
    data = Data(f) if data is None else data.extended([], [])
    data.deadline = deadline
    taken = {s.name for s in f.sets} | {p.name for p in f.parameters} | {v.name for v in f.variables}
    taken |= {c.name for c in f.constraints}
    params, variables, constraints = list(f.parameters), list(f.variables), []
    comparisons: dict[str, E.Compare] = {}
    extra_cost: list[E.Node] = []
    for c in f.constraints:
        out = emit(c, data, taken)
        params += out.parameters
        variables += out.variables
        if out.parameters or out.variables:
            data = data.extended(out.parameters, out.variables)
        for suffix, cmp in out.comparisons:
            # a suffixed name must not clash with another constraint's name (or be cut back to c.name)
            name = c.name if not suffix else _unique(c.name[:64 - len(suffix)] + suffix, taken)
            comparisons[name] = cmp
            constraints.append(General(
                template="general", name=name, source=c.source, forall=c.forall, where=c.where,
                slots=GeneralSlots(expr=E.to_text(cmp)),
            ))
        extra_cost += objective_costs(c, out)
    objective = f.objective
    obj = E.parse(f.objective.expr)
    if extra_cost:
        sign = "+" if f.objective.sense == "minimize" else "-"
        obj = E.Add((obj, *extra_cost), ("+",) + (sign,) * len(extra_cost))
        objective = f.objective.model_copy(update={"expr": E.to_text(obj)})
    lf = f.model_copy(update={"parameters": params, "variables": variables, "constraints": constraints,
                              "objective": objective})
    return Linearized(lf, comparisons, obj, data)


def objective_costs(c, out: Emission) -> list[E.Node]:
    """The objective terms of constraint `c` (fixed-charge costs), summed over its forall."""
    gens = tuple(E.Generator(b.index, b.set) for b in c.forall)
    cond = E.parse_condition(c.where) if c.where else None
    return [E.Sum(term, gens, cond) if gens else term for term in out.objective_terms]

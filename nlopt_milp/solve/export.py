"""Export a formulation: a standalone Pyomo script, LP / MPS files, LaTeX, Markdown.

`emit(formulation, to)` returns text:

- ``"pyomo"``: a readable, self-contained Pyomo script built from `linearize(f)`: one
  `Set` per set, one `Param` per parameter, one `Var` per variable, one `Constraint`
  per linearized constraint (quantified ones as indexed constraints with a rule
  function), the objective, and a solve with HiGHS (`appsi_highs`) that prints the
  status, the objective value and the nonzero variables. Run it with `python file.py`.
- ``"lp"`` / ``"mps"``: the flat model (`to_linear_model` -> `to_pyomo`) written by
  Pyomo with symbolic labels, so rows and columns keep the formulation's names.
- ``"latex"``: an amsmath `align*` rendering (sets, parameters, variables, objective,
  and every original constraint's linear comparisons tagged with its template title).
- ``"markdown"``: a human description with tables of sets, parameters, variables and
  constraints (name, template, meaning, source sentence).

Safety of the Pyomo script: the only code in it that derives from the formulation is
the rendering of *parsed* expressions (`expr.to_python` over this module's renamed
nodes), numbers printed by this module, and `repr()` of set elements. Every free text
(names of the model, sentences, descriptions, template renderings) goes into a comment
or a string literal through `repr()`, which escapes quotes, newlines and other
non-printable characters, so no text can end the comment or the literal.
"""

from __future__ import annotations

import json
import keyword
import math
import os
import re
import tempfile
import unicodedata
from dataclasses import dataclass

from ..core import elements
from ..core import expr as E
from ..core.formulation import Formulation
from ..core.ground import Data
from ..core.templates import (CATALOG, Linearized, emit as emit_template, instances, linearize, linearize_nodes,
                              render)
from ..core.text import safe_text

FORMATS = ("pyomo", "lp", "mps", "latex", "markdown")

__all__ = ["FORMATS", "emit", "to_pyomo_script", "to_lp", "to_mps", "to_latex", "to_markdown"]


def emit(f: Formulation, to: str) -> str:
    """Render a valid formulation as `to` (one of `FORMATS`)."""
    kind = (to or "").strip().lower()
    if kind == "pyomo":
        return to_pyomo_script(f)
    if kind == "lp":
        return to_lp(f)
    if kind == "mps":
        return to_mps(f)
    if kind == "latex":
        return to_latex(f)
    if kind in ("markdown", "md"):
        return to_markdown(f)
    raise ValueError(f"unknown export format {to!r}; one of: {', '.join(FORMATS)}")


# --- shared: grouping linearized constraints by their original --------------------------


@dataclass
class _Group:
    original: object | None  # the formulation constraint (None when grouping failed)
    linear: list  # its `general` constraints in linearize(f)


def _groups(f: Formulation, lf: Formulation) -> list[_Group]:
    """Line up linearize(f).constraints with f.constraints (linearize keeps the order)."""
    counts: list[int] = []
    try:
        data = Data(f)
        taken = {s.name for s in f.sets} | {p.name for p in f.parameters} | {v.name for v in f.variables}
        taken |= {c.name for c in f.constraints}
        for c in f.constraints:
            counts.append(len(emit_template(c, data, set(taken)).comparisons))
    except Exception:  # noqa: BLE001 - grouping is cosmetic; fall back to one group per row
        counts = []
    if len(counts) != len(f.constraints) or sum(counts) != len(lf.constraints):
        return [_Group(None, [lc]) for lc in lf.constraints]
    out, k = [], 0
    for c, n in zip(f.constraints, counts):
        out.append(_Group(c, list(lf.constraints[k:k + n])))
        k += n
    return out


def _title(c) -> str:
    return CATALOG[c.template].title if c.template in CATALOG else c.template


def _one_line(text: str) -> str:
    """Collapse every kind of line break (and runs of blanks) to single spaces."""
    return " ".join(text.split())


# --- numbers and elements --------------------------------------------------------------


def _num(v) -> str:
    """A number as Python source: integers without '.0', non-finite as float('...')."""
    v = float(v)
    if not math.isfinite(v):
        return f"float({str(v)!r})"
    if v == int(v) and abs(v) < 1e15:
        return str(int(v))
    return repr(v)


def _elem(e) -> str:
    """A set element as Python source: its `elements.python_value`, so that Python's `==`, `<` and
    arithmetic in the script follow the element rule ("1" is the number 1, as 1 and 1.0 are)."""
    return repr(elements.python_value(e))


def _key(idx: tuple) -> str:
    return _elem(idx[0]) if len(idx) == 1 else "(" + ", ".join(_elem(e) for e in idx) + ")"


# --- Pyomo script ---------------------------------------------------------------------


_SCRIPT_GLOBALS = {"m", "pyo", "sum", "as_constraint"}


def _reserved_model_attrs() -> set[str]:
    import pyomo.environ as pyo

    return set(dir(pyo.ConcreteModel()))


def _identifier(name: str, prefix: str) -> str:
    """`name` if it is a plain ASCII identifier, else a sanitized one (names are validated; belt and braces)."""
    if name.isascii() and name.isidentifier():
        return name
    return prefix + "".join(ch if ch.isascii() and ch.isalnum() else "_" for ch in name)


def _label(name: str) -> str:
    """A name for a comment: as is when it is a plain identifier, else repr()."""
    return name if name.isascii() and name.isidentifier() else repr(name)


class _Names:
    """Python names for model components (attributes of `m`) and for rule-local indices."""

    def __init__(self):
        self.reserved = _reserved_model_attrs() | set(keyword.kwlist)
        self.components: dict[tuple[str, str], str] = {}  # (kind, formulation name) -> attribute
        self.used: set[str] = set()

    def component(self, kind: str, name: str) -> str:
        py = _identifier(name, "c_")
        while py in self.used or py in self.reserved or py.startswith("_"):
            py += "_"
        self.used.add(py)
        self.components[(kind, name)] = py
        return py

    def local(self, name: str, scope: dict) -> str:
        """Name of an index variable in a rule body: never a component, keyword or global."""
        taken_in_scope = {py for orig, (py, _) in scope.items() if orig != name}
        py = _identifier(name, "i_")
        while (not py.isidentifier() or keyword.iskeyword(py) or py in _SCRIPT_GLOBALS
               or py in self.used or py in taken_in_scope):
            py += "_"
        return py


class _PyRenderer:
    """Renders parsed expressions as Pyomo rule source, with safe names and exact elements.

    - model components are referenced by their (possibly renamed) attribute (`m.x`);
    - quantified indices get safe local names (an index `m` becomes `m_`);
    - quoted elements become their `elements.python_value` (`x['1']` is `x[1]`), as the sets do.
    """

    def __init__(self, lf: Formulation, names: _Names, data: Data):
        self.names = names
        self.data = data
        self.comp: dict[str, str] = {}
        for kind, items in (("set", lf.sets), ("param", lf.parameters), ("var", lf.variables)):
            for it in items:
                self.comp[it.name] = names.components[(kind, it.name)]
        self.index_sets: dict[str, list[str]] = {p.name: list(p.index) for p in lf.parameters}
        self.index_sets.update({v.name: list(v.index) for v in lf.variables})
        self.model_names = frozenset(self.comp.values())

    # entry points
    def expr(self, node: E.Node, scope: dict) -> str:
        return E.to_python(self.node(node, scope), self.model_names)

    def bind(self, bindings, scope: dict | None = None) -> dict:
        """Extend a scope with `[(index, set), ...]`: orig -> (python name, set)."""
        scope = dict(scope or {})
        for idx, s in bindings:
            scope[idx] = (self.names.local(idx, scope), s)
        return scope

    # the node transform
    def node(self, n: E.Node, scope: dict) -> E.Node:
        r = lambda x: self.node(x, scope)  # noqa: E731
        if isinstance(n, E.Num):
            if not math.isfinite(n.value):
                raise ValueError(f"cannot export the non-finite number {n.value!r}")
            return n
        if isinstance(n, E.Str):
            v = elements.python_value(n.value)
            return E.Str(v) if isinstance(v, str) else E.Num(float(v))
        if isinstance(n, E.Name):
            if n.id in scope:
                return E.Name(scope[n.id][0])
            if n.id in self.comp:
                return E.Name(self.comp[n.id])
            raise ValueError(f"unknown name {n.id} in an expression")
        if isinstance(n, E.Index):
            if n.name not in self.comp or n.name not in self.index_sets:
                raise ValueError(f"unknown indexed name {n.name} in an expression")
            return E.Index(self.comp[n.name], tuple(r(a) for a in n.args))
        if isinstance(n, E.Add):
            return E.Add(tuple(r(t) for t in n.terms), n.signs)
        if isinstance(n, E.BinOp):
            return E.BinOp(n.op, r(n.left), r(n.right))
        if isinstance(n, E.Neg):
            return E.Neg(r(n.operand))
        if isinstance(n, E.Not):
            return E.Not(r(n.operand))
        if isinstance(n, E.BoolOp):
            return E.BoolOp(n.op, tuple(r(v) for v in n.values))
        if isinstance(n, E.Compare):
            return E.Compare(n.op, r(n.left), r(n.right))
        if isinstance(n, E.Sum):
            inner = dict(scope)
            gens = []
            for g in n.generators:
                inner = self.bind([(g.index, g.set)], inner)
                if g.set not in self.comp:
                    raise ValueError(f"unknown set {g.set} in a sum")
                gens.append(E.Generator(inner[g.index][0], self.comp[g.set]))
            body = self.node(n.body, inner)
            cond = self.node(n.condition, inner) if n.condition is not None else None
            return E.Sum(body, tuple(gens), cond)
        raise TypeError(f"not a node: {n!r}")


def _negated(cond: E.Node) -> E.Node:
    if isinstance(cond, E.Compare):
        op = {"==": "!=", "!=": "==", "<": ">=", "<=": ">", ">": "<=", ">=": "<"}[cond.op]
        return E.Compare(op, cond.left, cond.right)
    if isinstance(cond, E.Not):
        return cond.operand
    return E.Not(cond)


def _comment(label: str, text: str) -> str:
    """A one-line comment; the text goes through repr() so it cannot break the line."""
    return f"# {label}{text!r}"


def _indent_dict(entries: list[str], per_line: int, indent: str) -> str:
    if len(entries) <= per_line:
        return "{" + ", ".join(entries) + "}"
    lines = ["{"]
    for k in range(0, len(entries), per_line):
        lines.append(indent + "    " + ", ".join(entries[k:k + per_line]) + ",")
    lines.append(indent + "}")
    return "\n".join(lines)


def to_pyomo_script(f: Formulation) -> str:
    """A standalone, readable Pyomo script of the linearized formulation that solves it with HiGHS."""
    lin = linearize_nodes(f)  # nodes, not re-parsed text: generated text may exceed the input limits
    lf = lin.formulation
    data = Data(lf)
    names = _Names()
    for s in lf.sets:
        names.component("set", s.name)
    for p in lf.parameters:
        names.component("param", p.name)
    for v in lf.variables:
        names.component("var", v.name)
    ren = _PyRenderer(lf, names, data)
    groups = _groups(f, lf)
    con_py = {}
    for g in groups:
        for lc in g.linear:
            con_py[id(lc)] = names.component("constraint", lc.name)
    obj_py = names.component("objective", "obj")

    out: list[str] = []
    w = out.append
    w("#!/usr/bin/env python3")
    w("# Pyomo model generated by nlopt_milp from a validated formulation.")
    if lf.name:
        w(_comment("formulation: ", lf.name))
    w("# Run: python <this file>   (needs pyomo and highspy)")
    w("# Logical templates are already linearized (big-M, auxiliary binaries).")
    w("import pyomo.environ as pyo")
    w("")
    w(f"m = pyo.ConcreteModel(name={(lf.name or 'nlopt_milp')!r})")

    def doc(item) -> str:
        return f", doc={item.description!r}" if item.description else ""

    if lf.sets:
        w("")
        w("# --- sets ---")
        for s in lf.sets:
            elems = ", ".join(_elem(e) for e in s.elements)
            w(f"m.{names.components[('set', s.name)]} = pyo.Set(initialize=[{elems}], ordered=True{doc(s)})")

    if lf.parameters:
        w("")
        w("# --- parameters ---")
        for p in lf.parameters:
            py = names.components[("param", p.name)]
            table = data.table(p.name)
            if not p.index:
                w(f"m.{py} = pyo.Param(initialize={_num(table[()])}{doc(p)})")
                continue
            sets = ", ".join(f"m.{names.components[('set', s)]}" for s in p.index)
            entries = [f"{_key(k)}: {_num(v)}" for k, v in table.items()]
            per_line = max(1, len(data.sets[p.index[-1]])) if len(p.index) > 1 else 8
            w(f"m.{py} = pyo.Param({sets}, initialize={_indent_dict(entries, min(per_line, 8), '')}{doc(p)})")

    w("")
    w("# --- variables ---")
    domains = {"continuous": "pyo.Reals", "integer": "pyo.Integers", "binary": "pyo.Binary"}
    for v in lf.variables:
        py = names.components[("var", v.name)]
        idx_sets = [f"m.{names.components[('set', s)]}" for s in v.index]
        args = idx_sets + [f"domain={domains[v.domain]}"]
        bound_rule = None
        if v.domain == "binary":
            lo = 0.0 if not isinstance(v.lower, (int, float)) else max(0.0, float(v.lower))
            hi = 1.0 if not isinstance(v.upper, (int, float)) else min(1.0, float(v.upper))
            if (lo, hi) != (0.0, 1.0):
                args.append(f"bounds=({_num(lo)}, {_num(hi)})")
        elif isinstance(v.lower, str) or isinstance(v.upper, str):
            locals_ = [f"i{k}" for k in range(len(v.index))]

            def bound_src(b) -> str:
                if b is None:
                    return "None"
                if isinstance(b, str):
                    p = data.params[b]
                    pp = names.components[("param", b)]
                    return f"pyo.value(m.{pp}[{', '.join(locals_)}])" if p.index else f"pyo.value(m.{pp})"
                return _num(b)

            bound_rule = f"{py}_bounds"
            w(f"def {bound_rule}(m{''.join(', ' + x for x in locals_)}):")
            w(f"    return ({bound_src(v.lower)}, {bound_src(v.upper)})")
            args.append(f"bounds={bound_rule}")
        else:
            lo = "None" if v.lower is None else _num(v.lower)
            hi = "None" if v.upper is None else _num(v.upper)
            args.append(f"bounds=({lo}, {hi})")
        w(f"m.{py} = pyo.Var({', '.join(args)}{doc(v)})")

    # constraints
    trivial = _trivial_constraints(lin, data)
    if any(trivial.values()):
        w("")
        w("")
        w("def as_constraint(relation):")
        w("    \"\"\"Pyomo rejects a comparison without variables (True/False): map it to Feasible/Infeasible.\"\"\"")
        w("    if relation is True:")
        w("        return pyo.Constraint.Feasible")
        w("    if relation is False:")
        w("        return pyo.Constraint.Infeasible")
        w("    return relation")
    if groups:
        w("")
        w("# --- constraints ---")
    for g in groups:
        w("")
        if g.original is not None:
            c = g.original
            w(f"# {_label(c.name)}: {_title(c)}")
            w(_comment("  meaning: ", render(c)))
            if c.source:
                w(_comment("  source:  ", c.source))
        else:
            c = g.linear[0]
            w(f"# {_label(c.name)}")
            if c.source:
                w(_comment("  source:  ", c.source))
        for lc in g.linear:
            py = con_py[id(lc)]
            cmp = lin.comparisons[lc.name]
            wrap = trivial.get(lc.name, False)
            if not lc.forall:
                body = ren.expr(cmp, {})
                if wrap:
                    body = f"as_constraint({body})"
                w(f"m.{py} = pyo.Constraint(expr={body})")
                continue
            scope = ren.bind([(b.index, b.set) for b in lc.forall])
            params = ", ".join(scope[b.index][0] for b in lc.forall)
            w(f"def {py}_rule(m, {params}):")
            if lc.where:
                cond = ren.expr(_negated(E.parse_condition(lc.where)), scope)
                w(f"    if {cond}:")
                w("        return pyo.Constraint.Skip")
            body = ren.expr(cmp, scope)
            w(f"    return {f'as_constraint({body})' if wrap else body}")
            sets = ", ".join(f"m.{names.components[('set', b.set)]}" for b in lc.forall)
            w(f"m.{py} = pyo.Constraint({sets}, rule={py}_rule)")

    w("")
    w("# --- objective ---")
    obj = lin.objective
    if lf.objective.expr != f.objective.expr:
        w("# (includes the setup costs of fixed-charge constraints)")
    sense = "pyo.maximize" if lf.objective.sense == "maximize" else "pyo.minimize"
    w(f"m.{obj_py} = pyo.Objective(expr={ren.expr(obj, {})}, sense={sense})")

    w("")
    w("")
    w("if __name__ == \"__main__\":")
    w("    solver = pyo.SolverFactory(\"appsi_highs\")")
    w("    results = solver.solve(m, load_solutions=False)")
    w("    status = results.solver.termination_condition")
    w("    print(\"status:\", status)")
    w("    if status != pyo.TerminationCondition.optimal:")
    w("        raise SystemExit(1)")
    w("    m.solutions.load_from(results)")
    w(f"    print(\"objective =\", repr(pyo.value(m.{obj_py})))")
    w("    for v in m.component_data_objects(pyo.Var, descend_into=True):")
    w("        if v.value is not None and abs(v.value) > 1e-9:")
    w("            print(f\"{v.name} = {v.value:.10g}\")")
    return "\n".join(out) + "\n"


def _trivial_constraints(lin: Linearized, data: Data) -> dict[str, bool]:
    """Linearized constraints with an instance that has no variable terms (Pyomo would see a bool)."""
    out: dict[str, bool] = {}
    for c in lin.formulation.constraints:
        cmp = lin.comparisons[c.name]
        diff = E.BinOp("-", cmp.left, cmp.right)
        flag = False
        try:
            for env in instances(c, data):
                if not data.linear(diff, env).nonzero():
                    flag = True
                    break
        except Exception:  # noqa: BLE001 - be conservative
            flag = True
        out[c.name] = out.get(c.name, False) or flag
    return out


# --- LP / MPS via Pyomo -------------------------------------------------------------------


def _plain(text: str) -> str:
    """ASCII letters, digits and `_` only (what LP and MPS names keep), never empty."""
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii")
    return re.sub(r"[^A-Za-z0-9]+", "_", ascii_text).strip("_") or "e"


def _plain_indices(lm):
    """A copy of `lm` whose index tuples are single plain tokens, unique per variable / constraint,
    and the renames {written label: original label} (only where the token differs from the elements).

    LP and MPS writers turn `x["a b"]` and `x["a-b"]` (or `"é"` and `"ü"`) into the same name;
    unique tokens such as `a_b` and `a_b_2` keep every column and row apart.
    """
    from dataclasses import replace

    renames: dict[str, str] = {}

    def tokens(items, name_of, index_of):
        used: dict[str, set[str]] = {}
        out = []
        for item in items:
            idx = index_of(item)
            if not idx:
                out.append(())
                continue
            taken = used.setdefault(name_of(item), set())
            base = _plain("_".join(str(e) for e in idx))
            tok, k = base, 2
            while tok in taken:
                tok, k = f"{base}_{k}", k + 1
            taken.add(tok)
            joined = "_".join(str(e) for e in idx)
            if tok != joined or (len(idx) > 1 and "_" in joined.replace("_", "", len(idx) - 1)):  # ambiguous split
                renames[f"{name_of(item)}({tok})"] = f"{name_of(item)}[{json.dumps(list(idx))[1:-1]}]"
            out.append((tok,))
        return out

    col_tokens = tokens(lm.columns, lambda c: c.key[0], lambda c: c.key[1])
    row_tokens = tokens(lm.rows, lambda r: r.constraint, lambda r: r.index)
    columns = [replace(c, key=(c.key[0], t)) for c, t in zip(lm.columns, col_tokens)]
    rows = [replace(r, index=t) for r, t in zip(lm.rows, row_tokens)]
    from .linear_model import LinearModel

    return LinearModel.from_lists(lm.sense, columns, rows, lm.objective, lm.objective_constant, lm.sources), renames


def _write(f: Formulation, suffix: str) -> str:
    from .linear_model import to_linear_model
    from .pyomo_model import to_pyomo

    lm, renames = _plain_indices(to_linear_model(f))
    model = to_pyomo(lm)
    with tempfile.TemporaryDirectory(prefix="nlopt_export_") as tmp:
        path = os.path.join(tmp, "model" + suffix)
        # the writer is chosen by the suffix (an explicit format="lp" makes Pyomo warn)
        model.write(path, io_options={"symbolic_solver_labels": True})
        with open(path, encoding="utf-8", errors="replace") as fh:
            text = fh.read()
    if not renames:
        return text
    # the name map as comments (ASCII JSON: no element text can end the comment line)
    mark = "\\" if suffix == ".lp" else "*"
    lines = [f"{mark} names written -> formulation names (elements as JSON)"]
    lines += [f"{mark}   {k} = {v}" for k, v in renames.items()]
    return "\n".join(lines) + "\n" + text


def to_lp(f: Formulation) -> str:
    """CPLEX LP text of the flat model (symbolic names)."""
    return _write(f, ".lp")


_MPS_INF_UI = re.compile(r"^ UI BOUND (\S+) 10E20$", re.M)
_MPS_LI = re.compile(r"^ LI BOUND (\S+) ", re.M)


def to_mps(f: Formulation) -> str:
    """MPS text of the flat model (symbolic names).

    Pyomo writes the missing upper bound of an integer column as `UI BOUND x 10E20`, which
    HiGHS reads with a warning (1e21 is "not an integer bound"); such a line becomes
    `PL BOUND x` (upper bound +inf). The column stays integer through its `LI` line.
    """
    text = _write(f, ".mps")
    integer_lower = set(_MPS_LI.findall(text))
    return _MPS_INF_UI.sub(lambda mt: f" PL BOUND {mt.group(1)}" if mt.group(1) in integer_lower else mt.group(0),
                           text)


# --- LaTeX --------------------------------------------------------------------------

_LATEX_SPECIAL = {
    "\\": r"\textbackslash{}", "{": r"\{", "}": r"\}", "$": r"\$", "&": r"\&", "#": r"\#",
    "^": r"\^{}", "_": r"\_", "%": r"\%", "~": r"\~{}",
}


def _tex(text: str) -> str:
    """Free text for LaTeX text mode: control characters made visible, specials escaped, one line."""
    return "".join(_LATEX_SPECIAL.get(ch, ch) for ch in safe_text(_one_line(str(text))))


def _tex_literal(text: str) -> str:
    """A set element's text, kept distinct: newlines and tabs shown as \\n and \\t, not collapsed
    (a raw blank line would end the `align*` environment)."""
    return safe_text(str(text), newlines=False)


def _tex_comment(text: str) -> str:
    return "% " + safe_text(_one_line(str(text)))


def _tex_name(name: str) -> str:
    return E.to_latex(E.Name(name))


def _tex_elem(e) -> str:
    if isinstance(e, (int, float)) and not isinstance(e, bool):
        return str(e)
    return r"\text{" + "".join(_LATEX_SPECIAL.get(ch, ch) for ch in _tex_literal(e)) + "}"


def _tex_num(v: float) -> str:
    v = float(v)
    if not math.isfinite(v):
        return r"\infty" if v > 0 else r"-\infty"
    if v == int(v) and abs(v) < 1e15:
        return str(int(v))
    return f"{v:.6g}".replace("e", r"\mathrm{e}")


def _index_symbols(set_names: list[str]) -> list[str]:
    out: list[str] = []
    for s in set_names:
        base = s[0].lower() if s else "i"
        sym = base
        while sym in out:
            sym += "'"
        out.append(sym)
    return out


def _tex_ref(name: str, set_names: list[str]) -> tuple[str, str]:
    """`x_{f,c}` and its quantifier `f \\in F, c \\in C` for a declaration."""
    if not set_names:
        return _tex_name(name), ""
    syms = _index_symbols(set_names)
    ref = f"{_tex_name(name)}_{{{','.join(syms)}}}"
    quant = ",\\ ".join(f"{i} \\in {_tex_name(s)}" for i, s in zip(syms, set_names))
    return ref, quant


def _map_str(n: E.Node, fn) -> E.Node:
    """Apply `fn` to the text of every quoted element in a node tree."""
    r = lambda x: _map_str(x, fn)  # noqa: E731
    if isinstance(n, E.Str):
        return E.Str(fn(n.value))
    if isinstance(n, E.Index):
        return E.Index(n.name, tuple(r(a) for a in n.args))
    if isinstance(n, E.Add):
        return E.Add(tuple(r(t) for t in n.terms), n.signs)
    if isinstance(n, (E.BinOp, E.Compare)):
        return type(n)(n.op, r(n.left), r(n.right))
    if isinstance(n, (E.Neg, E.Not)):
        return type(n)(r(n.operand))
    if isinstance(n, E.BoolOp):
        return E.BoolOp(n.op, tuple(r(v) for v in n.values))
    if isinstance(n, E.Sum):
        return E.Sum(r(n.body), n.generators, r(n.condition) if n.condition is not None else None)
    return n


def _tex_expr(n: E.Node) -> str:
    """`expr.to_latex`, with LaTeX specials in quoted elements escaped (it escapes only `_`)."""
    if E.to_latex(E.Str("&")) == r"\text{&}":
        n = _map_str(n, lambda t: "".join(_LATEX_SPECIAL.get(ch, ch) if ch != "_" else ch for ch in _tex_literal(t)))
    else:  # expr escapes the specials; newlines and control characters are ours to make visible
        n = _map_str(n, _tex_literal)
    return E.to_latex(n)


def _tex_forall(c) -> str:
    if not c.forall:
        return ""
    q = r"\forall " + ",\\ ".join(f"{b.index} \\in {_tex_name(b.set)}" for b in c.forall)
    if c.where:
        q += " : " + _tex_expr(E.parse_condition(c.where))
    return q


def _align(lines: list[str]) -> list[str]:
    return ["\\begin{align*}", " \\\\\n".join(lines), "\\end{align*}"]


def to_latex(f: Formulation) -> str:
    """amsmath `align*` blocks: sets, parameters, variables, objective, constraints."""
    lin = linearize_nodes(f)
    lf = lin.formulation
    data = Data(lf)
    out: list[str] = []
    w = out.append
    w("% Optimization model generated by nlopt_milp (needs \\usepackage{amsmath,amssymb})")
    if lf.name:
        w(_tex_comment("formulation: " + lf.name))

    if lf.sets:
        w("\\paragraph{Sets}")
        lines = []
        for s in lf.sets:
            elems = ", ".join(_tex_elem(e) for e in s.elements[:20])
            if len(s.elements) > 20:
                elems += r", \ldots" + f" \\quad ({len(s.elements)}\\ \\text{{elements}})"
            line = f"{_tex_name(s.name)} &= \\{{{elems}\\}}"
            if s.description:
                line += f" && \\text{{{_tex(s.description)}}}"
            lines.append(line)
        out.extend(_align(lines))

    if lf.parameters:
        w("\\paragraph{Parameters}")
        lines = []
        for p in lf.parameters:
            table = data.table(p.name)
            ref, quant = _tex_ref(p.name, list(p.index))
            if not p.index:
                line = f"{ref} &= {_tex_num(table[()])}"
            elif len(p.index) == 1 and len(table) <= 12:
                vals = ",\\ ".join(f"{_tex_elem(k[0])} \\mapsto {_tex_num(v)}" for k, v in table.items())
                line = f"{ref} &: {vals} && {quant}"
            elif len(p.index) == 2 and len(data.sets[p.index[0]]) <= 8 and len(data.sets[p.index[1]]) <= 8 \
                    and table:
                rows = []
                for a in data.sets[p.index[0]]:
                    rows.append(" & ".join(_tex_num(table[(a, b)]) for b in data.sets[p.index[1]]))
                syms = _index_symbols(list(p.index))
                matrix = " \\\\ ".join(rows)
                line = (f"{ref} &= \\begin{{pmatrix}} {matrix} "
                        f"\\end{{pmatrix}} && \\text{{rows }} {syms[0]} \\in {_tex_name(p.index[0])},\\ "
                        f"\\text{{columns }} {syms[1]} \\in {_tex_name(p.index[1])}")
            else:
                line = f"{ref} && \\text{{given}},\\ {quant}"
            if p.description:
                line += f" \\quad \\text{{({_tex(p.description)})}}"
            lines.append(line)
        out.extend(_align(lines))

    w("\\paragraph{Variables}")
    lines = []
    for v in lf.variables:
        ref, quant = _tex_ref(v.name, list(v.index))
        syms = _index_symbols(list(v.index))

        def bound(b) -> str | None:
            if b is None:
                return None
            if isinstance(b, str):
                p = data.params[b]
                return f"{_tex_name(b)}_{{{','.join(syms)}}}" if p.index else _tex_name(b)
            return _tex_num(b)

        if v.domain == "binary":
            rel = f"{ref} &\\in \\{{0, 1\\}}"
        else:
            lo, hi = bound(v.lower), bound(v.upper)
            integer = v.domain == "integer"
            if lo is not None and hi is not None:
                rel = f"{lo} \\le {ref} &\\le {hi}"
            elif lo is not None:
                rel = f"{ref} &\\ge {lo}"
            elif hi is not None:
                rel = f"{ref} &\\le {hi}"
            else:
                rel = f"{ref} &\\in " + (r"\mathbb{Z}" if integer else r"\mathbb{R}")
                integer = False
            if integer:
                rel += f", \\quad {ref} \\in \\mathbb{{Z}}"
        line = rel + (f" && {quant}" if quant else "")
        if v.description:
            line += f" \\quad \\text{{({_tex(v.description)})}}"
        lines.append(line)
    out.extend(_align(lines))

    w("\\paragraph{Objective}")
    sense = r"\min" if lf.objective.sense == "minimize" else r"\max"
    out.extend(_align([f"{sense} \\quad & {_tex_expr(lin.objective)}"]))

    groups = _groups(f, lf)
    if groups:
        w("\\paragraph{Constraints}")
        lines = []
        for g in groups:
            head = g.original if g.original is not None else g.linear[0]
            tag = f"{head.name}: {_title(head)}" if g.original is not None else head.name
            for k, lc in enumerate(g.linear):
                cmp = lin.comparisons[lc.name]
                op = E._LATEX_CMP[cmp.op]
                line = f"{_tex_expr(cmp.left)} &{op} {_tex_expr(cmp.right)}"
                q = _tex_forall(lc)
                if q:
                    line += f" && {q}"
                line += f" \\tag*{{{_tex(tag if len(g.linear) == 1 else f'{tag} ({k + 1})')}}}"
                if k == 0 and head.source:
                    line = _tex_comment(f"{head.name}, source: {head.source}") + "\n" + line
                lines.append(line)
        out.extend(_align(lines))
    return "\n".join(out) + "\n"


# --- Markdown ------------------------------------------------------------------------


def _md(text: str) -> str:
    """Free text in a table cell: one line, control characters visible, pipes and HTML escaped."""
    return (safe_text(_one_line(str(text))).replace("\\", "\\\\").replace("|", "\\|")
            .replace("<", "&lt;").replace(">", "&gt;"))


def _code(text: str) -> str:
    """An inline code span that survives backticks and pipes inside a table."""
    s = safe_text(_one_line(str(text))).replace("|", "\\|")
    if not s:
        return ""
    run = longest = 0
    for ch in s:
        run = run + 1 if ch == "`" else 0
        longest = max(longest, run)
    fence = "`" * (longest + 1)
    pad = " " if s.startswith("`") or s.endswith("`") else ""
    return f"{fence}{pad}{s}{pad}{fence}"


def _md_num(v) -> str:
    v = float(v)
    if math.isfinite(v) and v == int(v) and abs(v) < 1e15:
        return str(int(v))
    return f"{v:g}"


def _md_elem(e) -> str:
    return str(e) if isinstance(e, (int, float)) else repr(str(e))


def to_markdown(f: Formulation) -> str:
    """A human-readable model description (GitHub-flavoured Markdown tables)."""
    lf = linearize(f)
    data = Data(lf)
    n_orig_params = len(f.parameters)
    n_orig_vars = len(f.variables)
    out: list[str] = []
    w = out.append
    w(f"# Model {_md(f.name)}" if f.name else "# Model")
    w("")
    if f.problem:
        w("> " + _md(f.problem))
        w("")

    if lf.sets:
        w("## Sets")
        w("")
        w("| Set | Elements | Description |")
        w("|---|---|---|")
        for s in lf.sets:
            elems = ", ".join(_md_elem(e) for e in s.elements[:30])
            if len(s.elements) > 30:
                elems += f", … ({len(s.elements)} elements)"
            w(f"| {_code(s.name)} | {_md(elems)} | {_md(s.description)} |")
        w("")

    if lf.parameters:
        w("## Parameters")
        w("")
        w("| Parameter | Index | Values | Description |")
        w("|---|---|---|---|")
        for k, p in enumerate(lf.parameters):
            table = data.table(p.name)
            if not p.index:
                vals = _md_num(table[()])
            elif len(table) <= 12:
                vals = ", ".join(f"{','.join(_md_elem(e) for e in key)}: {_md_num(v)}" for key, v in table.items())
            else:
                vals = f"{len(table)} values"
            desc = p.description or ("" if k < n_orig_params else "generated")
            w(f"| {_code(p.name)} | {_md(' × '.join(p.index))} | {_md(vals)} | {_md(desc)} |")
        w("")

    w("## Variables")
    w("")
    w("| Variable | Index | Domain | Lower | Upper | Description |")
    w("|---|---|---|---|---|---|")
    for k, v in enumerate(lf.variables):
        def b(x, default):
            if v.domain == "binary":  # parameter bounds are ignored, numbers clamped to [0, 1]
                return _md_num(min(1.0, max(0.0, float(x)))) if isinstance(x, (int, float)) else default
            if x is None:
                return "—"
            return x if isinstance(x, str) else _md_num(x)

        desc = v.description or ("" if k < n_orig_vars else "generated")
        w(f"| {_code(v.name)} | {_md(' × '.join(v.index))} | {v.domain} | {_md(b(v.lower, '0'))} | "
          f"{_md(b(v.upper, '1'))} | {_md(desc)} |")
    w("")

    w("## Objective")
    w("")
    w(f"{lf.objective.sense.capitalize()} {_code(f.objective.expr)}")
    if lf.objective.expr != f.objective.expr:
        w("")
        w(f"With the setup costs of fixed-charge constraints: {_code(lf.objective.expr)}")
    if f.objective.description:
        w("")
        w(_md(f.objective.description))
    w("")

    if f.constraints:
        w("## Constraints")
        w("")
        w("| Name | Template | Meaning | Source |")
        w("|---|---|---|---|")
        for c in f.constraints:
            w(f"| {_code(c.name)} | {_md(_title(c))} | {_code(render(c))} | {_md(c.source)} |")
        w("")
        w("### Linear form")
        w("")
        for g in _groups(f, lf):
            for lc in g.linear:
                q = ""
                if lc.forall:
                    q = " for each " + ", ".join(f"{b.index} in {b.set}" for b in lc.forall)
                    if lc.where:
                        q += f" with {lc.where}"
                w(f"- {_code(lc.name)}: {_code(lc.slots.expr + q)}")
        w("")

    if f.unused_numbers:
        w("## Numbers not used")
        w("")
        w("| Value | Reason |")
        w("|---|---|")
        for u in f.unused_numbers:
            w(f"| {_md(u.value)} | {_md(u.reason)} |")
        w("")
    return "\n".join(out)

"""The expression language: a whitelisted subset of Python algebra.

Text is parsed with :mod:`ast` and every node is converted into this module's own
small node classes; anything not on the whitelist is rejected. Nothing is ever
evaluated by Python: :mod:`nlopt_milp.core.ground` walks these nodes itself.

Grammar (informally)::

    expr   := number | name | name[args] | expr (+ - * /) expr | -expr | (expr)
            | sum(expr for i in SET [for j in SET2] [if cond])
    cond   := expr (<= >= == != < >) expr | cond and cond | cond or cond | not cond
    constraint := expr (<= | >= | ==) expr
"""

from __future__ import annotations

import ast
import functools
import keyword
import math
import re
import warnings
from dataclasses import dataclass
from typing import Union

MAX_LENGTH = 4000
MAX_DEPTH = 200  # nesting of parentheses, products, sums; a chain a + b - c + ... is one flat level


class ExprError(ValueError):
    """An expression that is not in the language. `pos` is the 0-based column."""

    def __init__(self, message: str, text: str = "", pos: int | None = None):
        self.reason = message
        self.text = text
        self.pos = pos
        where = f" at position {pos}" if pos is not None else ""
        super().__init__(f"{message}{where}")


# --- nodes ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Num:
    value: float


@dataclass(frozen=True)
class Str:
    """A quoted set element, e.g. x['north'] or i != 'a'."""

    value: str


@dataclass(frozen=True)
class Name:
    id: str


@dataclass(frozen=True)
class Index:
    name: str
    args: tuple["Node", ...]


@dataclass(frozen=True)
class BinOp:
    op: str  # + - * /
    left: "Node"
    right: "Node"


@dataclass(frozen=True)
class Add:
    """`a + b - c + ...` as one flat node: a sum written out term by term does not nest."""

    terms: tuple["Node", ...]
    signs: tuple[str, ...]  # "+" or "-" per term; the first is "+"


@dataclass(frozen=True)
class Neg:
    operand: "Node"


@dataclass(frozen=True)
class Generator:
    index: str
    set: str


@dataclass(frozen=True)
class Sum:
    body: "Node"
    generators: tuple[Generator, ...]
    condition: "Node | None" = None


@dataclass(frozen=True)
class Compare:
    op: str  # <= >= == != < >
    left: "Node"
    right: "Node"


@dataclass(frozen=True)
class BoolOp:
    op: str  # and / or
    values: tuple["Node", ...]


@dataclass(frozen=True)
class Not:
    operand: "Node"


Node = Union[Num, Str, Name, Index, Add, BinOp, Neg, Sum, Compare, BoolOp, Not]

_BINOPS = {ast.Add: "+", ast.Sub: "-", ast.Mult: "*", ast.Div: "/"}
_CMPOPS = {ast.LtE: "<=", ast.GtE: ">=", ast.Eq: "==", ast.NotEq: "!=", ast.Lt: "<", ast.Gt: ">"}
CONSTRAINT_OPS = ("<=", ">=", "==")


# --- parsing -------------------------------------------------------------------------


def parse(text: str) -> Node:
    """Parse an algebraic expression (no comparison at the top)."""
    node = _parse(text)
    if isinstance(node, (Compare, BoolOp, Not)):
        raise ExprError("expected an expression, found a comparison", text, 0)
    return node


def parse_comparison(text: str) -> Compare:
    """Parse a constraint `lhs <= rhs` (also >= and ==)."""
    node = _parse(text)
    if not isinstance(node, Compare) or node.op not in CONSTRAINT_OPS:
        raise ExprError("expected a comparison 'lhs <= rhs', 'lhs >= rhs' or 'lhs == rhs'", text, 0)
    return node


def parse_condition(text: str) -> Node:
    """Parse a filter such as `i != j and dist[i, j] > 0`."""
    node = _parse(text)
    if not isinstance(node, (Compare, BoolOp, Not)):
        raise ExprError("expected a condition such as 'i != j'", text, 0)
    return node


def _parse(text: str) -> Node:
    if not isinstance(text, str):
        raise ExprError("expression must be a string")
    return _parse_text(text)


@functools.lru_cache(maxsize=8192)
def _parse_text(text: str) -> Node:
    # Nodes are immutable, so a parsed expression can be shared; every stage re-reads the
    # same strings (validate, linearize, ground, audit), and this keeps that cheap.
    if len(text) > MAX_LENGTH:
        raise ExprError(f"expression longer than {MAX_LENGTH} characters", text)
    if "\x00" in text:
        raise ExprError("expression contains a NUL character", text)
    if not text.isascii():
        bad = _SURROGATE.search(text)
        if bad:
            raise ExprError(f"expression contains a lone surrogate {ascii(bad.group())[1:-1]} (not valid Unicode)",
                            text, bad.start())
    stripped = text.strip()
    if not stripped:
        raise ExprError("empty expression", text, 0)
    # Give the parser one line: newlines inside an expression are just spaces.
    source = " ".join(stripped.splitlines())
    try:
        with warnings.catch_warnings():  # e.g. "invalid decimal literal" for 2x: the error says enough
            warnings.simplefilter("ignore")
            tree = ast.parse(source, mode="eval")
    except SyntaxError as e:
        col = (e.offset - 1) if e.offset else None
        raise ExprError(f"syntax error: {e.msg}{_keyword_hint(source)}", text, col) from None
    except (ValueError, RecursionError, MemoryError):
        raise ExprError("expression cannot be parsed", text) from None
    if not source.isascii():
        _check_plain_names(tree, source)
    return _Converter(source).convert(tree.body, 0)


_SURROGATE = re.compile("[\ud800-\udfff]")
_QUOTED = re.compile(r"'[^']*'|\"[^\"]*\"")
_SYNTAX_WORDS = {"and", "or", "not", "for", "in", "if"}


def _keyword_hint(source: str) -> str:
    """Why a name-like word broke the syntax: it is a Python keyword (e.g. a parameter `lambda`)."""
    for word in re.findall(r"[A-Za-z_][A-Za-z0-9_]*", _QUOTED.sub(" ", source)):
        if keyword.iskeyword(word) and word not in _SYNTAX_WORDS:
            return f" (`{word}` is a reserved word and cannot be a name)"
    return ""


def _char_pos(source: str, col: int | None) -> int | None:
    """ast column offsets count UTF-8 bytes; messages count characters."""
    if col is None or source.isascii():
        return col
    return len(source.encode("utf-8")[:col].decode("utf-8", errors="ignore"))


def _check_plain_names(tree: ast.AST, source: str) -> None:
    """Names are ASCII, as declared names are. Python would read `ｘ` as `x` (it NFKC-normalises
    identifiers); we refuse it instead of silently meaning another name."""
    raw = source.encode("utf-8")
    for node in ast.walk(tree):
        if isinstance(node, ast.Name):
            written = raw[node.col_offset:node.end_col_offset].decode("utf-8", errors="replace")
            if written != node.id or not node.id.isascii():
                raise ExprError(
                    f"name {written!r} is not plain ASCII: it reads as {node.id!r} after Unicode normalisation "
                    f"(NFKC); write {node.id}" if node.id.isascii() else
                    f"name {written!r} is not plain ASCII; names use ASCII letters, digits and _",
                    source, _char_pos(source, node.col_offset))


class _Converter:
    def __init__(self, text: str):
        self.text = text

    def fail(self, node: ast.AST, message: str) -> ExprError:
        return ExprError(message, self.text, _char_pos(self.text, getattr(node, "col_offset", None)))

    def convert(self, node: ast.AST, depth: int) -> Node:
        if depth > MAX_DEPTH:
            raise self.fail(node, "expression nested too deeply")
        d = depth + 1
        if isinstance(node, ast.Constant):
            if isinstance(node.value, str) and len(node.value) <= 200:
                return Str(node.value)
            if isinstance(node.value, bool) or not isinstance(node.value, (int, float)):
                raise self.fail(node, f"only numbers and quoted set elements are allowed as constants, not {type(node.value).__name__} {node.value!r:.30}")
            try:
                value = float(node.value)
            except OverflowError:
                value = math.inf
            if not math.isfinite(value):
                raise self.fail(node, "number too large")
            return Num(value)
        if isinstance(node, ast.Name):
            return Name(self.check_name(node, node.id))
        if isinstance(node, ast.Subscript):
            if not isinstance(node.value, ast.Name):
                raise self.fail(node, "only names can be indexed, e.g. x[i]")
            name = self.check_name(node.value, node.value.id)
            sl = node.slice
            parts = sl.elts if isinstance(sl, ast.Tuple) else [sl]
            if not parts:
                raise self.fail(node, f"empty index on {name}")
            for p in parts:
                if isinstance(p, (ast.Slice, ast.Starred)):
                    raise self.fail(p, "slices are not allowed in an index")
            return Index(name, tuple(self.value(p, d, strings=True) for p in parts))
        if isinstance(node, ast.BinOp) and isinstance(node.op, (ast.Add, ast.Sub)):
            return self.convert_chain(node, d)
        if isinstance(node, ast.BinOp):
            op = _BINOPS.get(type(node.op))
            if op is None:
                raise self.fail(node, f"operator {_op_symbol(node.op)} is not allowed (use + - * /)")
            return BinOp(op, self.value(node.left, d), self.value(node.right, d))
        if isinstance(node, ast.UnaryOp):
            if isinstance(node.op, ast.USub):
                return Neg(self.value(node.operand, d))
            if isinstance(node.op, ast.UAdd):
                return self.value(node.operand, d)
            if isinstance(node.op, ast.Not):
                return Not(self.cond(node.operand, d))
            raise self.fail(node, "operator ~ is not allowed")
        if isinstance(node, ast.Compare):
            if len(node.ops) != 1:
                raise self.fail(node, "chained comparisons are not allowed; write two constraints")
            op = _CMPOPS.get(type(node.ops[0]))
            if op is None:
                raise self.fail(node, "only <= >= == != < > comparisons are allowed")
            return Compare(op, self.value(node.left, d, strings=True), self.value(node.comparators[0], d, strings=True))
        if isinstance(node, ast.BoolOp):
            op = "and" if isinstance(node.op, ast.And) else "or"
            return BoolOp(op, tuple(self.cond(v, d) for v in node.values))
        if isinstance(node, ast.Call):
            return self.convert_call(node, d)
        if isinstance(node, ast.Attribute):
            raise self.fail(node, "attribute access (a.b) is not allowed")
        if isinstance(node, (ast.Lambda,)):
            raise self.fail(node, "lambda is not allowed")
        if isinstance(node, (ast.ListComp, ast.SetComp, ast.DictComp, ast.GeneratorExp)):
            raise self.fail(node, "comprehensions are only allowed inside sum(...)")
        raise self.fail(node, f"{type(node).__name__} is not allowed in an expression")

    def convert_chain(self, node: ast.BinOp, depth: int) -> Add:
        """`a + b - c ...` (a left-deep chain in Python's AST), walked without recursion."""
        signs: list[str] = []
        rights: list[ast.AST] = []
        while isinstance(node, ast.BinOp) and isinstance(node.op, (ast.Add, ast.Sub)):
            signs.append("+" if isinstance(node.op, ast.Add) else "-")
            rights.append(node.right)
            node = node.left
        terms = [self.value(node, depth)] + [self.value(r, depth) for r in reversed(rights)]
        return Add(tuple(terms), ("+",) + tuple(reversed(signs)))

    def convert_call(self, node: ast.Call, depth: int) -> Node:
        if not isinstance(node.func, ast.Name) or node.func.id != "sum":
            what = node.func.id if isinstance(node.func, ast.Name) else "this"
            raise self.fail(node, f"call of {what}(...) is not allowed; the only function is sum(... for i in SET)")
        if node.keywords or len(node.args) != 1 or not isinstance(node.args[0], ast.GeneratorExp):
            raise self.fail(node, "sum takes one generator: sum(expr for i in SET)")
        gen = node.args[0]
        generators: list[Generator] = []
        conditions: list[Node] = []
        for comp in gen.generators:
            if comp.is_async:
                raise self.fail(node, "async generators are not allowed")
            if not isinstance(comp.target, ast.Name):
                raise self.fail(comp.target, "a generator binds one name: for i in SET")
            if not isinstance(comp.iter, ast.Name):
                raise self.fail(comp.iter, "a generator runs over a declared set name: for i in SET")
            generators.append(
                Generator(self.check_name(comp.target, comp.target.id), self.check_name(comp.iter, comp.iter.id))
            )
            conditions.extend(self.convert(c, depth) for c in comp.ifs)
        for c in conditions:
            if not isinstance(c, (Compare, BoolOp, Not)):
                raise ExprError("a sum filter must be a condition such as 'i != j'", self.text, node.col_offset)
        condition = None
        if len(conditions) == 1:
            condition = conditions[0]
        elif conditions:
            condition = BoolOp("and", tuple(conditions))
        return Sum(self.value(gen.elt, depth), tuple(generators), condition)

    def value(self, node: ast.AST, depth: int, strings: bool = False) -> Node:
        """An operand of arithmetic (quoted elements only where `strings`: indices, comparisons)."""
        out = self.convert(node, depth)
        if isinstance(out, (Compare, BoolOp, Not)):
            raise self.fail(node, "a comparison or and/or/not cannot be used as a value here")
        if isinstance(out, Str) and not strings:
            raise self.fail(node, f"quoted element {out.value!r:.40} cannot be used in arithmetic")
        return out

    def cond(self, node: ast.AST, depth: int) -> Node:
        """An operand of and/or/not: a comparison."""
        out = self.convert(node, depth)
        if not isinstance(out, (Compare, BoolOp, Not)):
            raise self.fail(node, "and/or/not combine comparisons such as 'i != j'")
        return out

    def check_name(self, node: ast.AST, name: str) -> str:
        if name.startswith("_"):
            raise self.fail(node, f"names may not start with an underscore: {name}")
        if name == "sum":
            raise self.fail(node, "sum must be called: sum(expr for i in SET)")
        return name


def _op_symbol(op: ast.AST) -> str:
    return {ast.Pow: "**", ast.Mod: "%", ast.FloorDiv: "//", ast.MatMult: "@", ast.BitAnd: "&",
            ast.BitOr: "|", ast.BitXor: "^", ast.LShift: "<<", ast.RShift: ">>"}.get(type(op), type(op).__name__)


# --- walking -------------------------------------------------------------------------


def names(node: Node, bound: frozenset[str] = frozenset()) -> set[str]:
    """Free names used in `node` (indexed names count by their base name)."""
    out: set[str] = set()
    _names(node, bound, out)
    return out


def _names(node: Node, bound: frozenset[str], out: set[str]) -> None:
    if isinstance(node, Name):
        if node.id not in bound:
            out.add(node.id)
    elif isinstance(node, Index):
        out.add(node.name)
        for a in node.args:
            _names(a, bound, out)
    elif isinstance(node, Add):
        for t in node.terms:
            _names(t, bound, out)
    elif isinstance(node, BinOp):
        _names(node.left, bound, out)
        _names(node.right, bound, out)
    elif isinstance(node, (Neg, Not)):
        _names(node.operand, bound, out)
    elif isinstance(node, Compare):
        _names(node.left, bound, out)
        _names(node.right, bound, out)
    elif isinstance(node, BoolOp):
        for v in node.values:
            _names(v, bound, out)
    elif isinstance(node, Sum):
        inner = bound | {g.index for g in node.generators}
        out.update(g.set for g in node.generators)
        _names(node.body, inner, out)
        if node.condition is not None:
            _names(node.condition, inner, out)


# --- rendering -----------------------------------------------------------------------

_PREC = {"+": 1, "-": 1, "*": 2, "/": 2}


def to_text(node: Node) -> str:
    """Render back to the expression language (parseable, minimal parentheses)."""
    return _render(node, _TEXT)


def to_latex(node: Node) -> str:
    return _render(node, _LATEX)


def to_python(node: Node, model_names: frozenset[str] | set[str], prefix: str = "m.") -> str:
    """Render as Python source for a Pyomo rule: model components get `prefix`, index names don't."""
    style = dict(_TEXT)
    style["prefix"] = prefix
    style["model_names"] = model_names
    return _render(node, style)


_TEXT = {"mul": " * ", "prefix": "", "latex": False}
_LATEX = {"mul": " \\cdot ", "prefix": "", "latex": True}
_LATEX_CMP = {"<=": "\\le", ">=": "\\ge", "==": "=", "!=": "\\ne", "<": "<", ">": ">"}


def _fmt_num(v: float) -> str:
    return str(int(v)) if v == int(v) and abs(v) < 1e15 else repr(v)


_LATEX_SPECIAL = {"\\": "\\textbackslash{}", "&": "\\&", "%": "\\%", "$": "\\$", "#": "\\#", "_": "\\_",
                  "{": "\\{", "}": "\\}", "~": "\\textasciitilde{}", "^": "\\textasciicircum{}"}


def _latex_escape(s: str) -> str:
    return "".join(_LATEX_SPECIAL.get(ch, ch) for ch in s)


def _latex_name(name: str) -> str:
    if len(name) == 1:
        return name
    return "\\mathit{" + name.replace("_", "\\_") + "}"


def _render(node: Node, style: dict, parent_prec: int = 0, right: bool = False) -> str:
    latex = style["latex"]
    r = lambda n, p=0, rt=False: _render(n, style, p, rt)  # noqa: E731
    if isinstance(node, Num):
        return _fmt_num(node.value)
    if isinstance(node, Str):
        return ("\\text{" + _latex_escape(node.value) + "}") if latex else repr(node.value)
    if isinstance(node, Name):
        if latex:
            return _latex_name(node.id)
        return style["prefix"] + node.id if node.id in style.get("model_names", ()) else node.id
    if isinstance(node, Index):
        args = ", ".join(r(a) for a in node.args)
        if latex:
            return f"{_latex_name(node.name)}_{{{args.replace(' ', '')}}}"
        return f"{style['prefix']}{node.name}[{args}]"
    if isinstance(node, Add):
        s = r(node.terms[0], 1)
        for sign, t in zip(node.signs[1:], node.terms[1:]):
            s += f" {sign} {r(t, 1, True)}"
        need = 1 < parent_prec or (right and parent_prec == 1)
        return f"\\left({s}\\right)" if need and latex else f"({s})" if need else s
    if isinstance(node, BinOp):
        prec = _PREC[node.op]
        if latex and node.op == "/":
            return f"\\frac{{{r(node.left)}}}{{{r(node.right)}}}"
        op = style["mul"] if node.op == "*" else f" {node.op} "
        s = f"{r(node.left, prec)}{op}{r(node.right, prec, True)}"
        # left-assoc: a right operand of equal precedence needs parentheses for - and /
        need = prec < parent_prec or (right and prec == parent_prec)
        return f"\\left({s}\\right)" if need and latex else f"({s})" if need else s
    if isinstance(node, Neg):
        s = f"-{r(node.operand, 3)}"
        return f"({s})" if parent_prec >= 2 or right else s
    if isinstance(node, Sum):
        cond = f" if {r(node.condition)}" if node.condition is not None else ""
        if latex:
            sub = ", ".join(f"{g.index} \\in {_latex_name(g.set)}" for g in node.generators)
            if node.condition is not None:
                sub += " : " + r(node.condition)
            s = f"\\sum_{{{sub}}} {r(node.body, 2)}"
            return f"\\left({s}\\right)" if parent_prec >= 2 else s
        gens = " ".join(f"for {g.index} in {style['prefix']}{g.set}" for g in node.generators)
        return f"sum({r(node.body)} {gens}{cond})"
    if isinstance(node, Compare):
        op = _LATEX_CMP[node.op] if latex else node.op
        return f"{r(node.left)} {op} {r(node.right)}"
    if isinstance(node, BoolOp):
        joiner = " \\land " if latex and node.op == "and" else " \\lor " if latex else f" {node.op} "
        return joiner.join(f"({r(v)})" if isinstance(v, BoolOp) else r(v) for v in node.values)
    if isinstance(node, Not):
        inner = r(node.operand, 3)
        if isinstance(node.operand, BoolOp):
            inner = f"\\left({inner}\\right)" if latex else f"({inner})"
        return ("\\lnot " if latex else "not ") + inner
    raise TypeError(f"not a node: {node!r}")

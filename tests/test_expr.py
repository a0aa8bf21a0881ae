"""The expression language: parsing, rejection, rendering, round trips, linearity."""

from __future__ import annotations

import keyword

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from nlopt_milp.core import expr as E
from nlopt_milp.core.expr import (
    Add, BinOp, BoolOp, Compare, ExprError, Generator, Index, Name, Neg, Not, Num, Str, Sum,
    parse, parse_comparison, parse_condition, to_latex, to_python, to_text,
)
from nlopt_milp.core.formulation import Formulation
from nlopt_milp.core.ground import Data, GroundError, LinExpr, NonlinearError
from nlopt_milp.core.validate import check, load

x, y, i, j = Name("x"), Name("y"), Name("i"), Name("j")


# --- accepted syntax ----------------------------------------------------------------


@pytest.mark.parametrize("text, node", [
    ("3", Num(3.0)),
    ("2.5", Num(2.5)),
    ("1e3", Num(1000.0)),
    ("0.25", Num(0.25)),
    ("x", x),
    ("x_1", Name("x_1")),
    ("x[i]", Index("x", (i,))),
    ("cost[i, j]", Index("cost", (i, j))),
    ("cost[i,j]", Index("cost", (i, j))),
    ("x['north']", Index("x", (Str("north"),))),
    ('x["north", 2]', Index("x", (Str("north"), Num(2.0)))),
    ("x[i + 1]", Index("x", (Add((i, Num(1.0)), ("+", "+")),))),
    ("x + y", Add((x, y), ("+", "+"))),
    ("x - y", Add((x, y), ("+", "-"))),
    ("2 * x", BinOp("*", Num(2.0), x)),
    ("x / 2", BinOp("/", x, Num(2.0))),
    ("-x", Neg(x)),
    ("-3", Neg(Num(3.0))),
    ("+x", x),
    ("--x", Neg(Neg(x))),
    ("(x)", x),
    ("((x + y))", Add((x, y), ("+", "+"))),
    # precedence and associativity
    ("x + 2 * y", Add((x, BinOp("*", Num(2.0), y)), ("+", "+"))),
    ("(x + 2) * y", BinOp("*", Add((x, Num(2.0)), ("+", "+")), y)),
    ("x - y - 1", Add((x, y, Num(1.0)), ("+", "-", "-"))),
    ("x - (y - 1)", Add((x, Add((y, Num(1.0)), ("+", "-"))), ("+", "-"))),
    ("x / y / 2", BinOp("/", BinOp("/", x, y), Num(2.0))),
    ("-x * y", BinOp("*", Neg(x), y)),
    ("-(x * y)", Neg(BinOp("*", x, y))),
    ("x * -y", BinOp("*", x, Neg(y))),
    # newlines are spaces
    ("x +\n y", Add((x, y), ("+", "+"))),
    ("  x  ", x),
])
def test_parse_accepts(text, node):
    assert parse(text) == node


def test_parse_sum_single_generator():
    assert parse("sum(cost[i] * x[i] for i in I)") == Sum(
        BinOp("*", Index("cost", (i,)), Index("x", (i,))), (Generator("i", "I"),), None
    )


def test_parse_sum_nested_generators_and_filter():
    node = parse("sum(d[i, j] * x[i, j] for i in I for j in J if i != j)")
    assert node == Sum(
        BinOp("*", Index("d", (i, j)), Index("x", (i, j))),
        (Generator("i", "I"), Generator("j", "J")),
        Compare("!=", i, j),
    )


def test_parse_sum_several_ifs_become_and():
    node = parse("sum(x[i, j] for i in I if i != 'a' for j in J if j > 1)")
    assert node.generators == (Generator("i", "I"), Generator("j", "J"))
    assert node.condition == BoolOp("and", (Compare("!=", i, Str("a")), Compare(">", j, Num(1.0))))


def test_parse_sum_filter_with_boolean_logic():
    node = parse("sum(x[i] for i in I if not (i == 'a' or i == 'b'))")
    assert node.condition == Not(BoolOp("or", (Compare("==", i, Str("a")), Compare("==", i, Str("b")))))


def test_parse_nested_sums():
    node = parse("sum(sum(x[i, j] for j in J) for i in I)")
    assert node == Sum(Sum(Index("x", (i, j)), (Generator("j", "J"),)), (Generator("i", "I"),))


@pytest.mark.parametrize("op", ["<=", ">=", "=="])
def test_parse_comparison(op):
    assert parse_comparison(f"x + y {op} 10") == Compare(op, Add((x, y), ("+", "+")), Num(10.0))


def test_parse_comparison_both_sides_expressions():
    node = parse_comparison("sum(x[i] for i in I) <= cap * y")
    assert node.op == "<="
    assert isinstance(node.left, Sum)
    assert node.right == BinOp("*", Name("cap"), y)


@pytest.mark.parametrize("text", ["x < 3", "x > 3", "x != 3", "x + 1", "x"])
def test_parse_comparison_rejects_non_constraints(text):
    with pytest.raises(ExprError, match="expected a comparison 'lhs <= rhs'"):
        parse_comparison(text)


@pytest.mark.parametrize("text, node", [
    ("i != j", Compare("!=", i, j)),
    ("i != 'a'", Compare("!=", i, Str("a"))),
    ("i < j and d[i, j] > 0", BoolOp("and", (Compare("<", i, j), Compare(">", Index("d", (i, j)), Num(0.0))))),
    ("i == 1 or j == 2", BoolOp("or", (Compare("==", i, Num(1.0)), Compare("==", j, Num(2.0))))),
    ("not i == j", Not(Compare("==", i, j))),
])
def test_parse_condition(text, node):
    assert parse_condition(text) == node


def test_parse_condition_rejects_expression():
    with pytest.raises(ExprError, match="expected a condition such as 'i != j'"):
        parse_condition("x + 1")


def test_parse_rejects_top_level_comparison():
    with pytest.raises(ExprError, match="expected an expression, found a comparison"):
        parse("x <= 3")


# --- rejected syntax ------------------------------------------------------------------


REJECTED = [
    # (text, message fragment)
    ("x.__class__", "attribute access (a.b) is not allowed"),
    ("x.y", "attribute access (a.b) is not allowed"),
    ("open('f')", "call of open(...) is not allowed; the only function is sum"),
    ("__import__('os')", "call of __import__(...) is not allowed"),
    ("__import__('os').system('ls')", "is not allowed"),
    ("eval('1')", "call of eval(...) is not allowed"),
    ("exec('x=1')", "call of exec(...) is not allowed"),
    ("getattr(x, 'y')", "call of getattr(...) is not allowed"),
    ("range(3)", "call of range(...) is not allowed"),
    ("max(x, y)", "call of max(...) is not allowed"),
    ("x.y()", "is not allowed"),
    ("(lambda: 1)()", "is not allowed"),
    ("lambda: 1", "lambda is not allowed"),
    ("lambda q: q", "lambda is not allowed"),
    ("sum(x for x in [1, 2])", "a generator runs over a declared set name"),
    ("sum(x[i] for i in range(3))", "a generator runs over a declared set name"),
    ("sum(x[i] for i in I.elements)", "a generator runs over a declared set name"),
    ("sum(x[i] for (i, j) in I)", "a generator binds one name"),
    ("sum(x[i] for i in I if x[i])", "a sum filter must be a condition"),
    ("sum(x, y)", "sum takes one generator"),
    ("sum((x[i] for i in I), start=1)", "sum takes one generator"),
    ("sum", "sum must be called"),
    ("sum(x[i] for i in __builtins__)", "names may not start with an underscore: __builtins__"),
    ("[x for x in I]", "comprehensions are only allowed inside sum(...)"),
    ("{x for x in I}", "comprehensions are only allowed inside sum(...)"),
    ("(x for x in I)", "comprehensions are only allowed inside sum(...)"),
    ("__class__", "names may not start with an underscore: __class__"),
    ("_x + 1", "names may not start with an underscore: _x"),
    ("x[__y]", "names may not start with an underscore: __y"),
    ("__x[1]", "names may not start with an underscore: __x"),
    ("x ** 2", "operator ** is not allowed (use + - * /)"),
    ("x % 2", "operator % is not allowed"),
    ("x // 2", "operator // is not allowed"),
    ("x @ y", "operator @ is not allowed"),
    ("x & y", "operator & is not allowed"),
    ("x << 1", "operator << is not allowed"),
    ("~x", "operator ~ is not allowed"),
    ("1 <= x <= 2", "chained comparisons are not allowed; write two constraints"),
    ("'a' + 1", "quoted element 'a' cannot be used in arithmetic"),
    ("2 * 'north'", "quoted element 'north' cannot be used in arithmetic"),
    ("-'a'", "quoted element 'a' cannot be used in arithmetic"),
    ("sum('a' for i in I)", "quoted element 'a' cannot be used in arithmetic"),
    ("(x <= 1) + 1", "cannot be used as a value"),
    ("x[i < j]", "cannot be used as a value"),
    ("x if y else 0", "IfExp is not allowed"),
    ("(x, y)", "Tuple is not allowed"),
    ("[1, 2]", "List is not allowed"),
    ("{'a': 1}", "Dict is not allowed"),
    ("x[1:2]", "slices are not allowed in an index"),
    ("x[i][j]", "only names can be indexed"),
    ("True", "only numbers and quoted set elements are allowed as constants, not bool"),
    ("None", "not NoneType"),
    ("1j", "not complex"),
    ("b'x'", "not bytes"),
    ("f'{x}'", "JoinedStr is not allowed"),
    ("x is y", "only <= >= == != < > comparisons are allowed"),
    ("i in I", "only <= >= == != < > comparisons are allowed"),
    ("x := 1", "syntax error"),
    ("1e999", "number too large"),
    ("1" * 400, "number too large"),
    ("x +", "syntax error"),
    ("x[]", "syntax error"),
    ("", "empty expression"),
    ("   ", "empty expression"),
    ("x\x00", "NUL character"),
    ("x" * 4001, "expression longer than 4000 characters"),
    ("x + " * 1100 + "x", "expression longer than 4000 characters"),
    ("-" * 300 + "x", "nested too deeply"),
]


@pytest.mark.parametrize("text, fragment", REJECTED, ids=[repr(t[:30]) for t, _ in REJECTED])
def test_parse_rejects(text, fragment):
    with pytest.raises(ExprError) as info:
        parse(text)
    err = info.value
    assert fragment in err.reason
    assert str(err).startswith(err.reason)
    assert "\n" not in str(err) and len(str(err)) < 200


@pytest.mark.parametrize("text, fragment", [
    ("i != j and x", "and/or/not combine comparisons"),
    ("not x", "and/or/not combine comparisons"),
    ("i.j != 1", "attribute access"),
    ("open('f') == 1", "call of open(...) is not allowed"),
])
def test_parse_condition_rejects(text, fragment):
    with pytest.raises(ExprError, match=fragment.replace("(", r"\(").replace(")", r"\)").replace(".", r"\.")):
        parse_condition(text)


@pytest.mark.parametrize("text", [None, 3, b"x", ["x"]])
def test_parse_rejects_non_strings(text):
    with pytest.raises(ExprError, match="expression must be a string"):
        parse(text)


def test_error_position_points_at_offending_node():
    err = pytest.raises(ExprError, parse, "x + y.z").value
    assert err.pos == 4
    assert str(err).endswith("at position 4")
    assert err.text == "x + y.z"
    err = pytest.raises(ExprError, parse, "sum(x[i] for i in range(3))").value
    assert err.pos == 18


def test_depth_allows_long_flat_sums():
    # objectives written term by term: 150 terms nest 150 levels
    text = " + ".join(f"{k + 1} * x{k}" for k in range(150))
    node = parse(text)
    assert parse(to_text(node)) == node


def test_expr_error_is_a_value_error():
    assert issubclass(ExprError, ValueError)


# --- round trip ------------------------------------------------------------------------


ROUND_TRIP = [
    "3", "2.5", "0.001", "1e-07", "123456789", "1e+20", "x", "-x", "-3", "x[i]", "cost[i, j]", "x['a', 1]",
    "x[\"it's\"]", "x['\\n']",
    "x + y", "x - y - z", "x - (y - z)", "x - (y + z)", "x + (y - z)", "(x + y) * z", "x * (y + z)",
    "x / (y * z)", "x / y / z", "x / (y / z)", "x * y / z", "x * (y / z)",
    "-(x + y)", "-(x * y)", "-x * y", "x * -y", "x - -y", "--x", "-(-x)", "x * (-3)", "-(3)",
    "2 * -(x - 1)", "(x - 1) / -(y + 2)",
    "sum(x[i] for i in I)", "sum(c[i] * x[i] for i in I) / 2", "-sum(x[i] for i in I)",
    "sum(x[i, j] for i in I for j in J if i != j)",
    "sum(x[i, j] for i in I for j in J if i != j and d[i, j] > 0 or i == 'a')",
    "sum(x[i, j] for i in I if i != 'a' for j in J if j > 1)",
    "sum(x[i] for i in I if not (i == 1 or i == 2))",
    "sum(x[i] for i in I if (i == 1 and i == 2) and i == 3)",
    "sum(x[i] for i in I if i == 1 and (i == 2 or i == 3))",
    "sum(sum(x[i, j] for j in J) for i in I)",
    "2 * sum(x[i] for i in I) - sum(y[j] for j in J)",
    "x[i + 1, j - 1]", "x[-1]", "x[i] * (y[i] - 2)",
]


@pytest.mark.parametrize("text", ROUND_TRIP)
def test_round_trip_expressions(text):
    node = E._parse(text)
    rendered = to_text(node)
    assert E._parse(rendered) == node
    assert to_text(E._parse(rendered)) == rendered  # rendering is a fixed point


@pytest.mark.parametrize("text", [
    "x + y <= 10", "sum(x[i] for i in I) >= d - 1", "x - (y - z) == 0", "-(x + y) <= -(3)",
])
def test_round_trip_comparisons(text):
    node = parse_comparison(text)
    assert parse_comparison(to_text(node)) == node


@pytest.mark.parametrize("text", [
    "i != j", "not (i == j and j == 1)", "not i == j", "(i < 1 or j < 1) and i != 'b'",
    "i == 1 or (j == 2 and i == 3)", "not not i == j",
])
def test_round_trip_conditions(text):
    node = parse_condition(text)
    assert parse_condition(to_text(node)) == node


def test_to_text_minimal_parentheses():
    assert to_text(parse("((x)) + ((y * z))")) == "x + y * z"
    assert to_text(parse("(x - 1) - y")) == "x - 1 - y"
    assert to_text(parse("x - (1 - y)")) == "x - (1 - y)"
    assert to_text(parse("a / (b * c)")) == "a / (b * c)"
    assert to_text(parse("-(a + b)")) == "-(a + b)"
    assert to_text(parse("a * -b")) == "a * (-b)"
    assert to_text(parse("x['a']")) == "x['a']"
    assert to_text(parse("2.50 * x")) == "2.5 * x"
    assert to_text(parse_condition("not (i == 1 and j == 2)")) == "not (i == 1 and j == 2)"


# --- property: random trees render and reparse to themselves ----------------------


_names = st.builds(
    lambda head, tail: head + tail, st.sampled_from("xyzcdkqXYZ"), st.text(alphabet="xyzcdkqXYZ019_", max_size=3)
).filter(lambda s: not keyword.iskeyword(s) and s != "sum")
_nums = st.one_of(
    st.integers(min_value=0, max_value=10**12).map(float),
    st.floats(min_value=0, max_value=1e15, allow_nan=False, allow_infinity=False),
).map(Num)
_strs = st.text(max_size=6).map(Str)


_gens = st.lists(st.builds(Generator, _names, _names), min_size=1, max_size=2).map(tuple)
_leaves = st.one_of(_nums, _names.map(Name))


def _index(args):
    return st.builds(lambda n, a: Index(n, tuple(a)), _names, st.lists(args, min_size=1, max_size=3))


def _conditions(operands, max_leaves):
    compare = st.builds(Compare, st.sampled_from(["<=", ">=", "==", "!=", "<", ">"]), operands, operands)
    return st.recursive(compare, lambda c: st.one_of(
        st.builds(BoolOp, st.sampled_from(["and", "or"]), st.lists(c, min_size=2, max_size=3).map(tuple)),
        st.builds(Not, c),
    ), max_leaves=max_leaves)


def _arith(filters, max_leaves):
    return st.recursive(_leaves, lambda c: st.one_of(
        st.builds(BinOp, st.sampled_from(["*", "/"]), c, c),
        # a chain: the parser never puts a chain first in a chain (`(a + b) + c` is `a + b + c`)
        st.builds(lambda first, rest: Add((first,) + tuple(t for _, t in rest), ("+",) + tuple(s for s, _ in rest)),
                  c.filter(lambda n: not isinstance(n, Add)),
                  st.lists(st.tuples(st.sampled_from(["+", "-"]), c), min_size=1, max_size=3)),
        st.builds(Neg, c),
        _index(c | _strs),
        st.builds(Sum, c, _gens, st.none() | filters) if filters is not None else st.nothing(),
    ), max_leaves=max_leaves)


# Arithmetic nodes (sum filters built from simpler arithmetic); quoted elements only
# where the language allows them: indices and comparison operands.
_SIMPLE = _arith(None, 6)
VALUES = _arith(_conditions(_SIMPLE | _strs, 3), 12)
CONDITIONS = _conditions(VALUES | _strs, 4)
COMPARISONS = st.builds(Compare, st.sampled_from(["<=", ">=", "=="]), VALUES, VALUES)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(VALUES)
def test_property_expression_round_trip(node):
    text = to_text(node)
    assert parse(text) == node, text


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(COMPARISONS)
def test_property_comparison_round_trip(node):
    text = to_text(node)
    assert parse_comparison(text) == node, text


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(CONDITIONS)
def test_property_condition_round_trip(node):
    text = to_text(node)
    assert parse_condition(text) == node, text


@settings(max_examples=75, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(VALUES)
def test_property_latex_and_python_render(node):
    latex = to_latex(node)
    assert isinstance(latex, str) and latex
    py = to_python(node, set(), prefix="")
    assert parse(py) == node  # with no model names, to_python is plain text


# --- LaTeX and Python rendering ------------------------------------------------------


def test_to_latex_fragments():
    tex = to_latex(parse("sum(cost[i, j] * x[i, j] for i in I for j in J if i != j) / 2"))
    assert tex.startswith("\\frac{\\sum_{i \\in I, j \\in J : i \\ne j}")
    assert "\\mathit{cost}_{i,j} \\cdot x_{i,j}" in tex
    assert tex.endswith("}{2}")
    assert to_latex(parse("sum(x[i] for i in I)")) == "\\sum_{i \\in I} x_{i}"
    assert to_latex(parse_comparison("x[i] <= cap[i]")) == "x_{i} \\le \\mathit{cap}_{i}"
    assert to_latex(parse_comparison("x >= 2")) == "x \\ge 2"
    assert to_latex(parse_comparison("x == 2")) == "x = 2"
    assert to_latex(parse("x / y")) == "\\frac{x}{y}"
    assert to_latex(parse("(x + y) * z")) == "\\left(x + y\\right) \\cdot z"
    assert to_latex(parse("2 * sum(x[i] for i in I)")) == "2 \\cdot \\left(\\sum_{i \\in I} x_{i}\\right)"
    assert to_latex(parse("x['north_1']")) == "x_{\\text{north\\_1}}"
    assert to_latex(parse("flow_in")) == "\\mathit{flow\\_in}"
    assert to_latex(parse_condition("i != j and not i == 'a'")) == "i \\ne j \\land \\lnot i = \\text{a}"
    assert to_latex(parse_condition("i < j or i > j")) == "i < j \\lor i > j"


def test_to_python_prefixes_model_names_only():
    node = parse("sum(cost[i] * x[i] for i in I if i != 'a') + y - k")
    assert to_python(node, {"cost", "x", "I", "y"}) == "sum(m.cost[i] * m.x[i] for i in m.I if i != 'a') + m.y - k"
    assert to_python(parse("x[i]"), {"x"}, prefix="model.") == "model.x[i]"


def test_names_lists_free_names():
    node = parse("sum(cost[i, j] * x[i, j] for i in I for j in J if i != k) + y")
    assert E.names(node) == {"cost", "x", "I", "J", "k", "y"}


# --- linearity (grounding) -------------------------------------------------------------


@pytest.fixture
def data() -> Data:
    f = Formulation.model_validate({
        "sets": [{"name": "I", "elements": ["a", "b"]}],
        "parameters": [{"name": "cost", "index": ["I"], "value": [3, 4]}, {"name": "k", "value": 5}],
        "variables": [{"name": "x", "index": ["I"]}, {"name": "y"}, {"name": "z"}],
        "objective": {"sense": "minimize", "expr": "y"},
    })
    return Data(f)


def lin(data, text, env=None):
    out = data.linear(parse(text), env or {})
    return out.nonzero(), out.const


@pytest.mark.parametrize("text, terms, const", [
    ("2 * y", {("y", ()): 2.0}, 0.0),
    ("y * 2", {("y", ()): 2.0}, 0.0),
    ("y / 2", {("y", ()): 0.5}, 0.0),
    ("k * y", {("y", ()): 5.0}, 0.0),
    ("y * k + 1", {("y", ()): 5.0}, 1.0),
    ("-(y - z) + 3", {("y", ()): -1.0, ("z", ()): 1.0}, 3.0),
    ("(y + 1) * 2 - y / 4", {("y", ()): 1.75}, 2.0),
    ("sum(cost[i] * x[i] for i in I)", {("x", ("a",)): 3.0, ("x", ("b",)): 4.0}, 0.0),
    ("sum(x[i] * cost[i] for i in I if i != 'a')", {("x", ("b",)): 4.0}, 0.0),
    ("y * (k - 5) * z", {}, 0.0),  # (k - 5) is zero, so the product stays linear
    ("y / (k / 10)", {("y", ()): 2.0}, 0.0),
])
def test_linear_terms(data, text, terms, const):
    assert lin(data, text) == (terms, const)


def test_parameter_times_variable_with_index(data):
    assert lin(data, "cost[i] * x[i]", {"i": "b"}) == ({("x", ("b",)): 4.0}, 0.0)


@pytest.mark.parametrize("text, term", [
    ("y * z", "y * z"),
    ("2 * y * z", "2 * y * z"),
    ("(y + 1) * (z - 1)", "(y + 1) * (z - 1)"),
    ("sum(x[i] * y for i in I)", "x[i] * y"),
    ("x['a'] * x['b']", "x['a'] * x['b']"),
])
def test_product_of_variables_is_nonlinear(data, text, term):
    with pytest.raises(NonlinearError) as info:
        data.linear(parse(text), {})
    assert f"nonlinear term {term}: product of two variable terms" in str(info.value)


@pytest.mark.parametrize("text, term", [("y / z", "y / z"), ("1 / (y + 1)", "1 / (y + 1)"), ("k / y", "k / y")])
def test_division_by_variable_is_nonlinear(data, text, term):
    with pytest.raises(NonlinearError, match="division by a variable term") as info:
        data.linear(parse(text), {})
    assert f"nonlinear term {term}" in str(info.value)


def test_nonlinear_error_is_a_ground_error():
    assert issubclass(NonlinearError, GroundError)


@pytest.mark.parametrize("text, fragment", [
    ("y / (k - 5)", "division by zero in y / (k - 5)"),
    ("x", "variable x is indexed by I: write x[...]"),
    ("x['c']", "x['c']: 'c' is not an element of set I"),
    ("x['a', 'b']", "variable x takes 1 index (I), got 2"),
    ("w", "unknown name w"),
    ("I", "set I cannot be used as a value"),
    ("x[y]", "an index cannot contain variables"),
])
def test_ground_errors(data, text, fragment):
    with pytest.raises(GroundError) as info:
        data.linear(parse(text), {})
    assert fragment in str(info.value)


def test_check_reports_nonlinear_objective_and_constraint():
    f = load({
        "variables": [{"name": "x", "upper": 5}, {"name": "y", "upper": 5}],
        "objective": {"sense": "maximize", "expr": "x * y"},
        "constraints": [
            {"name": "c", "template": "general", "slots": {"expr": "x / y <= 1"}},
            {"name": "ok", "template": "general", "slots": {"expr": "2 * x + y / 2 <= 10"}},
        ],
    })
    issues = check(f)
    assert [(i.path, i.message) for i in issues] == [
        ("objective.expr", "nonlinear term x * y: product of two variable terms"),
        ("constraints[0].slots.expr", "nonlinear term x / y: division by a variable term"),
    ]


def test_linexpr_str():
    assert str(LinExpr({("x", ("a", 1)): 2.0}, 1.0)) == "2*x[a,1] + 1"
    assert str(LinExpr()) == "0"

"""Element identity, reserved and non-plain names, lone surrogates and huge integers (issue 7: 1, 5, 14, 17).

The element rule (README, "Set elements"): a JSON number, or a text written exactly as a decimal
number, is a number and compares by value; any other text is a name and compares exactly. Indexing,
filters, `where`, parameter lookups and the Pyomo emitters all follow it.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from fractions import Fraction

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from scipy.optimize import linprog

from nlopt_milp.core import expr as E
from nlopt_milp.core.validate import FormulationError, check, load, load_valid
from nlopt_milp.solve import solve
from nlopt_milp.solve.export import emit

SOLVERS = ("highs", "highs-pyomo")


def model(elements, constraints, sets=(), params=(), upper=10):
    return {
        "sets": [{"name": "T", "elements": elements}, *sets],
        "parameters": list(params),
        "variables": [{"name": "x", "index": ["T"], "upper": upper}],
        "objective": {"sense": "maximize", "expr": "sum(x[t] for t in T)"},
        "constraints": constraints,
    }


def general(name, expr, **kw):
    return {"name": name, "template": "general", "slots": {"expr": expr}, **kw}


def issues_of(obj) -> list[tuple[str, str]]:
    with pytest.raises(FormulationError) as info:
        load_valid(json.dumps(obj) if not isinstance(obj, str) else obj)
    return [(i.path, i.message) for i in info.value.issues]


def script_objective(text: str, tmp_path) -> float:
    path = tmp_path / "model.py"
    path.write_text(text, encoding="utf-8")
    proc = subprocess.run([sys.executable, str(path)], capture_output=True, text=True, timeout=300, cwd=tmp_path)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    found = re.search(r"^objective = (\S+)$", proc.stdout, re.M)
    assert found, proc.stdout
    return float(found.group(1))


def objectives(obj) -> list[float]:
    f = load_valid(json.dumps(obj))
    out = []
    for s in SOLVERS:
        r = solve(f, solver=s)
        assert r.status == "optimal", (s, r.message)
        out.append(r.objective)
    return out


# --- element identity ------------------------------------------------------------------------


def test_element_identity_issue_reproducer(tmp_path):
    # T = ["1","2","3"]; x[t] for t != 1 at most 5; x[1] at most 2: the optimum is 7, not 5
    obj = model(["1", "2", "3"], [general("rest", "sum(x[t] for t in T if t != 1) <= 5"),
                                  general("first", "x[1] <= 2")])
    assert objectives(obj) == [pytest.approx(7), pytest.approx(7)]
    assert script_objective(emit(load_valid(obj), "pyomo"), tmp_path) == pytest.approx(7)
    # the same through `where`: "t == 1" has one instance, the element "1"
    obj["constraints"][1] = general("first", "x[t] <= 2", forall=[{"index": "t", "set": "T"}], where="t == 1")
    assert objectives(obj) == [pytest.approx(7), pytest.approx(7)]


@pytest.mark.parametrize("elements", [["1", "2", "3"], [1, 2, 3], [1.0, 2.0, 3.0], ["1.0", "2", "3"],
                                      ["01", "+2", "3e0"], [1, "2", 3.0]])
@pytest.mark.parametrize("literal", ["1", "1.0", "'1'", "'01'", "'1.0'", "'+1'", "'1e0'", "'.1e1'"])
def test_element_identity_every_spelling_of_a_number(elements, literal):
    obj = model(elements, [general("rest", f"sum(x[t] for t in T if t != {literal}) <= 5"),
                           general("first", f"x[{literal}] <= 2"),
                           general("w", "x[t] >= 0", forall=[{"index": "t", "set": "T"}], where=f"t == {literal}")])
    assert objectives(obj) == [pytest.approx(7), pytest.approx(7)]


def test_element_identity_names_compare_exactly():
    # " 1" and "1 " are names (blanks count), "A" is not "a"; none of them is the number 1
    elements = ["a", "A", " 1", "1 ", "1"]
    obj = model(elements, [general("a", "x['a'] <= 1"), general("b", "x[' 1'] <= 2"),
                           general("c", "x[1] <= 3"), general("d", "sum(x[t] for t in T if t != 'a') <= 100")],
                upper=10)
    f = load_valid(obj)
    r = solve(f)
    assert r.values == {"x[a]": 1, "x[A]": 10, "x[ 1]": 2, "x[1 ]": 10, "x[1]": 3}
    assert issues_of(model(["a"], [general("a", "x['A'] <= 1")])) == [
        ("constraints[0].slots.expr", "x['A']: 'A' is not an element of set T")]
    assert issues_of(model([" 1"], [general("a", "x[1] <= 1")])) == [
        ("constraints[0].slots.expr", "x[1]: 1 is not an element of set T")]


@pytest.mark.parametrize("elements, j, message", [
    ([1, "1"], 1, "duplicate element '1': the same element as 1 (elements[0]); numbers and numeric text compare by value"),
    (["1", "1.0"], 1, "duplicate element '1.0': the same element as '1' (elements[0]); numbers and numeric text compare by value"),
    ([2, 2.0], 1, "duplicate element 2.0: the same element as 2 (elements[0]); numbers and numeric text compare by value"),
    (["a", "01", "1"], 2, "duplicate element '1': the same element as '01' (elements[1]); numbers and numeric text compare by value"),
    (["a", "a"], 1, "duplicate element 'a'"),
])
def test_element_identity_duplicates_rejected(elements, j, message):
    assert issues_of(model(elements, [])) == [(f"sets[0].elements[{j}]", message)]


def test_element_identity_distinct_texts_are_not_duplicates():
    assert check(load(model(["a", "a ", " a", "A", "1", " 1", "1a", "inf", "nan", "1_0"], []))) == []


@pytest.mark.parametrize("element, message", [
    ("1e999", "element '1e999' is out of range: numbers must lie within ±1.8e308"),
    (-10 ** 400, "element <integer of about 400 digits> is out of range: numbers must lie within ±1.8e308"),
    (float("nan"), "element nan is not a number"),
    (float("inf"), "element inf is out of range: numbers must lie within ±1.8e308"),
])
def test_element_identity_non_finite_elements_rejected(element, message):
    with pytest.raises(FormulationError) as info:
        load_valid(model(["a", element], []))
    assert [(i.path, i.message) for i in info.value.issues] == [("sets[0].elements[1]", message)]


@pytest.mark.parametrize("bad", [True, False, None, [1]])
def test_element_identity_only_numbers_and_texts(bad):
    assert issues_of(model(["a", bad], [])) == [("sets[0].elements[1]", "set elements must be numbers or strings")]


def test_element_identity_numbers_order_by_value_and_allow_offsets(tmp_path):
    # "10" > "9" as numbers (as text it would sort first); t - 1 on numeric text
    obj = model(["9", "10", "11"], [
        general("big", "sum(x[t] for t in T if t > 9) <= 4"),
        general("step", "x[t] <= x[t - 1] + 1", forall=[{"index": "t", "set": "T"}], where="t >= '10'"),
    ])
    # x9 = 10, x10 <= 11 and x10 + x11 <= 4, x11 <= x10 + 1: the best is 10 + 4
    assert objectives(obj) == [pytest.approx(14), pytest.approx(14)]
    assert script_objective(emit(load_valid(obj), "pyomo"), tmp_path) == pytest.approx(14)


def test_element_identity_names_and_numbers_do_not_order():
    assert issues_of(model(["a", "1"], [general("c", "sum(x[t] for t in T if t < 2) <= 1")])) == [
        ("constraints[0].slots.expr", "cannot order a name and a number: t < 2")]
    assert issues_of(model(["a", "b"], [general("c", "x[t - 1] <= 1", forall=[{"index": "t", "set": "T"}])])) == [
        ("constraints[0].slots.expr", "element 'a' is a name, not a number, in t (for t='a')")]


def test_element_identity_across_sets_and_parameters(tmp_path):
    # x is indexed by T = ["1", "2", "3"]; U = [1.0, 3] indexes x and a parameter over T by value
    obj = model(["1", "2", "3"], [
        general("u", "sum(cap[u] * x[u] for u in U) <= 6"),
        general("v", "x['02'] <= cap[2.0]"),
    ], sets=[{"name": "U", "elements": [1.0, 3]}],
        params=[{"name": "cap", "index": ["T"], "value": [1, 2, 3]}])
    # x1 + 3 x3 <= 6, x2 <= 2: x1 = 6, x3 = 0 gives 6 + 2 = 8
    assert objectives(obj) == [pytest.approx(8), pytest.approx(8)]
    assert script_objective(emit(load_valid(obj), "pyomo"), tmp_path) == pytest.approx(8)


def test_element_identity_pyomo_script_mixed_elements(tmp_path):
    elements = ["1", 2.0, "a b", "03", 4.5, " 1"]
    obj = model(elements, [
        general("a", "sum(x[t] for t in T if t != '1' and t != ' 1') <= 7"),
        general("b", "x[1.0] + x[' 1'] <= 3"),
        general("c", "x[t] <= 2", forall=[{"index": "t", "set": "T"}], where="t == 3 or t == 'a b'"),
        general("d", "x[4.5] <= x['2'] - 1"),
    ])
    want = objectives(obj)
    assert want[0] == pytest.approx(want[1])
    assert script_objective(emit(load_valid(obj), "pyomo"), tmp_path) == pytest.approx(want[0])
    assert want[0] == pytest.approx(10)  # x2 + x[a b] + x3 + x4.5 <= 7 with x1 + x[ 1] <= 3


# The property: random elements of every kind, spelled in random ways, against an LP built by hand.
NUMBERS = [0, 1, 2, 3, 10, Fraction(5, 2), -1]
NAMES = ["a", "a b", " 1", "1 ", "B", "x y z", "é"]


def _spellings(identity) -> list:
    kind, v = identity
    if kind == "name":
        return [v]
    f = float(v)
    out = [f, f"{f!r}", f"{f:e}"]
    if f.is_integer():
        n = int(f)
        out += [n, str(n), ("-0" + str(-n)) if n < 0 else "0" + str(n), f"{n}.0"]
        if n >= 0:
            out.append(f"+{n}")
    return out


def _literals(identity) -> list[str]:
    kind, v = identity
    if kind == "name":
        return [repr(v)]
    return [repr(float(v)), *(repr(s) for s in _spellings(identity) if isinstance(s, str))] + (
        [str(int(v))] if float(v).is_integer() else [])


identities = st.one_of(st.sampled_from(NUMBERS).map(lambda v: ("number", Fraction(v))),
                       st.sampled_from(NAMES).map(lambda v: ("name", v)))


@st.composite
def identity_models(draw):
    ids = draw(st.lists(identities, min_size=2, max_size=5, unique=True))
    spell = lambda i: draw(st.sampled_from(_spellings(i)))  # noqa: E731
    lit = lambda i: draw(st.sampled_from(_literals(i)))  # noqa: E731
    T = [spell(i) for i in ids]
    u_ids = draw(st.lists(st.sampled_from(ids), min_size=1, max_size=len(ids), unique=True))
    U = [spell(i) for i in u_ids]
    w = [draw(st.integers(1, 5)) for _ in ids]
    k = [draw(st.integers(0, 9)) for _ in ids]
    a = draw(st.one_of(st.sampled_from(ids), identities))  # may be no element of T
    b = draw(st.sampled_from(ids))
    c = draw(st.sampled_from(ids))
    caps = [draw(st.integers(0, 25)) for _ in range(3)]
    where_op = "!=" if draw(st.booleans()) else "=="
    constraints = [
        general("filtered", f"sum(x[t] for t in T if t != {lit(a)}) <= {caps[0]}"),
        general("literal", f"x[{lit(b)}] <= k[{lit(b)}]"),
        general("quantified", "x[t] <= k[t] + 1", forall=[{"index": "t", "set": "T"}], where=f"t {where_op} {lit(c)}"),
        general("cross", "sum(x[u] for u in U) <= " + str(caps[1])),
    ]
    numeric = all(kind == "number" for kind, _ in ids)
    e = draw(st.sampled_from(ids))
    if numeric:
        constraints.append(general("ordered", f"sum(x[t] for t in T if t > {lit(e)}) <= {caps[2]}"))
    obj = {
        "sets": [{"name": "T", "elements": T}, {"name": "U", "elements": U}],
        "parameters": [{"name": "w", "index": ["T"], "value": w}, {"name": "k", "index": ["T"], "value": k}],
        "variables": [{"name": "x", "index": ["T"], "upper": 10}],
        "objective": {"sense": "maximize", "expr": "sum(w[t] * x[t] for t in T)"},
        "constraints": constraints,
    }
    # the same LP written by hand over the identities (no parsing of any spelling)
    n = len(ids)
    rows, rhs = [], []
    rows.append([0 if i == a else 1 for i in ids]); rhs.append(caps[0])  # noqa: E702
    rows.append([1 if i == b else 0 for i in ids]); rhs.append(k[ids.index(b)])  # noqa: E702
    for j, i in enumerate(ids):
        if (i != c) if where_op == "!=" else (i == c):
            rows.append([1 if jj == j else 0 for jj in range(n)]); rhs.append(k[j] + 1)  # noqa: E702
    rows.append([1 if i in u_ids else 0 for i in ids]); rhs.append(caps[1])  # noqa: E702
    if numeric:
        rows.append([1 if i[1] > e[1] else 0 for i in ids]); rhs.append(caps[2])  # noqa: E702
    res = linprog([-x for x in w], A_ub=rows, b_ub=rhs, bounds=[(0, 10)] * n, method="highs")
    assert res.status == 0
    return obj, -res.fun


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(identity_models())
def test_element_identity_property(case):
    obj, want = case
    f = load_valid(json.dumps(obj))
    for s in SOLVERS:
        r = solve(f, solver=s)
        assert r.status == "optimal", (s, r.message)
        assert r.objective == pytest.approx(want, abs=1e-6), s


# --- names ------------------------------------------------------------------------------------


RESERVED = ["return", "yield", "lambda", "None", "True", "if", "for", "in", "not", "sum"]


@pytest.mark.parametrize("word", RESERVED)
@pytest.mark.parametrize("where", ["set", "parameter", "variable", "forall index", "over index", "parameter index"])
def test_reserved_word_names_rejected(word, where):
    obj = {
        "sets": [{"name": "S", "elements": ["a"]}],
        "parameters": [{"name": "p", "index": ["S"], "value": [1]}],
        "variables": [{"name": "x", "index": ["S"], "upper": 1}],
        "objective": {"sense": "maximize", "expr": "sum(x[s] for s in S)"},
        "constraints": [general("c", "x[s] <= p[s]", forall=[{"index": "s", "set": "S"}]),
                        {"name": "a", "template": "assignment",
                         "slots": {"var": "x[s]", "over": [{"index": "s", "set": "S"}], "count": "1", "sense": "<="}}],
    }
    path = {"set": "sets[0].name", "parameter": "parameters[0].name", "variable": "variables[0].name",
            "forall index": "constraints[0].forall[0].index", "over index": "constraints[1].slots.over[0].index",
            "parameter index": "parameters[0].index[0]"}[where]
    node = obj
    for part in re.findall(r"\w+|\[\d+\]", path):
        last = (node, int(part[1:-1]) if part.startswith("[") else part)
        node = node[last[1]]
    last[0][last[1]] = word
    assert issues_of(obj) == [(path, f"`{word}` is a reserved word; rename it")]


def test_reserved_word_in_an_expression_says_so():
    obj = {"variables": [{"name": "x"}], "objective": {"sense": "maximize", "expr": "x"},
           "constraints": [general("c", "sum(x for lambda in S) <= 1")]}
    assert issues_of(obj) == [("constraints[0].slots.expr", "syntax error: invalid syntax (`lambda` is a reserved word "
                                                            "and cannot be a name) at position 10")]


def test_reserved_word_soft_keywords_and_constraint_names_are_fine():
    # soft keywords parse as names; constraint names never appear in expressions
    obj = {"variables": [{"name": "match", "upper": 2}, {"name": "case", "upper": 3}, {"name": "type", "upper": 1}],
           "objective": {"sense": "maximize", "expr": "match + case + type"},
           "constraints": [general("return", "match + case <= 4")]}
    assert objectives(obj) == [pytest.approx(5), pytest.approx(5)]


@pytest.mark.parametrize("name, plain", [("ｘ", "x"), ("ｐrofit", "profit"), ("ℎ", "h"), ("ﬁx", "fix")])
def test_non_nfkc_identifiers_rejected(name, plain):
    obj = {"variables": [{"name": name, "upper": 1}], "objective": {"sense": "maximize", "expr": "1"}}
    assert issues_of(obj) == [("variables[0].name", f"name {name!r} is not plain ASCII: it reads as {plain!r} "
                                                    f"after Unicode normalisation (NFKC); write {plain}")]
    # in an expression Python would silently read the declared `plain`: an error at the name's position
    obj = {"variables": [{"name": plain, "upper": 1}], "objective": {"sense": "maximize", "expr": f"2 * {name}"}}
    assert issues_of(obj) == [("objective.expr", f"name {name!r} is not plain ASCII: it reads as {plain!r} after "
                                                 f"Unicode normalisation (NFKC); write {plain} at position 4")]


def test_non_nfkc_identifiers_other_non_ascii_names_rejected():
    with pytest.raises(E.ExprError) as info:
        E.parse("sum(x[é] for é in I)")
    assert info.value.reason == "name 'é' is not plain ASCII; names use ASCII letters, digits and _"
    assert info.value.pos == 6  # characters, not UTF-8 bytes
    # quoted elements are texts, not names: kept exactly
    obj = model(["ｘ", "x"], [general("a", "x['ｘ'] <= 1")])
    assert solve(load_valid(obj)).values == {"x[ｘ]": 1, "x[x]": 10}
    with pytest.raises(E.ExprError) as info:
        E.parse("x['é'] ** 2")
    assert info.value.pos == 0 and "**" in info.value.reason


# --- text that is not Unicode, numbers that are not numbers ----------------------------------------


def _base():
    return {"name": "m", "problem": "p", "sets": [{"name": "S", "elements": ["a"], "description": "d"}],
            "parameters": [{"name": "p", "value": 1, "description": "d"}],
            "variables": [{"name": "x", "upper": 3, "description": "d"}],
            "objective": {"sense": "maximize", "expr": "x", "description": "d"},
            "constraints": [general("c", "x <= p", source="s")],
            "unused_numbers": [{"value": "7", "reason": "r"}]}


SURROGATE_PLACES = [
    ("name", lambda d, s: d.__setitem__("name", s)),
    ("problem", lambda d, s: d.__setitem__("problem", "text " + s)),
    ("sets[0].description", lambda d, s: d["sets"][0].__setitem__("description", s)),
    ("sets[0].elements[0]", lambda d, s: d["sets"][0]["elements"].__setitem__(0, "a" + s)),
    ("variables[0].description", lambda d, s: d["variables"][0].__setitem__("description", s)),
    ("variables[0].name", lambda d, s: d["variables"][0].__setitem__("name", s)),
    ("objective.expr", lambda d, s: d["objective"].__setitem__("expr", "x + " + s)),
    ("constraints[0].source", lambda d, s: d["constraints"][0].__setitem__("source", s)),
    ("constraints[0].slots.expr", lambda d, s: d["constraints"][0]["slots"].__setitem__("expr", f"x <= '{s}'")),
    ("unused_numbers[0].reason", lambda d, s: d["unused_numbers"][0].__setitem__("reason", s)),
]


@pytest.mark.parametrize("path, put", SURROGATE_PLACES, ids=[p for p, _ in SURROGATE_PLACES])
@pytest.mark.parametrize("surrogate", ["\ud800", "\udfff"])
@pytest.mark.parametrize("as_text", [True, False])
def test_lone_surrogate_rejected_at_load(path, put, surrogate, as_text):
    d = _base()
    assert check(load(d)) == []
    put(d, surrogate)
    src = json.dumps(d) if as_text else d  # json.dumps writes the escape "\ud800"
    with pytest.raises(FormulationError) as info:
        load(src)
    [issue] = info.value.issues
    assert issue.path == path
    assert re.fullmatch(re.escape(f"text contains a lone surrogate {ascii(surrogate)[1:-1]}") +
                        r" at character \d+: not valid Unicode", issue.message), issue.message
    str(info.value).encode("utf-8")  # the message itself is printable


def test_lone_surrogate_in_a_field_name_and_a_pair_is_fine():
    text = json.dumps(_base())[:-1] + ', "\\ud800": "plain"}'
    with pytest.raises(FormulationError) as info:
        load(text)
    assert [(i.path, i.message) for i in info.value.issues] == [
        ("", "field name '\\ud800' contains a lone surrogate: not valid Unicode")]
    d = _base()
    d["variables"][0]["description"] = "\ud83d\ude00 as an escaped pair"  # JSON joins the pair: one character
    assert check(load(json.dumps(d))) == []


def test_lone_surrogate_expressions_and_rendering():
    with pytest.raises(E.ExprError) as info:
        E.parse("x['\udc80'] + 1")
    assert (info.value.reason, info.value.pos) == ("expression contains a lone surrogate \\udc80 (not valid Unicode)", 3)
    # rendering never sees one, and renders what it parses
    node = E.parse("x['a\\u00e9'] + 2")
    assert E.to_text(node) and E.to_latex(node)


def test_lone_surrogate_cli_check_exits_2(tmp_path):
    d = _base()
    d["variables"][0]["description"] = "\ud800"
    path = tmp_path / "f.json"
    path.write_text(json.dumps(d), encoding="ascii")
    for args in (["check", str(path)], ["solve", "-f", str(path)], ["emit", str(path), "--to", "latex"]):
        proc = subprocess.run([sys.executable, "-m", "nlopt_milp.cli.app", *args], capture_output=True, text=True,
                              timeout=120)
        assert proc.returncode == 2, proc.stdout + proc.stderr
        assert "Traceback" not in proc.stderr + proc.stdout
        assert "lone surrogate" in proc.stdout + proc.stderr


HUGE = "9" * 5000


@pytest.mark.parametrize("path, text", [
    ("parameters[0].value", lambda s: s.replace('"value": 1', f'"value": {HUGE}')),
    ("variables[0].upper", lambda s: s.replace('"upper": 3', f'"upper": -{HUGE}')),
    ("sets[0].elements[0]", lambda s: s.replace('"elements": ["a"]', f'"elements": [{HUGE}]')),
    ("version", lambda s: s.replace('{"name": "m"', f'{{"version": {HUGE}, "name": "m"')),
    ("name", lambda s: s.replace('"name": "m"', f'"name": {HUGE}')),
])
def test_huge_integer_rejected_at_load(path, text):
    src = text(json.dumps(_base()))
    assert HUGE in src
    with pytest.raises(FormulationError) as info:
        load_valid(src)
    assert [(i.path, i.message) for i in info.value.issues] == [
        (path, "integer of about 5000 digits is too large for a number")]


def test_huge_integer_in_python_objects_and_expressions():
    d = _base()
    d["parameters"][0]["value"] = 10 ** 5000
    with pytest.raises(FormulationError) as info:
        load_valid(d)
    assert [(i.path, i.message) for i in info.value.issues] == [
        ("parameters[0].value", "integer of about 5000 digits is too large for a number")]
    # smaller, but beyond a float: the number check says so
    d = _base()
    d["parameters"][0]["value"] = 10 ** 400
    with pytest.raises(FormulationError) as info:
        load_valid(d)
    assert [i.path for i in info.value.issues] == ["parameters[0].value"]
    # in an expression: the parser's own limits (length, finite numbers)
    d = _base()
    d["constraints"][0]["slots"]["expr"] = "x <= " + "9" * 3000
    assert issues_of(d) == [("constraints[0].slots.expr", "number too large at position 5")]


def test_huge_integer_does_not_stop_a_batch(tmp_path):
    good = json.dumps(_base())
    path = tmp_path / "batch.jsonl"
    path.write_text("\n".join([good, good.replace('"upper": 3', f'"upper": {HUGE}'), good]) + "\n")
    proc = subprocess.run([sys.executable, "-m", "nlopt_milp.cli.app", "check", str(path), "--json"],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2, proc.stderr
    lines = [json.loads(x) for x in proc.stdout.splitlines() if x.startswith("{")]
    assert [x["valid"] for x in lines] == [True, False, True]
    assert lines[1]["issues"] == [{"path": "variables[0].upper",
                                   "message": "integer of about 5000 digits is too large for a number"}]

"""Fuzzing: hostile text and JSON never escape as anything but ExprError / FormulationError,
and nothing in an expression is ever executed."""

from __future__ import annotations

import copy
import json
import os
from pathlib import Path

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from nlopt_milp.core.expr import ExprError, Node, parse, parse_comparison, parse_condition, to_latex, to_text
from nlopt_milp.core.formulation import Formulation
from nlopt_milp.core.ground import GroundError
from nlopt_milp.core.templates import render
from nlopt_milp.core.validate import FormulationError, Issue, check, load, load_valid
from nlopt_milp.solve.linear_model import to_linear_model

FUZZ = settings(max_examples=200, deadline=None, suppress_health_check=list(HealthCheck))
FUZZ_TEXT = settings(max_examples=500, deadline=None, suppress_health_check=list(HealthCheck))  # cheap: parse only
FUZZ_SMALL = settings(max_examples=120, deadline=None, suppress_health_check=list(HealthCheck))

PARSERS = [parse, parse_comparison, parse_condition]

# --- expression text ----------------------------------------------------------------------

TOKENS = [
    "x", "y", "i", "j", "I", "J", "P", "cost", "x[i]", "cost[i, j]", "'a'", '"b"', "'", '"', "0", "1", "2.5", "-3",
    "1e999", "1" * 30, " ", "  ", "\n", "\t", "+", "-", "*", "/", "**", "%", "//", "@", "~", "<", "<=", ">=", "==",
    "!=", ">", "=", ":=", "(", ")", "[", "]", "{", "}", ",", ":", ";", ".", "..", "sum(", "sum", "for", "in", "if",
    "else", "and", "or", "not", "is", "lambda", "__", "_", "__import__", "__class__", "__builtins__", "open",
    "eval", "exec", "os", "system", "import", "yield", "await", "async", "range(3)", "[1, 2]", "\\", "#", "$",
    "\x00", "é", "𝑥", "None", "True", "f'", "b'", "...", "*x", "**x",
]

token_text = st.lists(st.sampled_from(TOKENS), max_size=25).map("".join)
spaced_text = st.lists(st.sampled_from(TOKENS), max_size=25).map(" ".join)
any_text = st.one_of(st.text(max_size=200), token_text, spaced_text)


def _parse_or_error(fn, text) -> Node | None:
    try:
        return fn(text)
    except ExprError as e:
        assert isinstance(e.reason, str) and e.reason
        assert e.pos is None or isinstance(e.pos, int)
        return None


@FUZZ_TEXT
@given(st.text())
def test_arbitrary_text_parses_or_expr_error(text):
    for fn in PARSERS:
        _parse_or_error(fn, text)


@FUZZ_TEXT
@given(st.one_of(token_text, spaced_text))
def test_token_soup_parses_or_expr_error(text):
    for fn in PARSERS:
        node = _parse_or_error(fn, text)
        if node is not None:
            # whatever parses renders and reparses to the same tree
            assert fn(to_text(node)) == node
            assert isinstance(to_latex(node), str)


@FUZZ_SMALL
@given(st.lists(st.sampled_from(TOKENS), min_size=1, max_size=6).map("".join), st.integers(1, 60))
def test_repeated_tokens_parse_or_expr_error(chunk, times):
    for fn in PARSERS:
        _parse_or_error(fn, chunk * times)


@pytest.mark.parametrize("text", [
    "(" * 5000, "(" * 150 + "x" + ")" * 150, "-" * 3000 + "x", "not " * 900 + "i == j", "x" + "[x" * 500,
    "+".join(["x"] * 1999), "sum(" * 300, "x" * 4000, "[" * 3000, "1" * 4000, "lambda: " * 400,
])
def test_pathological_text(text):
    for fn in PARSERS:
        _parse_or_error(fn, text)


# --- formulations --------------------------------------------------------------------------

VALID = {
    "version": "1",
    "name": "fuzz",
    "problem": "A small plant makes products from raw materials.",
    "sets": [{"name": "P", "elements": ["a", "b"]}, {"name": "J", "elements": [1, 2]}],
    "parameters": [
        {"name": "cost", "index": ["P", "J"], "value": [[1, 2], [3, 4]]},
        {"name": "cap", "index": ["P"], "value": [10, 20]},
        {"name": "k", "value": 2},
    ],
    "variables": [
        {"name": "x", "index": ["P", "J"], "upper": 30},
        {"name": "y", "index": ["P"], "domain": "binary"},
        {"name": "z", "domain": "integer", "lower": 0, "upper": "k"},
        {"name": "w", "upper": 50},
    ],
    "objective": {"sense": "minimize", "expr": "sum(cost[p, j] * x[p, j] for p in P for j in J) + z - w"},
    "constraints": [
        {"name": "ub", "template": "upper_bound", "forall": [{"index": "p", "set": "P"}],
         "slots": {"var": "sum(x[p, j] for j in J)", "limit": "cap[p]"}},
        {"name": "lb", "template": "lower_bound", "slots": {"var": "w", "limit": "1"}},
        {"name": "tot", "template": "sum_bound", "slots": {"terms": ["w", "z"], "limit": "60"}},
        {"name": "lin", "template": "linear", "slots": {"terms": ["2 * w", "-z"], "sense": ">=", "limit": "0"}},
        {"name": "share", "template": "ratio", "slots": {"var": "x['a', 1]", "total": ["x['a', 1]", "x['b', 1]"],
                                                          "ratio": "0.3", "sense": "<="}},
        {"name": "mult", "template": "multiple", "slots": {"x": "w", "factor": "2", "y": "z", "sense": ">="}},
        {"name": "cmp", "template": "comparison", "slots": {"x": "z", "y": "w"}},
        {"name": "bal", "template": "balance", "forall": [{"index": "j", "set": "J"}],
         "slots": {"inflow": "x['a', j]", "outflow": "x['b', j]", "demand": "0"}},
        {"name": "asg", "template": "assignment", "forall": [{"index": "j", "set": "J"}],
         "slots": {"var": "x[p, j]", "over": [{"index": "p", "set": "P"}], "count": "1", "sense": ">="}},
        {"name": "it", "template": "if_then", "forall": [{"index": "p", "set": "P"}], "where": "p != 'b'",
         "slots": {"condition": "y[p]", "then": "w >= 5"}},
        {"name": "eo", "template": "either_or", "slots": {"first": "w >= 20", "second": "z <= 1"}},
        {"name": "kn", "template": "k_of_n", "slots": {"terms": ["y['a']", "y['b']"], "mode": "at_least", "k": "1"}},
        {"name": "fc", "template": "fixed_charge", "forall": [{"index": "p", "set": "P"}],
         "slots": {"var": "x[p, 1]", "indicator": "y[p]", "capacity": "cap[p]", "cost": "100"}},
        {"name": "mx", "template": "mutual_exclusion", "slots": {"terms": ["y['a']", "y['b']"]}},
        {"name": "dep", "template": "dependency", "slots": {"if_var": "y['a']", "then_var": "y['b']"}},
        {"name": "lot", "template": "semi_continuous", "slots": {"var": "w", "minimum": "4"}},
        {"name": "gen", "template": "general", "forall": [{"index": "p", "set": "P"}, {"index": "j", "set": "J"}],
         "where": "j > 1", "slots": {"expr": "x[p, j] <= x[p, 1] + k"}},
    ],
}


def test_valid_fixture_is_valid():
    f = load(VALID)
    assert check(f) == []
    assert len(to_linear_model(f).rows) > 0


def _paths(obj, prefix=()):
    """Every (path, value) in a JSON tree, root excluded."""
    if isinstance(obj, dict):
        items = obj.items()
    elif isinstance(obj, list):
        items = enumerate(obj)
    else:
        return
    for k, v in items:
        yield prefix + (k,), v
        yield from _paths(v, prefix + (k,))


def _parent(obj, path):
    for k in path[:-1]:
        obj = obj[k]
    return obj


json_scalars = st.one_of(
    st.none(), st.booleans(), st.integers(-10**20, 10**20), st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=30), token_text,
)
json_values = st.recursive(
    json_scalars,
    lambda c: st.one_of(st.lists(c, max_size=4), st.dictionaries(st.text(max_size=8), c, max_size=4)),
    max_leaves=15,
)


def _load_check(obj):
    """load then check: a Formulation with a list of Issues, or a FormulationError; nothing else."""
    try:
        f = load(obj)
    except FormulationError as e:
        assert e.issues and all(isinstance(i, Issue) for i in e.issues)
        for i in e.issues:
            assert isinstance(i.path, str) and isinstance(i.message, str) and "\n" not in i.message
        event("load: FormulationError")
        return None, None
    assert isinstance(f, Formulation)
    issues = check(f)
    assert isinstance(issues, list) and all(isinstance(i, Issue) for i in issues)
    for i in issues:
        assert isinstance(i.path, str) and i.message and "\n" not in i.message
    event("check: issues" if issues else "check: clean")
    return f, issues


def _clean_formulation_grounds(f):
    """A formulation that passes check can be linearized, grounded and rendered."""
    lm = to_linear_model(f)
    assert lm.columns
    for c in f.constraints:
        assert "\n" not in render(c)


@FUZZ
@given(json_values)
def test_arbitrary_json_loads_or_formulation_error(obj):
    _load_check(obj)
    _load_check(json.dumps(obj, allow_nan=True))


@FUZZ_SMALL
@given(st.dictionaries(st.sampled_from(list(VALID) + ["extra"]), json_values, max_size=9))
def test_arbitrary_top_level_fields(obj):
    _load_check(obj)


@FUZZ_SMALL
@given(st.one_of(st.text(max_size=300), st.binary(max_size=300)))
def test_arbitrary_text_and_bytes_into_load(raw):
    _load_check(raw)


@st.composite
def mutated(draw):
    d = copy.deepcopy(VALID)
    for _ in range(draw(st.integers(1, 4))):
        paths = list(_paths(d))
        if not paths:
            break
        path, value = draw(st.sampled_from(paths))
        parent = _parent(d, path)
        key = path[-1]
        op = draw(st.sampled_from(["drop", "json", "text", "expr", "dup"]))
        if op == "drop":
            del parent[key]
        elif op == "json":
            parent[key] = draw(json_values)
        elif op == "text":
            parent[key] = draw(st.text(max_size=40))
        elif op == "expr" or isinstance(value, str):
            parent[key] = draw(st.one_of(token_text, spaced_text))
        elif op == "dup" and isinstance(parent, list):
            parent.append(copy.deepcopy(value))
    return d


def _is_expression(path) -> bool:
    if path[0] == "objective":
        return path[-1] == "expr"
    if path[0] != "constraints" or path[-1] in NOT_EXPRESSIONS or "over" in path:
        return False
    return "slots" in path or path[-1] == "where"


NOT_EXPRESSIONS = ("sense", "mode", "name", "template", "source")


@st.composite
def expression_mutated(draw):
    """Only expression strings replaced: the structure stays valid, so `check` does the work."""
    d = copy.deepcopy(VALID)
    targets = [(p, v) for p, v in _paths(d) if isinstance(v, str) and _is_expression(p)]
    for _ in range(draw(st.integers(1, 3))):
        path, _ = draw(st.sampled_from(targets))
        text = draw(st.one_of(token_text, spaced_text, st.text(max_size=30), st.sampled_from(GOOD_EXPRESSIONS)))
        _parent(d, path)[path[-1]] = text or "w"  # non-empty: the schema asks for that
    return d


GOOD_EXPRESSIONS = [
    "w", "z", "y['a']", "y[p]", "x[p, 1]", "x['a', j]", "k", "cap[p]", "cost[p, j]", "2 * w", "w / 2", "w - z",
    "sum(x[p, j] for p in P for j in J)", "sum(x[q, j] for q in P) / k", "w >= 3", "z <= k", "x[p, 1] == 0",
    "p != 'a'", "j > 1", "0.5", "1", "100", "-w", "w * z", "w / z", "w * 1e12", "1 / 0", "x[p, j]", "y",
]


@FUZZ
@given(mutated())
def test_mutated_formulation_loads_or_formulation_error(d):
    f, issues = _load_check(d)
    if f is not None and not issues:
        _clean_formulation_grounds(f)


@FUZZ
@given(expression_mutated())
def test_expression_mutations_are_reported_not_raised(d):
    f, issues = _load_check(d)
    assert f is not None  # the structure is untouched
    if issues:
        with pytest.raises(FormulationError):
            load_valid(d)
    else:
        _clean_formulation_grounds(f)


numbers = st.one_of(
    st.integers(-5, 60), st.floats(-1e6, 1e6, allow_nan=False), st.sampled_from([0, -0.0, 1e300, -1e300, 1e-300]),
)


@st.composite
def data_mutated(draw):
    """Only numbers (parameter values, bounds) changed: structure and expressions stay valid."""
    d = copy.deepcopy(VALID)
    targets = [p for p, v in _paths(d) if isinstance(v, (int, float)) and p[0] != "sets"]
    targets += [("variables", k, b) for k in range(len(d["variables"])) for b in ("lower", "upper")]
    for _ in range(draw(st.integers(1, 4))):
        path = draw(st.sampled_from(targets))
        parent = _parent(d, path)
        parent[path[-1]] = draw(st.one_of(numbers, st.none())) if path[-1] in ("lower", "upper") else draw(numbers)
    if draw(st.booleans()):
        d["variables"][3]["domain"] = draw(st.sampled_from(["continuous", "integer", "binary"]))
    return d


@FUZZ_SMALL
@given(data_mutated())
def test_data_mutations_are_reported_not_raised(d):
    f, issues = _load_check(d)
    assert f is not None
    if not issues:
        _clean_formulation_grounds(f)


# --- never code execution ------------------------------------------------------------------

CANARY_DIR = Path("/tmp")


def _payloads(tag: str) -> list[str]:
    target = CANARY_DIR / f"PWNED_{tag}"
    return [
        f"__import__('os').system('touch {target}_a')",
        f"open('{target}_b', 'w')",
        f"open('{target}_c', 'w').write('x') <= 1",
        f"(lambda: __import__('os').system('touch {target}_d'))()",
        f"sum(x for x in __import__('os').system('touch {target}_e'))",
        f"sum(open('{target}_f', 'w') for p in P)",
        f"x[__import__('os').system('touch {target}_g'), 1]",
        "().__class__.__base__.__subclasses__()",
        f"exec(\"open('{target}_h', 'w')\")",
        f"eval('open(\\'{target}_i\\', \\'w\\')')",
        "breakpoint()",
        f"w >= __import__('pathlib').Path('{target}_j').touch()",
        f"p != __import__('os').system('touch {target}_k')",
    ]


def _placements(payload: str):
    """The formulation with `payload` in every place that holds an expression, one at a time."""
    places = [("objective", "expr")]
    for k, c in enumerate(VALID["constraints"]):
        places.append(("constraints", k, "where"))
        for slot, value in c["slots"].items():
            if slot in NOT_EXPRESSIONS:
                continue
            if isinstance(value, list) and value and isinstance(value[0], str):
                places.append(("constraints", k, "slots", slot, 0))
            elif isinstance(value, str):
                places.append(("constraints", k, "slots", slot))
    places.append(("constraints", 9, "slots", "big_m"))
    places.append(("constraints", 10, "slots", "big_m"))
    places.append(("constraints", 15, "slots", "maximum"))
    places.append(("constraints", 15, "slots", "indicator"))
    for path in places:
        d = copy.deepcopy(VALID)
        parent = d
        for key in path[:-1]:
            parent = parent[key]
        parent[path[-1]] = payload
        yield path, d


def _json_path(path) -> str:
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else ("." if out else "") + part
    return out


def _assert_no_canary(tag):
    left = sorted(str(p) for p in CANARY_DIR.glob(f"PWNED_{tag}*"))
    assert not left, f"code was executed: {left}"


@pytest.fixture
def canary_tag(request):
    tag = f"{os.getpid()}_{request.node.name}".replace("[", "_").replace("]", "_")
    for p in CANARY_DIR.glob(f"PWNED_{tag}*"):
        p.unlink()
    yield tag
    _assert_no_canary(tag)


def test_canary_in_parsers(canary_tag):
    for payload in _payloads(canary_tag):
        for fn in PARSERS:
            with pytest.raises(ExprError):
                fn(payload)
    _assert_no_canary(canary_tag)


def test_canary_everywhere_through_the_pipeline(canary_tag):
    payloads = _payloads(canary_tag)
    count = 0
    for payload in payloads:
        for path, d in _placements(payload):
            count += 1
            f = load(d)  # structurally fine: the payload is just a string
            issues = check(f)
            assert issues, f"{path}: accepted {payload!r}"
            expected = _json_path(path)
            assert any(i.path == expected for i in issues), (expected, issues)
            if payload is payloads[0]:
                with pytest.raises(FormulationError):
                    load_valid(d)
            # the unchecked formulation through the later stages: rejected, never run
            with pytest.raises((ExprError, GroundError)):
                to_linear_model(f)
            _assert_no_canary(canary_tag)
    assert count > 100


def test_canary_in_data_is_just_data(canary_tag):
    # payloads as set elements, names and descriptions are plain data: quoted, never evaluated
    payload = f"__import__('os').system('touch /tmp/PWNED_{canary_tag}_data')"
    d = copy.deepcopy(VALID)
    d["sets"][0]["elements"] = ["a", payload]
    d["problem"] = payload
    d["constraints"][0]["source"] = payload
    d["variables"][0]["description"] = payload
    d["parameters"][0]["value"] = [[1, 2], [3, 4]]
    f = load(d)
    # constraints that name element 'b' now fail, but by grounding, not by running anything
    issues = check(f)
    assert all(isinstance(i, Issue) for i in issues)
    d["constraints"] = [c for c in d["constraints"] if "'b'" not in json.dumps(c)]
    f = load(d)
    assert check(f) == []
    lm = to_linear_model(f)
    assert any(payload in col.label for col in lm.columns)
    _assert_no_canary(canary_tag)


def test_canary_in_quoted_element_is_just_a_string(canary_tag):
    payload = f"__import__('os').system('touch /tmp/PWNED_{canary_tag}_q')"
    node = parse(f"x[{payload!r}, 1]")
    assert node.args[0].value == payload
    d = copy.deepcopy(VALID)
    d["objective"]["expr"] = f"x[{payload!r}, 1]"
    [issue] = check(load(d))
    assert issue.path == "objective.expr" and "is not an element of set P" in issue.message
    _assert_no_canary(canary_tag)

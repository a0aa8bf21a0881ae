"""Loading and validating formulations: every problem, a precise path, a one-line reason."""

from __future__ import annotations

import copy
import json
import warnings

import pytest

from nlopt_milp.core.formulation import Formulation
from nlopt_milp.core.ground import GroundError
from nlopt_milp.core.validate import FormulationError, Issue, check, load, load_file, load_valid
from nlopt_milp.solve.linear_model import to_linear_model

BASE = {
    "version": "1",
    "name": "base",
    "sets": [{"name": "P", "elements": ["a", "b", "c"]}],
    "parameters": [
        {"name": "profit", "index": ["P"], "value": [3, 2, 4]},
        {"name": "cap", "value": 100},
    ],
    "variables": [
        {"name": "x", "index": ["P"], "upper": 50},
        {"name": "y", "index": ["P"], "domain": "binary"},
        {"name": "z"},
    ],
    "objective": {"sense": "maximize", "expr": "sum(profit[p] * x[p] for p in P) - z"},
    "constraints": [
        {"name": "total", "template": "sum_bound",
         "slots": {"terms": ["sum(x[p] for p in P)", "z"], "limit": "cap"}},
        {"name": "ub", "template": "upper_bound", "forall": [{"index": "p", "set": "P"}],
         "slots": {"var": "x[p]", "limit": "40"}},
        {"name": "share", "template": "ratio",
         "slots": {"var": "x['a']", "total": ["sum(x[p] for p in P)"], "ratio": "0.2"}},
        {"name": "it", "template": "if_then", "forall": [{"index": "p", "set": "P"}],
         "slots": {"condition": "y[p]", "then": "x[p] >= 5"}},
        {"name": "eo", "template": "either_or", "slots": {"first": "x['a'] >= 10", "second": "x['b'] >= 10"}},
    ],
}


def base() -> dict:
    return copy.deepcopy(BASE)


def load_issues(obj) -> list[tuple[str, str]]:
    with pytest.raises(FormulationError) as info:
        load(obj)
    return [(i.path, i.message) for i in info.value.issues]


def check_issues(obj) -> list[tuple[str, str]]:
    return [(i.path, i.message) for i in check(load(obj))]


def assert_one_line(issues):
    for _, message in issues:
        assert message and "\n" not in message and len(message) < 200, message


def test_base_is_valid():
    f = load(base())
    assert isinstance(f, Formulation)
    assert check(f) == []
    assert load_valid(base()).name == "base"


def test_load_file(tmp_path):
    p = tmp_path / "f.json"
    p.write_text(json.dumps(BASE))
    f = load_file(p)
    assert check(f) == []


# --- semantic checks (check) ------------------------------------------------------------


def test_unknown_variable_in_slot():
    d = base()
    d["constraints"][1]["slots"]["var"] = "w[p]"
    issues = check_issues(d)
    assert issues == [("constraints[1].slots.var", "unknown name w (for p='a')")]
    assert_one_line(issues)


def test_ratio_given_as_percent():
    d = base()
    d["constraints"][2]["slots"]["ratio"] = "20"
    issues = check_issues(d)
    assert len(issues) == 1
    path, message = issues[0]
    assert path == "constraints[2].slots.ratio"
    assert "between 0 and 1" in message and "got 20" in message and "0.2" in message
    assert_one_line(issues)


@pytest.mark.parametrize("ratio", ["-0.1", "1.5", "cap"])
def test_ratio_out_of_range(ratio):
    d = base()
    d["constraints"][2]["slots"]["ratio"] = ratio
    [(path, message)] = check_issues(d)
    assert path == "constraints[2].slots.ratio"
    assert "between 0 and 1" in message


@pytest.mark.parametrize("ratio", ["0", "1", "0.35", "1 / 4"])
def test_ratio_in_range(ratio):
    d = base()
    d["constraints"][2]["slots"]["ratio"] = ratio
    assert check_issues(d) == []


@pytest.mark.parametrize("value, fragment", [
    ([3, 2], "has 2 entries, set P has 3 elements"),
    ([3, 2, 4, 5], "has 4 entries, set P has 3 elements"),
    (7, "expected a list of 3 entries (set P), got a number"),
    ([[3], [2], [4]], "expected a number, got a list"),
])
def test_wrong_parameter_shape(value, fragment):
    d = base()
    d["parameters"][0]["value"] = value
    [(path, message)] = check_issues(d)
    assert path == "parameters[0].value"
    assert fragment in message


def test_scalar_parameter_given_a_list():
    d = base()
    d["parameters"][1]["value"] = [100]
    assert check_issues(d) == [("parameters[1].value", "shape: expected a number, got a list")]


def test_parameter_not_finite():
    d = base()
    d["parameters"][0]["value"] = [1, float("nan"), 3]
    assert check_issues(d) == [("parameters[0].value", "values must be finite numbers")]


def test_unknown_set_in_forall():
    d = base()
    d["constraints"][1]["forall"][0]["set"] = "Q"
    assert check_issues(d) == [("constraints[1].forall[0].set", "unknown set Q")]


def test_unknown_set_in_sum():
    d = base()
    d["objective"]["expr"] = "sum(x[p] for p in Q)"
    assert check_issues(d) == [("objective.expr", "unknown set Q")]


def test_unknown_set_in_declarations():
    d = base()
    d["parameters"][0]["index"] = ["Q"]
    d["variables"][0]["index"] = ["P", "R"]
    assert check_issues(d) == [
        ("parameters[0].index", "unknown set Q"),
        ("variables[0].index", "unknown set R"),
    ]


def test_duplicate_names():
    d = base()
    d["variables"].append({"name": "profit"})
    d["sets"].append({"name": "x", "elements": [1]})
    d["constraints"].append(copy.deepcopy(d["constraints"][0]))
    issues = check_issues(d)
    assert ("parameters[0].name", "name profit is already used by sets[1]") not in issues
    assert ("variables[0].name", "name x is already used by sets[1]") in issues
    assert ("variables[3].name", "name profit is already used by parameters[0]") in issues
    assert_one_line(issues)
    # declarations are broken: expressions are not checked (yet)
    d = base()
    d["constraints"].append(copy.deepcopy(d["constraints"][0]))
    assert check_issues(d) == [("constraints[5].name", "name total is already used by constraints[0]")]


def test_duplicate_set_element():
    d = base()
    d["sets"][0]["elements"] = ["a", "b", "a"]
    assert check_issues(d) == [("sets[0].elements[2]", "duplicate element 'a'")]


def test_name_sum_is_reserved():
    d = base()
    d["variables"].append({"name": "sum"})
    assert load_issues(d) == [("variables[3].name", "`sum` is a reserved word; rename it")]


@pytest.mark.parametrize("bound, value, fragment", [
    ("lower", "nope", "nope is not a parameter"),
    ("upper", "profit", None),  # indexed like the variable: fine
    ("upper", "cap", None),  # scalar: fine
    ("upper", float("inf"), "use null for no bound"),
])
def test_variable_bounds(bound, value, fragment):
    d = base()
    d["variables"][0][bound] = value
    issues = check_issues(d)
    if fragment is None:
        assert issues == []
    else:
        assert issues == [(f"variables[0].{bound}", fragment)]


def test_bound_parameter_with_other_index():
    d = base()
    d["variables"][2]["upper"] = "profit"
    assert check_issues(d) == [
        ("variables[2].upper", "parameter profit is indexed by ['P'], the variable by []"),
    ]


def test_crossed_bounds():
    d = base()
    d["variables"][0]["lower"] = 60
    assert check_issues(d) == [("variables[0]", "lower bound 60 exceeds upper bound 50")]


def test_if_then_condition_must_be_binary():
    d = base()
    d["constraints"][3]["slots"]["condition"] = "x[p]"
    [(path, message)] = check_issues(d)
    assert path == "constraints[3].slots.condition"
    assert "must be binary" in message and "variable x" in message and "continuous" in message


@pytest.mark.parametrize("condition, fragment", [
    ("z", "variable z must be binary, it is continuous"),
    ("2 * y[p]", "must be a single binary variable"),
    ("y[p] + y['a']", "must be a single binary variable"),
    ("1", "must contain a binary variable"),
])
def test_if_then_condition_variants(condition, fragment):
    d = base()
    d["constraints"][3]["slots"]["condition"] = condition
    [(path, message)] = check_issues(d)
    assert path == "constraints[3].slots.condition"
    assert fragment in message


@pytest.mark.parametrize("constraint, path, message", [
    ({"template": "assignment", "slots": {"var": "y[p]", "over": [{"index": "p", "set": "Q"}]}},
     "slots.over[0].set", "unknown set Q"),
    ({"template": "assignment", "slots": {"var": "y[p]", "over": [{"index": "p", "set": "P"}], "count": "y['a']"}},
     "slots.count", "must be a constant, but y['a'] contains variables"),
    ({"template": "k_of_n", "slots": {"terms": ["y['a']", "x['a']"], "mode": "at_least", "k": "1"}},
     "slots.terms[1]", "variable x must be binary, it is continuous"),
    ({"template": "mutual_exclusion", "slots": {"terms": ["y['a']", "2"]}},
     "slots.terms[1]", "must contain a binary variable"),
    ({"template": "dependency", "slots": {"if_var": "y['a']", "then_var": "z"}},
     "slots.then_var", "variable z must be binary, it is continuous"),
    ({"template": "general", "slots": {"expr": "y['a'] < 1"}},
     "slots.expr", "expected a comparison 'lhs <= rhs', 'lhs >= rhs' or 'lhs == rhs'"),
    ({"template": "general", "slots": {"expr": "sum(x[p] for p in P if x[p] > 1) <= 1"}},
     "slots.expr", "a filter cannot use variables: x[p] > 1"),
    ({"template": "general", "slots": {"expr": "sum(x[p] for p in P if p > 1) <= 1"}},
     "slots.expr", "cannot order a name and a number: p > 1"),
    ({"template": "fixed_charge", "slots": {"var": "z", "indicator": "y['a']", "capacity": "z"}},
     "slots.capacity", "must be a constant, but z contains variables"),
])
def test_slot_kind_checks(constraint, path, message):
    d = base()
    d["constraints"].append({"name": "extra", **constraint})
    issues = check_issues(d)
    assert len(issues) == 1
    assert issues[0][0] == f"constraints[5].{path}"
    assert message in issues[0][1]


def test_then_must_be_a_comparison():
    d = base()
    d["constraints"][3]["slots"]["then"] = "x[p] + 5"
    [(path, message)] = check_issues(d)
    assert path == "constraints[3].slots.then"
    assert "expected a comparison" in message


def test_big_m_not_derivable_names_the_variable():
    d = base()
    d["constraints"][4]["slots"]["first"] = "z <= 10"  # z has no upper bound
    issues = check_issues(d)
    assert len(issues) == 1
    path, message = issues[0]
    assert path == "constraints[4].slots.first"
    assert "cannot derive a big-M" in message and "variable z has no finite bound" in message
    assert_one_line(issues)
    # no silent 1e6 when grounding either
    with pytest.raises(GroundError, match="variable z has no finite bound"):
        to_linear_model(load(d))


def test_big_m_given_fixes_it():
    d = base()
    d["constraints"][4]["slots"]["first"] = "z <= 10"
    d["constraints"][4]["slots"]["big_m"] = "500"
    assert check_issues(d) == []
    lm = to_linear_model(load(d))
    rows = {r.constraint: ({lm.columns[k].label: c for k, c in r.coefs.items()}, r.sense, r.rhs)
            for r in lm.rows if r.constraint.startswith("eo")}
    # the given big-M relaxes both sides: z - 10 <= 500 e ; 10 - x[b] <= 500 (1 - e)
    assert rows == {
        "eo_first": ({"z": 1.0, "either_eo": -500.0}, "<=", 10.0),
        "eo_second": ({"x[b]": -1.0, "either_eo": 500.0}, "<=", 490.0),
    }


def test_big_m_bound_by_a_parameter_is_derivable():
    d = base()
    d["variables"][2]["upper"] = "cap"
    d["constraints"][4]["slots"]["first"] = "z <= 10"
    assert check_issues(d) == []


@pytest.mark.parametrize("template, slots, slot", [
    ("semi_continuous", {"var": "z", "minimum": "3"}, "slots.var"),
    ("fixed_charge", {"var": "z", "indicator": "y['a']"}, "slots.var"),
])
def test_big_m_from_missing_upper_bound(template, slots, slot):
    d = base()
    d["constraints"].append({"name": "extra", "template": template, "slots": slots})
    [(path, message)] = check_issues(d)
    assert path == f"constraints[5].{slot}"
    assert "variable z has no finite bound" in message


def test_if_then_big_m_reports_the_instance():
    d = base()
    d["constraints"][3]["slots"]["then"] = "z <= 10"
    [(path, message)] = check_issues(d)
    assert path == "constraints[3].slots.then"
    assert "for p='a'" in message and "variable z" in message


def test_constant_slot_with_variable():
    d = base()
    d["constraints"][1]["slots"]["limit"] = "x[p]"
    assert check_issues(d) == [
        ("constraints[1].slots.limit", "must be a constant, but x[p] contains variables (for p='a')"),
    ]


def test_where_problems():
    d = base()
    d["constraints"][1]["where"] = "q != 'a'"
    assert check_issues(d) == [("constraints[1].where", "unknown name q")]
    d["constraints"][1]["where"] = "p != 'a' and"
    [(path, message)] = check_issues(d)
    assert path == "constraints[1].where" and message.startswith("syntax error")
    d["constraints"][1]["where"] = "p == 'zz'"
    assert check_issues(d) == [
        ("constraints[1].forall", "no instances: the sets are empty or the filter excludes everything"),
    ]


def test_index_hides_a_model_name():
    d = base()
    d["constraints"][1]["forall"][0]["index"] = "x"
    d["constraints"][1]["slots"]["var"] = "z"
    assert ("constraints[1].forall[0].index", "index x hides the model name x") in check_issues(d)


def test_forall_index_bound_twice():
    d = base()
    d["constraints"][1]["forall"].append({"index": "p", "set": "P"})
    assert ("constraints[1].forall[1].index", "index p is bound twice") in check_issues(d)


def test_syntax_errors_in_several_slots_all_reported():
    d = base()
    d["constraints"][2]["slots"]["var"] = "x['a'] +"
    d["constraints"][2]["slots"]["total"] = ["x['a']", "x.b"]
    d["constraints"][2]["slots"]["ratio"] = "__import__('os')"
    issues = check_issues(d)
    paths = [p for p, _ in issues]
    assert paths == ["constraints[2].slots.var", "constraints[2].slots.total[1]", "constraints[2].slots.ratio"]
    assert "syntax error" in issues[0][1]
    assert "attribute access" in issues[1][1]
    assert "call of __import__(...) is not allowed" in issues[2][1]
    assert_one_line(issues)


def test_every_problem_reported_at_once():
    d = base()
    d["objective"]["expr"] = "sum(profit[p] * x[p] for p in P) + w"
    d["constraints"][1]["slots"]["var"] = "w[p]"
    d["constraints"][2]["slots"]["ratio"] = "20"
    d["constraints"][3]["slots"]["condition"] = "x[p]"
    d["constraints"][4]["slots"]["first"] = "z <= 10"
    d["constraints"][0]["forall"] = [{"index": "k", "set": "K"}]
    issues = check_issues(d)
    assert [p for p, _ in issues] == [
        "objective.expr",
        "constraints[0].forall[0].set",
        "constraints[1].slots.var",
        "constraints[2].slots.ratio",
        "constraints[3].slots.condition",
        "constraints[4].slots.first",
    ]
    assert issues[0][1] == "unknown name w"
    assert issues[1][1] == "unknown set K"
    assert "between 0 and 1" in issues[3][1]
    assert "must be binary" in issues[4][1]
    assert "variable z" in issues[5][1]
    assert_one_line(issues)


def test_every_declaration_problem_reported_at_once():
    d = base()
    d["parameters"][0]["value"] = [1, 2]
    d["variables"][0]["index"] = ["Q"]
    d["variables"][1]["lower"] = "nope"
    d["sets"][0]["elements"] = ["a", "b", "b"]
    issues = check_issues(d)
    assert sorted(p for p, _ in issues) == sorted([
        "sets[0].elements[2]", "parameters[0].value", "variables[0].index", "variables[1].lower",
    ])


def test_syntax_errors_reported_with_declaration_problems():
    # a broken declaration stops the checks against the data, not the parser
    d = base()
    d["variables"][0]["index"] = ["Q"]
    d["constraints"].append({"name": "square", "template": "general", "slots": {"expr": "z ** 2 <= 4"}})
    assert check_issues(d) == [
        ("variables[0].index", "unknown set Q"),
        ("constraints[5].slots.expr", "operator ** is not allowed (use + - * /) at position 0"),
    ]


def test_every_syntax_error_reported_with_declaration_problems():
    d = base()
    d["sets"][0]["elements"] = ["a", "a", "b"]
    d["objective"]["expr"] = "sum(profit[p] * x[p] for p in P) +"
    d["constraints"][0]["slots"]["terms"] = ["sum(x[p] for p in P)", "z.real"]
    d["constraints"][1]["where"] = "p !="
    d["constraints"][2]["slots"]["var"] = "w['a']"  # an unknown name needs the declarations: not reported
    d["constraints"][4]["slots"]["first"] = "x['a'] + 1"  # not a comparison: a parse error
    issues = check_issues(d)
    assert [p for p, _ in issues] == [
        "sets[0].elements[1]", "objective.expr", "constraints[0].slots.terms[1]", "constraints[1].where",
        "constraints[4].slots.first",
    ]
    assert_one_line(issues)
    # the same paths and reasons as with sound declarations
    d["sets"][0]["elements"] = ["a", "b", "c"]
    d["constraints"][2]["slots"]["var"] = "x['a']"
    assert check_issues(d) == issues[1:]


def test_declaration_problems_still_hide_data_checks():
    d = base()
    d["parameters"][1]["value"] = [1, 2]
    d["constraints"][1]["slots"]["var"] = "w[p]"
    d["constraints"][2]["slots"]["ratio"] = "20"
    assert [p for p, _ in check_issues(d)] == ["parameters[1].value"]


def test_element_in_arithmetic_reported_like_before():
    # `p` is bound to the element 'a': the first error in evaluation order is reported
    cases = {
        "p + w[p]": "unknown name w (for p='a')",
        "x[p] + p": "element 'a' is a name, not a number, in p (for p='a')",
        "-p + x[p]": "element 'a' is a name, not a number, in -p (for p='a')",
        "2 * p": "element 'a' is a name, not a number, in p (for p='a')",
        "x[p] - (p + v)": "unknown name v (for p='a')",
    }
    for var, message in cases.items():
        d = base()
        d["constraints"][1]["slots"]["var"] = var
        assert check_issues(d) == [("constraints[1].slots.var", message)], var


def test_template_aux_declarations_do_not_leak_between_constraints():
    # two either_or constraints: each gets its own aux binary and derived big-M in the checks
    d = base()
    d["constraints"].append({"name": "eo2", "template": "either_or",
                             "slots": {"first": "x['b'] >= 10", "second": "x['c'] >= 10"}})
    f = load(d)
    assert check(f) == []
    lm = to_linear_model(f)
    aux = sorted({c.key[0] for c in lm.columns} - {"x", "y", "z"})
    assert aux == ["either_eo", "either_eo2"]


def test_issues_per_constraint_are_capped():
    d = base()
    d["constraints"][1]["slots"]["var"] = "w[p]"
    d["constraints"][1]["slots"]["limit"] = "v[p]"
    issues = check_issues(d)
    assert issues == [
        ("constraints[1].slots.var", "unknown name w (for p='a')"),
        ("constraints[1].slots.limit", "unknown name v (for p='a')"),
    ]


def test_issue_str_and_error_text():
    i = Issue("constraints[1].slots.var", "unknown name w")
    assert str(i) == "constraints[1].slots.var: unknown name w"
    assert str(Issue("", "bad")) == "bad"
    err = FormulationError([i, Issue("", "bad")], "f.json")
    assert str(err).splitlines() == [
        "f.json: invalid formulation (2 problems):",
        "  constraints[1].slots.var: unknown name w",
        "  bad",
    ]
    assert err.issues[0] is i and err.source == "f.json"


def test_load_valid_raises_with_all_issues():
    d = base()
    d["constraints"][1]["slots"]["var"] = "w[p]"
    d["constraints"][2]["slots"]["ratio"] = "20"
    with pytest.raises(FormulationError) as info:
        load_valid(d, "t.json")
    assert [i.path for i in info.value.issues] == ["constraints[1].slots.var", "constraints[2].slots.ratio"]
    assert str(info.value).startswith("t.json: invalid formulation (2 problems):")


# --- structural checks (load) -----------------------------------------------------------


def test_unknown_template_close_match():
    d = base()
    d["constraints"][0]["template"] = "sum_bund"
    issues = load_issues(d)
    assert issues == [("constraints[0].template", "unknown template 'sum_bund'; did you mean sum_bound?")]
    assert_one_line(issues)


def test_unknown_template_no_match():
    d = base()
    d["constraints"][4]["template"] = "knapsack_magic"
    [(path, message)] = load_issues(d)
    assert path == "constraints[4].template"
    assert message.startswith("unknown template 'knapsack_magic'")
    assert len(message) < 200


def test_missing_template():
    d = base()
    del d["constraints"][0]["template"]
    [(path, message)] = load_issues(d)
    assert path == "constraints[0].template"
    assert message.startswith("missing template")


def test_missing_required_slot():
    d = base()
    del d["constraints"][2]["slots"]["ratio"]
    assert load_issues(d) == [("constraints[2].slots.ratio", "required field missing")]


def test_extra_fields():
    d = base()
    d["constraints"][2]["slots"]["colour"] = "red"
    d["constraints"][1]["priority"] = 3
    d["colour"] = "red"
    assert sorted(load_issues(d)) == sorted([
        ("constraints[2].slots.colour", "unknown field"),
        ("constraints[1].priority", "unknown field"),
        ("colour", "unknown field"),
    ])


def test_every_structural_problem_reported_at_once():
    d = base()
    del d["objective"]["sense"]
    d["variables"][0]["domain"] = "real"
    d["variables"][1]["name"] = "2y"
    d["constraints"][0]["template"] = "sum_bund"
    del d["constraints"][2]["slots"]["ratio"]
    d["constraints"][3]["slots"]["then"] = ""
    issues = load_issues(d)
    paths = [p for p, _ in issues]
    assert sorted(paths) == sorted([
        "variables[0].domain", "variables[1].name", "objective.sense", "constraints[0].template",
        "constraints[2].slots.ratio", "constraints[3].slots.then",
    ])
    msg = dict(issues)
    assert "'continuous', 'integer' or 'binary'" in msg["variables[0].domain"]
    assert msg["objective.sense"] == "required field missing"
    assert_one_line(issues)


@pytest.mark.parametrize("field, value, message", [
    ("value", "many", "must be a number or nested lists of numbers"),
    ("value", [1, "a", 3], "must be a number or nested lists of numbers"),
    ("value", [1, None, 3], "must be a number or nested lists of numbers"),
    ("value", [[[[1]]]], "must be a number or nested lists of numbers"),
])
def test_parameter_value_type_reported_once(field, value, message):
    d = base()
    d["parameters"][0][field] = value
    issues = load_issues(d)
    assert len(issues) == 1
    assert issues[0][0] == "parameters[0].value"
    assert message in issues[0][1]


def test_bound_type_reported_once():
    d = base()
    d["variables"][0]["lower"] = [1]
    assert load_issues(d) == [("variables[0].lower", "must be a number, a parameter name, or null")]


def test_set_element_type_reported_once():
    d = base()
    d["sets"][0]["elements"] = ["a", True, None]
    assert load_issues(d) == [
        ("sets[0].elements[1]", "set elements must be numbers or strings"),
        ("sets[0].elements[2]", "set elements must be numbers or strings"),
    ]


def test_empty_lists():
    d = base()
    d["constraints"][2]["slots"]["total"] = []
    d["variables"] = []
    issues = dict(load_issues(d))
    assert "at least 1 item" in issues["constraints[2].slots.total"]
    assert "at least 1 item" in issues["variables"]


def test_missing_objective():
    d = base()
    del d["objective"]
    assert load_issues(d) == [("objective", "required field missing")]


def test_invalid_json_text_with_line_and_column():
    text = '{\n  "version": "1",\n  "variables": [,]\n}'
    [(path, message)] = load_issues(text)
    assert path == ""
    assert message == "invalid JSON at line 3 column 17: Expecting value"


def test_invalid_json_bytes():
    [(path, message)] = load_issues(b'{"a": ')
    assert path == "" and message.startswith("invalid JSON at line 1 column 7")
    assert load_issues(b"\xff\xfe") == [("", "not UTF-8 text (byte 0)")]


@pytest.mark.parametrize("obj, kind", [("[1, 2]", "list"), ("3", "int"), ('"x"', "str"), ("null", "NoneType"),
                                       ([], "list"), (None, "NoneType")])
def test_non_object_json(obj, kind):
    assert load_issues(obj) == [("", f"expected a JSON object, got {kind}")]


@pytest.mark.parametrize("version", ["2", 2, "1.0", None])
def test_unsupported_version(version):
    d = base()
    d["version"] = version
    [(path, message)] = load_issues(d)
    assert path == "version"
    assert message.startswith(f"unsupported format version {version!r}")


def test_version_number_one_accepted():
    d = base()
    d["version"] = 1
    assert load(d).version == "1"


def test_json_text_round_trip():
    f = load(json.dumps(BASE), "x.json")
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # default bounds serialize cleanly
        text = f.model_dump_json()
    assert load(text) == f
    assert json.loads(text)["variables"][2]["lower"] == 0


def test_load_file_missing(tmp_path):
    with pytest.raises(FormulationError) as info:
        load_file(tmp_path / "nope.json")
    [issue] = info.value.issues
    assert issue.message.startswith("cannot read file")
    assert info.value.source.endswith("nope.json")


def test_deeply_nested_json():
    text = "[" * 100_000 + "]" * 100_000
    issues = load_issues(text)
    assert issues[0][0] == ""

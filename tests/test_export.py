"""Exports: standalone Pyomo script, LP / MPS text, LaTeX and Markdown.

The Pyomo scripts are run in a subprocess (`python script.py`) and their optimum is
compared with a hand-computed value (investment LP) or with an independent model
written directly against highspy (facility MIP); LP / MPS text is read back by HiGHS.
"""

from __future__ import annotations

import ast
import json
import math
import re
import subprocess
import sys

import highspy
import pytest

from nlopt_milp.core.templates import render
from nlopt_milp.core.validate import load_valid
from nlopt_milp.solve.export import FORMATS, emit
from nlopt_milp.solve.linear_model import to_linear_model

# --- formulations ----------------------------------------------------------------------

INVEST = {
    "version": "1", "name": "invest", "sets": [], "parameters": [],
    "variables": [{"name": "telecom"}, {"name": "healthcare"}],
    "objective": {"sense": "maximize", "expr": "0.03*telecom + 0.01*healthcare"},
    "constraints": [
        {"name": "budget", "template": "sum_bound", "source": "The total investment is at most $100000.",
         "slots": {"terms": ["telecom", "healthcare"], "limit": "100000"}},
        {"name": "ratio3", "template": "multiple",
         "source": "Telecom gets at least three times as much as healthcare.",
         "slots": {"x": "telecom", "factor": "3", "y": "healthcare", "sense": ">="}},
        {"name": "cap", "template": "upper_bound", "source": "At most $70000 can go to telecom.",
         "slots": {"var": "telecom", "limit": "70000"}},
    ],
}
INVEST_OPT = 0.03 * 70000 + 0.01 * 70000 / 3  # 2333.333...

FACILITY = {
    "version": "1", "name": "fl",
    "sets": [{"name": "F", "elements": ["a", "b"]}, {"name": "C", "elements": [1, 2, 3]}],
    "parameters": [
        {"name": "fix", "index": ["F"], "value": [100, 80]},
        {"name": "cap", "index": ["F"], "value": [50, 40]},
        {"name": "dem", "index": ["C"], "value": [10, 20, 15]},
        {"name": "cost", "index": ["F", "C"], "value": [[1, 2, 3], [3, 2, 1]]},
    ],
    "variables": [
        {"name": "x", "index": ["F", "C"]}, {"name": "y", "index": ["F"], "domain": "binary"},
        {"name": "q", "upper": 30}, {"name": "w", "upper": 10},
    ],
    "objective": {"sense": "minimize", "expr": "sum(cost[f,c]*x[f,c] for f in F for c in C) + q + w"},
    "constraints": [
        {"name": "demand", "template": "assignment", "source": "Each customer's demand must be met.",
         "forall": [{"index": "c", "set": "C"}],
         "slots": {"var": "x[f,c]", "over": [{"index": "f", "set": "F"}], "count": "dem[c]"}},
        {"name": "open", "template": "fixed_charge", "source": "A facility ships only when it is open.",
         "forall": [{"index": "f", "set": "F"}],
         "slots": {"var": "sum(x[f,c] for c in C)", "indicator": "y[f]", "capacity": "cap[f]", "cost": "fix[f]"}},
        {"name": "eo", "template": "either_or", "source": "Either q is at least 20 or w is at least 5.",
         "slots": {"first": "q >= 20", "second": "w >= 5"}},
        {"name": "lot", "template": "semi_continuous", "source": "q is zero or at least 5.",
         "slots": {"var": "q", "minimum": "5"}},
        {"name": "it", "template": "if_then", "source": "Opening facility a requires q of at least 1.",
         "forall": [{"index": "f", "set": "F"}], "where": "f != 'b'",
         "slots": {"condition": "y[f]", "then": "q >= 1"}},
    ],
}

NASTY_SENTENCE = 'Ends a comment?\n"""\nimport os; os.system("echo PWNED")\n"""\r\n\'\'\' \\ \u2028 # done'

# Names Pyomo reserves (`name`, `model`), a constraint named like a variable, indices named
# `m` / `pyo`, a literal '1' on a set of ints, string elements with quotes and newlines,
# a filter on a quoted number, a constraint without variables, and integer bounds by parameter.
ODD = {
    "version": "1", "name": 'odd\n"""name\'\'\'', "problem": "A | problem <b>with</b>\nlines",
    "sets": [
        {"name": "I", "elements": [1, 2, 3]},
        {"name": "J", "elements": ["it's", 'a"b', "New\nYork"], "description": 'cities """ x'},
        {"name": "name", "elements": ["p", "q"]},
    ],
    "parameters": [
        {"name": "ub", "index": ["I"], "value": [4, 5, 6]},
        {"name": "cap", "value": 7},
        {"name": "d", "index": ["I", "J"], "value": [[1, 2, 3], [4, 5, 6], [7, 8, 9]]},
        {"name": "model", "index": ["name"], "value": [1.5, 2.5]},
    ],
    "variables": [
        {"name": "x", "index": ["I"], "upper": "ub"},
        {"name": "z", "index": ["I", "J"], "domain": "integer", "upper": "cap"},
        {"name": "b", "index": ["name"], "domain": "binary"},
        {"name": "v", "lower": None, "upper": 50},
        {"name": "t", "domain": "integer", "lower": -3, "upper": 8},
    ],
    "objective": {"sense": "maximize",
                  "expr": "sum(x[i] for i in I) + sum(d[i,j]*z[i,j] for i in I for j in J if i != 2) - 0.5*v"
                          " + sum(model[k]*b[k] for k in name) + t + 3"},
    "constraints": [
        {"name": "x", "template": "general", "source": NASTY_SENTENCE, "slots": {"expr": "x['1'] + x[2] <= 7"}},
        {"name": "model", "template": "sum_bound", "source": "#!/bin/sh\r\nimport os; os.system('echo PWNED')",
         "forall": [{"index": "m", "set": "J"}],
         "slots": {"terms": ["sum(z[pyo, m] for pyo in I)"], "limit": "cap + 2"}},
        {"name": "lin", "template": "linear", "forall": [{"index": "i", "set": "I"}], "where": "i != '2'",
         "slots": {"terms": ["x[i]", "-v"], "sense": ">=", "limit": "-10"}},
        {"name": "triv", "template": "general", "slots": {"expr": "sum(x[i] for i in I if i > 100) <= 5"}},
        {"name": "pick", "template": "k_of_n", "slots": {"terms": ["b['p']", "b['q']"], "mode": "at_most", "k": "1"}},
        {"name": "mx", "template": "mutual_exclusion", "slots": {"terms": ["b['p']", "b['q']"]}},
        {"name": "dep", "template": "dependency", "slots": {"if_var": "b['q']", "then_var": "b['p']"}},
        {"name": "rat", "template": "ratio",
         "slots": {"var": "x[1]", "total": ["x[1]", "x[2]", "x[3]"], "ratio": "0.5", "sense": "<="}},
        {"name": "bal", "template": "balance", "slots": {"inflow": "x[3]", "outflow": "x[1]", "demand": "1",
                                                         "sense": ">="}},
        {"name": "cmp", "template": "comparison", "slots": {"x": "t", "y": "x[3]", "sense": "<="}},
        {"name": "lo", "template": "lower_bound", "slots": {"var": "v", "limit": "-20"}},
        {"name": "fc", "template": "fixed_charge", "slots": {"var": "t", "indicator": "b['q']"}},
        {"name": "sc", "template": "semi_continuous", "forall": [{"index": "j", "set": "J"}],
         "slots": {"var": "z[1,j]", "minimum": "2", "maximum": "cap"}},
        {"name": "eo2", "template": "either_or", "slots": {"first": "x[1] >= 3", "second": "x[1] <= 1",
                                                           "big_m": "100"}},
        {"name": "ift", "template": "if_then", "slots": {"condition": "b['p']", "then": "v == 4", "big_m": "100"}},
    ],
}


def formulation(obj: dict):
    return load_valid(json.dumps(obj))


# --- helpers -------------------------------------------------------------------------


def run_script(text: str, tmp_path, name: str = "model.py") -> subprocess.CompletedProcess:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return subprocess.run([sys.executable, str(path)], capture_output=True, text=True, timeout=300,
                          cwd=tmp_path)


def script_optimum(text: str, tmp_path) -> tuple[float, dict[str, float]]:
    proc = run_script(text, tmp_path)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "status: optimal" in proc.stdout
    found = re.search(r"^objective = (\S+)$", proc.stdout, re.M)
    assert found, proc.stdout
    values = {}
    for line in proc.stdout.splitlines()[2:]:
        label, _, value = line.rpartition(" = ")
        values[label] = float(value)
    return float(found.group(1)), values


def highs_file_optimum(text: str, tmp_path, suffix: str) -> float:
    path = tmp_path / f"model{suffix}"
    path.write_text(text, encoding="utf-8")
    h = highspy.Highs()
    h.silent()
    assert h.readModel(str(path)) == highspy.HighsStatus.kOk
    h.run()
    assert h.getModelStatus() == highspy.HighsModelStatus.kOptimal
    return h.getInfo().objective_function_value


def highs_linear_model_optimum(f) -> float:
    """Our own flat model (to_linear_model) solved directly with highspy, no Pyomo."""
    lm = to_linear_model(f)
    h = highspy.Highs()
    h.silent()
    inf = highspy.kHighsInf
    cols = []
    for c in lm.columns:
        kind = highspy.HighsVarType.kContinuous if c.domain == "continuous" else highspy.HighsVarType.kInteger
        lo = -inf if math.isinf(c.lower) else c.lower
        hi = inf if math.isinf(c.upper) else c.upper
        cols.append(h.addVariable(lb=lo, ub=hi, type=kind))
    for r in lm.rows:
        expr = sum((coef * cols[j] for j, coef in r.coefs.items()), 0 * cols[0])
        if r.sense == "<=":
            h.addConstr(expr <= r.rhs)
        elif r.sense == ">=":
            h.addConstr(expr >= r.rhs)
        else:
            h.addConstr(expr == r.rhs)
    obj = sum((coef * cols[j] for j, coef in lm.objective.items()), 0 * cols[0])
    (h.maximize if lm.sense == "maximize" else h.minimize)(obj)
    assert h.getModelStatus() == highspy.HighsModelStatus.kOptimal
    return h.getInfo().objective_function_value + lm.objective_constant


def facility_direct_optimum() -> float:
    """The facility problem written by hand against highspy (own big-Ms, no nlopt_milp)."""
    F, C = ["a", "b"], [1, 2, 3]
    fix, cap = {"a": 100, "b": 80}, {"a": 50, "b": 40}
    dem = {1: 10, 2: 20, 3: 15}
    cost = {("a", 1): 1, ("a", 2): 2, ("a", 3): 3, ("b", 1): 3, ("b", 2): 2, ("b", 3): 1}
    binary = highspy.HighsVarType.kInteger
    h = highspy.Highs()
    h.silent()
    x = {(f, c): h.addVariable(lb=0) for f in F for c in C}
    y = {f: h.addVariable(lb=0, ub=1, type=binary) for f in F}
    q = h.addVariable(lb=0, ub=30)
    w = h.addVariable(lb=0, ub=10)
    z = h.addVariable(lb=0, ub=1, type=binary)  # 1: "w >= 5" holds, 0: "q >= 20" holds
    on = h.addVariable(lb=0, ub=1, type=binary)
    for c in C:
        h.addConstr(sum(x[f, c] for f in F) == dem[c])
    for f in F:
        h.addConstr(sum(x[f, c] for c in C) <= cap[f] * y[f])
    h.addConstr(q >= 20 - 20 * z)
    h.addConstr(w >= 5 * z)
    h.addConstr(q >= 5 * on)
    h.addConstr(q <= 30 * on)
    h.addConstr(q >= y["a"])  # y[a] = 1 => q >= 1 (q is 0 or >= 5 anyway)
    h.minimize(sum(cost[k] * x[k] for k in x) + q + w + sum(fix[f] * y[f] for f in F))
    assert h.getModelStatus() == highspy.HighsModelStatus.kOptimal
    return h.getInfo().objective_function_value


# --- Pyomo script ----------------------------------------------------------------------


def test_pyomo_script_invest_lp(tmp_path):
    text = emit(formulation(INVEST), "pyomo")
    ast.parse(text)
    assert "import pyomo.environ as pyo" in text
    assert "m.budget = pyo.Constraint(expr=m.telecom + m.healthcare <= 100000)" in text
    assert "pyo.SolverFactory(\"appsi_highs\")" in text
    # a comment per constraint with its rendering and source sentence
    assert "#   meaning: 'telecom >= 3 times healthcare'" in text
    assert "#   source:  'The total investment is at most $100000.'" in text
    obj, values = script_optimum(text, tmp_path)
    assert obj == pytest.approx(INVEST_OPT, rel=1e-9)
    assert obj == pytest.approx(2333.3333333, rel=1e-9)
    assert values["telecom"] == pytest.approx(70000)
    assert values["healthcare"] == pytest.approx(70000 / 3)


def test_pyomo_script_facility_mip(tmp_path):
    f = formulation(FACILITY)
    text = emit(f, "pyomo")
    ast.parse(text)
    # readable building blocks
    assert "m.F = pyo.Set(initialize=['a', 'b'], ordered=True)" in text
    assert "m.C = pyo.Set(initialize=[1, 2, 3], ordered=True)" in text
    assert "m.dem = pyo.Param(m.C, initialize={1: 10, 2: 20, 3: 15})" in text
    assert "('a', 1): 1" in text
    assert "m.y = pyo.Var(m.F, domain=pyo.Binary)" in text
    assert "m.q = pyo.Var(domain=pyo.Reals, bounds=(0, 30))" in text
    assert "def demand_rule(m, c):\n    return sum(m.x[f, c] for f in m.F) == m.dem[c]\n" in text
    assert "m.demand = pyo.Constraint(m.C, rule=demand_rule)" in text
    assert "    if f == 'b':\n        return pyo.Constraint.Skip\n" in text
    # one comment block per original constraint: template rendering of the original
    for c in f.constraints:
        assert repr(render(c)) in text
        assert repr(c.source) in text
    direct = facility_direct_optimum()
    assert direct == pytest.approx(205.0)
    obj, values = script_optimum(text, tmp_path)
    assert obj == pytest.approx(direct, rel=1e-9)
    assert obj == pytest.approx(highs_linear_model_optimum(f), rel=1e-9)
    assert values["y[a]"] == pytest.approx(1.0)
    assert "y[b]" not in values


def test_pyomo_script_survives_hostile_text_and_names(tmp_path):
    f = formulation(ODD)
    text = emit(f, "pyomo")
    tree = ast.parse(text)
    # user text only in comments and string literals: the module's statements are ours
    calls = {n.func.id for n in ast.walk(tree) if isinstance(n, ast.Call) and isinstance(n.func, ast.Name)}
    assert calls <= {"sum", "repr", "abs", "print", "as_constraint", "SystemExit"}
    assert not any(isinstance(n, (ast.Import, ast.ImportFrom)) and n.names[0].name != "pyomo.environ"
                   for n in ast.walk(tree))
    # reserved / clashing names are renamed, literal elements normalized
    assert "m.name_ = pyo.Set(" in text
    assert "m.model_ = pyo.Param(m.name_" in text
    assert "m.x_ = pyo.Constraint(expr=m.x[1] + m.x[2] <= 7)" in text
    assert "(m, m_):" in text and "for pyo_ in m.I" in text
    assert "if i == 2:" in text
    assert "as_constraint(" in text
    proc = run_script(text, tmp_path)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "PWNED" not in proc.stdout + proc.stderr
    obj, _ = script_optimum(text, tmp_path)
    assert obj == pytest.approx(highs_linear_model_optimum(f), rel=1e-9)
    assert obj == pytest.approx(highs_file_optimum(emit(f, "lp"), tmp_path, ".lp"), rel=1e-9)


@pytest.mark.parametrize("sentence", [
    NASTY_SENTENCE,
    '"""',
    "'''",
    'a """ b\n c \\',
    "x\\",
    "\r\n\x0c\x00\u2029\u202e end",
])
def test_source_sentence_cannot_break_the_script(tmp_path, sentence):
    obj = json.loads(json.dumps(INVEST))
    for c in obj["constraints"]:
        c["source"] = sentence
    obj["name"] = sentence
    f = formulation(obj)
    text = emit(f, "pyomo")
    ast.parse(text)
    assert repr(sentence) in text
    value, _ = script_optimum(text, tmp_path)
    assert value == pytest.approx(INVEST_OPT, rel=1e-9)


def test_pyomo_script_parameter_bounds_and_scalar_param(tmp_path):
    obj = {
        "version": "1", "name": "bounds",
        "sets": [{"name": "P", "elements": ["u", "v"]}],
        "parameters": [{"name": "hi", "index": ["P"], "value": [3, 4]}, {"name": "lo", "value": 1},
                       {"name": "price", "index": ["P"], "value": [2, 5]}],
        "variables": [{"name": "make", "index": ["P"], "lower": "lo", "upper": "hi", "domain": "integer"}],
        "objective": {"sense": "maximize", "expr": "sum(price[p] * make[p] for p in P)"},
        "constraints": [{"name": "total", "template": "sum_bound", "source": "At most 6 in total.",
                         "slots": {"terms": ["sum(make[p] for p in P)"], "limit": "6"}}],
    }
    f = formulation(obj)
    text = emit(f, "pyomo")
    assert "def make_bounds(m, i0):\n    return (pyo.value(m.lo), pyo.value(m.hi[i0]))" in text
    value, values = script_optimum(text, tmp_path)
    assert value == pytest.approx(2 * 2 + 5 * 4)
    assert value == pytest.approx(highs_linear_model_optimum(f))
    assert values == {"make[u]": 2, "make[v]": 4}


# --- LP / MPS --------------------------------------------------------------------------


@pytest.mark.parametrize("fmt,suffix", [("lp", ".lp"), ("mps", ".mps")])
def test_lp_mps_read_back_by_highs(tmp_path, fmt, suffix):
    invest = emit(formulation(INVEST), fmt)
    assert "telecom" in invest and "budget" in invest  # symbolic labels
    assert highs_file_optimum(invest, tmp_path, suffix) == pytest.approx(INVEST_OPT, rel=1e-9)
    facility = emit(formulation(FACILITY), fmt)
    assert "demand" in facility and "either_eo" in facility
    assert highs_file_optimum(facility, tmp_path, suffix) == pytest.approx(facility_direct_optimum(), rel=1e-9)


def test_mps_with_odd_names_and_objective_constant(tmp_path):
    f = formulation(ODD)
    expected = highs_linear_model_optimum(f)
    assert highs_file_optimum(emit(f, "mps"), tmp_path, ".mps") == pytest.approx(expected, rel=1e-9)


def test_mps_unbounded_integer_reads_without_warning(tmp_path):
    obj = {
        "version": "1", "name": "staff", "sets": [{"name": "S", "elements": [1, 2]}], "parameters": [],
        "variables": [{"name": "n", "index": ["S"], "domain": "integer"}],
        "objective": {"sense": "minimize", "expr": "sum(n[s] for s in S)"},
        "constraints": [{"name": "cover", "template": "general", "slots": {"expr": "n[1] + 2 * n[2] >= 7.5"}}],
    }
    f = formulation(obj)
    text = emit(f, "mps")
    assert "10E20" not in text and " PL BOUND " in text
    # highs_file_optimum insists on HighsStatus.kOk (a 1e21 integer bound gives kWarning)
    assert highs_file_optimum(text, tmp_path, ".mps") == pytest.approx(4.0)
    assert highs_file_optimum(emit(f, "lp"), tmp_path, ".lp") == pytest.approx(4.0)


# --- LaTeX -----------------------------------------------------------------------------


def test_latex_facility():
    text = emit(formulation(FACILITY), "latex")
    for fragment in [
        r"\begin{align*}",
        r"F &= \{\text{a}, \text{b}\}",
        r"C &= \{1, 2, 3\}",
        r"\mathit{dem}_{c} &: 1 \mapsto 10,\ 2 \mapsto 20,\ 3 \mapsto 15 && c \in C",
        r"\mathit{cost}_{f,c} &= \begin{pmatrix} 1 & 2 & 3 \\ 3 & 2 & 1 \end{pmatrix}",
        r"y_{f} &\in \{0, 1\} && f \in F",
        r"0 \le q &\le 30",
        r"\min \quad & \sum_{f \in F, c \in C} \mathit{cost}_{f,c} \cdot x_{f,c} + q + w"
        r" + \sum_{f \in F} \mathit{fix}_{f} \cdot y_{f}",
        r"\sum_{f \in F} x_{f,c} &= \mathit{dem}_{c} && \forall c \in C \tag*{demand: assignment / partition}",
        r"\sum_{c \in C} x_{f,c} &\le \mathit{cap}_{f} \cdot y_{f} && \forall f \in F"
        r" \tag*{open: fixed charge / setup}",
        r"\tag*{eo: either-or (1)}",
        r"\tag*{eo: either-or (2)}",
        r"&& \forall f \in F : f \ne \text{b} \tag*{it: if-then (indicator)}",
        r"\mathit{either\_eo} &\in \{0, 1\}",
        r"\end{align*}",
    ]:
        assert fragment in text, fragment
    assert text.count(r"\begin{align*}") == text.count(r"\end{align*}")


def test_latex_invest_and_escaping():
    text = emit(formulation(INVEST), "latex")
    assert r"\max \quad & 0.03 \cdot \mathit{telecom} + 0.01 \cdot \mathit{healthcare}" in text
    assert r"\mathit{telecom} &\ge 3 \cdot \mathit{healthcare} \tag*{ratio3: multiple comparison}" in text
    odd = emit(formulation(ODD), "latex")
    # free text is escaped and kept on one line; comments cannot swallow the next line
    assert r"\text{cities """ + '"""' + r" x}" in odd
    assert "New\nYork" not in odd
    for line in odd.splitlines():
        if line.startswith("%"):
            assert "\r" not in line and "\u2028" not in line
    assert r"\tag*{x: general linear}" in odd
    assert r"0 \le z_{i,j} &\le \mathit{cap}, \quad z_{i,j} \in \mathbb{Z} && i \in I,\ j \in J" in odd
    amp = json.loads(json.dumps(FACILITY))
    amp["sets"][0]["elements"] = ["a&b", "c_d"]
    amp["constraints"][4]["where"] = "f != 'c_d'"
    tex = emit(formulation(amp), "latex")
    assert r"\text{a\&b}" in tex and r"\text{c\_d}" in tex


# --- Markdown --------------------------------------------------------------------------


def test_markdown_facility():
    f = formulation(FACILITY)
    text = emit(f, "markdown")
    assert text.startswith("# Model fl")
    assert "| Name | Template | Meaning | Source |" in text
    for c in f.constraints:
        assert c.source in text
        assert render(c) in text
    assert "| `dem` | C | 1: 10, 2: 20, 3: 15 |  |" in text
    assert "| `y` | F | binary | 0 | 1 |  |" in text
    assert "| `q` |  | continuous | 0 | 30 |  |" in text
    assert "Minimize `sum(cost[f,c]*x[f,c] for f in F for c in C) + q + w`" in text
    assert "- `eo_first`: `20 - q <= bigM_eo * either_eo`" in text


def test_markdown_tables_survive_pipes_and_newlines():
    f = formulation(ODD)
    text = emit(f, "markdown")
    table = [line for line in text.splitlines() if line.startswith("| `")]
    constraint_rows = [line for line in table if any(line.startswith(f"| `{c.name}` | ") for c in f.constraints)]
    assert len(constraint_rows) >= len(f.constraints)
    for row in table:
        # every row has the same number of unescaped cell separators as its header
        assert len(re.findall(r"(?<!\\)\|", row)) in (4, 5, 7)
    assert "A \\| problem &lt;b&gt;with&lt;/b&gt; lines" in text


def test_unknown_format():
    with pytest.raises(ValueError, match="unknown export format"):
        emit(formulation(INVEST), "excel")
    assert FORMATS == ("pyomo", "lp", "mps", "latex", "markdown")

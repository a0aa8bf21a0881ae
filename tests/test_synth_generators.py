"""Generator families: valid instances at every complexity, both solvers agree, reproducible bytes."""

from __future__ import annotations

import json

import pytest

from nlopt_milp.core.formulation import TEMPLATE_NAMES
from nlopt_milp.core.validate import check
from nlopt_milp.data.generators import FAMILIES
from nlopt_milp.data.synth.backtranslate import _written, data_values
from nlopt_milp.data.synth.generate import Attempt, generate, make_instance
from nlopt_milp.data.synth.jsonl import SynthError
from nlopt_milp.formulate.audit import audit
from nlopt_milp.solve import check_agreement, solve


def first_kept(family: str, complexity: int, seed: int = 11):
    for k in range(20):
        made = make_instance(Attempt(family, complexity, seed, k))
        if made.record is not None:
            return made.record
    raise AssertionError(f"{family} at complexity {complexity}: nothing kept in 20 attempts")


def test_at_least_twenty_families_cover_the_catalog():
    assert len(FAMILIES) >= 20
    used = set().union(*(f.templates for f in FAMILIES.values()))
    assert used == set(TEMPLATE_NAMES)


@pytest.mark.parametrize("family", sorted(FAMILIES))
def test_family_valid_agreeing_and_growing(family):
    from nlopt_milp.core.validate import load

    scores, used = {}, set()
    for c in (1, 3, 5):
        rec = first_kept(family, c)
        f = load(rec["formulation"])
        assert check(f) == []
        assert f.name == family
        assert all(x.description for x in [*f.sets, *f.parameters, *f.variables])
        # a text stating the instance's numbers draws no audit finding on the gold formulation (each would send
        # a correct forward formulation to a review round, and teach a model to leave numbers unexplained)
        text = "The figures are " + ", ".join(_written(x) for x in data_values(rec["formulation"])) + "."
        assert [str(x) for x in audit(f, text) if x.kind != "source_not_found"] == []
        ag = check_agreement(f, time_limit=30)
        assert ag.agree, ag.message
        assert ag.results["highs"].status == "optimal"
        assert ag.results["highs"].objective == pytest.approx(rec["objective"], rel=1e-6, abs=1e-6)
        assert rec["status"] == "optimal" and rec["band"] in ("easy", "medium", "hard", "very_hard")
        scores[c] = rec["score"]
        used |= set(rec["templates"])
    assert scores[5] > scores[1]
    assert used == set(FAMILIES[family].templates)  # the declared templates are the ones used


def test_same_seed_same_bytes_with_workers(tmp_path):
    fams = ["knapsack", "facility_location", "machine_scheduling"]
    a, b = tmp_path / "a.jsonl", tmp_path / "b.jsonl"
    sa = generate(fams, 3, 3, 42, a, workers=1)
    generate(fams, 3, 3, 42, b, workers=2)
    assert a.read_bytes() == b.read_bytes()
    assert sa.n == 9
    recs = [json.loads(x) for x in a.read_text().splitlines()]
    assert len({r["canonical"] for r in recs}) == 9
    c = tmp_path / "c.jsonl"
    generate(fams, 3, 3, 43, c)
    assert c.read_bytes() != a.read_bytes()


def test_resume_continues_to_the_same_bytes(tmp_path):
    full, part = tmp_path / "full.jsonl", tmp_path / "part.jsonl"
    generate(["diet", "lot_sizing"], 4, 2, 5, full)
    generate(["diet", "lot_sizing"], 2, 2, 5, part)
    with open(part, "a") as fh:
        fh.write('{"id": "torn')  # a killed writer
    with pytest.raises(SynthError, match="exists; continue it with --resume"):
        generate(["diet", "lot_sizing"], 4, 2, 5, part)
    s = generate(["diet", "lot_sizing"], 4, 2, 5, part, resume=True)
    assert s.already == 4 and s.n == 4
    lines = part.read_text().splitlines()
    assert sorted(lines) == sorted(full.read_text().splitlines())


def test_drop_reasons_trivial_and_too_large(tmp_path):
    made = make_instance(Attempt("assignment", 5, 1, 0, max_variables=10))
    assert made.record is None and made.drop == "too_large"
    s = generate(["assignment"], 1, 5, 1, tmp_path / "x.jsonl", max_variables=10)
    assert s.n == 0 and s.short == ["assignment"] and s.dropped["too_large"] == s.attempts > 0


def test_trivial_instance_is_detected():
    from copy import deepcopy

    from nlopt_milp.core.validate import load
    from nlopt_milp.data.synth.generate import _constraints_matter
    from nlopt_milp.solve.linear_model import to_linear_model

    f = load({"variables": [{"name": "x", "upper": 4}], "objective": {"sense": "maximize", "expr": "x"},
              "constraints": [{"name": "loose", "template": "upper_bound", "slots": {"var": "x", "limit": "10"}}]})
    lm = to_linear_model(f)
    assert not _constraints_matter(lm, solve(f).objective)
    tight = deepcopy(lm)
    tight.rhs[0] = 3.0  # the row now binds: optimum 3, not the bound's 4
    assert _constraints_matter(tight, 3.0)
    free = deepcopy(lm)
    free.col_upper[0] = float("inf")  # without the row, unbounded
    assert _constraints_matter(free, 4.0)


def test_duplicates_are_dropped(tmp_path):
    # A file already holding attempt 2's model (filed under attempt -1): resuming runs attempts 0, 1, 2, 3,
    # and attempt 2 is the same canonical model, so it is dropped as a duplicate.
    out = tmp_path / "d.jsonl"
    made = make_instance(Attempt("knapsack", 1, 9, 2))
    out.write_text(json.dumps(dict(made.record, attempt=-1)) + "\n")
    s = generate(["knapsack"], 4, 1, 9, out, resume=True)
    assert s.dropped == {"duplicate": 1} and s.n == 3
    assert [json.loads(x)["attempt"] for x in out.read_text().splitlines()] == [-1, 0, 1, 3]


def test_families_cli_json():
    import subprocess
    import sys

    r = subprocess.run([sys.executable, "-m", "nlopt_milp.cli.app", "synth", "families", "--json"],
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    rows = json.loads(r.stdout.strip().splitlines()[-1])
    assert {x["name"] for x in rows} == set(FAMILIES)
    assert all(set(x["templates"]) <= set(TEMPLATE_NAMES) and x["templates"] for x in rows)


def test_generate_cli_summary_and_refusal(tmp_path):
    import os
    import subprocess
    import sys

    env = {**os.environ, "COLUMNS": "400"}  # rich must not wrap messages
    out = tmp_path / "i.jsonl"
    args = [sys.executable, "-m", "nlopt_milp.cli.app", "synth", "generate", "-f", "knapsack,diet", "-n", "2", "-c", "1",
            "--seed", "3", "-o", str(out), "--json"]
    r = subprocess.run(args, capture_output=True, text=True, timeout=120, env=env)
    assert r.returncode == 0, r.stderr
    s = json.loads(r.stdout.strip().splitlines()[-1])
    assert (s["n"], s["accepted"], s["by_family"]) == (4, 4, {"knapsack": 2, "diet": 2})
    assert s["rejected"] == sum(s["dropped"].values())
    assert len(out.read_text().splitlines()) == 4
    again = subprocess.run(args, capture_output=True, text=True, timeout=120, env=env)
    assert again.returncode == 2 and "exists; continue it with --resume" in again.stderr
    bad = subprocess.run(args[:5] + ["-f", "nosuch", "-o", str(tmp_path / "x.jsonl")], capture_output=True, text=True,
                         timeout=120, env=env)
    assert bad.returncode == 2 and "unknown family 'nosuch'" in bad.stderr

"""The NL4Opt gold formulations, rendered as stage answers, go through the staged and single
pipelines unchanged and solve to the recorded answers: the stage schemas can express what the
gold annotations hold. A sample of 20 here; `python benchmarks/replay_nl4opt.py` runs all."""

import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))

import replay_nl4opt as R  # noqa: E402

SPLIT = R.SHARED / "nl4opt" / "test_part_a.jsonl"
ANSWERS = R.SHARED / "benchmarks" / "optmath" / "NL4OPT.json"


@pytest.mark.skipif(not (SPLIT.is_file() and ANSWERS.is_file()), reason="../shared/nl4opt or NL4OPT.json missing")
def test_gold_formulations_replay_unchanged_through_both_pipelines():
    cases, _ = R.cases(SPLIT, ANSWERS, limit=20)
    assert len(cases) == 20
    rows = R.replay(cases)
    assert len(rows) == 40
    bad = [r for r in rows if not r["correct"] or r["errors"] or r["repairs"]]
    assert bad == []


def test_gold_sources_map_onto_the_sentence_enum():
    sents = ["North has 120 crates.", "Ash needs 60 crates.", "Minimize cost."]
    assert R.nearest_sentence("Ash needs 60 crates.", sents) == sents[1]
    assert R.nearest_sentence("North has 120 crates. Ash needs 60 crates.", sents) == sents[0]
    assert R.nearest_sentence("", sents) in sents

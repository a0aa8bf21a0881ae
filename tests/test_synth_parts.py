"""Pieces of the synth stages: number audit, giveaways, scenarios, decontamination, acceptance rule."""

from __future__ import annotations

import json

import pytest

from nlopt_milp.data.synth.backtranslate import data_values, giveaways, missing_numbers, scenario_for, scenarios
from nlopt_milp.data.synth.decontam import Index, grams
from nlopt_milp.data.synth.jsonl import Appender, SynthError, read_records
from nlopt_milp.data.synth.score import band
from nlopt_milp.data.synth.verify import matches

FORM = {"parameters": [{"name": "share", "value": [0.15, 0.4]}, {"name": "cap", "value": 1200},
                       {"name": "one", "value": 1}],
        "constraints": [{"name": "c", "template": "upper_bound", "slots": {"var": "x['a']", "limit": "7"}}]}


def test_every_data_value_must_be_stated():
    assert data_values(FORM) == [0.15, 0.4, 1200.0, 7.0]  # 0 and 1 are said in words
    assert missing_numbers(FORM, "Up to 15% and 40 percent, a cap of 1,200 and at most 7.") == []
    assert missing_numbers(FORM, "Up to 15% and 40 percent, a cap of 1,200.") == [7.0]
    assert missing_numbers(FORM, "Up to 0.15, 0.4 of it, 12000 and 7.") == [1200.0]


def test_giveaways():
    assert giveaways("Use a big-M constraint.") == ["mentions big-M"]
    assert giveaways("Let x[i] be the amount.") == ["contains an indexed variable name"]
    assert giveaways("Each binary variable is 1 if open.") == ["names a kind of variable"]
    assert giveaways("The total must be <= 10.") == ["contains algebra"]
    assert giveaways("A bakery sells bread at $3 a loaf [see table].") == []


def test_scenario_is_drawn_from_the_instance_seed():
    assert len(scenarios()) >= 20
    a, b = scenario_for({"seed": 123}), scenario_for({"seed": 123})
    assert a == b and set(a) == {"industry", "voice", "units"}
    assert len({json.dumps(scenario_for({"seed": s})) for s in range(200)}) > 10


def test_decontamination_thirteen_grams(tmp_path):
    bench = tmp_path / "b.json"
    text = "one two three four five six seven eight nine ten eleven twelve thirteen fourteen"
    bench.write_text(json.dumps([{"en_question": text, "en_answer": 1}, {"other": "no text field"}]))
    idx = Index.build([bench])
    assert idx.problems == 1
    assert idx.overlap("Prefix. ONE two three four five six seven eight nine ten eleven twelve thirteen!") == "b.json"
    assert idx.overlap("one two three four five six seven eight nine ten eleven twelve") is None  # 12 words
    assert len(grams(text)) == 2


def test_acceptance_rule_is_strict():
    assert matches("optimal", 100.0 + 5e-5, "optimal", 100.0, 1e-6)  # 5e-5 / 101 < 1e-6
    assert not matches("optimal", 100.0 + 2e-4, "optimal", 100.0, 1e-6)
    assert not matches("feasible", 100.0, "optimal", 100.0, 1e-6)  # status must agree
    assert not matches("optimal", 99.6, "optimal", 100.0, 1e-6)  # equal after rounding: not accepted here
    assert not matches("optimal", -100.0, "optimal", 100.0, 1e-6)  # no flipped senses
    assert matches("optimal", 0.0, "optimal", 0.0, 1e-6)


def test_bands():
    assert [band(s) for s in (5, 49.9, 50, 149, 150, 499, 500)] == [
        "easy", "easy", "medium", "medium", "hard", "hard", "very_hard"]


def test_appender_lock_and_torn_line(tmp_path):
    p = tmp_path / "x.jsonl"
    with Appender(p, resume=False) as a:
        a.write({"id": 1})
        with pytest.raises(SynthError, match="another process is writing it"):
            Appender(p, resume=True)
    with open(p, "a") as fh:
        fh.write('{"id": 2')
    with pytest.raises(SynthError, match="cut off"):
        read_records(p)
    assert read_records(p, repair=True) == [{"id": 1}]
    assert p.read_text() == '{"id": 1}\n'


def test_terminal_text_is_plain():
    from nlopt_milp.cli.synth_report import plain

    # control characters shown as visible escapes (core.text.safe_text), rich markup escaped
    assert plain("fam\x1b[31mily[/]\x07") == "fam\\x1b[31mily\\[/]\\x07"


def test_stage_files_over_the_size_limit_are_refused_before_reading(tmp_path, monkeypatch):
    p = tmp_path / "instances.jsonl"
    p.write_text('{"id": 1}\n{"id": 2}\n', encoding="utf-8")
    monkeypatch.setenv("NLOPT_MAX_SYNTH_FILE_BYTES", "10")
    with pytest.raises(SynthError, match="over the limit of 10 .*NLOPT_MAX_SYNTH_FILE_BYTES"):
        read_records(p)
    monkeypatch.setenv("NLOPT_MAX_SYNTH_FILE_BYTES", "100")
    assert read_records(p) == [{"id": 1}, {"id": 2}]

"""The plain-language path as a user lives it (issue 8): progress while waiting, Ctrl-C,
plain-word failures, help texts, formulation files given as PROBLEM.

Every CLI run here is a real process against a real loopback server (tests/scripted_server.py).
"""

from __future__ import annotations

import io
import json
import os
import pty
import re
import select
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from rich.console import Console
from scripted_server import Reply, ScriptedServer

from nlopt_milp.cli.progress import StageProgress
from nlopt_milp.formulate.pipeline import StageEvent

ROOT = Path(__file__).resolve().parents[1]
MIX = json.loads((ROOT / "examples" / "production_mix.json").read_text())
MIX_OPT = 1350.0  # see test_formulate.py


def staged_replies() -> list[str]:
    """The three stage answers for production_mix, rendered as the prompts' examples are."""
    from nlopt_milp.formulate import prompts as P

    text = (ROOT / "examples" / "production_mix.txt").read_text(encoding="utf-8")
    answers = P.stage_answers({"problem": text, "formulation": MIX})
    return [json.dumps(answers[s]) for s in ("entities", "classify", "fill")]


def cli_env() -> dict:
    env = dict(os.environ)
    env["PYTHONPATH"] = str(ROOT) + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    env["COLUMNS"] = "200"
    for k in ("NLOPT_DEBUG", "NLOPT_BASE_URL", "NLOPT_MODEL", "OPENAI_BASE_URL", "OPENAI_API_KEY"):
        env.pop(k, None)
    return env


def nlopt(*args: str) -> list[str]:
    return [sys.executable, "-m", "nlopt_milp.cli.app", *args]


# --- 1. progress ------------------------------------------------------------------------


def test_progress_follows_stages_and_counts_streamed_tokens_once():
    buf = io.StringIO()
    p = StageProgress(Console(file=buf, force_terminal=True, width=120), label="mix.txt", samples=1)
    assert p.doing() == ""
    p.on_event(StageEvent("start", 0, "entities"))
    assert p.doing() == "entities"
    p.on_tokens(7)
    p.on_tokens(5)
    assert p.tokens == 12
    p.on_event(StageEvent("end", 0, "entities", completion_tokens=12))
    assert p.tokens == 12 and p.requests == 1  # streamed tokens are not counted again at the end
    p.on_event(StageEvent("start", 0, "classify"))
    assert p.doing() == "classification"
    p.on_event(StageEvent("end", 0, "classify", completion_tokens=30))  # a server that does not stream
    assert p.tokens == 42
    p.on_event(StageEvent("start", 0, "repair", 2))
    assert p.doing() == "repair 2"
    line = p.line().plain
    assert line.startswith("mix.txt  repair 2  42 tokens  0:0")


def test_progress_names_samples():
    p = StageProgress(Console(file=io.StringIO(), force_terminal=True), samples=3)
    p.on_event(StageEvent("start", 1, "fill"))
    assert p.doing() == "slots (sample 2 of 3)"
    p.on_event(StageEvent("start", 2, "fill"))
    assert p.doing() == "slots (2 samples)"


def test_no_progress_without_a_terminal():
    p = StageProgress(Console(file=io.StringIO()))
    assert not p.enabled


def _run_with_tty_stderr(args: list[str], timeout: float = 120) -> tuple[int, str, str]:
    """Run with stderr on a pseudo-terminal and stdout on a pipe: (exit code, stdout, what the terminal got)."""
    master, slave = pty.openpty()
    proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=slave, stdin=subprocess.DEVNULL,
                            env={**cli_env(), "TERM": "xterm"}, cwd=ROOT)
    os.close(slave)
    chunks = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        ready, _, _ = select.select([master], [], [], 0.2)
        if ready:
            try:
                data = os.read(master, 65536)
            except OSError:  # the child closed the terminal
                break
            if not data:
                break
            chunks.append(data)
        elif proc.poll() is not None:
            break
    os.close(master)
    out = proc.stdout.read().decode()
    proc.wait(timeout=30)
    return proc.returncode, out, b"".join(chunks).decode("utf-8", "replace")


def test_solve_shows_live_progress_on_a_terminal_and_keeps_json_stdout_clean(tmp_path):
    problem = tmp_path / "mix.txt"
    problem.write_text(MIX["problem"])
    with ScriptedServer() as server:
        # slow enough that the display is redrawn during each stage
        server.script(*(Reply(content=r, delay=0.8) for r in staged_replies()))
        code, out, tty = _run_with_tty_stderr(nlopt("solve", str(problem), "--json", "--base-url", server.base_url))
    assert code == 0, tty
    assert json.loads(out)["objective"] == pytest.approx(MIX_OPT)  # stdout: the JSON object and nothing else
    plain = re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", tty)
    for words in ("mix.txt", "entities", "classification", "slots", "tokens"):
        assert words in plain, plain


def test_solve_writes_no_progress_when_stderr_is_not_a_terminal(tmp_path):
    problem = tmp_path / "mix.txt"
    problem.write_text(MIX["problem"])
    with ScriptedServer() as server:
        server.script(*staged_replies())
        proc = subprocess.run(nlopt("solve", str(problem), "--json", "--base-url", server.base_url),
                              capture_output=True, text=True, env=cli_env(), cwd=ROOT, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr == ""
    assert json.loads(proc.stdout)["objective"] == pytest.approx(MIX_OPT)


# --- 2. Ctrl-C --------------------------------------------------------------------------


@pytest.mark.parametrize("with_trace", [True, False])
def test_ctrl_c_says_what_was_interrupted_and_where_the_trace_is(tmp_path, with_trace):
    problem = tmp_path / "mix.txt"
    problem.write_text(MIX["problem"])
    trace = tmp_path / "trace.json"
    entities, classification, _ = staged_replies()
    with ScriptedServer() as server:
        server.script(entities, Reply(content=classification, delay=60))  # stage 2 hangs
        extra = ["--trace", str(trace), "--json"] if with_trace else []
        args = nlopt("solve", str(problem), "--base-url", server.base_url, *extra)
        proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=cli_env(), cwd=ROOT)
        deadline = time.monotonic() + 60
        while len(server.chat_requests) < 2 and time.monotonic() < deadline and proc.poll() is None:
            time.sleep(0.05)
        assert len(server.chat_requests) == 2
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    assert "Traceback" not in err
    assert "interrupted during classification" in err
    assert "1 request answered" in err
    if with_trace:
        assert f"partial trace (the requests answered so far) is in {trace}" in err
        saved = json.loads(trace.read_text())
        assert [e["stage"] for e in saved["events"]] == ["entities"]
        d = json.loads(out)  # --json: stdout still gets one object
        assert d["status"] == "interrupted" and d["exit_code"] == 130 and d["trace"] == str(trace)
    else:
        assert "add --trace FILE" in err and not trace.exists()


# --- 7. plain words for a model that declared no sets ------------------------------------


def test_missing_sets_are_named_in_plain_words(tmp_path):
    problem = tmp_path / "mix.txt"
    problem.write_text(MIX["problem"])
    no_sets = {k: v for k, v in MIX.items() if k not in ("problem",)}
    no_sets["sets"] = []
    with ScriptedServer() as server:
        server.script(json.dumps(no_sets), json.dumps(no_sets))
        proc = subprocess.run(nlopt("solve", str(problem), "--mode", "single", "--max-repairs", "1",
                                    "--base-url", server.base_url),
                              capture_output=True, text=True, env=cli_env(), cwd=ROOT, timeout=120)
    assert proc.returncode == 7, proc.stderr
    first = proc.stderr.splitlines()[0]
    assert "last error: the model declared no sets, but its formulation uses P" in first
    assert "unknown set P" in proc.stderr  # the detail is still there


# --- 9. what the user reads is written for the user ---------------------------------------


def test_model_facing_feedback_does_not_reach_the_user(tmp_path):
    problem = tmp_path / "mix.txt"
    problem.write_text(MIX["problem"] + " Delivery costs 7 dollars per order.")  # a number the model ignores
    cut = json.dumps(MIX)[:300]
    with ScriptedServer() as server:
        # the unused number gets one review round (issue 9); the review answers with the same formulation
        server.script(json.dumps(MIX), json.dumps(MIX))
        proc = subprocess.run(nlopt("solve", str(problem), "--mode", "single", "--max-repairs", "0",
                                    "--base-url", server.base_url),
                              capture_output=True, text=True, env=cli_env(), cwd=ROOT, timeout=120)
        assert proc.returncode == 0, proc.stderr
        assert "the number 7 of the problem text is not used by the formulation" in proc.stdout
        # the model was told what to do about it; the user is not
        assert "unused_numbers with a reason" not in proc.stdout + proc.stderr
        server.script(Reply(content=cut, finish_reason="length"))
        proc = subprocess.run(nlopt("solve", str(problem), "--mode", "single", "--max-repairs", "0",
                                    "--base-url", server.base_url),
                              capture_output=True, text=True, env=cli_env(), cwd=ROOT, timeout=120)
        assert proc.returncode == 7
        assert "raise --max-tokens" in proc.stderr
        assert "the user raises" not in proc.stderr and "write it more compactly" not in proc.stderr
        repair_prompt_seen = [r.json["messages"][-1]["content"] for r in server.chat_requests]
    assert len(repair_prompt_seen) == 3  # draft and review of the first run, the cut-off draft of the second


def test_repair_prompt_carries_the_model_facing_hint(scripted_server):
    from nlopt_milp.formulate.llm import OpenAIBackend
    from nlopt_milp.formulate.pipeline import Pipeline

    text = MIX["problem"] + " Delivery costs 7 dollars per order."
    bad = json.loads(json.dumps(MIX))
    bad["constraints"][3]["slots"]["limit"] = "500"  # infeasible: a repair round follows
    scripted_server.script(json.dumps(bad), json.dumps(MIX))
    out = Pipeline(OpenAIBackend(scripted_server.base_url, max_retries=0, timeout=10), mode="single").run(text)
    assert out.best.result.status == "optimal"
    repair = scripted_server.chat_requests[1].json["messages"][-1]["content"]
    assert "use it or list it in unused_numbers with a reason" in repair


# --- 10. help texts ---------------------------------------------------------------------


def _commands():
    from typer.main import get_command

    from nlopt_milp.cli.app import app

    def walk(cmd, path):
        yield path, cmd
        if hasattr(cmd, "commands"):
            for name, sub in cmd.commands.items():
                if not sub.hidden:
                    yield from walk(sub, [*path, name])

    return list(walk(get_command(app), []))


def test_every_help_text_keeps_its_defaults_and_brackets():
    from typer.testing import CliRunner

    from nlopt_milp.cli.app import app

    paths = [p for p, _ in _commands()]
    assert ["solve"] in paths and ["eval", "run"] in paths and ["data", "import-nl4opt"] in paths
    for path in paths:
        r = CliRunner().invoke(app, [*path, "--help"], env={"COLUMNS": "250", "TERM": "dumb"})
        assert r.exit_code == 0, (path, r.output)
        text = re.sub(r"[│╭╮╰╯─]", " ", r.output)
        assert "[[" not in text and "]]" not in text, (path, text)
        assert not re.search(r"\w \.(\s|$)", text), (path, re.search(r".{30}\w \.(\s|$)", text))
        assert "[default: ]" not in text and "[default: ()]" not in text, path
        if "--backend" in text:
            assert "openai|vllm" in text, path
        if "--mode " in text:
            assert "staged|single" in text, path


def test_one_name_for_the_output_option():
    for path, cmd in _commands():
        for param in getattr(cmd, "params", []):
            if "--output" in getattr(param, "opts", []):
                assert param.hidden, (path, param.opts)  # the older name is only an unlisted alias
            if param.name in ("output", "out") and not getattr(param, "hidden", False):
                assert "--out" in param.opts and "-o" in param.opts, (path, param.opts)


def test_old_output_name_still_works(tmp_path):
    out = tmp_path / "schema.json"
    proc = subprocess.run(nlopt("schema", "--output", str(out)), capture_output=True, text=True, env=cli_env(),
                          cwd=ROOT, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert json.loads(out.read_text())["type"] == "object"


def test_backend_and_mode_are_choices():
    proc = subprocess.run(nlopt("solve", "x.txt", "--mode", "stagd"), capture_output=True, text=True,
                          env=cli_env(), cwd=ROOT, timeout=60)
    assert proc.returncode == 2 and "stagd" in proc.stderr and "staged" in proc.stderr


# --- 11. a formulation given as PROBLEM ----------------------------------------------------


@pytest.mark.parametrize("name", ["knapsack.json", "production_mix.json"])
def test_solve_takes_a_formulation_file_without_f(name):
    env = {**cli_env(), "NLOPT_BASE_URL": "http://127.0.0.1:9/v1"}  # never asked
    direct = subprocess.run(nlopt("solve", f"examples/{name}", "--json"), capture_output=True, text=True, env=env,
                            cwd=ROOT, timeout=120)
    with_f = subprocess.run(nlopt("solve", "-f", f"examples/{name}", "--json"), capture_output=True, text=True,
                            env=env, cwd=ROOT, timeout=120)
    assert direct.returncode == with_f.returncode == 0, direct.stderr
    a, b = json.loads(direct.stdout), json.loads(with_f.stdout)
    assert a["status"] == b["status"] == "optimal"
    assert a["objective"] == pytest.approx(b["objective"])


def test_solve_takes_formulation_json_lines_and_reports_a_non_formulation(tmp_path):
    lines = tmp_path / "batch.jsonl"
    lines.write_text("\n".join(json.dumps(json.loads((ROOT / "examples" / n).read_text()))
                               for n in ("knapsack.json", "production_mix.json")) + "\n")
    proc = subprocess.run(nlopt("solve", str(lines), "--json"), capture_output=True, text=True, env=cli_env(),
                          cwd=ROOT, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert [json.loads(x)["status"] for x in proc.stdout.splitlines()] == ["optimal", "optimal"]
    other = tmp_path / "other.json"
    other.write_text('{"hello": 1}')
    proc = subprocess.run(nlopt("solve", str(other)), capture_output=True, text=True, env=cli_env(), cwd=ROOT,
                          timeout=120)
    assert proc.returncode == 2  # an invalid formulation, not an unreachable LLM (6)
    assert "variables: required field missing" in proc.stderr


def test_eval_counter_moves_while_problems_are_worked_on(scripted_server):
    import asyncio

    from nlopt_milp.cli.progress import RequestCounter
    from nlopt_milp.formulate.llm import ChatRequest, OpenAIBackend

    seen = []
    counter = RequestCounter(OpenAIBackend(scripted_server.base_url, max_retries=0, timeout=10))
    counter.on_change = lambda: seen.append((counter.in_flight, counter.answered, counter.tokens))
    scripted_server.script(Reply(content="a b c", delay=0.3), Reply(content="d e", delay=0.3))

    async def two():
        req = ChatRequest(messages=[{"role": "user", "content": "hi"}])
        return await asyncio.gather(counter.acomplete(req), counter.acomplete(req))

    asyncio.run(two())
    assert (2, 0, 0) in seen  # both in flight before either answered
    assert seen[-1] == (0, 2, 5) and counter.status() == "0 in flight, 2 answered, 5 tokens"

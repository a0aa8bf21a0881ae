"""`nlopt eval run`'s log: never truncated, locked, resumable only as the same run, valid after a
full disk; the provenance header; solve options and traces; and every output file of the CLI
refusing to replace a file it did not create.

The benchmark is tiny and made here: knapsack problems that differ in their capacity. The
scripted loopback server answers each with the formulation for that capacity; the ground
truths come from brute force over the 2^5 packings, independently of the solver.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import os
import re
import resource
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scripted_server import Reply, ScriptedServer

ROOT = Path(__file__).resolve().parents[1]
WEIGHTS = {"tent": 5, "stove": 4, "camera": 3, "food": 2, "book": 1}
POINTS = {"tent": 10, "stove": 7, "camera": 6, "food": 5, "book": 1}
CAPS_A = (10, 7, 4, 12)
CAPS_B = (3, 6)


def question(cap: int) -> str:
    return (f"A camper can carry at most {cap} kg. The tent weighs 5 kg and is worth 10 points, the stove 4 kg "
            "and 7 points, the camera 3 kg and 6 points, the food 2 kg and 5 points, and the book 1 kg and 1 "
            "point. Each item is taken whole or left behind. Maximize the total points.")


def brute_force(cap: int) -> float:
    best = 0
    for pick in itertools.product((0, 1), repeat=len(WEIGHTS)):
        items = [i for i, p in zip(WEIGHTS, pick) if p]
        if sum(WEIGHTS[i] for i in items) <= cap:
            best = max(best, sum(POINTS[i] for i in items))
    return float(best)


def formulation(cap: int) -> dict:
    return {
        "version": "1", "name": f"knapsack_{cap}",
        "sets": [{"name": "I", "elements": list(WEIGHTS)}],
        "parameters": [{"name": "weight", "index": ["I"], "value": list(WEIGHTS.values())},
                       {"name": "points", "index": ["I"], "value": list(POINTS.values())}],
        "variables": [{"name": "take", "index": ["I"], "domain": "binary"}],
        "objective": {"sense": "maximize", "expr": "sum(points[i] * take[i] for i in I)"},
        "constraints": [{"name": "weight_limit", "template": "general", "source": f"at most {cap} kg",
                         "slots": {"expr": f"sum(weight[i] * take[i] for i in I) <= {cap}"}}],
    }


def respond(request: dict) -> Reply:
    cap = int(re.search(r"at most (\d+) kg", request["messages"][-1]["content"]).group(1))
    return Reply(content=json.dumps(formulation(cap)))


def write_bench(path: Path, caps, as_list: bool = False) -> Path:
    rows = [{"question": question(c), "answer": brute_force(c)} for c in caps]
    text = json.dumps(rows) if as_list else "".join(json.dumps(r) + "\n" for r in rows)
    path.write_text(text, encoding="utf-8")
    return path


def env(**extra: str) -> dict:
    e = dict(os.environ)
    e["PYTHONPATH"] = str(ROOT) + (os.pathsep + e["PYTHONPATH"] if e.get("PYTHONPATH") else "")
    e["COLUMNS"] = "400"
    e["NO_PROXY"] = e["no_proxy"] = "127.0.0.1,localhost"
    for name in ("NLOPT_DEBUG", "NLOPT_MODEL", "NLOPT_BASE_URL", "NLOPT_API_KEY"):
        e.pop(name, None)
    e.update(extra)
    return e


def nlopt(*args: str, preexec_fn=None, **extra: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "nlopt_milp.cli.app", *map(str, args)], capture_output=True,
                          text=True, cwd=ROOT, env=env(**extra), timeout=180, preexec_fn=preexec_fn)


def eval_run(bench: Path, server: ScriptedServer, log: Path, *extra, **kw) -> subprocess.CompletedProcess:
    return nlopt("eval", "run", "--file", bench, "--mode", "single", "--max-repairs", "0", "--concurrency", "1",
                 "--base-url", server.base_url, "--out", log, "--json", *extra, **kw)


def lines(log: Path) -> list[dict]:
    return [json.loads(x) for x in log.read_text(encoding="utf-8").splitlines()]  # every line parses


def results(log: Path) -> list[dict]:
    return [x for x in lines(log) if x["type"] == "result"]


def summary(proc: subprocess.CompletedProcess) -> dict:
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads(proc.stdout.strip().splitlines()[-1])


@pytest.fixture(scope="module")
def server():
    with ScriptedServer(models=["model-a"], responder=respond) as s:
        yield s


@pytest.fixture(scope="module")
def baseline(server, tmp_path_factory):
    """One complete run over CAPS_A: the log, and the HF cache it warmed."""
    tmp = tmp_path_factory.mktemp("baseline")
    bench = write_bench(tmp / "bench.jsonl", CAPS_A)
    log = tmp / "log.jsonl"
    proc = eval_run(bench, server, log, HF_DATASETS_CACHE=str(tmp / "hf"))
    s = summary(proc)
    assert s["n"] == len(CAPS_A) and s["sa"] == 1.0  # the formulations are right: brute force agrees
    return bench, log, tmp / "hf"


# --- never destroy a log ------------------------------------------------------------------------------


def test_eval_log_not_truncated(baseline, server, tmp_path):
    bench, first, hf = baseline
    log = tmp_path / "log.jsonl"
    log.write_bytes(first.read_bytes())
    before = log.read_bytes()
    asked = len(server.chat_requests)

    again = eval_run(bench, server, log, HF_DATASETS_CACHE=str(hf))
    assert again.returncode == 2, again.stderr
    assert "use --resume to continue it or --overwrite to replace it" in again.stderr
    assert log.read_bytes() == before and len(server.chat_requests) == asked

    foreign = tmp_path / "notes.txt"
    foreign.write_text("precious notes\n", encoding="utf-8")
    for extra in ((), ("--resume",)):
        proc = eval_run(bench, server, foreign, *extra, HF_DATASETS_CACHE=str(hf))
        assert proc.returncode == 2, proc.stderr
        assert foreign.read_text(encoding="utf-8") == "precious notes\n"
    assert "not an nlopt eval log" in proc.stderr

    replaced = eval_run(bench, server, log, "--overwrite", "--limit", "1", HF_DATASETS_CACHE=str(hf))
    assert summary(replaced)["n"] == 1  # explicit consent: the old log is replaced, not appended to
    assert [x["type"] for x in lines(log)] == ["header", "result"]


# --- resume only the same run ----------------------------------------------------------------------------


def test_resume_refuses_other_benchmark(baseline, server, tmp_path):
    bench_a, first, hf = baseline
    log = tmp_path / "log.jsonl"
    log.write_bytes(first.read_bytes())
    before = log.read_bytes()
    bench_b = write_bench(tmp_path / "bench.jsonl", CAPS_B)  # same file name and benchmark name, other data
    asked = len(server.chat_requests)

    other = eval_run(bench_b, server, log, "--resume", HF_DATASETS_CACHE=str(hf))
    assert other.returncode == 2, other.stderr
    assert "log of another run" in other.stderr and "dataset_sha256" in other.stderr and "--force" in other.stderr
    other_model = eval_run(bench_a, server, log, "--resume", "--model", "model-b", "--rel-tol", "0.05",
                           HF_DATASETS_CACHE=str(hf))
    assert other_model.returncode == 2, other_model.stderr
    assert 'model: "model-a" != "model-b"' in other_model.stderr and "scoring" in other_model.stderr
    assert log.read_bytes() == before and len(server.chat_requests) == asked

    # The same records in another order and format are the same benchmark: nothing is run again.
    (tmp_path / "copy").mkdir()
    shuffled = write_bench(tmp_path / "copy" / "bench.json", CAPS_A[::-1], as_list=True)
    resumed = eval_run(shuffled, server, log, "--resume", HF_DATASETS_CACHE=str(hf))
    assert summary(resumed)["n"] == len(CAPS_A) and len(server.chat_requests) == asked

    forced = eval_run(bench_b, server, log, "--resume", "--force", HF_DATASETS_CACHE=str(hf))
    assert summary(forced)["n"] == len(CAPS_B)
    assert len(server.chat_requests) == asked + len(CAPS_B)  # B's problems run, none skipped by line number
    kinds = [x["type"] for x in lines(log)]
    assert kinds.count("header") == 1 and kinds.count("resume") == 2
    forced_line = [x for x in lines(log) if x["type"] == "resume"][-1]
    assert any(d.startswith("dataset_sha256") for d in forced_line["forced"])
    assert len({r["problem_id"] for r in results(log)}) == len(CAPS_A) + len(CAPS_B)


# --- one writer at a time ------------------------------------------------------------------------------------


def test_log_lock_fails_fast(baseline, server, tmp_path):
    from nlopt_milp.eval.log import LogError, open_log

    bench, first, hf = baseline
    log = tmp_path / "log.jsonl"
    log.write_bytes(first.read_bytes())
    header = lines(first)[0]
    header.pop("type")
    with open_log(log, header, resume=True):
        before = log.read_bytes()
        with pytest.raises(LogError, match="in use by another nlopt eval run"):
            open_log(log, header, resume=True)
        proc = eval_run(bench, server, log, "--resume", HF_DATASETS_CACHE=str(hf))
        assert proc.returncode == 2 and "in use by another nlopt eval run" in proc.stderr
        assert log.read_bytes() == before
    with open_log(log, header, resume=True) as again:  # released on close
        assert again.done == {r["problem_id"] for r in results(first)}


# --- a full disk -------------------------------------------------------------------------------------------


def _sizes(log: Path) -> tuple[int, int]:
    raw = log.read_bytes().splitlines(keepends=True)
    return len(raw[0]), max(len(x) for x in raw[1:])


def _check_disk_full(proc, log: Path, server, bench, hf) -> None:
    assert proc.returncode == 74, proc.stderr[-3000:]
    assert "the disk is full" in proc.stderr and "--resume" in proc.stderr and "Traceback" not in proc.stderr
    raw = log.read_bytes()
    assert raw.endswith(b"\n")  # no torn last line
    done = results(log)
    assert 1 <= len(done) < len(CAPS_A)


def test_disk_full_file_size_limit(baseline, server, tmp_path):
    """RLIMIT_FSIZE makes write() fail with EFBIG past the limit (Python ignores SIGXFSZ)."""
    bench, first, hf = baseline
    head, record = _sizes(first)
    limit = head + record + record // 2
    log = tmp_path / "log.jsonl"

    def small_files():
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

    proc = eval_run(bench, server, log, preexec_fn=small_files, HF_DATASETS_CACHE=str(hf))
    _check_disk_full(proc, log, server, bench, hf)
    assert len(log.read_bytes()) <= limit
    resumed = summary(eval_run(bench, server, log, "--resume", HF_DATASETS_CACHE=str(hf)))
    assert resumed["n"] == len(CAPS_A) and resumed["sa"] == 1.0


def test_disk_full_tmpfs(baseline, server, tmp_path):
    """A real full file system: a small tmpfs (needs root and mount; skipped otherwise)."""
    bench, first, hf = baseline
    head, record = _sizes(first)
    size = ((head + record) // 4096 + 1) * 4096
    if head + len(CAPS_A) * record <= size:
        pytest.skip("records too small for this tmpfs size")
    mnt = tmp_path / "mnt"
    mnt.mkdir()
    if os.geteuid() != 0 or subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(mnt)],
                                           capture_output=True).returncode != 0:
        pytest.skip("cannot mount a tmpfs here")
    try:
        log = mnt / "log.jsonl"
        proc = eval_run(bench, server, log, HF_DATASETS_CACHE=str(hf))
        _check_disk_full(proc, log, server, bench, hf)
        saved = log.read_bytes()
    finally:
        subprocess.run(["umount", str(mnt)], check=True)
    log = tmp_path / "log.jsonl"
    log.write_bytes(saved)  # the log moved to a disk with room: resume it
    resumed = summary(eval_run(bench, server, log, "--resume", HF_DATASETS_CACHE=str(hf)))
    assert resumed["n"] == len(CAPS_A) and resumed["sa"] == 1.0


# --- provenance, solve options, traces ------------------------------------------------------------------


@pytest.fixture(scope="module")
def options_run(baseline, server, tmp_path_factory):
    bench, _, hf = baseline
    tmp = tmp_path_factory.mktemp("options")
    log, traces = tmp / "log.jsonl", tmp / "traces"
    proc = eval_run(bench, server, log, "--limit", "3", "--seed", "7", "--rel-tol", "0.001", "--solver", "ortools",
                    "--mip-gap", "0.01", "--threads", "1", "--time-limit", "5", "--trace", traces,
                    HF_DATASETS_CACHE=str(hf))
    return bench, log, traces, summary(proc), hf


def test_header_provenance_is_complete(options_run, server):
    from nlopt_milp import __version__
    from nlopt_milp.formulate.prompts import PROMPT_VERSION

    bench, log, _, s, _ = options_run
    header = lines(log)[0]
    assert header["type"] == "header" and header["format"] == 2
    assert header["benchmark"] == "bench" and header["source"] == str(bench)
    assert header["file_sha256"] == hashlib.sha256(bench.read_bytes()).hexdigest()
    assert header["dataset_records"] == len(CAPS_A) and header["excluded"] == 0
    assert header["subset"] == {"limit": 3, "ids": None, "seed": 7, "problems": 3}
    assert header["backend"] == "openai" and header["model"] == "model-a" and header["server"] == server.base_url
    assert header["prompt_version"] == PROMPT_VERSION
    assert header["scoring"] == {"rel_tol": 0.001, "published_tol": 0.05}
    assert header["pipeline"]["mode"] == "single" and header["pipeline"]["max_repairs"] == 0
    assert header["pipeline"]["seed"] == 7
    assert header["package"] == f"nlopt-milp {__version__}"
    assert s["n"] == 3


def test_header_provenance_round_trips(options_run, tmp_path):
    from nlopt_milp.eval.datasets import load_file
    from nlopt_milp.eval.report import read_log

    bench, log, _, _, _ = options_run
    header, records = read_log(log)
    assert header == lines(log)[0]
    # The benchmark's version does not depend on the file's format or order; its problem ids neither.
    other = load_file(write_bench(tmp_path / "bench.json", CAPS_A[::-1], as_list=True))
    assert other.dataset_sha256 == header["dataset_sha256"]
    assert {s.problem_id for s in other} >= {r["problem_id"] for r in records}
    changed = load_file(write_bench(tmp_path / "bench.jsonl", CAPS_A[:-1]))
    assert changed.dataset_sha256 != header["dataset_sha256"]
    pid = records[1]["problem_id"]
    assert [s.problem_id for s in load_file(bench, ids=[pid])] == [pid]  # --ids takes stable ids too


@settings(max_examples=200, deadline=None)
@given(st.text(min_size=1), st.lists(st.sampled_from([" ", "\n", "\t", "  "]), min_size=1, max_size=5))
def test_problem_id_ignores_layout_only(text, blanks):
    from nlopt_milp.eval.datasets import problem_id

    words = text.split()
    if not words:
        return
    respaced = blanks[0] + "".join(w + blanks[i % len(blanks)] for i, w in enumerate(words))
    assert problem_id("b", text) == problem_id("b", respaced)
    assert problem_id("b", text) != problem_id("b", text + " x")
    assert problem_id("b", text) != problem_id("c", text) and problem_id("b", text, 2) != problem_id("b", text)


def test_eval_solve_options(options_run, baseline, server, tmp_path):
    _, log, _, _, hf = options_run
    header = lines(log)[0]
    assert header["solve"] == {"solver": "ortools", "time_limit": 5.0, "mip_gap": 0.01, "threads": 1}
    recs = results(log)
    assert recs and all(r["samples"][0]["solver"].startswith("ortools") for r in recs)
    assert all(r["correct"] for r in recs)  # OR-Tools finds the brute-force optimum too
    bad = eval_run(baseline[0], server, tmp_path / "log.jsonl", "--solver", "cplex", HF_DATASETS_CACHE=str(hf))
    assert bad.returncode == 2 and "unknown solver" in bad.stderr
    assert not (tmp_path / "log.jsonl").exists()


def test_trace_dir(options_run, server, tmp_path):
    from nlopt_milp.eval.runner import trace_name

    bench, log, traces, _, hf = options_run
    recs = results(log)
    assert sorted(p.name for p in traces.iterdir()) == sorted(trace_name(r["problem_id"]) for r in recs)
    for r in recs:
        trace = json.loads((traces / trace_name(r["problem_id"])).read_text(encoding="utf-8"))
        assert trace["problem_id"] == r["problem_id"] and trace["id"] == r["id"]
        assert any(r["question"] in json.dumps(e) for e in trace["events"])  # the prompt that was sent
    before = {p.name: p.read_bytes() for p in traces.iterdir()}
    again = eval_run(bench, server, tmp_path / "new.jsonl", "--limit", "3", "--trace", traces,
                     HF_DATASETS_CACHE=str(hf))
    assert again.returncode == 2 and "already holds traces" in again.stderr
    assert {p.name: p.read_bytes() for p in traces.iterdir()} == before
    assert not (tmp_path / "new.jsonl").exists()


# --- every output file -----------------------------------------------------------------------------------


def test_outputs_never_truncate_foreign_files(baseline, tmp_path):
    bench, log, _ = baseline
    precious = "precious, not ours\n"
    model = ROOT / "examples" / "knapsack.json"
    problem = tmp_path / "problem.txt"
    problem.write_text(question(10), encoding="utf-8")
    nl4opt = tmp_path / "nl4opt.jsonl"
    nl4opt.write_text("{}\n", encoding="utf-8")
    dead = ("--base-url", "http://127.0.0.1:9/v1")  # refused before any request
    commands = {
        "schema": lambda out: ("schema", "-o", out),
        "emit": lambda out: ("emit", model, "--to", "lp", "-o", out),
        "import-nl4opt": lambda out: ("data", "import-nl4opt", nl4opt, "-o", out),
        "formulate": lambda out: ("formulate", problem, "-o", out, *dead),
        "solve --trace": lambda out: ("solve", problem, "--trace", out, *dead),
        "solve --save-formulation": lambda out: ("solve", problem, "--save-formulation", out, *dead),
        "solve --emit-pyomo": lambda out: ("solve", problem, "--emit-pyomo", out, *dead),
        "eval report --html": lambda out: ("eval", "report", log, "--html", out),
        "eval gold --out": lambda out: ("eval", "gold", nl4opt, "--file", bench, "--out", out),
        "eval run --out": lambda out: ("eval", "run", "--file", bench, "--out", out, *dead),
    }
    for name, args in commands.items():
        out = tmp_path / f"{name.replace(' ', '_')}.out"
        out.write_text(precious, encoding="utf-8")
        proc = nlopt(*args(out))
        assert proc.returncode == 2, (name, proc.stderr)
        assert "--overwrite" in proc.stderr, (name, proc.stderr)
        assert out.read_text(encoding="utf-8") == precious, name
    for name in ("schema", "emit"):  # with consent the file is replaced, whole
        out = tmp_path / f"{name}.out"
        proc = nlopt(*commands[name](out), "--overwrite")
        assert proc.returncode == 0, (name, proc.stderr)
        assert out.read_text(encoding="utf-8") != precious
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".part")]  # no temporary files left


def test_open_new_output_is_all_or_nothing(tmp_path):
    from nlopt_milp.core.files import OutputExists, open_new_output, write_new_output

    target = tmp_path / "out.txt"
    with pytest.raises(RuntimeError):
        with open_new_output(target) as fh:
            fh.write("half")
            raise RuntimeError("crash while writing")
    assert not target.exists() and list(tmp_path.iterdir()) == []
    write_new_output(target, "one")
    with pytest.raises(OutputExists, match="already exists"):
        write_new_output(target, "two")
    assert target.read_text() == "one"
    with pytest.raises(IsADirectoryError):
        write_new_output(tmp_path, "x", overwrite=True)
    with pytest.raises(OSError, match="not a regular file"):
        write_new_output("/dev/null", "x", overwrite=True)


# --- what --file is ------------------------------------------------------------------------------------------


def test_file_that_is_not_a_file_is_named(tmp_path, server):
    from nlopt_milp.eval.datasets import DatasetError, check_input_file, load_file

    loop = tmp_path / "loop.jsonl"
    loop.symlink_to(loop)
    cases = {loop: "symlink loop", tmp_path: "is a directory", Path("/dev/zero"): "not a regular file",
             tmp_path / "missing.jsonl": "no such file"}
    for path, message in cases.items():
        with pytest.raises(DatasetError, match=message):
            load_file(path)
    big = write_bench(tmp_path / "big.jsonl", CAPS_A)
    with pytest.raises(DatasetError, match="over the limit of 100 bytes.*NLOPT_MAX_BENCHMARK_BYTES"):
        check_input_file(big, max_bytes=100)
    proc = nlopt("eval", "run", "--file", loop, "--out", tmp_path / "log.jsonl", "--base-url", server.base_url)
    assert proc.returncode == 2 and "symlink loop" in proc.stderr
    damaged = tmp_path / "damaged.jsonl"
    damaged.write_text(big.read_text(encoding="utf-8") + '{"question": "q", "ans\n', encoding="utf-8")
    with pytest.raises(DatasetError, match="line 5: invalid JSON"):
        load_file(damaged)


def test_hub_offline_through_environment(tmp_path):
    """With the hub unreachable, offline mode reaches `datasets` through its documented variables,
    set before it is imported (the library's own constants say so), and the load fails fast."""
    code = ("import os\n"
            "from nlopt_milp.eval.datasets import DatasetError, load_benchmark\n"
            "try:\n"
            "    load_benchmark('nl4opt', probe_timeout=1)\n"
            "except DatasetError as e:\n"
            "    print('error:', e)\n"
            "import datasets.config, huggingface_hub.constants\n"
            "print(os.environ['HF_DATASETS_OFFLINE'], datasets.config.HF_HUB_OFFLINE,\n"
            "      huggingface_hub.constants.HF_HUB_OFFLINE)\n")
    e = env(HF_ENDPOINT="http://127.0.0.1:9", HF_HOME=str(tmp_path / "hf"))
    for var in ("HF_HUB_OFFLINE", "HF_DATASETS_OFFLINE", "TRANSFORMERS_OFFLINE", "HTTPS_PROXY", "https_proxy",
                "ALL_PROXY", "all_proxy"):
        e.pop(var, None)
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, env=e, timeout=120)
    out = proc.stdout.splitlines()
    assert out[0].startswith("error:") and "--file" in out[0], proc.stdout + proc.stderr
    assert out[-1] == "1 True True"


def test_disk_full_output_file(tmp_path):
    """Any output file: a full disk is said so (exit 74) and leaves neither a half file nor a temporary one."""
    out = tmp_path / "model.md"

    def small_files():
        resource.setrlimit(resource.RLIMIT_FSIZE, (64, 64))

    proc = nlopt("emit", ROOT / "examples" / "knapsack.json", "--to", "markdown", "-o", out, preexec_fn=small_files)
    assert proc.returncode == 74, proc.stderr
    assert f"{out}: cannot write: File too large" in " ".join(proc.stderr.split())
    assert list(tmp_path.iterdir()) == []


def test_resume_refuses_a_log_of_an_older_format(tmp_path):
    from nlopt_milp.eval.log import LogError, open_log

    log = tmp_path / "log.jsonl"
    log.write_text('{"type": "header", "benchmark": "nl4opt", "model": "m"}\n{"type": "result", "id": "1"}\n',
                   encoding="utf-8")
    before = log.read_bytes()
    with pytest.raises(LogError, match="older nlopt"):
        open_log(log, {"format": 2, "benchmark": "nl4opt", "model": "m", "dataset_sha256": "ab"}, resume=True)
    assert log.read_bytes() == before

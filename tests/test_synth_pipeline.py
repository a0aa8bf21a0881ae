"""`nlopt synth` end to end: the CLI in a subprocess against a loopback scripted server.

Five instances, each given a case word that its scripted texts carry:
  alpha   first draft omits a number -> our audit catches it -> rewritten -> accepted; forward matches -> train
  bravo   every draft omits a number -> rejected (reason: numbers missing), never replaced
  charlie the critic lists a discrepancy once -> rewritten -> accepted; one matching and one wrong
          forward sample -> train + one preference pair
  delta   accepted; the forward formulation is wrong -> hard
  echo    accepted, but its text repeats a benchmark sentence -> dropped by decontamination
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from scripted_server import Reply, ScriptedServer

from nlopt_milp.data.synth import prompts as P
from nlopt_milp.data.synth.backtranslate import data_values
from nlopt_milp.data.synth.generate import generate

ROOT = Path(__file__).resolve().parent.parent
FAMILIES = ["knapsack", "diet", "production_mix", "transportation", "project_selection"]
WORDS = ["alpha", "bravo", "charlie", "delta", "echo"]
BENCH_SENTENCE = ("there has been an oil spill in the ocean and ducks need to be taken to shore to be cleaned "
                  "either by boat or by canoe")


def cli_env() -> dict:
    env = dict(os.environ)
    env["PYTHONPATH"] = str(ROOT) + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    env["COLUMNS"] = "400"
    env["NO_PROXY"] = env["no_proxy"] = "127.0.0.1,localhost"
    for name in ("NLOPT_DEBUG", "NLOPT_MODEL", "NLOPT_BASE_URL", "NLOPT_API_KEY", "NLOPT_BENCHMARKS"):
        env.pop(name, None)
    return env


def nlopt(*args: str, timeout: float = 180) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "nlopt_milp.cli.app", *args], capture_output=True, text=True,
                          cwd=ROOT, env=cli_env(), timeout=timeout)


def last_json(proc) -> dict:
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads(proc.stdout.strip().splitlines()[-1])


class Script:
    """Answers by request kind (writer / critic / forward) and case word; counts calls per case."""

    def __init__(self, instances: list[dict], slow: str | None = None):
        self.by_model = {json.dumps(r["formulation"], ensure_ascii=False): (w, r) for w, r in zip(WORDS, instances)}
        self.by_word = {w: r for w, r in zip(WORDS, instances)}
        self.calls: dict[tuple[str, str], int] = {}
        self.lock = threading.Lock()
        self.slow = slow  # a case whose forward reply takes long (to kill the process meanwhile)

    def count(self, kind: str, word: str) -> int:
        with self.lock:
            n = self.calls.get((kind, word), 0)
            self.calls[(kind, word)] = n + 1
            return n

    def __call__(self, request: dict) -> Reply:
        system = request["messages"][0]["content"]
        user = request["messages"][-1]["content"]
        if system == P.WRITER_SYSTEM:
            word, rec = next(v for k, v in self.by_model.items() if k in user)
            numbers = re.search(r"written in digits[^\n]*:\n([^\n]*)", user).group(1).split(", ")
            n = self.count("write", word)
            if word == "bravo" or (word == "alpha" and n == 0):
                numbers = numbers[:-1]  # one number left out
            text = f"Case {word}. A planner has these figures: {', '.join(numbers)}. Find the best plan."
            if word == "echo":
                text += f" Note: {BENCH_SENTENCE}."
            return Reply(content=text)
        word = re.search(r"Case (\w+)\.", user).group(1)
        if system == P.CRITIC_SYSTEM:
            n = self.count("critique", word)
            if word == "charlie" and n == 0:
                return Reply(content=json.dumps({"complete": False, "discrepancies": ["the budget is not stated"]}))
            return Reply(content=json.dumps({"complete": True, "discrepancies": []}))
        # forward formulation (single mode)
        rec = self.by_word[word]
        gold = json.dumps(rec["formulation"])
        wrong = dict(rec["formulation"])
        wrong["objective"] = dict(wrong["objective"], expr=f"2 * ({wrong['objective']['expr']})")
        wrong = json.dumps(wrong)
        delay = 60.0 if word == self.slow else 0.0
        if word == "charlie":
            return Reply(content=[gold, wrong], delay=delay)
        if word == "delta":
            return Reply(content=[wrong, wrong], delay=delay)
        return Reply(content=[gold, gold], delay=delay)


@pytest.fixture(scope="module")
def instances(tmp_path_factory) -> tuple[Path, list[dict]]:
    out = tmp_path_factory.mktemp("inst") / "instances.jsonl"
    for fam in FAMILIES:
        part = out.with_name(f"{fam}.jsonl")
        generate([fam], 1, 1, 3, part)
        with out.open("a") as fh:
            fh.write(part.read_text())
    return out, [json.loads(x) for x in out.read_text().splitlines()]


@pytest.fixture(scope="module")
def bench(tmp_path_factory) -> Path:
    p = tmp_path_factory.mktemp("bench") / "nl4opt.jsonl"
    p.write_text(json.dumps({"question": BENCH_SENTENCE.capitalize() + ". How many trips?", "answer": 5}) + "\n")
    return p


def verify_args(texts: Path, ds: Path, server, bench: Path, *extra: str) -> list[str]:
    return ["synth", "verify", str(texts), "-o", str(ds), "--mode", "single", "--samples", "2", "--max-repairs", "0",
            "--base-url", server.base_url, "--decontaminate", str(bench), "--workers", "1", "--json", *extra]


def load(ds: Path, config: str | None = None):
    import datasets

    return datasets.load_dataset(str(ds), config, cache_dir=str(ds.parent / "hf-cache"))


def test_end_to_end(tmp_path, instances, bench):
    inst_path, recs = instances
    ids = {w: r["id"] for w, r in zip(WORDS, recs)}
    texts, ds = tmp_path / "texts.jsonl", tmp_path / "ds"
    with ScriptedServer(responder=Script(recs)) as server:
        bt = last_json(nlopt("synth", "backtranslate", str(inst_path), "-o", str(texts), "--base-url",
                             server.base_url, "--refine", "1", "--json"))
        assert (bt["n"], bt["accepted"], bt["rejected"]) == (5, 4, 1)
        assert bt["dropped"] == {"numbers_missing": 1}
        out = {r["id"]: r for r in map(json.loads, texts.read_text().splitlines())}
        bravo = out[ids["bravo"]]
        assert bravo["accepted"] is False and bravo["text"] is None
        assert bravo["reason"].startswith("numbers missing from the text: ")
        assert out[ids["alpha"]]["accepted"] and out[ids["alpha"]]["rounds"] == 1
        assert out[ids["charlie"]]["accepted"] and out[ids["charlie"]]["rounds"] == 1
        assert out[ids["delta"]]["rounds"] == 0 and out[ids["delta"]]["scenario"]["industry"]
        v = last_json(nlopt(*verify_args(texts, ds, server, bench)))
    assert (v["n"], v["accepted"], v["hard"], v["rejected"], v["preference"]) == (4, 2, 1, 2, 1)
    assert v["dropped"] == {"backtranslation_rejected": 1, "contaminated": 1}
    assert v["decontamination"]["dropped"] == 1

    d = load(ds)
    assert sorted(d["train"]["id"]) == sorted([ids["alpha"], ids["charlie"]])
    assert d["hard"]["id"] == [ids["delta"]]
    row = d["train"][0]
    assert [m["role"] for m in row["messages"]] == ["system", "user", "assistant"]
    assert row["messages"][1]["content"] == row["text"]
    assert json.loads(row["messages"][2]["content"])["objective"] == json.loads(row["formulation"])["objective"]
    pref = load(ds, "preference")["train"]
    assert pref["id"] == [f"{ids['charlie']}/0-1"]
    assert pref[0]["chosen_objective"] == pytest.approx(out[ids["charlie"]]["objective"])
    assert pref[0]["rejected_objective"] == pytest.approx(2 * out[ids["charlie"]]["objective"])
    readme = (ds / "README.md").read_text()
    assert readme.startswith("---\n") and "machine-generated" in readme and "config_name: preference" in readme

    exp = nlopt("synth", "export", str(ds), "--to", "llamafactory")
    assert exp.returncode == 0, exp.stderr
    info = json.loads((ds / "dataset_info.json").read_text())
    assert info["nlopt_synth"]["file_name"] == "data/train-00000-of-00001.parquet"
    assert info["nlopt_synth"]["formatting"] == "sharegpt"

    st = last_json(nlopt("synth", "stats", str(ds), "--benchmarks", str(bench), "--json", "--html",
                         str(tmp_path / "stats.html")))
    assert st["splits"] == {"train": 2, "hard": 1, "contaminated": 1}
    fam_c = FAMILIES[WORDS.index("charlie")]
    assert st["by_family"][fam_c] == {"n": 1, "train": 1, "hard": 0, "contaminated": 0, "acceptance": 1.0}
    assert st["dropped"] == {"verify:contaminated": 1}
    assert st["text_words"]["ours"]["n"] == 4 and st["stages"]["verify"]["records"] == 3
    html = (tmp_path / "stats.html").read_text()
    assert html.startswith("<!doctype html>") and "<svg" in html and fam_c in html
    # outputs are never replaced silently: a second export / --html is refused, --overwrite replaces
    again = nlopt("synth", "export", str(ds), "--to", "llamafactory")
    assert again.returncode == 2 and "--overwrite" in again.stderr
    assert nlopt("synth", "export", str(ds), "--to", "llamafactory", "--overwrite").returncode == 0
    again = nlopt("synth", "stats", str(ds), "--benchmarks", str(bench), "--html", str(tmp_path / "stats.html"))
    assert again.returncode == 2 and "--overwrite" in again.stderr

    # the hard split is an eval benchmark as it is
    from nlopt_milp.eval.datasets import load_file
    hard = load_file(str(ds / "data" / "hard-00000-of-00001.parquet"))
    assert [s.question for s in hard.samples] == d["hard"]["text"]


def test_verify_killed_and_resumed_gives_the_same_dataset(tmp_path, instances, bench):
    inst_path, recs = instances
    texts = tmp_path / "texts.jsonl"
    with ScriptedServer(responder=Script(recs)) as server:
        last_json(nlopt("synth", "backtranslate", str(inst_path), "-o", str(texts), "--base-url", server.base_url,
                        "--json"))
        ref = tmp_path / "ref"
        last_json(nlopt(*verify_args(texts, ref, server, bench, "--concurrency", "1")))
    # verify sends one request at a time (--concurrency 1), texts in file order: the last one that needs a
    # request is made slow, and the process is killed once every other text is in the log (echo needs no
    # request: it is written while the slow request waits, wherever it stands)
    word_of = {r["id"]: w for w, r in zip(WORDS, recs)}
    order = [word_of[r["id"]] for r in map(json.loads, texts.read_text().splitlines()) if r["accepted"]]
    slow = [w for w in order if w != "echo"][-1]
    before = len(order) - 1
    ds = tmp_path / "ds"
    with ScriptedServer(responder=Script(recs, slow=slow)) as server:
        args = [sys.executable, "-m", "nlopt_milp.cli.app", *verify_args(texts, ds, server, bench, "--concurrency", "1")]
        proc = subprocess.Popen(args, cwd=ROOT, env=cli_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                start_new_session=True)
        log = ds / "logs" / "verify.jsonl"
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            if log.exists() and log.read_text().count("\n") >= before:
                break
            time.sleep(0.1)
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
    assert not (ds / "data").exists() or not any((ds / "data").glob("*.parquet"))
    logged = [word_of[r["id"]] for r in map(json.loads, log.read_text().splitlines())]
    assert sorted(logged) == sorted(w for w in order if w != slow)
    with ScriptedServer(responder=Script(recs)) as server:
        v = last_json(nlopt(*verify_args(texts, ds, server, bench, "--resume")))
        asked = [r.json["messages"][-1]["content"] for r in server.chat_requests]
    assert (v["n"], v["accepted"], v["hard"]) == (4, 2, 1)
    # only the slow text was formulated again (echo is dropped by decontamination, without a request)
    cases = [re.search(r"Case (\w+)\.", a).group(1) for a in asked if re.search(r"Case (\w+)\.", a)]
    assert cases == [slow]
    for config in (None, "preference"):
        a, b = load(ref, config), load(ds, config)
        assert sorted(a) == sorted(b)
        for split in a:
            key = lambda r: r["id"]  # noqa: E731
            assert sorted(a[split].to_list(), key=key) == sorted(b[split].to_list(), key=key)


def test_run_chains_the_stages(tmp_path):
    pre = tmp_path / "pre.jsonl"
    generate(["knapsack", "diet"], 1, 1, 5, pre)  # the same instances `run` will make (same seed)
    recs = [json.loads(x) for x in pre.read_text().splitlines()]  # alpha = knapsack, bravo = diet
    work = tmp_path / "work"
    with ScriptedServer(responder=Script(recs)) as server:
        s = last_json(nlopt("synth", "run", "-w", str(work), "-f", "knapsack,diet", "-n", "1", "-c", "1", "--seed", "5",
                            "--mode", "single", "-k", "2", "--max-repairs", "0", "--no-decontaminate", "--workers", "1",
                            "--base-url", server.base_url, "--json"))
    assert (work / "instances.jsonl").read_bytes() == pre.read_bytes()
    assert (s["n"], s["accepted"], s["hard"]) == (1, 1, 0)
    assert s["dropped"] == {"backtranslate:numbers_missing": 1}
    assert load(work / "dataset")["train"]["id"] == [recs[0]["id"]]
    runs = json.loads((work / "dataset" / "logs" / "summary.json").read_text())
    assert set(runs) == {"generate", "backtranslate", "verify"}


def test_backtranslate_spreads_requests_over_several_servers(tmp_path, instances):
    inst_path, recs = instances
    script = Script(recs)
    texts = tmp_path / "texts.jsonl"
    with ScriptedServer(responder=script) as one, ScriptedServer(responder=script) as two:
        s = last_json(nlopt("synth", "backtranslate", str(inst_path), "-o", str(texts), "--base-url", one.base_url,
                            "--base-url", two.base_url, "--refine", "0", "--limit", "4", "--json"))
        n_one, n_two = len(one.chat_requests), len(two.chat_requests)
    assert s["n"] == 4 and s["accepted"] + s["rejected"] == 4
    assert n_one >= 3 and n_two >= 3  # round robin: 8 requests or more, spread over both


# --- concurrency: requests in flight, instances in progress ---------------------------------------------


def _verify_records(tmp_path: Path, n: int) -> tuple[list[dict], dict[str, str]]:
    """n knapsack texts to verify, and the reply (the gold formulation) for each one's case key. The key is
    written in letters: a stray number in the text would draw a review request from the audit."""
    path = tmp_path / "knapsack.jsonl"
    generate(["knapsack"], n, 1, 11, path)
    recs, golds = [], {}
    for k, r in enumerate(map(json.loads, path.read_text().splitlines())):
        key = str(k).translate(str.maketrans("0123456789", "abcdefghij"))
        numbers = ", ".join(str(int(x)) if float(x).is_integer() else repr(x) for x in data_values(r["formulation"]))
        recs.append({**r, "text": f"Case {key}. A planner has these figures: {numbers}. Find the best plan."})
        golds[key] = json.dumps(r["formulation"])
    return recs, golds


class _InFlight:
    """Answers a forward request with its case's gold formulation; counts the requests in flight at the server.
    The first `first` requests are answered only once all of them are in flight together."""

    def __init__(self, golds: dict[str, str], first: int, on_arrival=None):
        self.golds = golds
        self.lock = threading.Lock()
        self.now = self.most = self.seen = 0
        self.first = threading.Barrier(first, timeout=30)
        self.on_arrival = on_arrival

    def __call__(self, request: dict) -> Reply:
        with self.lock:
            self.now += 1
            self.seen += 1
            self.most = max(self.most, self.now)
            k = self.seen
            if self.on_arrival is not None:
                self.on_arrival(k)
        try:
            if k <= self.first.parties:
                self.first.wait()
            user = request["messages"][-1]["content"]
            if request["messages"][0]["content"] == P.CRITIC_SYSTEM:
                return Reply(content=json.dumps({"complete": True, "discrepancies": []}))
            if request["messages"][0]["content"] == P.WRITER_SYSTEM:
                return Reply(content="A planner has figures. Find the best plan.")
            return Reply(content=self.golds[re.search(r"Case ([a-j]+)\.", user).group(1)])
        finally:
            with self.lock:
                self.now -= 1


class _HeldSolves(ThreadPoolExecutor):
    """The solver pool, in one thread: every check-and-solve waits until `release` is set."""

    def __init__(self):
        super().__init__(1)
        self.release = threading.Event()
        self.finished = 0

    def submit(self, fn, /, *args, **kwargs):
        def held():
            if not self.release.wait(30):
                raise TimeoutError("solves never released")
            try:
                return fn(*args, **kwargs)
            finally:
                self.finished += 1
        return super().submit(held)


def test_verify_keeps_requests_in_flight_while_earlier_texts_are_solved(tmp_path):
    from nlopt_milp.data.synth.verify import VerifyOptions, verify
    from nlopt_milp.formulate.backends.throttle import backlog
    from nlopt_milp.formulate.llm import OpenAIBackend

    recs, golds = _verify_records(tmp_path, 8)
    pool = _HeldSolves()
    solved_at_arrival: list[int] = []

    def arrival(k: int) -> None:
        solved_at_arrival.append(pool.finished)
        if k == backlog(3):  # as many texts as may be in progress have asked: let the solves go
            pool.release.set()

    script = _InFlight(golds, first=3, on_arrival=arrival)
    try:
        with ScriptedServer(responder=script) as server:
            run = asyncio.run(verify(recs, OpenAIBackend(server.base_url), tmp_path / "v.jsonl",
                                     VerifyOptions(mode="single", max_repairs=0, concurrency=3), executor=pool))
    finally:
        pool.shutdown()
    assert (run.written, run.errors) == (8, [])
    assert [json.loads(x)["split"] for x in (tmp_path / "v.jsonl").read_text().splitlines()] == ["train"] * 8
    assert script.seen == 8 and script.most == 3  # up to --concurrency requests in flight, never more
    # While the first replies waited for the solver, the next texts' requests went out: 6 requests before any
    # solve had finished (a limit per text would have stopped at 3), then no more until one had.
    assert solved_at_arrival[:6] == [0] * 6 and all(n >= 1 for n in solved_at_arrival[6:])


def test_backtranslate_limits_requests_in_flight(tmp_path):
    from nlopt_milp.data.synth.backtranslate import BTOptions, backtranslate
    from nlopt_milp.formulate.llm import OpenAIBackend

    path = tmp_path / "inst.jsonl"
    generate(["knapsack"], 5, 1, 11, path)
    script = _InFlight({}, first=2)
    with ScriptedServer(responder=script) as server:
        s = asyncio.run(backtranslate([json.loads(x) for x in path.read_text().splitlines()],
                                      OpenAIBackend(server.base_url), tmp_path / "t.jsonl",
                                      BTOptions(refine=0, concurrency=2)))
    assert s.n == 5 and script.seen == 10  # writer and critic for each instance
    assert script.most == 2


def test_verify_with_a_batching_engine_sends_at_most_concurrency_per_batch(tmp_path):
    """`--backend vllm`: the requests in flight go to the engine together, at most --concurrency at once."""
    from nlopt_milp.data.synth.verify import VerifyOptions, verify
    from nlopt_milp.formulate.llm import Backend, BatchingBackend, Completion

    recs, golds = _verify_records(tmp_path, 8)

    class Engine(Backend):
        model = "engine"
        batches: list[int] = []

        def complete(self, req):
            return self.complete_batch([req])[0]

        def complete_batch(self, reqs):
            self.batches.append(len(reqs))
            return [Completion(texts=[golds[re.search(r"Case ([a-j]+)\.", r.messages[-1]["content"]).group(1)]],
                               model=self.model) for r in reqs]

    engine = Engine()
    run = asyncio.run(verify(recs, BatchingBackend(engine, window=0.2), tmp_path / "v.jsonl",
                             VerifyOptions(mode="single", max_repairs=0, concurrency=3, solve_workers=1)))
    assert (run.written, run.errors) == (8, [])
    assert sum(engine.batches) == 8 and max(engine.batches) == 3

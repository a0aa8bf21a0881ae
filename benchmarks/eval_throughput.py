"""Eval runner overhead and throughput, measured against a loopback chat server.

1. Overhead: a server that answers instantly with a valid formulation for each of N
   problems. Our per-problem time (parse, validate, build, solve, log: everything but the
   model) is compared, in the same run, with the way published tools execute an answer:
   write a generated script and run it in a fresh Python process, once per problem.
2. Throughput: a server that delays every reply by a fixed latency. With C problems in
   flight, the ideal is C / latency problems per second (single-call mode, no repairs);
   we print the achieved fraction.

    python benchmarks/eval_throughput.py [--problems 256] [--latency 2.0] [--concurrency 64]

Both ways get the same parallelism: our run uses `EvalOptions().solve_workers` solver
processes, and the per-process way runs that many scripts at a time.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

from scripted_server import Reply, ScriptedServer  # noqa: E402

from nlopt_milp.core.validate import load_file  # noqa: E402
from nlopt_milp.eval.datasets import Sample  # noqa: E402
from nlopt_milp.eval.runner import EvalOptions, run_eval  # noqa: E402
from nlopt_milp.formulate.llm import OpenAIBackend  # noqa: E402
from nlopt_milp.solve.pool import solver_pool  # noqa: E402
from nlopt_milp.solve.export import emit  # noqa: E402


def problems(n: int) -> tuple[list[Sample], dict[str, str]]:
    """N distinct problems: the shipped examples with the problem text numbered."""
    examples = sorted((ROOT / "examples").glob("*.json"))
    samples, replies = [], {}
    for k in range(n):
        f = load_file(examples[k % len(examples)])
        # a label without digits: a number the formulation does not use is an audit finding, which
        # would add a review request per problem (and the scripted server knows no review prompt)
        label = "".join("abcdefghijklmnopqrstuvwxyz"[int(d)] for d in str(k))
        text = f"Problem {label}. {f.problem}"
        samples.append(Sample(id=str(k), question=text, answer=None, raw_answer=None, benchmark="bench"))
        replies[text] = f.model_dump_json(exclude={"problem"})
    return samples, replies


def responder_for(replies: dict[str, str], delay: float):
    def respond(request: dict) -> Reply:
        user = request["messages"][-1]["content"]
        text = user.rsplit("Problem:\n", 1)[-1].strip()  # the single-call prompt ends with the problem
        reply = replies.get(text)
        return Reply(content=reply, delay=delay) if reply else Reply(status=500, body="unknown problem")
    return respond


def serve(replies: dict[str, str], delay: float, urls, stop) -> None:
    """The model server, in its own process as a real one would be (it must not share our GIL)."""
    with ScriptedServer(responder=responder_for(replies, delay)) as server:
        urls.put(server.base_url)
        stop.wait()


def run(samples, replies, delay: float, concurrency: int, log: Path, pool) -> float:
    ctx = multiprocessing.get_context("spawn")
    urls, stop = ctx.Queue(), ctx.Event()
    server = ctx.Process(target=serve, args=(replies, delay, urls, stop), daemon=True)
    server.start()
    try:
        backend = OpenAIBackend(urls.get(timeout=60), timeout=60)
        opts = EvalOptions(mode="single", max_repairs=0, concurrency=concurrency)
        t0 = time.perf_counter()
        records = asyncio.run(run_eval(samples, backend, log, opts, {"bench": True}, executor=pool, overwrite=True))
        seconds = time.perf_counter() - t0
    finally:
        stop.set()
        server.join(10)
    bad = [r for r in records if not r["samples"] or r["samples"][0]["status"] != "optimal"]
    assert not bad, f"{len(bad)} problems did not solve: {bad[0]}"
    return seconds


def per_process(samples, replies, count: int, parallel: int) -> float:
    """Wall seconds per problem the published way: a generated script in a fresh interpreter."""
    from concurrent.futures import ThreadPoolExecutor

    from nlopt_milp.core.validate import load

    with tempfile.TemporaryDirectory() as d:
        scripts = []
        for s in samples[:count]:
            f = load({**json.loads(replies[s.question]), "problem": s.question})
            script = Path(d) / f"p{s.id}.py"
            script.write_text(emit(f, "pyomo"))
            scripts.append(script)
        run = lambda p: subprocess.run([sys.executable, str(p)], check=True, capture_output=True)  # noqa: E731
        t0 = time.perf_counter()
        with ThreadPoolExecutor(parallel) as ex:
            list(ex.map(run, scripts))
        return (time.perf_counter() - t0) / len(scripts)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--problems", type=int, default=256)
    ap.add_argument("--latency", type=float, default=2.0)
    ap.add_argument("--concurrency", type=int, default=64)
    ap.add_argument("--process-runs", type=int, default=16, help="problems run the per-process way")
    a = ap.parse_args()
    samples, replies = problems(a.problems)
    pool = solver_pool(EvalOptions().solve_workers)
    with pool, tempfile.TemporaryDirectory() as d:
        log = Path(d) / "log.jsonl"
        run(samples[:8], replies, 0.0, a.concurrency, log, pool)  # warm the pool's imports
        ours = run(samples, replies, 0.0, a.concurrency, log, pool) / len(samples)
        workers = EvalOptions().solve_workers
        theirs = per_process(samples, replies, a.process_runs, workers)
        print(f"overhead per problem ({workers} workers each): ours {ours * 1000:.1f} ms, script in a fresh "
              f"process {theirs * 1000:.1f} ms -> {theirs / ours:.1f}x lower")
        seconds = run(samples, replies, a.latency, a.concurrency, log, pool)
        achieved = len(samples) / seconds
        ideal = min(a.concurrency, len(samples)) / a.latency
        print(f"throughput at concurrency {a.concurrency}, latency {a.latency:g} s: {achieved:.2f} problems/s "
              f"of ideal {ideal:.2f} -> {achieved / ideal:.0%}")


if __name__ == "__main__":
    main()

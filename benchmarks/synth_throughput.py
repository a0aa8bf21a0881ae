"""`nlopt synth` speed: generators, and the LLM stages' overhead and throughput on a loopback server.

1. Generators: instances generated and labelled (HiGHS) per second, per family and complexity,
   in one process.
2. Overhead: back-translation (writer + critic, --refine 0) and verification (single-call
   formulation, one sample, solved in the solver pool) of N instances against a server that
   answers at once: milliseconds per instance, everything but the model.
3. Throughput: the same with every reply delayed by a fixed latency and C requests in flight.
   Ideal: C / (2 · latency) instances/s for back-translation (two requests in a row per instance),
   C / latency for verification; we print the achieved fraction.

    python benchmarks/synth_throughput.py [--instances 256] [--latency 2.0] [--concurrency 64] [--attempts 10]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import random
import re
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

from scripted_server import Reply, ScriptedServer  # noqa: E402

from nlopt_milp.data.generators import FAMILIES  # noqa: E402
from nlopt_milp.data.synth import prompts as P  # noqa: E402
from nlopt_milp.data.synth.backtranslate import BTOptions, backtranslate  # noqa: E402
from nlopt_milp.data.synth.generate import Attempt, generate, make_instance  # noqa: E402
from nlopt_milp.data.synth.verify import VerifyOptions, verify  # noqa: E402
from nlopt_milp.formulate.llm import OpenAIBackend  # noqa: E402
from nlopt_milp.solve.pool import solver_pool  # noqa: E402


def generator_rates(attempts: int) -> None:
    print(f"\n1. generators: {attempts} attempts per family and complexity, one process")
    print(f"{'family':26s} " + " ".join(f"{'c=' + str(c):>18s}" for c in (1, 3, 5)))
    totals = {1: [0, 0.0], 3: [0, 0.0], 5: [0, 0.0]}
    for fam in FAMILIES:
        cells = []
        for c in (1, 3, 5):
            make_instance(Attempt(fam, c, 0, 10_000))  # warm imports
            t0 = time.perf_counter()
            kept = sum(make_instance(Attempt(fam, c, 1, k)).record is not None for k in range(attempts))
            dt = time.perf_counter() - t0
            totals[c][0] += attempts
            totals[c][1] += dt
            cells.append(f"{attempts / dt:8.0f}/s ({kept:2d} kept)")
        print(f"{fam:26s} " + " ".join(f"{x:>18s}" for x in cells))
    print(f"{'all families':26s} " + " ".join(f"{n / t:>16.0f}/s" for n, t in totals.values()))


def respond(request: dict, golds: dict, delay: float) -> Reply:
    system = request["messages"][0]["content"]
    user = request["messages"][-1]["content"]
    if system == P.WRITER_SYSTEM:
        key = golds["by_model"][re.search(r"The model \(JSON[^\n]*\n([^\n]*)", user).group(1)]
        numbers = re.search(r"written in digits[^\n]*:\n([^\n]*)", user).group(1)
        # the key in letters: a stray number in the text would (rightly) draw a review round from the audit
        return Reply(content=f"Case {_letters(key)}. A planner has these figures: {numbers}. Find the best plan.",
                     delay=delay)
    if system == P.CRITIC_SYSTEM:
        return Reply(content='{"complete": true, "discrepancies": []}', delay=delay)
    key = str(int(re.search(r"Case ([a-j]+)\.", user).group(1).translate(_DIGITS)))
    return Reply(content=golds["by_key"][key], delay=delay)


_DIGITS = str.maketrans("abcdefghij", "0123456789")


def _letters(key: str) -> str:
    return key.translate(str.maketrans("0123456789", "abcdefghij"))


def serve(golds: dict, delay: float, urls, stop) -> None:
    """The model server in its own process, as a real one would be (it must not share our GIL)."""
    with ScriptedServer(responder=lambda req: respond(req, golds, delay)) as server:
        urls.put(server.base_url)
        stop.wait()


def stages(instances: list[dict], delay: float, concurrency: int, pool) -> tuple[float, float, int, int]:
    golds = {"by_model": {json.dumps(r["formulation"], ensure_ascii=False): str(k) for k, r in enumerate(instances)},
             "by_key": {str(k): json.dumps(r["formulation"]) for k, r in enumerate(instances)}}
    ctx = multiprocessing.get_context("spawn")
    urls, stop = ctx.Queue(), ctx.Event()
    server = ctx.Process(target=serve, args=(golds, delay, urls, stop), daemon=True)
    server.start()
    try:
        backend = OpenAIBackend(urls.get(timeout=60), timeout=120)
        with tempfile.TemporaryDirectory() as tmp:
            texts, log = Path(tmp) / "texts.jsonl", Path(tmp) / "verify.jsonl"
            t0 = time.perf_counter()
            s = asyncio.run(backtranslate(instances, backend, texts, BTOptions(refine=0, concurrency=concurrency)))
            bt = time.perf_counter() - t0
            recs = [json.loads(x) for x in texts.read_text().splitlines()]
            t0 = time.perf_counter()
            asyncio.run(verify([r for r in recs if r["accepted"]], backend, log,
                               VerifyOptions(mode="single", max_repairs=0, concurrency=concurrency), executor=pool))
            vt = time.perf_counter() - t0
            train = sum(json.loads(x)["split"] == "train" for x in log.read_text().splitlines())
        return bt, vt, s.accepted, train
    finally:
        stop.set()
        server.join(timeout=10)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--instances", type=int, default=256)
    ap.add_argument("--latency", type=float, default=2.0)
    ap.add_argument("--concurrency", type=int, default=64)
    ap.add_argument("--attempts", type=int, default=10)
    ap.add_argument("--skip-generators", action="store_true")
    a = ap.parse_args()
    if not a.skip_generators:
        generator_rates(a.attempts)
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "inst.jsonl"
        per = -(-a.instances // len(FAMILIES))
        generate(list(FAMILIES), per, 2, 0, out, workers=2)
        instances = [json.loads(x) for x in out.read_text().splitlines()]
    random.Random(0).shuffle(instances)
    instances = instances[: a.instances]
    n = len(instances)
    pool = solver_pool(VerifyOptions().solve_workers)
    try:
        stages(instances[:8], 0.0, a.concurrency, pool)  # warm the pool and imports
        bt, vt, acc, train = stages(instances, 0.0, a.concurrency, pool)
        print(f"\n2. overhead, instant server, {n} instances (complexity 2), concurrency {a.concurrency}:")
        print(f"   backtranslate {1000 * bt / n:.1f} ms/instance ({acc} accepted); "
              f"verify {1000 * vt / n:.1f} ms/instance ({train} train)")
        bt, vt, acc, train = stages(instances, a.latency, a.concurrency, pool)
        ideal_bt = a.concurrency / (2 * a.latency)
        ideal_v = a.concurrency / a.latency
        print(f"\n3. throughput, every reply delayed {a.latency} s, concurrency {a.concurrency}, {n} instances:")
        print(f"   backtranslate {n / bt:.1f} instances/s of ideal {ideal_bt:.1f}: {n / bt / ideal_bt:.0%}")
        print(f"   verify        {n / vt:.1f} instances/s of ideal {ideal_v:.1f}: {n / vt / ideal_v:.0%}"
              f" ({train} of {acc} train)")
    finally:
        pool.shutdown(cancel_futures=True)


if __name__ == "__main__":
    main()

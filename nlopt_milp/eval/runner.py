"""Run the pipeline over a benchmark and log each problem as it finishes.

An evaluation is a dataset (list of `Sample`), a solver (our `Pipeline`), and a scorer
(`scoring.is_correct`). Requests run concurrently on one event loop; solves run in a
process pool so a slow solve never stalls the requests. Every finished problem is
appended to a JSONL log at once (flushed), so an interrupted run loses nothing and
`resume` skips what is already there.
"""

from __future__ import annotations

import asyncio
import json
import multiprocessing
import os
import time
from concurrent.futures import Executor, ProcessPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable

from .. import __version__
from ..formulate.llm import BackendUnavailable
from ..formulate.pipeline import Outcome, Pipeline
from ..formulate.prompts import PROMPT_VERSION
from .datasets import Sample
from .scoring import score_record


@dataclass
class EvalOptions:
    mode: str = "staged"
    samples: int = 1
    max_repairs: int = 3
    concurrency: int = 32
    seed: int | None = None
    temperature: float | None = None
    max_tokens: int | None = None
    rel_tol: float = 1e-4
    time_limit: float | None = 60.0  # per solve: an endless MILP must not hold a worker forever
    max_terms: int | None = None  # validation's and the build's size limit (None: core.size default)
    solve_workers: int = field(default_factory=lambda: max(1, min(4, os.cpu_count() or 1)))


class _Throttled:
    """At most `limit` requests in flight; solving and logging go on outside the limit."""

    def __init__(self, backend, limit: int):
        self.backend = backend
        self.gate = asyncio.Semaphore(max(1, limit))

    @property
    def model(self) -> str:
        return self.backend.model

    async def acomplete(self, req):
        async with self.gate:
            return await self.backend.acomplete(req)

    def complete(self, req):
        return self.backend.complete(req)


@dataclass(frozen=True)
class WorkerSolve:
    """The solve run in the process pool (a picklable callable)."""

    time_limit: float | None = None
    max_terms: int | None = None

    def __call__(self, f):
        from ..solve import solve
        return solve(f, time_limit=self.time_limit, iis=True, max_terms=self.max_terms)



def read_done(log: Path) -> set[str]:
    """Ids already in a log; a torn last line (a killed run) is cut off so appending stays valid."""
    if not log.exists():
        return set()
    raw = log.read_bytes()
    good_end = raw.rfind(b"\n") + 1
    done: set[str] = set()
    for line in raw[:good_end].splitlines():
        try:
            rec = json.loads(line)
        except ValueError:
            continue
        if rec.get("type") == "result":
            done.add(str(rec["id"]))
    if good_end != len(raw):
        with open(log, "r+b") as fh:
            fh.truncate(good_end)
    return done


def record(sample: Sample, outcome: Outcome | None, error: str | None, seconds: float, rel_tol: float) -> dict:
    """One log line: everything needed to score and study the problem later."""
    samples = []
    events = outcome.trace.events if outcome is not None else []
    for k, s in enumerate(outcome.samples if outcome is not None else []):
        mine = [e for e in events if e.sample == k]  # a request shared by all samples counts for sample 0
        r = s.result
        failed = r is not None and r.status not in ("optimal", "feasible", "infeasible", "unbounded")
        samples.append({
            "formulation": s.formulation.model_dump(exclude={"problem"}) if s.formulation else None,
            "raw": None if s.formulation else s.raw[:4000],
            "status": r.status if r is not None else None,
            "objective": r.objective if r is not None else None,
            "repairs": s.repairs,
            "error": "; ".join(s.errors)[:1000] if s.errors else (r.message if failed else None),
            "error_kind": s.error_kind,
            "templates": sorted({c.template for c in s.formulation.constraints}) if s.formulation else [],
            "tokens": sum(e.prompt_tokens + e.completion_tokens for e in mine),
            "seconds": round(sum(e.seconds for e in mine), 4),
        })
    rec = {
        "type": "result",
        "id": sample.id,
        "benchmark": sample.benchmark,
        "question": sample.question,
        "answer": sample.answer,
        "samples": samples,
        "chosen": outcome.chosen if outcome is not None else None,
        "agree": outcome.agree if outcome is not None else 0,
        "error": error,
        "tokens": outcome.trace.tokens if outcome is not None else 0,
        "seconds": seconds,
    }
    return score_record(rec, rel_tol=rel_tol)


async def run_eval(
    samples: list[Sample],
    backend,
    log: Path,
    options: EvalOptions,
    header: dict,
    resume: bool = False,
    on_result: Callable[[dict], None] | None = None,
    executor: Executor | None = None,
) -> list[dict]:
    """Evaluate; returns the records written in this run (earlier ones stay in the log)."""
    done = read_done(log) if resume else set()
    has_header = resume and log.exists() and log.stat().st_size > 0  # killed before its first result
    todo = [s for s in samples if s.id not in done]
    log.parent.mkdir(parents=True, exist_ok=True)
    own_pool = executor is None
    if own_pool:
        executor = ProcessPoolExecutor(options.solve_workers, mp_context=multiprocessing.get_context("spawn"))
    pipeline = Pipeline(_Throttled(backend, options.concurrency), mode=options.mode, samples=options.samples, max_repairs=options.max_repairs,
                        temperature=options.temperature, max_tokens=options.max_tokens, seed=options.seed,
                        solve=WorkerSolve(options.time_limit, options.max_terms), executor=executor,
                        max_terms=options.max_terms)
    written: list[dict] = []
    mode = "a" if resume else "w"
    with open(log, mode, encoding="utf-8") as fh:
        if not has_header:
            fh.write(json.dumps({"type": "header", **header,
                                 "prompt_version": PROMPT_VERSION, "version": __version__,
                                 "options": asdict(options), "started": time.time()}) + "\n")
            fh.flush()

        async def one(sample: Sample) -> dict:
            t0 = time.perf_counter()
            outcome, error = None, None
            try:
                outcome = await pipeline.arun(sample.question)
            except BackendUnavailable:
                raise  # no server: stop the run instead of logging every problem as failed
            except Exception as e:  # one bad problem must not end the run; the log says why
                error = f"{type(e).__name__}: {str(e)[:500]}"
            return record(sample, outcome, error, time.perf_counter() - t0, options.rel_tol)

        try:
            for fut in asyncio.as_completed([one(s) for s in todo]):
                rec = await fut
                fh.write(json.dumps(rec) + "\n")
                fh.flush()
                written.append(rec)
                if on_result is not None:
                    on_result(rec)
        finally:
            if own_pool:
                executor.shutdown(wait=False, cancel_futures=True)
    return written

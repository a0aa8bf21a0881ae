"""Run the pipeline over a benchmark and log each problem as it finishes.

An evaluation is a dataset (list of `Sample`), a solver (our `Pipeline`), and a scorer
(`scoring.is_correct`). Requests run concurrently on one event loop; solves run in a
process pool so a slow solve never stalls the requests. Every finished problem is
appended to a JSONL log at once (see `log.py`: created or resumed, locked, one whole line
per write), so an interrupted run loses nothing and `resume` skips the problems whose stable
`problem_id` is already there.
"""

from __future__ import annotations

import asyncio
import json
import os
import platform
import re
import time
from concurrent.futures import Executor
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable

from .. import __version__
from ..formulate.backends.throttle import Throttled
from ..formulate.llm import BackendUnavailable
from ..formulate.pipeline import Outcome, Pipeline
from ..formulate.prompts import PROMPT_VERSION
from ..solve.pool import solver_pool
from ..core.files import write_new_output
from .datasets import LoadedBenchmark, Sample
from .log import LOG_FORMAT, EvalLog, LogError, LogWriteError, open_log
from .scoring import PUBLISHED_TOLERANCE, score_record


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
    solver: str = "highs"
    mip_gap: float | None = None
    threads: int | None = None
    max_terms: int | None = None  # validation's and the build's size limit (None: core.size default)
    solve_workers: int = field(default_factory=lambda: max(1, min(4, os.cpu_count() or 1)))


@dataclass(frozen=True)
class WorkerSolve:
    """The solve run in the process pool (a picklable callable)."""

    time_limit: float | None = None
    solver: str = "highs"
    mip_gap: float | None = None
    threads: int | None = None
    max_terms: int | None = None

    def __call__(self, f):
        from ..solve import solve
        return solve(f, solver=self.solver, time_limit=self.time_limit, mip_gap=self.mip_gap, threads=self.threads,
                     iis=True, max_terms=self.max_terms)


def provenance(loaded: LoadedBenchmark, options: EvalOptions, *, backend: str, model: str, server: str | None,
               limit: int | None = None, ids: list[str] | None = None) -> dict:
    """The header of a log: everything needed to know what was measured and to reproduce it.

    `IDENTITY` in log.py names the fields a resumed log must agree on.
    """
    return {
        "format": LOG_FORMAT,
        "benchmark": loaded.benchmark,
        "source": loaded.source,
        "dataset_sha256": loaded.dataset_sha256,  # the benchmark's version: a hash of all its records
        "file_sha256": loaded.file_sha256,  # the file's bytes (None for the hub)
        "dataset_records": loaded.records,
        "excluded": len(loaded.excluded),
        "subset": {"limit": limit, "ids": ids, "seed": options.seed, "problems": len(loaded.samples)},
        "backend": backend,
        "model": model,
        "server": server,
        "prompt_version": PROMPT_VERSION,
        "scoring": {"rel_tol": options.rel_tol, "published_tol": PUBLISHED_TOLERANCE},
        "pipeline": {"mode": options.mode, "samples": options.samples, "max_repairs": options.max_repairs,
                     "temperature": options.temperature, "max_tokens": options.max_tokens, "seed": options.seed},
        "solve": {"solver": options.solver, "time_limit": options.time_limit, "mip_gap": options.mip_gap,
                  "threads": options.threads},
        "package": f"nlopt-milp {__version__}",
        "version": __version__,
        "python": platform.python_version(),
        "options": asdict(options),
        "started": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }


def trace_name(problem_id: str) -> str:
    """The file name of a problem's trace: its stable id, made safe for a file name."""
    return re.sub(r"[^A-Za-z0-9._-]", "_", problem_id).lstrip(".") + ".json"


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
            "solver": r.solver if r is not None else None,
            "objective": r.objective if r is not None else None,
            "repairs": s.repairs,
            "error": "; ".join(s.errors)[:1000] if s.errors else (r.message if failed else None),
            "error_kind": s.error_kind,
            "templates": sorted({c.template for c in s.formulation.constraints}) if s.formulation else [],
            "findings": [str(f) for f in s.findings][:20],  # audit, as the user reads it (the report shows them)
            "tokens": sum(e.prompt_tokens + e.completion_tokens for e in mine),
            "seconds": round(sum(e.seconds for e in mine), 4),
        })
    rec = {
        "type": "result",
        "problem_id": sample.problem_id,
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
    log: Path | EvalLog,
    options: EvalOptions,
    header: dict,
    resume: bool = False,
    on_result: Callable[[dict], None] | None = None,
    executor: Executor | None = None,
    *,
    overwrite: bool = False,
    force: bool = False,
    trace_dir: Path | None = None,
) -> list[dict]:
    """Evaluate; returns the records written in this run (earlier ones stay in the log).

    `log` is a path (opened here with `open_log`) or a log the caller opened; either way it is
    closed (and unlocked) at the end. A failed write raises `LogWriteError`.
    """
    if not isinstance(log, EvalLog):
        check_trace_dir(trace_dir, samples, resume or overwrite)
        full = {"prompt_version": PROMPT_VERSION, "version": __version__, "options": asdict(options),
                "started": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), **header}
        log = open_log(log, full, resume=resume, overwrite=overwrite, force=force)
    with log:
        todo = [s for s in samples if s.problem_id not in log.done]
        if trace_dir is not None:
            trace_dir.mkdir(parents=True, exist_ok=True)
        own_pool = executor is None
        if own_pool:
            executor = solver_pool(options.solve_workers)
        pipeline = Pipeline(Throttled(backend, options.concurrency), mode=options.mode, samples=options.samples,
                            max_repairs=options.max_repairs, temperature=options.temperature,
                            max_tokens=options.max_tokens, seed=options.seed,
                            solve=WorkerSolve(options.time_limit, options.solver, options.mip_gap, options.threads,
                                              options.max_terms),
                            executor=executor, max_terms=options.max_terms)
        written: list[dict] = []

        async def one(sample: Sample) -> tuple[dict, Outcome | None]:
            t0 = time.perf_counter()
            outcome, error = None, None
            try:
                outcome = await pipeline.arun(sample.question)
            except BackendUnavailable:
                raise  # no server: stop the run instead of logging every problem as failed
            except Exception as e:  # one bad problem must not end the run; the log says why
                error = f"{type(e).__name__}: {str(e)[:500]}"
            return record(sample, outcome, error, time.perf_counter() - t0, options.rel_tol), outcome

        try:
            for fut in asyncio.as_completed([one(s) for s in todo]):
                rec, outcome = await fut
                if trace_dir is not None:  # before the record: a problem without its trace is run again
                    _write_trace(trace_dir, rec, outcome, resume or overwrite, log)
                log.append(rec)
                written.append(rec)
                if on_result is not None:
                    on_result(rec)
        finally:
            if own_pool:
                executor.shutdown(wait=False, cancel_futures=True)
    return written


def check_trace_dir(trace_dir: Path | None, samples: list[Sample], replace: bool) -> None:
    """Refuse (LogError) to start a run whose traces would replace files not written for this log."""
    if trace_dir is None:
        return
    try:
        trace_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        reason = "is not a directory" if trace_dir.exists() else (exc.strerror or str(exc))
        raise LogError(f"--trace {trace_dir}", reason) from exc
    if replace:
        return
    taken = [s.problem_id for s in samples if (trace_dir / trace_name(s.problem_id)).exists()]
    if taken:
        raise LogError(f"--trace {trace_dir}", f"already holds traces of {len(taken)} problem(s) of this run "
                       f"(e.g. {trace_name(taken[0])}); use --resume or --overwrite, or another directory")


def _write_trace(trace_dir: Path, rec: dict, outcome: Outcome | None, replace: bool, log: EvalLog) -> None:
    trace = outcome.trace.to_json() if outcome is not None else {"events": []}
    data = {"problem_id": rec["problem_id"], "id": rec["id"], "benchmark": rec["benchmark"],
            "error": rec.get("error"), **trace}
    path = trace_dir / trace_name(rec["problem_id"])
    try:
        write_new_output(path, json.dumps(data, indent=1, ensure_ascii=False), overwrite=replace,
                         hint="--resume or --overwrite")
    except OSError as exc:
        raise LogWriteError(path, exc, log.written) from exc

"""Stage 3: forward modeling and rejection sampling.

Our `Pipeline` formulates each accepted text again (`samples` drafts, repairs, guided
decoding as configured), solves the drafts and compares each with the instance's
optimum: a sample matches when its status equals the instance's and
|objective - optimum| / (|optimum| + 1) < tolerance. No rounding, no flipping of senses
or domains. Texts that share a 13-gram with a benchmark problem are dropped first.
"""

from __future__ import annotations

import os
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from .jsonl import SynthError, open_output

TOLERANCE = 1e-6


@dataclass(frozen=True)
class SynthSolve:
    """The solve run in the process pool (picklable)."""

    time_limit: float | None = 60.0

    def __call__(self, f):
        from ...solve import solve
        return solve(f, time_limit=self.time_limit, iis=True)


@dataclass
class VerifyOptions:
    mode: str = "staged"
    samples: int = 1
    max_repairs: int = 3
    concurrency: int = 64
    tolerance: float = TOLERANCE
    time_limit: float = 60.0
    temperature: float | None = None
    max_tokens: int | None = None
    seed: int | None = None
    solve_workers: int = field(default_factory=lambda: max(1, min(4, os.cpu_count() or 1)))


def matches(status: str | None, objective: float | None, gold_status: str, gold_objective: float | None,
            tol: float) -> bool:
    if status != gold_status:
        return False
    if gold_objective is None or objective is None:
        return gold_objective is None and objective is None
    return abs(objective - gold_objective) / (abs(gold_objective) + 1.0) < tol


def eligible(records: list[dict], source: str) -> tuple[list[dict], int]:
    """Records with a text to verify, and how many were rejected upstream (accepted: false)."""
    out, rejected = [], 0
    for k, r in enumerate(records, 1):
        if r.get("accepted") is False:
            rejected += 1
            continue
        missing = [f for f in ("id", "text", "objective", "status") if f not in r]
        if missing:
            raise SynthError(f"{source}: record {k} has no {missing[0]!r}; verify needs id, text, objective, status")
        if not isinstance(r["text"], str) or not r["text"].strip():
            raise SynthError(f"{source}: record {k} ({r['id']}): text is empty")
        out.append(r)
    ids = Counter(str(r["id"]) for r in out)
    dup = next((i for i, c in ids.items() if c > 1), None)
    if dup is not None:
        raise SynthError(f"{source}: id {dup!r} occurs {ids[dup]} times")
    return out, rejected


class Verifier:
    def __init__(self, backend, options: VerifyOptions, executor=None, index=None):
        from ...formulate.pipeline import Pipeline

        self.o = options
        self.index = index
        self.pipeline = Pipeline(backend, mode=options.mode, samples=options.samples,
                                 max_repairs=options.max_repairs, temperature=options.temperature,
                                 max_tokens=options.max_tokens, seed=options.seed,
                                 solve=SynthSolve(options.time_limit), executor=executor)

    async def verify(self, rec: dict) -> tuple[dict | None, str | None]:
        from ...formulate.llm import BackendUnavailable

        base = {k: v for k, v in rec.items() if k not in ("samples", "split", "matched", "contaminated")}
        if self.index is not None:
            hit = self.index.overlap(rec["text"])
            if hit is not None:
                return {**base, "split": "contaminated", "contaminated": hit, "samples": [], "matched": 0}, None
        t0 = time.perf_counter()
        try:
            outcome = await self.pipeline.arun(rec["text"])
        except BackendUnavailable:
            raise
        except Exception as e:  # one failing text must not end the run; not written, so --resume retries it
            return None, f"{rec['id']}: {type(e).__name__}: {str(e)[:300]}"
        samples = []
        for s in outcome.samples:
            r = s.result
            status = r.status if r is not None else None
            obj = r.objective if r is not None else None
            ok = r is not None and matches(status, obj, rec["status"], rec.get("objective"), self.o.tolerance)
            if ok:
                verdict = "match"
            elif s.formulation is None:
                verdict = s.error_kind or "no_formulation"
            elif status == rec["status"]:
                verdict = "wrong_objective"
            else:
                verdict = f"status_{status}"
            samples.append({
                "formulation": s.formulation.model_dump(mode="json", exclude={"problem"}) if s.formulation else None,
                "status": status, "objective": obj, "verdict": verdict, "match": ok, "repairs": s.repairs,
            })
        matched = sum(x["match"] for x in samples)
        return {**base, "samples": samples, "matched": matched, "split": "train" if matched else "hard",
                "contaminated": None, "verify_tokens": outcome.trace.tokens,
                "verify_seconds": round(time.perf_counter() - t0, 4)}, None


@dataclass
class VerifyRun:
    written: int = 0
    errors: list = field(default_factory=list)
    seconds: float = 0.0


async def verify(records: list[dict], backend, log: Path, options: VerifyOptions, resume: bool = False,
                 index=None, on_record: Callable[[dict], None] | None = None, executor=None) -> VerifyRun:
    """Verify every record not yet in `log`; append each result as it finishes.

    At most `options.concurrency` requests are in flight; the texts in progress (at most `backlog(concurrency)`)
    are checked and solved outside that limit."""
    from ...formulate.backends.throttle import Throttled, backlog, bounded
    from ...solve.pool import solver_pool

    t0 = time.perf_counter()
    writer, done = open_output(log, resume)
    finished = {str(r.get("id")) for r in done}
    todo = [r for r in records if str(r["id"]) not in finished]
    own = executor is None
    if own:
        executor = solver_pool(options.solve_workers)
    run = VerifyRun()
    try:
        v = Verifier(Throttled(backend, options.concurrency), options, executor, index)
        async for rec, error in bounded(todo, v.verify, backlog(options.concurrency)):
            if rec is None:
                run.errors.append(error)
                continue
            writer.write(rec)
            run.written += 1
            if on_record is not None:
                on_record(rec)
    finally:
        writer.close()
        if own:
            executor.shutdown(wait=False, cancel_futures=True)
    run.seconds = time.perf_counter() - t0
    return run


def summarize(log_records: list[dict], wanted: set[str] | None = None, rejected_upstream: int = 0) -> dict:
    recs = [r for r in log_records if wanted is None or str(r.get("id")) in wanted]
    splits = Counter(r.get("split") for r in recs)
    dropped = Counter()
    if splits.get("contaminated"):
        dropped["contaminated"] = splits["contaminated"]
    if rejected_upstream:
        dropped["backtranslation_rejected"] = rejected_upstream
    pairs = sum(_pair_count(r) for r in recs)
    return {"stage": "verify", "n": len(recs), "accepted": splits.get("train", 0), "hard": splits.get("hard", 0),
            "rejected": len(recs) - splits.get("train", 0), "preference": pairs,
            "dropped": dict(sorted(dropped.items())),
            "tokens": sum(int(r.get("verify_tokens") or 0) for r in recs)}


MAX_PAIRS_PER_TEXT = 4


def preference_pairs(rec: dict) -> list[tuple[int, int]]:
    """(matching sample, non-matching sample with a formulation) index pairs, at most MAX_PAIRS_PER_TEXT."""
    samples = rec.get("samples") or []
    good = [k for k, s in enumerate(samples) if s.get("match")]
    bad = [k for k, s in enumerate(samples) if not s.get("match") and s.get("formulation")]
    return [(g, b) for g in good for b in bad][:MAX_PAIRS_PER_TEXT]


def _pair_count(rec: dict) -> int:
    return len(preference_pairs(rec)) if rec.get("split") == "train" else 0

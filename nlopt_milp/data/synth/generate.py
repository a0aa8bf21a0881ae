"""Stage 1: instances from the generator families, solved and labelled (no LLM).

Instance k of a family gets its own seed, derived from the run seed, the family name,
the complexity and k (a hash, never a global random state), so the output is the same
bytes whatever the number of worker processes. Instances are kept when HiGHS proves
them optimal within the time limit, when they are not trivial (zero objective or no
constraint that changes the optimum), not too large and not a duplicate (same canonical flat model);
everything dropped is counted with its reason.
"""

from __future__ import annotations

import hashlib
import json
import multiprocessing
import random
import time
from collections import Counter
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from .jsonl import SynthError, open_output
from .score import band, measure

TIME_LIMIT = 5.0  # seconds per solve
MAX_VARIABLES = 200
MAX_ROWS = 400
ATTEMPTS_PER_INSTANCE = 20  # a family that drops more than this per kept instance is given up
BINDING_TOL = 1e-6


def instance_seed(run_seed: int, family: str, complexity: int, k: int) -> int:
    """A 63-bit seed for instance k, independent of process, order and Python's hash salt."""
    digest = hashlib.sha256(f"nlopt-synth/{run_seed}/{family}/{complexity}/{k}".encode()).digest()
    return int.from_bytes(digest[:8], "big") >> 1


def canonical_hash(lm) -> str:
    """Identity of a flat model up to names: sense, columns, objective, rows (sorted)."""
    def num(x: float) -> str:
        return repr(round(float(x), 9))

    cols = [(c.domain, num(c.lower), num(c.upper)) for c in lm.columns]
    obj = sorted((j, num(v)) for j, v in lm.objective.items())
    rows = sorted((r.sense, num(r.rhs), tuple(sorted((j, num(v)) for j, v in r.coefs.items()))) for r in lm.rows)
    blob = json.dumps([lm.sense, cols, obj, num(lm.objective_constant), rows])
    return hashlib.sha256(blob.encode()).hexdigest()[:32]


def _constraints_matter(lm, objective: float) -> bool:
    """False when the optimum is the same without any constraint row (only variable bounds): trivial.

    Without rows the problem separates: each variable sits at the bound its objective coefficient
    favours (integer columns have integral bounds), so no solve is needed.
    """
    import numpy as np

    c = lm.cost
    used = c != 0
    up = (c > 0) == (lm.sense == "maximize")
    bound = np.where(up, lm.col_upper, lm.col_lower)[used]
    if not np.isfinite(bound).all():
        return True  # unbounded without the rows: they matter
    best = lm.objective_constant + float(c[used] @ bound)
    return abs(best - objective) > BINDING_TOL * (1.0 + abs(objective))


@dataclass(frozen=True)
class Attempt:
    family: str
    complexity: int
    run_seed: int
    k: int
    time_limit: float = TIME_LIMIT
    max_variables: int = MAX_VARIABLES
    max_rows: int = MAX_ROWS


@dataclass
class Made:
    attempt: Attempt
    record: dict | None = None  # kept (before the duplicate check)
    drop: str | None = None  # reason
    seconds: float = 0.0


def make_instance(a: Attempt) -> Made:
    """Generate, measure and solve one instance (runs in a worker process)."""
    from ...core.templates import linearize
    from ...solve import solve_linear
    from ...solve.iis import origin_names
    from ...solve.linear_model import to_linear_model
    from ..generators import FAMILIES

    t0 = time.perf_counter()
    seed = instance_seed(a.run_seed, a.family, a.complexity, a.k)
    f = FAMILIES[a.family].make(random.Random(seed), a.complexity)
    lf = linearize(f)
    lm = to_linear_model(lf, linearized=True)
    origins = origin_names(f, lf)
    size = measure(f, lf, lm, origins)
    made = Made(a)
    if size.variables > a.max_variables or size.rows > a.max_rows:
        made.drop = "too_large"
    else:
        res = solve_linear(lm, "highs", time_limit=a.time_limit, iis=False, origins=origins)
        if res.status != "optimal":
            made.drop = f"not_optimal:{res.status}"
        elif abs(res.objective) <= 1e-9:
            made.drop = "trivial:zero_objective"
        elif not _constraints_matter(lm, res.objective):
            made.drop = "trivial:no_binding_constraint"
        else:
            score = size.score
            made.record = {
                "id": f"{a.family}-c{a.complexity}-s{a.run_seed}-{a.k}",
                "family": a.family,
                "complexity": a.complexity,
                "score": score,
                "band": band(score),
                "seed": seed,
                "run_seed": a.run_seed,
                "attempt": a.k,
                "formulation": f.model_dump(mode="json", exclude={"problem"}),
                "objective": res.objective,
                "status": res.status,
                "templates": sorted({c.template for c in f.constraints}),
                "size": size.to_json(),
                "canonical": canonical_hash(lm),
            }
    made.seconds = time.perf_counter() - t0
    return made


@dataclass
class GenerateSummary:
    n: int = 0  # kept in this run
    already: int = 0  # kept in an earlier run (resume)
    attempts: int = 0
    dropped: Counter = field(default_factory=Counter)
    seconds: float = 0.0
    by_family: dict = field(default_factory=dict)  # family -> kept
    short: list = field(default_factory=list)  # families that gave fewer than asked

    def to_json(self) -> dict:
        return {"stage": "generate", "n": self.n, "already": self.already, "attempts": self.attempts,
                "accepted": self.n, "rejected": sum(self.dropped.values()), "dropped": dict(sorted(self.dropped.items())),
                "by_family": self.by_family, "short": self.short, "seconds": round(self.seconds, 3)}


def generate(families: list[str], n: int, complexity: int, seed: int, out: Path, workers: int = 1,
             resume: bool = False, time_limit: float = TIME_LIMIT, max_variables: int = MAX_VARIABLES,
             max_rows: int = MAX_ROWS, on_record: Callable[[dict | None, str | None], None] | None = None
             ) -> GenerateSummary:
    """Write n kept instances per family to `out` (JSONL, appended; same seed, same bytes)."""
    from ..generators import FAMILIES, MAX_COMPLEXITY, MIN_COMPLEXITY

    unknown = [f for f in families if f not in FAMILIES]
    if unknown:
        raise SynthError(f"unknown family {unknown[0]!r}; `nlopt synth families` lists them")
    if not MIN_COMPLEXITY <= complexity <= MAX_COMPLEXITY:
        raise SynthError(f"complexity must be {MIN_COMPLEXITY}..{MAX_COMPLEXITY}, not {complexity}")
    if n < 1:
        raise SynthError("n must be at least 1")
    summary = GenerateSummary()
    t0 = time.perf_counter()
    writer, done = open_output(out, resume)
    pool = None
    try:
        if workers > 1:
            pool = ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn"))
        seen = {r.get("canonical") for r in done}
        for fam in families:
            mine = [r for r in done if r.get("family") == fam and r.get("complexity") == complexity
                    and r.get("run_seed") == seed]
            kept = len(mine)
            summary.already += kept
            k = max((int(r.get("attempt", -1)) for r in mine), default=-1) + 1
            limit = k + ATTEMPTS_PER_INSTANCE * max(0, n - kept) + 10
            while kept < n and k < limit:
                batch = [Attempt(fam, complexity, seed, j, time_limit, max_variables, max_rows)
                         for j in range(k, min(limit, k + max(2 * (n - kept), 4 * workers)))]
                results = pool.map(make_instance, batch) if pool else map(make_instance, batch)
                for made in results:
                    if kept >= n:
                        break  # results past the n-th kept instance are discarded: same output any batch size
                    k = made.attempt.k + 1
                    summary.attempts += 1
                    rec, drop = made.record, made.drop
                    if rec is not None and rec["canonical"] in seen:
                        rec, drop = None, "duplicate"
                    if rec is None:
                        summary.dropped[drop] += 1
                    else:
                        seen.add(rec["canonical"])
                        writer.write(rec)
                        kept += 1
                        summary.n += 1
                    if on_record is not None:
                        on_record(rec, drop)
            summary.by_family[fam] = kept
            if kept < n:
                summary.short.append(fam)
    finally:
        if pool is not None:
            pool.shutdown(wait=False, cancel_futures=True)
        writer.close()
    summary.seconds = time.perf_counter() - t0
    return summary

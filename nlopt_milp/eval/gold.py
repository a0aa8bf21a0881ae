"""Score formulations made elsewhere (e.g. the NL4Opt gold import) against a benchmark's answers.

Formulations are matched to benchmark problems on their problem text (whitespace and case
folded), validated and solved, and logged with the runner's own `record()` as a one-sample
outcome with no repairs: the log is the same as `nlopt eval run` writes, so `nlopt eval report`
reads it, and the numbers measure the solve path alone, with no LLM.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable

from ..formulate.pipeline import SOLVED, Outcome, SampleOutcome, Trace
from .datasets import LoadedBenchmark
from .runner import record
from .scoring import summarize


@dataclass
class GoldRun:
    records: list[dict] = field(default_factory=list)  # scored log records, in input order
    unmatched: int = 0  # formulations whose problem text is not in the benchmark
    errors: list[tuple[str, str]] = field(default_factory=list)  # (source, message) of lines that do not load

    def summary(self):
        return summarize(self.records)


def norm(text: str) -> str:
    """Problem text as matched: whitespace collapsed, lower case."""
    return " ".join(text.split()).lower()


def gold_records(lines: Iterable[str], loaded: LoadedBenchmark, *, solver: str = "highs",
                 source: str = "formulations", rel_tol: float = 1e-4, max_terms: int | None = None) -> GoldRun:
    """Match, validate, solve and score formulation JSON lines (a formulation object, or an
    object with a `formulation` field such as `nlopt data import-nl4opt` writes).

    `source` names the input in error messages (`source:line`). Lines that are not a
    formulation at all are reported in `errors` and skipped; a formulation that loads but
    fails validation is scored (as a validation error).
    """
    from ..core.validate import FormulationError, check, load
    from ..solve import solve

    by_text = {}
    for s in loaded.samples:
        by_text.setdefault(norm(s.question), s)
    run = GoldRun()
    for k, line in enumerate(lines, 1):
        if not line.strip():
            continue
        where = f"{source}:{k}"
        try:
            obj = json.loads(line)
            f = load(obj.get("formulation", obj) if isinstance(obj, dict) else obj, where)
        except (ValueError, FormulationError) as e:
            run.errors.append((where, str(e).splitlines()[0]))
            continue
        sample = by_text.get(norm(f.problem))
        if sample is None:
            run.unmatched += 1
            continue
        issues = check(f, max_terms)
        if issues:
            one = SampleOutcome(errors=[str(issues[0])], error_kind="validation_error", raw=line)
        else:
            r = solve(f, solver=solver, max_terms=max_terms)
            failed = r.status not in SOLVED
            one = SampleOutcome(formulation=f, result=r, errors=[r.message] if failed and r.message else [],
                                error_kind=r.status if r.status in ("error", "time_limit") else None)
        outcome = Outcome([one], chosen=0, agree=int(one.solved), trace=Trace(model=source, mode="gold"))
        run.records.append(record(sample, outcome, None, 0.0, rel_tol))
    return run


def write_log(path: str | Path, run: GoldRun, benchmark: str, model: str, overwrite: bool = False) -> None:
    """A log `nlopt eval report` reads: a header line (`backend: gold`), then the records.

    Written whole or not at all; an existing file is kept unless `overwrite` (`core.files`).
    """
    from ..core.files import open_new_output

    with open_new_output(path, overwrite) as fh:
        fh.write(json.dumps({"type": "header", "benchmark": benchmark, "backend": "gold", "model": model}) + "\n")
        for r in run.records:
            fh.write(json.dumps(r) + "\n")

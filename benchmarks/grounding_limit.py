"""Time and memory of validating and building a model near the `--max-terms` limit.

An n x n assignment model (one bounded variable per pair, a cost per pair, one row per i
and per j) counts about 5 n^2 terms (`core.size.model_terms`: columns, objective and row
leaves). For each n the script prints that count, the time of the count itself, of `check`
and of `to_linear_model` (linearize + ground), and the peak RSS of the process so far.

    python benchmarks/grounding_limit.py [--sizes 300,640]
"""

from __future__ import annotations

import argparse
import resource
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from nlopt_milp.core.size import model_terms  # noqa: E402
from nlopt_milp.core.validate import check, load  # noqa: E402
from nlopt_milp.solve.linear_model import to_linear_model  # noqa: E402


def assignment(n: int) -> dict:
    elems = [f"e{k}" for k in range(n)]
    return {
        "version": "1",
        "sets": [{"name": "I", "elements": elems}, {"name": "J", "elements": elems}],
        "parameters": [{"name": "c", "index": ["I", "J"],
                        "value": [[(a * 7 + b * 3) % 10 + 1 for b in range(n)] for a in range(n)]}],
        "variables": [{"name": "x", "index": ["I", "J"], "upper": 1}],
        "objective": {"sense": "minimize", "expr": "sum(c[i, j] * x[i, j] for i in I for j in J)"},
        "constraints": [
            {"name": "row", "template": "general", "forall": [{"index": "i", "set": "I"}],
             "slots": {"expr": "sum(x[i, j] for j in J) == 1"}},
            {"name": "col", "template": "general", "forall": [{"index": "j", "set": "J"}],
             "slots": {"expr": "sum(x[i, j] for i in I) == 1"}},
        ],
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", default="300,640")
    args = ap.parse_args()
    print(f"{'n':>5} {'terms':>10} {'count s':>8} {'check s':>8} {'build s':>8} {'peak RSS MB':>12}")
    for n in (int(s) for s in args.sizes.split(",")):
        f = load(assignment(n))
        t = time.perf_counter()
        terms = sum(p.terms for p in model_terms(f))
        t_count = time.perf_counter() - t
        t = time.perf_counter()
        issues = check(f, max_terms=10**12)
        t_check = time.perf_counter() - t
        assert not issues, issues
        t = time.perf_counter()
        to_linear_model(f)
        t_build = time.perf_counter() - t
        rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024
        print(f"{n:>5} {terms:>10,} {t_count:>8.4f} {t_check:>8.2f} {t_build:>8.2f} {rss:>12}")


if __name__ == "__main__":
    main()

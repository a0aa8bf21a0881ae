"""Scoring for ``nlopt eval``: the *scorer* part of dataset + solver + scorer + log.

The runner writes one :class:`ProblemRecord` per benchmark problem into a JSON Lines log
(first line ``{"type": "header", ...}`` with model / backend / options, then records with
``"type": "result"``). This module turns such records into metrics.

Record schema (what the runner writes; every key of a sample may be missing or null)::

    {"type": "result",
     "id": "17", "benchmark": "nl4opt", "question": "...",
     "answer": 1160.0 | "infeasible" | null,          # normalised ground truth
     "samples": [                                       # one per independent attempt (k >= 1)
        {"formulation": {...} | null,                   # the final Formulation as JSON
         "status": "optimal" | "feasible" | "infeasible" | "unbounded"
                   | "infeasible_or_unbounded" | "time_limit" | "error" | null,
         "objective": 1160.0 | null,
         "repairs": 0,                                  # repair rounds used
         "error": "text" | null,
         "error_kind": null | "no_output" | "validation_error" | "nonlinear"
                       | "time_limit" | "error" | ...,  # see failure_kind()
         "templates": ["upper_bound", ...],             # optional, used without formulation
         "tokens": 1234, "seconds": 3.2}, ...],
     "chosen": 0 | null,         # index of the majority sample (None: recomputed)
     "correct": true,            # chosen sample correct at rel 1e-4 / abs 1e-6
     "correct_5pct": true,       # chosen sample correct under the published convention
     "tokens": 3702, "seconds": 9.6}   # optional problem totals (else summed over samples)

``error_kind`` values that merely name the verdict (``infeasible``, ``unbounded`` — the
pipeline sets them to drive repairs) are not failures: see :func:`failure_kind`.

:func:`score_record` fills ``chosen``, ``correct`` and ``correct_5pct`` from the samples;
:func:`summarize` recomputes them, so a log stays comparable when the tolerance changes.

Metrics (all fractions in 0..1, over problems):

* **SA** (solving accuracy): the chosen sample is correct (:func:`is_correct`, relative
  1e-4, absolute 1e-6 near zero). With one sample per problem SA = pass@1; with k samples
  it is majority voting over them (= maj@k).
* **SA 5%** (``sa_5pct``): the same under the published convention (:func:`is_correct_published`,
  ORLM's ``eval/execute.py``: both values rounded to integers, relative error <= 5 %, absolute
  <= 0.05 when the ground truth is 0). Always reported so numbers line up with the papers.
* **ER** (execution rate): the chosen sample produced a formulation that validated, was built
  and the solver returned a verdict without error — status in ``optimal``, ``feasible``,
  ``infeasible``, ``unbounded``, ``infeasible_or_unbounded`` and no ``error_kind``. A time
  limit without a solution is not a verdict.
* **AST**: mean number of repair rounds of the chosen sample (LLMOPT's "average solving times").
* **pass@k**: unbiased estimator of Chen et al. 2021 (Codex), ``1 - C(n-c, k) / C(n, k)`` for n
  samples of which c are correct, for k <= n.
* **maj@k** (k > 1): majority vote over the first k samples is correct.
* mean tokens and seconds per problem (sums over the problem's samples).

Ground truth :data:`~nlopt_milp.eval.datasets.INFEASIBLE` ("no optimal solution") matches an
infeasible, unbounded or infeasible-or-unbounded verdict: that is what ORLM's "No Best
Solution" ground truth means (its generated code prints it whenever COPT does not report
OPTIMAL).
"""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass, field
from typing import Any, Iterable, Literal, Mapping, Sequence, TypedDict, Union

from nlopt_milp.eval.datasets import INFEASIBLE
from nlopt_milp.formulate.voting import majority, verdict

SOLVED_STATUSES = frozenset({"optimal", "feasible"})
NO_SOLUTION_STATUSES = frozenset({"infeasible", "unbounded", "infeasible_or_unbounded"})
VERDICT_STATUSES = SOLVED_STATUSES | NO_SOLUTION_STATUSES

ERROR_KINDS = (
    "no_output",  # no reply / no JSON in it          -> taxonomy no_output
    "invalid_json",  # JSON that does not parse        -> no_output
    "llm",  # the request failed                       -> no_output
    "validation_error",  # formulation failed validation (also "validation", "grounding")
    "nonlinear",  # a nonlinear term survived           -> nonlinear
    "time_limit",  # solver stopped without verdict (also "timeout") -> time_limit
    "error",  # solver / build failure (also "solver", "internal") -> solver_error
)
"""Failure kinds understood in ``error_kind``; anything else unknown counts as solver_error."""

TAXONOMY = (
    "correct",
    "wrong_objective",
    "infeasible",
    "unbounded",
    "time_limit",
    "nonlinear",
    "validation_error",
    "no_output",
    "solver_error",
)
"""Failure classes, one per problem (of its chosen sample), in display order.

``correct``; ``wrong_objective`` (solved, objective outside tolerance — also a value where the
ground truth says no solution exists); ``infeasible`` / ``unbounded`` (the formulation has no
optimal solution but the problem has one); ``time_limit`` (solver stopped without a verdict);
``nonlinear`` (a product of variables or other nonlinear term survived linearisation);
``validation_error`` (the formulation failed validation or grounding, after any repairs);
``no_output`` (no formulation: no reply, no JSON or invalid JSON); ``solver_error`` (the
solver or the model build failed, or anything else).
"""

PUBLISHED_TOLERANCE = 0.05


class SampleRecord(TypedDict, total=False):
    formulation: dict | None
    status: str | None
    objective: float | None
    repairs: int
    error: str | None
    error_kind: str | None
    tokens: int | None
    seconds: float | None


class ProblemRecord(TypedDict, total=False):
    type: Literal["result"]
    id: str
    benchmark: str
    question: str
    answer: Union[float, str, None]
    samples: list[SampleRecord]
    chosen: int | None
    correct: bool
    correct_5pct: bool


# --- correctness ------------------------------------------------------------------------------


def _as_float(value: Any) -> float | None:
    if value is None or isinstance(value, bool):
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


def _is_no_solution_answer(answer: Any) -> bool:
    return isinstance(answer, str) and answer.strip().lower() == INFEASIBLE


def _comparable(predicted_status, predicted_objective, answer) -> bool | tuple[float, float]:
    """The verdict when it is decided without comparing numbers, else (predicted, truth)."""
    if answer is None:
        return False
    status = (predicted_status or "").lower()
    if _is_no_solution_answer(answer):
        return status in NO_SOLUTION_STATUSES
    truth = _as_float(answer)
    value = _as_float(predicted_objective)
    if truth is None or value is None or status in NO_SOLUTION_STATUSES or status == "error":
        return False
    return value, truth


def is_correct(
    predicted_status: str | None,
    predicted_objective: float | None,
    answer: Any,
    rel_tol: float = 1e-4,
    abs_tol: float = 1e-6,
) -> bool:
    """Whether a solve result matches the ground truth.

    A numeric ground truth ``a`` is matched by a finite objective ``p`` from a solve that did
    not end infeasible / unbounded / in error, with ``|p - a| <= max(rel_tol * |a|, abs_tol)``.
    Ground truth ``"infeasible"`` (no optimal solution) is matched by an infeasible, unbounded
    or infeasible-or-unbounded verdict. ``answer=None`` (unknown) never matches.
    """
    pair = _comparable(predicted_status, predicted_objective, answer)
    if isinstance(pair, bool):
        return pair
    value, truth = pair
    return abs(value - truth) <= max(rel_tol * abs(truth), abs_tol)


def is_correct_published(
    predicted_status: str | None,
    predicted_objective: float | None,
    answer: Any,
    tolerance: float = PUBLISHED_TOLERANCE,
) -> bool:
    """The published convention (ORLM ``eval/execute.py``, default ``--numerical_err_tolerance 0.05``).

    Both values are rounded to the nearest integer; then ``|p - a| / |a| <= 5 %``, or
    ``|p| <= 0.05`` when the (rounded) ground truth is 0. "No solution" matches a no-solution
    verdict, as above.
    """
    pair = _comparable(predicted_status, predicted_objective, answer)
    if isinstance(pair, bool):
        return pair
    value, truth = pair
    truth_r, value_r = round(truth), round(value)
    if truth_r == 0:
        return abs(value_r) <= tolerance
    return abs((value_r - truth_r) / truth_r) <= tolerance


def failure_kind(sample: Mapping[str, Any] | None) -> str | None:
    """The sample's ``error_kind`` when it is a failure; None when there is none or when it only
    names the verdict (``infeasible``, ``unbounded``, ``optimal`` ...)."""
    if not sample:
        return None
    kind = str(sample.get("error_kind") or "").strip().lower()
    if not kind or kind in VERDICT_STATUSES:
        return None
    return kind


def sample_correct(sample: Mapping[str, Any] | None, answer: Any, rel_tol: float = 1e-4, abs_tol: float = 1e-6) -> bool:
    """:func:`is_correct` of a sample record that did not fail."""
    if not sample or failure_kind(sample):
        return False
    return is_correct(sample.get("status"), sample.get("objective"), answer, rel_tol, abs_tol)


def executed(sample: Mapping[str, Any] | None) -> bool:
    """ER criterion: a formulation was produced, validated, built and the solver gave a verdict."""
    if not sample or failure_kind(sample):
        return False
    return (sample.get("status") or "").lower() in VERDICT_STATUSES


def classify(sample: Mapping[str, Any] | None, answer: Any, rel_tol: float = 1e-4, abs_tol: float = 1e-6) -> str:
    """The :data:`TAXONOMY` class of one sample."""
    if not sample:
        return "no_output"
    status = (sample.get("status") or "").lower()
    kind = failure_kind(sample) or ""
    if not kind and is_correct(status, sample.get("objective"), answer, rel_tol, abs_tol):
        return "correct"
    if kind in ("no_output", "invalid_json", "llm"):
        return "no_output"
    if kind in ("validation_error", "validation", "grounding"):
        return "validation_error"
    if kind == "nonlinear":
        return "nonlinear"
    if kind in ("time_limit", "timeout") or status == "time_limit":
        return "time_limit"
    if kind:
        return "solver_error"
    if status in ("infeasible", "infeasible_or_unbounded"):
        return "infeasible"
    if status == "unbounded":
        return "unbounded"
    if status in SOLVED_STATUSES:
        return "wrong_objective"
    if sample.get("formulation") is None:
        return "no_output"
    return "solver_error"


# --- majority voting --------------------------------------------------------------------------


def _vote_key(sample: Mapping[str, Any]) -> tuple | None:
    if not sample or failure_kind(sample):
        return None
    return verdict(sample.get("status"), _as_float(sample.get("objective")))


def choose_majority(samples: Sequence[Mapping[str, Any]], rel_tol: float = 1e-4, abs_tol: float = 1e-6) -> int | None:
    """Index of the sample that represents the majority verdict (the pipeline's rule:
    :func:`nlopt_milp.formulate.voting.majority`). Without any vote the first sample is
    returned (``None`` for no samples).
    """
    if not samples:
        return None
    index, _ = majority([_vote_key(s) for s in samples], rel_tol=rel_tol, abs_tol=abs_tol)
    return 0 if index is None else index


def pass_at_k(n: int, c: int, k: int) -> float:
    """Unbiased pass@k estimator (Chen et al. 2021): ``1 - C(n-c, k) / C(n, k)``, numerically stable."""
    if k <= 0 or n <= 0 or k > n:
        raise ValueError(f"pass@k needs 0 < k <= n (n={n}, k={k})")
    if n - c < k:
        return 1.0
    product = 1.0
    for i in range(n - c + 1, n + 1):
        product *= 1.0 - k / i
    return 1.0 - product


def _chosen_index(record: Mapping[str, Any], samples: Sequence[Mapping[str, Any]], rel_tol: float, abs_tol: float) -> int | None:
    chosen = record.get("chosen")
    if isinstance(chosen, int) and not isinstance(chosen, bool) and 0 <= chosen < len(samples):
        return chosen  # the pipeline's own vote
    return choose_majority(samples, rel_tol, abs_tol)


def score_record(record: Mapping[str, Any], rel_tol: float = 1e-4, abs_tol: float = 1e-6) -> dict:
    """A copy of ``record`` with ``chosen``, ``correct`` and ``correct_5pct`` filled from its samples.

    A valid ``chosen`` index in the record is kept (it is what the pipeline answered); a
    missing or null one is recomputed with :func:`choose_majority`.
    """
    out = dict(record)
    samples = list(record.get("samples") or [])
    chosen = _chosen_index(record, samples, rel_tol, abs_tol)
    out["chosen"] = chosen
    sample = samples[chosen] if chosen is not None else None
    answer = record.get("answer")
    out["correct"] = sample_correct(sample, answer, rel_tol, abs_tol)
    out["correct_5pct"] = bool(sample) and not failure_kind(sample) and is_correct_published(
        sample.get("status"), sample.get("objective"), answer
    )
    return out


# --- summaries --------------------------------------------------------------------------------


@dataclass
class TemplateStats:
    """How often a constraint template occurs in formulations that passed vs failed."""

    problems_passed: int = 0  # correct formulations containing the template
    problems_failed: int = 0  # wrong formulations containing it
    uses_passed: int = 0  # constraints of this template in correct formulations
    uses_failed: int = 0

    @property
    def failure_rate(self) -> float:
        total = self.problems_passed + self.problems_failed
        return self.problems_failed / total if total else 0.0

    def to_json(self) -> dict:
        return {
            "problems_passed": self.problems_passed,
            "problems_failed": self.problems_failed,
            "uses_passed": self.uses_passed,
            "uses_failed": self.uses_failed,
            "failure_rate": self.failure_rate,
        }


@dataclass
class Summary:
    """Metrics over a set of problem records (see the module docstring for definitions)."""

    n: int = 0
    sa: float = 0.0
    sa_5pct: float = 0.0
    er: float = 0.0
    ast: float = 0.0
    pass_at_k: dict[int, float] = field(default_factory=dict)
    maj_at_k: dict[int, float] = field(default_factory=dict)
    taxonomy: dict[str, int] = field(default_factory=dict)
    templates: dict[str, TemplateStats] = field(default_factory=dict)
    mean_tokens: float | None = None
    mean_seconds: float | None = None
    samples_per_problem: int = 0
    n_unscored: int = 0
    correct_ids: frozenset[str] = frozenset()
    by_benchmark: dict[str, "Summary"] = field(default_factory=dict)

    def to_json(self, per_benchmark: bool = True) -> dict:
        """A JSON-ready dict: ``n``, ``sa``, ``er``, ``ast``, ``sa_5pct``, ``pass_at_k``,
        ``maj_at_k``, ``taxonomy``, ``templates`` ... and ``by_benchmark`` (same keys)."""
        out: dict[str, Any] = {
            "n": self.n,
            "sa": self.sa,
            "sa_5pct": self.sa_5pct,
            "er": self.er,
            "ast": self.ast,
            "pass_at_k": {str(k): v for k, v in sorted(self.pass_at_k.items())},
            "maj_at_k": {str(k): v for k, v in sorted(self.maj_at_k.items())},
            "taxonomy": {k: self.taxonomy.get(k, 0) for k in TAXONOMY},
            "templates": {name: stats.to_json() for name, stats in sorted(self.templates.items())},
            "mean_tokens": self.mean_tokens,
            "mean_seconds": self.mean_seconds,
            "samples_per_problem": self.samples_per_problem,
            "n_unscored": self.n_unscored,
        }
        if per_benchmark and self.by_benchmark:
            out["by_benchmark"] = {name: s.to_json(per_benchmark=False) for name, s in sorted(self.by_benchmark.items())}
        return out


def constraint_templates(formulation: Mapping[str, Any] | None, fallback: Iterable[str] = ()) -> Counter:
    """Constraint template names of a formulation (as JSON) with their counts; without a
    formulation, each name of ``fallback`` (e.g. a sample's ``templates`` list) once."""
    counts: Counter = Counter()
    if not isinstance(formulation, Mapping):
        counts.update(str(t) for t in fallback or ())
        return counts
    for constraint in formulation.get("constraints") or []:
        if isinstance(constraint, Mapping):
            counts[str(constraint.get("template") or "unknown")] += 1
    return counts


def _default_ks(n_min: int) -> list[int]:
    ks = {1, n_min}
    k = 2
    while k < n_min:
        ks.add(k)
        k *= 2
    return sorted(k for k in ks if 1 <= k <= n_min)


def _summarize_group(records: Sequence[Mapping[str, Any]], ks: Sequence[int] | None, rel_tol: float, abs_tol: float) -> Summary:
    summary = Summary(n=len(records))
    if not records:
        return summary
    sizes = [len(r.get("samples") or []) for r in records]
    n_min = min(sizes)
    summary.samples_per_problem = max(sizes)
    k_values = [k for k in (ks if ks is not None else _default_ks(n_min)) if 1 <= k <= n_min]

    n_correct = n_correct_5 = n_exec = 0
    repairs = 0.0
    tokens: list[float] = []
    seconds: list[float] = []
    pass_sums = {k: 0.0 for k in k_values}
    maj_sums = {k: 0 for k in k_values if k > 1}
    taxonomy: Counter = Counter()
    correct_ids: set[str] = set()

    for record in records:
        samples = list(record.get("samples") or [])
        answer = record.get("answer")
        if answer is None:
            summary.n_unscored += 1
        scored = score_record(record, rel_tol, abs_tol)
        chosen = scored["chosen"]
        sample = samples[chosen] if chosen is not None else None
        if scored["correct"]:
            n_correct += 1
            correct_ids.add(f"{record.get('benchmark', '')}/{record.get('id', '')}")
        n_correct_5 += bool(scored["correct_5pct"])
        n_exec += executed(sample or {})
        repairs += float((sample or {}).get("repairs") or 0)
        taxonomy[classify(sample, answer, rel_tol, abs_tol)] += 1
        total = _as_float(record.get("tokens"))
        t = [float(s["tokens"]) for s in samples if _as_float(s.get("tokens")) is not None]
        if total is not None or t:
            tokens.append(total if total is not None else sum(t))
        total = _as_float(record.get("seconds"))
        sec = [float(s["seconds"]) for s in samples if _as_float(s.get("seconds")) is not None]
        if total is not None or sec:
            seconds.append(total if total is not None else sum(sec))
        flags = [sample_correct(s, answer, rel_tol, abs_tol) for s in samples]
        for k in pass_sums:
            pass_sums[k] += pass_at_k(len(flags), sum(flags), k)
        for k in maj_sums:
            if k == len(samples):
                maj_sums[k] += bool(scored["correct"])  # the full vote is the chosen sample
                continue
            index = choose_majority(samples[:k], rel_tol, abs_tol)
            maj_sums[k] += index is not None and flags[index]
        sample_or_empty = sample or {}
        templates = constraint_templates(sample_or_empty.get("formulation"), sample_or_empty.get("templates") or ())
        for name, count in templates.items():
            stats = summary.templates.setdefault(name, TemplateStats())
            if scored["correct"]:
                stats.problems_passed += 1
                stats.uses_passed += count
            else:
                stats.problems_failed += 1
                stats.uses_failed += count

    n = len(records)
    summary.sa = n_correct / n
    summary.sa_5pct = n_correct_5 / n
    summary.er = n_exec / n
    summary.ast = repairs / n
    summary.pass_at_k = {k: v / n for k, v in pass_sums.items()}
    summary.maj_at_k = {k: v / n for k, v in maj_sums.items()}
    summary.taxonomy = {k: taxonomy.get(k, 0) for k in TAXONOMY}
    summary.mean_tokens = sum(tokens) / len(tokens) if tokens else None
    summary.mean_seconds = sum(seconds) / len(seconds) if seconds else None
    summary.correct_ids = frozenset(correct_ids)
    return summary


def summarize(
    records: Iterable[Mapping[str, Any]],
    ks: Sequence[int] | None = None,
    rel_tol: float = 1e-4,
    abs_tol: float = 1e-6,
) -> Summary:
    """Overall :class:`Summary` of result records, with ``by_benchmark`` filled.

    Lines that are not results (``type`` other than ``"result"``, e.g. the header) are skipped.
    ``ks`` are the k of pass@k / maj@k; by default 1, powers of two and the smallest sample
    count; k larger than a problem's sample count is left out.
    """
    results = [r for r in records if isinstance(r, Mapping) and r.get("type", "result") == "result"]
    overall = _summarize_group(results, ks, rel_tol, abs_tol)
    groups: dict[str, list[Mapping[str, Any]]] = {}
    for record in results:
        groups.setdefault(str(record.get("benchmark") or "unknown"), []).append(record)
    overall.by_benchmark = {name: _summarize_group(group, ks, rel_tol, abs_tol) for name, group in groups.items()}
    return overall

"""Published accuracy figures to compare ``nlopt eval`` results with.

Only numbers read in a primary source are recorded: the authors' own paper or repository.
Each entry says which copy of the benchmark was used — the papers do not share ground truths:
ORLM and OptMATH evaluate the CardinalOperations / OptMATH copies (``../shared/benchmarks/optmath``,
NL4OPT with 245 problems), LLMOPT its re-labelled test sets (``../shared/benchmarks/llmopt``,
NL4OPT with 230) — and how a prediction was judged:

* ORLM: ``eval/execute.py`` rounds prediction and ground truth to integers and accepts a
  relative error up to 5 % (``--numerical_err_tolerance`` default 0.05); greedy decoding, pass@1.
* OptMATH (arXiv 2502.11102, Appendix A.1): optimal values equal within epsilon = 1e-6 (the
  formula is not legible in the copy read), and a prediction passes if either the integer or
  the continuous reading of ambiguous variables matches; pass@1.
* LLMOPT: solving accuracy (SA) with and without its self-correction loop; ER and AST too.
* SIRL (repository README, commit 0d9f278): pass@1, relative error < 1e-6, on the authors'
  corrected copies (NL4OPT, MAMO "fixed", IndustryOR fixed), OptMATH_166 and OptiBench.

Every row carries ``n`` (problems evaluated, where the source states it or its percentages
pin it down: OptMATH's problem-type shares, e.g. IP 11.92 % = 23/193, give 193 OptMATH-Bench
problems while the released file holds 166) and ``tolerance``; ``n = None`` means not stated,
and the report then shows no interval. LLMOPT's percentages are not k/N for the record counts
of its released test sets (e.g. 97.31 % of 230), so its n is left unknown.

Not recorded (seen only in third-party tables, or not found):
* OptMATH-Qwen2.5-7B / 32B on IndustryOR (20.0 / 31.0) and OptiBench (57.9 / 66.1) appear in
  later papers' tables (e.g. SIRL, arXiv 2505.11792, marked "from original or reproduced
  papers") but not in the OptMATH paper version read (Table 1 covers NL4OPT, MAMO EasyLP /
  ComplexLP and OptMATH-Bench only).
* ORLM-LLaMA-3-8B on NLP4LP, ComplexOR, OptiBench, ICML track 3: only third-party reproductions.
* ORLM-LLaMA-3-8B on IndustryOR is 38.0 % in the ORLM paper; later third-party tables list 24.0 %
  (re-run on a revised IndustryOR); only the former is recorded.
* The LLMOPT ICLR 2025 paper's own Tables 1-2 (Qwen1.5-14B base) were not read; the recorded
  LLMOPT figures are the repository's updated table for the released Qwen2.5-14B model.
* Step-Opt (arXiv 2506.17637): its results table was not found in a source that could be read.
* The baseline rows of SIRL's table (GPT-4, DeepSeek, ORLM, LLMOPT, OptMATH) are marked there as
  taken from other papers or reproduced; only SIRL's own rows are recorded.
* The exact table number of the ORLM paper that holds the figures was not seen; the figures
  are those of the repository's "Performances" table, which reproduces the paper's comparison.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

ORLM_SOURCE = (
    "ORLM: A Customizable Framework in Training Large Models for Automated Optimization Modeling "
    "(Huang, Tang et al., arXiv 2405.17743), main comparison table — as reproduced in the "
    "'Performances' table of github.com/Cardinal-Operations/ORLM README (commit 33bc47d)"
)
ORLM_URL = "https://github.com/Cardinal-Operations/ORLM"
OPTMATH_SOURCE = (
    "OptMATH: A Scalable Bidirectional Data Synthesis Framework for Optimization Modeling "
    "(Lu, Xie et al., arXiv 2502.11102, ICML 2025), Table 1 'Performance Comparison of Models on "
    "Different Benchmarks', Accuracy (pass@1)"
)
OPTMATH_URL = "https://arxiv.org/abs/2502.11102"
LLMOPT_SOURCE = (
    "LLMOPT: Learning to Define and Solve General Optimization Problems from Scratch "
    "(Jiang, Shu et al., arXiv 2410.13213, ICLR 2025) — repository README, 'Model Release' table "
    "for LLMOPT-Qwen2.5-14B (updated results; the paper's Tables 1-2 used Qwen1.5-14B)"
)
LLMOPT_URL = "https://github.com/caigaojiang/LLMOPT"

ORLM_TOLERANCE = "5 % relative after rounding to integers"
OPTMATH_TOLERANCE = "optimal value within 1e-6"
LLMOPT_TOLERANCE = "not stated in the table read"
# n: the problems the authors evaluated, where their table or benchmark description gives it.
ORLM_N = {"nl4opt": 245, "mamo-easy": 652, "mamo-complex": 211, "industryor": 100}
# OptMATH's percentages fit 193 OptMATH-Bench problems (the problem-type shares of its project page,
# e.g. IP 11.92 % = 23/193); the released OptMATH_Bench.json holds 166.
OPTMATH_N = {"nl4opt": 245, "mamo-easy": 652, "mamo-complex": 211, "optmath-bench": 193}

SIRL_SOURCE = (
    "SIRL: Solver-Informed RL: Grounding Large Language Models for Authentic Optimization Modeling "
    "(Chen, Xia et al., arXiv 2505.11792) — repository README, 'Performance' table (commit 0d9f278), "
    "the authors' own SIRL rows"
)
SIRL_URL = "https://github.com/Cardinal-Operations/SIRL"
SIRL_TOLERANCE = "relative error < 1e-6"
SIRL_SETS = ("SIRL's corrected copies (test_data/: NL4OPT, MAMO Easy/Complex 'fixed', IndustryOR fixed; "
             "OptMATH_166; OptiBench)")
SIRL_N = {"optmath-bench": 166}  # the only n the table states ("OptMATH_166")

CARDINAL = "CardinalOperations / OptMATH copy (../shared/benchmarks/optmath)"
LLMOPT_SETS = "LLMOPT re-labelled test set (../shared/benchmarks/llmopt)"


@dataclass(frozen=True)
class PublishedResult:
    """One published accuracy figure. ``accuracy`` and ``execution_rate`` are fractions (0..1)."""

    model: str
    benchmark: str  # a name of nlopt_milp.eval.datasets.BENCHMARKS
    accuracy: float
    source: str
    url: str
    dataset: str
    metric: str = "accuracy (pass@1)"
    execution_rate: float | None = None
    note: str = ""
    n: int | None = None  # problems in the copy the authors evaluated (None: not stated)
    tolerance: str = ""  # how a prediction was judged correct

    @property
    def dataset_short(self) -> str:
        """The benchmark copy without the local path."""
        return self.dataset.split(" (")[0]


def _rows(model: str, source: str, url: str, dataset: str, metric: str, values: dict, note: str = "", er: dict | None = None,
          n: dict | None = None, tolerance: str = ""):
    return tuple(
        PublishedResult(
            model=model,
            benchmark=bench,
            accuracy=value / 100.0,
            source=source,
            url=url,
            dataset=dataset,
            metric=metric,
            execution_rate=(er[bench] / 100.0) if er and bench in er else None,
            note=note,
            n=(n or {}).get(bench),
            tolerance=tolerance,
        )
        for bench, value in values.items()
    )


PUBLISHED: tuple[PublishedResult, ...] = (
    *_rows(
        "ORLM-LLaMA-3-8B",
        ORLM_SOURCE,
        ORLM_URL,
        CARDINAL,
        "execution accuracy, pass@1 (5 % relative, integers)",
        {"nl4opt": 85.7, "mamo-easy": 82.3, "mamo-complex": 37.4, "industryor": 38.0},
        n=ORLM_N,
        tolerance=ORLM_TOLERANCE,
    ),
    *(
        row
        for model, values in (  # the README's other ORLMs (its unstarred rows: the authors' own runs)
            ("ORLM-Mistral-7B", (84.4, 81.4, 32.0, 27.0)),
            ("ORLM-Deepseek-Math-7B-Base", (86.5, 82.2, 37.9, 33.0)),
        )
        for row in _rows(
            model,
            ORLM_SOURCE,
            ORLM_URL,
            CARDINAL,
            "execution accuracy, pass@1 (5 % relative, integers)",
            dict(zip(("nl4opt", "mamo-easy", "mamo-complex", "industryor"), values)),
            n=ORLM_N,
            tolerance=ORLM_TOLERANCE,
        )
    ),
    PublishedResult(
        model="ORLM-LLaMA-3-8B",
        benchmark="optmath-bench",
        accuracy=0.0,
        source=OPTMATH_SOURCE,
        url=OPTMATH_URL,
        dataset=CARDINAL,
        metric="accuracy (pass@1), run by the OptMATH authors",
        note="OptMATH Table 1; the other ORLM cells there are copied from the ORLM paper",
        n=OPTMATH_N["optmath-bench"],
        tolerance=OPTMATH_TOLERANCE,
    ),
    *_rows(
        "OptMATH-Qwen2.5-7B",
        OPTMATH_SOURCE,
        OPTMATH_URL,
        CARDINAL,
        "accuracy (pass@1)",
        {"nl4opt": 94.7, "mamo-easy": 86.5, "mamo-complex": 51.2, "optmath-bench": 24.4},
        n=OPTMATH_N,
        tolerance=OPTMATH_TOLERANCE,
    ),
    *_rows(
        "OptMATH-Qwen2.5-32B",
        OPTMATH_SOURCE,
        OPTMATH_URL,
        CARDINAL,
        "accuracy (pass@1)",
        {"nl4opt": 95.9, "mamo-easy": 89.9, "mamo-complex": 54.1, "optmath-bench": 34.7},
        n=OPTMATH_N,
        tolerance=OPTMATH_TOLERANCE,
    ),
    *_rows(
        "LLMOPT-Qwen2.5-14B",
        LLMOPT_SOURCE,
        LLMOPT_URL,
        LLMOPT_SETS,
        "SA with self-correction",
        {
            "nl4opt": 97.31,
            "mamo-easy": 95.31,
            "mamo-complex": 85.78,
            "nlp4lp": 86.49,
            "complexor": 76.47,
            "industryor": 44.00,
            "icml-task3": 95.76,
            "optibench": 66.44,
            "optmath-bench": 40.00,
        },
        er={
            "nl4opt": 100.00,
            "mamo-easy": 100.00,
            "mamo-complex": 99.05,
            "nlp4lp": 100.00,
            "complexor": 100.00,
            "industryor": 94.00,
            "icml-task3": 99.66,
            "optibench": 82.31,
            "optmath-bench": 75.30,
        },
        tolerance=LLMOPT_TOLERANCE,
        note="AST with self-correction: 1.38 / 1.13 / 2.13 / 1.50 / 3.46 / 2.14 / 1.47 / 1.54 / 4.06 (same order)",
    ),
    *_rows(
        "LLMOPT-Qwen2.5-14B (no self-correction)",
        LLMOPT_SOURCE,
        LLMOPT_URL,
        LLMOPT_SETS,
        "SA without self-correction",
        {
            "nl4opt": 80.28,
            "mamo-easy": 89.53,
            "mamo-complex": 44.08,
            "nlp4lp": 73.42,
            "complexor": 35.29,
            "industryor": 29.00,
            "icml-task3": 75.35,
            "optibench": 53.83,
            "optmath-bench": 12.50,
        },
        er={
            "nl4opt": 97.42,
            "mamo-easy": 98.29,
            "mamo-complex": 77.73,
            "nlp4lp": 97.93,
            "complexor": 88.89,
            "industryor": 61.00,
            "icml-task3": 93.90,
            "optibench": 73.22,
            "optmath-bench": 31.93,
        },
        tolerance=LLMOPT_TOLERANCE,
    ),
    *(
        row
        for model, values in (
            ("SIRL-Qwen2.5-7B-Gurobi", (96.3, 91.7, 51.7, 33.0, 30.5, 58.0)),
            ("SIRL-Qwen2.5-32B-Gurobi", (98.0, 94.6, 61.1, 42.0, 45.8, 67.4)),
            ("SIRL-Qwen2.5-7B-COPT", (95.1, 92.1, 53.1, 31.0, 29.5, 58.3)),
        )
        for row in _rows(
            model,
            SIRL_SOURCE,
            SIRL_URL,
            SIRL_SETS,
            "accuracy (pass@1)",
            dict(zip(("nl4opt", "mamo-easy", "mamo-complex", "industryor", "optmath-bench", "optibench"), values)),
            n=SIRL_N,
            tolerance=SIRL_TOLERANCE,
            note="n not stated for the other columns; the same table lists OptMATH-Qwen2.5-7B at 40.8 % on the "
                 "corrected MAMO Complex (51.2 % in OptMATH's Table 1 on the original copy)",
        )
    ),
)

MODELS: tuple[str, ...] = tuple(dict.fromkeys(r.model for r in PUBLISHED))


def published_for(benchmark: str) -> list[PublishedResult]:
    """Published figures for one benchmark, in :data:`MODELS` order."""
    return [r for r in PUBLISHED if r.benchmark == benchmark]


def published_table() -> dict[str, dict[str, float]]:
    """``{model: {benchmark: accuracy}}`` (fractions)."""
    table: dict[str, dict[str, float]] = defaultdict(dict)
    for r in PUBLISHED:
        table[r.model][r.benchmark] = r.accuracy
    return dict(table)

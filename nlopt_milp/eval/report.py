"""Reports for ``nlopt eval`` logs: terminal tables, ``--json`` figures and a self-contained HTML file.

A log is JSON Lines: a ``{"type": "header", ...}`` line (provenance: benchmark and its hash, the
subset, model, backend, options), then one ``{"type": "result", ...}`` record per problem
(schema in :mod:`nlopt_milp.eval.scoring`).

What a reader can trust in a report:

* every accuracy figure carries its n, its tolerance convention (strict: relative 1e-4 /
  absolute 1e-6; the papers' 5 % on integers) and a 95 % Wilson interval (:mod:`.stats`);
* published figures keep their own n, convention, benchmark copy and source, and are marked
  as measured on another problem set;
* two logs are compared on the problems they share (by stable problem id), with the counts
  left out on each side and McNemar's exact test on the discordant problems.

Problems are identified by ``problem_id`` (benchmark + hash of the problem text) when the log
has it; older logs get the same id computed from their ``question`` text (:func:`stable_id`),
so old and new logs of one benchmark line up. Header fields an older log lacks are shown as
"not recorded".

* :func:`read_log` — ``(header, records)``; skips lines that are not JSON objects (a torn last
  line after a crash), keeps the last record per problem (a resumed run).
* :func:`load_logs` — :class:`LogData` (records keyed by stable id, summary, provenance).
* :func:`compare` — the paired comparison of two logs.
* :func:`report_json` — what ``nlopt eval report --json`` prints.
* :func:`render_terminal` — rich tables; :func:`write_html` — the HTML file
  (:mod:`.report_html`, charts by :mod:`.charts`).
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import os
import re
import unicodedata
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Mapping, Sequence

from nlopt_milp.eval.published import ORLM_TOLERANCE, PUBLISHED, PublishedResult
from nlopt_milp.eval.scoring import (
    TAXONOMY,
    Summary,
    classify,
    constraint_templates,
    executed,
    score_record,
    summarize,
)
from nlopt_milp.eval.stats import mcnemar_exact, wilson_interval

log = logging.getLogger(__name__)

BENCHMARK_ORDER = (
    "nl4opt",
    "mamo-easy",
    "mamo-complex",
    "nlp4lp",
    "complexor",
    "industryor",
    "optibench",
    "optmath-bench",
    "icml-task3",
)

STRICT = "strict: relative 1e-4 / absolute 1e-6"
FIVE_PCT = f"papers': {ORLM_TOLERANCE}"
NOT_RECORDED = "not recorded"
SIGNIFICANCE = 0.05  # the level at which a paired difference is called more than noise

# Text from a log or a model is data: C0/C1 controls (but tab and newline) and bidirectional
# overrides are removed before it reaches a terminal or a page.
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u200e\u200f\u202a-\u202e\u2066-\u2069]")


def clean(value: Any, limit: int | None = None) -> str:
    """``value`` as text without control characters, cut to ``limit`` characters (with "…")."""
    text = _CONTROL.sub("", "" if value is None else str(value)).replace("\r", "")
    if limit is not None and len(text) > limit:
        text = text[:limit] + " …"
    return text


# --- reading ------------------------------------------------------------------------------------


def stable_id(benchmark: str, question: str, occurrence: int = 1) -> str:
    """The stable id of a problem: benchmark + hash of its text (whitespace collapsed, Unicode NFC);
    the k-th repeat of one text in a benchmark gets ``-k``. The same rule as the runner's
    ``problem_id``, so logs written before it existed line up with newer ones."""
    text = unicodedata.normalize("NFC", " ".join(question.split()))
    digest = hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()[:16]
    return f"{benchmark}-{digest}" + (f"-{occurrence}" if occurrence > 1 else "")


def read_log(path: str | os.PathLike) -> tuple[dict | None, list[dict]]:
    """``(header, records)`` of a JSON Lines eval log.

    Lines that are not valid JSON objects are skipped (a truncated last line after a crash is
    the expected case); the first header is kept; for a problem logged twice (a resumed run)
    the last record wins, in the position of the first. A problem is its ``problem_id`` when
    the record has one, else its (benchmark, id).
    """
    header: dict | None = None
    records: dict[Any, dict] = {}
    skipped = 0
    with open(path, encoding="utf-8", errors="replace") as handle:
        for lineno, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            try:
                obj = json.loads(line)
            except json.JSONDecodeError:
                skipped += 1
                continue
            if not isinstance(obj, dict):
                skipped += 1
                continue
            kind = obj.get("type", "result")
            if kind == "header":
                if header is None:
                    header = obj
                continue
            if kind != "result":
                continue
            pid = obj.get("problem_id")
            key = pid if isinstance(pid, str) and pid else (str(obj.get("benchmark", "")), str(obj.get("id", lineno)))
            records[key] = obj
    if skipped:
        log.warning("%s: skipped %d line(s) that are not JSON objects", path, skipped)
    return header, list(records.values())


def record_ids(records: Sequence[Mapping[str, Any]]) -> list[str]:
    """The stable id of each record: its ``problem_id``, else computed from its question, else
    ``benchmark#id`` (a record without text cannot be matched across logs by content)."""
    seen: Counter = Counter()
    out = []
    for position, r in enumerate(records):
        pid = r.get("problem_id")
        bench = str(r.get("benchmark") or "unknown")
        question = r.get("question")
        if isinstance(pid, str) and pid:
            out.append(pid)
        elif isinstance(question, str) and question.strip():
            base = stable_id(bench, question)
            seen[base] += 1
            out.append(stable_id(bench, question, seen[base]))
        else:
            out.append(f"{bench}#{r.get('id', position)}")
    return out


@dataclass
class Outcome:
    """How one log did on one problem (its chosen sample)."""

    record: dict
    correct: bool
    correct_5pct: bool
    executed: bool
    cls: str  # TAXONOMY class
    sample: dict | None
    templates: list[str]

    @property
    def benchmark(self) -> str:
        return str(self.record.get("benchmark") or "unknown")


def outcome(record: Mapping[str, Any]) -> Outcome:
    scored = score_record(record)
    samples = list(record.get("samples") or [])
    chosen = scored["chosen"]
    sample = samples[chosen] if chosen is not None else None
    sample = sample if isinstance(sample, dict) else None
    templates = sorted(constraint_templates((sample or {}).get("formulation"), (sample or {}).get("templates") or ()))
    return Outcome(dict(record), bool(scored["correct"]), bool(scored["correct_5pct"]), executed(sample or {}),
                   classify(sample, record.get("answer")), sample, templates)


@dataclass
class LogData:
    label: str
    path: str
    header: dict | None
    records: list[dict]
    summary: Summary
    outcomes: dict[str, Outcome] = field(default_factory=dict)  # stable id -> outcome, in log order
    trace_dir: Path | None = None  # `nlopt eval run --trace DIR` of this log, if given

    def trace(self, key: str) -> list[dict] | None:
        """The trace events of one problem from ``trace_dir`` (None when there is none)."""
        return read_trace(self.trace_dir, key) if self.trace_dir is not None else None

    def ids(self, benchmark: str | None = None) -> set[str]:
        return {k for k, o in self.outcomes.items() if benchmark in (None, "all") or o.benchmark == benchmark}


MAX_TRACE_BYTES = 5_000_000  # a trace file larger than this is not read into the report


def trace_file(trace_dir: Path, problem_id: str) -> Path:
    """Where ``nlopt eval run --trace DIR`` puts a problem's trace: its stable id as a safe file name."""
    return Path(trace_dir) / (re.sub(r"[^A-Za-z0-9._-]", "_", problem_id).lstrip(".") + ".json")


def read_trace(trace_dir: Path, problem_id: str) -> list[dict] | None:
    path = trace_file(trace_dir, problem_id)
    try:
        if not path.is_file() or path.stat().st_size > MAX_TRACE_BYTES:
            return None
        data = json.loads(path.read_text(encoding="utf-8", errors="replace"))
    except (OSError, ValueError):
        return None
    events = data.get("events") if isinstance(data, dict) else None
    return [e for e in events if isinstance(e, dict)] if isinstance(events, list) else None


def _label_for(path: str, header: dict | None) -> str:
    if header:
        if header.get("label"):
            return clean(header["label"], 80)
        options = header.get("options") if isinstance(header.get("options"), dict) else {}
        pipeline = header.get("pipeline") if isinstance(header.get("pipeline"), dict) else {}
        model = header.get("model") or header.get("name")
        mode = header.get("mode") or pipeline.get("mode") or options.get("mode")
        if model:
            return clean(f"{model} ({mode})" if mode else model, 80)
    return clean(Path(path).stem, 80)


def load_logs(logs: Mapping[str, str | os.PathLike] | Sequence[str | os.PathLike],
              trace_dirs: Sequence[str | os.PathLike] = ()) -> list[LogData]:
    """Read and summarise logs given as paths (labels from the headers) or as ``{label: path}``;
    ``trace_dirs[i]`` is the ``--trace`` directory of the i-th log."""
    items = list(logs.items()) if isinstance(logs, Mapping) else [(None, p) for p in logs]
    out: list[LogData] = []
    used: set[str] = set()
    for label, path in items:
        header, records = read_log(path)
        name = clean(label, 80) if label else _label_for(str(path), header)
        base, i = name, 2
        while name in used:
            name, i = f"{base} #{i}", i + 1
        used.add(name)
        outcomes = {key: outcome(r) for key, r in zip(record_ids(records), records)}
        trace_dir = Path(trace_dirs[len(out)]) if len(out) < len(trace_dirs) else None
        out.append(LogData(name, str(path), header, records, summarize(records), outcomes, trace_dir))
    return out


def _as_logs(logs: Mapping[str, Summary] | Sequence[LogData]) -> list[LogData]:
    """Accept ``{label: Summary}`` (a run's own summary, no records) as well as loaded logs."""
    if isinstance(logs, Mapping):
        return [LogData(clean(label, 80), "", None, [], s) for label, s in logs.items()]
    return list(logs)


def benchmarks_of(summaries: Iterable[Summary]) -> list[str]:
    present = {b for s in summaries for b in s.by_benchmark}
    return [b for b in BENCHMARK_ORDER if b in present] + sorted(present - set(BENCHMARK_ORDER))


def published_for_benchmarks(benchmarks: Sequence[str], published: Sequence[PublishedResult]) -> list[PublishedResult]:
    return [r for r in published if r.benchmark in benchmarks]


# --- provenance ---------------------------------------------------------------------------------


def _fmt(value: Any) -> str:
    if value is None or value == "" or value == [] or value == {}:
        return NOT_RECORDED
    if isinstance(value, dict):
        parts = [f"{k}={_fmt(v) if not isinstance(v, (dict, list)) else json.dumps(v, ensure_ascii=False)}"
                 for k, v in value.items() if v is not None]
        return clean(", ".join(parts), 400) or NOT_RECORDED
    if isinstance(value, list):
        return clean(", ".join(str(v) for v in value), 400)
    return clean(value, 400)


def _when(value: Any) -> str:
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        import datetime as dt

        try:
            return dt.datetime.fromtimestamp(value, dt.timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC")
        except (OverflowError, OSError, ValueError):
            return NOT_RECORDED
    return _fmt(value)


def provenance(lg: LogData) -> list[tuple[str, str]]:
    """What was measured, from the log header: (field, text) pairs; "not recorded" for what an
    older log does not say."""
    h = lg.header or {}
    options = h.get("options") if isinstance(h.get("options"), dict) else {}
    subset = h.get("subset") if isinstance(h.get("subset"), dict) else None
    version = h.get("dataset_sha256") or h.get("file_sha256")
    if version:
        version = f"sha256 {str(version)[:16]}…" + ("" if h.get("dataset_sha256") else " (file)")
    if subset is not None:
        parts = []
        if subset.get("limit") is not None:
            parts.append(f"first {subset['limit']} (--limit)")
        if subset.get("ids"):
            ids = subset["ids"]
            parts.append(f"{len(ids)} ids (--ids)" if isinstance(ids, list) else f"ids {ids}")
        if subset.get("seed") is not None:
            parts.append(f"seed {subset['seed']}")
        if not subset.get("limit") and not subset.get("ids"):
            parts.insert(0, "all problems")
        if h.get("dataset_records") is not None:
            parts.append(f"{subset.get('problems', '?')} of {h['dataset_records']} records")
        subset_text = "; ".join(str(p) for p in parts)
    else:
        subset_text = NOT_RECORDED
    scoring = h.get("scoring") if isinstance(h.get("scoring"), dict) else None
    if scoring is None and "rel_tol" in options:
        scoring = {"rel_tol": options["rel_tol"]}
    pipeline = h.get("pipeline") if isinstance(h.get("pipeline"), dict) else None
    if pipeline is None and options:
        pipeline = {k: options.get(k) for k in ("mode", "samples", "max_repairs", "temperature", "seed") if k in options}
    rows = [
        ("log file", clean(Path(lg.path).name, 200) if lg.path else NOT_RECORDED),
        ("problems in log", str(lg.summary.n)),
        ("benchmark", _fmt(h.get("benchmark"))),
        ("benchmark source", _fmt(h.get("source"))),
        ("benchmark version", clean(version) if version else NOT_RECORDED),
        ("subset", subset_text),
        ("model", _fmt(h.get("model"))),
        ("backend", _fmt(h.get("backend"))),
        ("server", _fmt(h.get("server") or h.get("base_url"))),
        ("prompt version", _fmt(h.get("prompt_version"))),
        ("pipeline", _fmt(pipeline)),
        ("solver", _fmt(h.get("solve"))),
        ("scoring", _fmt(scoring)),
        ("package", _fmt(h.get("package") or h.get("version"))),
        ("started", _when(h.get("started"))),
    ]
    return rows


# --- figures with their uncertainty -----------------------------------------------------------


@dataclass(frozen=True)
class Figure:
    """One accuracy figure: who, on what, under which convention, out of how many."""

    who: str
    benchmark: str
    convention: str
    correct: int | None
    n: int | None
    accuracy: float
    published: PublishedResult | None = None

    @property
    def ci(self) -> tuple[float, float] | None:
        if self.n is None or self.correct is None:
            return None
        return wilson_interval(self.correct, self.n)


def _count(s: Summary, attr: str) -> int:
    return round(getattr(s, attr) * s.n)


def our_figures(lg: LogData, bench: str) -> list[Figure]:
    s = lg.summary if bench == "all" else lg.summary.by_benchmark.get(bench)
    if s is None or not s.n:
        return []
    return [
        Figure(lg.label, bench, STRICT, _count(s, "sa"), s.n, s.sa),
        Figure(lg.label, bench, FIVE_PCT, _count(s, "sa_5pct"), s.n, s.sa_5pct),
    ]


def published_figure(r: PublishedResult) -> Figure:
    correct = round(r.accuracy * r.n) if r.n else None
    return Figure(r.model, r.benchmark, r.tolerance, correct, r.n, r.accuracy, r)


def summary_json(s: Summary, per_benchmark: bool = True) -> dict:
    """``Summary.to_json`` plus 95 % Wilson intervals of SA, SA 5 % and ER."""
    out = s.to_json(per_benchmark=False)
    for key in ("sa", "sa_5pct", "er"):
        low, high = wilson_interval(round(getattr(s, key) * s.n), s.n) if s.n else (0.0, 1.0)
        out[f"{key}_ci"] = [low, high]
    out["conventions"] = {"sa": STRICT, "sa_5pct": FIVE_PCT}
    if per_benchmark and s.by_benchmark:
        out["by_benchmark"] = {name: summary_json(b, False) for name, b in sorted(s.by_benchmark.items())}
    return out


# --- paired comparison --------------------------------------------------------------------------


@dataclass
class Paired:
    """Two logs on the problems both contain (one benchmark, or "all")."""

    first: str
    second: str
    benchmark: str
    n_common: int
    only_first: int  # problems in the first log only (left out)
    only_second: int
    both_correct: int
    first_correct_only: int  # right in the first, wrong in the second (discordant)
    second_correct_only: int
    sa_first: float
    sa_second: float
    p_value: float  # McNemar's exact test, strict convention
    p_value_5pct: float
    sa_5pct_first: float
    sa_5pct_second: float
    disagree: list[str]  # stable ids where the strict verdicts differ
    answers_differ: int = 0  # common problems whose ground truth is not the same in both logs (other copies)

    @property
    def significant(self) -> bool:
        return self.n_common > 0 and self.p_value < SIGNIFICANCE

    def to_json(self) -> dict:
        return {
            "first": self.first,
            "second": self.second,
            "n_common": self.n_common,
            "only_first": self.only_first,
            "only_second": self.only_second,
            "sa_first": self.sa_first,
            "sa_second": self.sa_second,
            "sa_diff": self.sa_second - self.sa_first,
            "first_correct_only": self.first_correct_only,
            "second_correct_only": self.second_correct_only,
            "p_value": self.p_value,
            "sa_5pct_first": self.sa_5pct_first,
            "sa_5pct_second": self.sa_5pct_second,
            "p_value_5pct": self.p_value_5pct,
            "answers_differ": self.answers_differ,
            "test": "McNemar exact (two-sided binomial on discordant problems)",
        }


def compare(a: LogData, b: LogData, benchmark: str = "all") -> Paired:
    """Paired comparison of ``a`` and ``b`` on the problems both contain (by stable id)."""
    ids_a, ids_b = a.ids(benchmark), b.ids(benchmark)
    common = [k for k in a.outcomes if k in ids_a and k in ids_b]
    n = len(common)

    def counts(attr: str) -> tuple[int, int, int]:
        both = sum(getattr(a.outcomes[k], attr) and getattr(b.outcomes[k], attr) for k in common)
        first = sum(getattr(a.outcomes[k], attr) and not getattr(b.outcomes[k], attr) for k in common)
        second = sum(getattr(b.outcomes[k], attr) and not getattr(a.outcomes[k], attr) for k in common)
        return both, first, second

    both, f1, s1 = counts("correct")
    both5, f5, s5 = counts("correct_5pct")
    return Paired(
        first=a.label, second=b.label, benchmark=benchmark, n_common=n,
        only_first=len(ids_a - ids_b), only_second=len(ids_b - ids_a),
        both_correct=both, first_correct_only=f1, second_correct_only=s1,
        sa_first=(both + f1) / n if n else 0.0, sa_second=(both + s1) / n if n else 0.0,
        p_value=mcnemar_exact(f1, s1), p_value_5pct=mcnemar_exact(f5, s5),
        sa_5pct_first=(both5 + f5) / n if n else 0.0, sa_5pct_second=(both5 + s5) / n if n else 0.0,
        disagree=[k for k in common if a.outcomes[k].correct != b.outcomes[k].correct],
        answers_differ=sum(not _same_answer(a.outcomes[k].record.get("answer"), b.outcomes[k].record.get("answer"))
                           for k in common),
    )


def _same_answer(x: Any, y: Any) -> bool:
    """Whether two ground truths agree (numbers to 1e-9 relative): a problem text with two answers
    comes from two copies of a benchmark, and then the two logs were not scored alike."""
    if isinstance(x, (int, float)) and isinstance(y, (int, float)) and not isinstance(x, bool) and not isinstance(y, bool):
        return math.isclose(x, y, rel_tol=1e-9, abs_tol=1e-12)
    return x == y


def comparison_benchmarks(a: LogData, b: LogData) -> list[str]:
    """The benchmarks of either log, then "all" when there is more than one."""
    benches = benchmarks_of([a.summary, b.summary])
    return benches + ["all"] if len(benches) != 1 else benches


def paired_json(a: LogData, b: LogData) -> dict:
    out = compare(a, b).to_json()
    out["by_benchmark"] = {bench: compare(a, b, bench).to_json() for bench in benchmarks_of([a.summary, b.summary])}
    return out


def report_json(logs: Sequence[LogData]) -> dict:
    """What ``nlopt eval report --json`` prints: ``{"logs": {label: {n, sa, sa_ci, sa_5pct, er,
    ..., by_benchmark, provenance}}, "paired": ...}``. ``paired`` (two or more logs) compares
    the first log with the second; with more logs ``paired`` is a list, each later log
    against the first."""
    out: dict[str, Any] = {
        "logs": {
            lg.label: {**summary_json(lg.summary), "log": lg.path, "provenance": dict(provenance(lg))} for lg in logs
        }
    }
    if len(logs) == 2:
        out["paired"] = paired_json(logs[0], logs[1])
    elif len(logs) > 2:
        out["paired"] = [paired_json(logs[0], other) for other in logs[1:]]
    return out


def _pct(x: float | None, digits: int = 1) -> str:
    return "—" if x is None else f"{100 * x:.{digits}f}%"


def ci_text(ci: tuple[float, float] | None) -> str:
    return "n unknown" if ci is None else f"{100 * ci[0]:.1f}–{100 * ci[1]:.1f}%"


def p_text(p: float) -> str:
    return f"{p:.3f}" if p >= 0.001 else f"{p:.1e}"


def verdict_text(pair: Paired) -> str:
    return _verdict_core(pair) + (
        f"; ground truth differs on {pair.answers_differ} common problem(s): other benchmark copies"
        if pair.answers_differ else "")


def _verdict_core(pair: Paired) -> str:
    if pair.n_common == 0:
        return "no problems in common"
    if pair.first_correct_only + pair.second_correct_only == 0:
        return "same verdict on every common problem"
    if pair.significant:
        return f"difference beyond noise (p < {SIGNIFICANCE:g})"
    return f"within noise (p ≥ {SIGNIFICANCE:g})"


# --- terminal -----------------------------------------------------------------------------------


def render_terminal(logs: Mapping[str, Summary] | Sequence[LogData], published: Sequence[PublishedResult] = PUBLISHED):
    """Rich renderables (a ``Group`` of tables) for ``console.print``: provenance, accuracy per
    benchmark with n and 95 % intervals under both conventions next to the published figures,
    the paired comparison, overall metrics, failure taxonomy, per-template failure rates.
    Accepts loaded logs or ``{label: Summary}``."""
    from rich.console import Group
    from rich.table import Table
    from rich.text import Text

    data = _as_logs(logs)
    summaries = [lg.summary for lg in data]
    benches = benchmarks_of(summaries)
    parts: list[Any] = []

    if any(lg.path for lg in data):
        prov = Table(title="Provenance", title_justify="left")
        prov.add_column("")
        for lg in data:
            prov.add_column(Text(lg.label))
        rows = [provenance(lg) for lg in data]
        for i, (name, _) in enumerate(rows[0]):
            prov.add_row(name, *[Text(r[i][1], style="dim" if r[i][1] == NOT_RECORDED else "") for r in rows])
        parts.append(prov)

    acc = Table(
        title="Accuracy per benchmark (95 % Wilson interval)", title_justify="left",
        caption="◇ published: measured by its authors on their own copy of the benchmark (n, convention and "
                "source as given), not on the problems of these logs",
        caption_justify="left",
    )
    for name, justify in (("benchmark", "left"), ("who", "left"), ("convention", "left"), ("n", "right"),
                          ("accuracy", "right"), ("95% CI", "right"), ("problem set", "left")):
        acc.add_column(name, justify=justify)
    pub = published_for_benchmarks(benches, published)
    for bench in benches + (["all"] if len(benches) > 1 or not benches else []):
        first = True
        for lg in data:
            for fig in our_figures(lg, bench):
                acc.add_row(Text(clean(bench, 60)) if first else "", Text(lg.label), fig.convention, str(fig.n), _pct(fig.accuracy),
                            ci_text(fig.ci), "these logs")
                first = False
        for r in (p for p in pub if p.benchmark == bench):
            fig = published_figure(r)
            acc.add_row(Text(clean(bench, 60)) if first else "", Text(f"◇ {r.model}"), r.tolerance,
                        str(r.n) if r.n else "?", _pct(r.accuracy), ci_text(fig.ci), r.dataset_short, style="dim")
            first = False
        acc.add_section()
    parts.append(acc)

    if len(data) >= 2 and all(lg.outcomes for lg in data):
        cmp_ = Table(title="Paired comparison on the problems both logs contain (McNemar exact test)",
                     title_justify="left")
        for name in ("benchmark", "logs", "common", "only in first", "only in second", "SA first", "SA second",
                     "first only right", "second only right", "p", "verdict"):
            cmp_.add_column(name, justify="left" if name in ("benchmark", "logs", "verdict") else "right")
        for other in data[1:]:
            for bench in comparison_benchmarks(data[0], other):
                p = compare(data[0], other, bench)
                cmp_.add_row(Text(clean(bench, 60)), Text(f"{data[0].label} vs {other.label}"), str(p.n_common), str(p.only_first),
                             str(p.only_second), _pct(p.sa_first), _pct(p.sa_second), str(p.first_correct_only),
                             str(p.second_correct_only), p_text(p.p_value), verdict_text(p))
        parts.append(cmp_)

    metrics = Table(title="Overall", title_justify="left")
    metrics.add_column("metric")
    for lg in data:
        metrics.add_column(Text(lg.label), justify="right")
    for name, getter in metric_rows(summaries):
        metrics.add_row(name, *[getter(s) for s in summaries])
    parts.append(metrics)

    tax = Table(title="Failure taxonomy (problems)", title_justify="left")
    tax.add_column("class")
    for lg in data:
        tax.add_column(Text(lg.label), justify="right")
    for cls in TAXONOMY:
        tax.add_row(cls, *[str(s.taxonomy.get(cls, 0)) for s in summaries])
    parts.append(tax)

    tmpl = Table(title="Constraint templates — failed / with template (failure rate)", title_justify="left")
    tmpl.add_column("template")
    for lg in data:
        tmpl.add_column(Text(lg.label), justify="right")
    for name in sorted({t for s in summaries for t in s.templates}):
        cells = []
        for s in summaries:
            st = s.templates.get(name)
            cells.append("—" if st is None else f"{st.problems_failed}/{st.problems_failed + st.problems_passed} ({_pct(st.failure_rate, 0)})")
        tmpl.add_row(Text(clean(name, 60)), *cells)
    parts.append(tmpl)
    return Group(*parts)


def metric_rows(summaries: Sequence[Summary]) -> list[tuple[str, Any]]:
    def with_ci(attr: str):
        return lambda s: f"{_pct(getattr(s, attr))} [{ci_text(wilson_interval(_count(s, attr), s.n))}]" if s.n else "—"

    rows: list[tuple[str, Any]] = [
        ("problems", lambda s: str(s.n)),
        ("samples per problem", lambda s: str(s.samples_per_problem)),
        ("SA (strict) [95% CI]", with_ci("sa")),
        ("SA (papers' 5 %) [95% CI]", with_ci("sa_5pct")),
        ("ER [95% CI]", with_ci("er")),
        ("AST (repair rounds)", lambda s: f"{s.ast:.2f}"),
    ]
    ks = sorted({k for s in summaries for k in s.pass_at_k})
    for k in ks:
        rows.append((f"pass@{k}", lambda s, k=k: _pct(s.pass_at_k.get(k))))
    for k in sorted({k for s in summaries for k in s.maj_at_k}):
        rows.append((f"maj@{k}", lambda s, k=k: _pct(s.maj_at_k.get(k))))
    rows.append(("tokens / problem", lambda s: "—" if s.mean_tokens is None else f"{s.mean_tokens:,.0f}"))
    rows.append(("seconds / problem", lambda s: "—" if s.mean_seconds is None else f"{s.mean_seconds:.1f}"))
    return rows


# --- HTML ---------------------------------------------------------------------------------------


def render_html(logs: Sequence[LogData], published: Sequence[PublishedResult] = PUBLISHED,
                title: str = "nlopt eval report", max_problems: int | None = None) -> str:
    """The report as one HTML string (no external assets; see :mod:`.report_html`)."""
    from nlopt_milp.eval.report_html import MAX_PROBLEMS, render

    return render(logs, published, title, MAX_PROBLEMS if max_problems is None else max_problems)


def write_html(
    logs: Mapping[str, str | os.PathLike] | Sequence[str | os.PathLike],
    out_path: str | os.PathLike,
    published: Sequence[PublishedResult] = PUBLISHED,
    title: str = "nlopt eval report",
) -> Path:
    """Write the HTML report of one or more logs (paths, or ``{label: path}``) to ``out_path``."""
    data = load_logs(logs)
    out = Path(out_path)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(render_html(data, published, title), encoding="utf-8")
    return out

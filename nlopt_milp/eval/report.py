"""Reports for ``nlopt eval`` logs: the terminal tables and a self-contained HTML file.

A log is JSON Lines: a ``{"type": "header", ...}`` line (model, backend, options), then one
``{"type": "result", ...}`` record per problem (schema in :mod:`nlopt_milp.eval.scoring`).

* :func:`read_log` — ``(header, records)``; skips a truncated last line (and any other line
  that is not JSON, e.g. left by a crash before a resume), keeps the last record per
  (benchmark, id).
* :func:`render_terminal` — rich tables for one or several logs, next to the published figures.
* :func:`write_html` — one HTML file with no external assets: accuracy per benchmark next to
  the published figures, failure taxonomy, per-template failure rates, and a side-by-side
  comparison of several logs (two models, staged vs single mode ...). Charts are inline SVG.
  Every text that comes from a log or a dataset is HTML-escaped.
"""

from __future__ import annotations

import html
import json
import logging
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable, Mapping, Sequence

from nlopt_milp.eval.published import PUBLISHED, PublishedResult
from nlopt_milp.eval.scoring import TAXONOMY, Summary, classify, score_record, summarize

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

LOG_COLORS = ("#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#17becf", "#8c564b", "#e377c2")
PUBLISHED_COLORS = ("#9e9e9e", "#bdbdbd", "#757575", "#cfcfcf", "#616161", "#e0e0e0")
TAXONOMY_COLORS = {
    "correct": "#2ca02c",
    "wrong_objective": "#d62728",
    "infeasible": "#ff7f0e",
    "unbounded": "#ffbb78",
    "time_limit": "#9467bd",
    "nonlinear": "#8c564b",
    "validation_error": "#e377c2",
    "no_output": "#7f7f7f",
    "solver_error": "#bcbd22",
}


# --- reading ------------------------------------------------------------------------------------


def read_log(path: str | os.PathLike) -> tuple[dict | None, list[dict]]:
    """``(header, records)`` of a JSON Lines eval log.

    Lines that are not valid JSON objects are skipped (a truncated last line after a crash is
    the expected case); the first header is kept; for a problem logged twice (a resumed run)
    the last record wins, in the position of the first.
    """
    header: dict | None = None
    records: dict[tuple[str, str], dict] = {}
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
            key = (str(obj.get("benchmark", "")), str(obj.get("problem_id") or obj.get("id", lineno)))
            records[key] = obj
    if skipped:
        log.warning("%s: skipped %d line(s) that are not JSON objects", path, skipped)
    return header, list(records.values())


@dataclass
class LogData:
    label: str
    path: str
    header: dict | None
    records: list[dict]
    summary: Summary


def _label_for(path: str, header: dict | None) -> str:
    if header:
        if header.get("label"):
            return str(header["label"])
        options = header.get("options") if isinstance(header.get("options"), dict) else {}
        model = header.get("model") or header.get("name")
        mode = header.get("mode") or options.get("mode")
        if model:
            return f"{model} ({mode})" if mode else str(model)
    return Path(path).stem


def load_logs(logs: Mapping[str, str | os.PathLike] | Sequence[str | os.PathLike]) -> list[LogData]:
    """Read and summarise logs given as paths (labels from the headers) or as ``{label: path}``."""
    items = list(logs.items()) if isinstance(logs, Mapping) else [(None, p) for p in logs]
    out: list[LogData] = []
    used: set[str] = set()
    for label, path in items:
        header, records = read_log(path)
        name = label or _label_for(str(path), header)
        base, i = name, 2
        while name in used:
            name, i = f"{base} #{i}", i + 1
        used.add(name)
        out.append(LogData(name, str(path), header, records, summarize(records)))
    return out


def _benchmarks(summaries: Iterable[Summary]) -> list[str]:
    present = {b for s in summaries for b in s.by_benchmark}
    return [b for b in BENCHMARK_ORDER if b in present] + sorted(present - set(BENCHMARK_ORDER))


def _published_by_model(benchmarks: Sequence[str], published: Sequence[PublishedResult]) -> dict[str, dict[str, PublishedResult]]:
    table: dict[str, dict[str, PublishedResult]] = {}
    for r in published:
        if r.benchmark in benchmarks:
            table.setdefault(r.model, {})[r.benchmark] = r
    return table


def _pct(x: float | None, digits: int = 1) -> str:
    return "—" if x is None else f"{100 * x:.{digits}f}%"


# --- terminal -----------------------------------------------------------------------------------


def render_terminal(summaries_by_log: Mapping[str, Summary], published: Sequence[PublishedResult] = PUBLISHED):
    """Rich renderables (a ``Group`` of tables) for ``console.print``.

    Tables: accuracy per benchmark (SA, SA under the published 5 % convention, ER) next to the
    published figures; overall metrics; failure taxonomy; per-template failure rates.
    """
    from rich.console import Group
    from rich.table import Table

    labels = list(summaries_by_log)
    summaries = list(summaries_by_log.values())
    benches = _benchmarks(summaries)
    pub = _published_by_model(benches, published)

    acc = Table(
        title="Accuracy per benchmark — SA (SA at 5 %) / ER",
        title_justify="left",
        caption="published: each paper's own copy of the benchmark and its own check (nlopt_milp.eval.published)",
        caption_justify="left",
    )
    acc.add_column("benchmark")
    acc.add_column("n", justify="right")
    for label in labels:
        acc.add_column(label, justify="right")
    for model in pub:
        acc.add_column(f"{model} (published)", justify="right", style="dim")
    for bench in benches + ["all"]:
        ns = {s.by_benchmark[bench].n if bench != "all" else s.n for s in summaries if bench == "all" or bench in s.by_benchmark}
        row = [bench, "/".join(str(n) for n in sorted(ns))]
        for s in summaries:
            b = s if bench == "all" else s.by_benchmark.get(bench)
            row.append("—" if b is None else f"{_pct(b.sa)} ({_pct(b.sa_5pct)}) / {_pct(b.er, 0)}")
        for model in pub:
            r = pub[model].get(bench)
            row.append(_pct(r.accuracy) if r else "")
        acc.add_row(*row)

    metrics = Table(title="Overall", title_justify="left")
    metrics.add_column("metric")
    for label in labels:
        metrics.add_column(label, justify="right")
    for name, getter in _metric_rows(summaries):
        metrics.add_row(name, *[getter(s) for s in summaries])

    tax = Table(title="Failure taxonomy (problems)", title_justify="left")
    tax.add_column("class")
    for label in labels:
        tax.add_column(label, justify="right")
    for cls in TAXONOMY:
        tax.add_row(cls, *[str(s.taxonomy.get(cls, 0)) for s in summaries])

    tmpl = Table(title="Constraint templates — failed / with template (failure rate)", title_justify="left")
    tmpl.add_column("template")
    for label in labels:
        tmpl.add_column(label, justify="right")
    for name in sorted({t for s in summaries for t in s.templates}):
        cells = []
        for s in summaries:
            st = s.templates.get(name)
            cells.append("—" if st is None else f"{st.problems_failed}/{st.problems_failed + st.problems_passed} ({_pct(st.failure_rate, 0)})")
        tmpl.add_row(name, *cells)
    return Group(acc, metrics, tax, tmpl)


def _metric_rows(summaries: Sequence[Summary]) -> list[tuple[str, Any]]:
    rows: list[tuple[str, Any]] = [
        ("problems", lambda s: str(s.n)),
        ("samples per problem", lambda s: str(s.samples_per_problem)),
        ("SA", lambda s: _pct(s.sa)),
        ("SA (published 5 %)", lambda s: _pct(s.sa_5pct)),
        ("ER", lambda s: _pct(s.er)),
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


def _e(value: Any) -> str:
    return html.escape("" if value is None else str(value), quote=True)


def _svg_grouped_bars(
    groups: Sequence[str],
    series: Sequence[tuple[str, str, Mapping[str, float]]],
    *,
    title: str,
    width: int = 860,
    height: int = 300,
) -> str:
    """Vertical grouped bar chart (values are fractions 0..1) as an inline SVG string."""
    left, right, top, bottom = 46, 10, 28, 70
    plot_w, plot_h = width - left - right, height - top - bottom
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height + 18 * ((len(series) + 2) // 3)}" '
        f'role="img" aria-label="{_e(title)}" font-family="sans-serif" font-size="11">',
        f'<text x="{left}" y="16" font-size="13" font-weight="bold">{_e(title)}</text>',
    ]
    for tick in range(0, 101, 20):
        y = top + plot_h * (1 - tick / 100)
        parts.append(f'<line x1="{left}" x2="{width - right}" y1="{y:.1f}" y2="{y:.1f}" stroke="#ddd"/>')
        parts.append(f'<text x="{left - 6}" y="{y + 4:.1f}" text-anchor="end">{tick}%</text>')
    n_groups = max(len(groups), 1)
    group_w = plot_w / n_groups
    bar_w = max(2.0, (group_w * 0.8) / max(len(series), 1))
    for gi, group in enumerate(groups):
        x0 = left + gi * group_w + group_w * 0.1
        for si, (label, color, values) in enumerate(series):
            value = values.get(group)
            if value is None:
                continue
            h = plot_h * max(0.0, min(1.0, value))
            x = x0 + si * bar_w
            parts.append(
                f'<rect x="{x:.1f}" y="{top + plot_h - h:.1f}" width="{bar_w - 1:.1f}" height="{h:.1f}" fill="{color}">'
                f"<title>{_e(label)} — {_e(group)}: {100 * value:.1f}%</title></rect>"
            )
        cx = left + gi * group_w + group_w / 2
        parts.append(
            f'<text x="{cx:.1f}" y="{top + plot_h + 14}" text-anchor="end" '
            f'transform="rotate(-30 {cx:.1f} {top + plot_h + 14})">{_e(group)}</text>'
        )
    legend_y = height - 4
    for si, (label, color, _) in enumerate(series):
        lx = left + (si % 3) * (plot_w / 3)
        ly = legend_y + (si // 3) * 18
        parts.append(f'<rect x="{lx:.1f}" y="{ly - 9}" width="10" height="10" fill="{color}"/>')
        parts.append(f'<text x="{lx + 14:.1f}" y="{ly}">{_e(label)}</text>')
    parts.append("</svg>")
    return "".join(parts)


def _svg_stacked(rows: Sequence[tuple[str, Mapping[str, int]]], *, title: str, width: int = 860) -> str:
    """Horizontal 100 % stacked bars of the failure taxonomy, one per log."""
    left, top, bar_h, gap = 170, 28, 22, 10
    height = top + len(rows) * (bar_h + gap) + 20 + 16 * ((len(TAXONOMY) + 4) // 5)
    plot_w = width - left - 10
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" role="img" '
        f'aria-label="{_e(title)}" font-family="sans-serif" font-size="11">',
        f'<text x="10" y="16" font-size="13" font-weight="bold">{_e(title)}</text>',
    ]
    for ri, (label, counts) in enumerate(rows):
        y = top + ri * (bar_h + gap)
        total = sum(counts.values()) or 1
        parts.append(f'<text x="{left - 6}" y="{y + 15}" text-anchor="end">{_e(label)}</text>')
        x = float(left)
        for cls in TAXONOMY:
            count = counts.get(cls, 0)
            if not count:
                continue
            w = plot_w * count / total
            parts.append(
                f'<rect x="{x:.1f}" y="{y}" width="{w:.1f}" height="{bar_h}" fill="{TAXONOMY_COLORS.get(cls, "#999")}">'
                f"<title>{_e(label)} — {_e(cls)}: {count} ({100 * count / total:.1f}%)</title></rect>"
            )
            if w > 26:
                parts.append(f'<text x="{x + w / 2:.1f}" y="{y + 15}" text-anchor="middle" fill="#fff">{count}</text>')
            x += w
    ly = top + len(rows) * (bar_h + gap) + 14
    for i, cls in enumerate(TAXONOMY):
        lx = 10 + (i % 5) * (width / 5)
        yy = ly + (i // 5) * 16
        parts.append(f'<rect x="{lx:.1f}" y="{yy - 9}" width="10" height="10" fill="{TAXONOMY_COLORS[cls]}"/>')
        parts.append(f'<text x="{lx + 14:.1f}" y="{yy}">{_e(cls)}</text>')
    parts.append("</svg>")
    return "".join(parts)


def _svg_hbars(
    items: Sequence[str],
    series: Sequence[tuple[str, str, Mapping[str, float]]],
    *,
    title: str,
    width: int = 860,
) -> str:
    """Horizontal grouped bars (fractions 0..1), e.g. failure rate per template per log."""
    left, top, bar_h = 170, 28, 12
    row_h = bar_h * max(len(series), 1) + 8
    height = top + len(items) * row_h + 26
    plot_w = width - left - 60
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" role="img" '
        f'aria-label="{_e(title)}" font-family="sans-serif" font-size="11">',
        f'<text x="10" y="16" font-size="13" font-weight="bold">{_e(title)}</text>',
    ]
    for ii, item in enumerate(items):
        y0 = top + ii * row_h
        parts.append(f'<text x="{left - 6}" y="{y0 + row_h / 2 + 3:.1f}" text-anchor="end">{_e(item)}</text>')
        for si, (label, color, values) in enumerate(series):
            value = values.get(item)
            if value is None:
                continue
            w = plot_w * max(0.0, min(1.0, value))
            y = y0 + si * bar_h
            parts.append(
                f'<rect x="{left}" y="{y}" width="{w:.1f}" height="{bar_h - 2}" fill="{color}">'
                f"<title>{_e(label)} — {_e(item)}: {100 * value:.1f}%</title></rect>"
            )
            parts.append(f'<text x="{left + w + 4:.1f}" y="{y + bar_h - 3}">{100 * value:.0f}%</text>')
    ly = height - 8
    for si, (label, color, _) in enumerate(series):
        lx = left + si * 160
        parts.append(f'<rect x="{lx}" y="{ly - 9}" width="10" height="10" fill="{color}"/>')
        parts.append(f'<text x="{lx + 14}" y="{ly}">{_e(label)}</text>')
    parts.append("</svg>")
    return "".join(parts)


_CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,sans-serif;margin:24px;color:#222;max-width:1100px}
h1{font-size:22px}h2{font-size:18px;margin-top:32px;border-bottom:1px solid #ddd;padding-bottom:4px}
table{border-collapse:collapse;margin:10px 0;font-size:13px}
th,td{border:1px solid #ddd;padding:4px 8px;text-align:right;vertical-align:top}
th:first-child,td:first-child{text-align:left}
td.q{text-align:left;max-width:520px;white-space:pre-wrap}
th{background:#f5f5f5}.pub{color:#666}.good{color:#1a7f37}.bad{color:#b42318}
.note{color:#555;font-size:12px}code{background:#f3f3f3;padding:0 3px}
"""


def _header_table(logs: Sequence[LogData]) -> str:
    rows = []
    for lg in logs:
        header = dict(lg.header or {})
        header.pop("type", None)
        details = "; ".join(f"{k}={json.dumps(v, ensure_ascii=False) if not isinstance(v, str) else v}" for k, v in header.items())
        rows.append(
            f"<tr><td>{_e(lg.label)}</td><td>{_e(Path(lg.path).name)}</td><td>{lg.summary.n}</td>"
            f'<td class="q">{_e(details) or "—"}</td></tr>'
        )
    return "<table><tr><th>log</th><th>file</th><th>problems</th><th>header</th></tr>" + "".join(rows) + "</table>"


def _accuracy_section(logs: Sequence[LogData], published: Sequence[PublishedResult]) -> str:
    summaries = [lg.summary for lg in logs]
    benches = _benchmarks(summaries)
    pub = _published_by_model(benches, published)
    series = [
        (f"{lg.label} SA", LOG_COLORS[i % len(LOG_COLORS)], {b: s.sa for b, s in lg.summary.by_benchmark.items()})
        for i, lg in enumerate(logs)
    ]
    series += [
        (f"{model} (published)", PUBLISHED_COLORS[i % len(PUBLISHED_COLORS)], {b: r.accuracy for b, r in cells.items()})
        for i, (model, cells) in enumerate(pub.items())
    ]
    chart = _svg_grouped_bars(benches, series, title="Solving accuracy per benchmark (ours: rel 1e-4; published: each paper's own check)")
    head = "<tr><th>benchmark</th>" + "".join(
        f"<th>{_e(lg.label)}<br>n</th><th>SA</th><th>SA 5%</th><th>ER</th>" for lg in logs
    ) + "".join(f'<th class="pub">{_e(m)}<br>(published)</th>' for m in pub) + "</tr>"
    body = []
    for bench in benches + ["all"]:
        cells = [f"<td>{_e(bench)}</td>"]
        for lg in logs:
            s = lg.summary if bench == "all" else lg.summary.by_benchmark.get(bench)
            if s is None:
                cells.append("<td>—</td>" * 4)
            else:
                cells.append(f"<td>{s.n}</td><td>{_pct(s.sa)}</td><td>{_pct(s.sa_5pct)}</td><td>{_pct(s.er)}</td>")
        for model, entries in pub.items():
            r = entries.get(bench)
            title = f' title="{_e(r.source)} — {_e(r.dataset)}"' if r else ""
            cells.append(f'<td class="pub"{title}>{_pct(r.accuracy) if r else ""}</td>')
        body.append("<tr>" + "".join(cells) + "</tr>")
    sources = sorted({(r.model, r.metric, r.source, r.dataset) for cells in pub.values() for r in cells.values()})
    notes = "".join(
        f"<li><b>{_e(m)}</b>: {_e(metric)}; {_e(src)}; ground truth: {_e(ds)}</li>" for m, metric, src, ds in sources
    )
    return (
        "<h2>Accuracy per benchmark</h2>"
        + chart
        + "<table>"
        + head
        + "".join(body)
        + "</table>"
        + '<p class="note">SA: chosen (majority) sample correct at relative 1e-4 / absolute 1e-6; '
        "SA 5%: ORLM's convention (integers, 5 % relative); ER: a validated formulation got a solver verdict. "
        "Published figures use their own copies of the benchmarks and their own checks:</p><ul class=\"note\">"
        + notes
        + "</ul>"
    )


def _metrics_section(logs: Sequence[LogData]) -> str:
    summaries = [lg.summary for lg in logs]
    head = "<tr><th>metric</th>" + "".join(f"<th>{_e(lg.label)}</th>" for lg in logs)
    if len(logs) > 1:
        head += "".join(f"<th>Δ {_e(lg.label)} − {_e(logs[0].label)}</th>" for lg in logs[1:])
    head += "</tr>"
    rows = []
    numeric = {
        "SA": lambda s: s.sa,
        "SA (published 5 %)": lambda s: s.sa_5pct,
        "ER": lambda s: s.er,
    }
    for name, getter in _metric_rows(summaries):
        cells = "".join(f"<td>{_e(getter(s))}</td>" for s in summaries)
        if len(logs) > 1:
            if name in numeric:
                base = numeric[name](summaries[0])
                for s in summaries[1:]:
                    delta = numeric[name](s) - base
                    cls = "good" if delta > 0 else "bad" if delta < 0 else ""
                    cells += f'<td class="{cls}">{100 * delta:+.1f} pt</td>'
            else:
                cells += "<td></td>" * (len(logs) - 1)
        rows.append(f"<tr><td>{_e(name)}</td>{cells}</tr>")
    return "<h2>Side by side</h2><table>" + head + "".join(rows) + "</table>"


def _taxonomy_section(logs: Sequence[LogData]) -> str:
    chart = _svg_stacked([(lg.label, lg.summary.taxonomy) for lg in logs], title="Failure taxonomy (one class per problem)")
    head = "<tr><th>class</th>" + "".join(f"<th>{_e(lg.label)}</th>" for lg in logs) + "</tr>"
    rows = []
    for cls in TAXONOMY:
        cells = "".join(
            f"<td>{lg.summary.taxonomy.get(cls, 0)} ({_pct(lg.summary.taxonomy.get(cls, 0) / lg.summary.n if lg.summary.n else 0.0, 0)})</td>"
            for lg in logs
        )
        rows.append(f"<tr><td>{_e(cls)}</td>{cells}</tr>")
    return "<h2>Failure taxonomy</h2>" + chart + "<table>" + head + "".join(rows) + "</table>"


def _templates_section(logs: Sequence[LogData]) -> str:
    names = sorted({t for lg in logs for t in lg.summary.templates})
    if not names:
        return "<h2>Constraint templates</h2><p class=\"note\">No formulations with constraints in these logs.</p>"
    series = [
        (lg.label, LOG_COLORS[i % len(LOG_COLORS)], {t: st.failure_rate for t, st in lg.summary.templates.items()})
        for i, lg in enumerate(logs)
    ]
    chart = _svg_hbars(names, series, title="Failure rate of formulations using each constraint template")
    head = "<tr><th>template</th>" + "".join(
        f"<th>{_e(lg.label)}<br>in passed</th><th>in failed</th><th>failure rate</th>" for lg in logs
    ) + "</tr>"
    rows = []
    for name in names:
        cells = ""
        for lg in logs:
            st = lg.summary.templates.get(name)
            if st is None:
                cells += "<td>—</td><td>—</td><td>—</td>"
            else:
                cells += (
                    f'<td title="{st.uses_passed} constraints">{st.problems_passed}</td>'
                    f'<td title="{st.uses_failed} constraints">{st.problems_failed}</td><td>{_pct(st.failure_rate)}</td>'
                )
        rows.append(f"<tr><td>{_e(name)}</td>{cells}</tr>")
    return (
        "<h2>Constraint templates</h2>"
        + chart
        + "<table>"
        + head
        + "".join(rows)
        + "</table><p class=\"note\">Counts are formulations (chosen sample per problem) that use the template; "
        "hover for the number of constraints.</p>"
    )


def _verdict(record: Mapping[str, Any] | None) -> tuple[bool, str]:
    if record is None:
        return False, "not run"
    scored = score_record(record)
    samples = record.get("samples") or []
    chosen = scored["chosen"]
    sample = samples[chosen] if chosen is not None else None
    cls = classify(sample, record.get("answer"))
    objective = (sample or {}).get("objective")
    text = cls if objective is None else f"{cls}: {objective:g}" if isinstance(objective, (int, float)) else cls
    return bool(scored["correct"]), text


def _problems_section(logs: Sequence[LogData], limit: int = 200) -> str:
    index: dict[tuple[str, str], dict[str, dict]] = {}
    order: list[tuple[str, str]] = []
    for lg in logs:
        for record in lg.records:
            key = (str(record.get("benchmark", "")), str(record.get("id", "")))
            if key not in index:
                index[key] = {}
                order.append(key)
            index[key][lg.label] = record
    rows = []
    for key in order:
        per_log = index[key]
        verdicts = [_verdict(per_log.get(lg.label)) for lg in logs]
        flags = [ok for ok, _ in verdicts]
        if len(logs) > 1:
            if all(flags) or (not any(flags) and len(per_log) == len(logs)):
                continue
        elif flags[0]:
            continue
        any_record = next(iter(per_log.values()))
        question = str(any_record.get("question") or "")
        excerpt = question if len(question) <= 400 else question[:400] + " …"
        cells = "".join(
            f'<td class="{"good" if ok else "bad"}">{"✓" if ok else "✗"} {_e(text)}</td>' for ok, text in verdicts
        )
        rows.append(
            f"<tr><td>{_e(key[0])}/{_e(key[1])}</td><td class=\"q\">{_e(excerpt)}</td>"
            f"<td>{_e(any_record.get('answer'))}</td>{cells}</tr>"
        )
        if len(rows) >= limit:
            break
    title = "Problems where the logs disagree" if len(logs) > 1 else "Failed problems"
    if not rows:
        return f"<h2>{title}</h2><p class=\"note\">None.</p>"
    head = "<tr><th>problem</th><th>question</th><th>answer</th>" + "".join(f"<th>{_e(lg.label)}</th>" for lg in logs) + "</tr>"
    more = f'<p class="note">First {limit} shown.</p>' if len(rows) >= limit else ""
    return f"<h2>{title}</h2><table>{head}{''.join(rows)}</table>{more}"


def render_html(logs: Sequence[LogData], published: Sequence[PublishedResult] = PUBLISHED, title: str = "nlopt eval report") -> str:
    """The report as one HTML string (no external assets)."""
    body = [
        f"<h1>{_e(title)}</h1>",
        _header_table(logs),
        _accuracy_section(logs, published),
        _metrics_section(logs),
        _taxonomy_section(logs),
        _templates_section(logs),
        _problems_section(logs),
    ]
    return (
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
        f"<title>{_e(title)}</title><style>{_CSS}</style></head><body>"
        + "\n".join(body)
        + "</body></html>\n"
    )


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

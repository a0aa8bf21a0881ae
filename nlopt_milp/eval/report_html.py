"""The HTML report of ``nlopt eval report --html``: one self-contained file (inline CSS, inline
SVG charts from :mod:`.charts`, a few lines of inline JS for the problem filter; no network).

Every text that comes from a log (questions, model output, errors, labels, header fields) goes
through :func:`_e`: control characters removed (:func:`report.clean`), then HTML-escaped.
"""

from __future__ import annotations

import json
import re
from typing import Any, Mapping, Sequence

from nlopt_milp.eval.published import PublishedResult
from nlopt_milp.eval.report import (
    FIVE_PCT,
    NOT_RECORDED,
    STRICT,
    LogData,
    Outcome,
    _pct,
    benchmarks_of,
    ci_text,
    clean,
    compare,
    comparison_benchmarks,
    metric_rows,
    our_figures,
    p_text,
    provenance,
    published_figure,
    published_for_benchmarks,
    verdict_text,
)
from nlopt_milp.eval.scoring import TAXONOMY

MAX_PROBLEMS = 2000  # default number of problem details in one page; the rest are counted, not shown
MAX_TEXT = 6000  # characters of one question / model output / error shown
MAX_ROWS = 200  # variables / constraints listed per formulation


def _e(value: Any, limit: int | None = MAX_TEXT) -> str:
    text = clean(value, limit)
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace('"', "&quot;").replace("'", "&#x27;")


def _anchor(key: str) -> str:
    return "p-" + re.sub(r"[^A-Za-z0-9_-]", "_", key)


_CSS = """
*{box-sizing:border-box}
body{font-family:system-ui,-apple-system,Segoe UI,sans-serif;margin:0 auto;padding:16px 24px;color:#222;max-width:1100px}
h1{font-size:22px}h2{font-size:18px;margin-top:32px;border-bottom:1px solid #ddd;padding-bottom:4px}
h3{font-size:15px;margin:18px 0 6px}
table{border-collapse:collapse;margin:10px 0;font-size:12.5px;max-width:100%}
th,td{border:1px solid #ddd;padding:3px 6px;text-align:right;vertical-align:top}
td{white-space:nowrap}td.l{white-space:normal;overflow-wrap:anywhere}
th{background:#f5f5f5}th.l,td.l{text-align:left}th.lg{overflow-wrap:anywhere;min-width:5em}
.pub{color:#666;font-style:italic}.good{color:#1a7f37}.bad{color:#b42318}.nr{color:#999}
.note{color:#555;font-size:12px}code{background:#f3f3f3;padding:0 3px}
svg.chart{display:block;max-width:100%;height:auto;margin:8px 0}
pre{white-space:pre-wrap;overflow-wrap:anywhere;background:#f7f7f7;padding:6px;font-size:12px;max-width:100%}
details.problem{border:1px solid #ddd;border-radius:4px;margin:6px 0;padding:4px 8px}
details.problem>summary{cursor:pointer;overflow-wrap:anywhere;font-size:13px}
td.nm{min-width:9em}
.filters{display:flex;flex-wrap:wrap;gap:8px;align-items:center;font-size:13px}
.filters input{width:260px;max-width:100%}
.tag{display:inline-block;border:1px solid #ccc;border-radius:3px;padding:0 4px;margin:0 2px;font-size:11px}
"""

_JS = """
(function(){
  var q=document.getElementById('f-text'),c=document.getElementById('f-class'),
      t=document.getElementById('f-template'),b=document.getElementById('f-bench'),
      n=document.getElementById('f-count'),items=document.querySelectorAll('details.problem');
  function apply(){
    var text=q.value.toLowerCase(),shown=0;
    items.forEach(function(d){
      var ok=(!c.value||(' '+d.dataset.classes+' ').indexOf(' '+c.value+' ')>=0)
        &&(!t.value||(' '+d.dataset.templates+' ').indexOf(' '+t.value+' ')>=0)
        &&(!b.value||d.dataset.bench===b.value)
        &&(!text||d.textContent.toLowerCase().indexOf(text)>=0);
      d.hidden=!ok; if(ok){shown++;}
    });
    n.textContent=shown+' shown';
  }
  [q,c,t,b].forEach(function(el){el.addEventListener('input',apply);});
  window.addEventListener('hashchange',function(){
    var d=document.getElementById(location.hash.slice(1));
    if(d&&d.tagName==='DETAILS'){d.hidden=false;d.open=true;}
  });
  if(location.hash){window.dispatchEvent(new HashChangeEvent('hashchange'));}
  apply();
})();
"""


# --- sections -----------------------------------------------------------------------------------


def _provenance_section(logs: Sequence[LogData]) -> str:
    rows = [provenance(lg) for lg in logs]
    head = '<tr><th class="l">field</th>' + "".join(f'<th class="l lg">{_e(lg.label)}</th>' for lg in logs) + "</tr>"
    body = []
    for i, (name, _) in enumerate(rows[0]):
        cells = "".join(
            f'<td class="l{" nr" if r[i][1] == NOT_RECORDED else ""}">{_e(r[i][1])}</td>' for r in rows
        )
        body.append(f'<tr><td class="l">{_e(name)}</td>{cells}</tr>')
    return ("<h2>What was measured</h2><table>" + head + "".join(body) + "</table>"
            '<p class="note">From each log\'s header; "not recorded" marks fields a log written by an older '
            "version does not have.</p>")


def _accuracy_section(logs: Sequence[LogData], published: Sequence[PublishedResult]) -> str:
    from nlopt_milp.eval import charts

    benches = benchmarks_of(lg.summary for lg in logs)
    pub = published_for_benchmarks(benches, published)
    groups = benches + (["all"] if len(benches) > 1 else [])
    chart_rows, table_rows = [], []
    for bench in groups:
        for lg in logs:
            for fig in our_figures(lg, bench):
                kind = "strict" if fig.convention == STRICT else "5pct"
                short = "strict" if kind == "strict" else "5 %"
                chart_rows.append({"label": f"{lg.label} ({short}, n={fig.n})", "group": bench,
                                   "value": fig.accuracy, "ci": fig.ci, "kind": kind})
                table_rows.append(
                    f'<tr><td class="l">{_e(bench)}</td><td class="l">{_e(lg.label)}</td>'
                    f'<td class="l">{_e(fig.convention)}</td><td>{fig.n}</td><td>{_pct(fig.accuracy)}</td>'
                    f'<td>{ci_text(fig.ci)}</td><td class="l">these logs</td></tr>'
                )
        for r in (p for p in pub if p.benchmark == bench):
            fig = published_figure(r)
            chart_rows.append({"label": f"◇ {r.model} (published, n={r.n or '?'})", "group": bench,
                               "value": r.accuracy, "ci": fig.ci, "kind": "published"})
            table_rows.append(
                f'<tr class="pub"><td class="l">{_e(bench)}</td><td class="l">◇ {_e(r.model)}</td>'
                f'<td class="l">{_e(r.tolerance)}</td><td>{r.n or "?"}</td><td>{_pct(r.accuracy)}</td>'
                f'<td>{ci_text(fig.ci)}</td><td class="l">{_e(r.dataset_short)}; '
                f'<a href="{_e(r.url)}">source</a></td></tr>'
            )
    chart = charts.forest(chart_rows, "Accuracy per benchmark with 95 % intervals") if chart_rows else ""
    head = ('<tr><th class="l">benchmark</th><th class="l">who</th><th class="l">convention</th><th>n</th>'
            '<th>accuracy</th><th>95% CI (Wilson)</th><th class="l">problem set</th></tr>')
    by_source: dict[tuple, list[str]] = {}  # one note per source, naming its models
    for r in pub:
        models = by_source.setdefault((r.metric, r.source, r.dataset, r.note), [])
        if r.model not in models:
            models.append(r.model)
    notes = "".join(
        f"<li><b>{_e(', '.join(models))}</b>: {_e(metric)}. {_e(src)}. Benchmark copy: {_e(ds)}."
        f"{(' ' + _e(note)) if note else ''}</li>"
        for (metric, src, ds, note), models in by_source.items()
    )
    return (
        "<h2>Accuracy per benchmark</h2>" + chart + "<table>" + head + "".join(table_rows) + "</table>"
        f'<p class="note">Ours, two conventions: <b>{_e(STRICT)}</b>, and <b>{_e(FIVE_PCT)}</b> '
        "(ORLM's check, used by most papers). Intervals: 95 % Wilson score intervals over the n problems. "
        "<b>◇ Published figures were not measured on the problems of these logs</b>: each paper used its own "
        "copy of the benchmark (some copies were later corrected), its own n and its own check, so the "
        "distance between a ◇ row and ours mixes model, problem set and convention.</p>"
        + (f'<ul class="note">{notes}</ul>' if notes else "")
    )


def _comparison_section(logs: Sequence[LogData]) -> str:
    if len(logs) < 2:
        return ""
    base = logs[0]
    parts = ["<h2>Paired comparison</h2>",
             '<p class="note">Each later log against the first, on the problems both logs contain (matched by '
             "stable problem id: benchmark + hash of the problem text). Problems only one log has are counted, "
             "not compared. p: McNemar's exact test on the problems exactly one log got right (strict "
             "convention; 5 % in brackets).</p>"]
    head = ('<tr><th class="l">benchmark</th><th>common</th><th>only in first</th><th>only in second</th>'
            "<th>SA first</th><th>SA second</th><th>Δ</th><th>first only right</th><th>second only right</th>"
            '<th>p (5 %)</th><th class="l">verdict</th></tr>')
    for other in logs[1:]:
        rows = []
        for bench in comparison_benchmarks(base, other):
            p = compare(base, other, bench)
            delta = p.sa_second - p.sa_first
            cls = "good" if delta > 0 else "bad" if delta < 0 else ""
            rows.append(
                f'<tr><td class="l">{_e(bench)}</td><td>{p.n_common}</td><td>{p.only_first}</td><td>{p.only_second}</td>'
                f"<td>{_pct(p.sa_first)}</td><td>{_pct(p.sa_second)}</td><td class=\"{cls}\">{100 * delta:+.1f} pt</td>"
                f"<td>{p.first_correct_only}</td><td>{p.second_correct_only}</td>"
                f"<td>{p_text(p.p_value)} ({p_text(p.p_value_5pct)})</td><td class=\"l\">{_e(verdict_text(p))}</td></tr>"
            )
        parts.append(f"<h3>{_e(base.label)} → {_e(other.label)}</h3><table>{head}{''.join(rows)}</table>")
        overall = compare(base, other)
        if overall.disagree:
            lines = []
            for key in overall.disagree[:MAX_PROBLEMS]:
                a, b = base.outcomes[key], other.outcomes[key]
                lines.append(
                    f'<tr><td class="l"><a href="#{_anchor(key)}">{_e(key)}</a></td><td class="l">{_e(a.benchmark)}</td>'
                    f'<td class="l {"good" if a.correct else "bad"}">{_verdict(a)}</td>'
                    f'<td class="l {"good" if b.correct else "bad"}">{_verdict(b)}</td></tr>'
                )
            parts.append(
                f"<h3>Problems where they disagree ({len(overall.disagree)})</h3><table>"
                f'<tr><th class="l">problem</th><th class="l">benchmark</th><th class="l lg">{_e(base.label)}</th>'
                f'<th class="l lg">{_e(other.label)}</th></tr>' + "".join(lines) + "</table>"
            )
    return "".join(parts)


def _verdict(o: Outcome) -> str:
    objective = (o.sample or {}).get("objective")
    value = f": {objective:g}" if isinstance(objective, (int, float)) and not isinstance(objective, bool) else ""
    return f'{"✓" if o.correct else "✗"} {_e(o.cls)}{_e(value)}'


def _metrics_section(logs: Sequence[LogData]) -> str:
    summaries = [lg.summary for lg in logs]
    head = '<tr><th class="l">metric</th>' + "".join(f'<th class="lg">{_e(lg.label)}</th>' for lg in logs) + "</tr>"
    rows = [f'<tr><td class="l">{_e(name)}</td>' + "".join(f"<td>{_e(get(s))}</td>" for s in summaries) + "</tr>"
            for name, get in metric_rows(summaries)]
    return ("<h2>Overall</h2><table>" + head + "".join(rows) + "</table>"
            '<p class="note">Each log over all its own problems; logs over different problems are compared '
            "only in the paired comparison above.</p>")


def _taxonomy_section(logs: Sequence[LogData]) -> str:
    from nlopt_milp.eval import charts

    chart = charts.stacked_taxonomy([(lg.label, lg.summary.taxonomy) for lg in logs], TAXONOMY,
                                    "Failure taxonomy (one class per problem)")
    head = '<tr><th class="l">class</th>' + "".join(f'<th class="lg">{_e(lg.label)}</th>' for lg in logs) + "</tr>"
    rows = []
    for cls in TAXONOMY:
        cells = "".join(
            f"<td>{lg.summary.taxonomy.get(cls, 0)} ({_pct(lg.summary.taxonomy.get(cls, 0) / lg.summary.n if lg.summary.n else 0.0, 0)})</td>"
            for lg in logs
        )
        rows.append(f'<tr><td class="l">{_e(cls)}</td>{cells}</tr>')
    return "<h2>Failure taxonomy</h2>" + chart + "<table>" + head + "".join(rows) + "</table>"


def _templates_section(logs: Sequence[LogData]) -> str:
    from nlopt_milp.eval import charts

    names = sorted({t for lg in logs for t in lg.summary.templates})
    if not names:
        return '<h2>Constraint templates</h2><p class="note">No formulations with constraints in these logs.</p>'
    series = [(lg.label, {t: st.failure_rate for t, st in lg.summary.templates.items()}) for lg in logs]
    chart = charts.grouped_hbars(names, series, "Failure rate of formulations using each constraint template",
                                 "share of the formulations with the template whose answer was wrong")
    head = '<tr><th class="l">template</th>' + "".join(
        f'<th class="lg">{_e(lg.label)}<br>in passed</th>'
        f"<th>in failed</th><th>failure rate</th>" for lg in logs
    ) + "</tr>"
    rows = []
    for name in names:
        cells = ""
        for lg in logs:
            st = lg.summary.templates.get(name)
            if st is None:
                cells += "<td>—</td><td>—</td><td>—</td>"
            else:
                cells += (f'<td title="{st.uses_passed} constraints">{st.problems_passed}</td>'
                          f'<td title="{st.uses_failed} constraints">{st.problems_failed}</td><td>{_pct(st.failure_rate)}</td>')
        rows.append(f'<tr><td class="l">{_e(name)}</td>{cells}</tr>')
    return ("<h2>Constraint templates</h2>" + chart + "<table>" + head + "".join(rows) + "</table>"
            '<p class="note">Counts are formulations (chosen sample per problem) that use the template; '
            "hover for the number of constraints.</p>")


# --- per-problem detail ---------------------------------------------------------------------------


def formulation_html(data: Any) -> str:
    """The formulation as ``nlopt solve`` shows it (objective; constraints with template and meaning),
    its LaTeX from the emitter in a fold; the raw JSON when it does not validate."""
    from pydantic import ValidationError

    from nlopt_milp.core.formulation import Formulation
    from nlopt_milp.core.templates import CATALOG, render

    if not isinstance(data, Mapping):
        return '<p class="note">No formulation.</p>'
    try:
        f = Formulation.model_validate({**data, "problem": ""})
    except (ValidationError, ValueError, TypeError) as e:
        return (f'<p class="bad">The formulation does not validate: {_e(str(e), 1500)}</p>'
                f"<pre>{_e(json.dumps(data, indent=1, ensure_ascii=False))}</pre>")
    variables = "".join(
        f'<tr><td class="l nm"><code>{_e(v.name)}</code>{"[" + _e(", ".join(v.index)) + "]" if v.index else ""}</td>'
        f'<td class="l">{_e(v.domain)}</td><td class="l">{_e(v.lower)} … {_e(v.upper if v.upper is not None else "∞")}</td>'
        f'<td class="l">{_e(v.description)}</td></tr>'
        for v in f.variables[:MAX_ROWS]
    )
    if len(f.variables) > MAX_ROWS:
        variables += f'<tr><td class="l" colspan="4">… {len(f.variables) - MAX_ROWS} more variables</td></tr>'
    constraints = []
    for c in f.constraints[:MAX_ROWS]:
        try:
            meaning = render(c)
        except Exception as e:  # a slot the renderer cannot read: show why, keep the rest
            meaning = f"(cannot render: {type(e).__name__})"
        title = CATALOG[c.template].title if c.template in CATALOG else c.template
        constraints.append(f'<tr><td class="l nm"><code>{_e(c.name)}</code></td><td class="l">{_e(title)}</td>'
                           f'<td class="l">{_e(meaning)}</td><td class="l note">{_e(c.source)}</td></tr>')
    if len(f.constraints) > MAX_ROWS:
        constraints.append(f'<tr><td class="l" colspan="4">… {len(f.constraints) - MAX_ROWS} more constraints</td></tr>')
    try:
        from nlopt_milp.solve.export import to_latex

        latex = f"<details><summary>LaTeX</summary><pre>{_e(to_latex(f), 20000)}</pre></details>"
    except Exception as e:  # the export refuses what it cannot write; the tables above still hold
        latex = f'<p class="note">No LaTeX: {_e(type(e).__name__)}: {_e(str(e), 300)}</p>'
    return (
        f"<p><b>{_e(f.objective.sense)}</b> <code>{_e(f.objective.expr)}</code></p>"
        '<table><tr><th class="l">variable</th><th class="l">domain</th><th class="l">bounds</th><th class="l">meaning</th></tr>'
        + variables + "</table>"
        + ('<table><tr><th class="l">constraint</th><th class="l">template</th><th class="l">meaning</th>'
           '<th class="l">from the text</th></tr>' + "".join(constraints) + "</table>" if constraints else "")
        + latex
    )


def _sample_html(o: Outcome, events: list[dict] | None) -> str:
    s = o.sample or {}
    samples = o.record.get("samples") or []
    rows = [
        ("status", s.get("status")),
        ("objective", s.get("objective")),
        ("class", o.cls),
        ("executed", "yes" if o.executed else "no"),
        ("repair rounds", s.get("repairs")),
        ("error kind", s.get("error_kind")),
        ("error", s.get("error") or o.record.get("error")),
        ("audit findings", "; ".join(str(x) for x in s.get("findings") or []) or None),
        ("samples", f"{len(samples)} (chosen #{o.record.get('chosen')})" if len(samples) > 1 else None),
        ("tokens", s.get("tokens")),
    ]
    table = "".join(f'<tr><td class="l">{_e(k)}</td><td class="l">{_e(v)}</td></tr>' for k, v in rows if v not in (None, ""))
    raw = s.get("raw")
    return (
        f"<table>{table}</table>"
        + formulation_html(s.get("formulation"))
        + (f"<details><summary>model output (no formulation)</summary><pre>{_e(raw)}</pre></details>" if raw else "")
        + _trace_html(o.record, events)
    )


MAX_TRACE_EVENTS = 200


def _trace_html(record: Mapping[str, Any], events: list[dict] | None) -> str:
    """The repair trace: each sample's rounds and verdict from the log; with the run's ``--trace``
    directory, every request of the problem (stage, round, the problems fed back, the reply)."""
    lines = []
    for k, s in enumerate(record.get("samples") or []):
        if not isinstance(s, Mapping):
            continue
        lines.append(f"sample {k}: {s.get('repairs') or 0} repair round(s) → {s.get('status') or 'no verdict'}"
                     + (f", objective {s.get('objective')}" if s.get("objective") is not None else "")
                     + (f"; {s.get('error_kind') or 'error'}: {clean(s.get('error'), 500)}" if s.get("error") else ""))
    for ev in (events or [])[:MAX_TRACE_EVENTS]:
        errors = "; ".join(str(x) for x in ev.get("errors") or [])
        reply = " | ".join(str(x) for x in ev.get("responses") or [])
        lines.append(f"  sample {ev.get('sample')} · {ev.get('stage')} round {ev.get('round')}"
                     + (f" · problems fed back: {clean(errors, 800)}" if errors else "")
                     + (f" · reply: {clean(reply, 800)}" if reply else ""))
    if events and len(events) > MAX_TRACE_EVENTS:
        lines.append(f"  … {len(events) - MAX_TRACE_EVENTS} more events in the trace file")
    if not lines:
        return ""
    return f"<details><summary>repair trace</summary><pre>{_e(chr(10).join(lines), 40000)}</pre></details>"


def _problems_section(logs: Sequence[LogData], limit: int = MAX_PROBLEMS) -> str:
    order: list[str] = []
    seen: set[str] = set()
    for lg in logs:
        for key in lg.outcomes:
            if key not in seen:
                seen.add(key)
                order.append(key)
    # failures and disagreements first, so they are inside the limit
    def rank(key: str) -> int:
        flags = [lg.outcomes[key].correct for lg in logs if key in lg.outcomes]
        return 0 if (not all(flags)) else 1
    order.sort(key=rank)
    shown = order[:limit]
    classes = sorted({lg.outcomes[k].cls for lg in logs for k in shown if k in lg.outcomes}, key=TAXONOMY.index)
    templates = sorted({t for lg in logs for k in shown if k in lg.outcomes for t in lg.outcomes[k].templates})
    benches = benchmarks_of(lg.summary for lg in logs)
    items = []
    for key in shown:
        per_log = [(lg, lg.outcomes.get(key)) for lg in logs]
        first = next(o for _, o in per_log if o is not None)
        rec = first.record
        cls_set = " ".join(sorted({o.cls for _, o in per_log if o is not None}))
        tmpl_set = " ".join(sorted({t for _, o in per_log if o is not None for t in o.templates}))
        verdicts = " ".join(
            f'<span class="tag {"good" if o.correct else "bad"}">{_e(lg.label, 40)}: {_verdict(o)}</span>'
            if o is not None else f'<span class="tag nr">{_e(lg.label, 40)}: not in log</span>'
            for lg, o in per_log
        )
        body = [f'<p><b>Question</b></p><pre>{_e(rec.get("question"))}</pre>',
                f'<p><b>Ground truth</b>: {_e(rec.get("answer"))} · benchmark {_e(first.benchmark)} · '
                f'id {_e(rec.get("id"))} · stable id <code>{_e(key)}</code></p>']
        for lg, o in per_log:
            body.append(f"<h3>{_e(lg.label)}</h3>"
                        + (_sample_html(o, lg.trace(key)) if o is not None else '<p class="nr">not in this log</p>'))
        items.append(
            f'<details class="problem" id="{_anchor(key)}" data-classes="{_e(cls_set)}" data-templates="{_e(tmpl_set)}" '
            f'data-bench="{_e(first.benchmark)}"><summary><code>{_e(first.benchmark)}/{_e(rec.get("id"), 60)}</code> '
            f'{verdicts} — {_e(rec.get("question"), 140)}</summary>{"".join(body)}</details>'
        )
    options = lambda values: '<option value="">all</option>' + "".join(f'<option value="{_e(v)}">{_e(v)}</option>' for v in values)  # noqa: E731
    more = (f'<p class="note">{len(order) - limit} more problems not shown (limit {limit}, raise it with '
            "--max-problems); failures are listed first.</p>") if len(order) > limit else ""
    return (
        "<h2>Problems</h2>"
        '<div class="filters"><label>search <input id="f-text" type="search" placeholder="text, id, error …"></label>'
        f'<label>class <select id="f-class">{options(classes)}</select></label>'
        f'<label>template <select id="f-template">{options(templates)}</select></label>'
        f'<label>benchmark <select id="f-bench">{options(benches)}</select></label>'
        '<span id="f-count" class="note"></span></div>'
        '<p class="note">Failures first. Open a problem for the question, ground truth, each log\'s answer, '
        "error, formulation (as <code>nlopt solve</code> shows it, LaTeX in a fold) and repair trace.</p>"
        + "".join(items) + more
    )


def render(logs: Sequence[LogData], published: Sequence[PublishedResult], title: str,
           max_problems: int = MAX_PROBLEMS) -> str:
    body = [
        f"<h1>{_e(title)}</h1>",
        _provenance_section(logs),
        _accuracy_section(logs, published),
        _comparison_section(logs),
        _metrics_section(logs),
        _taxonomy_section(logs),
        _templates_section(logs),
        _problems_section(logs, max_problems),
    ]
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{_e(title)}</title><style>{_CSS}</style></head><body>"
        + "\n".join(body)
        + f"<script>{_JS}</script></body></html>\n"
    )

"""Rich output of the CLI: model summaries, status panels, value tables, IIS, issues.

Human output goes through these helpers; `--json` output never does (it is written
with `json.dumps`, one object per line; `check_json` only picks the fields). Nothing here
imports a solver; `binding_lines` imports the solve layer when it is called.

Text from a formulation or a model is data: `clean()` makes it safe for a rich markup
string (control characters escaped by `core.text.safe_text`, markup brackets escaped),
and the consoles of `out()` / `err()` pass every text segment through `safe_text` once
more, so nothing printed can carry a terminal control sequence. `write_json` writes
those characters as \\u escapes.
"""

from __future__ import annotations

import json
import math
import os
import sys
from collections import Counter

from rich.console import Console
from rich.markup import escape as markup_escape
from rich.panel import Panel
from rich.table import Table
from rich.segment import Segment
from rich.text import Text

from ..core.text import safe_json, safe_text

MAX_VALUE_ROWS = 200
ZERO_TOL = 1e-9

STATUS_STYLE = {
    "optimal": "bold green",
    "feasible": "bold yellow",
    "infeasible": "bold red",
    "unbounded": "bold red",
    "time_limit": "bold yellow",
    "error": "bold red",
    "invalid": "bold red",
}


class SafeConsole(Console):
    """A Console whose text segments never carry control characters (rich's own styling and
    cursor codes are added later, from styles and control segments, so they are kept)."""

    def render(self, renderable, options=None):
        for seg in super().render(renderable, options):
            if seg.control is None and seg.text:
                text = safe_text(seg.text)
                if text is not seg.text and text != seg.text:
                    seg = Segment(text, seg.style, seg.control)
            yield seg


def out() -> Console:
    """Console on stdout (created per call so test runners that swap sys.stdout are honoured)."""
    return SafeConsole(file=sys.stdout, highlight=False, soft_wrap=False)


def err() -> Console:
    return SafeConsole(file=sys.stderr, highlight=False, soft_wrap=False)


def clean(text, newlines: bool = True) -> str:
    """Data (a name, a sentence, a message that echoes user text) for a rich markup string.

    `newlines=False` for one-line fields (names, sentences in table cells): a newline there
    is shown as \\n, so a value cannot draw lines of its own into a table."""
    return markup_escape(safe_text(text, newlines=newlines))


escape = clean  # every `render.escape(...)` of the CLI escapes control characters too


def plain(text, newlines: bool = False) -> Text:
    """Data as a rich Text cell (no markup is read from it), control characters escaped."""
    return Text(safe_text(text, newlines=newlines))


def debug() -> bool:
    """NLOPT_DEBUG=1 lets unexpected exceptions through (with their traceback) instead of reporting them."""
    return os.environ.get("NLOPT_DEBUG", "") not in ("", "0")


def write_json(obj) -> None:
    """One JSON object per line on stdout (non-finite numbers become null)."""
    sys.stdout.write(safe_json(json.dumps(json_safe(obj), ensure_ascii=False, allow_nan=False)) + "\n")
    sys.stdout.flush()


def json_safe(obj):
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    if isinstance(obj, int) and not isinstance(obj, bool) and obj.bit_length() > 14_000:
        try:  # past Python's 4,300-digit int-to-text limit json.dumps would raise
            str(obj)
        except ValueError:
            return None
    if isinstance(obj, dict):
        return {str(k): json_safe(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [json_safe(v) for v in obj]
    return obj


def fmt(v) -> str:
    """A number for people: integers without decimals, others with up to 10 significant digits.

    Only human output uses this; --json keeps the solver's numbers unchanged.
    """
    if v is None:
        return "-"
    if isinstance(v, str):
        return v
    try:
        x = float(v)
    except (TypeError, ValueError):
        return str(v)
    if math.isnan(x):
        return "nan"
    if math.isinf(x):
        return "inf" if x > 0 else "-inf"
    # snap solver noise (23.999999 from a MIP) to the integer; 1e-7 relative is below what people read
    if abs(x - round(x)) <= 1e-7 * max(1.0, abs(x)):
        return f"{round(x):,}".replace(",", "") if abs(x) < 1e15 else f"{x:.10g}"
    return f"{x:.10g}"


# --- errors and issues ---------------------------------------------------------------


def print_input_error(source: str, message: str) -> None:
    err().print(f"[bold red]Error:[/] {clean(source)}: {clean(message)}")


def print_issues(source: str, issues, console: Console | None = None) -> None:
    """`source: invalid formulation (N problems)` then one `path: message` line per issue."""
    c = console or err()
    n = len(issues)
    c.print(f"[bold red]Error:[/] {clean(source)}: invalid formulation ({n} problem{'s' if n != 1 else ''}):")
    for i in issues:
        path = getattr(i, "path", "")
        msg = getattr(i, "message", str(i))
        c.print(f"  [cyan]{clean(path)}[/]: {clean(msg)}" if path else f"  {clean(msg)}")


# --- model summary -------------------------------------------------------------------


def model_summary(f) -> dict:
    """Counts of a valid formulation after expanding indices (before linearization).

    {"variables": {domain: columns}, "variables_declared": {domain: n}, "variable_declarations": n,
     "constraints": {template: {"declared": n, "rows": m}}, "sets": n, "parameters": n}
    """
    from ..core.ground import Data
    from ..core.templates import instances

    data = Data(f)
    by_domain: Counter = Counter()
    declared: Counter = Counter()
    for v in f.variables:
        by_domain[v.domain] += len(data.var_keys(v.name))
        declared[v.domain] += 1
    by_template: dict[str, dict[str, int]] = {}
    for c in f.constraints:
        entry = by_template.setdefault(c.template, {"declared": 0, "rows": 0})
        entry["declared"] += 1
        try:
            entry["rows"] += sum(1 for _ in instances(c, data))
        except Exception:
            pass
    return {
        "sets": len(f.sets),
        "parameters": len(f.parameters),
        "variable_declarations": len(f.variables),
        "variables": {d: by_domain[d] for d in ("continuous", "integer", "binary") if declared[d]},
        "variables_declared": {d: declared[d] for d in ("continuous", "integer", "binary") if declared[d]},
        "constraints": by_template,
        "objective": f.objective.sense,
    }


def summary_renderable(f, summary: dict, source: str = "") -> Table:
    """Variables by domain and constraints by template, declared vs. after expanding indices."""
    title = f.name or source or "formulation"
    t = Table(title=f"Model: {clean(title, newlines=False)}", title_justify="left", header_style="bold")
    t.add_column("")
    t.add_column("Declared", justify="right")
    t.add_column("Expanded", justify="right")
    vars_total = sum(summary["variables"].values())
    t.add_row("variables", str(summary["variable_declarations"]), str(vars_total))
    for domain, n in summary["variables"].items():
        t.add_row(f"  {domain}", str(summary["variables_declared"].get(domain, "")), str(n))
    rows = sum(e["rows"] for e in summary["constraints"].values())
    decl = sum(e["declared"] for e in summary["constraints"].values())
    t.add_row("constraints", str(decl), str(rows))
    for name, e in summary["constraints"].items():
        t.add_row(f"  {name}", str(e["declared"]), str(e["rows"]))
    t.add_row("sets / parameters", f"{summary['sets']} / {summary['parameters']}", "")
    t.caption = f"objective: {summary['objective']}"
    t.caption_justify = "left"
    return t


# --- results -------------------------------------------------------------------------


def status_renderable(result, agreement=None) -> Panel:
    status = getattr(result, "status", "error")
    style = STATUS_STYLE.get(status, "bold")
    lines = Text()
    lines.append("Status     ", style="dim")
    lines.append(f"{status}\n", style=style)
    lines.append("Objective  ", style="dim")
    lines.append(f"{fmt(getattr(result, 'objective', None))}\n")
    lines.append("Solver     ", style="dim")
    lines.append(f"{safe_text(getattr(result, 'solver', '') or '-')}\n")
    lines.append("Time       ", style="dim")
    seconds = getattr(result, "seconds", None)
    lines.append(f"{seconds:.3f} s" if isinstance(seconds, (int, float)) else "-")
    build, run = getattr(result, "build_seconds", None), getattr(result, "solve_seconds", None)
    if isinstance(build, (int, float)) and isinstance(run, (int, float)):
        lines.append(f" (building the model {build:.3f} s, solver {run:.3f} s)", style="dim")
    gap = getattr(result, "gap", None)
    if isinstance(gap, (int, float)) and status != "optimal" and math.isfinite(gap):
        lines.append("\nGap        ", style="dim")
        lines.append(f"{gap:.4%}")
    message = getattr(result, "message", "")
    if message:
        lines.append("\nMessage    ", style="dim")
        lines.append(safe_text(message))
    if agreement is not None:
        lines.append("\nCheck      ", style="dim")
        ok = bool(getattr(agreement, "agree", False))
        msg = str(getattr(agreement, "message", "") or "")
        if ok:
            lines.append(safe_text(msg) or "the solvers agree", style="green")
        else:
            lines.append("SOLVERS DISAGREE", style="bold red")
            if msg:
                lines.append(f": {safe_text(msg)}")
    return Panel(lines, title="Result", title_align="left", border_style=style.replace("bold ", ""), expand=False)


def values_renderable(values: dict, f=None) -> Table | Text:
    """Nonzero variable values, in the order the solver returned them."""
    nonzero = [(k, v) for k, v in values.items() if isinstance(v, (int, float)) and abs(v) > ZERO_TOL]
    if not nonzero:
        return Text("All variables are zero.", style="dim")
    desc = {}
    domains = {}
    if f is not None:
        for var in f.variables:
            desc[var.name] = var.description
            domains[var.name] = var.domain
    t = Table(title="Nonzero variable values", title_justify="left", header_style="bold")
    t.add_column("Variable")
    t.add_column("Value", justify="right")
    if any(desc.values()):
        t.add_column("Description")
    for label, v in nonzero[:MAX_VALUE_ROWS]:
        base = label.split("[", 1)[0]
        shown = fmt(round(v)) if domains.get(base) in ("integer", "binary") else fmt(v)
        row = [clean(label, newlines=False), shown]
        if any(desc.values()):
            row.append(clean(desc.get(base, ""), newlines=False))
        t.add_row(*row)
    if len(nonzero) > MAX_VALUE_ROWS:
        t.caption = f"... and {len(nonzero) - MAX_VALUE_ROWS} more nonzero values (use --json for all)"
    return t


def check_json(agreement) -> dict:
    """The `check` field of `solve --check --json`: {"agree", "message", "results": [per backend]}."""
    results = []
    for backend, r in agreement.results.items():
        j = r.to_json()
        results.append({"backend": backend, **{k: j[k] for k in ("solver", "status", "objective", "seconds",
                                                                 "message")}})
    return {"agree": agreement.agree, "message": agreement.message, "results": results}


def print_check(console: Console, agreement) -> None:
    """One line per backend of a --check: `solver: status, objective X`."""
    for r in agreement.results.values():
        console.print(f"  [dim]{clean(r.solver)}:[/] {r.status}, objective {fmt(r.objective)}")


def binding_lines(f, result) -> list[str] | None:
    """Plain-word shadow prices of an LP optimum (`solve.explain_binding`); None for MIPs or when
    they cannot be computed (the explanation is a nicety; NLOPT_DEBUG=1 shows why it failed)."""
    try:
        from ..solve import explain_binding, to_linear_model

        lm = to_linear_model(f)
        if lm.is_mip:
            return None
        return list(explain_binding(lm, result, f))
    except Exception:
        if debug():
            raise
        return None


def binding_renderable(lines: list[str]) -> Panel:
    body = Text("\n".join(f"• {safe_text(ln)}" for ln in lines)) if lines else Text("No binding constraints.", style="dim")
    return Panel(body, title="Binding constraints and shadow prices", title_align="left", expand=False)


def iis_renderable(iis: list) -> Table | Text:
    if not iis:
        return Text("The solver did not report a conflicting subset of constraints.", style="dim")
    t = Table(title="Conflicting constraints (irreducible infeasible subset)", title_justify="left",
              header_style="bold")
    t.add_column("Constraint")
    t.add_column("Source sentence")
    t.add_column("Rows")
    for m in iis:
        constraint = _get(m, "constraint", "")
        source = _get(m, "source", "") or ""
        rows = _get(m, "rows", []) or []
        shown_rows = ", ".join(str(r) for r in rows[:5]) + (f", ... (+{len(rows) - 5})" if len(rows) > 5 else "")
        t.add_row(clean(constraint, newlines=False),
                  clean(source, newlines=False) if source else "[dim](no source sentence)[/]",
                  clean(shown_rows, newlines=False))
    return t


def _get(obj, key, default=None):
    if isinstance(obj, dict):
        return obj.get(key, default)
    return getattr(obj, key, default)

"""`nlopt synth stats` output: rich tables and a self-contained HTML page in the eval report's style."""

from __future__ import annotations

from pathlib import Path

from rich.markup import escape
from rich.table import Table

from ..core.text import safe_text
from ..eval.charts import grouped_hbars
from ..eval.report_html import _CSS, _e


def plain(value) -> str:
    """Text from a file or a model, safe for the terminal: no control characters, no rich markup."""
    return escape(safe_text(str(value)))


def _pct(x) -> str:
    return "–" if x is None else f"{100 * x:.1f}%"


def _rate_table(title: str, rows: dict) -> Table:
    t = Table(title=title)
    for col in ("", "texts", "train", "hard", "contaminated", "acceptance"):
        t.add_column(col, justify="left" if not col else "right")
    for k, r in rows.items():
        t.add_row(plain(k), str(r["n"]), str(r["train"]), str(r["hard"]), str(r["contaminated"]), _pct(r["acceptance"]))
    return t


def terminal(st: dict) -> list:
    out = [f"{st['n']} texts verified; splits: " + ", ".join(f"{plain(k)} {v}" for k, v in st["splits"].items())]
    out.append(_rate_table("acceptance per family", st["by_family"]))
    out.append(_rate_table("acceptance per complexity band", st["by_band"]))
    lt = Table(title="text length (words)")
    for col in ("", "n", "min", "p10", "median", "p90", "max", "mean"):
        lt.add_column(col, justify="left" if not col else "right")
    for k, s in st["text_words"].items():
        lt.add_row(plain(k), *[str(s.get(c, "–")) for c in ("n", "min", "p10", "median", "p90", "max", "mean")])
    out.append(lt)
    stt = Table(title="tokens and time per stage")
    for col in ("stage", "records", "tokens", "tokens / record", "seconds / record"):
        stt.add_column(col, justify="left" if col == "stage" else "right")
    for k, s in st["stages"].items():
        stt.add_row(k, str(s["records"]), str(s["tokens"]), str(s["tokens_per_record"]), str(s["seconds_per_record"]))
    out.append(stt)
    dt = Table(title="dropped")
    dt.add_column("reason")
    dt.add_column("count", justify="right")
    for k, v in st["dropped"].items():
        dt.add_row(plain(k), str(v))
    out.append(dt)
    return out


def _table_html(headers: list[str], rows: list[list]) -> str:
    head = "".join(f"<th>{_e(h)}</th>" for h in headers)
    body = "".join("<tr>" + "".join(f"<td>{_e(c)}</td>" for c in r) + "</tr>" for r in rows)
    return f"<table><tr>{head}</tr>{body}</table>"


def _hbars(items: list, series: list, title: str) -> str:
    return grouped_hbars(items, series, title=title, xlabel="fraction")


def render_html(st: dict, title: str) -> str:
    fam = st["by_family"]
    chart = _hbars(list(fam), [("acceptance", {k: v["acceptance"] for k, v in fam.items()
                                                               if v["acceptance"] is not None})],
                       title="acceptance per family (train / (train + hard))")
    band = st["by_band"]
    band_chart = _hbars(list(band), [("acceptance", {k: v["acceptance"] for k, v in band.items()
                                                                     if v["acceptance"] is not None})],
                            title="acceptance per complexity band")
    lengths = st["text_words"]
    len_chart = _hbars(list(lengths), [("median words / longest median",
                                            {k: (v.get("median") or 0) / max(1, max((x.get("median") or 0)
                                                                                    for x in lengths.values()))
                                             for k, v in lengths.items() if v.get("n")})],
                           title="median text length, relative to the longest")
    rate_rows = lambda t: [[k, r["n"], r["train"], r["hard"], r["contaminated"], _pct(r["acceptance"])]  # noqa: E731
                           for k, r in t.items()]
    parts = [
        "<!doctype html><html><head><meta charset='utf-8'>", f"<title>{_e(title)}</title><style>{_CSS}</style>",
        "</head><body>", f"<h1>{_e(title)}</h1>",
        f"<p>{st['n']} texts verified; splits: {_e(', '.join(f'{k} {v}' for k, v in st['splits'].items()))}</p>",
        "<h2>Acceptance</h2>", chart,
        _table_html(["family", "texts", "train", "hard", "contaminated", "acceptance"], rate_rows(fam)),
        band_chart, _table_html(["band", "texts", "train", "hard", "contaminated", "acceptance"], rate_rows(band)),
        "<h2>Text length (words)</h2>", len_chart,
        _table_html(["texts", "n", "min", "p10", "median", "p90", "max", "mean"],
                    [[k] + [v.get(c, "–") for c in ("n", "min", "p10", "median", "p90", "max", "mean")]
                     for k, v in lengths.items()]),
        "<h2>Tokens and time per stage</h2>",
        _table_html(["stage", "records", "tokens", "tokens / record", "seconds / record"],
                    [[k, s["records"], s["tokens"], s["tokens_per_record"], s["seconds_per_record"]]
                     for k, s in st["stages"].items()]),
        "<h2>Dropped</h2>", _table_html(["reason", "count"], [[k, v] for k, v in st["dropped"].items()]),
        "</body></html>",
    ]
    return "".join(parts)


def write_html(st: dict, path: Path, title: str, overwrite: bool = False) -> None:
    from ..core.files import write_new_output

    write_new_output(path, render_html(st, title), overwrite)  # never replaces a file silently

"""Charts of the HTML report, drawn by matplotlib and inlined as SVG.

Why matplotlib: it renders offline to static SVG, so the report stays one self-contained
file with no JavaScript runtime or CDN; its layout engine (constrained layout +
``bbox_inches="tight"``) keeps legends and labels from overlapping or being cut off. It is
imported lazily (only the HTML report needs it) with the non-interactive Agg backend.

Charts survive grey-scale printing: series differ by marker shape and hatching, not by
colour alone; zero values get a visible marker and a value label.
"""

from __future__ import annotations

import io
import re
from typing import Mapping, Sequence

# (label, hatch) per taxonomy class: distinct hatching and luminance for grey-scale prints
TAXONOMY_STYLE = {
    "correct": ("#7fc97f", ""),  # light: stays apart from no_output (dark grey) in grey-scale
    "wrong_objective": ("#d73027", "///"),
    "infeasible": ("#fc8d59", "\\\\\\"),
    "unbounded": ("#fee08b", "xx"),
    "time_limit": ("#7570b3", ".."),
    "nonlinear": ("#8c510a", "++"),
    "validation_error": ("#e7298a", "--"),
    "no_output": ("#4d4d4d", ""),
    "solver_error": ("#bababa", "oo"),
}
SERIES_STYLE = (  # (colour, hatch) per log: dark/light alternate so greys stay distinct
    ("#08519c", ""),
    ("#fdae6b", "///"),
    ("#2ca25f", "\\\\\\"),
    ("#756bb1", "xx"),
    ("#de2d26", ".."),
    ("#bdbdbd", "++"),
)
WIDTH_IN = 9.0  # figure width; the SVG is scaled to the page width by CSS


def _pyplot():
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    plt.rcParams.update({"font.size": 9, "svg.fonttype": "path", "hatch.linewidth": 0.6})
    return plt


def _svg(fig, title: str) -> str:
    """The figure as an inline ``<svg>`` element that scales down to its container."""
    plt = _pyplot()
    buffer = io.StringIO()
    fig.savefig(buffer, format="svg", bbox_inches="tight", pad_inches=0.08)
    plt.close(fig)
    text = buffer.getvalue()
    text = text[text.index("<svg"):]
    # width/height in pt -> a viewBox-scaled element that never overflows its container
    text = re.sub(r'<svg([^>]*?)\swidth="[^"]*"\sheight="[^"]*"', r'<svg\1 class="chart"', text, count=1)
    return text.replace("<svg", f'<svg role="img" aria-label="{_attr(_plain(title))}"', 1)


def _attr(text: str) -> str:
    return text.replace("&", "&amp;").replace('"', "&quot;").replace("<", "&lt;").replace(">", "&gt;")


def _plain(text: str) -> str:
    """Labels are drawn as text, not parsed: control characters removed, mathtext ($...$) escaped."""
    from nlopt_milp.eval.report import clean

    return clean(text, 120).replace("$", r"\$")


def forest(rows: Sequence[dict], title: str) -> str:
    """Accuracy with 95 % intervals, one row per figure (a forest plot).

    ``rows``: dicts with ``label``, ``group`` (benchmark), ``value``, ``ci`` ((low, high) or None),
    ``kind`` in ``strict`` / ``5pct`` / ``published``. Published rows are hollow diamonds in
    grey with "(published, other problems)" so they are not read as measured on ours.
    """
    plt = _pyplot()
    height = 0.9 + 0.26 * len(rows) + 0.12 * len({r["group"] for r in rows})
    fig, ax = plt.subplots(figsize=(WIDTH_IN, height), layout="constrained")
    styles = {
        "strict": dict(marker="o", color="#08519c", mfc="#08519c", label="ours, strict (rel 1e-4)"),
        "5pct": dict(marker="s", color="#4a4a4a", mfc="white", label="ours, papers' 5 %"),
        "published": dict(marker="D", color="#8c8c8c", mfc="white", label="published: other problem set, own check"),
    }
    seen: set[str] = set()
    y_labels, previous_group = [], None
    for i, r in enumerate(rows):
        y = len(rows) - 1 - i
        if previous_group is not None and r["group"] != previous_group:
            ax.axhline(y + 0.5, color="#cccccc", lw=0.8)
        previous_group = r["group"]
        st = styles[r["kind"]]
        label = st["label"] if r["kind"] not in seen else None
        seen.add(r["kind"])
        if r["ci"] is not None:
            ax.plot(r["ci"], [y, y], color=st["color"], lw=1.6, ls="-" if r["kind"] != "published" else ":")
        ax.plot([r["value"]], [y], ls="none", marker=st["marker"], ms=6, color=st["color"],
                mfc=st["mfc"], mew=1.4, label=label, zorder=3, gid=f"zero-{i}" if r["value"] == 0 else None)
        right = r["ci"][1] if r["ci"] is not None else r["value"]
        ax.annotate(f"{100 * r['value']:.1f}%", (min(right, 1.0), y), xytext=(5, 0), textcoords="offset points",
                    va="center", fontsize=8)
        y_labels.append(_plain(f"{r['group']} · {r['label']}"))
    ax.set_yticks(range(len(rows) - 1, -1, -1), y_labels)
    ax.set_xlim(-0.02, 1.12)
    ax.set_xticks([0, 0.2, 0.4, 0.6, 0.8, 1.0], ["0%", "20%", "40%", "60%", "80%", "100%"])
    ax.set_ylim(-0.7, len(rows) - 0.3)
    ax.grid(axis="x", color="#e5e5e5")
    ax.set_xlabel("accuracy (lines: 95 % Wilson interval)")
    ax.set_title(_plain(title), loc="left", fontsize=10)
    fig.legend(loc="outside lower center", ncol=3, frameon=False)
    return _svg(fig, title)


def stacked_taxonomy(rows: Sequence[tuple[str, Mapping[str, int]]], classes: Sequence[str], title: str) -> str:
    """Horizontal 100 % stacked bars, one per log; counts labelled inside wide segments."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(WIDTH_IN, 1.4 + 0.45 * len(rows)), layout="constrained")
    for i, (label, counts) in enumerate(rows):
        total = sum(counts.values()) or 1
        left = 0.0
        for cls in classes:
            count = counts.get(cls, 0)
            if not count:
                continue
            colour, hatch = TAXONOMY_STYLE.get(cls, ("#999999", ""))
            width = count / total
            ax.barh(i, width, left=left, color=colour, hatch=hatch, edgecolor="white", lw=0.6)
            if width > 0.04:
                dark = cls in ("wrong_objective", "time_limit", "nonlinear", "no_output", "validation_error")
                ax.text(left + width / 2, i, str(count), ha="center", va="center", fontsize=8,
                        color="white" if dark else "black",
                        bbox=dict(boxstyle="round,pad=0.1", fc="none", ec="none"))
            left += width
    from matplotlib.patches import Patch

    handles = [Patch(facecolor=TAXONOMY_STYLE[c][0], hatch=TAXONOMY_STYLE[c][1], edgecolor="white", label=c)
               for c in classes if c in TAXONOMY_STYLE]
    ax.set_yticks(range(len(rows)), [_plain(label) for label, _ in rows])
    ax.invert_yaxis()
    ax.set_xlim(0, 1)
    ax.set_xticks([0, 0.25, 0.5, 0.75, 1.0], ["0%", "25%", "50%", "75%", "100%"])
    ax.set_title(_plain(title), loc="left", fontsize=10)
    fig.legend(handles=handles, loc="outside lower center", ncol=5, frameon=False)
    return _svg(fig, title)


def grouped_hbars(items: Sequence[str], series: Sequence[tuple[str, Mapping[str, float]]], title: str,
                  xlabel: str) -> str:
    """Horizontal grouped bars of fractions (e.g. failure rate per template and log); every value,
    0 included, is labelled, and a 0 gets a tick mark so it is visible."""
    plt = _pyplot()
    k = max(len(series), 1)
    bar = 0.8 / k
    fig, ax = plt.subplots(figsize=(WIDTH_IN, 1.2 + (0.22 * k + 0.12) * len(items)), layout="constrained")
    for si, (label, values) in enumerate(series):
        colour, hatch = SERIES_STYLE[si % len(SERIES_STYLE)]
        ys, xs = [], []
        for ii, item in enumerate(items):
            if item in values:
                ys.append(ii - 0.4 + bar * (si + 0.5))
                xs.append(values[item])
        ax.barh(ys, xs, height=bar * 0.9, color=colour, hatch=hatch, edgecolor="black", lw=0.4, label=_plain(label))
        for y, x in zip(ys, xs):
            if x == 0:  # a zero-length bar is invisible: mark it
                ax.plot([0], [y], marker="|", ms=9, mew=2, color="black", gid=f"zero-{si}-{round(y, 3)}")
            ax.annotate(f"{100 * x:.0f}%", (x, y), xytext=(4, 0), textcoords="offset points", va="center", fontsize=7)
    ax.set_yticks(range(len(items)), [_plain(i) for i in items])
    ax.invert_yaxis()
    ax.set_xlim(0, 1.1)
    ax.set_xticks([0, 0.25, 0.5, 0.75, 1.0], ["0%", "25%", "50%", "75%", "100%"])
    ax.set_xlabel(xlabel)
    ax.set_title(_plain(title), loc="left", fontsize=10)
    if len(series) > 1:
        fig.legend(loc="outside lower center", ncol=min(3, len(series)), frameon=False)
    return _svg(fig, title)

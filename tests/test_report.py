"""`nlopt eval report`: intervals, paired tests, like-for-like comparison, provenance, HTML detail,
and the HTML in a real browser (headless Chromium, where installed)."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from nlopt_milp.eval.published import PUBLISHED
from nlopt_milp.eval.report import (
    NOT_RECORDED,
    compare,
    load_logs,
    provenance,
    render_html,
    render_terminal,
    stable_id,
)
from nlopt_milp.eval.stats import Z_95, mcnemar_exact, wilson_interval

ROOT = Path(__file__).resolve().parents[1]
scipy_stats = pytest.importorskip("scipy.stats")


# --- Wilson and McNemar against independent values -----------------------------------------------


@pytest.mark.parametrize("k,n", [(0, 1), (1, 1), (0, 10), (10, 10), (5, 10), (6, 8), (81, 263), (121, 245), (1, 1000)])
def test_wilson_matches_scipy(k, n):
    ref = scipy_stats.binomtest(k, n).proportion_ci(confidence_level=0.95, method="wilson")
    low, high = wilson_interval(k, n)
    assert low == pytest.approx(ref.low, abs=1e-12) and high == pytest.approx(ref.high, abs=1e-12)


def test_wilson_textbook_values():
    # 0 successes: the interval is [0, z^2 / (n + z^2)] (closed form of the score interval)
    assert wilson_interval(0, 10) == (0.0, pytest.approx(Z_95**2 / (10 + Z_95**2)))
    assert wilson_interval(0, 10)[1] == pytest.approx(0.2775, abs=5e-5)
    # Newcombe (1998), Stat. Med. 17:857, Table I, example 81/263: Wilson 0.2553 to 0.3662
    low, high = wilson_interval(81, 263)
    assert (round(low, 4), round(high, 4)) == (0.2553, 0.3662)
    # symmetric around 1/2 at k = n/2; n = 0 says nothing
    low, high = wilson_interval(15, 30)
    assert low + high == pytest.approx(1.0)
    assert wilson_interval(0, 0) == (0.0, 1.0)
    with pytest.raises(ValueError, match="successes <= n"):
        wilson_interval(3, 2)


@pytest.mark.parametrize("b,c", [(0, 0), (0, 1), (1, 9), (9, 1), (0, 8), (5, 5), (12, 30), (40, 61), (3, 0)])
def test_mcnemar_matches_scipy_binomial(b, c):
    expected = 1.0 if b + c == 0 else scipy_stats.binomtest(min(b, c), b + c, 0.5).pvalue
    assert mcnemar_exact(b, c) == pytest.approx(expected, rel=1e-12)


def test_mcnemar_textbook_values():
    assert mcnemar_exact(1, 9) == 2 * (1 + 10) / 2**10  # two-sided tail of Bin(10, 1/2) at <= 1
    assert mcnemar_exact(0, 8) == 2 / 2**8
    assert mcnemar_exact(5, 5) == 1.0 and mcnemar_exact(0, 1) == 1.0
    with pytest.raises(ValueError):
        mcnemar_exact(-1, 2)


# --- logs ---------------------------------------------------------------------------------------

QUESTIONS = [f"A factory makes product {i}. Maximise profit {i} * x subject to x <= {i + 1}." for i in range(12)]


def _sample(ok: bool, answer: float, template: str = "upper_bound", error: str | None = None) -> dict:
    if error:
        return {"formulation": None, "raw": error, "status": None, "objective": None, "repairs": 1,
                "error": error, "error_kind": "no_output", "templates": []}
    formulation = {
        "variables": [{"name": "x", "domain": "continuous", "lower": 0}],
        "objective": {"sense": "maximize", "expr": "2 * x"},
        "constraints": [{"name": "cap", "source": "x <= 3", "template": template, "slots": {"var": "x", "limit": "3"}}],
    }
    return {"formulation": formulation, "status": "optimal", "objective": answer if ok else answer * 2 + 1,
            "repairs": 0, "error": None, "error_kind": None, "templates": [template]}


def _record(i: int, ok: bool, *, position: int, new_format: bool = False, benchmark: str = "nl4opt",
            error: str | None = None) -> dict:
    answer = float(i + 1)
    rec = {"type": "result", "id": str(position), "benchmark": benchmark, "question": QUESTIONS[i],
           "answer": answer, "samples": [_sample(ok, answer, error=error)], "chosen": 0}
    if new_format:
        rec["problem_id"] = stable_id(benchmark, QUESTIONS[i])
    return rec


def _write(path: Path, header: dict | None, records: list[dict]) -> Path:
    lines = ([json.dumps({"type": "header", **header})] if header is not None else []) + [json.dumps(r) for r in records]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


NEW_HEADER = {
    "format": 2, "benchmark": "nl4opt", "source": "optmath/NL4OPT.json", "dataset_sha256": "ab" * 32,
    "file_sha256": "cd" * 32, "dataset_records": 245, "subset": {"limit": 8, "ids": None, "seed": 7, "problems": 8},
    "backend": "openai", "model": "model-b", "server": "http://127.0.0.1:9/v1", "prompt_version": "p-42",
    "scoring": {"rel_tol": 1e-4, "published_tol": 0.05}, "pipeline": {"mode": "staged", "samples": 1, "max_repairs": 3},
    "solve": {"solver": "highs", "time_limit": 60}, "package": "nlopt-milp 9.9", "started": "2026-12-01T10:00:00Z",
}


@pytest.fixture
def overlapping(tmp_path):
    """Log A (old format: no problem_id, ids by position) on problems 0-9; log B (new format) on 4-11,
    in another order and with other positional ids. Common: 4-9 (6 problems)."""
    a_ok = {i: i % 2 == 0 for i in range(10)}  # A right on 0,2,4,6,8
    b_ok = {i: i not in (10,) for i in range(4, 12)}  # B right on 4..9 and 11
    a = [_record(i, a_ok[i], position=i + 1) for i in range(10)]
    b = [_record(i, b_ok[i], position=100 + k, new_format=True) for k, i in enumerate(reversed(range(4, 12)))]
    log_a = _write(tmp_path / "a.jsonl", {"model": "model-a", "options": {"mode": "single"}}, a)
    log_b = _write(tmp_path / "b.jsonl", NEW_HEADER, b)
    return log_a, log_b


def test_pairs_count_exactly_the_intersection(overlapping):
    a, b = load_logs(list(overlapping))
    p = compare(a, b)
    assert (p.n_common, p.only_first, p.only_second) == (6, 4, 2)
    # on 4..9: A right on 4,6,8; B right on all six -> discordant: A-only 0, B-only 3 (5, 7, 9)
    assert (p.both_correct, p.first_correct_only, p.second_correct_only) == (3, 0, 3)
    assert p.sa_first == pytest.approx(3 / 6) and p.sa_second == pytest.approx(6 / 6)
    assert p.p_value == pytest.approx(scipy_stats.binomtest(0, 3, 0.5).pvalue) == 0.25
    assert len(p.disagree) == 3
    # the whole-log figures are over each log's own problems, not the intersection
    assert a.summary.n == 10 and b.summary.n == 8


def test_json_report_per_log_and_benchmark(overlapping):
    proc = subprocess.run([sys.executable, "-m", "nlopt_milp.cli.app", "eval", "report", *map(str, overlapping), "--json"],
                          capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    first, second = out["logs"].values()
    assert first["n"] == 10 and first["sa"] == pytest.approx(0.5)
    assert first["sa_ci"] == pytest.approx(list(wilson_interval(5, 10)))
    nl = second["by_benchmark"]["nl4opt"]
    assert nl["n"] == 8 and nl["sa"] == pytest.approx(7 / 8) and nl["sa_ci"] == pytest.approx(list(wilson_interval(7, 8)))
    assert {"sa_5pct", "er", "sa_5pct_ci", "er_ci"} <= set(nl)
    paired = out["paired"]
    assert (paired["n_common"], paired["only_first"], paired["only_second"]) == (6, 4, 2)
    assert paired["p_value"] == pytest.approx(0.25)
    assert paired["by_benchmark"]["nl4opt"]["n_common"] == 6
    assert second["provenance"]["prompt version"] == "p-42"
    assert first["provenance"]["benchmark version"] == NOT_RECORDED


def test_pairs_by_benchmark_do_not_mix(tmp_path):
    a = [_record(i, True, position=i, benchmark="nl4opt") for i in range(4)] + \
        [_record(i, False, position=10 + i, benchmark="mamo-easy") for i in range(4)]
    b = [_record(i, True, position=i, benchmark="mamo-easy") for i in range(2)]
    la, lb = load_logs([_write(tmp_path / "a.jsonl", None, a), _write(tmp_path / "b.jsonl", None, b)])
    assert compare(la, lb, "nl4opt").n_common == 0  # the same text in another benchmark is another problem
    mamo = compare(la, lb, "mamo-easy")
    assert (mamo.n_common, mamo.only_first, mamo.second_correct_only) == (2, 2, 2)
    assert compare(la, lb).n_common == 2


def test_provenance_new_and_old_headers(overlapping):
    a, b = load_logs(list(overlapping))
    old, new = dict(provenance(a)), dict(provenance(b))
    for key in ("benchmark version", "subset", "prompt version", "server", "solver"):
        assert old[key] == NOT_RECORDED, key
    assert new["benchmark version"].startswith("sha256 abababab")
    assert new["subset"] == "first 8 (--limit); seed 7; 8 of 245 records"
    assert new["model"] == "model-b" and new["scoring"] == "rel_tol=0.0001, published_tol=0.05"
    assert new["package"] == "nlopt-milp 9.9"


def test_terminal_report_shows_n_intervals_conventions_and_pairing(overlapping):
    from rich.console import Console

    console = Console(record=True, width=260)
    console.print(render_terminal(load_logs(list(overlapping))))
    text = console.export_text()
    assert "23.7–76.3%" in text  # Wilson 5/10
    assert "strict: relative 1e-4" in text and "papers': 5 % relative after rounding to integers" in text
    assert "◇ ORLM-LLaMA-3-8B" in text and "not on the problems of these logs" in text
    assert re.search(r"│\s+6 │\s+4 │\s+2 │", text)  # common / only first / only second
    assert "not recorded" in text and "p-42" in text


# --- HTML ----------------------------------------------------------------------------------------


def test_html_marks_published_and_shows_problem_detail(overlapping, tmp_path):
    logs = load_logs(list(overlapping))
    text = render_html(logs)
    assert text.count("◇") >= len({r.model for r in PUBLISHED if r.benchmark == "nl4opt"})
    assert "Published figures were not measured on the problems of these logs" in text
    assert "95% CI (Wilson)" in text and "23.7–76.3%" in text
    # disagreement table links to the per-problem details
    pid = stable_id("nl4opt", QUESTIONS[5])
    anchor = "p-" + re.sub(r"[^A-Za-z0-9_-]", "_", pid)
    assert f'href="#{anchor}"' in text and f'id="{anchor}"' in text
    # the formulation as `nlopt solve` shows it: template title and rendered meaning
    from nlopt_milp.core.templates import CATALOG

    assert CATALOG["upper_bound"].title in text and "x" in text
    assert "<summary>LaTeX</summary>" in text
    assert "<svg" in text and "class=\"chart\"" in text
    assert 'data-classes="' in text and 'id="f-template"' in text
    assert "http://" not in text.replace("http://127.0.0.1:9/v1", "").split("<h2>Accuracy")[0]


def test_html_and_terminal_strip_control_characters_and_escape(tmp_path):
    from rich.console import Console

    evil = "Maximise <script>alert(1)</script> profit \x1b[31mRED\x1b[0m\x07 \u202eevil\u202c & <b>x</b>"
    rec = _record(0, False, position=1, error=evil)
    rec["question"] = evil
    rec["benchmark"] = "[red]bench\x1b[0m"
    log = _write(tmp_path / "evil.jsonl", {"model": "m\x1b]0;title\x07<i>", "backend": "<vllm>"}, [rec])
    text = render_html(load_logs([log]))
    assert "<script>alert" not in text and "<b>x" not in text and "<i>" not in text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in text
    for ch in ("\x1b", "\x07", "\u202e", "\u202c"):
        assert ch not in text
    console = Console(record=True, width=200)
    console.print(render_terminal(load_logs([log])))
    out = console.export_text()
    assert "\x1b" not in out and "\x07" not in out and "m]0;title<i>" in out
    assert "[red]bench[0m" in out  # a benchmark name is text, not rich markup


def test_invalid_formulation_shows_json_and_reason(tmp_path):
    rec = _record(0, True, position=1)
    rec["samples"][0]["formulation"] = {"variables": [], "objective": {"sense": "maximize", "expr": "x"}}
    text = render_html(load_logs([_write(tmp_path / "bad.jsonl", None, [rec])]))
    assert "The formulation does not validate" in text and "&quot;sense&quot;" in text


# --- the HTML in a browser -------------------------------------------------------------------------

CHROMIUM = next((p for p in map(shutil.which, ("chromium", "chromium-browser", "google-chrome")) if p), None)
needs_chromium = pytest.mark.skipif(CHROMIUM is None, reason="no chromium binary on PATH (Debian: apt-get install chromium)")

# After load: open every <details>, then list the elements whose box leaves the viewport horizontally.
OVERFLOW_CHECK = """<script>
window.addEventListener('load', function () {
  document.querySelectorAll('details').forEach(function (d) { d.open = true; });
  var W = document.documentElement.clientWidth, bad = [];
  document.querySelectorAll('body *').forEach(function (el) {
    var r = el.getBoundingClientRect();
    if (r.width > 0 && (r.right > W + 0.5 || r.left < -0.5)) {
      var h = el.closest('table') ? el.closest('table').previousElementSibling : null;
      bad.push(el.tagName + ' right=' + Math.round(r.right) + (h ? ' after ' + h.tagName + ' ' + h.textContent.slice(0, 40) : ''));
    }
  });
  if (document.documentElement.scrollWidth > W) bad.push('page scrollWidth=' + document.documentElement.scrollWidth);
  var out = document.createElement('pre');
  out.textContent = 'OVERFLOW:' + JSON.stringify({width: W, bad: bad.slice(0, 30), count: bad.length});
  document.body.appendChild(out);
});
</script>"""


def overflowing(html: str, tmp_path: Path, width: int) -> dict:
    page = tmp_path / f"check-{width}.html"
    page.write_text(html.replace("</body>", OVERFLOW_CHECK + "</body>"), encoding="utf-8")
    proc = subprocess.run([CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", f"--window-size={width},900",
                           "--virtual-time-budget=5000", "--dump-dom", page.as_uri()],
                          capture_output=True, text=True, timeout=180)
    found = re.search(r"OVERFLOW:(\{.*?\})</pre>", proc.stdout)
    assert found, (proc.returncode, proc.stderr[-2000:])
    return json.loads(found.group(1).replace("&quot;", '"'))


@needs_chromium
def test_overflow_check_detects_a_wide_element(tmp_path):
    result = overflowing('<!DOCTYPE html><html><body><div style="width:3000px">wide</div></body></html>', tmp_path, 1024)
    assert result["count"] >= 1 and result["width"] > 0


@needs_chromium
@pytest.mark.parametrize("width", [1280, 800])
def test_html_report_fits_the_page_in_chromium(overlapping, tmp_path, width):
    logs = list(overlapping)
    # a third log with long unbroken text, to stress wrapping in every table and detail
    long = "x" * 400
    rec = _record(3, False, position=1, error="Error: " + long)
    rec["question"] = QUESTIONS[3] + " " + long
    logs.append(_write(tmp_path / "c.jsonl", {"model": "model-with-a-rather-long-name-" + "y" * 40}, [rec]))
    result = overflowing(render_html(load_logs(logs)), tmp_path, width)
    assert result["count"] == 0, result


# --- charts, limits, published rows -------------------------------------------------------------


def test_zero_values_get_a_visible_mark():
    from nlopt_milp.eval import charts

    svg = charts.grouped_hbars(["linear", "ratio"], [("a", {"linear": 0.0, "ratio": 0.5}), ("b", {"linear": 0.25})],
                               "t", "x")
    assert svg.count('id="zero-') == 1 and svg.startswith("<svg") and 'class="chart"' in svg
    assert ' width="' not in svg.split(">", 1)[0]  # scales with the page instead of a fixed size
    forest = charts.forest([{"label": "a", "group": "nl4opt", "value": 0.0, "ci": (0.0, 0.3), "kind": "strict"},
                            {"label": "p", "group": "nl4opt", "value": 0.9, "ci": None, "kind": "published"}], "t")
    assert forest.count('id="zero-') == 1


def test_problem_details_are_bounded(overlapping):
    logs = load_logs(list(overlapping))
    text = render_html(logs, max_problems=2)
    assert text.count('<details class="problem"') == 2
    assert "10 more problems not shown (limit 2, raise it with --max-problems)" in text
    # failures come first: both shown problems have a failed verdict in some log
    shown = re.findall(r'<details class="problem"[^>]*>.*?</summary>', text, flags=re.S)
    assert all("✗" in s for s in shown)


def test_published_rows_carry_n_convention_and_copy():
    for r in PUBLISHED:
        assert r.tolerance and r.dataset and r.source and r.url.startswith("https://")
        assert r.n is None or r.n > 0
    by = {(r.model, r.benchmark): r for r in PUBLISHED}
    assert by[("OptMATH-Qwen2.5-32B", "optmath-bench")].n == 193
    sirl = by[("SIRL-Qwen2.5-32B-Gurobi", "optmath-bench")]
    assert sirl.accuracy == pytest.approx(0.458) and sirl.n == 166 and "1e-6" in sirl.tolerance
    assert by[("SIRL-Qwen2.5-7B-Gurobi", "nl4opt")].n is None  # not stated in the source: no interval
    assert by[("ORLM-LLaMA-3-8B", "nl4opt")].n == 245 and "5 %" in by[("ORLM-LLaMA-3-8B", "nl4opt")].tolerance


def test_traces_directory_adds_every_request_to_the_detail(overlapping, tmp_path):
    from nlopt_milp.eval.report import trace_file

    log_a, _ = overlapping
    traces = tmp_path / "traces"
    traces.mkdir()
    pid = stable_id("nl4opt", QUESTIONS[1])
    event = {"sample": 0, "stage": "repair", "round": 1, "messages": [], "responses": ["{\"variables\": <b>"],
             "errors": ["constraints[0]: unknown name 'y'\x1b[2J"]}
    trace_file(traces, pid).write_text(json.dumps({"problem_id": pid, "events": [event]}), encoding="utf-8")
    html = tmp_path / "r.html"
    proc = subprocess.run([sys.executable, "-m", "nlopt_milp.cli.app", "eval", "report", str(log_a), "--traces", str(traces),
                           "--html", str(html)], capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert proc.returncode == 0, proc.stderr
    text = html.read_text(encoding="utf-8")
    assert "sample 0 · repair round 1 · problems fed back: constraints[0]: unknown name &#x27;y&#x27;" in text
    assert "reply: {&quot;variables&quot;: &lt;b&gt;" in text and "\x1b" not in text

    proc = subprocess.run([sys.executable, "-m", "nlopt_milp.cli.app", "eval", "report", str(log_a), "--traces",
                           str(tmp_path / "nowhere")], capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert proc.returncode == 2 and "nowhere" in proc.stderr and "not a directory" in proc.stderr


@needs_chromium
def test_problem_filters_work_in_chromium(overlapping, tmp_path):
    logs = load_logs(list(overlapping))
    wrong = {k for lg in logs for k, o in lg.outcomes.items() if o.cls == "wrong_objective"}
    script = """<script>
window.addEventListener('load', function () {
  function shown() { return Array.prototype.filter.call(document.querySelectorAll('details.problem'),
                                                        function (d) { return !d.hidden; }).length; }
  var all = shown(), c = document.getElementById('f-class'), q = document.getElementById('f-text');
  c.value = 'wrong_objective'; c.dispatchEvent(new Event('input'));
  var byClass = shown();
  c.value = ''; c.dispatchEvent(new Event('input'));
  q.value = 'product 11.'; q.dispatchEvent(new Event('input'));
  var bySearch = shown();
  var out = document.createElement('pre');
  out.textContent = 'FILTERS:' + JSON.stringify([all, byClass, bySearch]);
  document.body.appendChild(out);
});
</script>"""
    page = tmp_path / "filters.html"
    page.write_text(render_html(logs).replace("</body>", script + "</body>"), encoding="utf-8")
    proc = subprocess.run([CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--virtual-time-budget=5000",
                           "--dump-dom", page.as_uri()], capture_output=True, text=True, timeout=180)
    found = re.search(r"FILTERS:(\[.*?\])</pre>", proc.stdout)
    assert found, (proc.returncode, proc.stderr[-2000:])
    assert json.loads(found.group(1)) == [12, len(wrong), 1]


def test_pairs_flag_other_ground_truths(tmp_path):
    a = [_record(i, True, position=i) for i in range(3)]
    b = [_record(i, True, position=i) for i in range(3)]
    b[1]["answer"] = 99.0  # a corrected copy of the benchmark
    la, lb = load_logs([_write(tmp_path / "a.jsonl", None, a), _write(tmp_path / "b.jsonl", None, b)])
    p = compare(la, lb)
    assert p.n_common == 3 and p.answers_differ == 1
    assert "ground truth differs on 1 common problem(s)" in render_html([la, lb])

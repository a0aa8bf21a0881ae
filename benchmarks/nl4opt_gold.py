"""Measure the NL4Opt importer: do the gold formulations solve to the published answers?

    python benchmarks/nl4opt_gold.py [--split test_part_a|dev|PATH] [--nl4opt DIR] [--answers FILE] [--all]

For every record of the split, the gold annotation is converted twice (continuous and
integer variables), both are validated and solved, and the optimum is compared with
the answer recorded for the same problem text in optmath/NL4OPT.json (relative
tolerance 1e-4; texts are matched after collapsing white space, then ignoring case,
white space and punctuation). A problem counts as matched if either variant matches;
a recorded "No Best Solution" is matched by an infeasible or unbounded model.

Every problem that does not match as continuous is listed with a category:

    integer-only        matched, but only with integer variables (integrality not annotated)
    annotation error    the gold annotation is wrong or incomplete (see KNOWN below; the
                        corrected annotation is solved and shown to give the recorded answer)
    answer error        the answer in NL4OPT.json contradicts the problem text itself
    converter gap       a record nlopt_milp.data.nl4opt could not convert (should be none)
    no answer           no answer recorded in NL4OPT.json for this text (answers for the same
                        text in the other benchmark files are shown, for information only)
    UNEXPLAINED         none of the above has been established: investigate

Solves with `nlopt_milp.solve.solve` (falls back to a minimal HiGHS solve of the linear
model where that is not available). Run from the repository root; `--json FILE` keeps
the per-problem results.
"""

from __future__ import annotations

import argparse
import copy
import glob
import json
import math
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from nlopt_milp.core.validate import check  # noqa: E402
from nlopt_milp.data.nl4opt import convert_record, import_nl4opt  # noqa: E402

SHARED = ROOT.parent / "shared"
REL_TOL = 1e-4

# Misses investigated by hand. Each entry: category, reason, and a correction of the raw
# annotation (ops on the record) that the script solves to show the reason holds:
#   ("set", k, {...})  update const_declarations[k];  ("add", {...})  append a constraint
# `integer` says whether the corrected model is solved with integer variables.
# "annotation error": the gold annotation differs from the text (the converter reads it faithfully);
# "answer error": the answer recorded in NL4OPT.json contradicts the text itself.
@dataclass
class Known:
    category: str
    reason: str
    ops: list = field(default_factory=list)
    integer: bool = False


KNOWN: dict[str, Known] = {
    "615752596": Known(
        "annotation error",
        "'B must be larger than A' annotated as B >= A; the answer reads it strictly (B >= A + 1, integers)",
        [("set", 3, {"type": "linear", "terms": {"medicine B": "1", "medicine A": "-1"}, "limit": "1"})],
        integer=True),
    "-114149479": Known(
        "annotation error",
        "the batter constraint carries the milk coefficients (200/300/350 <= 20000) and the milk limit 14000 "
        "is missing",
        [("set", 0, {"terms": {"crepe cake": "400", "sponge cake": "500", "birthday cake": "450"}}),
         ("add", {"type": "linear", "direction": "has", "limit": "14000", "operator": "LESS_OR_EQUAL",
                  "terms": {"crepe cake": "200", "sponge cake": "300", "birthday cake": "350"}})]),
    "-1765797791": Known(
        "annotation error",
        "'must eat three times as many apple as carrot' annotated >=; the answer needs = (and integers)",
        [("set", 0, {"operator": "EQUAL"})], integer=True),
    "-1921036549": Known(
        "annotation error",
        "'a total of 500 units of chemicals' is not annotated; with it the problem is infeasible as recorded",
        [("add", {"type": "sum", "direction": "total", "limit": "500", "operator": "EQUAL"})]),
    "-272035411": Known(
        "annotation error",
        "the anxiety constraint lacks pill 2's 0.2 units (annotated 0.3 * pill1 >= 3); "
        "with them the answer needs integers too",
        [("set", 1, {"terms": {"pill 1": "0.3", "pill 2": "0.2"}})], integer=True),
    # dev.jsonl: records the importer refuses (there is no answer to compare with)
    "-1379231929": Known("annotation error", "the 'at least 1200 new accounts' constraint has no terms"),
    "141730788": Known("annotation error", "the 'at least 150000 orders' constraint has no terms"),
    "-641246185": Known("annotation error", "the objective has no terms"),
    "2041857060": Known(
        "answer error",
        "7500 = all 7500 patients on the regular thermometer, which violates 'at least twice as many by the "
        "electronic one'; the text (and annotation) give 5625"),
    "1694815390": Known(
        "answer error",
        "'No Best Solution' recorded, but the text is feasible: with 'a total of 400 units' read as = "
        "(annotated <=) the optimum is 233.33",
        [("set", 1, {"operator": "EQUAL"})]),
    "-1715698555": Known(
        "answer error",
        "'No Best Solution' recorded, but the text is feasible: with 'small bins must be three times the "
        "large bins' read as = (annotated >=) the integer optimum is 1215",
        [("set", 1, {"operator": "EQUAL"})], integer=True),
}


# --- solving ---------------------------------------------------------------------------

def _solver():
    """`nlopt_milp.solve.solve` when available, else a minimal HiGHS solve of the linear model."""
    try:
        from nlopt_milp.solve import solve  # type: ignore[attr-defined]

        def run(f):
            r = solve(f, iis=False)  # the measurement needs the status, not the clashing constraints
            status = getattr(r.status, "value", r.status)
            return str(status).lower(), r.objective

        return run, "nlopt_milp.solve.solve"
    except ImportError:
        pass

    import highspy

    from nlopt_milp.solve.linear_model import to_linear_model

    def run(f):
        lm = to_linear_model(f)
        h = highspy.Highs()
        h.setOptionValue("output_flag", False)
        inf = highspy.kHighsInf
        for col in lm.columns:
            lo = col.lower if math.isfinite(col.lower) else -inf
            hi = col.upper if math.isfinite(col.upper) else inf
            h.addVar(lo, hi)
        for j, col in enumerate(lm.columns):
            if col.domain in ("integer", "binary"):
                h.changeColIntegrality(j, highspy.HighsVarType.kInteger)
        for j, c in lm.objective.items():
            h.changeColCost(j, c)
        h.changeObjectiveSense(highspy.ObjSense.kMaximize if lm.sense == "maximize" else highspy.ObjSense.kMinimize)
        for row in lm.rows:
            lo, hi = -inf, inf
            if row.sense in ("<=", "=="):
                hi = row.rhs
            if row.sense in (">=", "=="):
                lo = row.rhs
            idx = list(row.coefs)
            h.addRow(lo, hi, len(idx), idx, [row.coefs[j] for j in idx])
        h.run()
        st = h.getModelStatus()
        name = {
            highspy.HighsModelStatus.kOptimal: "optimal",
            highspy.HighsModelStatus.kInfeasible: "infeasible",
            highspy.HighsModelStatus.kUnbounded: "unbounded",
            highspy.HighsModelStatus.kUnboundedOrInfeasible: "infeasible_or_unbounded",
        }.get(st, str(st))
        obj = h.getInfo().objective_function_value + lm.objective_constant if name == "optimal" else None
        return name, obj

    return run, "local HiGHS (nlopt_milp.solve.solve not available)"


# --- answers ---------------------------------------------------------------------------

def ws(s: str) -> str:
    return " ".join(s.split())


def loose(s: str) -> str:
    return re.sub(r"[^a-z0-9]", "", s.lower())


def load_answers(path: Path) -> tuple[dict, dict]:
    exact, folded = {}, {}
    with path.open(encoding="utf-8") as fh:
        for line in fh:
            if line.strip():
                r = json.loads(line)
                exact.setdefault(ws(r["en_question"]), r["en_answer"])
                folded.setdefault(loose(r["en_question"]), r["en_answer"])
    return exact, folded


def other_answers(bench: Path) -> dict[str, list[str]]:
    """Answers for the same text in the other benchmark files (shown for information only)."""
    pool: dict[str, list[str]] = {}
    for fn in sorted(glob.glob(str(bench / "*" / "*.json*"))):
        if fn.endswith("NL4OPT.json"):
            continue
        try:
            with open(fn, encoding="utf-8") as fh:
                rows = [json.loads(x) for x in fh if x.strip()]
        except json.JSONDecodeError:
            with open(fn, encoding="utf-8") as fh:
                rows = json.load(fh)
        for r in rows:
            if not isinstance(r, dict):
                continue
            q = r.get("en_question") or r.get("question") or r.get("Question")
            a = r.get("en_answer", r.get("answer", r.get("Answer")))
            if q:
                pool.setdefault(loose(q), []).append(f"{Path(fn).parent.name}/{Path(fn).stem}={a}")
    return pool


def to_float(a) -> float | None:
    try:
        v = float(a)
    except (TypeError, ValueError):
        return None
    return v if math.isfinite(v) else None


def close(got, want) -> bool:
    if got is None or want is None:
        return False
    return abs(got - want) <= REL_TOL * max(1.0, abs(want)) if want == 0 else abs(got - want) <= REL_TOL * abs(want)


# --- the measurement -------------------------------------------------------------------

NO_SOLUTION = ("infeasible", "unbounded", "infeasible_or_unbounded", "infeasible or unbounded")


def agrees(status: str, got, want_raw) -> bool:
    """The solve agrees with the recorded answer: same number, or no solution where none is recorded."""
    want = to_float(want_raw)
    if want is not None:
        return close(got, want)
    if isinstance(want_raw, str) and "no best solution" in want_raw.lower():
        return any(status.startswith(x) for x in NO_SOLUTION)
    return False


def load_records(path: Path) -> dict[str, dict]:
    recs: dict[str, dict] = {}
    with path.open(encoding="utf-8") as fh:
        for line in fh:
            if line.strip():
                recs.update(json.loads(line))
    return recs


def corrected(run, rid: str, rec: dict, known: Known):
    """Solve the annotation with the corrections of `known` applied: (status, objective)."""
    r = copy.deepcopy(rec)
    for op in known.ops:
        if op[0] == "set":
            r["const_declarations"][op[1]].update(op[2])
        elif op[0] == "add":
            r["const_declarations"].append(op[1])
        else:
            raise ValueError(f"unknown correction {op[0]!r}")
    p = convert_record(rid, r, integer=known.integer)
    if p.formulation is None:
        return f"not converted: {p.error}", None
    issues = check(p.formulation)
    if issues:
        return f"invalid: {issues[0]}", None
    return run(p.formulation)


def measure(path: Path, answers: Path, show_all: bool = False) -> dict:
    run, solver_name = _solver()
    exact, folded = load_answers(answers)
    others = other_answers(answers.parent.parent)
    raw = load_records(path)
    cont = import_nl4opt(path, integer=False)
    intg = import_nl4opt(path, integer=True)
    counts = {"records": len(cont), "converted": 0, "valid": 0, "with answer": 0, "matched": 0,
              "matched continuous": 0, "matched integer only": 0, "of which no solution": 0}
    rows, misses, status = [], {}, {}
    for pc, pi in zip(cont, intg):
        assert pc.id == pi.id
        row = {"id": pc.id, "notes": pc.notes, "expected": None, "got": None, "got_int": None,
               "status": "", "status_int": "", "reason": ""}
        want_raw = exact.get(ws(pc.document))
        if want_raw is None:
            want_raw = folded.get(loose(pc.document))
        row["expected"] = want_raw
        if want_raw is not None:
            counts["with answer"] += 1
        known = KNOWN.get(pc.id)
        if pc.formulation is None:
            row.update(cat=known.category if known else "converter gap",
                       reason=f"not converted: {pc.error}" + (f"; {known.reason}" if known else ""))
        else:
            counts["converted"] += 1
            issues = check(pc.formulation)
            if issues:
                row.update(status="invalid", status_int="invalid",
                           reason="invalid: " + "; ".join(str(i) for i in issues[:2]))
            else:
                counts["valid"] += 1
                row["status"], row["got"] = run(pc.formulation)
                row["status_int"], row["got_int"] = run(pi.formulation)
            mc = agrees(row["status"], row["got"], want_raw)
            mi = agrees(row["status_int"], row["got_int"], want_raw)
            if mc or mi:
                counts["matched"] += 1
                counts["matched continuous" if mc else "matched integer only"] += 1
                if to_float(want_raw) is None:
                    counts["of which no solution"] += 1
            if mc:
                row["cat"] = "matched"
            elif mi:
                row.update(cat="integer-only", reason="matches only with integer variables")
            elif want_raw is None:
                o = others.get(loose(pc.document))
                row.update(cat="no answer", reason="no answer in NL4OPT.json for this text"
                           + (f" (elsewhere: {', '.join(o[:3])})" if o else ""))
            elif known:
                st, val = corrected(run, pc.id, raw[pc.id], known)
                fix = _fmt(val) if val is not None else st
                ok = " = recorded answer" if agrees(st, val, want_raw) else ""
                row.update(cat=known.category, reason=f"{known.reason} [corrected: {fix}{ok}]")
            elif row["status"] == "invalid":
                row["cat"] = "UNEXPLAINED"
            else:
                row.update(cat="UNEXPLAINED", reason=f"status {row['status']} / integer {row['status_int']}")
        status[row["status"] or "not converted"] = status.get(row["status"] or "not converted", 0) + 1
        if row["cat"] != "matched":
            misses[row["cat"]] = misses.get(row["cat"], 0) + 1
        rows.append(row)
    return {"path": str(path), "solver": solver_name, "counts": counts, "misses": misses, "rows": rows,
            "status": status, "show_all": show_all}


def _fmt(v) -> str:
    if v is None:
        return "-"
    if isinstance(v, float):
        return f"{v:.6g}"
    return str(v)


def report(res: dict) -> None:
    c = res["counts"]
    print(f"NL4Opt gold formulations: {res['path']}")
    print(f"solver: {res['solver']}; answers: optmath/NL4OPT.json; relative tolerance {REL_TOL:g}")
    print(f"records {c['records']}, converted {c['converted']}, valid {c['valid']}, "
          f"with an answer {c['with answer']}")
    print(f"matched {c['matched']} of {c['records']} ({c['matched']} of {c['with answer']} with an answer): "
          f"as continuous {c['matched continuous']}, only as integer {c['matched integer only']}; "
          f"{c['of which no solution']} of the matches are 'No Best Solution' answers met by an infeasible model")
    print("solve status (continuous): " + ", ".join(f"{k} {v}" for k, v in sorted(res["status"].items())))
    print("not matched as continuous, by category: "
          + (", ".join(f"{k} {v}" for k, v in sorted(res["misses"].items())) or "none"))
    print()
    print(f"{'id':>12}  {'category':<16} {'expected':>12} {'got (cont)':>12} {'got (int)':>12}  reason")
    order = {"UNEXPLAINED": 0, "converter gap": 1, "annotation error": 2, "answer error": 3, "integer-only": 4,
             "no answer": 5, "matched": 6}
    for r in sorted(res["rows"], key=lambda r: order.get(r["cat"], 9)):
        if r["cat"] == "matched" and not res["show_all"]:
            continue
        got_c = r["got"] if r["got"] is not None else r["status"]
        got_i = r["got_int"] if r["got_int"] is not None else r["status_int"]
        exp = r["expected"]
        if isinstance(exp, str) and to_float(exp) is None:
            exp = "no solution"
        else:
            exp = _fmt(to_float(exp) if exp is not None else None)
        print(f"{r['id']:>12}  {r['cat']:<16} {exp:>12} {_fmt(got_c)[:12]:>12} "
              f"{_fmt(got_i)[:12]:>12}  {r['reason']}")
    notes = [(r["id"], n) for r in res["rows"] for n in r["notes"]]
    if notes:
        print()
        print("conversion notes:")
        for rid, n in notes:
            print(f"  {rid}: {n}")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--split", default="test_part_a", help="test_part_a, dev, or a path to an NL4Opt JSONL file")
    ap.add_argument("--nl4opt", default=str(SHARED / "nl4opt"))
    ap.add_argument("--answers", default=str(SHARED / "benchmarks" / "optmath" / "NL4OPT.json"))
    ap.add_argument("--all", action="store_true", help="list matched problems too")
    ap.add_argument("--json", help="also write the per-problem results here")
    a = ap.parse_args(argv)
    path = Path(a.split)
    if not path.exists():
        path = Path(a.nl4opt) / f"{a.split}.jsonl"
    res = measure(path, Path(a.answers), a.all)
    report(res)
    if a.json:
        Path(a.json).write_text(json.dumps(res, indent=1, default=str))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

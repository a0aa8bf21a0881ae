"""Statistics of a synthesized dataset folder: acceptance per family and complexity band, text
lengths beside NL4Opt and MAMO, tokens and time per stage, drop reasons."""

from __future__ import annotations

import json
import statistics
from collections import Counter, defaultdict
from pathlib import Path

from .dataset import log_path
from .decontam import benchmark_texts, tokens
from .jsonl import SynthError, read_records

SUMMARY = Path("logs") / "summary.json"
REFERENCE = {"NL4Opt": ("nl4opt",), "MAMO": ("mamo",)}  # benchmark files whose name contains these


def length_stats(lengths: list[int]) -> dict:
    if not lengths:
        return {"n": 0}
    q = statistics.quantiles(lengths, n=10, method="inclusive") if len(lengths) > 1 else [lengths[0]] * 9
    return {"n": len(lengths), "min": min(lengths), "p10": round(q[0], 1), "median": statistics.median(lengths),
            "p90": round(q[-1], 1), "max": max(lengths), "mean": round(statistics.fmean(lengths), 1)}


def reference_lengths(paths: list[Path]) -> dict[str, list[int]]:
    out: dict[str, list[int]] = defaultdict(list)
    for p in paths:
        files = sorted(x for x in p.rglob("*") if x.suffix in (".json", ".jsonl")) if p.is_dir() else [p]
        for f in files:
            label = next((k for k, keys in REFERENCE.items() if any(s in f.name.lower() for s in keys)), None)
            if label is None:
                continue
            out[f"{label} ({f.parent.name}/{f.name})"] += [len(tokens(t)) for _, t in benchmark_texts(f)]
    return dict(out)


def compute(dataset_dir: Path, benchmarks: list[Path] | None = None) -> dict:
    log = log_path(dataset_dir)
    if not log.is_file():
        raise SynthError(f"{dataset_dir}: no {log.relative_to(dataset_dir)}; not a dataset written by `nlopt synth verify`")
    recs = read_records(log)
    by_family: dict[str, Counter] = defaultdict(Counter)
    by_band: dict[str, Counter] = defaultdict(Counter)
    by_complexity: dict[str, Counter] = defaultdict(Counter)
    for r in recs:
        for table, key in ((by_family, r.get("family") or "(none)"), (by_band, r.get("band") or "(none)"),
                           (by_complexity, str(r.get("complexity") or "?"))):
            table[key][r.get("split")] += 1
            table[key]["n"] += 1

    def rates(table):
        return {k: {"n": c["n"], "train": c["train"], "hard": c["hard"], "contaminated": c["contaminated"],
                    "acceptance": round(c["train"] / (c["train"] + c["hard"]), 4) if c["train"] + c["hard"] else None}
                for k, c in sorted(table.items())}

    lengths = {"ours": length_stats([len(tokens(r["text"])) for r in recs if isinstance(r.get("text"), str)])}
    for label, ls in reference_lengths(benchmarks or []).items():
        lengths[label] = length_stats(ls)
    stages = {
        "backtranslate": _per_record(recs, "bt_tokens", "bt_seconds"),
        "verify": _per_record([r for r in recs if r.get("split") in ("train", "hard")], "verify_tokens",
                              "verify_seconds"),
    }
    summary = {}
    if (dataset_dir / SUMMARY).is_file():
        summary = json.loads((dataset_dir / SUMMARY).read_text(encoding="utf-8"))
    drops = Counter()
    for stage, s in summary.items():
        for k, v in (s.get("dropped") or {}).items():
            if k != "backtranslation_rejected":
                drops[f"{stage}:{k}"] += v
    splits = Counter(r.get("split") for r in recs)
    if "verify" not in summary and splits.get("contaminated"):
        drops["verify:contaminated"] = splits["contaminated"]
    return {"n": len(recs), "splits": dict(splits), "by_family": rates(by_family), "by_band": rates(by_band),
            "by_complexity": rates(by_complexity), "text_words": lengths, "stages": stages,
            "dropped": dict(sorted(drops.items())), "runs": summary}


def _per_record(recs: list[dict], tok: str, sec: str) -> dict:
    t = [int(r.get(tok) or 0) for r in recs if r.get(tok) is not None]
    s = [float(r.get(sec) or 0.0) for r in recs if r.get(sec) is not None]
    return {"records": len(t), "tokens": sum(t), "tokens_per_record": round(sum(t) / len(t), 1) if t else None,
            "seconds_per_record": round(sum(s) / len(s), 4) if s else None}

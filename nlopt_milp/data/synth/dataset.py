"""The dataset folder, as `push_to_hub` writes one: `data/<split>-0000k-of-0000n.parquet` and a
README.md whose YAML header declares the configs, license, task category, size category and
machine-generated creators. `datasets.load_dataset(DIR)` returns the `train` and `hard` splits;
`load_dataset(DIR, "preference")` the DPO/KTO pairs.

The verify log (`logs/verify.jsonl`) is the source of truth; the parquet files are rewritten
from it (rows sorted by id), so a resumed run gives the same dataset.
"""

from __future__ import annotations

import json
import re
from collections import Counter, defaultdict
from pathlib import Path

from .jsonl import SynthError, read_records
from .prompts import SFT_SYSTEM
from .verify import preference_pairs

LOG = Path("logs") / "verify.jsonl"
SHARD_ROWS = 50_000
SPLIT_FILE = re.compile(r"^(train|hard|preference)-\d{5}-of-\d{5}\.parquet$")
TARGETS = ("gold", "forward")


def log_path(dataset_dir: Path) -> Path:
    return dataset_dir / LOG


def claim(dataset_dir: Path) -> None:
    """Refuse a folder that is not empty and not one of ours (we rewrite its data/ files)."""
    if dataset_dir.exists() and not dataset_dir.is_dir():
        raise SynthError(f"{dataset_dir}: is a file; the dataset output is a folder")
    if dataset_dir.is_dir() and any(dataset_dir.iterdir()) and not log_path(dataset_dir).exists():
        raise SynthError(f"{dataset_dir}: exists and is not a synth dataset folder (no {LOG}); choose another")


def clean_gold(formulation: dict) -> dict:
    """The instance formulation as a training target: the generator's sentences are not quotes of the
    text, so `source` fields are left out."""
    out = {k: v for k, v in formulation.items() if k != "problem"}
    out["constraints"] = [{k: v for k, v in c.items() if k != "source"} for c in formulation.get("constraints", [])]
    return out


def _dumps(obj) -> str:
    return json.dumps(obj, ensure_ascii=False, separators=(",", ":"))


def _messages(text: str, formulation: dict) -> list[dict]:
    return [{"role": "system", "content": SFT_SYSTEM}, {"role": "user", "content": text},
            {"role": "assistant", "content": _dumps(formulation)}]


def rows(records: list[dict], target: str = "gold") -> dict[str, list[dict]]:
    if target not in TARGETS:
        raise SynthError(f"target must be gold or forward, not {target!r}")
    out: dict[str, list[dict]] = {"train": [], "hard": [], "preference": []}
    for r in sorted(records, key=lambda r: str(r["id"])):
        split = r.get("split")
        if split not in ("train", "hard"):
            continue
        samples = r.get("samples") or []
        gold = clean_gold(r["formulation"]) if r.get("formulation") else None
        first_match = next((s for s in samples if s.get("match")), None)
        if target == "forward" and first_match is not None or gold is None:
            chosen = first_match["formulation"] if first_match is not None else None
            used = "forward"
        else:
            chosen, used = gold, "gold"
        if chosen is None:
            continue  # text written elsewhere, no gold and no match: nothing to learn from
        out[split].append({
            "id": str(r["id"]), "family": r.get("family") or "", "complexity": int(r.get("complexity") or 0),
            "score": float(r.get("score") or 0.0), "band": r.get("band") or "", "seed": int(r.get("seed") or 0),
            "scenario": _dumps(r.get("scenario")) if r.get("scenario") is not None else "",
            "text": r["text"], "question": r["text"], "answer": r.get("objective"), "objective": r.get("objective"),
            "status": r.get("status"), "formulation": _dumps(chosen), "target": used,
            "gold_formulation": _dumps(gold) if gold else "", "samples": _dumps(samples),
            "n_samples": len(samples), "matched": int(r.get("matched") or 0),
            "messages": _messages(r["text"], chosen),
        })
        if split == "train":
            for g, b in preference_pairs(r):
                good, bad = samples[g], samples[b]
                out["preference"].append({
                    "id": f"{r['id']}/{g}-{b}", "family": r.get("family") or "",
                    "complexity": int(r.get("complexity") or 0),
                    "prompt": [{"role": "system", "content": SFT_SYSTEM}, {"role": "user", "content": r["text"]}],
                    "chosen": [{"role": "assistant", "content": _dumps(good["formulation"])}],
                    "rejected": [{"role": "assistant", "content": _dumps(bad["formulation"])}],
                    "objective": r.get("objective"), "chosen_objective": good.get("objective"),
                    "rejected_objective": bad.get("objective"), "rejected_verdict": bad.get("verdict") or "",
                })
    return out


def schemas():
    """Fixed column types, so that every shard and both SFT splits agree whatever their values."""
    import pyarrow as pa

    msgs = pa.list_(pa.struct([("role", pa.string()), ("content", pa.string())]))
    s, i, f = pa.string(), pa.int64(), pa.float64()
    sft = pa.schema([("id", s), ("family", s), ("complexity", i), ("score", f), ("band", s), ("seed", i),
                     ("scenario", s), ("text", s), ("question", s), ("answer", f), ("objective", f), ("status", s),
                     ("formulation", s), ("target", s), ("gold_formulation", s), ("samples", s), ("n_samples", i),
                     ("matched", i), ("messages", msgs)])
    pref = pa.schema([("id", s), ("family", s), ("complexity", i), ("prompt", msgs), ("chosen", msgs),
                      ("rejected", msgs), ("objective", f), ("chosen_objective", f), ("rejected_objective", f),
                      ("rejected_verdict", s)])
    return {"train": sft, "hard": sft, "preference": pref}


def _size_category(n: int) -> str:
    for limit, name in ((1_000, "n<1K"), (10_000, "1K<n<10K"), (100_000, "10K<n<100K"),
                        (1_000_000, "100K<n<1M"), (10_000_000, "1M<n<10M")):
        if n < limit:
            return name
    return "10M<n<100M"


def write_dataset(dataset_dir: Path, target: str = "gold", license: str = "mit", shard_rows: int = SHARD_ROWS,
                  extra_stats: dict | None = None) -> dict[str, int]:
    """(Re)write data/ and README.md from the verify log; returns rows per split."""
    import pyarrow as pa
    import pyarrow.parquet as pq
    import yaml

    records = read_records(log_path(dataset_dir))
    by_split = rows(records, target)
    data = dataset_dir / "data"
    data.mkdir(parents=True, exist_ok=True)
    for old in data.iterdir():  # only the shard files this module names
        if SPLIT_FILE.match(old.name):
            old.unlink()
    counts = {}
    schema = schemas()
    for split, items in by_split.items():
        counts[split] = len(items)
        if not items:
            continue
        shards = max(1, -(-len(items) // max(1, shard_rows)))
        for k in range(shards):
            part = items[k * shard_rows:(k + 1) * shard_rows]
            pq.write_table(pa.Table.from_pylist(part, schema=schema[split]), data / f"{split}-{k:05d}-of-{shards:05d}.parquet")
    configs = []
    default = [{"split": s, "path": f"data/{s}-*"} for s in ("train", "hard") if counts[s]]
    if default:
        configs.append({"config_name": "default", "data_files": default})
    if counts["preference"]:
        configs.append({"config_name": "preference", "data_files": [{"split": "train", "path": "data/preference-*"}]})
    header = {
        "license": license, "language": ["en"], "task_categories": ["text-generation"],
        "tags": ["optimization", "operations-research", "milp", "synthetic"],
        "size_categories": [_size_category(sum(counts.values()))],
        "annotations_creators": ["machine-generated"], "language_creators": ["machine-generated"],
        "source_datasets": ["original"], "pretty_name": "nlopt synthesized optimization problems",
        "configs": configs,
    }
    body = readme_body(records, counts, target, extra_stats or {})
    (dataset_dir / "README.md").write_text("---\n" + yaml.safe_dump(header, sort_keys=False) + "---\n\n" + body,
                                           encoding="utf-8")
    return counts


def readme_body(records: list[dict], counts: dict, target: str, extra: dict) -> str:
    fam: dict[str, Counter] = defaultdict(Counter)
    for r in records:
        fam[r.get("family") or "(none)"][r.get("split")] += 1
    lines = [
        "# nlopt synthesized optimization problems", "",
        "Problem texts written by a language model from generated MILP instances (`nlopt synth`), each verified "
        "by formulating the text again and solving it: a text is in `train` when a forward formulation reaches "
        "the instance's optimum (relative difference below the tolerance, same status), in `hard` when none "
        "did (candidate benchmark problems: `nlopt eval --file data/hard-00000-of-00001.parquet`). The "
        f"`preference` config pairs a matching and a non-matching formulation of the same text. Target: {target}.",
        "", "| split | rows |", "|---|---|",
        *[f"| {s} | {n} |" for s, n in counts.items()], "",
        "| family | train | hard | contaminated |", "|---|---|---|---|",
        *[f"| {f} | {c.get('train', 0)} | {c.get('hard', 0)} | {c.get('contaminated', 0)} |"
          for f, c in sorted(fam.items())], "",
    ]
    if extra:
        lines += ["```json", json.dumps(extra, indent=1, sort_keys=True), "```", ""]
    lines += ["Columns of `train` / `hard`: `id`, `family`, `complexity`, `score`, `band`, `seed`, `scenario`, `text` "
              "(also `question`), `objective` (also `answer`), `status`, `formulation` (the target, JSON), `target`, "
              "`gold_formulation`, `samples` (every forward sample: formulation, status, objective, verdict), "
              "`matched`, `messages` (system / user / assistant chat)."]
    return "\n".join(lines) + "\n"


def export_llamafactory(dataset_dir: Path, overwrite: bool = False) -> Path:
    """Write LLaMA-Factory's dataset_info.json (sharegpt format, OpenAI-style messages) beside data/.

    The SFT splits only: the `preference` config is in TRL's conversational DPO format (lists of
    messages), which LLaMA-Factory's ranking format (single messages) does not read.
    """
    data = dataset_dir / "data"
    entries = {}
    for split, name in (("train", "nlopt_synth"), ("hard", "nlopt_synth_hard")):
        files = sorted(p.name for p in data.glob(f"{split}-*.parquet")) if data.is_dir() else []
        for k, f in enumerate(files):
            key = name if len(files) == 1 else f"{name}_{k:05d}"
            entries[key] = {
                "file_name": f"data/{f}", "formatting": "sharegpt",
                "columns": {"messages": "messages"},
                "tags": {"role_tag": "role", "content_tag": "content", "user_tag": "user",
                         "assistant_tag": "assistant", "system_tag": "system"},
            }
    if not entries:
        raise SynthError(f"{dataset_dir}: no data/*.parquet files; run `nlopt synth verify` first")
    from ...core.files import write_new_output

    out = dataset_dir / "dataset_info.json"
    # LLaMA-Factory keeps its registry of datasets in this file: never replace one silently
    write_new_output(out, json.dumps(entries, indent=2) + "\n", overwrite)
    return out

"""Decontamination: drop synthesized texts that share a 13-gram with a benchmark problem.

Texts are lower-cased and split into word tokens (letters and digits); two texts overlap
when they share any run of 13 consecutive tokens (the measure of GPT-3's and OptMATH's
decontamination). Benchmark files are JSON arrays or JSON lines whose records hold the
problem text under one of the usual field names.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass, field
from pathlib import Path

N = 13
TEXT_FIELDS = ("en_question", "question", "Question", "problem", "text", "description")
MAX_FILE_BYTES = 200_000_000
_TOKEN = re.compile(r"[a-z0-9]+(?:\.[0-9]+)?")


def tokens(text: str) -> list[str]:
    return _TOKEN.findall(text.lower())


def grams(text: str, n: int = N) -> set[bytes]:
    t = tokens(text)
    return {hashlib.blake2b(" ".join(t[k:k + n]).encode(), digest_size=8).digest() for k in range(len(t) - n + 1)}


def benchmark_texts(path: Path) -> list[tuple[str, str]]:
    """(source, text) for every problem in a benchmark file or in the .json/.jsonl files under a folder."""
    files = sorted(p for p in path.rglob("*") if p.suffix in (".json", ".jsonl")) if path.is_dir() else [path]
    out: list[tuple[str, str]] = []
    for f in files:
        if f.stat().st_size > MAX_FILE_BYTES:
            continue
        raw = f.read_text(encoding="utf-8", errors="replace")
        try:
            data = json.loads(raw)
            recs = data if isinstance(data, list) else [data]
        except ValueError:
            recs = []
            for line in raw.splitlines():
                try:
                    recs.append(json.loads(line))
                except ValueError:
                    continue
        for r in recs:
            if isinstance(r, dict):
                text = next((r[k] for k in TEXT_FIELDS if isinstance(r.get(k), str)), None)
                if text:
                    out.append((f.name, text))
    return out


@dataclass
class Index:
    sources: list[str] = field(default_factory=list)
    problems: int = 0
    grams: dict[bytes, str] = field(default_factory=dict)  # 13-gram -> benchmark file

    @classmethod
    def build(cls, paths: list[Path]) -> "Index":
        idx = cls()
        for p in paths:
            idx.sources.append(str(p))
            for source, text in benchmark_texts(p):
                idx.problems += 1
                for g in grams(text):
                    idx.grams.setdefault(g, source)
        return idx

    def overlap(self, text: str) -> str | None:
        """The benchmark file a text shares a 13-gram with, or None."""
        for g in grams(text):
            hit = self.grams.get(g)
            if hit is not None:
                return hit
        return None

"""Stage 2: an LLM writes the problem text of each instance; critique and refine rounds.

The writer sees the formulation (with data) and a scenario sampled per instance from
`scenarios.json`. Each round a critic lists discrepancies; our own checks add the
numbers missing from the text (the number audit of the formulate stage, reversed: every
data value must appear) and forbidden giveaways (formulas, variable names, "big-M").
A text that still fails after `refine` rewrites is rejected with its reason — never
replaced by a placeholder. Model output is only ever read as text or JSON.
"""

from __future__ import annotations

import json
import random
import re
import time
from collections import Counter
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Callable

from . import prompts as P
from .jsonl import SynthError, open_output, read_records

MAX_TEXT_CHARS = 12_000  # a longer reply is not a problem text
MAX_DISCREPANCIES = 20

_FORBIDDEN = [
    (re.compile(r"\bbig[\s-]?m\b", re.I), "mentions big-M"),
    (re.compile(r"\b(binary|decision|indicator|auxiliary|integer) variables?\b", re.I), "names a kind of variable"),
    (re.compile(r"\blineari[sz]"), "mentions linearization"),
    (re.compile(r"<=|>=|≤|≥|∑|Σ|\bsum\s*\(|\bs\.t\.", re.I), "contains algebra"),
    (re.compile(r"\b[A-Za-z_]\w*\[[^\]]*\]"), "contains an indexed variable name"),
]


@lru_cache(maxsize=1)
def scenarios() -> list[dict]:
    raw = resources.files("nlopt_milp.data.synth").joinpath("scenarios.json").read_text(encoding="utf-8")
    return json.loads(raw)


def scenario_for(record: dict) -> dict:
    """The scenario of an instance: drawn from its own seed, so reruns and resumes agree."""
    return random.Random(f"scenario/{record.get('seed', record.get('id'))}").choice(scenarios())


def _flatten(v) -> list[float]:
    if isinstance(v, list):
        return [x for item in v for x in _flatten(item)]
    return [float(v)] if isinstance(v, (int, float)) and not isinstance(v, bool) else []


def data_values(formulation: dict) -> list[float]:
    """The numbers a text must state: parameter values, numeric constraint slots and the numbers the formulation
    lists as stated but unused, except 0 and 1 (usually said in words: "none", "exactly one")."""
    vals: list[float] = []
    for p in formulation.get("parameters", []):
        vals += _flatten(p.get("value"))
    for u in formulation.get("unused_numbers", []):
        try:
            vals.append(float(u.get("value")))
        except (TypeError, ValueError):
            pass
    for c in formulation.get("constraints", []):
        for v in (c.get("slots") or {}).values():
            if isinstance(v, str):
                try:
                    vals.append(float(v))
                except ValueError:
                    pass
    out, seen = [], set()
    for x in vals:
        if x not in (0.0, 1.0) and x not in seen:
            seen.add(x)
            out.append(x)
    return out


def _written(x: float) -> str:
    return str(int(x)) if float(x).is_integer() else repr(x)


def missing_numbers(formulation: dict, text: str) -> list[float]:
    """Data values of the instance that the text does not state (percentages count as fractions)."""
    from ...formulate.audit import _used, numbers_in_text

    stated = {v for v, _ in numbers_in_text(text)}
    return [x for x in data_values(formulation) if not _used(x, stated)]


def giveaways(text: str) -> list[str]:
    return [why for rx, why in _FORBIDDEN if rx.search(text)]


def _clean_text(raw: str) -> str:
    text = raw.strip()
    if text.startswith("```") and text.endswith("```"):  # a fenced reply: the text inside
        text = text.strip("`").split("\n", 1)[-1].strip()
    return text


@dataclass
class BTOptions:
    refine: int = 1
    concurrency: int = 64
    temperature: float = 0.7
    max_tokens: int | None = None
    seed: int | None = None


@dataclass
class BTResult:
    record: dict | None  # None: not written (backend failure; --resume retries it)
    error: str | None = None


class BackTranslator:
    def __init__(self, backend, options: BTOptions):
        self.backend = backend
        self.o = options

    async def _ask(self, system: str, user: str, stats: dict, schema: dict | None = None) -> str:
        from ...formulate.llm import ChatRequest

        req = ChatRequest(messages=[{"role": "system", "content": system}, {"role": "user", "content": user}],
                          schema=schema, schema_name="critique" if schema else "formulation",
                          temperature=0.0 if schema else self.o.temperature, max_tokens=self.o.max_tokens,
                          seed=self.o.seed)
        done = await self.backend.acomplete(req)
        stats["requests"] += 1
        stats["tokens"] += done.prompt_tokens + done.completion_tokens
        return done.texts[0] if done.texts else ""

    async def _critique(self, model_json: str, text: str, stats: dict) -> list[str]:
        from ...formulate.llm import NoJSONFound, extract_json

        raw = await self._ask(P.CRITIC_SYSTEM, P.CRITIC_USER.format(formulation=model_json, text=text), stats,
                              schema=P.CRITIQUE_SCHEMA)
        try:
            obj = extract_json(raw)
        except NoJSONFound:
            return ["the reviewer's reply was not JSON; the text could not be checked"]
        items = obj.get("discrepancies") if isinstance(obj.get("discrepancies"), list) else []
        items = [str(x)[:500] for x in items if str(x).strip()][:MAX_DISCREPANCIES]
        if obj.get("complete") is True and not items:
            return []
        return items or ["the reviewer did not find the text complete"]

    async def translate(self, rec: dict) -> BTResult:
        from ...formulate.llm import BackendError, BackendUnavailable

        t0 = time.perf_counter()
        stats = {"requests": 0, "tokens": 0}
        sc = scenario_for(rec)
        form = rec["formulation"]
        model_json = json.dumps(form, ensure_ascii=False)
        numbers = ", ".join(_written(x) for x in data_values(form)) or "(none)"
        out = {k: v for k, v in rec.items() if k not in ("text", "accepted", "reason")}
        out["scenario"] = sc
        try:
            text = _clean_text(await self._ask(P.WRITER_SYSTEM, P.WRITER_USER.format(
                formulation=model_json, numbers=numbers, **sc), stats))
            problems: list[str] = []
            for rnd in range(self.o.refine + 1):
                problems = []
                if not text:
                    problems.append("the reply was empty")
                elif len(text) > MAX_TEXT_CHARS:
                    problems.append(f"the text is longer than {MAX_TEXT_CHARS:,} characters")
                else:
                    miss = missing_numbers(form, text)
                    if miss:
                        problems.append("numbers missing from the text: " + ", ".join(_written(x) for x in miss))
                    problems += [f"the text {why}" for why in giveaways(text)]
                    problems += await self._critique(model_json, text, stats)
                out["rounds"] = rnd
                if not problems or rnd == self.o.refine:
                    break
                text = _clean_text(await self._ask(P.WRITER_SYSTEM, P.REVISER_USER.format(
                    formulation=model_json, text=text, problems="\n".join(f"- {p}" for p in problems), numbers=numbers,
                    **sc), stats))
        except BackendUnavailable:
            raise
        except BackendError as e:
            return BTResult(None, f"{rec.get('id')}: {str(e)[:300]}")
        if problems:
            out.update(text=None, rejected_text=text[:MAX_TEXT_CHARS], accepted=False,
                       reason="; ".join(problems)[:2000])
        else:
            out.update(text=text, accepted=True, reason=None)
        out["bt_tokens"] = stats["tokens"]
        out["bt_requests"] = stats["requests"]
        out["bt_seconds"] = round(time.perf_counter() - t0, 4)
        return BTResult(out)


def reason_kind(reason: str | None) -> str:
    """A short class of a rejection reason, for counts."""
    if not reason:
        return "accepted"
    first = reason.split(";")[0]
    if first.startswith("numbers missing"):
        return "numbers_missing"
    if first.startswith("the text "):
        return "giveaway" if "longer" not in first else "too_long"
    if first.startswith("the reply was empty"):
        return "empty"
    return "critique"


@dataclass
class BTSummary:
    n: int = 0
    accepted: int = 0
    rejected: int = 0
    errors: list = field(default_factory=list)
    already: int = 0
    reasons: Counter = field(default_factory=Counter)
    tokens: int = 0
    seconds: float = 0.0

    def to_json(self) -> dict:
        return {"stage": "backtranslate", "n": self.n, "accepted": self.accepted, "rejected": self.rejected,
                "dropped": dict(sorted(self.reasons.items())), "errors": len(self.errors), "already": self.already,
                "tokens": self.tokens, "seconds": round(self.seconds, 3)}


def load_instances(path: Path) -> list[dict]:
    recs = read_records(path)
    for k, r in enumerate(recs, 1):
        for key in ("id", "formulation"):
            if key not in r:
                raise SynthError(f"{path}: record {k} has no {key!r}; expected the output of `nlopt synth generate`")
    ids = Counter(str(r["id"]) for r in recs)
    dup = [i for i, c in ids.items() if c > 1]
    if dup:
        raise SynthError(f"{path}: id {dup[0]!r} occurs {ids[dup[0]]} times")
    return recs


async def backtranslate(instances: list[dict], backend, out: Path, options: BTOptions, resume: bool = False,
                        on_record: Callable[[dict], None] | None = None) -> BTSummary:
    """Write every instance not yet in `out`, each as it finishes; at most `options.concurrency` requests
    in flight, the instances in progress (at most `backlog(concurrency)`) audited outside that limit."""
    from ...formulate.backends.throttle import Throttled, backlog, bounded

    t0 = time.perf_counter()
    writer, done = open_output(out, resume)
    finished = {str(r.get("id")) for r in done}
    todo = [r for r in instances if str(r["id"]) not in finished]
    s = BTSummary(already=len(finished & {str(r["id"]) for r in instances}))
    bt = BackTranslator(Throttled(backend, options.concurrency), options)
    try:
        async for res in bounded(todo, bt.translate, backlog(options.concurrency)):
            if res.record is None:
                s.errors.append(res.error)
                continue
            rec = res.record
            writer.write(rec)
            s.n += 1
            s.accepted += bool(rec["accepted"])
            s.rejected += not rec["accepted"]
            s.tokens += rec["bt_tokens"]
            if not rec["accepted"]:
                s.reasons[reason_kind(rec["reason"])] += 1
            if on_record is not None:
                on_record(rec)
    finally:
        writer.close()
    s.seconds = time.perf_counter() - t0
    return s

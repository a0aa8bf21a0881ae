"""Prompt texts (files in `prompts/`), the template catalog the model reads, the worked
examples, and the JSON Schema of each pipeline stage.

What the model fills is stricter than the file format: every property is required
(a default is written out as `[]`, `null` or its value), a slot that decides meaning
(`sense`, `demand`, `count`) is never filled in silently, and properties come in the order
the model should think: notes first, data before variables before objective, a
constraint's sentence and reading before its template and slots, a description before
the decisions it explains. Stage 2 and 3 schemas are built per request: the sentences of
the text are an enum, and stage 3 is keyed by the constraints stage 2 classified.

`PROMPT_VERSION` is a hash of everything rendered here, so logs and caches tell runs apart.
"""

from __future__ import annotations

import hashlib
import json
import re
from functools import cache
from importlib import resources
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from ..core.formulation import (
    SLOT_MODELS, TEMPLATE_NAMES, Constraint, Objective, Parameter, Set, UnusedNumber, Variable,
)
from ..core.templates import BINARY, BINARY_LIST, CATALOG, COMPARISON, CONSTANT, FRACTION, LINEAR, LINEAR_LIST

NOTES_MAX = 240  # characters of free thinking at the start of each stage (<= 256: llama.cpp keeps the limit)
READING_MAX = 200  # characters of a constraint's reading
MAX_SENTENCES = 200  # more sentences than this: `source` is a plain string, not an enum
NAME_PATTERN = r"^[A-Za-z][A-Za-z0-9_]*$"

# Output budget per stage (tokens) when the user gives no --max-tokens: a cut-off is
# reported and repaired instead of a reply running on.
MAX_TOKENS = {"entities": 2048, "classify": 2048, "fill": 3072, "formulation": 4096, "repair": 4096,
              "review": 4096}

# Keys the model writes that the file format does not hold; dropped before validation.
MODEL_ONLY_KEYS = ("notes", "reading")


@cache
def text(name: str) -> str:
    return resources.files(__package__).joinpath("prompts", f"{name}.md").read_text(encoding="utf-8")


# --- property order ---------------------------------------------------------------------
# One rank decides the order of properties in every schema and of keys in every rendered
# example, so a model that copies an example can always continue within the grammar.
_FIRST = ("notes", "source", "reading", "name", "description")


def _rank(keys) -> list:
    first = [k for k in _FIRST if k in keys]
    return first + [k for k in keys if k not in _FIRST]


def ordered(value):
    """`value` with every object's keys in schema order (for rendering examples)."""
    if isinstance(value, list):
        return [ordered(v) for v in value]
    if isinstance(value, dict):
        return {k: ordered(value[k]) for k in _rank(list(value))}
    return value


# --- stage models ---------------------------------------------------------------------


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


Notes = Field(default="", max_length=NOTES_MAX, description="Short thinking before the answer.")


class Entities(_Strict):
    """Stage 1: the data and the decisions."""

    notes: str = Notes
    sets: list[Set] = Field(default_factory=list)
    parameters: list[Parameter] = Field(default_factory=list)
    variables: list[Variable] = Field(min_length=1)
    unused_numbers: list[UnusedNumber] = Field(default_factory=list)


ROLES = ("objective", "constraint", "data", "other")
SENSES = ("<=", ">=", "==")


class SentenceRole(_Strict):
    text: str
    role: Literal[ROLES]  # type: ignore[valid-type]


class ObjectiveClass(_Strict):
    source: str
    description: str
    sense: Literal["minimize", "maximize"]


class ClassifiedConstraint(_Strict):
    source: str
    reading: str = Field(max_length=READING_MAX)
    name: str = Field(pattern=NAME_PATTERN, max_length=64)
    template: Literal[TEMPLATE_NAMES]  # type: ignore[valid-type]
    sense: Literal[SENSES] | None  # type: ignore[valid-type]


class Classification(_Strict):
    """Stage 2: each sentence's role, the objective's direction, each constraint's template and direction."""

    notes: str = Notes
    sentences: list[SentenceRole] = Field(min_length=1)
    objective: ObjectiveClass
    constraints: list[ClassifiedConstraint] = Field(min_length=1)


class ModelFormulation(_Strict):
    """The whole formulation in one reply (single mode, repairs): the file format, as the model fills it."""

    notes: str = Notes
    sets: list[Set] = Field(default_factory=list)
    parameters: list[Parameter] = Field(default_factory=list)
    variables: list[Variable] = Field(min_length=1)
    objective: Objective
    constraints: list[Constraint] = Field(min_length=1)
    unused_numbers: list[UnusedNumber] = Field(default_factory=list)


STAGE_MODELS: dict[str, type[BaseModel]] = {
    "entities": Entities,
    "classify": Classification,
    "formulation": ModelFormulation,
}


def _slot_model(template: str) -> type[BaseModel]:
    return SLOT_MODELS[template]


def slot_fields(template: str) -> dict:
    return _slot_model(template).model_fields


MODE_OF_SENSE = {">=": "at_least", "<=": "at_most", "==": "exactly"}
IMPLIED_SENSE = {"upper_bound": "<=", "lower_bound": ">="}


def has_direction(template: str) -> bool:
    """Stage 2 must give a sense: the template's `sense` slot (or k_of_n's `mode`) takes it."""
    return "sense" in slot_fields(template) or template == "k_of_n"


# --- schemas for the model -----------------------------------------------------------------


def for_model(schema):
    """A pydantic schema as the model fills it: no titles/descriptions/defaults, every property required,
    properties in thinking order, `notes`/`reading` bounded."""
    if isinstance(schema, list):
        return [for_model(x) for x in schema]
    if not isinstance(schema, dict):
        return schema
    out = {}
    for key, value in schema.items():
        if key in ("title", "description", "default"):
            continue
        if key == "$defs":
            out[key] = {name: for_model(sub) for name, sub in value.items()}
        elif key == "properties":
            out[key] = {name: for_model(value[name]) for name in _rank(list(value))}
        else:
            out[key] = for_model(value)
    if "properties" in out:
        out["required"] = list(out["properties"])
        out["additionalProperties"] = False
    return out


def _with_reading(schema: dict) -> dict:
    """Single-mode constraints get a `reading` after their `source` (the model's paraphrase with its direction word)."""
    for d in schema.get("$defs", {}).values():
        props = d.get("properties", {})
        if "template" in props and "reading" not in props:
            new = {}
            for k, v in props.items():
                new[k] = v
                if k == "source":
                    new["reading"] = {"type": "string", "maxLength": READING_MAX}
            d["properties"] = new
            d["required"] = list(new)
    return schema


@cache
def _stage_schema_json(stage: str) -> str:
    schema = for_model(STAGE_MODELS[stage].model_json_schema())
    if stage == "formulation":
        schema = _with_reading(schema)
    return json.dumps(schema)


def stage_schema(stage: str) -> dict:
    """The fixed JSON Schema of a stage (entities, formulation; classify without its per-request enums)."""
    return json.loads(_stage_schema_json(stage))


# --- sentences ---------------------------------------------------------------------------

_SENTENCE_END = re.compile(r"[.?!]+[\"')\u201d\u2019]*(?=\s+[\"'(\u201c\u2018$A-Z0-9])")
_ABBREVIATIONS = {"mr", "mrs", "ms", "dr", "st", "jr", "sr", "inc", "co", "ltd", "corp", "vs", "etc", "no",
                  "e.g", "i.e", "approx", "dept", "mt", "ft", "oz", "lb", "lbs"}


def sentences(problem: str) -> list[str]:
    """The sentences of a problem text, in order, without repeats (what `source` may quote)."""
    cuts = []
    for m in _SENTENCE_END.finditer(problem):
        before = re.search(r"([A-Za-z.]+)\.$", problem[: m.start() + 1]) if problem[m.start()] == "." else None
        if before and before.group(1).lower().rstrip(".") in _ABBREVIATIONS:
            continue
        cuts.append(m.end())
    out, start = [], 0
    for c in cuts + [len(problem)]:
        s = " ".join(problem[start:c].split())
        if s and s not in out:
            out.append(s)
        start = c
    return out


def _source_schema(problem: str) -> dict:
    found = sentences(problem)
    if 0 < len(found) <= MAX_SENTENCES:
        return {"enum": found}
    return {"type": "string"}


def classify_schema(problem: str) -> dict:
    """Stage 2's schema for one problem: `source` and `sentences[].text` are the text's sentences."""
    schema = stage_schema("classify")
    src = _source_schema(problem)
    defs = schema["$defs"]
    defs["SentenceRole"]["properties"]["text"] = src
    defs["ObjectiveClass"]["properties"]["source"] = src
    defs["ClassifiedConstraint"]["properties"]["source"] = src
    return schema


def fill_schema(entities: Entities, classification: Classification) -> dict:
    """Stage 3's schema for one problem: one entry per classified constraint (all required), each with its
    template's slots, the direction stage 2 decided fixed, and `forall` sets among the declared ones."""
    set_names = [s.name for s in entities.sets]
    binding = {"type": "object", "properties": {"index": {"type": "string", "pattern": NAME_PATTERN},
                                                "set": {"enum": set_names}},
               "required": ["index", "set"], "additionalProperties": False}
    bindings = {"type": "array", "items": binding} if set_names else {"type": "array", "maxItems": 0}
    expr = {"type": "string", "minLength": 1}
    entries = {}
    for c in classification.constraints:
        slots = for_model(_slot_model(c.template).model_json_schema())
        slots.pop("$defs", None)
        props = slots["properties"]
        for key, sub in list(props.items()):
            if sub.get("items", {}).get("$ref", "").endswith("Binding"):
                props[key] = {**bindings, "minItems": 1} if set_names else bindings
        if c.sense is not None and "sense" in props:
            props["sense"] = {"enum": [c.sense]}
        if c.sense is not None and c.template == "k_of_n":
            props["mode"] = {"enum": [MODE_OF_SENSE[c.sense]]}
        entries[c.name] = {"type": "object",
                           "properties": {"forall": bindings, "where": {"anyOf": [expr, {"type": "null"}]},
                                          "slots": slots},
                           "required": ["forall", "where", "slots"], "additionalProperties": False}
    return {"type": "object",
            "properties": {"notes": {"type": "string", "maxLength": NOTES_MAX},
                           "objective": {"type": "object", "properties": {"expr": expr}, "required": ["expr"],
                                         "additionalProperties": False},
                           "constraints": {"type": "object", "properties": entries, "required": list(entries),
                                           "additionalProperties": False}},
            "required": ["notes", "objective", "constraints"], "additionalProperties": False}


# --- the catalog as the model sees it -------------------------------------------------------
# Meaning, cue phrases and one filled example per template; the slot list is generated from
# the slot models (required / may be null, kind), so prompt and data model cannot drift apart.

GUIDE: dict[str, tuple[str, str, dict]] = {
    "upper_bound": ("one term is at most a constant", "at most, no more than, cannot exceed, up to",
                    {"var": "x['a']", "limit": "20"}),
    "lower_bound": ("one term is at least a constant", "at least, no less than, a minimum of, must reach",
                    {"var": "y", "limit": "5"}),
    "sum_bound": ("a plain total of variables (no coefficients) against a constant",
                  "in total, altogether, combined, the total number of",
                  {"terms": ["x", "y"], "sense": "<=", "limit": "100"}),
    "linear": ("weighted use of a resource, or a demand met: coefficient times variable terms against a constant "
               "(the same algebra as sum_bound; use linear when the terms carry coefficients)",
               "each ... takes/uses/needs ..., available, capacity, budget, demand of",
               {"terms": ["2 * x", "sum(w[i] * y[i] for i in I)"], "sense": "<=", "limit": "120"}),
    "ratio": ("a part is at least/at most a fraction of a whole", "at least 30% of, no more than a quarter of all",
              {"var": "x", "total": ["x", "y"], "ratio": "0.3", "sense": ">="}),
    "multiple": ("x compared with factor times y", "at least three times as many as, at most twice",
                 {"x": "a", "factor": "3", "y": "b", "sense": ">="}),
    "comparison": ("one term compared with another", "more than, no more than, at least as many as",
                   {"x": "a", "y": "b", "sense": ">="}),
    "balance": ("flow conservation: inflow - outflow compared with a net demand", "what arrives must leave, carried over",
                {"inflow": "sum(f[j, i] for j in N)", "outflow": "sum(f[i, j] for j in N)", "demand": "d[i]",
                 "sense": "=="}),
    "assignment": ("each item is assigned `count` times: var summed over `over`", "each ... exactly one, every ... to one",
                   {"var": "a[w, t]", "over": [{"index": "w", "set": "W"}], "count": "1", "sense": "=="}),
    "if_then": ("binary condition = 1 forces a comparison", "if ... then, whenever, only when",
                {"condition": "open", "then": "x >= 10", "big_m": None}),
    "either_or": ("at least one of two comparisons holds", "either ... or",
                  {"first": "x <= 5", "second": "y <= 5", "big_m": None}),
    "k_of_n": ("how many binaries are 1 (mode at_least / at_most / exactly)", "at most two of, exactly one of, at least k of",
               {"terms": ["b['p']", "b['q']", "b['r']"], "mode": "at_most", "k": "2"}),
    "fixed_charge": ("an activity needs a binary setup; its setup cost goes in `cost` and then NOT also in the objective",
                     "fixed cost, setup fee, only if opened",
                     {"var": "x", "indicator": "open", "capacity": "500", "cost": "1000"}),
    "mutual_exclusion": ("at most one of several binaries", "cannot both, only one of",
                         {"terms": ["b['p']", "b['q']"]}),
    "dependency": ("choosing one binary requires another", "only if, requires, cannot ... unless",
                   {"if_var": "b['p']", "then_var": "b['q']"}),
    "semi_continuous": ("zero, or between a minimum and a maximum", "if made at all, at least; minimum batch",
                        {"var": "x", "minimum": "50", "maximum": "200", "indicator": None}),
    "general": ("any linear comparison, only when no template fits", "",
                {"expr": "x + 2 * y - z >= 4"}),
}

# Short kind words (the system prompt explains them): the catalog is read with every request.
_KIND_WORDS = {LINEAR: "expr", CONSTANT: "const", FRACTION: "fraction", BINARY: "binary",
               COMPARISON: "comparison", LINEAR_LIST: "[expr]", BINARY_LIST: "[binary]"}


def _slot_words(template: str) -> str:
    kinds = CATALOG[template].slots
    parts = []
    for name, f in slot_fields(template).items():
        if name == "sense":
            what = "<=|>=|=="
        elif name == "mode":
            what = "at_least|at_most|exactly"
        elif name == "over":
            what = "[{index, set}]"
        else:
            what = _KIND_WORDS.get(kinds.get(name), "expr")
        if f.default is None and not f.is_required():
            what += "|null"
        parts.append(f"{name} ({what})")
    return ", ".join(parts)


@cache
def catalog() -> str:
    lines = []
    for name in TEMPLATE_NAMES:
        meaning, cues, ex = GUIDE[name]
        cue = f" Cues: {cues}." if cues else ""
        lines.append(f"- {name}: {meaning}.{cue} Slots: {_slot_words(name)}. "
                     f"E.g. {json.dumps(ordered(ex), separators=(',', ':'))}")
    return "\n".join(lines)


@cache
def system_prompt() -> str:
    return text("system").format(templates=catalog())


# --- worked examples ---------------------------------------------------------------------------


@cache
def bank() -> list[dict]:
    """The worked examples (formulate/examples/*.json): original problems, none from examples/ or benchmarks."""
    folder = resources.files(__package__).joinpath("examples")
    return [json.loads(folder.joinpath(n).read_text(encoding="utf-8"))
            for n in sorted(p.name for p in folder.iterdir() if p.name.endswith(".json"))]


EXAMPLES_SHOWN = 2


def _words(text: str) -> set[str]:
    return set(re.findall(r"[a-z]+", text.lower()))


@cache
def _bank_words() -> list[set[str]]:
    return [_words(ex["problem"]) for ex in bank()]


def _picked(problem: str, k: int) -> list[int]:
    """The k bank examples closest to the problem by shared words (ties: bank order), in bank order."""
    words = _words(problem)
    score = [len(words & other) / max(1, len(words | other)) for other in _bank_words()]
    return sorted(sorted(range(len(score)), key=lambda i: -score[i])[:k])


# Examples are written with the separators vLLM's default engine (xgrammar) forces once free
# whitespace is switched off (`disable_any_whitespace`), so a model copying them stays in the grammar.
SEPARATORS = (", ", ": ")


def _dump(obj) -> str:
    return json.dumps(obj, separators=SEPARATORS, ensure_ascii=False)


def stage_answers(ex: dict) -> dict[str, dict]:
    """An example's answer for each stage, rendered from the data model (every field written, schema order).

    `ex`: {"problem", "formulation", and optionally "objective_source", "notes" (per stage), "readings"
    (per constraint), "roles" (per sentence)}.
    """
    f = ex["formulation"]
    notes = ex.get("notes", {})
    readings = ex.get("readings", {})
    entities = Entities.model_validate({"notes": notes.get("entities", ""),
                                        **{k: f.get(k, []) for k in ("sets", "parameters", "variables",
                                                                     "unused_numbers")}})
    roles = ex.get("roles", {})
    sents = sentences(ex["problem"])
    classified = []
    for c in f["constraints"]:
        sense = c["slots"].get("sense") if c["template"] != "k_of_n" else \
            {v: k for k, v in MODE_OF_SENSE.items()}[c["slots"]["mode"]]
        sense = sense if sense is not None else IMPLIED_SENSE.get(c["template"])
        classified.append({"source": c["source"], "reading": readings.get(c["name"], ""), "name": c["name"],
                           "template": c["template"], "sense": sense})
    classification = Classification.model_validate({
        "notes": notes.get("classify", ""),
        "sentences": [{"text": s, "role": roles.get(s, _role(s, f))} for s in sents],
        "objective": {"source": ex.get("objective_source") or sents[-1], "description": f["objective"].get("description", ""),
                      "sense": f["objective"]["sense"]},
        "constraints": classified,
    })
    full = ModelFormulation.model_validate({"notes": notes.get("formulation", ""),
                                            **{k: v for k, v in f.items() if k in ModelFormulation.model_fields}})
    full_json = full.model_dump(mode="json")
    for c, src in zip(full_json["constraints"], f["constraints"]):
        c["reading"] = readings.get(src["name"], "")
    fill_constraints = {}
    for c in full.constraints:
        dumped = c.model_dump(mode="json")
        fill_constraints[c.name] = ordered({"forall": dumped["forall"], "where": dumped["where"],
                                            "slots": dumped["slots"]})
    filled = {"notes": notes.get("fill", ""), "objective": {"expr": full.objective.expr},
              "constraints": fill_constraints}
    return {"entities": ordered(entities.model_dump(mode="json")),
            "classify": ordered(classification.model_dump(mode="json")),
            "fill": filled,
            "formulation": ordered(full_json)}


def _role(sentence: str, f: dict) -> str:
    if any(c.get("source") == sentence for c in f["constraints"]):
        return "constraint"
    return "data" if re.search(r"\d", sentence) else "other"


@cache
def _bank_answer(i: int, stage: str) -> str:
    """Bank example i's answer of a stage, rendered once per process (every request shows two)."""
    return _dump(stage_answers(bank()[i])[stage])


def examples_block(problem: str, stage: str) -> str:
    """The examples shown with a stage's request: problem text and that stage's answer."""
    parts = []
    for k, i in enumerate(_picked(problem, EXAMPLES_SHOWN), 1):
        parts.append(f"Example {k} problem:\n{bank()[i]['problem']}\n\nExample {k} answer:\n{_bank_answer(i, stage)}")
    return "\n\n".join(parts)


# --- version -------------------------------------------------------------------------------------


@cache
def prompt_version() -> str:
    """A hash of every prompt file, the catalog, the examples and the fixed stage schemas."""
    h = hashlib.sha256()
    folder = resources.files(__package__).joinpath("prompts")
    for name in sorted(p.name for p in folder.iterdir() if p.name.endswith(".md")):
        h.update(name.encode() + b"\0" + folder.joinpath(name).read_bytes() + b"\0")
    h.update(system_prompt().encode())
    h.update(_dump(bank()).encode())
    for stage in STAGE_MODELS:
        h.update(_stage_schema_json(stage).encode())
    return h.hexdigest()[:12]


def __getattr__(name: str):  # PROMPT_VERSION is computed on first use (building schemas takes ~0.3 s)
    if name == "PROMPT_VERSION":
        return prompt_version()
    raise AttributeError(name)

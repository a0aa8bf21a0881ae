"""Prompt texts (files in `prompts/`) and the JSON Schemas of each pipeline stage.

Prompts live in their own files and carry a version: change `PROMPT_VERSION` whenever
a prompt or stage schema changes, so logs and caches can tell runs apart.
"""

from __future__ import annotations

import json
from functools import cache
from importlib import resources

from pydantic import BaseModel, ConfigDict, Field
from typing import Literal

from ..core.formulation import (
    TEMPLATE_NAMES, Constraint, Formulation, Objective, Parameter, Set, UnusedNumber, Variable,
)
from ..core.templates import CATALOG

PROMPT_VERSION = "2026-12-02.1"


@cache
def text(name: str) -> str:
    return resources.files(__package__).joinpath("prompts", f"{name}.md").read_text(encoding="utf-8")


@cache
def example() -> dict:
    """The few-shot example: an invented ferry-planning problem, on purpose none of examples/ and none of the
    benchmark problems (a test checks for shared 13-word runs), so that no prompt carries an answer we are
    asked for or measured on."""
    return json.loads(resources.files(__package__).joinpath("prompts", "example.json").read_text(encoding="utf-8"))


def template_catalog_line() -> str:
    parts = []
    for t in CATALOG.values():
        parts.append(f"{t.name} ({t.title}; slots: {', '.join(t.slots)})")
    return "; ".join(parts) + "."


@cache
def system_prompt() -> str:
    return text("system").format(templates=template_catalog_line())


# --- stage schemas, derived from the data model ---------------------------------------


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Entities(_Strict):
    """Stage 1: the data and the decisions."""

    sets: list[Set] = Field(default_factory=list)
    parameters: list[Parameter] = Field(default_factory=list)
    variables: list[Variable] = Field(min_length=1)
    unused_numbers: list[UnusedNumber] = Field(default_factory=list)


class ObjectiveClass(_Strict):
    sense: Literal["minimize", "maximize"]
    description: str


class ClassifiedConstraint(_Strict):
    name: str = Field(pattern=r"^[A-Za-z][A-Za-z0-9_]*$", max_length=64)
    source: str
    template: Literal[TEMPLATE_NAMES]  # type: ignore[valid-type]


class Classification(_Strict):
    """Stage 2: what kind of thing each constraint is."""

    objective: ObjectiveClass
    constraints: list[ClassifiedConstraint] = Field(default_factory=list)


class Filled(_Strict):
    """Stage 3: the algebra, in template slots."""

    objective: Objective
    constraints: list[Constraint] = Field(default_factory=list)


STAGE_MODELS: dict[str, type[BaseModel]] = {
    "entities": Entities,
    "classify": Classification,
    "fill": Filled,
    "formulation": Formulation,
}


@cache
def stage_schema(stage: str) -> dict:
    """The JSON Schema sent with a stage's request (cached: pydantic takes ~0.1 s to build one; don't mutate it).

    Titles and descriptions are left out: grammar engines ignore them and local servers do not
    show the schema to the model (the prompts explain the format), and they are 40% of its size.
    """
    return _without_annotations(STAGE_MODELS[stage].model_json_schema())


def _without_annotations(schema):
    if isinstance(schema, list):
        return [_without_annotations(x) for x in schema]
    if not isinstance(schema, dict):
        return schema
    out = {}
    for key, value in schema.items():
        if key in ("title", "description"):
            continue
        if key in ("properties", "$defs"):  # maps of names to schemas: names stay, even "description"
            out[key] = {name: _without_annotations(sub) for name, sub in value.items()}
        else:
            out[key] = _without_annotations(value)
    return out


@cache
def example_parts() -> dict[str, str]:
    """The example formulation cut into the answers each stage expects."""
    ex = example()
    entities = {k: ex.get(k, []) for k in ("sets", "parameters", "variables", "unused_numbers")}
    classification = {
        "objective": {"sense": ex["objective"]["sense"], "description": ex["objective"].get("description", "")},
        "constraints": [{"name": c["name"], "source": c.get("source", ""), "template": c["template"]}
                        for c in ex["constraints"]],
    }
    filled = {"objective": ex["objective"], "constraints": ex["constraints"]}
    full = {k: v for k, v in ex.items() if k != "problem"}
    dump = lambda o: json.dumps(o, separators=(",", ":"))  # noqa: E731  (compact: short prompts)
    return {
        "problem": ex.get("problem", ""),
        "entities": dump(entities),
        "classification": dump(classification),
        "filled": dump(filled),
        "formulation": dump(full),
    }

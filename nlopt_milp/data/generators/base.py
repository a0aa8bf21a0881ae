"""What every generator family shares: a small builder, size knobs, the registry.

A family is a function `(rng, complexity) -> Formulation` that samples data with its
own `random.Random` (never the global one: instances must be reproducible in any
process) and writes the model in our data model, with a description on every element
in the family's own vocabulary. Complexity 1..5 scales set sizes and switches on side
constraints, integrality and logic.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from typing import Callable

from ...core.formulation import Formulation
from ...core.validate import load_valid

MIN_COMPLEXITY, MAX_COMPLEXITY = 1, 5


class Builder:
    """Collects sets, parameters, variables, objective and constraints as plain dicts."""

    def __init__(self, name: str):
        self.name = name
        self.sets: list[dict] = []
        self.parameters: list[dict] = []
        self.variables: list[dict] = []
        self.constraints: list[dict] = []
        self.objective: dict | None = None
        self.unused: list[dict] = []

    def set(self, name: str, elements: list, description: str) -> list:
        self.sets.append({"name": name, "elements": list(elements), "description": description})
        return list(elements)

    def param(self, name: str, value, description: str, index: tuple[str, ...] = ()) -> None:
        self.parameters.append({"name": name, "index": list(index), "value": value, "description": description})

    def var(self, name: str, description: str, index: tuple[str, ...] = (), domain: str = "continuous",
            lower: float | str | None = 0, upper: float | str | None = None) -> None:
        self.variables.append({"name": name, "index": list(index), "domain": domain, "lower": lower,
                               "upper": upper, "description": description})

    def unused_number(self, value: float, reason: str) -> None:
        """A number the text states that the model deliberately does not use (the audit accepts it)."""
        self.unused.append({"value": str(int(value)) if float(value).is_integer() else repr(value), "reason": reason})

    def minimize(self, expr: str, description: str) -> None:
        self.objective = {"sense": "minimize", "expr": expr, "description": description}

    def maximize(self, expr: str, description: str) -> None:
        self.objective = {"sense": "maximize", "expr": expr, "description": description}

    def con(self, name: str, template: str, description: str, forall: list[tuple[str, str]] = (),
            where: str | None = None, **slots) -> None:
        c = {"name": name, "template": template, "source": description,
             "forall": [{"index": i, "set": s} for i, s in forall], "slots": slots}
        if where:
            c["where"] = where
        self.constraints.append(c)

    def build(self) -> Formulation:
        """The validated formulation (a generator bug raises FormulationError here, never later)."""
        return load_valid({"version": "1", "name": self.name, "sets": self.sets, "parameters": self.parameters,
                           "variables": self.variables, "objective": self.objective,
                           "constraints": self.constraints, "unused_numbers": self.unused}, source=self.name)


def size(complexity: int, at1: int, at5: int) -> int:
    """A set size growing linearly from `at1` (complexity 1) to `at5` (complexity 5)."""
    return round(at1 + (at5 - at1) * (complexity - 1) / 4)


def names(prefix: str, n: int) -> list[str]:
    return [f"{prefix}{k + 1}" for k in range(n)]


def ints(rng: random.Random, n: int, lo: int, hi: int) -> list[int]:
    return [rng.randint(lo, hi) for _ in range(n)]


def matrix(rng: random.Random, rows: int, cols: int, lo: int, hi: int) -> list[list[int]]:
    return [ints(rng, cols, lo, hi) for _ in range(rows)]


def pick(rng: random.Random, vocabulary: list[str], n: int) -> list[str]:
    """n distinct names from a vocabulary (numbered when it runs out), as set elements."""
    words = rng.sample(vocabulary, min(n, len(vocabulary)))
    words += [f"{vocabulary[k % len(vocabulary)]}_{k // len(vocabulary) + 1}" for k in range(len(words), n)]
    return words


@dataclass(frozen=True)
class Family:
    name: str
    summary: str
    templates: tuple[str, ...]  # catalog templates its instances use (at complexity 5)
    parameters: dict[str, str]  # what the complexity knob scales
    make: Callable[[random.Random, int], Formulation] = field(repr=False, compare=False)


FAMILIES: dict[str, Family] = {}


def family(name: str, summary: str, templates: tuple[str, ...], parameters: dict[str, str]):
    """Register a generator function under `name`."""

    def wrap(fn: Callable[[random.Random, int], Formulation]):
        if name in FAMILIES:
            raise ValueError(f"duplicate generator family {name!r}")
        FAMILIES[name] = Family(name, summary, tuple(templates), dict(parameters), fn)
        return fn

    return wrap

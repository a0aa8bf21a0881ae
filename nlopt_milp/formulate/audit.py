"""Audit a formulation against its problem text, without the LLM.

Four checks: every number of the text is used by the formulation (or listed in
`unused_numbers` with a reason); every variable appears in the objective or a
constraint; no variable is left unconstrained (in no constraint and without an upper
bound); every constraint's source sentence occurs in the text. Findings are
warnings for the user and input for self-correction.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from ..core import elements
from ..core import expr as E
from ..core.formulation import Formulation

_NUMBER = re.compile(r"(?<![\w.])[$€£]?(\d{1,3}(?:,\d{3})+|\d+)(\.\d+)?\s*(%|percent)?", re.IGNORECASE)


@dataclass(frozen=True)
class Finding:
    kind: str  # unused_number | unused_variable | unconstrained_variable | source_not_found
    path: str
    message: str  # for the user
    hint: str = ""  # what the model should do about it (repair prompts only; users never see it)

    def __str__(self) -> str:
        return f"{self.path}: {self.message}" if self.path else self.message

    def for_model(self) -> str:
        return f"{self}; {self.hint}" if self.hint else str(self)


def numbers_in_text(text: str) -> list[tuple[float, str]]:
    """(value, as written) for each number of the text; percentages give their fraction."""
    out = []
    for m in _NUMBER.finditer(text):
        written = m.group(0).strip()
        value = float(m.group(1).replace(",", "") + (m.group(2) or ""))
        if m.group(3):
            value /= 100.0
        out.append((value, written))
    return out


def _formulation_numbers(f: Formulation) -> set[float]:
    nums: set[float] = set()

    def walk(v):
        if isinstance(v, list):
            for x in v:
                walk(x)
        elif isinstance(v, (int, float)):
            nums.add(float(v))

    referenced = _names(_expressions(f)) | {b for v in f.variables for b in (v.lower, v.upper) if isinstance(b, str)}
    for p in f.parameters:
        if p.name in referenced:  # data declared but never used does not use its numbers
            walk(p.value)
    for v in f.variables:
        for b in (v.lower, v.upper):
            if isinstance(b, (int, float)):
                nums.add(float(b))
    for s in f.sets:
        for e in s.elements:
            n = elements.number(e)  # the element rule: "3" is the number 3
            if n is not None:
                nums.add(n)
    for text in _expressions(f):
        try:
            node = E.parse_condition(text) if _is_condition(text) else E.parse(text)
        except E.ExprError:
            continue
        _collect_nums(node, nums)
    return nums


def _is_condition(text: str) -> bool:
    return any(op in text for op in ("<", ">", "==", "!="))


def _collect_nums(node, out: set[float]) -> None:
    if isinstance(node, E.Num):
        out.add(node.value)
    for child in getattr(node, "__dict__", {}).values():
        if isinstance(child, tuple):
            for c in child:
                _collect_nums(c, out)
        elif hasattr(child, "__dataclass_fields__"):
            _collect_nums(child, out)


def _expressions(f: Formulation, objective: bool = True) -> list[str]:
    out = [f.objective.expr] if objective else []
    for c in f.constraints:
        if c.where:
            out.append(c.where)
        for _, v in c.slots:
            if isinstance(v, str):
                out.append(v)
            elif isinstance(v, list):
                out.extend(x for x in v if isinstance(x, str))
    return out


def _names(texts: list[str]) -> set[str]:
    out: set[str] = set()
    for t in texts:
        try:
            node = E.parse_condition(t) if _is_condition(t) else E.parse(t)
        except E.ExprError:
            continue
        out |= E.names(node)
    return out


def _used(value: float, nums: set[float]) -> bool:
    candidates = {value, value * 100.0, value / 100.0}
    return any(abs(c - n) <= 1e-9 * max(1.0, abs(c)) for c in candidates for n in nums)


def _norm(s: str) -> str:
    return " ".join(s.split()).lower()


def audit(f: Formulation, text: str | None = None) -> list[Finding]:
    text = f.problem if text is None else text
    findings: list[Finding] = []
    nums = _formulation_numbers(f)
    declared_unused = set()
    for u in f.unused_numbers:
        for value, _ in numbers_in_text(u.value):
            declared_unused.add(value)
    seen: set[float] = set()
    for value, written in numbers_in_text(text):
        if value in seen:
            continue
        seen.add(value)
        if _used(value, nums) or _used(value, declared_unused):
            continue
        findings.append(Finding(
            "unused_number", "",
            f"the number {written} of the problem text is not used by the formulation",
            "use it or list it in unused_numbers with a reason",
        ))

    used_names = _names(_expressions(f))
    constrained = _names(_expressions(f, objective=False))
    for k, v in enumerate(f.variables):
        if v.name not in used_names:
            findings.append(Finding("unused_variable", f"variables[{k}]",
                                    f"variable {v.name} appears in neither the objective nor any constraint"))
        elif v.name not in constrained and v.upper is None:
            findings.append(Finding("unconstrained_variable", f"variables[{k}]",
                                    f"variable {v.name} appears in no constraint and has no upper bound; "
                                    "does a sentence of the text limit it?"))

    norm_text = _norm(text)
    for k, c in enumerate(f.constraints):
        if not c.source.strip():
            findings.append(Finding("source_not_found", f"constraints[{k}].source",
                                    "empty: the constraint names no sentence of the problem text",
                                    "copy the sentence of the problem text this constraint comes from"))
        elif _norm(c.source).rstrip(".") not in norm_text:
            findings.append(Finding("source_not_found", f"constraints[{k}].source",
                                    "this sentence does not occur in the problem text", "copy it exactly"))
    return findings

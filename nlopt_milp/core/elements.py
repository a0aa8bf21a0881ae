"""Set elements: what an element is, and when two are the same (the one rule of element identity).

An element is a **number** or a **name**:

- a JSON number (`1`, `2.5`) is a number;
- a text written exactly as a decimal number (`"1"`, `"-2.5"`, `"1e3"`, `"01"`, `"1.0"`; ASCII
  digits, no blanks) is that number too;
- any other text is a name, compared exactly (case, blanks and Unicode code points count).

Two elements are the same when both are numbers of equal value (as 64-bit floats) or both are names
with equal text. Literals in expressions follow the same rule: `x[1]`, `x['1']` and `x[1.0]` all
mean the element `"1"`, and `t == 1` holds for it. Numbers order by value and support arithmetic
(`t - 1`); names order by text; a name is never ordered against a number. Every place that looks an
element up or compares elements (indexing, `==`/`!=`/`<`/`>` in filters, parameter tables, the
Pyomo script) goes through this module.
"""

from __future__ import annotations

import math
import re
from typing import Union

Key = Union[float, str]  # an element's identity: its value (numbers) or its text (names)

_NUMBER_TEXT = re.compile(r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")
_EXACT_INT = 2 ** 53  # integers below this are exact as floats


class ElementOrderError(ValueError):
    """`<`, `>`, `<=` or `>=` between a name and a number."""


_NUMERIC_START = frozenset("+-.0123456789")


def number(e: object) -> float | None:
    """The value of a numeric element (or literal), None for a name. Out-of-range numbers are inf."""
    t = type(e)
    if t is str:  # the common cases first, by exact type (called once per element per pass)
        return float(e) if e and e[0] in _NUMERIC_START and _NUMBER_TEXT.fullmatch(e) else None
    if t is float:
        return e
    if isinstance(e, bool):  # never an element; keep True from passing as 1
        return None
    if isinstance(e, float):
        return e
    if isinstance(e, int):
        try:
            return float(e)
        except OverflowError:
            return math.inf if e > 0 else -math.inf
    if isinstance(e, str) and _NUMBER_TEXT.fullmatch(e):
        return float(e)  # float() of text never raises on size: it gives inf
    return None


def key(e: object) -> Key:
    """The identity of an element or literal: equal keys mean the same element."""
    n = number(e)
    return e if n is None else n  # type: ignore[return-value]


def same(a: object, b: object) -> bool:
    return key(a) == key(b)


def order(op: str, a: object, b: object) -> bool:
    """`a op b` for op in < <= > >=: numbers by value, names by text; raises ElementOrderError for a mix."""
    na, nb = number(a), number(b)
    if na is not None and nb is not None:
        x, y = na, nb
    elif na is None and nb is None and isinstance(a, str) and isinstance(b, str):
        x, y = a, b  # type: ignore[assignment]
    else:
        raise ElementOrderError("cannot order a name and a number")
    return {"<=": x <= y, ">=": x >= y, "<": x < y, ">": x > y}[op]


def python_value(e: object) -> int | float | str:
    """The element as a Python value whose `==`, `<` and arithmetic follow this module's rule
    (numbers as int/float, names as str): what the exported Pyomo script uses."""
    n = number(e)
    if n is None:
        return str(e)
    if n.is_integer() and abs(n) < _EXACT_INT:
        return int(n)
    return n


def shown(e: object) -> str:
    """repr() of an element for a message; an integer too long to print is described instead."""
    if isinstance(e, int) and not isinstance(e, bool) and e.bit_length() > 1000:
        return f"<integer of about {int(e.bit_length() * 0.30103)} digits>"
    return repr(e)


def problem(e: object) -> str | None:
    """Why `e` cannot be an element (None when it can)."""
    n = number(e)
    if n is not None and math.isnan(n):
        return "element nan is not a number"
    if n is not None and not math.isfinite(n):
        return f"element {shown(e)} is out of range: numbers must lie within ±1.8e308"
    return None


def duplicates(elements: list) -> list[tuple[int, int]]:
    """(position, position of the earlier same element) for each element that repeats one before it."""
    first: dict[Key, int] = {}
    out = []
    for j, e in enumerate(elements):
        k = key(e)
        if k in first:
            out.append((j, first[k]))
        else:
            first[k] = j
    return out

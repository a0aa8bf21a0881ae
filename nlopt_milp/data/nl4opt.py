"""Import the NL4Opt competition annotations as formulations.

The NL4Opt generation data (``dev.jsonl``, ``test.jsonl``; repository
nl4opt/nl4opt-competition) holds one JSON object per line, ``{id: record}``, where a
record is a gold, template-typed linear program::

    document            the problem text
    vars                the decision variables (first mentions, e.g. "regular glass pane")
    var_mention_to_first_var, order_mapping
                        how other mentions ("regular glass") map onto ``vars``
    obj_declaration     {"direction": "maximize", "name": "profit", "terms": {var: "3%"}}
                        or, for "total number of ..." objectives, {"type": "objvar", "vars": [...]}
    const_declarations  [{"type": "sum" | "upperbound" | "lowerbound" | "linear" | "ratio" | "xby" | "xy",
                          "operator": "LESS_OR_EQUAL" | "GREATER_OR_EQUAL", ...}]
    spans, tokens       character-offset annotations of the text

Every variable becomes a non-negative continuous variable (integer with
``integer=True``: integrality is not annotated), and each constraint type maps onto
one catalog template:

    sum         -> sum_bound   (all variables <sense> limit)
    upperbound  -> upper_bound / lowerbound -> lower_bound (by the operator)
    linear      -> linear      (sum coef * var <sense> limit)
    ratio       -> ratio       (var <sense> ratio * total of all variables)
    xby         -> multiple    (x <sense> param * y)
    xy          -> comparison  (x <sense> y)

Values are strings as the annotators wrote them ("20%", "$1,500", "third", "twice");
:func:`parse_value` reads them. A record that cannot be converted is returned with an
``error`` instead of a formulation, never dropped.
"""

from __future__ import annotations

import json
import keyword
import math
import re
import unicodedata
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import Any, Iterable

from ..core.formulation import Formulation
from ..core.io import iter_lines, limit, open_input, too_large_message
from ..core.text import safe_json

__all__ = [
    "ImportedProblem",
    "import_nl4opt",
    "convert_record",
    "write_jsonl",
    "parse_value",
    "sanitize_name",
    "split_sentences",
]

# --- value parsing -------------------------------------------------------------------

_UNITS = {
    "zero": 0, "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7, "eight": 8,
    "nine": 9, "ten": 10, "eleven": 11, "twelve": 12, "thirteen": 13, "fourteen": 14, "fifteen": 15,
    "sixteen": 16, "seventeen": 17, "eighteen": 18, "nineteen": 19,
}
_TENS = {
    "twenty": 20, "thirty": 30, "forty": 40, "fourty": 40, "fifty": 50, "sixty": 60, "seventy": 70,
    "eighty": 80, "ninety": 90,
}
_SCALES = {"hundred": 100, "thousand": 1000, "million": 1_000_000, "billion": 1_000_000_000}
# denominators: "a third", "two thirds", "a quarter", "three fourths"
_DENOMINATORS = {
    "half": 2, "halves": 2, "third": 3, "thirds": 3, "quarter": 4, "quarters": 4, "fourth": 4, "fourths": 4,
    "fifth": 5, "fifths": 5, "sixth": 6, "sixths": 6, "seventh": 7, "sevenths": 7, "eighth": 8, "eighths": 8,
    "ninth": 9, "ninths": 9, "tenth": 10, "tenths": 10,
}
_MULTIPLIERS = {"twice": 2, "double": 2, "doubled": 2, "thrice": 3, "triple": 3, "tripled": 3,
                "quadruple": 4, "quadrupled": 4}
# words around a value that carry no number: "$1,500 dollars", "8000 minutes", "three times as many"
_FILLER = {"a", "an", "the", "of", "and", "as", "many", "much", "times", "time", "fold", "-fold", "x",
           "dollars", "dollar", "usd", "units", "unit"}

_NUM_RE = re.compile(r"^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$")


class ValueParseError(ValueError):
    pass


def parse_value(text: str | int | float) -> float:
    """A number from an annotated value: "20%" -> 0.2, "$1,500" -> 1500, "third" -> 1/3,
    "twice" -> 2, "three times" -> 3, "thirty percent" -> 0.3, "1/3" -> 0.333.., "2.50" -> 2.5.

    Raises ValueParseError when the text holds no number or more than one.
    """
    if isinstance(text, bool):
        raise ValueParseError(f"not a number: {text!r}")
    if isinstance(text, (int, float)):
        return float(text)
    s = unicodedata.normalize("NFKC", str(text)).strip().lower()
    if not s:
        raise ValueParseError("empty value")
    s = s.replace("\u2212", "-").replace("\u2013", "-")
    percent = False
    if s.endswith("%"):
        percent, s = True, s[:-1].strip()
    else:
        m = re.search(r"\s*(percent|per cent|pct)\.?$", s)
        if m:
            percent, s = True, s[:m.start()].strip()
    s = s.replace("$", " ").replace("\u20ac", " ").replace("\u00a3", " ")
    s = re.sub(r"(?<=\d),(?=\d{3}\b)", "", s)  # thousands separators
    s = s.strip()
    if s.endswith("."):  # sentence full stop: "at most 5."
        s = s[:-1].strip()
    value = _parse_plain(s, str(text))
    return value / 100.0 if percent else value


def _parse_plain(s: str, original: str) -> float:
    if _NUM_RE.match(s):
        return float(s)
    m = re.match(r"^(\d+(?:\.\d+)?)\s*/\s*(\d+(?:\.\d+)?)$", s)
    if m:
        den = float(m.group(2))
        if den == 0:
            raise ValueParseError(f"division by zero in {original!r}")
        return float(m.group(1)) / den
    # mixed numbers: "one and a half", "2 and a quarter"
    m = re.match(r"^(.+?)\s+and\s+(?:a|an|one)\s+(half|third|quarter|fourth)$", s)
    if m:
        return _parse_plain(m.group(1), original) + 1.0 / _DENOMINATORS[m.group(2)]
    # "5 times", "3x", "2-fold", "1000 units": a number with filler words
    words = [w for w in re.split(r"[\s\-]+", s) if w]
    words = [re.sub(r"^(\d+(?:\.\d+)?)x$", r"\1", w) for w in words]
    core = [w for w in words if w not in _FILLER]
    if len(core) == 1 and _NUM_RE.match(core[0]):
        return float(core[0])
    if not core:
        raise ValueParseError(f"no number in {original!r}")
    # mixed digits and words ("1.5 million", "2 thirds")
    out = _parse_words(core)
    if out is not None:
        return float(out)
    # one number among unit words: "8000 minutes", "$2.5 per hour"
    numbers = [w for w in core if _NUM_RE.match(w)]
    wordy = [w for w in core if w in _UNITS or w in _TENS or w in _SCALES or w in _DENOMINATORS
             or w in _MULTIPLIERS]
    if len(numbers) == 1 and not wordy:
        return float(numbers[0])
    raise ValueParseError(f"cannot read a number from {original!r}")


def _word_value(w: str) -> Fraction | None:
    if _NUM_RE.match(w):
        return Fraction(w)
    if w in _UNITS:
        return Fraction(_UNITS[w])
    if w in _TENS:
        return Fraction(_TENS[w])
    return None


def _parse_words(words: list[str]) -> Fraction | None:
    # multipliers: "twice", "double"
    if len(words) == 1 and words[0] in _MULTIPLIERS:
        return Fraction(_MULTIPLIERS[words[0]])
    # fractions: [numerator] denominator  ("half", "a third", "two thirds", "one and a half")
    if words[-1] in _DENOMINATORS:
        den = _DENOMINATORS[words[-1]]
        head = words[:-1]
        if not head:
            return Fraction(1, den)
        num = _cardinal(head)
        if num is None:
            return None
        return num / den
    return _cardinal(words)


def _cardinal(words: list[str]) -> Fraction | None:
    """'one hundred twenty five' -> 125, '1.5 million' -> 1500000, 'thirty' -> 30; None if not a number.

    Words must compose like a number: a unit follows nothing, a ten or a scale; a ten
    follows nothing or a scale ("two three", "1 2", "thirty forty" are not numbers).
    """
    total, current = Fraction(0), Fraction(0)
    last = ""  # "", unit, ten, hundred, scale
    for w in words:
        if _NUM_RE.match(w) or w in _UNITS:
            if last not in ("", "ten", "hundred", "scale"):
                return None
            v = Fraction(w) if _NUM_RE.match(w) else Fraction(_UNITS[w])
            if last == "ten" and not (_NUM_RE.match(w) is None and 0 < v < 10):
                return None
            current += v
            last = "unit"
        elif w in _TENS:
            if last not in ("", "hundred", "scale"):
                return None
            current += _TENS[w]
            last = "ten"
        elif w in _SCALES:
            scale = _SCALES[w]
            if last == "":
                current = Fraction(1)
            elif last not in ("unit", "ten", "hundred", "scale") or (last == "scale" and current == 0):
                return None
            if scale == 100:
                if last == "hundred":
                    return None
                current *= scale
                last = "hundred"
            else:
                total += current * scale
                current = Fraction(0)
                last = "scale"
        else:
            return None
    return total + current if last else None


# --- names ---------------------------------------------------------------------------

_RESERVED = {"sum", "inf", "nan", "true", "false", "none"}


def sanitize_name(text: str, taken: set[str] | None = None, prefix: str = "x") -> str:
    """A model name `^[A-Za-z][A-Za-z0-9_]*$` (at most 64 characters) for a free-text name.

    "regular glass" -> regular_glass, "3-wheeler," -> x_3_wheeler, "children's" -> childrens;
    Python keywords and reserved words get a trailing underscore; with `taken`, a
    name already used gets _2, _3, ... (and is added to `taken`).
    """
    s = unicodedata.normalize("NFKD", str(text))
    s = s.encode("ascii", "ignore").decode("ascii")
    s = re.sub(r"['\u2019`]", "", s)
    s = re.sub(r"[^A-Za-z0-9]+", "_", s).strip("_")
    if not s:
        s = prefix
    if not s[0].isalpha():
        s = f"{prefix}_{s}"
    s = s[:60]
    if keyword.iskeyword(s) or s.lower() in _RESERVED:
        s += "_"
    if taken is None:
        return s
    name, k = s, 2
    while name in taken:
        name = f"{s[:57]}_{k}"
        k += 1
    taken.add(name)
    return name


# --- sentences -----------------------------------------------------------------------

_ABBREVIATIONS = {"mr", "mrs", "ms", "dr", "st", "jr", "sr", "inc", "co", "ltd", "corp", "vs", "etc", "no",
                  "e.g", "i.e", "approx", "dept", "mt", "ft", "oz", "lb", "lbs"}


def split_sentences(text: str, spans: Iterable[tuple[int, int]] = ()) -> list[tuple[int, int]]:
    """Character ranges [start, end) of the sentences of `text`.

    A sentence ends at . ? or ! followed by white space and an upper-case letter, a digit
    or a quote, unless the word before is an abbreviation (Mr., Dr., ...). Sentences are
    merged where one of `spans` (start, end) would cross a boundary.
    """
    cuts: list[int] = []
    for m in re.finditer(r"[.?!]+[\"')\u201d\u2019]*(?=\s+[\"'(\u201c\u2018$A-Z0-9])", text):
        before = re.search(r"([A-Za-z.]+)\.$", text[: m.start() + 1]) if text[m.start()] == "." else None
        if before and before.group(1).lower().rstrip(".") in _ABBREVIATIONS:
            continue
        cuts.append(m.end())
    for a, b in spans:
        cuts = [c for c in cuts if not (a < c < b)]
    out, start = [], 0
    for c in cuts + [len(text)]:
        # skip leading white space
        while start < c and text[start].isspace():
            start += 1
        if start < c:
            out.append((start, c))
        start = c
    return out


# --- the conversion ------------------------------------------------------------------

_OPERATORS = {
    "LESS_OR_EQUAL": "<=", "GREATER_OR_EQUAL": ">=", "EQUAL": "==",
    # not in the released data; strict inequalities are read as non-strict (LP semantics)
    "LESS": "<=", "GREATER": ">=", "LESS_THAN": "<=", "GREATER_THAN": ">=", "EQUALS": "==",
}


@dataclass
class ImportedProblem:
    """One converted NL4Opt record: a formulation, or an error saying why there is none."""

    id: str
    document: str
    formulation: Formulation | None = None
    error: str | None = None
    notes: list[str] = field(default_factory=list)  # conversion decisions worth knowing

    @property
    def ok(self) -> bool:
        return self.formulation is not None

    def to_json(self) -> dict:
        return {
            "id": self.id,
            "document": self.document,
            "formulation": self.formulation.model_dump(mode="json") if self.formulation is not None else None,
            "error": self.error,
            "notes": list(self.notes),
        }


class ConversionError(ValueError):
    pass


def _num(v: float) -> str:
    """A number as expression text: 3 not 3.0, 0.2 not 0.20000000000000001."""
    if v == int(v) and abs(v) < 1e15:
        return str(int(v))
    return repr(float(v))


def _term(coef: float, var: str) -> str:
    if coef == 1:
        return var
    if coef == -1:
        return f"-{var}"
    return f"{_num(coef)} * {var}"


class _Record:
    """Helpers over one record: variable resolution, values, sentence lookup."""

    def __init__(self, rid: str, rec: dict):
        self.id = rid
        self.rec = rec
        self.doc: str = rec.get("document", "") or ""
        self.notes: list[str] = []
        vars_ = rec.get("vars")
        if not isinstance(vars_, list) or not vars_:
            raise ConversionError("record has no variables")
        self.vars: list[str] = [str(v) for v in vars_]
        taken: set[str] = set()
        self.name_of: dict[str, str] = {}
        for v in self.vars:
            if v in self.name_of:
                continue  # duplicate entry in `vars`
            self.name_of[v] = sanitize_name(v, taken)
        self.m2f: dict = rec.get("var_mention_to_first_var") or {}
        self.order: dict = rec.get("order_mapping") or {}
        self.f2m: dict = rec.get("first_var_to_mentions") or {}
        self.spans = []
        for s in rec.get("spans") or []:
            try:
                a, b = int(s["start"]), int(s["end"])
            except (KeyError, TypeError, ValueError):
                continue
            self.spans.append({"start": a, "end": b, "label": s.get("label", ""),
                               "text": s.get("text") if s.get("text") is not None else self.doc[a:b]})
        self.sentences = split_sentences(self.doc, [(s["start"], s["end"]) for s in self.spans])
        self.used_sentences: list[int] = []

    # variables
    def var(self, mention: Any, where: str) -> str:
        """Model name of the variable a mention refers to."""
        if not isinstance(mention, str):
            raise ConversionError(f"{where}: variable reference {mention!r} is not text")
        if mention in self.name_of:
            return self.name_of[mention]
        first = self.m2f.get(mention)
        if first in self.name_of:
            return self.name_of[first]
        k = self.order.get(mention)
        if isinstance(k, int) and 0 <= k < len(self.vars):
            return self.name_of[self.vars[k]]
        folded = {v.lower().strip(" .,"): v for v in self.vars}
        hit = folded.get(mention.lower().strip(" .,"))
        if hit is not None:
            return self.name_of[hit]
        raise ConversionError(f"{where}: {mention!r} is not one of the variables {self.vars}")

    def all_vars(self) -> list[str]:
        return list(dict.fromkeys(self.name_of[v] for v in self.vars))

    # values
    def value(self, text: Any, where: str) -> float:
        try:
            v = parse_value(text)
        except ValueParseError as e:
            raise ConversionError(f"{where}: {e}") from None
        if not math.isfinite(v):
            raise ConversionError(f"{where}: {text!r} is not a finite number")
        return v

    def fraction(self, text: Any, where: str) -> float:
        """A ratio value; a bare number above 1 that the text writes as a percentage is read as one."""
        v = self.value(text, where)
        if v > 1 and isinstance(text, str) and _NUM_RE.match(text.strip()):
            t = re.escape(text.strip())
            if re.search(rf"(?<![\d.]){t}\s*(%|percent\b|per cent\b)", self.doc, re.IGNORECASE):
                self.notes.append(f"{where}: value {text!r} is written {text.strip()}% in the text; "
                                  f"read as {v / 100:g}")
                return v / 100.0
        return v

    # sentences
    def source(self, c: dict) -> str:
        """The sentence of the document a constraint comes from, or ""."""
        if not self.sentences:
            return ""
        direction = str(c.get("direction") or "").strip().lower()
        values = [str(c[k]).strip() for k in ("limit", "param") if c.get(k) not in (None, "")]
        mentions: list[list[str]] = []
        refs = [c.get(k) for k in ("var", "x_var", "y_var") if isinstance(c.get(k), str)]
        refs += [t for t in (c.get("terms") or {}) if isinstance(t, str)]
        for ref in refs:
            first = ref if ref in self.name_of else self.m2f.get(ref, ref)
            names = {ref, first, *(self.f2m.get(first) or [])}
            names |= {m for m, f in self.m2f.items() if f == first}
            mentions.append([n.lower() for n in names if isinstance(n, str) and n])
        coefs = [str(v).strip() for v in (c.get("terms") or {}).values() if isinstance(v, str)]
        last = self.used_sentences[-1] if self.used_sentences else -1
        best, best_score = -1, 0.0
        for k, (a, b) in enumerate(self.sentences):
            text = self.doc[a:b].lower()
            inside = [s for s in self.spans if a <= s["start"] and s["end"] <= b]
            score = 0.0
            if direction:
                if any(s["label"] == "CONST_DIR" and s["text"].strip().lower() == direction for s in inside):
                    score += 4
                elif _contains(text, direction):
                    score += 2
            for v in values:
                if any(s["label"] in ("LIMIT", "PARAM") and s["text"].strip().lower() == v.lower() for s in inside):
                    score += 3
                elif _contains(text, v.lower()):
                    score += 1.5
            for names in mentions:
                if any(_contains(text, n) for n in names):
                    score += 1
            for v in coefs:
                if _contains(text, v.lower()):
                    score += 0.25
            if score == 0:
                continue
            # ties: prefer document order (constraints are usually declared in reading order)
            score += 0.1 if k >= last else 0.0
            score -= 0.05 if k in self.used_sentences else 0.0
            if score > best_score:
                best, best_score = k, score
        if best < 0 or best_score < 3:
            return ""
        self.used_sentences.append(best)
        a, b = self.sentences[best]
        return self.doc[a:b].strip()


def _contains(text: str, needle: str) -> bool:
    if not needle:
        return False
    return re.search(rf"(?<![A-Za-z0-9]){re.escape(needle)}(?![A-Za-z0-9])", text) is not None


def convert_record(rid: str, rec: dict, integer: bool = False) -> ImportedProblem:
    """Convert one NL4Opt record; errors are returned in `.error`, never raised."""
    rid = str(rid)
    doc = rec.get("document", "") if isinstance(rec, dict) else ""
    if not isinstance(rec, dict):
        return ImportedProblem(rid, "", error=f"record is a {type(rec).__name__}, expected an object")
    try:
        r = _Record(rid, rec)
        f = _formulation(r, integer)
    except ConversionError as e:
        return ImportedProblem(rid, doc, error=str(e))
    except Exception as e:  # a malformed record must not stop the import
        return ImportedProblem(rid, doc, error=f"{type(e).__name__}: {e}")
    return ImportedProblem(rid, doc, formulation=f, notes=r.notes)


_MINIMIZE_WORDS = ("min", "reduc", "decreas", "lowe", "least", "small", "fewe", "cheape", "cut", "lessen")
_MAXIMIZE_WORDS = ("max", "increas", "high", "great", "large", "most", "bigge", "boost", "raise")


def _objective_sense(direction) -> str | None:
    """The objective sense from the annotated direction span ("maximize", "minimum", "reduce", "lowest", ...)."""
    words = str(direction or "").strip().lower().split()
    for w in words:
        if w.startswith(_MINIMIZE_WORDS):
            return "minimize"
        if w.startswith(_MAXIMIZE_WORDS):
            return "maximize"
    return None


def _formulation(r: _Record, integer: bool) -> Formulation:
    domain = "integer" if integer else "continuous"
    variables = [
        {"name": r.name_of[v], "domain": domain, "lower": 0, "upper": None, "description": v}
        for v in dict.fromkeys(r.vars)
    ]

    # objective
    obj = r.rec.get("obj_declaration")
    if not isinstance(obj, dict):
        raise ConversionError("record has no objective (obj_declaration)")
    sense = _objective_sense(obj.get("direction"))
    if sense is None:
        raise ConversionError(f"objective: direction {obj.get('direction')!r} is neither maximize nor minimize")
    coefs: dict[str, float] = {}
    name = str(obj.get("name", "") or "")
    if isinstance(obj.get("terms"), dict) and obj["terms"]:
        for mention, val in obj["terms"].items():
            v = r.var(mention, "objective")
            coefs[v] = coefs.get(v, 0.0) + r.value(val, f"objective: coefficient of {mention!r}")
        description = name
    elif isinstance(obj.get("vars"), list) and obj["vars"]:
        for mention in obj["vars"]:
            v = r.var(mention, "objective")
            coefs[v] = 1.0
        description = (f"{name}: " if name else "") + "total of the variables (NL4Opt objvar: each counts 1)"
    elif obj.get("type") == "objvar" and not obj.get("terms"):
        # "minimize the total number of ...": an objvar objective counts the variables; an empty
        # list is an annotation omission, and the only reading of objvar is all of them
        for v in r.all_vars():
            coefs[v] = 1.0
        r.notes.append("objective: objvar without variables; all variables are counted")
        description = (f"{name}: " if name else "") + "total of all variables (NL4Opt objvar, variables not annotated)"
    else:
        raise ConversionError("objective: no terms and no variables annotated")
    expr = " + ".join(_term(c, v) for v, c in coefs.items() if c != 0) or "0"
    expr = expr.replace("+ -", "- ")
    objective = {"sense": sense, "expr": expr, "description": description}

    # constraints
    constraints = []
    for k, c in enumerate(r.rec.get("const_declarations") or []):
        where = f"const_declarations[{k}]"
        if not isinstance(c, dict):
            raise ConversionError(f"{where}: not an object")
        constraints.append(_constraint(r, c, k, where))

    return Formulation.model_validate({
        "name": r.id,
        "problem": r.doc,
        "variables": variables,
        "objective": objective,
        "constraints": constraints,
    })


def _constraint(r: _Record, c: dict, k: int, where: str) -> dict:
    ctype = str(c.get("type", "")).strip().lower()
    op = c.get("operator")
    if op not in _OPERATORS:
        raise ConversionError(f"{where}: unknown operator {op!r}")
    sense = _OPERATORS[op]
    template: str
    if ctype == "sum":
        template = "sum_bound"
        slots = {"terms": r.all_vars(), "sense": sense, "limit": _num(r.value(c.get("limit"), f"{where}.limit"))}
    elif ctype in ("upperbound", "lowerbound"):
        var = r.var(c.get("var"), f"{where}.var")
        limit = _num(r.value(c.get("limit"), f"{where}.limit"))
        if sense == "==":
            template, slots = "linear", {"terms": [var], "sense": "==", "limit": limit}
        else:
            # the operator decides; the type name only says which one annotators meant
            template = "upper_bound" if sense == "<=" else "lower_bound"
            if (ctype == "upperbound") != (sense == "<="):
                r.notes.append(f"{where}: type {ctype} with operator {op}; the operator is used")
            slots = {"var": var, "limit": limit}
    elif ctype == "linear":
        terms = c.get("terms")
        if not isinstance(terms, dict) or not terms:
            raise ConversionError(f"{where}: linear constraint without terms")
        coefs: dict[str, float] = {}
        for mention, val in terms.items():
            v = r.var(mention, f"{where}.terms")
            if v in coefs:
                r.notes.append(f"{where}: two mentions of variable {v} in one constraint; coefficients added")
            coefs[v] = coefs.get(v, 0.0) + r.value(val, f"{where}.terms[{mention!r}]")
        template = "linear"
        slots = {"terms": [_term(cf, v) for v, cf in coefs.items()], "sense": sense,
                 "limit": _num(r.value(c.get("limit"), f"{where}.limit"))}
    elif ctype == "ratio":
        template = "ratio"
        slots = {"var": r.var(c.get("var"), f"{where}.var"), "total": r.all_vars(),
                 "ratio": _num(r.fraction(c.get("limit"), f"{where}.limit")), "sense": sense}
    elif ctype == "xby":
        template = "multiple"
        slots = {"x": r.var(c.get("x_var"), f"{where}.x_var"),
                 "factor": _num(r.value(c.get("param"), f"{where}.param")),
                 "y": r.var(c.get("y_var"), f"{where}.y_var"), "sense": sense}
    elif ctype == "xy":
        template = "comparison"
        slots = {"x": r.var(c.get("x_var"), f"{where}.x_var"), "y": r.var(c.get("y_var"), f"{where}.y_var"),
                 "sense": sense}
    else:
        raise ConversionError(f"{where}: unknown constraint type {c.get('type')!r}")
    return {"name": f"c{k + 1}_{ctype}", "template": template, "slots": slots, "source": r.source(c)}


# --- files ---------------------------------------------------------------------------


def _iter_records(path_or_records) -> Iterable[tuple[str, Any]]:
    """(id, record) pairs from a JSONL path, a list of {id: record} dicts, or one {id: record} dict."""
    if isinstance(path_or_records, (str, Path)):
        # streamed one line at a time, each capped (core.io): /dev/zero or a huge file cannot exhaust memory
        p = Path(path_or_records)
        fh, _, source = open_input(p)
        with fh:
            for lineno, raw in iter_lines(fh, source=source):
                where = f"{p.name}:{lineno}"
                if raw is None:
                    yield where, ConversionError(f"line {lineno}: {too_large_message(limit(), 'line')}")
                    continue
                try:
                    line = raw.decode("utf-8-sig" if lineno == 1 else "utf-8")
                except UnicodeDecodeError as e:
                    yield where, ConversionError(f"line {lineno}: not UTF-8 text (invalid byte at column {e.start + 1})")
                    continue
                if not line.strip():
                    continue
                try:
                    obj = json.loads(line)
                except json.JSONDecodeError as e:
                    yield where, ConversionError(f"line {lineno}: invalid JSON: {e.msg}")
                    continue
                except (ValueError, RecursionError) as e:  # e.g. an integer past 4,300 digits
                    yield where, ConversionError(f"line {lineno}: invalid JSON: {str(e)[:200]}")
                    continue
                yield from _items(obj, where)
        return
    if isinstance(path_or_records, dict):
        yield from _items(path_or_records, "record")
        return
    for k, obj in enumerate(path_or_records):
        yield from _items(obj, f"record {k}")


def _items(obj, where: str) -> Iterable[tuple[str, Any]]:
    if isinstance(obj, tuple) and len(obj) == 2:
        yield str(obj[0]), obj[1]
    elif isinstance(obj, dict) and "document" in obj and "vars" in obj:
        try:
            rid = str(obj.get("id", where))
        except ValueError:  # an integer id past 4,300 digits
            rid = where
        yield rid, obj  # a bare record
    elif isinstance(obj, dict) and obj:
        for rid, rec in obj.items():
            yield str(rid), rec
    else:
        yield where, ConversionError(f"{where}: expected an object {{id: record}}")


def import_nl4opt(path_or_records, integer: bool = False) -> list[ImportedProblem]:
    """Convert NL4Opt records (a JSONL path, or records already loaded) in input order.

    Each input record gives exactly one `ImportedProblem`: with a `formulation`, or with
    an `error` when it cannot be converted. `integer=True` makes every variable integer.
    """
    out: list[ImportedProblem] = []
    for rid, rec in _iter_records(path_or_records):
        if isinstance(rec, ConversionError):
            out.append(ImportedProblem(rid, "", error=str(rec)))
        else:
            out.append(convert_record(rid, rec, integer=integer))
    return out


def write_jsonl(problems: Iterable[ImportedProblem], out_path: str | Path, overwrite: bool = False) -> int:
    """Write one JSON object per problem ({id, document, formulation | null, error, notes}); return the count.

    An existing `out_path` is kept (`OutputExists`) unless `overwrite` (see `core.files`).
    """
    from ..core.files import open_new_output

    p = Path(out_path)
    if p.parent and not p.parent.exists():
        p.parent.mkdir(parents=True, exist_ok=True)
    n = 0
    with open_new_output(p, overwrite) as fh:
        for prob in problems:
            # safe_json: control characters and lone surrogates as \u escapes (same data, always encodable)
            fh.write(safe_json(json.dumps(prob.to_json(), ensure_ascii=False)) + "\n")
            n += 1
    return n


def read_jsonl(path: str | Path) -> list[ImportedProblem]:
    """Read back what `write_jsonl` wrote."""
    out = []
    fh, _, source = open_input(Path(path))
    with fh:
        for lineno, raw in iter_lines(fh, source=source):
            if raw is None:
                raise ValueError(f"{source}:{lineno}: {too_large_message(limit(), 'line')}")
            line = raw.decode("utf-8")
            if not line.strip():
                continue
            obj = json.loads(line)
            f = obj.get("formulation")
            out.append(ImportedProblem(
                id=str(obj.get("id", "")), document=obj.get("document", ""),
                formulation=Formulation.model_validate(f) if f is not None else None,
                error=obj.get("error"), notes=list(obj.get("notes") or []),
            ))
    return out

"""Loading and validating formulations.

`load` turns JSON text or a dict into a `Formulation`, and `check` finds every semantic
problem. Each problem is an `Issue` with a JSON path (``constraints[3].slots.ratio``)
and a one-line reason: these lines are shown to users and fed back to the LLM for
self-correction, so they are precise and short.
"""

from __future__ import annotations

import difflib
import json
import math
import re
import sys
import time
import unicodedata
from dataclasses import dataclass
from pathlib import Path

from pydantic import ValidationError

from . import elements
from . import expr as E
from .formulation import Formulation
from .ground import Data, GroundError, NonFiniteError, first_nonfinite
from .size import size_issues
from .templates import BINARY, BINARY_LIST, CATALOG, CONSTANT, FRACTION, SlotError, emit, instances, parsed_slots

MAX_ISSUES_PER_CONSTRAINT = 3


@dataclass(frozen=True)
class Issue:
    path: str
    message: str

    def __str__(self) -> str:
        return f"{self.path}: {self.message}" if self.path else self.message


class FormulationError(ValueError):
    """A formulation that cannot be used; `issues` lists every problem found."""

    def __init__(self, issues: list[Issue], source: str = ""):
        self.issues = issues
        self.source = source
        head = f"{source}: " if source else ""
        lines = "\n".join(f"  {i}" for i in issues[:50])
        more = f"\n  ... and {len(issues) - 50} more" if len(issues) > 50 else ""
        super().__init__(f"{head}invalid formulation ({len(issues)} problem{'s' if len(issues) != 1 else ''}):\n{lines}{more}")


# --- loading -------------------------------------------------------------------------


def load(obj, source: str = "") -> Formulation:
    """Parse JSON text / a dict into a structurally valid Formulation (or raise FormulationError)."""
    if isinstance(obj, (bytes, bytearray)):
        try:
            obj = obj.decode("utf-8")
        except UnicodeDecodeError as e:
            raise FormulationError([Issue("", f"not UTF-8 text (byte {e.start})")], source) from None
    if isinstance(obj, str):
        try:
            obj = _json_loads(obj)
        except json.JSONDecodeError as e:
            raise FormulationError([Issue("", f"invalid JSON at line {e.lineno} column {e.colno}: {e.msg}")], source) from None
        except RecursionError:
            raise FormulationError([Issue("", "JSON nested too deeply")], source) from None
        except ValueError as e:  # json.loads raises nothing else, but a traceback must not be the answer
            raise FormulationError([Issue("", f"invalid JSON: {e}")], source) from None
    # Parameter values (the bulk of a big model) are looked at only if validation fails: once it
    # passes they are all floats, and nothing else in them can be unusable.
    text_issues = _unusable_values(_without_values(obj))
    if text_issues:
        raise FormulationError(text_issues, source)
    if not isinstance(obj, dict):
        raise FormulationError([Issue("", f"expected a JSON object, got {type(obj).__name__}")], source)
    version = obj.get("version", "1")
    if version not in ("1", 1):
        raise FormulationError([Issue("version", f"unsupported format version {version!r}; this nlopt reads version 1")], source)
    if type(version) is int:  # 1 is accepted as "1"
        obj = {**obj, "version": "1"}
    try:
        return Formulation.model_validate(obj)
    except ValidationError as e:
        err = e
    except RecursionError:
        raise FormulationError([Issue("", "JSON nested too deeply")], source) from None
    text_issues = _unusable_values(obj)  # now with the parameter values
    raise FormulationError(text_issues or _pydantic_issues(err, obj), source) from None


def _without_values(obj):
    """The document without its parameters' `value` fields (paths of everything else unchanged)."""
    if not isinstance(obj, dict) or not isinstance(obj.get("parameters"), list):
        return obj
    return {**obj, "parameters": [{k: v for k, v in p.items() if k != "value"} if isinstance(p, dict) else p
                                  for p in obj["parameters"]]}


class _HugeInt:
    """A JSON integer beyond Python's int-str limit, kept as its digit count for the message."""

    def __init__(self, digits: int):
        self.digits = digits


def _json_loads(text: str):
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        raise
    except ValueError:  # an integer of more digits than int() converts (sys.get_int_max_str_digits)
        limit = sys.get_int_max_str_digits() or 10**9
        return json.loads(text, parse_int=lambda t: _HugeInt(len(t.lstrip("-"))) if len(t) > limit else int(t))


_SURROGATE = re.compile("[\ud800-\udfff]")
_MAX_INT_BITS = 14_000  # about 4,200 digits: beyond any float, and printable (int-str limit 4,300)


def _plain_numbers(values: list) -> bool:
    """Whether a list holds only floats and convertible ints (the bulk of a big formulation), checked by
    C loops (`map`, `set`, `max`) instead of one Python step per value."""
    kinds = set(map(type, values))
    if not kinds <= {float, int}:
        return False
    if int not in kinds:
        return True
    ints = values if len(kinds) == 1 else [v for v in values if type(v) is int]
    return max(map(int.bit_length, ints)) <= _MAX_INT_BITS


def _unusable_values(obj) -> list[Issue]:
    """Values no stage can handle, by path: lone surrogates in any text (not Unicode; they cannot be
    printed or written) and integers too long to convert. Checked once, before anything reads them."""
    issues: list[Issue] = []

    def scalar(value, loc) -> None:
        if isinstance(value, str):
            bad = None if value.isascii() else _SURROGATE.search(value)
            if bad:
                issues.append(Issue(_path(loc), f"text contains a lone surrogate {ascii(bad.group())[1:-1]} at "
                                                f"character {bad.start()}: not valid Unicode"))
        elif isinstance(value, _HugeInt) or (type(value) is int and value.bit_length() > _MAX_INT_BITS):
            digits = value.digits if isinstance(value, _HugeInt) else int(value.bit_length() * 0.30103)
            issues.append(Issue(_path(loc), f"integer of about {digits} digits is too large for a number"))

    stack = [(obj, [])]  # values still to look at, in document order (popped from the end)
    while stack and len(issues) < 50:
        value, loc = stack.pop()
        if type(value) is list and _plain_numbers(value):
            continue  # a row of parameter values: checked in C, no path built
        if isinstance(value, dict):
            items = list(value.items())
        elif isinstance(value, (list, tuple)):
            items = list(enumerate(value))
        else:
            scalar(value, loc)
            continue
        todo = []
        for k, v in items:
            if isinstance(k, str) and not k.isascii() and _SURROGATE.search(k):
                issues.append(Issue(_path(loc), f"field name {ascii(k):.60} contains a lone surrogate: not valid Unicode"))
                continue
            t = type(v)
            if t is float or (t is int and v.bit_length() <= _MAX_INT_BITS) or (t is str and v.isascii()):
                continue  # the bulk of any formulation: fine, and no path built for it
            todo.append((v, loc + [k]))
        stack.extend(reversed(todo))
    return issues


def load_file(path: str | Path) -> Formulation:
    p = Path(path)
    try:
        data = p.read_bytes()
    except OSError as e:
        raise FormulationError([Issue("", f"cannot read file: {e.strerror}")], str(p)) from None
    return load(data, str(p))


def load_valid(obj, source: str = "") -> Formulation:
    """Load and check; raise FormulationError listing every problem."""
    f = load(obj, source)
    issues = check(f)
    if issues:
        raise FormulationError(issues, source)
    return f


def _pydantic_issues(err: ValidationError, obj: dict) -> list[Issue]:
    issues: list[Issue] = []
    seen: set[tuple[str, str]] = set()
    for e in err.errors():
        loc = list(e["loc"])
        # Drop the discriminator tag pydantic inserts (constraints.3.ratio.slots -> constraints[3].slots)
        if len(loc) >= 3 and loc[0] == "constraints" and isinstance(loc[1], int) and isinstance(loc[2], str) \
                and loc[2] in CATALOG:
            del loc[2]
        # union members of parameter values / bounds: report once at the field
        path = _path(loc)
        msg = e["msg"]
        if e["type"] == "union_tag_invalid":
            given = e["input"].get("template") if isinstance(e.get("input"), dict) else None
            close = difflib.get_close_matches(str(given), list(CATALOG), n=1)
            # the full catalog does not fit in a short line; the schema lists it
            msg = f"unknown template {given!r:.40}" + (f"; did you mean {close[0]}?" if close else "; see the template catalog")
            path = _path(loc + ["template"])
        elif e["type"] == "union_tag_not_found":
            path = _path(loc + ["template"])
            msg = "missing template; name one from the template catalog"
        elif e["type"] == "extra_forbidden":
            msg = "unknown field"
        elif e["type"] == "value_error":  # our validators' messages (reserved names)
            msg = str(e.get("ctx", {}).get("error", msg))
        elif e["type"] == "string_pattern_mismatch" and isinstance(e.get("input"), str):
            msg = _name_message(e["input"])
        elif e["type"] == "missing":
            msg = "required field missing"
        collapsed = _collapse_union(path)
        if collapsed != path:  # one issue per field, not one per union member
            field = collapsed.rsplit(".", 1)[-1].split("[")[0]
            msg = _UNION_MESSAGES.get(field, msg)
            key = (collapsed, "")
        else:
            key = (collapsed, msg)
        if key in seen:
            continue
        seen.add(key)
        issues.append(Issue(collapsed, msg))
    return issues


_UNION_MESSAGES = {
    "value": "must be a number or nested lists of numbers, one level per index set",
    "lower": "must be a number, a parameter name, or null",
    "upper": "must be a number, a parameter name, or null",
    "elements": "set elements must be numbers or strings",
}


def _name_message(name: str) -> str:
    """Why `name` is not a name: plain ASCII letters, digits and _ only (`ｘ` is not `x`)."""
    plain = unicodedata.normalize("NFKC", name)
    if plain != name and plain.isascii() and plain.isidentifier():
        return (f"name {name!r:.70} is not plain ASCII: it reads as {plain!r} after Unicode normalisation (NFKC); "
                f"write {plain}")
    return f"name {name!r:.70} must start with an ASCII letter and contain only ASCII letters, digits and _"


def _path(loc: list) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += ("." if out else "") + str(part)
    return out


def _collapse_union(path: str) -> str:
    # pydantic names union members in the path ("value.list[float][0]"); users need the field.
    for marker in (".float", ".list[", ".str", ".int", ".constrained-str", ".function-after["):
        i = path.find(marker)
        if i != -1:
            return path[:i]
    return path


# --- semantic checks -----------------------------------------------------------------


def check(f: Formulation, max_terms: int | None = None) -> list[Issue]:
    """Every semantic problem of a structurally valid formulation.

    A formulation that grounds to more than `max_terms` terms (default
    `size.DEFAULT_MAX_TERMS`, counted before anything is expanded) is refused, naming the part.
    """
    issues: list[Issue] = []
    add = lambda path, msg: issues.append(Issue(path, msg))  # noqa: E731

    # names are unique across sets, parameters and variables
    owner: dict[str, str] = {}
    for kind, items in (("sets", f.sets), ("parameters", f.parameters), ("variables", f.variables)):
        for k, item in enumerate(items):
            if item.name in owner:
                add(f"{kind}[{k}].name", f"name {item.name} is already used by {owner[item.name]}")
            else:
                owner[item.name] = f"{kind}[{k}]"
    for k, s in enumerate(f.sets):
        bad = False
        for j, e in enumerate(s.elements):
            msg = elements.problem(e)
            if msg:
                add(f"sets[{k}].elements[{j}]", msg)
                bad = True
        for j, first in ([] if bad else elements.duplicates(s.elements)):
            e, e0 = s.elements[j], s.elements[first]
            same = "" if e == e0 and type(e) is type(e0) else \
                f": the same element as {e0!r} (elements[{first}]); numbers and numeric text compare by value"
            add(f"sets[{k}].elements[{j}]", f"duplicate element {e!r}{same}")
    set_names = {s.name for s in f.sets}

    data = Data(f)
    arrays: dict = {}  # parameter name -> its values as a checked array (the grounding below reuses them)
    for k, p in enumerate(f.parameters):
        bad = [s for s in p.index if s not in set_names]
        for s in bad:
            add(f"parameters[{k}].index", f"unknown set {s}")
        if not bad and not _finite_array(p, data, arrays):  # the common case without a table per element
            try:
                table = data.table(p.name)
                for v in table.values():
                    if not math.isfinite(v):
                        add(f"parameters[{k}].value", "values must be finite numbers")
                        break
            except GroundError as e:
                add(f"parameters[{k}].value", str(e).replace(f"parameter {p.name}", "shape").strip())

    for k, v in enumerate(f.variables):
        for s in v.index:
            if s not in set_names:
                add(f"variables[{k}].index", f"unknown set {s}")
        for which in ("lower", "upper"):
            b = getattr(v, which)
            if isinstance(b, str):
                p = data.params.get(b)
                if p is None:
                    add(f"variables[{k}].{which}", f"{b} is not a parameter")
                elif list(p.index) not in ([], list(v.index)):
                    add(f"variables[{k}].{which}", f"parameter {b} is indexed by {p.index}, the variable by {v.index}")
            elif isinstance(b, float) and not math.isfinite(b):
                add(f"variables[{k}].{which}", "NaN is not a number" if math.isnan(b) else "use null for no bound")
        if isinstance(v.lower, (int, float)) and isinstance(v.upper, (int, float)) and v.lower > v.upper \
                and math.isfinite(v.lower) and math.isfinite(v.upper):  # a non-finite bound is reported above
            add(f"variables[{k}]", f"lower bound {v.lower:g} exceeds upper bound {v.upper:g}")
    if issues:
        # expressions cannot be checked against broken declarations, but their syntax can
        return issues + _syntax_issues(f)
    # too large to ground: say so before grounding anything
    issues += [Issue(path, msg) for path, msg in size_issues(f, max_terms)]
    if issues:
        return issues + _syntax_issues(f)

    # one vectorized grounding pass of everything; the model is kept for `solve` (core.model.recall).
    # Only when it fails is each part grounded on its own, instance by instance, to say what and where.
    if not _syntax_issues(f) and _static_issues(f, data, set(owner)) == [] and _ground_once(f, data, arrays):
        return []

    # objective
    objective = None
    try:
        obj = E.parse(f.objective.expr)
        objective = data.linear(obj, {})
    except E.ExprError as e:
        add("objective.expr", str(e))
    except GroundError as e:
        add("objective.expr", str(e))

    model_names = set(owner)
    cnames: dict[str, int] = {}
    for k, c in enumerate(f.constraints):
        path = f"constraints[{k}]"
        if c.name in cnames:
            add(f"{path}.name", f"name {c.name} is already used by constraints[{cnames[c.name]}]")
        cnames.setdefault(c.name, k)
        issues.extend(_check_constraint(c, path, data, model_names))
    if not issues and objective is not None:
        issues.extend(_objective_with_costs(f, objective, data))
    return issues


def _objective_with_costs(f: Formulation, objective, data: Data) -> list[Issue]:
    """The objective plus the fixed-charge costs the templates add to it must stay finite."""
    sign = 1.0 if f.objective.sense == "minimize" else -1.0  # as `linearize` adds them
    for k, c in enumerate(f.constraints):
        cost = getattr(c.slots, "cost", None) if c.template == "fixed_charge" else None
        if cost is None:
            continue
        term = E.BinOp("*", E.parse(cost), E.parse(c.slots.indicator))
        try:
            for env in instances(c, data):
                objective.add_inplace(data.linear(term, env).scaled(sign))
        except GroundError as e:
            return [Issue(f"constraints[{k}].slots.cost", str(e))]
        bad = first_nonfinite(objective)
        if bad:
            return [Issue(f"constraints[{k}].slots.cost", f"with this setup cost, {bad} in the objective "
                                                           "(a number overflows); use smaller numbers")]
    return []


def _finite_array(p, data: Data, arrays: dict) -> bool:
    """The parameter's values are a well-shaped array of finite numbers (checked with numpy); the array
    is kept in `arrays` for the grounding of this check (converted once)."""
    import numpy as np

    try:
        arr = np.asarray(p.value, dtype=float)
    except (ValueError, TypeError, OverflowError):
        return False
    if arr.shape == tuple(len(data.sets[s]) for s in p.index) and bool(np.isfinite(arr).all()):
        arrays[p.name] = arr
        return True
    return False


def _static_issues(f: Formulation, data: Data, model_names: set[str]) -> list[Issue]:
    """What `_check_constraint` finds before grounding (sets, indices, duplicate names), for all constraints."""
    out: list[Issue] = []
    seen: set[str] = set()
    for k, c in enumerate(f.constraints):
        if c.name in seen:
            out.append(Issue(f"constraints[{k}].name", "duplicate"))
        seen.add(c.name)
        out += _binding_issues(c, f"constraints[{k}]", data, model_names)
    return out


def _ground_once(f: Formulation, data: Data, arrays: dict) -> bool:
    """Every instance of every slot and row grounds cleanly (vectorized), and the model is kept.

    False when anything is wrong or not covered: the caller then checks part by part, the slow
    way that names the slot and the instance.
    """
    import numpy as np

    from .model import build, remember
    from .templates import linearize_nodes
    from .vground import Grounder

    try:
        offset, n = {}, 0
        for v in f.variables:
            offset[v.name] = n
            n += math.prod(len(data.sets[s]) for s in v.index)
        binary = np.zeros(n, dtype=bool)
        for v in f.variables:
            if v.domain == "binary":
                binary[offset[v.name]:offset[v.name] + math.prod(len(data.sets[s]) for s in v.index)] = True
        g = Grounder(data, offset, n, arrays)
        for c in f.constraints:
            where = E.parse_condition(c.where) if c.where else None
            fr = g.where(g.frame([(b.index, b.set) for b in c.forall]), where)
            if c.forall and fr.n == 0:
                return False
            tmpl = CATALOG[c.template]
            slots = parsed_slots(c)
            over = getattr(c.slots, "over", None) or []
            if over:
                slots["var"] = E.Sum(slots["var"], tuple(E.Generator(b.index, b.set) for b in over))
            for key, node in slots.items():
                kind = tmpl.slots.get(key)
                if kind not in (CONSTANT, FRACTION, BINARY, BINARY_LIST) or node is None:
                    continue
                for one in (node if isinstance(node, list) else [node]):
                    if not _slot_fine(g, kind, one, fr, binary):
                        return False
        t0 = time.perf_counter()
        lin = linearize_nodes(f, data=data)
        lm = build(lin, arrays=arrays)
    except Exception:  # noqa: BLE001 - any trouble: the part-by-part check says what it is
        return False
    remember(f, lin, lm, time.perf_counter() - t0)
    return True


def _slot_fine(g, kind: str, node, fr, binary) -> bool:
    """`_check_slot` finds nothing in any instance (vectorized; raises vground.Unsupported when unsure)."""
    import numpy as np

    t, const = g.rows(node, fr)
    nz = t.val != 0.0
    if kind in (CONSTANT, FRACTION):
        return not nz.any() and (kind == CONSTANT or bool(((0 <= const) & (const <= 1)).all()))
    count = np.bincount(t.inst[nz], minlength=fr.n)
    if not (count >= 1).all() or not binary[t.col[nz]].all():
        return False
    return kind == BINARY_LIST or bool((count == 1).all() and (t.val[nz] == 1.0).all() and (const == 0).all())


def _binding_issues(c, path: str, data: Data, model_names: set[str]) -> list[Issue]:
    out: list[Issue] = []
    bound: set[str] = set()
    for j, b in enumerate(c.forall):
        if b.set not in data.sets:
            out.append(Issue(f"{path}.forall[{j}].set", f"unknown set {b.set}"))
        if b.index in model_names:
            out.append(Issue(f"{path}.forall[{j}].index", f"index {b.index} hides the model name {b.index}"))
        if b.index in bound:
            out.append(Issue(f"{path}.forall[{j}].index", f"index {b.index} is bound twice"))
        bound.add(b.index)
    for j, b in enumerate(getattr(c.slots, "over", None) or []):
        if b.set not in data.sets:
            out.append(Issue(f"{path}.slots.over[{j}].set", f"unknown set {b.set}"))
    return out


def _check_constraint(c, path: str, data: Data, model_names: set[str]) -> list[Issue]:
    out = _binding_issues(c, path, data, model_names)
    over = getattr(c.slots, "over", None) or []
    slots, syntax = _parse_constraint(c, path)
    out.extend(syntax)
    if out:
        return out

    tmpl = CATALOG[c.template]
    if over:  # the assignment variable has free indices bound by `over`
        slots["var"] = E.Sum(slots["var"], tuple(E.Generator(b.index, b.set) for b in over))
    try:
        envs = list(instances(c, data))
    except (GroundError, E.ExprError) as e:
        return [Issue(f"{path}.where", str(e))]
    if not envs and c.forall:
        return [Issue(f"{path}.forall", "no instances: the sets are empty or the filter excludes everything")]
    # Constant, fraction and binary slots have meanings of their own: check them per instance.
    # Linear slots are grounded as part of the template's rows below; only when a row fails
    # are they grounded one by one, to name the slot at fault.
    out = _slot_issues(c, path, tmpl, slots, envs, data, (CONSTANT, FRACTION, BINARY, BINARY_LIST))
    if out:
        return _slot_issues(c, path, tmpl, slots, envs, data) or out
    try:
        em = emit(c, data, set(model_names))
        scratch = data.extended(em.parameters, em.variables)
        rows = [(suffix, E.BinOp("-", cmp.left, cmp.right)) for suffix, cmp in em.comparisons]
        for env in envs:
            for suffix, diff in rows:
                try:
                    scratch.linear(diff, env)
                except NonFiniteError as e:
                    label = c.name + suffix + (f"[{','.join(str(env[b.index]) for b in c.forall)}]" if c.forall else "")
                    raise NonFiniteError(f"in row {label}: {e}") from None
    except (GroundError, E.ExprError) as e:
        at = path if isinstance(e, NonFiniteError) else f"{path}.{getattr(e, 'slot', 'slots')}"
        return _slot_issues(c, path, tmpl, slots, envs, data) or [Issue(at, str(e))]
    return []


def _slot_issues(c, path: str, tmpl, slots: dict, envs: list[dict], data: Data, kinds=None) -> list[Issue]:
    """Each slot (of `kinds`, default all) grounded on its own in every instance: the first
    problem of each slot, with the instance where it occurs."""
    out: list[Issue] = []
    for env in envs:
        at = "" if not c.forall else " (for " + ", ".join(f"{b.index}={env[b.index]!r}" for b in c.forall) + ")"
        for key, node in slots.items():
            kind = tmpl.slots.get(key)
            if kind is None or node is None or (kinds is not None and kind not in kinds):
                continue
            for sub, n in (enumerate(node) if isinstance(node, list) else [(None, node)]):
                slot_path = f"{path}.slots.{key}" + (f"[{sub}]" if sub is not None else "")
                msg = _check_slot(kind, n, env, data)
                if msg and not any(i.path == slot_path for i in out):
                    out.append(Issue(slot_path, msg + at))
        if len(out) >= MAX_ISSUES_PER_CONSTRAINT:
            return out
    return out


def _syntax_issues(f: Formulation) -> list[Issue]:
    """Syntax errors of the objective and of every constraint's `where` and slots (parsing only)."""
    out: list[Issue] = []
    try:
        E.parse(f.objective.expr)
    except E.ExprError as e:
        out.append(Issue("objective.expr", str(e)))
    for k, c in enumerate(f.constraints):
        out.extend(_parse_constraint(c, f"constraints[{k}]")[1])
    return out


def _parse_constraint(c, path: str) -> tuple[dict | None, list[Issue]]:
    """A constraint's slots parsed into nodes (None if one does not parse), and its syntax errors."""
    out: list[Issue] = []
    if c.where:
        try:
            E.parse_condition(c.where)
        except E.ExprError as e:
            out.append(Issue(f"{path}.where", str(e)))
    try:
        return parsed_slots(c), out
    except SlotError as e:
        out.append(Issue(f"{path}.{e.path}", str(e.error)))
        # report the other bad slots as well
        for key, value in c.slots:
            kind = CATALOG[c.template].slots.get(key)
            if kind is None or value is None or f"slots.{key}" in e.path:
                continue
            for sub, text in (enumerate(value) if isinstance(value, list) else [(None, value)]):
                try:
                    E.parse_comparison(text) if kind == "comparison" else E.parse(text)
                except E.ExprError as err:
                    out.append(Issue(f"{path}.slots.{key}" + (f"[{sub}]" if sub is not None else ""), str(err)))
        return None, out


def _check_slot(kind: str, node, env: dict, data: Data) -> str | None:
    try:
        if kind == "comparison":
            data.linear(E.BinOp("-", node.left, node.right), env)
            return None
        if kind in (CONSTANT, FRACTION):
            v = data.constant(node, env)
            if kind == FRACTION and not 0 <= v <= 1:
                return f"ratio must be between 0 and 1, got {v:g} (write 20% as 0.2)"
            return None
        lin = data.linear(node, env)
        if kind in (BINARY, BINARY_LIST):
            terms = lin.nonzero()
            if not terms:
                return "must contain a binary variable"
            for key in terms:
                if data.vars[key[0]].domain != "binary":
                    return f"variable {key[0]} must be binary, it is {data.vars[key[0]].domain}"
            if kind == BINARY and (len(terms) != 1 or next(iter(terms.values())) != 1 or lin.const):
                return "must be a single binary variable"
        return None
    except (GroundError, E.ExprError) as e:
        return str(e)

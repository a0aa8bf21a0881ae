"""Vectorized grounding: every instance of an expression at once, with numpy arrays.

`Grounder.rows(node, forall, where)` grounds `node` (a linear expression) for every
instance of a quantified constraint in one pass: the `forall` bindings become one
instance axis (element codes per index), `where` a boolean mask over it, each `sum`
generator a broadcast of that axis (`parent` maps an inner instance to its outer one),
each variable term a column-index array and each parameter a gather from a dense table;
`t - 1` is resolved by a sorted search over the set's numeric elements.

The result is exactly what `ground.Data.linear` gives instance by instance (the reference
and test oracle): the same terms, the same floating-point operations in the same order
(the walk mirrors `Data._add` / `Data.evaluate`, and repeated terms of one row are summed
in the order the reference meets them), so coefficients are equal bit for bit.

Whatever this module does not cover, or any instance that would be an error (an unknown
element, a name used as a number, a product of variables, a non-finite number, ...),
raises `Unsupported`: the caller then grounds that part with the reference grounder,
which raises the precise error (naming the instance). Element identity is
`elements.key`, as everywhere: set elements are coded by position, lookups go through keys.
"""

from __future__ import annotations

import math

import numpy as np

from . import elements
from . import expr as E
from .ground import Data, GroundError


class Unsupported(Exception):
    """This expression (or one of its instances) is left to the reference grounder."""


_CONST = -1  # the column of constant entries in a `Terms`
# Instances, codes and columns as 32-bit integers: half the memory traffic of int64, and what HiGHS
# takes. Safe because no frame, set or column count reaches 2**31 (`_fits` refuses one that would).
IDX = np.int32
_IDX_LIMIT = 2**31 - 2


def _fits(n: int) -> None:
    if n > _IDX_LIMIT:
        raise Unsupported("more than 2**31 instances or columns")


_counting = np.zeros(0, dtype=IDX)


def arange(n: int) -> np.ndarray:
    """0 .. n-1 as a read-only view of one shared array (grown when a longer one is asked for), so the
    many instance and column ranges of a build cost no memory of their own."""
    global _counting
    if len(_counting) < n:
        _counting = np.arange(n, dtype=IDX)
        _counting.flags.writeable = False
    return _counting[:n]


class Frame:
    """`n` instances; `bind` maps each bound index to (set name, element codes of length n)."""

    __slots__ = ("n", "bind", "_arange", "flat", "product_of")

    def __init__(self, n: int, bind: dict[str, tuple[str, np.ndarray]], product_of: tuple[str, ...] | None = None):
        _fits(n)
        self.n = n
        self.bind = bind
        # the sets whose whole cross product this frame is, in bind order (its codes: `product`'s arrays)
        self.product_of = product_of
        self._arange = None
        self.flat: dict[tuple, np.ndarray] = {}  # row-major positions by (sets, index names): x[i,j] and c[i,j] share one

    @property
    def arange(self) -> np.ndarray:
        """0 .. n-1 (shared: arrays in `Terms` are never changed in place)."""
        if self._arange is None:
            self._arange = arange(self.n)
        return self._arange

    def take(self, sel: np.ndarray) -> "Frame":
        return Frame(int(len(sel)) if sel.dtype != bool else int(sel.sum()),
                     {k: (s, c[sel]) for k, (s, c) in self.bind.items()})


class Terms:
    """Entries (instance, column, value) in the order the reference meets them; column -1 is the constant."""

    __slots__ = ("inst", "col", "val")

    def __init__(self, inst: np.ndarray, col: np.ndarray, val: np.ndarray):
        self.inst, self.col, self.val = inst, col, val


class Lin:
    """A linear expression per instance, compacted like a `LinExpr` (each key once, constant last)."""

    __slots__ = ("t", "has_terms")

    def __init__(self, t: Terms, has_terms: np.ndarray):
        self.t = t
        self.has_terms = has_terms  # per instance: some variable was met (`LinExpr.terms` non-empty)


class Elem:
    """Set elements per instance: codes into set `set_name`."""

    __slots__ = ("set_name", "codes")

    def __init__(self, set_name: str, codes: np.ndarray):
        self.set_name, self.codes = set_name, codes


class Lit:
    """A quoted element (or any element-valued constant) the same for every instance."""

    __slots__ = ("value",)

    def __init__(self, value):
        self.value = value


def _times(coef, a):
    """coef * a, where `coef` is a float or an array; 1.0 * a is a bit for bit, so it is not computed."""
    if type(coef) is float and coef == 1.0:
        return a
    return coef * a


def _per(coef, n: int) -> np.ndarray:
    """A coefficient as an array over n instances (a read-only view when it is one number)."""
    return coef if isinstance(coef, np.ndarray) and coef.ndim else np.broadcast_to(np.float64(coef), (n,))


# Overflow to inf and inf - inf are caught by `_finite` and left to the reference grounder, which names
# the instance: numpy's warnings about them would only be noise on the terminal.
def _quiet():
    return np.errstate(over="ignore", invalid="ignore", divide="ignore")


def _finite(a) -> None:
    if not np.all(np.isfinite(a)):
        raise Unsupported("non-finite")


def _empty_terms() -> Terms:
    z = np.zeros(0, dtype=IDX)
    return Terms(z, z.copy(), np.zeros(0))


def _concat(parts: list[Terms]) -> Terms:
    parts = [p for p in parts if len(p.inst)]
    if not parts:
        return _empty_terms()
    if len(parts) == 1:
        return parts[0]
    return Terms(np.concatenate([p.inst for p in parts]), np.concatenate([p.col for p in parts]),
                 np.concatenate([p.val for p in parts]))


def compact(t: Terms, n_cols: int) -> Terms:
    """Each (instance, column) once, its entries summed in order starting from 0.0 (as a dict does).

    The terms come sorted by instance, then column; then the constants, one per instance, sorted
    by instance. Repeated entries are summed one rank at a
    time, so the additions happen in the reference's order (numpy's reductions would pair them up).
    """
    if not len(t.inst):
        return t
    is_const = t.col == _CONST
    if is_const.any() and not is_const.all():  # constants and terms never merge: compact each on its own
        a = compact(Terms(t.inst[~is_const], t.col[~is_const], t.val[~is_const]), n_cols)
        b = compact(Terms(t.inst[is_const], t.col[is_const], t.val[is_const]), n_cols)
        return _concat([a, b])
    if _strictly_sorted(t):  # the common case
        return t  # (0.0 + v is v but for the sign of a zero, which no result depends on)
    key = t.inst.astype(np.int64) * (n_cols + 1) + (t.col + 1)
    order = np.argsort(key, kind="stable")
    key_s = key[order]
    val_s = t.val[order]
    start = np.empty(len(key_s), dtype=bool)
    start[0] = True
    np.not_equal(key_s[1:], key_s[:-1], out=start[1:])
    group = np.cumsum(start) - 1
    firsts = np.flatnonzero(start)
    out = np.zeros(len(firsts))
    if len(firsts) == len(key_s):
        out += val_s  # 0.0 + v: no repeats
    else:
        rank = np.arange(len(key_s)) - firsts[group]
        by_rank = np.argsort(rank, kind="stable")
        counts = np.bincount(rank)
        pos = 0
        for c in counts:  # one addition per rank, for all groups at once
            sel = by_rank[pos:pos + c]
            out[group[sel]] += val_s[sel]
            pos += c
    ks = key_s[firsts]
    return Terms((ks // (n_cols + 1)).astype(IDX), (ks % (n_cols + 1) - 1).astype(IDX), out)


def _strictly_sorted(t: Terms) -> bool:
    """(instance, column) strictly increasing: sorted and no repeats (boolean arrays only, no keys)."""
    if len(t.inst) < 2:
        return True
    a, b = t.inst[:-1], t.inst[1:]
    later = b > a
    if later.all():
        return True
    return bool((later | ((b == a) & (t.col[1:] > t.col[:-1]))).all())


class Grounder:
    """Vectorized grounding against one `Data` (the same declarations the reference uses)."""

    def __init__(self, data: Data, column_offset: dict[str, int], n_cols: int,
                 arrays: dict[str, np.ndarray] | None = None):
        self.data = data
        self.offset = column_offset  # variable name -> its first column
        self.n_cols = n_cols
        self._codes: dict[str, dict] = {}
        self._nums: dict[str, np.ndarray] = {}
        self._texts: dict[str, np.ndarray] = {}
        self._sorted: dict[str, tuple[np.ndarray, np.ndarray]] = {}
        self._trans: dict[tuple[str, str], np.ndarray] = {}
        # parameter values as arrays; `arrays`: ones validation already converted (and found finite)
        self._dense: dict[str, np.ndarray] = dict(arrays or {})
        self._products: dict[tuple[str, ...], list[np.ndarray]] = {}

    # -- sets ------------------------------------------------------------------------

    def size(self, s: str) -> int:
        if s not in self.data.sets:
            raise Unsupported("unknown set")
        return len(self.data.sets[s])

    def codes_of(self, s: str) -> dict:
        """element key -> position in set s."""
        if s not in self._codes:
            self._codes[s] = {elements.key(e): k for k, e in enumerate(self.data.sets[s])}
        return self._codes[s]

    def nums(self, s: str) -> np.ndarray:
        """Numeric value of each element of s (NaN for names)."""
        if s not in self._nums:
            vals = [elements.number(e) for e in self.data.sets[s]]
            self._nums[s] = np.array([math.nan if v is None else v for v in vals], dtype=float)
        return self._nums[s]

    def is_text(self, s: str) -> np.ndarray:
        """Which elements of s are Python text (numeric text included)."""
        return np.array([isinstance(e, str) for e in self.data.sets[s]], dtype=bool)

    def texts(self, s: str) -> np.ndarray:
        """The text of each name element of s (None for numbers), as an object array."""
        if s not in self._texts:
            arr = np.empty(self.size(s), dtype=object)
            for k, e in enumerate(self.data.sets[s]):
                arr[k] = e if elements.number(e) is None else None
            self._texts[s] = arr
        return self._texts[s]

    def lookup_numbers(self, s: str, values: np.ndarray) -> np.ndarray:
        """Codes in s of numeric values (the element of equal value); Unsupported if one is missing."""
        if s not in self._sorted:
            nums = self.nums(s)
            ok = np.flatnonzero(~np.isnan(nums))
            order = np.argsort(nums[ok], kind="stable")
            self._sorted[s] = (nums[ok][order], ok[order].astype(IDX))
        keys, codes = self._sorted[s]
        if not len(keys):
            raise Unsupported("no numeric elements")
        pos = np.clip(np.searchsorted(keys, values), 0, len(keys) - 1)
        if not np.all(keys[pos] == values):
            raise Unsupported("not an element")
        return codes[pos]

    def translate(self, src: str, dst: str, codes: np.ndarray) -> np.ndarray:
        """Codes of set src as codes of set dst (same element key); Unsupported when one is missing."""
        if src == dst:
            return codes
        if (src, dst) not in self._trans:
            m = self.codes_of(dst)
            self._trans[(src, dst)] = np.array([m.get(elements.key(e), -1) for e in self.data.sets[src]],
                                               dtype=IDX)
        out = self._trans[(src, dst)][codes]
        if np.any(out < 0):
            raise Unsupported("not an element")
        return out

    def product(self, sets: list[str]) -> list[np.ndarray]:
        """Codes of the sets' cross product in order (last set fastest), one array per set (kept: a
        variable's block and a sum over the same sets share them; never changed in place)."""
        key = tuple(sets)
        if key in self._products:
            return self._products[key]
        sizes = [self.size(s) for s in sets]
        total = math.prod(sizes)
        _fits(total)
        if total == 0:
            return [np.zeros(0, dtype=IDX) for _ in sets]
        out = []
        inner = total
        for n in sizes:
            inner //= n
            outer = total // (n * inner) if n else 0
            codes = arange(n)
            if inner > 1:
                codes = np.repeat(codes, inner)
            out.append(np.tile(codes, outer) if outer > 1 else codes)
        self._products[key] = out
        return out

    def frame(self, bindings: list[tuple[str, str]]) -> Frame:
        codes = self.product([s for _, s in bindings])
        n = len(codes[0]) if codes else 1
        names = [idx for idx, _ in bindings]
        whole = tuple(s for _, s in bindings) if len(set(names)) == len(names) else None
        return Frame(n, {idx: (s, c) for (idx, s), c in zip(bindings, codes)}, whole)

    # -- parameters --------------------------------------------------------------------

    def dense(self, name: str) -> np.ndarray:
        """A parameter's values as an array shaped by its index sets (row-major)."""
        if name not in self._dense:
            p = self.data.params[name]
            shape = tuple(self.size(s) for s in p.index)
            arr = None
            if name not in self.data._tables:
                try:
                    arr = np.asarray(p.value, dtype=float)
                except (ValueError, TypeError, OverflowError):
                    arr = None
                if arr is not None and arr.shape != shape:
                    arr = None
            if arr is None:  # ragged or mis-shaped: the reference table (and its errors)
                try:
                    table = self.data.table(name)
                except GroundError:
                    raise Unsupported("parameter shape") from None
                arr = np.fromiter(table.values(), dtype=float, count=len(table)).reshape(shape)
            self._dense[name] = arr
        return self._dense[name]

    # -- instances -----------------------------------------------------------------------

    def where(self, fr: Frame, cond: E.Node | None) -> Frame:
        if cond is None:
            return fr
        with _quiet():
            return fr.take(self.condition(cond, fr))

    def rows(self, node: E.Node, fr: Frame) -> tuple[Terms, np.ndarray]:
        """`node` grounded for every instance of `fr`: its compacted terms (sorted by instance, then
        column) and its constant per instance."""
        parts: list[Terms] = []
        with _quiet():
            self.add(node, fr, 1.0, parts)
        terms, consts = [], []
        for p in parts:  # terms and constants never merge: each kind is compacted on its own
            is_const = p.col == _CONST
            if not is_const.any():
                terms.append(p)
            elif is_const.all():
                consts.append(p)
            else:
                terms.append(Terms(p.inst[~is_const], p.col[~is_const], p.val[~is_const]))
                consts.append(Terms(p.inst[is_const], p.col[is_const], p.val[is_const]))
        with _quiet():
            t = compact(_concat(terms), self.n_cols)
            c = compact(_concat(consts), self.n_cols)
        const = np.zeros(fr.n)
        const[c.inst] = c.val
        _finite(t.val)
        _finite(const)
        return t, const

    # -- the walk (mirrors Data._add and Data.evaluate) ------------------------------------

    def add(self, node: E.Node, fr: Frame, coef, acc: list[Terms]) -> None:
        """acc += coef * node, entries appended in the reference's order (`coef`: a float, or an array
        over the instances)."""
        self.data.check_deadline()
        if isinstance(node, E.Index):
            kind, col_or_val = self.resolve(node, fr)
            inst = fr.arange
            if kind == "variable":
                acc.append(Terms(inst, col_or_val, _per(coef, fr.n)))
            else:
                acc.append(Terms(inst, np.full(fr.n, _CONST, dtype=IDX), _per(_times(coef, col_or_val), fr.n)))
            return
        if isinstance(node, E.Sum):
            self.add_sum(node, fr, coef, acc)
            return
        if isinstance(node, E.Add):
            self._not_element(node.terms[0], fr)
            for sign, term in zip(node.signs, node.terms):
                self.add(term, fr, coef if sign == "+" else -coef, acc)
            return
        if isinstance(node, E.BinOp):
            self._not_element(node.left, fr)
            if node.op in "+-":
                self.add(node.left, fr, coef, acc)
                self.add(node.right, fr, coef if node.op == "+" else -coef, acc)
                return
            if node.op == "*":
                a = self.evaluate(node.left, fr)
                if isinstance(a, Elem):  # the reference scales by an int/float element, combines a text one
                    text = self.is_text(a.set_name)[a.codes]
                    if text.any() and not text.all():
                        raise Unsupported("numbers and numeric text mixed")
                    if not text.any():
                        a = self.number(a, fr)
                if not isinstance(a, (Elem, Lit)):
                    a = self._as_number_or_lin(a, fr)
                    if not isinstance(a, Lin):
                        _finite(a)
                        self.add(node.right, fr, _times(coef, a), acc)
                        return
                v = self.combine(node, a, self.evaluate(node.right, fr), fr)
            else:
                v = self.evaluate(node, fr)
        elif isinstance(node, E.Neg):
            self._not_element(node.operand, fr)
            self.add(node.operand, fr, -coef, acc)
            return
        else:
            v = self.evaluate(node, fr)
        v = self._as_number_or_lin(v, fr)
        if isinstance(v, Lin):
            t = v.t
            c = coef[t.inst] if isinstance(coef, np.ndarray) and coef.ndim else coef
            acc.append(Terms(t.inst, t.col, _times(c, t.val)))
        else:
            acc.append(Terms(fr.arange, np.full(fr.n, _CONST, dtype=IDX),
                             np.broadcast_to(coef * self.number(v, fr), (fr.n,))))

    def _not_element(self, node: E.Node, fr: Frame) -> None:
        """The reference evaluates an operand that is a name element first (and fails): leave it to it."""
        if isinstance(node, E.Name) and node.id in fr.bind:
            s, c = fr.bind[node.id]
            if np.any(np.isnan(self.nums(s)[c])):
                raise Unsupported("element used as a number")

    def add_sum(self, node: E.Sum, fr: Frame, coef, acc: list[Terms]) -> None:
        names = [g.index for g in node.generators]
        if len(set(names)) != len(names) or any(n in fr.bind for n in names):
            raise Unsupported("index bound twice")
        inner, parent = self.expand(fr, [(g.index, g.set) for g in node.generators], node.condition)
        parts: list[Terms] = []
        self.add(node.body, inner, coef[parent] if isinstance(coef, np.ndarray) and coef.ndim else coef, parts)
        t = _concat(parts)
        if not len(t.inst):
            return
        if len(parts) > 1 and np.any(t.inst[1:] < t.inst[:-1]):  # inner instance order, then the body's order
            order = np.argsort(t.inst, kind="stable")
            t = Terms(t.inst[order], t.col[order], t.val[order])
        # one entry per inner instance, in order (a plain term): its outer instance is `parent` itself
        acc.append(Terms(parent if t.inst is inner.arange else parent[t.inst], t.col, t.val))

    def expand(self, fr: Frame, gens: list[tuple[str, str]], cond: E.Node | None) -> tuple[Frame, np.ndarray]:
        """The frame times the generators' sets (outer instance major), filtered by `cond`."""
        codes = self.product([s for _, s in gens])
        k = len(codes[0])
        _fits(fr.n * k)
        if fr.product_of is not None and fr.n > 1:
            # the frame is a whole product, so frame x generators is the product of all their sets
            # (outer instance major, last set fastest): its codes are `product`'s, shared, not copied
            sets = fr.product_of + tuple(s for _, s in gens)
            every = self.product(list(sets))
            outer = len(fr.product_of)
            parent = every[0] if outer == 1 else np.repeat(fr.arange, k)  # one set: its code is the instance
            bind = {name: (s, c) for (name, (s, _)), c in zip(fr.bind.items(), every)}
            bind.update({idx: (s, c) for (idx, s), c in zip(gens, every[outer:])})
            inner = Frame(fr.n * k, bind, sets)
        elif fr.n == 1:  # a sum outside any forall (an objective): the generators' codes as they are
            parent = np.broadcast_to(np.zeros(1, dtype=IDX), (k,))
            bind = {name: (s, np.broadcast_to(c, (k,))) for name, (s, c) in fr.bind.items()}
            bind.update({idx: (s, c) for (idx, s), c in zip(gens, codes)})
            inner = Frame(fr.n * k, bind, tuple(s for _, s in gens) if not fr.bind else None)
        else:
            parent = np.repeat(fr.arange, k)
            bind = {name: (s, c[parent]) for name, (s, c) in fr.bind.items()}
            for (idx, s), c in zip(gens, codes):
                bind[idx] = (s, np.tile(c, fr.n))
            inner = Frame(fr.n * k, bind)
        if cond is not None:
            mask = self.condition(cond, inner)
            inner = inner.take(mask)
            parent = parent[mask]
        return inner, parent

    def evaluate(self, node: E.Node, fr: Frame):
        """A float array (or scalar), a `Lin`, an `Elem` or a `Lit`."""
        if isinstance(node, E.Num):
            return node.value
        if isinstance(node, E.Str):
            return Lit(node.value)
        if isinstance(node, E.Name):
            return self.name(node.id, fr)
        if isinstance(node, E.Index):
            kind, v = self.resolve(node, fr)
            if kind == "parameter":
                return v
            return self.single(v, fr)
        if isinstance(node, E.Neg):
            v = self._as_number_or_lin(self.evaluate(node.operand, fr), fr)
            if isinstance(v, Lin):
                return self.scaled(v, -1.0)
            return -self.number(v, fr)
        if isinstance(node, E.BinOp):
            return self.combine(node, self.evaluate(node.left, fr), self.evaluate(node.right, fr), fr)
        if isinstance(node, (E.Sum, E.Add)):
            parts: list[Terms] = []
            self.add(node, fr, 1.0, parts)
            t = compact(_concat(parts), self.n_cols)
            has = np.zeros(fr.n, dtype=bool)
            has[t.inst[t.col != _CONST]] = True
            if not has.any():
                const = np.zeros(fr.n)
                const[t.inst] = t.val  # compacted: only constant entries, one per instance
                _finite(const)
                return const
            return Lin(t, has)
        raise Unsupported("condition used as a value")

    def name(self, name: str, fr: Frame):
        if name in fr.bind:
            s, c = fr.bind[name]
            return Elem(s, c)
        d = self.data
        if name in d.params:
            if d.params[name].index:
                raise Unsupported("indexed parameter without index")
            return float(self.dense(name).reshape(()))
        if name in d.vars:
            if d.vars[name].index:
                raise Unsupported("indexed variable without index")
            return self.single(np.full(fr.n, self.offset[name], dtype=IDX), fr)
        raise Unsupported("unknown name")

    def single(self, cols: np.ndarray, fr: Frame) -> Lin:
        """One variable per instance with coefficient 1 (and constant 0, as `LinExpr.var`)."""
        return Lin(Terms(fr.arange, cols, np.ones(fr.n)), np.ones(fr.n, dtype=bool))

    def resolve(self, node: E.Index, fr: Frame):
        """("variable", column array) or ("parameter", value array) of `name[args]`."""
        d = self.data
        if node.name in d.params:
            sets, kind = d.params[node.name].index, "parameter"
        elif node.name in d.vars:
            sets, kind = d.vars[node.name].index, "variable"
        else:
            raise Unsupported("unknown name")
        if len(node.args) != len(sets):
            raise Unsupported("wrong number of indices")
        simple = all(isinstance(a, E.Name) and a.id in fr.bind for a in node.args)
        key = (tuple(sets), tuple(a.id for a in node.args)) if simple else None
        flat, whole = fr.flat.get(key, (None, False)) if simple else (None, False)
        if flat is None:
            codes = [self.element_codes(arg, s, fr) for arg, s in zip(node.args, sets)]
            whole = self._is_product(codes, sets)
            if whole:  # every element tuple once, in order (`sum(c[i,j] * x[i,j] for i in I for j in J)`)
                flat = arange(fr.n)
            else:
                flat = codes[0] if codes else np.zeros(fr.n, dtype=IDX)
                for c, s in zip(codes[1:], sets[1:]):  # row-major position (codes are in range by construction)
                    flat = flat * self.size(s)
                    flat += c
                flat = np.broadcast_to(flat, (fr.n,))
            if simple:
                fr.flat[key] = (flat, whole)
        if kind == "variable":
            off = self.offset[node.name]
            if whole:
                return kind, arange(off + fr.n)[off:]
            return kind, flat + off if off else flat
        table = self.dense(node.name).reshape(-1)
        return kind, table if whole else table[flat]

    def _is_product(self, codes: list[np.ndarray], sets) -> bool:
        """The codes are the cross product of `sets` itself (the very arrays `product` made)."""
        made = self._products.get(tuple(sets))
        return bool(codes) and made is not None and len(made) == len(codes) and \
            all(c is m for c, m in zip(codes, made))

    def element_codes(self, arg: E.Node, s: str, fr: Frame) -> np.ndarray:
        if isinstance(arg, E.Name) and arg.id in fr.bind:
            src, c = fr.bind[arg.id]
            return self.translate(src, s, c)
        v = self.evaluate(arg, fr)
        if isinstance(v, Lit):
            k = self.codes_of(s).get(elements.key(v.value))
            if k is None:
                raise Unsupported("not an element")
            return np.full(fr.n, k, dtype=IDX)
        if isinstance(v, Elem):
            return self.translate(v.set_name, s, v.codes)
        if isinstance(v, Lin):
            raise Unsupported("variable in an index")
        vals = np.broadcast_to(np.asarray(v, dtype=float), (fr.n,))
        return self.lookup_numbers(s, vals)

    # -- arithmetic ------------------------------------------------------------------------

    def _as_number_or_lin(self, v, fr: Frame):
        """Elements become numbers (Unsupported for names); a `Lin` without terms anywhere is its constant."""
        if isinstance(v, Lin):
            if v.has_terms.all():
                return v
            if v.has_terms.any():
                raise Unsupported("terms in some instances only")
            return self.lin_const(v, fr)
        return v

    def lin_const(self, v: Lin, fr: Frame) -> np.ndarray:
        const = np.zeros(fr.n)
        m = v.t.col == _CONST
        const[v.t.inst[m]] = v.t.val[m]
        return const

    def number(self, v, fr: Frame):
        """A numeric value per instance (scalar or array)."""
        if isinstance(v, Elem):
            out = self.nums(v.set_name)[v.codes]
            if np.any(np.isnan(out)):
                raise Unsupported("element used as a number")
            _finite(out)
            return out
        if isinstance(v, Lit):
            n = elements.number(v.value)
            if n is None or not math.isfinite(n):
                raise Unsupported("element used as a number")
            return n
        if isinstance(v, Lin):
            raise Unsupported("expression must be constant")
        _finite(v)
        return v

    def scaled(self, v: Lin, c) -> Lin:
        t = v.t
        c_inst = c[t.inst] if isinstance(c, np.ndarray) and c.ndim else c
        return Lin(Terms(t.inst, t.col, t.val * c_inst), v.has_terms)

    def with_const(self, v, fr: Frame) -> Lin:
        """`LinExpr({}, number)` per instance."""
        inst = np.arange(fr.n, dtype=IDX)
        return Lin(Terms(inst, np.full(fr.n, _CONST, dtype=IDX),
                         np.broadcast_to(np.asarray(v, dtype=float), (fr.n,)).copy()),
                   np.zeros(fr.n, dtype=bool))

    def combine(self, node: E.BinOp, a, b, fr: Frame):
        a = self._as_number_or_lin(a, fr)
        b = self._as_number_or_lin(b, fr)
        la, lb = isinstance(a, Lin), isinstance(b, Lin)
        if node.op in "+-":
            sign = 1.0 if node.op == "+" else -1.0
            if not la and not lb:
                out = self.number(a, fr) + sign * self.number(b, fr)
                _finite(out)
                return out
            aa = a if la else self.with_const(self.number(a, fr), fr)
            bb = b if lb else self.with_const(self.number(b, fr), fr)
            t = compact(_concat([aa.t, Terms(bb.t.inst, bb.t.col, sign * bb.t.val)]), self.n_cols)
            return Lin(t, aa.has_terms | bb.has_terms)
        if node.op == "*":
            if la and lb:
                raise Unsupported("product of two linear expressions")
            if la:
                return self.scaled(a, self.number(b, fr))
            if lb:
                return self.scaled(b, self.number(a, fr))
            out = self.number(a, fr) * self.number(b, fr)
            _finite(out)
            return out
        if lb:
            raise Unsupported("division by an expression")
        d = self.number(b, fr)
        if np.any(np.asarray(d) == 0):
            raise Unsupported("division by zero")
        if la:
            inv = 1.0 / np.asarray(d, dtype=float)
            _finite(inv)
            return self.scaled(a, inv if inv.ndim else float(inv))
        out = self.number(a, fr) / d
        _finite(out)
        return out

    # -- conditions ----------------------------------------------------------------------

    def condition(self, node: E.Node, fr: Frame) -> np.ndarray:
        if isinstance(node, E.BoolOp):
            vals = [self.condition(v, fr) for v in node.values]
            return np.logical_and.reduce(vals) if node.op == "and" else np.logical_or.reduce(vals)
        if isinstance(node, E.Not):
            return ~self.condition(node.operand, fr)
        if isinstance(node, E.Compare):
            na, ta = self.keys(self.evaluate(node.left, fr), fr)
            nb, tb = self.keys(self.evaluate(node.right, fr), fr)
            both_num = ~np.isnan(na) & ~np.isnan(nb)
            if node.op in ("==", "!="):
                eq = np.where(both_num, na == nb, False)
                if ta is not None and tb is not None:
                    named = np.isnan(na) & np.isnan(nb)
                    if named.any():
                        eq[named] = ta[named] == tb[named]
                return eq if node.op == "==" else ~eq
            both_txt = np.isnan(na) & np.isnan(nb)
            if not np.all(both_num | both_txt):
                raise Unsupported("a name ordered against a number")
            cmp = {"<=": np.less_equal, ">=": np.greater_equal, "<": np.less, ">": np.greater}[node.op]
            out = np.zeros(fr.n, dtype=bool)
            out[both_num] = cmp(na[both_num], nb[both_num])
            if both_txt.any():
                out[both_txt] = np.array([cmp(x, y) for x, y in zip(ta[both_txt], tb[both_txt])], dtype=bool)
            return out
        raise Unsupported("not a condition")

    def keys(self, v, fr: Frame) -> tuple[np.ndarray, np.ndarray | None]:
        """Element identity per instance: (number or NaN, text or None) — `elements.key`, as arrays."""
        if isinstance(v, Elem):
            return self.nums(v.set_name)[v.codes], self.texts(v.set_name)[v.codes]
        if isinstance(v, Lit):
            n = elements.number(v.value)
            if n is not None:
                if math.isnan(n):
                    raise Unsupported("nan")
                return np.full(fr.n, n), None
            return np.full(fr.n, math.nan), np.full(fr.n, v.value, dtype=object)
        v = self._as_number_or_lin(v, fr)
        if isinstance(v, Lin):
            raise Unsupported("a filter with variables")
        arr = np.broadcast_to(np.asarray(v, dtype=float), (fr.n,)).copy()
        if np.any(np.isnan(arr)):
            raise Unsupported("nan")
        return arr, None

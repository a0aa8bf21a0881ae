"""Reduction: a linearized formulation -> a flat linear model, held as arrays.

Every quantified constraint becomes one row per index combination (a row block), every
indexed variable one column per element tuple (a column block). The model is arrays: the
matrix in CSR form (`indptr`, `indices`, `values`), costs, column bounds and domains, row
senses and right-hand sides. Labels such as `x[a,1]` and the per-row `Row` / per-column
`Column` views are built only when something asks for them (explanations, IIS, JSON
values, exports); solving and checking a point work on the arrays.

Grounding is vectorized (`core.vground`); a constraint the vectorizer does not cover is
grounded instance by instance by the reference grounder (`core.ground`), which also
raises the precise errors. Both give the same rows, bit for bit (tests/test_vground.py).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from . import expr as E
from .formulation import Formulation
from .ground import Data, NonFiniteError, VarKey, var_label
from .templates import Linearized, instances, linearize_nodes

SENSES = ("<=", ">=", "==")
DOMAINS = ("continuous", "integer", "binary")


@dataclass
class Column:
    key: VarKey
    domain: str  # continuous | integer | binary
    lower: float  # -inf allowed
    upper: float  # inf allowed

    @property
    def label(self) -> str:
        return var_label(self.key)


@dataclass
class Row:
    constraint: str  # name of the linearized constraint
    index: tuple  # element tuple of its forall
    coefs: dict[int, float]  # column -> coefficient
    sense: str  # <= >= ==
    rhs: float

    @property
    def label(self) -> str:
        return f"{self.constraint}[{','.join(str(i) for i in self.index)}]" if self.index else self.constraint


@dataclass
class Block:
    """Consecutive columns of one variable or rows of one constraint, with their element tuples.

    `codes[k]` are positions in `sets[k]`'s elements (one array per index, one entry per
    column/row of the block); `elements[k]` are those sets' elements.
    """

    name: str
    start: int
    stop: int
    codes: list = field(default_factory=list)
    elements: list = field(default_factory=list)

    def index(self, k: int) -> tuple:
        """Element tuple of the block's k-th member."""
        return tuple(els[int(c[k])] for c, els in zip(self.codes, self.elements))


class LinearModel:
    """The flat model as arrays; `columns`, `rows`, `objective`, `column_of` are views built on demand."""

    def __init__(self, sense: str, n_cols: int, indptr, indices, values, cost, objective_constant: float,
                 col_lower, col_upper, col_domain, row_sense, rhs, col_blocks: list[Block],
                 row_blocks: list[Block], sources: dict[str, str] | None = None):
        self.sense = sense  # minimize | maximize
        self.n_cols = n_cols
        self.indptr, self.indices, self.values = indptr, indices, values  # CSR, rows x columns
        self.cost = cost
        self.objective_constant = objective_constant
        self.col_lower, self.col_upper = col_lower, col_upper
        self.col_domain = col_domain  # int8: index into DOMAINS
        self.row_sense = row_sense  # int8: index into SENSES
        self.rhs = rhs
        self.col_blocks, self.row_blocks = col_blocks, row_blocks
        self.sources = sources or {}
        self._columns = self._rows = self._objective = self._column_of = None
        self._col_labels = self._row_labels = None
        self.fallbacks: list[str] = []  # parts the vectorized grounder left to the reference one
        self.build_seconds = 0.0  # set when `check` keeps the model for `solve`

    def __getstate__(self) -> dict:
        # copies keep the arrays only: views cached here would not follow changes to a copy's arrays
        state = dict(self.__dict__)
        for k in ("_columns", "_rows", "_objective", "_column_of", "_col_labels", "_row_labels"):
            state[k] = None
        return state

    # -- sizes and flags -------------------------------------------------------------------

    @property
    def n_rows(self) -> int:
        return len(self.rhs)

    @property
    def is_mip(self) -> bool:
        return bool((self.col_domain != 0).any())

    @property
    def integrality(self):
        return self.col_domain != 0

    def row_bounds(self):
        """Row lower and upper bounds (-inf / inf where a side is open)."""
        import numpy as np

        lo = np.where(self.row_sense == 0, -np.inf, self.rhs)
        hi = np.where(self.row_sense == 1, np.inf, self.rhs)
        return lo, hi

    def matrix(self):
        """The constraint matrix as a scipy CSR array (scipy is imported here, not at start-up)."""
        from scipy.sparse import csr_array

        return csr_array((self.values, self.indices, self.indptr), shape=(self.n_rows, self.n_cols))

    def row_reduce(self, entries, ufunc):
        """`ufunc` over each row's entries (an array aligned with `values`); 0 for an empty row."""
        import numpy as np

        out = np.zeros(self.n_rows)
        nonempty = self.indptr[:-1] < self.indptr[1:]
        if len(entries) and nonempty.any():
            out[nonempty] = ufunc.reduceat(entries, self.indptr[:-1][nonempty])
        return out

    def activities(self, x):
        """Row activities A x."""
        import numpy as np

        x = np.asarray(x, dtype=float)
        return self.row_reduce(self.values * x[self.indices], np.add)

    def slacks(self, x):
        """rhs - activity for <=, activity - rhs for >= and == (>= 0 when satisfied)."""
        import numpy as np

        act = self.activities(x)
        return np.where(self.row_sense == 1, act - self.rhs, self.rhs - act)

    # -- labels, built on demand -----------------------------------------------------------

    @staticmethod
    def _find(blocks: list[Block], k: int) -> Block:
        lo, hi = 0, len(blocks) - 1
        while lo < hi:  # binary search by start
            mid = (lo + hi + 1) // 2
            if blocks[mid].start <= k:
                lo = mid
            else:
                hi = mid - 1
        return blocks[lo]

    def column_key(self, j: int) -> VarKey:
        b = self._find(self.col_blocks, j)
        return b.name, b.index(j - b.start)

    def column_label(self, j: int) -> str:
        return var_label(self.column_key(j))

    def column_labels(self) -> list[str]:
        if self._col_labels is None:
            self._col_labels = _labels(self.col_blocks)
        return self._col_labels

    def row_constraint(self, k: int) -> str:
        return self._find(self.row_blocks, k).name

    def row_index(self, k: int) -> tuple:
        b = self._find(self.row_blocks, k)
        return b.index(k - b.start)

    def row_label(self, k: int) -> str:
        b = self._find(self.row_blocks, k)
        return Row(b.name, b.index(k - b.start), {}, "", 0.0).label

    def row_labels(self) -> list[str]:
        if self._row_labels is None:
            self._row_labels = _labels(self.row_blocks)
        return self._row_labels

    def column(self, j: int) -> Column:
        """One column as a `Column` (without building the others)."""
        if self._columns is not None:
            return self._columns[j]
        return Column(self.column_key(j), DOMAINS[self.col_domain[j]], float(self.col_lower[j]),
                      float(self.col_upper[j]))

    def row(self, k: int) -> Row:
        """One row as a `Row` (without building the others)."""
        if self._rows is not None:
            return self._rows[k]
        a, b = int(self.indptr[k]), int(self.indptr[k + 1])
        coefs = dict(zip(self.indices[a:b].tolist(), self.values[a:b].tolist()))
        return Row(self.row_constraint(k), self.row_index(k), coefs, SENSES[self.row_sense[k]], float(self.rhs[k]))

    @property
    def columns(self) -> list[Column]:
        if self._columns is None:
            lower, upper = self.col_lower.tolist(), self.col_upper.tolist()
            domain = self.col_domain.tolist()
            out = []
            for b in self.col_blocks:
                idx = zip(*[[els[c] for c in codes.tolist()] for codes, els in zip(b.codes, b.elements)]) \
                    if b.codes else [()] * (b.stop - b.start)
                for j, t in zip(range(b.start, b.stop), idx):
                    out.append(Column((b.name, tuple(t)), DOMAINS[domain[j]], lower[j], upper[j]))
            self._columns = out
        return self._columns

    @property
    def rows(self) -> list[Row]:
        if self._rows is None:
            ptr, ind, val = self.indptr.tolist(), self.indices.tolist(), self.values.tolist()
            sense, rhs = self.row_sense.tolist(), self.rhs.tolist()
            out = []
            for b in self.row_blocks:
                idx = zip(*[[els[c] for c in codes.tolist()] for codes, els in zip(b.codes, b.elements)]) \
                    if b.codes else [()] * (b.stop - b.start)
                for k, t in zip(range(b.start, b.stop), idx):
                    a, e = ptr[k], ptr[k + 1]
                    out.append(Row(b.name, tuple(t), dict(zip(ind[a:e], val[a:e])), SENSES[sense[k]], rhs[k]))
            self._rows = out
        return self._rows

    @property
    def objective(self) -> dict[int, float]:
        if self._objective is None:
            import numpy as np

            nz = np.flatnonzero(self.cost)
            self._objective = dict(zip(nz.tolist(), self.cost[nz].tolist()))
        return self._objective

    @property
    def column_of(self) -> dict[VarKey, int]:
        if self._column_of is None:
            self._column_of = {c.key: j for j, c in enumerate(self.columns)}
        return self._column_of

    # -- other constructions ---------------------------------------------------------------

    @classmethod
    def from_lists(cls, sense: str, columns: list[Column], rows: list[Row], objective: dict[int, float],
                   objective_constant: float = 0.0, sources: dict[str, str] | None = None) -> "LinearModel":
        """A model given as `Column` and `Row` lists (one block per column and per row)."""
        import numpy as np

        n = len(columns)
        indptr = np.zeros(len(rows) + 1, dtype=np.int64)
        indptr[1:] = np.cumsum([len(r.coefs) for r in rows])
        indices = np.fromiter((j for r in rows for j in r.coefs), dtype=np.int64, count=int(indptr[-1]))
        values = np.fromiter((a for r in rows for a in r.coefs.values()), dtype=float, count=int(indptr[-1]))
        cost = np.zeros(n)
        for j, c in objective.items():
            cost[j] = c
        lm = cls(sense, n, indptr, indices, values, cost, objective_constant,
                 np.array([c.lower for c in columns], dtype=float), np.array([c.upper for c in columns], dtype=float),
                 np.array([DOMAINS.index(c.domain) for c in columns], dtype=np.int8),
                 np.array([SENSES.index(r.sense) for r in rows], dtype=np.int8),
                 np.array([r.rhs for r in rows], dtype=float), [], [], sources)
        lm._columns, lm._rows = list(columns), list(rows)
        lm.col_blocks = [Block(c.key[0], j, j + 1, [np.zeros(1, dtype=np.int64)] * len(c.key[1]),
                               [[e] for e in c.key[1]]) for j, c in enumerate(columns)]
        lm.row_blocks = [Block(r.constraint, k, k + 1, [np.zeros(1, dtype=np.int64)] * len(r.index),
                               [[e] for e in r.index]) for k, r in enumerate(rows)]
        return lm


def to_linear_model(f: "Formulation | Linearized", linearized: bool = False,
                    deadline: float | None = None) -> LinearModel:
    """Ground a valid formulation (templates are expanded first unless `linearized`).

    `f` may be a `Linearized` (from `linearize_nodes`): then the rows are built from its nodes.
    A plain formulation with `linearized=True` has its general constraints' text parsed.
    `deadline` (time.monotonic()) stops a build that runs too long with `BuildTimeout`.
    A non-finite number anywhere raises `NonFiniteError` naming the row.
    """
    if isinstance(f, Linearized):
        lin = f
    elif not linearized and recall(f) is not None:
        return recall(f)[1]  # grounded by `check` already
    elif linearized:
        lin = Linearized(f, {c.name: E.parse_comparison(c.slots.expr) for c in f.constraints},
                         E.parse(f.objective.expr))
    else:
        lin = linearize_nodes(f, deadline)
    return build(lin, deadline)


def build(lin: Linearized, deadline: float | None = None, reference: bool = False,
          arrays: dict | None = None) -> LinearModel:
    """The arrays of a linearized formulation; `reference`: ground instance by instance only (the oracle).

    `arrays`: parameter values validation already holds as finite numpy arrays of the right shape.
    """
    import numpy as np

    from .vground import Grounder, Terms, Unsupported, compact

    lf = lin.formulation
    data = lin.data.extended([], []) if lin.data is not None else Data(lf)  # a copy: the deadline is ours
    data.deadline = deadline
    offset: dict[str, int] = {}
    n = 0
    for v in lf.variables:
        offset[v.name] = n
        n += math.prod(len(data.sets[s]) for s in v.index) if all(s in data.sets for s in v.index) else 0
        if any(s not in data.sets for s in v.index):
            data.var_keys(v.name)  # raises the reference's error
    g = Grounder(data, offset, n, arrays)
    fallbacks: list[str] = []  # parts grounded instance by instance, and why
    col_blocks: list[Block] = []
    lowers, uppers, domains = [], [], []
    for v in lf.variables:
        start = offset[v.name]
        size = math.prod(len(data.sets[s]) for s in v.index)
        codes = g.product(list(v.index)) if v.index else []
        col_blocks.append(Block(v.name, start, start + size, codes, [data.sets[s] for s in v.index]))
        lo, hi = (_bound(data, g, v, which, size) for which in ("lower", "upper"))
        if v.domain in ("integer", "binary"):
            lo = np.where(np.isfinite(lo), np.ceil(lo - 1e-9), lo)
            hi = np.where(np.isfinite(hi), np.floor(hi + 1e-9), hi)
        lowers.append(lo)
        uppers.append(hi)
        domains.append(np.full(size, DOMAINS.index(v.domain), dtype=np.int8))
        data.check_deadline()

    def ground(node: E.Node, c, label) -> tuple[Terms, list]:
        """Compacted terms of every instance of constraint c (None: the objective), and their element codes."""
        bindings = [(b.index, b.set) for b in c.forall] if c is not None else []
        if not reference:
            try:
                where = E.parse_condition(c.where) if c is not None and c.where else None
                fr = g.where(g.frame(bindings), where)
                terms, const = g.rows(node, fr)
                return terms, const, [fr.bind[i][1] for i, _ in bindings]
            except Unsupported as e:
                fallbacks.append(f"{c.name if c is not None else 'objective'}: {e}")
        envs = list(instances(c, data)) if c is not None else [{}]
        inst, col, val = [], [], []
        for k, env in enumerate(envs):
            try:
                le = data.linear(node, env)
            except NonFiniteError as e:
                raise NonFiniteError(f"{label(tuple(env[i] for i, _ in bindings))}: {e}") from None
            for key, c in le.terms.items():
                inst.append(k)
                col.append(offset[key[0]] + _flat(g, data, key))
                val.append(c)
            inst.append(k)
            col.append(-1)
            val.append(le.const)
        t = compact(Terms(np.array(inst, dtype=np.int64), np.array(col, dtype=np.int64), np.array(val, dtype=float)), n)
        codes = [np.array([g.codes_of(s)[_key(env[i])] for env in envs], dtype=np.int64) for i, s in bindings]
        is_const = t.col < 0
        const = np.zeros(len(envs))
        const[t.inst[is_const]] = t.val[is_const]
        return Terms(t.inst[~is_const], t.col[~is_const], t.val[~is_const]), const, codes

    def objective_label(_):
        return "objective"

    try:
        obj, obj_consts, _ = ground(lin.objective, None, objective_label)
    except NonFiniteError as e:
        raise NonFiniteError(str(e)) from None
    if len(obj.col) == n:  # compacted: columns strictly increasing, so every column in order
        cost = np.ascontiguousarray(obj.val, dtype=float)
    else:
        cost = np.zeros(n)
        cost[obj.col] = obj.val  # each column once after compacting
    obj_const = float(obj_consts[0])

    row_blocks: list[Block] = []
    indptrs, inds, vals, senses, rhss = [], [], [], [], []
    sources: dict[str, str] = {}
    m = 0
    for c in lf.constraints:
        cmp = lin.comparisons[c.name]
        sources[c.name] = c.source
        diff = E.BinOp("-", cmp.left, cmp.right)
        bindings = [(b.index, b.set) for b in c.forall]

        def label(index, name=c.name):
            return Row(name, index, {}, "", 0.0).label

        t, const, codes = ground(diff, c, label)
        rows_n = len(codes[0]) if codes else 1
        keep = t.val != 0.0
        if not keep.all():
            t = Terms(t.inst[keep], t.col[keep], t.val[keep])
        # entries per row: compacted terms are sorted by row, so a search finds each row's start
        indptrs.append(np.diff(np.searchsorted(t.inst, np.arange(rows_n + 1))))
        inds.append(t.col)
        vals.append(t.val)
        senses.append(np.full(rows_n, SENSES.index(cmp.op), dtype=np.int8))
        rhss.append(-const + 0.0)
        row_blocks.append(Block(c.name, m, m + rows_n, codes, [data.sets[s] for _, s in bindings]))
        m += rows_n
        data.check_deadline()
    nnz = sum(len(part) for part in inds)
    indptr = np.zeros(m + 1, dtype=np.int32 if nnz < 2**31 - 1 and n < 2**31 - 1 else np.int64)
    if m:
        np.cumsum(np.concatenate(indptrs), out=indptr[1:])

    def cat(parts, dtype):
        if not parts:
            return np.zeros(0, dtype=dtype)
        return (parts[0] if len(parts) == 1 else np.concatenate(parts)).astype(dtype, copy=False)

    index_type = indptr.dtype  # HiGHS's own index type (int32), where it fits
    lm = LinearModel(lf.objective.sense, n, indptr, cat(inds, index_type), cat(vals, float), cost, obj_const,
                     cat(lowers, float), cat(uppers, float), cat(domains, np.int8), cat(senses, np.int8),
                     cat(rhss, float), col_blocks, row_blocks, sources)
    lm.fallbacks = fallbacks
    return lm


def _labels(blocks: list[Block]) -> list[str]:
    """`name[e1,e2]` of every member of the blocks (as `var_label` and `Row.label` write them)."""
    out: list[str] = []
    for b in blocks:
        if not b.codes:
            out.extend([b.name] * (b.stop - b.start))
            continue
        texts = [[str(e) for e in els] for els in b.elements]
        parts = [[t[c] for c in codes.tolist()] for codes, t in zip(b.codes, texts)]
        head = b.name + "["
        out.extend(head + ",".join(p) + "]" for p in zip(*parts))
    return out


def _key(e):
    from . import elements

    return elements.key(e)


def _flat(g, data: Data, key: VarKey) -> int:
    """Position of a variable's element tuple within its block."""
    name, idx = key
    sets = data.vars[name].index
    pos = 0
    for e, s in zip(idx, sets):
        pos = pos * len(data.sets[s]) + g.codes_of(s)[_key(e)]
    return pos


def _bound(data: Data, g, v, which: str, size: int):
    """Lower or upper bounds of a variable's columns (as `Data.var_bound`, for all at once)."""
    import numpy as np

    raw = getattr(v, which)
    if v.domain == "binary":
        lo, hi = 0.0, 1.0
        if raw is None or isinstance(raw, str):
            return np.full(size, lo if which == "lower" else hi)
        return np.full(size, max(lo, float(raw)) if which == "lower" else min(hi, float(raw)))
    if raw is None:
        return np.full(size, -math.inf if which == "lower" else math.inf)
    if isinstance(raw, str):
        p = data.params.get(raw)
        if p is None or list(p.index) not in ([], list(v.index)):
            data.var_bound((v.name, tuple(data.sets[s][0] for s in v.index)), which)  # raises its error
        vals = g.dense(raw).reshape(-1)
        return np.full(size, float(vals[0])) if not p.index else vals.astype(float, copy=True)
    return np.full(size, float(raw))


# --- the model of the last checked formulation ------------------------------------------------
# `validate.check` grounds everything once (vectorized) and keeps the result here, so `solve` on
# the same formulation does not ground it again. One entry: the last formulation only. A hit needs
# the same object, unchanged in what is cheap to compare (names, expressions, bounds, and the
# identity and length of every element and value list).

_last: tuple | None = None


def _fingerprint(f: Formulation) -> tuple:
    return (
        tuple((s.name, id(s.elements), len(s.elements)) for s in f.sets),
        tuple((p.name, tuple(p.index), id(p.value), len(p.value) if isinstance(p.value, list) else p.value)
              for p in f.parameters),
        tuple((v.name, tuple(v.index), v.domain, v.lower, v.upper) for v in f.variables),
        (f.objective.sense, f.objective.expr),
        tuple(c.model_dump_json() for c in f.constraints),
    )


def remember(f: Formulation, lin: Linearized, lm: LinearModel, seconds: float) -> None:
    """Keep the model of `f`; `seconds`: what building it took (a solve's time limit covers it)."""
    global _last
    lm.build_seconds = seconds
    _last = (f, _fingerprint(f), lin, lm)


def recall(f) -> tuple[Linearized, LinearModel] | None:
    """(linearized, model) kept by `check` for this very formulation, if it is unchanged."""
    last = _last
    if last is None or last[0] is not f or last[1] != _fingerprint(f):
        return None
    return last[2], last[3]

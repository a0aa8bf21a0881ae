"""The flat `LinearModel` as a highspy model, and a silent `highspy.Highs`.

Shared by the default `highs` backend (backends.py) and the IIS feasibility oracle
(iis.py). Columns keep `lm.columns` order and rows `lm.rows` order, each row as written
(`lower <= coefs . x <= upper`), so HiGHS's answers line up with the model by position.

highspy is imported inside the functions: importing this module is cheap.
"""

from __future__ import annotations

import contextlib
import math
import os
import sys

from .linear_model import LinearModel


@contextlib.contextmanager
def quiet_fds():
    """Silence C-level stdout/stderr (HiGHS prints a banner when its first instance is made)."""
    saved = []
    try:
        sys.stdout.flush()
        sys.stderr.flush()
    except Exception:  # pragma: no cover
        pass
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        for fd in (1, 2):
            saved.append((fd, os.dup(fd)))
            os.dup2(devnull, fd)
        os.close(devnull)
    except OSError:  # no real file descriptors (embedded interpreters): leave output alone
        pass
    try:
        yield
    finally:
        for fd, copy in saved:
            os.dup2(copy, fd)
            os.close(copy)


_banner_shown = False


def new_highs():
    """A silent `highspy.Highs` (the banner of the process's first instance goes to /dev/null)."""
    global _banner_shown
    import highspy

    if _banner_shown:
        h = highspy.Highs()
    else:
        with quiet_fds():
            h = highspy.Highs()
        _banner_shown = True
    h.setOptionValue("output_flag", False)
    return h


def highs_model(lm: LinearModel, objective: bool = True):
    """The flat model as a silent highspy instance (rows in `lm.rows` order, columns in `lm.columns` order).

    Without `objective` the costs are zero and the sense is minimize (feasibility checks).
    Raises ValueError when HiGHS rejects the model.
    """
    import highspy
    import numpy as np

    inf = highspy.kHighsInf
    lp = highspy.HighsLp()
    n, m = len(lm.columns), len(lm.rows)
    lp.num_col_, lp.num_row_ = n, m
    cost = np.zeros(n)
    if objective:
        for j, c in lm.objective.items():
            cost[j] = c
        lp.offset_ = lm.objective_constant
        lp.sense_ = highspy.ObjSense.kMaximize if lm.sense == "maximize" else highspy.ObjSense.kMinimize
    lp.col_cost_ = cost
    lp.col_lower_ = np.array([max(c.lower, -inf) for c in lm.columns], dtype=float)
    lp.col_upper_ = np.array([min(c.upper, inf) for c in lm.columns], dtype=float)
    lo, hi = row_bounds(lm)
    lp.row_lower_, lp.row_upper_ = lo, hi
    starts, index, value = [0], [], []
    for r in lm.rows:
        index.extend(r.coefs.keys())
        value.extend(r.coefs.values())
        starts.append(len(index))
    lp.a_matrix_.format_ = highspy.MatrixFormat.kRowwise
    lp.a_matrix_.num_col_, lp.a_matrix_.num_row_ = n, m
    lp.a_matrix_.start_ = np.array(starts, dtype=np.int32)
    lp.a_matrix_.index_ = np.array(index, dtype=np.int32)
    lp.a_matrix_.value_ = np.array(value, dtype=float)
    if lm.is_mip:
        lp.integrality_ = [highspy.HighsVarType.kContinuous if c.domain == "continuous" else highspy.HighsVarType.kInteger
                           for c in lm.columns]
    h = new_highs()
    if h.passModel(lp) == highspy.HighsStatus.kError:
        raise ValueError("HiGHS rejected the model")
    return h


def row_bounds(lm: LinearModel):
    """Row lower and upper bounds as arrays (-inf / inf where a side is open)."""
    import numpy as np

    lo = np.array([r.rhs if r.sense in (">=", "==") else -math.inf for r in lm.rows], dtype=float)
    hi = np.array([r.rhs if r.sense in ("<=", "==") else math.inf for r in lm.rows], dtype=float)
    return lo, hi


def used_columns(lm: LinearModel) -> list[bool]:
    """Which columns some row or the objective mentions (the ones a solver's value is meaningful for)."""
    used = [False] * len(lm.columns)
    for j in lm.objective:
        used[j] = True
    for r in lm.rows:
        for j in r.coefs:
            used[j] = True
    return used

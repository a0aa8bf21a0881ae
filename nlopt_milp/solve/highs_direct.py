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
COLWISE_FROM = 50_000  # nonzeros; below, the row-wise matrix goes as it is (and scipy is not imported)


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
    """The flat model as a silent highspy instance (rows and columns in the model's order), from its arrays.

    Without `objective` the costs are zero and the sense is minimize (feasibility checks).
    Raises ValueError when HiGHS rejects the model.
    """
    import highspy
    import numpy as np

    inf = highspy.kHighsInf
    lp = highspy.HighsLp()
    n, m = lm.n_cols, lm.n_rows
    lp.num_col_, lp.num_row_ = n, m
    if objective:
        lp.col_cost_ = lm.cost
        lp.offset_ = lm.objective_constant
        lp.sense_ = highspy.ObjSense.kMaximize if lm.sense == "maximize" else highspy.ObjSense.kMinimize
    else:
        lp.col_cost_ = np.zeros(n)
    lp.col_lower_ = np.maximum(lm.col_lower, -inf)
    lp.col_upper_ = np.minimum(lm.col_upper, inf)
    lp.row_lower_, lp.row_upper_ = lm.row_bounds()
    lp.a_matrix_.num_col_, lp.a_matrix_.num_row_ = n, m
    if len(lm.values) > COLWISE_FROM:  # HiGHS transposes a row-wise matrix slowly; scipy does it fast
        from scipy.sparse import csr_array

        a = csr_array((lm.values, lm.indices, lm.indptr), shape=(m, n)).tocsc()
        lp.a_matrix_.format_ = highspy.MatrixFormat.kColwise
        start, index, value = a.indptr, a.indices, a.data
    else:
        lp.a_matrix_.format_ = highspy.MatrixFormat.kRowwise
        start, index, value = lm.indptr, lm.indices, lm.values
    lp.a_matrix_.start_ = start.astype(np.int32, copy=False)
    lp.a_matrix_.index_ = index.astype(np.int32, copy=False)
    lp.a_matrix_.value_ = value
    if lm.is_mip:
        kinds = (highspy.HighsVarType.kContinuous, highspy.HighsVarType.kInteger)
        lp.integrality_ = [kinds[k] for k in lm.integrality.tolist()]
    h = new_highs()
    if h.passModel(lp) == highspy.HighsStatus.kError:
        raise ValueError("HiGHS rejected the model")
    return h


def row_bounds(lm: LinearModel):
    """Row lower and upper bounds as arrays (-inf / inf where a side is open)."""
    return lm.row_bounds()


def used_columns(lm: LinearModel):
    """Which columns some row or the objective mentions (the ones a solver's value is meaningful for)."""
    import numpy as np

    used = lm.cost != 0
    used[lm.indices] = True
    return used

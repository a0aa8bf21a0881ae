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
    """The flat model as a silent highspy instance (rows and columns in the model's order), from its arrays.

    The arrays go to HiGHS through highspy's array form of `passModel` (no per-element conversion).
    Without `objective` the costs are zero and the sense is minimize (feasibility checks).
    Raises ValueError when HiGHS rejects the model.
    """
    import highspy
    import numpy as np

    n, m = lm.n_cols, lm.n_rows
    cost = lm.cost if objective else np.zeros(n)
    sense = -1 if objective and lm.sense == "maximize" else 1  # HiGHS's ObjSense values
    offset = float(lm.objective_constant) if objective else 0.0
    lo, hi = lm.row_bounds()
    integrality = lm.integrality.astype(np.int32)  # 0 continuous, 1 integer (all 0: an LP)
    h = new_highs()
    status = h.passModel(n, m, len(lm.values), int(highspy.MatrixFormat.kRowwise.value), sense, offset,
                         np.ascontiguousarray(cost, dtype=float), np.ascontiguousarray(lm.col_lower, dtype=float),
                         np.ascontiguousarray(lm.col_upper, dtype=float), lo, hi,
                         lm.indptr.astype(np.int32, copy=False), lm.indices.astype(np.int32, copy=False),
                         np.ascontiguousarray(lm.values, dtype=float), integrality)
    if status == highspy.HighsStatus.kError:
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

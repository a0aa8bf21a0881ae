"""Where the shared data files live (the byte-for-byte benchmark copies and the NL4Opt splits).

In a source checkout they sit beside it, in `../shared`; an installed package has no such
neighbour, so the place can be given: `NLOPT_DATA_DIR` (or `nlopt --data-dir DIR`) names the
directory that holds `benchmarks/` and `nl4opt/`; `NLOPT_BENCHMARKS_DIR` names the benchmarks
directory itself. Without either, the first of `../shared` next to the checkout, `./shared` and
`../shared` (from the working directory) that has a `benchmarks/` directory is used.
"""

from __future__ import annotations

import os
from pathlib import Path

_CHECKOUT = Path(__file__).resolve().parents[2]  # the source tree, when installed editable


def shared_data_dir() -> Path:
    """The shared data directory (it may not exist: callers say so in their messages)."""
    if os.environ.get("NLOPT_DATA_DIR"):
        return Path(os.environ["NLOPT_DATA_DIR"]).expanduser()
    checkout = [_CHECKOUT.parent / "shared"] if (_CHECKOUT / "pyproject.toml").is_file() else []
    candidates = [*checkout, Path.cwd() / "shared", Path.cwd().parent / "shared"]
    return next((c for c in candidates if (c / "benchmarks").is_dir()), candidates[0])


def shared_benchmarks_dir() -> Path:
    if os.environ.get("NLOPT_BENCHMARKS_DIR"):
        return Path(os.environ["NLOPT_BENCHMARKS_DIR"]).expanduser()
    return shared_data_dir() / "benchmarks"

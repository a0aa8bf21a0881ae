"""The process pool that checks and solves drafts beside an event loop of LLM requests (eval, synth verify).

Its processes run at a lower CPU priority (nice +10): when replies arrive in a burst, the
process that reads them and sends the next requests (and a model server on the same machine)
gets the CPU first, and the solves use what is left. On an idle machine nothing changes.
"""

from __future__ import annotations

import multiprocessing
import os
from concurrent.futures import ProcessPoolExecutor

NICE = 10


def solver_pool(workers: int) -> ProcessPoolExecutor:
    """`workers` spawned processes (spawn: no copy of the caller's threads or event loop), at lower priority."""
    return ProcessPoolExecutor(max(1, workers), mp_context=multiprocessing.get_context("spawn"),
                               initializer=_lower_priority)


def _lower_priority() -> None:
    try:
        os.nice(NICE)
    except (AttributeError, OSError):  # no nice on this platform: the pool works at normal priority
        pass

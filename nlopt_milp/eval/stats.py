"""Uncertainty of accuracy figures: Wilson score intervals and McNemar's exact test.

Both are a few lines of closed-form arithmetic (no SciPy at run time); the tests check them
against ``scipy.stats`` and textbook values.
"""

from __future__ import annotations

import math

Z_95 = 1.959963984540054  # the 97.5 % quantile of the standard normal


def wilson_interval(successes: int, n: int, z: float = Z_95) -> tuple[float, float]:
    """Wilson score interval of a binomial proportion (95 % by default), as fractions.

    Unlike the normal ("Wald") interval it stays inside [0, 1] and is not empty at 0/n or n/n,
    which matters for the small slices an eval is often run on. ``n = 0`` gives (0, 1).
    """
    if n < 0 or not 0 <= successes <= n:
        raise ValueError(f"need 0 <= successes <= n (successes={successes}, n={n})")
    if n == 0:
        return 0.0, 1.0
    p = successes / n
    z2 = z * z
    centre = (p + z2 / (2 * n)) / (1 + z2 / n)
    half = z * math.sqrt(p * (1 - p) / n + z2 / (4 * n * n)) / (1 + z2 / n)
    return max(0.0, centre - half), min(1.0, centre + half)


def mcnemar_exact(only_first: int, only_second: int) -> float:
    """Two-sided p-value of McNemar's exact test on the discordant pairs of a paired comparison.

    ``only_first``: problems the first run got right and the second wrong; ``only_second`` the
    reverse. Under "no difference" each discordant problem is a fair coin, so the p-value is
    the two-sided binomial test of ``min(b, c)`` successes in ``b + c`` trials at 1/2
    (1.0 when there are no discordant problems).
    """
    if only_first < 0 or only_second < 0:
        raise ValueError("discordant counts must be >= 0")
    n = only_first + only_second
    if n == 0:
        return 1.0
    k = min(only_first, only_second)
    tail = sum(math.comb(n, i) for i in range(k + 1)) / 2**n
    return min(1.0, 2 * tail)

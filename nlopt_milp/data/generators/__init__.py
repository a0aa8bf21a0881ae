"""Problem generators: parametrised families of MILP instances in our data model (no LLM).

    from nlopt_milp.data.generators import FAMILIES
    f = FAMILIES["knapsack"].make(random.Random(7), 3)   # a Formulation
"""

from . import blending, covering, location, logic, network, packing, planning  # noqa: F401  (registration)
from .base import FAMILIES, MAX_COMPLEXITY, MIN_COMPLEXITY, Family

__all__ = ["FAMILIES", "MAX_COMPLEXITY", "MIN_COMPLEXITY", "Family"]

"""Capacitated and uncapacitated facility location."""

from __future__ import annotations

import math

from .base import Builder, family, ints, matrix, pick, size
from .network import MARKETS, PLANTS


@family("facility_location", "Capacitated facility location: open warehouses (fixed charges) and serve towns.",
        ("assignment", "fixed_charge", "if_then", "k_of_n"),
        {"sites": "2 .. 6", "towns": "3 .. 10", "side constraints": "c>=3 minimum throughput, c>=4 a cap on openings"})
def facility_location(rng, c):
    b = Builder("facility_location")
    sites = b.set("F", pick(rng, PLANTS, size(c, 2, 6)), "candidate warehouse sites")
    towns = b.set("C", pick(rng, MARKETS, size(c, 3, 10)), "towns")
    demand = ints(rng, len(towns), 5, 30)
    total = sum(demand)
    cap = [math.ceil(total * rng.uniform(0.6, 1.0)) for _ in sites]
    b.param("open_cost", ints(rng, len(sites), 50, 400), "$ to open the warehouse", ("F",))
    b.param("cap", cap, "units the warehouse can ship", ("F",))
    b.param("demand", demand, "units the town needs", ("C",))
    b.param("unit_cost", matrix(rng, len(sites), len(towns), 1, 12), "$ per unit shipped", ("F", "C"))
    b.var("ship", "units shipped from the warehouse to the town", ("F", "C"))
    b.var("open", "1 if the warehouse is opened", ("F",), "binary")
    b.minimize("sum(unit_cost[f, c] * ship[f, c] for f in F for c in C)", "shipping and opening cost in $")
    b.con("serve_demand", "assignment", "Every town gets exactly its demand.", forall=[("c", "C")],
          var="ship[f, c]", over=[{"index": "f", "set": "F"}], count="demand[c]", sense="==")
    b.con("open_to_ship", "fixed_charge", "A warehouse ships at most its capacity, and only if it is opened "
          "at its opening cost.", forall=[("f", "F")], var="sum(ship[f, c] for c in C)", indicator="open[f]",
          capacity="cap[f]", cost="open_cost[f]")
    if c >= 3:
        b.param("min_ship", max(1, min(demand)), "least units an opened warehouse ships")
        b.con("minimum_throughput", "if_then", "An opened warehouse ships at least min_ship units.",
              forall=[("f", "F")], condition="open[f]", then="sum(ship[f, c] for c in C) >= min_ship")
    if c >= 4:
        b.param("max_open", len(sites) - 1, "most warehouses that may be opened")
        b.con("open_limit", "k_of_n", "At most max_open warehouses are opened.", terms=["sum(open[f] for f in F)"],
              mode="at_most", k="max_open")
    return b.build()


@family("uncapacitated_location", "Uncapacitated facility location: open clinics and assign every village to one.",
        ("assignment", "comparison", "mutual_exclusion"),
        {"sites": "2 .. 6", "villages": "3 .. 10", "side constraints": "c>=2 single sourcing, c>=4 two sites "
                                                                        "too close to both open"})
def uncapacitated_location(rng, c):
    b = Builder("uncapacitated_location")
    sites = b.set("F", pick(rng, PLANTS, size(c, 2, 6)), "candidate clinic sites")
    vil = b.set("V", pick(rng, MARKETS, size(c, 3, 10)), "villages")
    b.param("fixed", ints(rng, len(sites), 100, 600), "$ to run the clinic", ("F",))
    b.param("travel", matrix(rng, len(sites), len(vil), 10, 120), "$ travel cost of serving the village from the site",
            ("F", "V"))
    b.var("open", "1 if the clinic is opened", ("F",), "binary")
    b.var("serve", "1 (or the share) if the village is served from the site", ("F", "V"),
          "binary" if c >= 2 else "continuous", upper=1)
    b.minimize("sum(fixed[f] * open[f] for f in F) + sum(travel[f, v] * serve[f, v] for f in F for v in V)",
               "running and travel cost in $")
    b.con("every_village", "assignment", "Every village is served.", forall=[("v", "V")], var="serve[f, v]",
          over=[{"index": "f", "set": "F"}], count="1", sense="==")
    b.con("only_open", "comparison", "A village is served only from an opened clinic.",
          forall=[("f", "F"), ("v", "V")], x="serve[f, v]", y="open[f]", sense="<=")
    if c >= 4 and len(sites) >= 3:
        a, z = rng.sample(sites, 2)
        b.con("too_close", "mutual_exclusion", f"{a} and {z} are too close to both be opened.",
              terms=[f"open['{a}']", f"open['{z}']"])
    return b.build()

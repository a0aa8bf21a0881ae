"""Knapsacks, bin packing and cutting stock."""

from __future__ import annotations

from .base import Builder, family, ints, matrix, names, pick, size

GEAR = ["tent", "stove", "rope", "lamp", "radio", "map", "compass", "knife", "tarp", "filter", "blanket",
        "first_aid", "axe", "shovel", "flare", "battery", "jacket", "boots", "binoculars", "cooler", "water_jug",
        "saw", "hammock", "cookware", "sleeping_bag", "solar_panel", "fishing_rod", "raincoat"]
CARGO = ["engines", "tires", "batteries", "textiles", "electronics", "furniture", "tools", "paint", "glass",
         "cement", "spices", "coffee", "cocoa", "tea", "rice", "sugar", "paper", "steel_rods", "cables", "pipes"]
RESOURCES = ["weight", "volume", "budget", "crew_hours", "deck_area"]


@family("knapsack", "0-1 knapsack: pick items of the highest value within a weight limit.",
        ("linear", "mutual_exclusion", "k_of_n", "dependency"),
        {"items": "5 (c=1) .. 25 (c=5)", "side constraints": "c>=3 substitutes, c>=4 item count, c>=5 dependency"})
def knapsack(rng, c):
    b = Builder("knapsack")
    items = b.set("I", pick(rng, GEAR, size(c, 5, 25)), "pieces of gear that could be packed")
    w, v = ints(rng, len(items), 2, 30), ints(rng, len(items), 5, 90)
    b.param("weight", w, "weight of the item in kg", ("I",))
    b.param("value", v, "usefulness points of the item", ("I",))
    b.param("capacity", max(max(w), int(sum(w) * rng.uniform(0.3, 0.5))), "kg the backpack can carry")
    b.var("take", "1 if the item is packed", ("I",), "binary")
    b.maximize("sum(value[i] * take[i] for i in I)", "total usefulness of the packed gear")
    b.con("weight_limit", "linear", "The packed gear may weigh at most the backpack's capacity.",
          terms=["sum(weight[i] * take[i] for i in I)"], sense="<=", limit="capacity")
    a, z, d, e = rng.sample(items, 4)
    if c >= 3:
        b.con("substitutes", "mutual_exclusion", f"At most one of {a} and {z} is packed.",
              terms=[f"take['{a}']", f"take['{z}']"])
    if c >= 4:
        k = max(2, len(items) // 3)
        b.param("max_items", k, "most pieces the hiker is willing to pack")
        b.con("item_count", "k_of_n", "At most max_items pieces are packed.",
              terms=["sum(take[i] for i in I)"], mode="at_most", k="max_items")
    if c >= 5:
        b.con("needs", "dependency", f"Packing {d} requires packing {e}.", if_var=f"take['{d}']", then_var=f"take['{e}']")
    return b.build()


@family("bounded_knapsack", "Bounded knapsack: load whole units of several cargo types, each with limited stock.",
        ("linear", "general", "upper_bound"),
        {"cargo types": "3 .. 12", "side constraints": "c>=3 volume limit, c>=4 a cap on one type"})
def bounded_knapsack(rng, c):
    b = Builder("bounded_knapsack")
    items = b.set("I", pick(rng, CARGO, size(c, 3, 12)), "cargo types")
    w, v = ints(rng, len(items), 3, 25), ints(rng, len(items), 10, 120)
    stock = ints(rng, len(items), 2, 8)
    b.param("weight", w, "tonnes per unit", ("I",))
    b.param("revenue", v, "freight revenue per unit in $", ("I",))
    b.param("stock", stock, "units waiting at the dock", ("I",))
    b.param("payload", int(sum(a * s for a, s in zip(w, stock)) * rng.uniform(0.3, 0.5)), "tonnes the ship carries")
    b.var("load", "units loaded", ("I",), "integer", upper="stock")
    b.maximize("sum(revenue[i] * load[i] for i in I)", "freight revenue")
    b.con("payload_limit", "linear", "The loaded cargo may weigh at most the payload.",
          terms=["sum(weight[i] * load[i] for i in I)"], sense="<=", limit="payload")
    if c >= 3:
        vol = ints(rng, len(items), 1, 10)
        b.param("volume", vol, "cubic metres per unit", ("I",))
        hold = int(sum(a * s for a, s in zip(vol, stock)) * rng.uniform(0.4, 0.6))
        b.param("hold", hold, "cubic metres of hold space")
        b.con("hold_space", "general", "The loaded cargo must fit in the hold.",
              expr="sum(volume[i] * load[i] for i in I) <= hold")
    if c >= 4:
        one = rng.choice(items)
        b.con("cap_one", "upper_bound", f"At most 2 units of {one} may be loaded.", var=f"load['{one}']", limit="2")
    return b.build()


@family("multi_knapsack", "Multi-dimensional knapsack: select shipments under several resource limits.",
        ("linear", "sum_bound"),
        {"shipments": "5 .. 20", "resources": "2 .. 5", "side constraints": "c>=3 a cap on the number selected"})
def multi_knapsack(rng, c):
    b = Builder("multi_knapsack")
    items = b.set("I", pick(rng, CARGO, size(c, 5, 20)), "candidate shipments")
    res = b.set("R", RESOURCES[: size(c, 2, 5)], "limited resources")
    use = matrix(rng, len(res), len(items), 1, 20)
    b.param("use", use, "resource used by a shipment", ("R", "I"))
    b.param("limit", [int(sum(row) * rng.uniform(0.3, 0.55)) for row in use], "amount of the resource available", ("R",))
    b.param("profit", ints(rng, len(items), 10, 100), "profit of the shipment in $", ("I",))
    b.var("select", "1 if the shipment is accepted", ("I",), "binary")
    b.maximize("sum(profit[i] * select[i] for i in I)", "total profit")
    b.con("resource_limit", "linear", "Accepted shipments use at most the available amount of each resource.",
          forall=[("r", "R")], terms=["sum(use[r, i] * select[i] for i in I)"], sense="<=", limit="limit[r]")
    if c >= 3:
        b.param("max_accept", max(2, len(items) // 2), "most shipments the office can handle")
        b.con("paperwork", "sum_bound", "At most max_accept shipments are accepted.",
              terms=["sum(select[i] for i in I)"], sense="<=", limit="max_accept")
    return b.build()


def _first_fit(sizes: list[int], cap: int) -> int:
    bins: list[int] = []
    for s in sorted(sizes, reverse=True):
        for k, load in enumerate(bins):
            if load + s <= cap:
                bins[k] += s
                break
        else:
            bins.append(s)
    return len(bins)


@family("bin_packing", "Bin packing: put parcels into as few trucks as possible.",
        ("assignment", "linear", "comparison"),
        {"parcels": "4 .. 10", "side constraints": "c>=3 trucks used in order (symmetry breaking)"})
def bin_packing(rng, c):
    b = Builder("bin_packing")
    items = b.set("I", pick(rng, CARGO, size(c, 4, 10)), "parcels")
    cap = rng.randint(20, 40)
    sizes = ints(rng, len(items), 4, cap // 2 + 2)
    nb = min(len(items), _first_fit(sizes, cap) + 1)
    bins = b.set("B", list(range(1, nb + 1)), "trucks available")
    b.param("size", sizes, "load of the parcel in pallet units", ("I",))
    b.param("cap", cap, "pallet units a truck holds")
    b.var("put", "1 if the parcel rides in the truck", ("I", "B"), "binary")
    b.var("use", "1 if the truck is used", ("B",), "binary")
    b.minimize("sum(use[b] for b in B)", "trucks used")
    b.con("every_parcel", "assignment", "Every parcel rides in exactly one truck.", forall=[("i", "I")],
          var="put[i, b]", over=[{"index": "b", "set": "B"}], count="1", sense="==")
    b.con("truck_capacity", "linear", "A truck carries at most cap units, and only if it is used.",
          forall=[("b", "B")], terms=["sum(size[i] * put[i, b] for i in I)", "-cap * use[b]"], sense="<=", limit="0")
    if c >= 3 and len(bins) > 1:
        b.con("in_order", "comparison", "Trucks are used in order.", forall=[("b", "B")], where="b > 1",
              x="use[b]", y="use[b - 1]", sense="<=")
    return b.build()


@family("cutting_stock", "Cutting stock with given patterns: cut enough pieces from as few rolls as possible.",
        ("linear", "upper_bound"),
        {"piece widths": "2 .. 6", "patterns": "widths + 2 .. widths + 6", "side constraints": "c>=4 runs per pattern"})
def cutting_stock(rng, c):
    b = Builder("cutting_stock")
    roll = rng.choice([100, 120, 150, 200])
    nw = size(c, 2, 6)
    widths = sorted(rng.sample(range(15, roll // 2 + 1), nw), reverse=True)
    b.set("W", [f"w{x}" for x in widths], "piece widths ordered by customers")
    patterns = [[roll // x if k == j else 0 for k, x in enumerate(widths)] for j in range(nw)]
    while len(patterns) < nw + size(c, 2, 6):
        left, cut = roll, [0] * nw
        for k in rng.sample(range(nw), nw):
            n = rng.randint(0, left // widths[k])
            cut[k], left = n, left - n * widths[k]
        if any(cut) and cut not in patterns:
            patterns.append(cut)
    b.set("P", names("pattern", len(patterns)), "cutting patterns the knives can be set to")
    # The widths tell the story, but the given patterns already respect them: stated in the text, not used by
    # the model (as parameters nothing refers to, the audit would rightly flag them in the gold formulation).
    b.unused_number(roll, "the width of a stock roll in cm: every given pattern fits it")
    for x in widths:
        b.unused_number(x, "a piece width in cm: the patterns already say how many pieces a roll gives")
    b.param("pieces", [[p[k] for p in patterns] for k in range(nw)], "pieces of the width one roll cut this way gives",
            ("W", "P"))
    demand = ints(rng, nw, 5, 40)
    b.param("demand", demand, "pieces ordered", ("W",))
    b.var("rolls", "rolls cut with the pattern", ("P",), "integer")
    b.minimize("sum(rolls[p] for p in P)", "stock rolls used")
    b.con("meet_orders", "linear", "Enough pieces of every width are cut.", forall=[("w", "W")],
          terms=["sum(pieces[w, p] * rolls[p] for p in P)"], sense=">=", limit="demand[w]")
    if c >= 4:
        b.param("max_runs", max(demand), "most rolls cut with one knife setting")
        b.con("runs", "upper_bound", "No pattern is used for more than max_runs rolls.", forall=[("p", "P")],
              var="rolls[p]", limit="max_runs")
    return b.build()

"""Multi-period production with inventory balance, and lot sizing with setup costs."""

from __future__ import annotations

import itertools

from .base import Builder, family, ints, size


def _capacities(rng, demand: list[int], final: int, lo: float, hi: float) -> list[int]:
    """Per-period capacities that make every prefix of demand (plus the final stock) producible."""
    cap = [max(1, int(d * rng.uniform(lo, hi))) for d in demand]
    need = list(itertools.accumulate(demand))
    need[-1] += final
    for t in range(len(cap)):
        short = need[t] - sum(cap[: t + 1])
        if short > 0:
            cap[t] += short
    return cap


@family("multi_period_production", "Multi-period production: produce and store to meet demand per period at the "
                                   "least cost (inventory balance).",
        ("balance", "upper_bound", "lower_bound"),
        {"periods": "3 .. 12", "side constraints": "c>=3 final stock, c>=4 whole units, c>=5 storage limit"})
def multi_period_production(rng, c):
    b = Builder("multi_period_production")
    n = size(c, 3, 12)
    b.set("T", list(range(1, n + 1)), "months")
    demand = ints(rng, n, 20, 80)
    final = rng.randint(5, 15) if c >= 3 else 0
    cap = _capacities(rng, demand, final, 0.7, 1.3)
    b.param("demand", demand, "units ordered for the month", ("T",))
    b.param("capacity", cap, "units the plant can make in the month", ("T",))
    b.param("unit_cost", ints(rng, n, 5, 15), "$ to make a unit in the month", ("T",))
    b.param("hold", rng.randint(1, 3), "$ to store a unit from one month to the next")
    b.param("start_stock", rng.randint(0, 10), "units in stock at the start")
    dom = "integer" if c >= 4 else "continuous"
    b.var("make", "units made in the month", ("T",), dom)
    b.var("stock", "units in stock at the end of the month", ("T",), dom)
    b.minimize("sum(unit_cost[t] * make[t] + hold * stock[t] for t in T)", "production and storage cost in $")
    b.con("first_month", "balance", "Stock at the start plus production meets the first month's demand; the rest "
          "is stored.", forall=[("t", "T")], where="t == 1", inflow="start_stock + make[t]", outflow="stock[t]",
          demand="demand[t]", sense="==")
    b.con("later_months", "balance", "Last month's stock plus production meets the month's demand; the rest is "
          "stored.", forall=[("t", "T")], where="t > 1", inflow="stock[t - 1] + make[t]", outflow="stock[t]",
          demand="demand[t]", sense="==")
    b.con("plant_capacity", "upper_bound", "The plant makes at most its capacity each month.", forall=[("t", "T")],
          var="make[t]", limit="capacity[t]")
    if c >= 3:
        b.param("final_stock", final, "units that must be in stock at the end of the last month")
        b.con("final", "lower_bound", "At least final_stock units remain in stock at the end.", var=f"stock[{n}]",
              limit="final_stock")
    if c >= 5:
        b.param("warehouse", max(cap) + final + 10, "units the warehouse can hold")
        b.con("storage", "upper_bound", "The warehouse holds at most its size.", forall=[("t", "T")],
              var="stock[t]", limit="warehouse")
    return b.build()


@family("lot_sizing", "Lot sizing with setup costs: when to set up production to meet demand at the least cost.",
        ("balance", "fixed_charge", "if_then"),
        {"periods": "3 .. 10", "side constraints": "c>=3 minimum run length, c>=4 whole units"})
def lot_sizing(rng, c):
    b = Builder("lot_sizing")
    n = size(c, 3, 10)
    b.set("T", list(range(1, n + 1)), "weeks")
    demand = ints(rng, n, 10, 50)
    cap = _capacities(rng, demand, 0, 1.5, 2.5)
    b.param("demand", demand, "units ordered for the week", ("T",))
    b.param("capacity", cap, "units the line can make in a week once set up", ("T",))
    b.param("setup", ints(rng, n, 50, 300), "$ to set up the line in the week", ("T",))
    b.param("hold", rng.randint(1, 4), "$ to store a unit for a week")
    dom = "integer" if c >= 4 else "continuous"
    b.var("make", "units made in the week", ("T",), dom)
    b.var("stock", "units in stock at the end of the week", ("T",), dom)
    b.var("run", "1 if the line is set up in the week", ("T",), "binary")
    b.minimize("sum(hold * stock[t] for t in T)", "setup and storage cost in $")
    b.con("first_week", "balance", "Production of the first week meets its demand; the rest is stored.",
          forall=[("t", "T")], where="t == 1", inflow="make[t]", outflow="stock[t]", demand="demand[t]", sense="==")
    b.con("later_weeks", "balance", "Last week's stock plus production meets the week's demand; the rest is stored.",
          forall=[("t", "T")], where="t > 1", inflow="stock[t - 1] + make[t]", outflow="stock[t]",
          demand="demand[t]", sense="==")
    b.con("setup_needed", "fixed_charge", "The line makes something only in a week it is set up, at the setup cost.",
          forall=[("t", "T")], var="make[t]", indicator="run[t]", capacity="capacity[t]", cost="setup[t]")
    if c >= 3:
        b.param("min_run", min(demand) // 2 + 1, "least units made in a week the line is set up")
        b.con("min_run_length", "if_then", "A week with a setup makes at least min_run units.", forall=[("t", "T")],
              condition="run[t]", then="make[t] >= min_run")
    return b.build()

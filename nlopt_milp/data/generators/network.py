"""Transportation, transshipment (min-cost flow), assignment, generalized assignment."""

from __future__ import annotations

import math

from .base import Builder, family, ints, matrix, pick, size

PLANTS = ["Denver", "Austin", "Tulsa", "Omaha", "Boise", "Reno", "Fresno", "Macon", "Akron", "Joliet"]
MARKETS = ["Seattle", "Chicago", "Boston", "Miami", "Atlanta", "Dallas", "Phoenix", "Detroit", "Portland",
           "Memphis", "Raleigh", "Tampa", "Newark", "Tucson"]
DEPOTS = ["north_hub", "south_hub", "east_hub", "west_hub", "central_hub"]
WORKERS = ["Ana", "Ben", "Chen", "Dara", "Eli", "Fay", "Gus", "Hana", "Ivo", "Jun", "Kai", "Lea", "Max", "Noor"]
JOBS = ["welding", "painting", "wiring", "plumbing", "framing", "roofing", "tiling", "glazing", "drywall",
        "insulation", "flooring", "masonry"]
MACHINES = ["lathe", "mill", "press", "drill", "grinder"]


@family("transportation", "Transportation: ship from plants to markets at the least cost.",
        ("sum_bound", "linear", "upper_bound"),
        {"plants": "2 .. 6", "markets": "2 .. 8", "side constraints": "c>=3 whole truckloads, c>=4 route capacity"})
def transportation(rng, c):
    b = Builder("transportation")
    plants = b.set("S", pick(rng, PLANTS, size(c, 2, 6)), "plants")
    markets = b.set("M", pick(rng, MARKETS, size(c, 2, 8)), "markets")
    demand = ints(rng, len(markets), 10, 60)
    supply = ints(rng, len(plants), 10, 60)
    scale = sum(demand) * rng.uniform(1.1, 1.5) / sum(supply)
    supply = [math.ceil(s * scale) for s in supply]
    b.param("supply", supply, "truckloads the plant can ship", ("S",))
    b.param("demand", demand, "truckloads the market needs", ("M",))
    b.param("cost", matrix(rng, len(plants), len(markets), 2, 20), "$ per truckload on the route", ("S", "M"))
    b.var("ship", "truckloads sent on the route", ("S", "M"), "integer" if c >= 3 else "continuous")
    b.minimize("sum(cost[s, m] * ship[s, m] for s in S for m in M)", "shipping cost in $")
    b.con("plant_supply", "sum_bound", "A plant ships at most its supply.", forall=[("s", "S")],
          terms=["sum(ship[s, m] for m in M)"], sense="<=", limit="supply[s]")
    b.con("market_demand", "linear", "Every market receives at least its demand.", forall=[("m", "M")],
          terms=["sum(ship[s, m] for s in S)"], sense=">=", limit="demand[m]")
    if c >= 4:
        b.param("route_cap", max(max(demand), math.ceil(sum(demand) / len(plants))), "most truckloads on one route")
        b.con("route_limit", "upper_bound", "No route carries more than route_cap truckloads.",
              forall=[("s", "S"), ("m", "M")], var="ship[s, m]", limit="route_cap")
    return b.build()


@family("min_cost_flow", "Transshipment: plants ship through hubs to customers at the least cost (flow balance).",
        ("balance", "sum_bound", "linear"),
        {"plants": "2 .. 4", "hubs": "2 .. 4", "customers": "2 .. 7", "side constraints": "c>=3 hub throughput, "
                                                                                          "c>=4 whole units"})
def min_cost_flow(rng, c):
    b = Builder("min_cost_flow")
    plants = b.set("P", pick(rng, PLANTS, size(c, 2, 4)), "plants")
    hubs = b.set("H", pick(rng, DEPOTS, size(c, 2, 4)), "cross-docking hubs")
    cust = b.set("C", pick(rng, MARKETS, size(c, 2, 7)), "customers")
    demand = ints(rng, len(cust), 5, 40)
    supply = [math.ceil(sum(demand) * rng.uniform(0.5, 0.9)) for _ in plants]
    if sum(supply) < sum(demand):
        supply[0] += sum(demand) - sum(supply)
    b.param("supply", supply, "units the plant can send", ("P",))
    b.param("demand", demand, "units the customer ordered", ("C",))
    b.param("inbound", matrix(rng, len(plants), len(hubs), 1, 9), "$ per unit from plant to hub", ("P", "H"))
    b.param("outbound", matrix(rng, len(hubs), len(cust), 1, 9), "$ per unit from hub to customer", ("H", "C"))
    dom = "integer" if c >= 4 else "continuous"
    b.var("into", "units sent from the plant to the hub", ("P", "H"), dom)
    b.var("out", "units sent from the hub to the customer", ("H", "C"), dom)
    b.minimize("sum(inbound[p, h] * into[p, h] for p in P for h in H) + sum(outbound[h, k] * out[h, k] for h in H "
               "for k in C)", "shipping cost in $")
    b.con("plant_supply", "sum_bound", "A plant sends at most its supply.", forall=[("p", "P")],
          terms=["sum(into[p, h] for h in H)"], sense="<=", limit="supply[p]")
    b.con("hub_balance", "balance", "A hub sends on everything it receives.", forall=[("h", "H")],
          inflow="sum(into[p, h] for p in P)", outflow="sum(out[h, k] for k in C)", demand="0", sense="==")
    b.con("customer_demand", "linear", "Every customer receives its order.", forall=[("k", "C")],
          terms=["sum(out[h, k] for h in H)"], sense=">=", limit="demand[k]")
    if c >= 3:
        b.param("throughput", math.ceil(sum(demand) / len(hubs) * rng.uniform(1.2, 1.6)), "units a hub can handle")
        b.con("hub_capacity", "linear", "A hub handles at most throughput units.", forall=[("h", "H")],
              terms=["sum(into[p, h] for p in P)"], sense="<=", limit="throughput")
    return b.build()


@family("assignment", "Assignment: one worker per job and one job per worker at the least cost.",
        ("assignment", "upper_bound"),
        {"workers = jobs": "3 .. 10", "side constraints": "c>=3 forbidden pairs"})
def assignment(rng, c):
    b = Builder("assignment")
    n = size(c, 3, 10)
    w = b.set("W", pick(rng, WORKERS, n), "workers")
    j = b.set("J", pick(rng, JOBS, n), "jobs")
    b.param("cost", matrix(rng, n, n, 10, 99), "hours the worker needs for the job", ("W", "J"))
    b.var("assign", "1 if the worker does the job", ("W", "J"), "binary")
    b.minimize("sum(cost[w, j] * assign[w, j] for w in W for j in J)", "total hours")
    b.con("one_job_each", "assignment", "Every worker does exactly one job.", forall=[("w", "W")],
          var="assign[w, j]", over=[{"index": "j", "set": "J"}], count="1", sense="==")
    b.con("one_worker_each", "assignment", "Every job is done by exactly one worker.", forall=[("j", "J")],
          var="assign[w, j]", over=[{"index": "w", "set": "W"}], count="1", sense="==")
    if c >= 3:
        for k in range(min(2, n - 1)):
            b.con(f"not_qualified_{k + 1}", "upper_bound", f"{w[k]} is not qualified for {j[k]}.",
                  var=f"assign['{w[k]}', '{j[k]}']", limit="0")
    return b.build()


@family("generalized_assignment", "Generalized assignment: tasks to machines with capacities, at the least cost.",
        ("assignment", "linear", "k_of_n"),
        {"tasks": "4 .. 12", "machines": "2 .. 5", "side constraints": "c>=3 a cap on tasks per machine"})
def generalized_assignment(rng, c):
    b = Builder("generalized_assignment")
    tasks = b.set("T", pick(rng, JOBS, size(c, 4, 12)), "tasks")
    mach = b.set("A", MACHINES[: size(c, 2, 5)], "machines")
    load = matrix(rng, len(mach), len(tasks), 2, 12)
    b.param("load", load, "hours the task takes on the machine", ("A", "T"))
    b.param("cap", [math.ceil(sum(row) / len(mach) * rng.uniform(1.3, 1.7)) for row in load],
            "hours the machine is available", ("A",))
    b.param("cost", matrix(rng, len(mach), len(tasks), 5, 50), "$ to run the task on the machine", ("A", "T"))
    b.var("x", "1 if the task runs on the machine", ("A", "T"), "binary")
    b.minimize("sum(cost[a, t] * x[a, t] for a in A for t in T)", "running cost in $")
    b.con("every_task", "assignment", "Every task runs on exactly one machine.", forall=[("t", "T")],
          var="x[a, t]", over=[{"index": "a", "set": "A"}], count="1", sense="==")
    b.con("machine_hours", "linear", "A machine works at most its available hours.", forall=[("a", "A")],
          terms=["sum(load[a, t] * x[a, t] for t in T)"], sense="<=", limit="cap[a]")
    if c >= 3:
        b.param("max_tasks", math.ceil(len(tasks) / len(mach)) + 1, "most tasks on one machine")
        b.con("task_count", "k_of_n", "A machine runs at most max_tasks tasks.", forall=[("a", "A")],
              terms=["sum(x[a, t] for t in T)"], mode="at_most", k="max_tasks")
    return b.build()

"""Set covering (shift scheduling), set partitioning (crew routes), staff rostering."""

from __future__ import annotations

import math

from .base import Builder, family, ints, names, pick, size
from .network import WORKERS

DAYS = ["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"]


@family("shift_scheduling", "Set covering: hire staff on overlapping shifts to cover the need of every hour "
                            "at the least cost.",
        ("linear", "sum_bound"),
        {"periods": "4 .. 12", "shifts": "3 .. 8", "side constraints": "c>=4 a staff limit"})
def shift_scheduling(rng, c):
    b = Builder("shift_scheduling")
    n = size(c, 4, 12)
    b.set("T", list(range(1, n + 1)), "two-hour periods of the day")
    ns = size(c, 3, 8)
    starts = sorted(set([1] + [rng.randint(1, n) for _ in range(ns - 1)]))
    length = max(2, math.ceil(n / len(starts)) + 1)
    shifts = b.set("S", names("shift", len(starts)), "shifts")
    cover = [[1 if s <= t < s + length or t < s + length - n else 0 for s in starts] for t in range(1, n + 1)]
    for t, row in enumerate(cover):  # every period is covered by some shift
        if not any(row):
            row[t % len(starts)] = 1
    b.param("covers", cover, "1 if the shift works in the period", ("T", "S"))
    need = ints(rng, n, 2, 12)
    b.param("need", need, "staff needed in the period", ("T",))
    b.param("wage", ints(rng, len(shifts), 60, 140), "$ per person on the shift", ("S",))
    b.var("staff", "people hired for the shift", ("S",), "integer")
    b.minimize("sum(wage[s] * staff[s] for s in S)", "wage bill in $")
    b.con("cover_need", "linear", "Every period has at least the staff it needs.", forall=[("t", "T")],
          terms=["sum(covers[t, s] * staff[s] for s in S)"], sense=">=", limit="need[t]")
    if c >= 4:
        b.param("headcount", sum(need), "most people that can be hired")
        b.con("headcount_limit", "sum_bound", "At most headcount people are hired.",
              terms=["sum(staff[s] for s in S)"], sense="<=", limit="headcount")
    return b.build()


@family("set_partitioning", "Set partitioning: choose delivery routes so that every stop is visited exactly once.",
        ("linear", "k_of_n"),
        {"stops": "4 .. 12", "routes": "stops + 3 .. stops + 10", "side constraints": "c>=3 a cap on routes"})
def set_partitioning(rng, c):
    b = Builder("set_partitioning")
    n = size(c, 4, 12)
    stops = list(range(n))
    order = rng.sample(stops, n)
    routes: list[set[int]] = []
    k = 0
    while k < n:  # a random partition: the instance is feasible
        step = rng.randint(2, 4)
        routes.append(set(order[k:k + step]))
        k += step
    routes += [{s} for s in stops]
    while len(routes) < 2 * n + size(c, 3, 10):
        r = set(rng.sample(stops, rng.randint(2, min(4, n))))
        if r not in routes:
            routes.append(r)
    b.set("E", pick(rng, ["bakery", "clinic", "school", "library", "market", "garage", "hotel", "museum", "bank",
                              "pharmacy", "florist", "cafe", "gym", "office"], n), "delivery stops")
    b.set("R", names("route", len(routes)), "candidate routes")
    b.param("visits", [[1 if s in r else 0 for r in routes] for s in stops], "1 if the route visits the stop", ("E", "R"))
    b.param("cost", [10 * len(r) + rng.randint(5, 40) for r in routes], "$ to drive the route", ("R",))
    b.var("drive", "1 if the route is driven", ("R",), "binary")
    b.minimize("sum(cost[r] * drive[r] for r in R)", "driving cost in $")
    b.con("visit_once", "linear", "Every stop is visited by exactly one driven route.", forall=[("e", "E")],
          terms=["sum(visits[e, r] * drive[r] for r in R)"], sense="==", limit="1")
    if c >= 3:
        b.param("vans", n - 1, "vans available, one per driven route")
        b.con("van_limit", "k_of_n", "At most vans routes are driven.", terms=["sum(drive[r] for r in R)"],
              mode="at_most", k="vans")
    return b.build()


@family("staff_rostering", "Staff rostering: who works which day, to cover daily needs at the least preference cost.",
        ("linear", "sum_bound", "mutual_exclusion"),
        {"staff": "3 .. 8", "days": "3 .. 7", "side constraints": "c>=3 minimum days, c>=4 two people never "
                                                                   "on the same day"})
def staff_rostering(rng, c):
    b = Builder("staff_rostering")
    staff = b.set("N", pick(rng, WORKERS, size(c, 3, 8)), "nurses")
    days = b.set("D", DAYS[: size(c, 3, 7)], "days of the week")
    need = [rng.randint(1, max(1, len(staff) - 2)) for _ in days]
    maxd = max(1, math.ceil(sum(need) * 1.3 / len(staff)))
    maxd = min(maxd, len(days))
    b.param("need", need, "nurses needed on the day", ("D",))
    b.param("dislike", [ints(rng, len(days), 0, 9) for _ in staff], "how much the nurse dislikes working the day",
            ("N", "D"))
    b.param("max_days", maxd, "most days one nurse works")
    b.var("work", "1 if the nurse works the day", ("N", "D"), "binary")
    b.minimize("sum(dislike[n, d] * work[n, d] for n in N for d in D)", "total dislike")
    b.con("cover_day", "linear", "Every day has the nurses it needs.", forall=[("d", "D")],
          terms=["sum(work[n, d] for n in N)"], sense=">=", limit="need[d]")
    b.con("workload", "sum_bound", "Nobody works more than max_days days.", forall=[("n", "N")],
          terms=["sum(work[n, d] for d in D)"], sense="<=", limit="max_days")
    if c >= 3:
        b.param("min_days", 1, "least days every nurse works")
        b.con("min_workload", "linear", "Everybody works at least min_days day.", forall=[("n", "N")],
              terms=["sum(work[n, d] for d in D)"], sense=">=", limit="min_days")
    if c >= 4:
        a, z = rng.sample(staff, 2)
        b.con("apart", "mutual_exclusion", f"{a} and {z} never work the same day.", forall=[("d", "D")],
              terms=[f"work['{a}', d]", f"work['{z}', d]"])
    return b.build()

"""Project selection (k-of-n, dependencies) and single-machine scheduling (either-or)."""

from __future__ import annotations

from .base import Builder, family, ints, pick, size

PROJECTS = ["solar_roof", "new_website", "warehouse_robotics", "staff_training", "crm_upgrade", "ev_fleet",
            "data_center", "loyalty_app", "quality_lab", "packaging_line", "cyber_audit", "green_certification",
            "call_center", "export_office", "recycling_unit"]
JOBS = ["order_A", "order_B", "order_C", "order_D", "order_E", "order_F", "order_G", "order_H"]


@family("project_selection", "Project selection: choose projects within a budget with k-of-n rules, dependencies "
                             "and exclusions.",
        ("linear", "k_of_n", "dependency", "mutual_exclusion"),
        {"projects": "4 .. 12", "side constraints": "c>=2 at least k, c>=3 a dependency, c>=4 an exclusion"})
def project_selection(rng, c):
    b = Builder("project_selection")
    proj = b.set("P", pick(rng, PROJECTS, size(c, 4, 12)), "candidate projects")
    cost = ints(rng, len(proj), 10, 90)
    b.param("cost", cost, "cost in $1000", ("P",))
    b.param("npv", [x + rng.randint(-5, 60) for x in cost], "net present value in $1000", ("P",))
    b.param("budget", int(sum(cost) * rng.uniform(0.35, 0.55)), "budget in $1000")
    b.var("pick", "1 if the project is funded", ("P",), "binary")
    b.maximize("sum(npv[p] * pick[p] for p in P)", "total net present value in $1000")
    b.con("budget_limit", "linear", "Funded projects cost at most the budget.",
          terms=["sum(cost[p] * pick[p] for p in P)"], sense="<=", limit="budget")
    if c >= 2:
        b.con("at_least_two", "k_of_n", "At least 2 projects are funded.", terms=["sum(pick[p] for p in P)"],
              mode="at_least", k="2")
    a, z, d, e = rng.sample(proj, 4)
    if c >= 3:
        b.con("prerequisite", "dependency", f"{a} can only be funded together with {z}.", if_var=f"pick['{a}']",
              then_var=f"pick['{z}']")
    if c >= 4:
        b.con("rivals", "mutual_exclusion", f"At most one of {d} and {e} is funded.",
              terms=[f"pick['{d}']", f"pick['{e}']"])
    return b.build()


@family("machine_scheduling", "Single-machine scheduling: order jobs so that no two overlap (either-or) and the "
                              "weighted completion time is least.",
        ("either_or", "lower_bound", "upper_bound"),
        {"jobs": "2 .. 6", "side constraints": "c>=2 release times, c>=4 a deadline"})
def machine_scheduling(rng, c):
    b = Builder("machine_scheduling")
    n = size(c, 2, 6)
    jobs = pick(rng, JOBS, n)
    b.set("J", list(range(1, n + 1)), "jobs, numbered")
    dur = ints(rng, n, 1, 9)
    rel = [rng.randint(0, 8) if c >= 2 else 0 for _ in range(n)]
    horizon = max(rel) + sum(dur)
    b.param("duration", dur, "hours the job takes", ("J",))
    b.param("weight", ints(rng, n, 1, 5), "priority weight of the job", ("J",))
    b.param("horizon", horizon, "hours in the planning horizon")
    b.var("start", "start hour of the job", ("J",), upper="horizon")
    b.minimize("sum(weight[j] * (start[j] + duration[j]) for j in J)", "weighted completion time")
    b.con("no_overlap", "either_or", "The machine runs one job at a time: one of two jobs finishes before the "
          "other starts.", forall=[("j", "J"), ("k", "J")], where="j < k",
          first="start[j] + duration[j] <= start[k]", second="start[k] + duration[k] <= start[j]")
    if c >= 2:
        b.param("release", rel, "hour the job's material arrives", ("J",))
        b.con("release_time", "lower_bound", "No job starts before its material arrives.", forall=[("j", "J")],
              var="start[j]", limit="release[j]")
    if c >= 4:
        k = rng.randrange(n)
        b.con("deadline", "upper_bound", f"Job {k + 1} ({jobs[k]}) must start by hour {horizon - dur[k]}.",
              var=f"start[{k + 1}]", limit=str(horizon - dur[k]))
    return b.build()

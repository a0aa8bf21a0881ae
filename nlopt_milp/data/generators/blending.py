"""Diet, blending, portfolio, production mix and minimum-lot production."""

from __future__ import annotations

import math

from .base import Builder, family, ints, matrix, pick, size

FOODS = ["oats", "rice", "beans", "lentils", "eggs", "milk", "cheese", "bread", "apples", "bananas", "spinach",
         "carrots", "chicken", "tofu", "yogurt", "peanuts", "potatoes", "pasta", "salmon", "broccoli"]
NUTRIENTS = ["protein", "fibre", "iron", "calcium", "vitamin_c", "energy"]
INGREDIENTS = ["corn", "barley", "soymeal", "wheat", "fishmeal", "alfalfa", "sorghum", "canola", "peas", "bran"]
QUALITIES = ["protein", "fat", "fibre", "minerals"]
ASSETS = ["stocks", "bonds", "real_estate", "gold", "cash", "commodities", "startups", "infrastructure", "reits"]
PRODUCTS = ["chairs", "tables", "desks", "shelves", "beds", "cabinets", "stools", "benches", "wardrobes", "dressers"]
SHOP = ["carpentry_hours", "finishing_hours", "oak_boardfeet", "pine_boardfeet", "machine_hours"]


@family("diet", "Diet: the cheapest servings of foods that meet nutrient needs.",
        ("linear", "sum_bound", "upper_bound"),
        {"foods": "3 .. 10", "nutrients": "2 .. 5", "side constraints": "c>=2 whole servings, c>=3 total servings, "
                                                                       "c>=4 a limit on one food"})
def diet(rng, c):
    b = Builder("diet")
    foods = b.set("F", pick(rng, FOODS, size(c, 3, 10)), "foods on the menu")
    nut = b.set("N", NUTRIENTS[: size(c, 2, 5)], "nutrients")
    content = matrix(rng, len(nut), len(foods), 0, 12)
    ref = ints(rng, len(foods), 0, 3)  # a menu that meets every need: the instance is feasible
    need = [max(1, int(0.8 * sum(a * s for a, s in zip(row, ref)))) for row in content]
    b.param("content", content, "units of the nutrient in one serving", ("N", "F"))
    b.param("need", need, "units of the nutrient needed per day", ("N",))
    b.param("cost", ints(rng, len(foods), 1, 9), "$ per serving", ("F",))
    b.var("serve", "servings of the food per day", ("F",), "integer" if c >= 2 else "continuous")
    b.minimize("sum(cost[f] * serve[f] for f in F)", "daily cost in $")
    b.con("nutrition", "linear", "The menu meets the daily need of every nutrient.", forall=[("n", "N")],
          terms=["sum(content[n, f] * serve[f] for f in F)"], sense=">=", limit="need[n]")
    if c >= 3:
        b.param("max_servings", sum(ref) + 2, "most servings a person eats per day")
        b.con("appetite", "sum_bound", "At most max_servings servings in total.",
              terms=["sum(serve[f] for f in F)"], sense="<=", limit="max_servings")
    if c >= 4:
        k = rng.randrange(len(foods))
        b.con("variety", "upper_bound", f"At most {ref[k] + 1} servings of {foods[k]}.",
              var=f"serve['{foods[k]}']", limit=str(ref[k] + 1))
    return b.build()


@family("blending", "Blending: mix ingredients into a batch that meets quality shares at the least cost.",
        ("linear", "ratio", "upper_bound"),
        {"ingredients": "3 .. 8", "qualities": "1 .. 4", "side constraints": "c>=3 availability, c>=5 a share cap"})
def blending(rng, c):
    b = Builder("blending")
    ing = b.set("I", pick(rng, INGREDIENTS, size(c, 3, 8)), "feed ingredients")
    qual = b.set("Q", QUALITIES[: size(c, 1, 4)], "qualities of the feed")
    pct = [[rng.randint(2, 40) / 100 for _ in ing] for _ in qual]
    batch = rng.choice([100, 200, 500, 1000])
    ref = [rng.uniform(0.5, 1.5) for _ in ing]
    ref = [batch * r / sum(ref) for r in ref]  # a feasible blend
    b.param("share", pct, "fraction of the ingredient that is this quality", ("Q", "I"))
    b.param("min_share", [math.floor(80 * sum(p * r for p, r in zip(row, ref)) / batch) / 100 for row in pct],
            "least fraction of the batch that must be this quality", ("Q",))
    b.param("price", ints(rng, len(ing), 2, 30), "$ per kg", ("I",))
    b.param("batch", batch, "kg in one batch")
    b.var("kg", "kg of the ingredient in the batch", ("I",))
    b.minimize("sum(price[i] * kg[i] for i in I)", "cost of the batch in $")
    b.con("batch_size", "linear", "The batch weighs exactly batch kg.", terms=["sum(kg[i] for i in I)"],
          sense="==", limit="batch")
    b.con("quality", "ratio", "Each quality makes up at least its minimum share of the batch.", forall=[("q", "Q")],
          var="sum(share[q, i] * kg[i] for i in I)", total=["sum(kg[i] for i in I)"], ratio="min_share[q]", sense=">=")
    if c >= 3:
        b.param("stock", [math.ceil(r * 1.3) for r in ref], "kg of the ingredient in stock", ("I",))
        b.con("availability", "upper_bound", "No more of an ingredient than is in stock.", forall=[("i", "I")],
              var="kg[i]", limit="stock[i]")
    if c >= 5:
        k = max(range(len(ing)), key=lambda j: ref[j])
        cap = math.ceil(100 * ref[k] / batch + 5) / 100
        b.con("share_cap", "ratio", f"{ing[k]} is at most {round(cap * 100)}% of the batch.",
              var=f"kg['{ing[k]}']", total=["sum(kg[i] for i in I)"], ratio=str(cap), sense="<=")
    return b.build()


@family("portfolio", "Portfolio: split a budget over assets for the highest return under share limits.",
        ("sum_bound", "ratio", "linear", "multiple", "comparison"),
        {"assets": "3 .. 8", "side constraints": "c>=2 risk budget, c>=3 a multiple, c>=4 a comparison"})
def portfolio(rng, c):
    b = Builder("portfolio")
    assets = b.set("A", pick(rng, ASSETS, size(c, 3, 8)), "asset classes")
    budget = rng.choice([10000, 50000, 100000, 250000])
    b.param("budget", budget, "$ to invest")
    b.param("ret", [rng.randint(1, 12) / 100 for _ in assets], "expected yearly return", ("A",))
    b.param("cap", [rng.randint(35, 60) / 100 for _ in assets], "largest share of the budget in the asset", ("A",))
    b.var("amount", "$ invested in the asset", ("A",))
    b.maximize("sum(ret[a] * amount[a] for a in A)", "expected yearly return in $")
    b.con("invest_all", "sum_bound", "The whole budget is invested.", terms=["sum(amount[a] for a in A)"],
          sense="==", limit="budget")
    b.con("share_cap", "ratio", "No asset takes more than its cap of the total.", forall=[("a", "A")],
          var="amount[a]", total=["sum(amount[a2] for a2 in A)"], ratio="cap[a]", sense="<=")
    if c >= 2:
        risk = ints(rng, len(assets), 1, 9)
        b.param("risk", risk, "risk score per $ invested", ("A",))
        b.param("risk_limit", round(sum(risk) / len(risk) * 1.1, 2), "largest average risk score")
        b.con("risk_budget", "linear", "The average risk score of the money stays within risk_limit.",
              terms=["sum(risk[a] * amount[a] for a in A)"], sense="<=", limit="risk_limit * budget")
    x, y, z = rng.sample(assets, 3)
    if c >= 3:
        f = rng.choice([0.2, 0.25, 0.5])
        b.con("hedge", "multiple", f"The amount in {x} is at least {f} times the amount in {y}.",
              x=f"amount['{x}']", factor=str(f), y=f"amount['{y}']", sense=">=")
    if c >= 4:
        b.con("order", "comparison", f"No more goes to {z} than to {x}.", x=f"amount['{z}']", y=f"amount['{x}']",
              sense="<=")
    return b.build()


@family("production_mix", "Production mix: products that share workshop resources, for the highest profit.",
        ("linear", "lower_bound", "upper_bound"),
        {"products": "2 .. 8", "resources": "2 .. 5", "side constraints": "c>=2 a minimum order, c>=3 whole units, "
                                                                          "c>=4 sales limits"})
def production_mix(rng, c):
    b = Builder("production_mix")
    prods = b.set("P", pick(rng, PRODUCTS, size(c, 2, 8)), "products")
    res = b.set("R", SHOP[: size(c, 2, 5)], "workshop resources")
    use = matrix(rng, len(res), len(prods), 1, 9)
    b.param("use", use, "resource needed per unit", ("R", "P"))
    b.param("avail", [rng.randint(10, 30) * max(row) for row in use], "resource available per week", ("R",))
    b.param("profit", ints(rng, len(prods), 5, 80), "$ profit per unit", ("P",))
    b.var("make", "units made per week", ("P",), "integer" if c >= 3 else "continuous")
    b.maximize("sum(profit[p] * make[p] for p in P)", "weekly profit in $")
    b.con("capacity", "linear", "No resource is used beyond what is available.", forall=[("r", "R")],
          terms=["sum(use[r, p] * make[p] for p in P)"], sense="<=", limit="avail[r]")
    if c >= 2:
        p = rng.choice(prods)
        b.con("order", "lower_bound", f"A customer has ordered 3 {p}.", var=f"make['{p}']", limit="3")
    if c >= 4:
        b.param("sales", ints(rng, len(prods), 5, 25), "most units that can be sold per week", ("P",))
        b.con("market", "upper_bound", "No more is made than can be sold.", forall=[("p", "P")], var="make[p]",
              limit="sales[p]")
    return b.build()


@family("minimum_lot", "Minimum-lot production: each product is either not made or made in a lot of at least a "
                       "minimum size (semi-continuous).",
        ("linear", "semi_continuous"),
        {"products": "2 .. 8", "side constraints": "c>=3 a second resource"})
def minimum_lot(rng, c):
    b = Builder("minimum_lot")
    prods = b.set("P", pick(rng, PRODUCTS, size(c, 2, 8)), "products")
    press = ints(rng, len(prods), 1, 5)
    lot = ints(rng, len(prods), 5, 15)
    b.param("press", press, "press hours per unit", ("P",))
    b.param("min_lot", lot, "smallest lot worth setting up", ("P",))
    b.param("max_sales", [x + rng.randint(5, 30) for x in lot], "most units that can be sold", ("P",))
    b.param("hours", int(sum(p * x for p, x in zip(press, lot)) * rng.uniform(0.6, 1.2)) + max(press) * max(lot),
            "press hours available")
    b.param("profit", ints(rng, len(prods), 5, 60), "$ profit per unit", ("P",))
    b.var("make", "units made", ("P",), "continuous")
    b.maximize("sum(profit[p] * make[p] for p in P)", "profit in $")
    b.con("press_hours", "linear", "The press runs at most the available hours.",
          terms=["sum(press[p] * make[p] for p in P)"], sense="<=", limit="hours")
    b.con("lot_size", "semi_continuous", "A product is either not made or made in a lot of at least its minimum.",
          forall=[("p", "P")], var="make[p]", minimum="min_lot[p]", maximum="max_sales[p]")
    if c >= 3:
        paint = ints(rng, len(prods), 1, 4)
        b.param("paint", paint, "litres of paint per unit", ("P",))
        b.param("paint_stock", int(sum(p * x for p, x in zip(paint, lot)) * rng.uniform(0.7, 1.3)) + max(paint) * max(lot),
                "litres of paint in stock")
        b.con("paint_limit", "linear", "Paint used stays within the stock.",
              terms=["sum(paint[p] * make[p] for p in P)"], sense="<=", limit="paint_stock")
    return b.build()

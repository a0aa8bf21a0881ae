"""Start-up: `nlopt solve` on a tiny model, as a whole process, against a bare highspy process.

Each round runs, one after the other (so load on a shared machine hits all alike):

* ``bare highspy``: `python -c` importing highspy and numpy, building examples/production_mix.json's
  LP by hand (arrays below, derived from that file) -> `passModel` -> `run` -> print the solution;
* ``nlopt solve``: `nlopt solve -f examples/production_mix.json`, through the console script
  installed beside this Python (what users run; PYTHONPATH points it at this checkout, whatever
  checkout the package was installed from; `python -m nlopt_milp` costs the same); without one,
  `python -c` running what that script runs. Not through a pyenv shim (its bash costs ~0.1 s);
* ``nlopt --help``: the same with `--help`;
* ``python -c pass``: the interpreter alone (site, .pth files).

Medians are printed, wall time and CPU time (user + system of all threads: in every process that
imports numpy, its BLAS threads use ~0.1 s of CPU beside the main thread, measured against
OPENBLAS_NUM_THREADS=1), with the ratio nlopt solve / bare highspy (issue 11's target: within 2x).
Then `python -X importtime` of the solve, the top modules by cumulative import time, so that a
regression shows where it is.

    python benchmarks/startup.py [--runs 15] [--top 15]
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "examples" / "production_mix.json"

# production_mix.json by hand: maximize 30 chair + 50 table (profit) subject to
# labor_hours 2 chair + 4 table <= 100, oak_stock 3 chair + 2 table <= 90,
# table_sales table <= 20 and chair_order chair >= 5 (as column bounds), make >= 0.
BARE = """
import numpy as np, highspy
h = highspy.Highs()
h.setOptionValue("output_flag", False)
inf = highspy.kHighsInf
h.passModel(2, 2, 4, int(highspy.MatrixFormat.kRowwise.value), -1, 0.0,
            np.array([30.0, 50.0]), np.array([5.0, 0.0]), np.array([inf, 20.0]),
            np.array([-inf, -inf]), np.array([100.0, 90.0]),
            np.array([0, 2, 4], dtype=np.int32), np.array([0, 1, 0, 1], dtype=np.int32),
            np.array([2.0, 4.0, 3.0, 2.0]), np.array([0, 0], dtype=np.int32))
h.run()
sol = h.getSolution()
print(h.modelStatusToString(h.getModelStatus()), h.getInfo().objective_function_value, list(sol.col_value))
"""

SCRIPT = Path(sys.executable).with_name("nlopt")
# the console script: `from nlopt_milp.cli.app import main; sys.exit(main())`
NLOPT = ([str(SCRIPT)] if SCRIPT.is_file() else
         [sys.executable, "-c", "import sys; from nlopt_milp.cli.app import main; sys.exit(main())"])

CASES = {
    "bare highspy": [sys.executable, "-c", BARE],
    "nlopt solve": [*NLOPT, "solve", "-f", str(EXAMPLE)],
    "nlopt --help": [*NLOPT, "--help"],
    "python -c pass": [sys.executable, "-c", "pass"],
}


def env() -> dict:
    e = dict(os.environ)
    # Without cached bytecode every run would compile this checkout's modules (~0.07 s): measure what
    # an installed package costs, whose .pyc files exist (the warm-up run below writes them).
    e.pop("PYTHONDONTWRITEBYTECODE", None)
    e["PYTHONPATH"] = str(ROOT) + (os.pathsep + e["PYTHONPATH"] if e.get("PYTHONPATH") else "")
    e["COLUMNS"] = "100"
    return e


def run_once(name: str) -> tuple[float, float]:
    """(wall seconds, CPU seconds: user + system) of one run of the case `name`."""
    cmd = CASES[name]
    r0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    t = time.perf_counter()
    p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env(), cwd=ROOT)
    dt = time.perf_counter() - t
    r1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    if p.returncode != 0:
        sys.exit(f"{name} exited {p.returncode}:\n{p.stderr.decode(errors='replace')}")
    return dt, (r1.ru_utime - r0.ru_utime) + (r1.ru_stime - r0.ru_stime)


def importtime(top: int) -> list[tuple[int, int, str]]:
    """(cumulative us, self us, module) of the solve's imports, largest cumulative first."""
    script = NLOPT[1:] if NLOPT[0] == sys.executable else NLOPT
    cmd = [sys.executable, "-X", "importtime", *script, "solve", "-f", str(EXAMPLE)]
    p = subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env(), cwd=ROOT, text=True)
    rows = []
    for line in p.stderr.splitlines():
        if not line.startswith("import time:") or "cumulative" in line:
            continue
        self_us, cum_us, name = line[len("import time:"):].split("|")
        rows.append((int(cum_us), int(self_us), name.rstrip()))
    rows.sort(reverse=True)
    return rows[:top]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--runs", type=int, default=15, help="rounds (each runs every case once)")
    ap.add_argument("--top", type=int, default=15, help="modules to list from -X importtime")
    args = ap.parse_args()

    wall: dict[str, list[float]] = {k: [] for k in CASES}
    cpu: dict[str, list[float]] = {k: [] for k in CASES}
    for name in CASES:  # warm the file cache, write bytecode; not counted
        run_once(name)
    for i in range(args.runs):
        names = list(CASES) if i % 2 == 0 else list(reversed(CASES))  # alternate the order
        for name in names:
            w, c = run_once(name)
            wall[name].append(w)
            cpu[name].append(c)

    med = {k: statistics.median(v) for k, v in wall.items()}
    mcpu = {k: statistics.median(v) for k, v in cpu.items()}
    print(f"nlopt: {SCRIPT if SCRIPT.is_file() else 'python -c (no console script beside Python)'}")
    print(f"{args.runs} runs each, {sys.executable}; medians in seconds, wall (min-max) and CPU (user + system):")
    for name, v in wall.items():
        print(f"  {name:15s} wall {med[name]:.3f} ({min(v):.3f}-{max(v):.3f})  cpu {mcpu[name]:.3f}")
    for label, m in (("wall", med), ("cpu", mcpu)):
        print(f"{label}: nlopt solve / bare highspy {m['nlopt solve'] / m['bare highspy']:.2f}x (target: <= 2x), "
              f"nlopt --help / python -c pass {m['nlopt --help'] / m['python -c pass']:.2f}x")

    print(f"\n-X importtime of nlopt solve, top {args.top} by cumulative time (ms):")
    print(f"  {'cumul':>7s} {'self':>7s}  module")
    for cum, self_, name in importtime(args.top):
        print(f"  {cum / 1000:7.1f} {self_ / 1000:7.1f}  {name}")


if __name__ == "__main__":
    main()

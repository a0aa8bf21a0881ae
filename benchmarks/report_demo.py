"""A real `nlopt eval` run against the loopback scripted server, its HTML report and a screenshot.

    PYTHONPATH=$PWD python3 benchmarks/report_demo.py [OUT_DIR]   # default /tmp/nlopt-report-demo

Two runs over overlapping slices of ../shared/benchmarks/optmath/NL4OPT.json (problems whose
NL4Opt gold formulation, from ../shared/nl4opt/test_part_a.jsonl, solves to the recorded answer):
run A on problems 1-30 with one repair round, run B on problems 7-36 without repairs. The scripted
server answers each problem from a fixed plan (gold, a wrong coefficient, no JSON, ...), so the
report shows every section: accuracy with intervals next to the published figures, the paired
comparison on the 24 common problems, failures, templates and per-problem details. With
chromium installed, `docs/report.png`-style screenshot is written to OUT_DIR/report.png.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

from nlopt_milp.data.shared import shared_data_dir  # noqa: E402  (../shared beside the checkout, or NLOPT_DATA_DIR)

SHARED = shared_data_dir()

from scripted_server import Reply, ScriptedServer  # noqa: E402

PLAN = ("right", "right", "wrong", "invalid", "invalid_then_right", "infeasible_then_right")


def _norm(text: str) -> str:
    return " ".join(text.split()).lower()


def problems(count: int) -> list[dict]:
    from nlopt_milp.data.nl4opt import import_nl4opt
    from nlopt_milp.eval.datasets import normalize_answer
    from nlopt_milp.eval.scoring import is_correct
    from nlopt_milp.solve import solve

    records = {}
    for line in (SHARED / "benchmarks" / "optmath" / "NL4OPT.json").read_text(encoding="utf-8").splitlines():
        if line.strip():
            rec = json.loads(line)
            records.setdefault(_norm(rec["en_question"]), (line, rec))
    part_a = SHARED / "nl4opt" / "test_part_a.jsonl"
    integer = {p.id: p for p in import_nl4opt(part_a, integer=True)}
    out = []
    for p in import_nl4opt(part_a):
        hit = records.get(_norm(p.document))
        if hit is None or not p.ok:
            continue
        line, rec = hit
        answer = normalize_answer(rec["en_answer"])
        for f in (p.formulation, integer[p.id].formulation):
            r = solve(f)
            if is_correct(r.status, r.objective, answer):
                out.append({"line": line, "question": rec["en_question"],
                            "gold": f.model_dump(mode="json", exclude={"problem"})})
                break
        if len(out) == count:
            break
    return out


def wrong_variant(gold: dict) -> dict:
    f = json.loads(json.dumps(gold))
    expr = f["objective"]["expr"]
    m = re.search(r"(?<![\w.])\d+(\.\d+)?(?=\s*\*)", expr)
    f["objective"]["expr"] = (expr[: m.start()] + repr(3 * float(m.group())) + expr[m.end():]) if m else f"3 * ({expr})"
    return f


def infeasible_variant(gold: dict) -> dict:
    f = json.loads(json.dumps(gold))
    var = f["variables"][0]["name"]
    f["constraints"] = list(f["constraints"]) + [
        {"name": "extra_min", "source": "", "template": "lower_bound", "slots": {"var": var, "limit": "10"}},
        {"name": "extra_max", "source": "", "template": "upper_bound", "slots": {"var": var, "limit": "5"}},
    ]
    return f


def responder(plan: list[dict]):
    def answer(request: dict) -> Reply:
        user = request["messages"][-1]["content"]
        repair = "Your formulation of the problem below has problems" in user
        hits = [p for p in plan if p["question"] in user]
        if len(hits) != 1:
            return Reply(status=400, body={"error": {"message": "scripted: unknown problem"}})
        p = hits[0]
        role = p["role"]
        if role == "right" or (repair and role in ("invalid_then_right", "infeasible_then_right")):
            return Reply(content=json.dumps(p["gold"]))
        if role == "wrong":
            return Reply(content=json.dumps(wrong_variant(p["gold"])))
        if role == "infeasible_then_right":
            return Reply(content=json.dumps(infeasible_variant(p["gold"])))
        return Reply(content="Sure! Here is the model: {not json")

    return answer


def run(out_dir: Path) -> Path:
    out_dir.mkdir(parents=True, exist_ok=True)
    plan = problems(36)
    for i, p in enumerate(plan):
        p["role"] = PLAN[i % len(PLAN)]
    env = {"PYTHONPATH": str(ROOT), "NO_PROXY": "127.0.0.1,localhost", "no_proxy": "127.0.0.1,localhost",
           "PATH": "/usr/bin:/bin", "HOME": str(Path.home()), "COLUMNS": "160"}
    logs = []
    for name, lines, repairs in (("model-a", plan[:30], "1"), ("model-b", plan[6:36], "0")):
        slice_file = out_dir / f"slice-{name}.jsonl"
        slice_file.write_text("".join(p["line"] + "\n" for p in lines), encoding="utf-8")
        log = out_dir / f"{name}.jsonl"
        with ScriptedServer(models=[name], responder=responder(plan)) as server:
            subprocess.run([sys.executable, "-m", "nlopt_milp.cli.app", "eval", "nl4opt", "--file", str(slice_file),
                            "--mode", "single", "--max-repairs", repairs, "--base-url", server.base_url,
                            "--out", str(log), "--json"], check=True, env=env, capture_output=True, cwd=ROOT)
        logs.append(log)
    html = out_dir / "report.html"
    subprocess.run([sys.executable, "-m", "nlopt_milp.cli.app", "eval", "report", *map(str, logs), "--html", str(html)],
                   check=True, env=env, cwd=ROOT)
    chromium = shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")
    if chromium:
        subprocess.run([chromium, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
                        "--window-size=1200,3000", f"--screenshot={out_dir / 'report.png'}", html.as_uri()],
                       check=True, capture_output=True, timeout=120)
    return html


if __name__ == "__main__":
    import argparse

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("out_dir", nargs="?", type=Path, default=Path("/tmp/nlopt-report-demo"))
    print(run(parser.parse_args().out_dir))

"""Replay the NL4Opt gold formulations through the LLM pipeline: can the stage schemas express them?

    python benchmarks/replay_nl4opt.py [--split PATH] [--answers FILE] [--limit N] [--modes staged,single]

Each gold annotation (`nlopt_milp.data.nl4opt`, continuous variables, else integer where only
that matches) is rendered as the answer of every stage (`prompts.stage_answers`: sources mapped
to the sentence enum, every field written out) and served by a loopback chat server that
answers each request by its stage. The staged and the single pipeline must accept these
answers unchanged (no repair) and solve to the answer recorded in optmath/NL4OPT.json.
Problems whose gold annotation itself does not reach the recorded answer (see
benchmarks/nl4opt_gold.py) are left out and counted.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

from nlopt_milp.data.nl4opt import import_nl4opt  # noqa: E402
from nlopt_milp.eval.scoring import is_correct  # noqa: E402
from nlopt_milp.eval.datasets import normalize_answer  # noqa: E402
from nlopt_milp.formulate import prompts as P  # noqa: E402

SHARED = next((p / "shared" for p in ROOT.parents if (p / "shared" / "nl4opt").is_dir()), ROOT.parent / "shared")


def _words(s: str) -> set[str]:
    return set(re.findall(r"[a-z0-9]+", s.lower()))


def nearest_sentence(source: str, sentences: list[str]) -> str:
    """The sentence of the enum that a gold source (possibly two merged sentences, or empty) best matches."""
    if source in sentences:
        return source
    inside = [s for s in sentences if s in " ".join(source.split())]
    if inside:
        return inside[0]
    words = _words(source)
    return max(sentences, key=lambda s: len(words & _words(s)) / max(1, len(_words(s))))


def gold_answers(problem: str, formulation: dict) -> dict[str, dict]:
    """The stage answers a perfect model would give for this gold formulation."""
    sents = P.sentences(problem)
    f = json.loads(json.dumps(formulation))
    for c in f["constraints"]:
        c["source"] = nearest_sentence(c.get("source", ""), sents)
    return P.stage_answers({"problem": problem, "formulation": f})


def load_answers(path: Path) -> dict[str, object]:
    out = {}
    with path.open(encoding="utf-8") as fh:
        for line in fh:
            if line.strip():
                r = json.loads(line)
                out.setdefault(" ".join(r["en_question"].split()).lower(), r["en_answer"])
    return out


def cases(split: Path, answers: Path, limit: int | None = None):
    """(id, problem, formulation dict, recorded answer) for gold annotations that reach the recorded answer;
    and how many were left out (no answer recorded, or the gold annotation misses it)."""
    from nlopt_milp.solve import solve
    recorded = load_answers(answers)
    cont, intg = import_nl4opt(split, integer=False), import_nl4opt(split, integer=True)
    out, left_out = [], 0
    for pc, pi in zip(cont, intg):
        if limit is not None and len(out) >= limit:
            break
        raw = recorded.get(" ".join(pc.document.split()).lower())
        if raw is None or pc.formulation is None:
            left_out += 1
            continue
        try:
            answer = normalize_answer(raw)
        except ValueError:
            left_out += 1
            continue
        for p in (pc, pi):
            r = solve(p.formulation)
            if is_correct(r.status, r.objective, answer):
                out.append((pc.id, pc.document, p.formulation.model_dump(mode="json"), answer))
                break
        else:
            left_out += 1
    return out, left_out


def replay(case_list, modes=("staged", "single")) -> list[dict]:
    """Run every case through each mode against a loopback server; one row per (case, mode)."""
    from scripted_server import Reply, ScriptedServer
    from nlopt_milp.formulate.llm import OpenAIBackend
    from nlopt_milp.formulate.pipeline import Pipeline

    rows = []
    for rid, problem, formulation, answer in case_list:
        answers = gold_answers(problem, formulation)

        def respond(req, answers=answers):
            return Reply(content=json.dumps(answers[req["response_format"]["json_schema"]["name"]]))

        for mode in modes:
            with ScriptedServer(responder=respond) as server:
                backend = OpenAIBackend(server.base_url, max_retries=0, timeout=30)
                out = Pipeline(backend, mode=mode, max_repairs=0, review=False).run(problem)
                stage_errors = [e for ev in out.trace.events if ev.messages for e in ev.errors]
            r = out.best.result
            rows.append({"id": rid, "mode": mode, "status": r.status if r else out.best.error_kind,
                         "objective": r.objective if r else None, "answer": answer,
                         "correct": bool(r) and is_correct(r.status, r.objective, answer),
                         "errors": stage_errors, "repairs": out.best.repairs})
    return rows


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--split", default=str(SHARED / "nl4opt" / "test_part_a.jsonl"))
    ap.add_argument("--answers", default=str(SHARED / "benchmarks" / "optmath" / "NL4OPT.json"))
    ap.add_argument("--limit", type=int, default=None)
    ap.add_argument("--modes", default="staged,single")
    args = ap.parse_args(argv)
    case_list, left_out = cases(Path(args.split), Path(args.answers), args.limit)
    rows = replay(case_list, tuple(args.modes.split(",")))
    print(f"{len(case_list)} gold formulations that reach their recorded answer ({left_out} left out: no answer "
          "recorded, or the annotation misses it)")
    for mode in args.modes.split(","):
        mine = [r for r in rows if r["mode"] == mode]
        print(f"{mode}: {sum(r['correct'] for r in mine)} of {len(mine)} solve to the recorded answer unchanged")
    for r in rows:
        if not r["correct"] or r["errors"] or r["repairs"]:
            print(f"  {r['id']} {r['mode']}: {r['status']} {r['objective']} (want {r['answer']}) {r['errors'][:2]}")
    return 0 if all(r["correct"] and not r["errors"] and not r["repairs"] for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())

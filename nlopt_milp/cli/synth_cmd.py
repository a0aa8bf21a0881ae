"""`nlopt synth`: verified training data (generate → backtranslate → verify → dataset).

Heavy modules (the generators, solvers, the pipeline, datasets) are imported inside the
commands so that `nlopt --help` stays fast.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Optional

import typer

from . import render
from .exit_codes import EXIT_BACKEND, EXIT_INTERRUPTED, EXIT_INVALID

synth_app = typer.Typer(
    no_args_is_help=True, rich_markup_mode="rich",
    help="Synthesize verified training data: [bold]families[/], [bold]generate[/], [bold]backtranslate[/], "
         "[bold]verify[/], [bold]run[/] (all three), [bold]stats[/], [bold]export[/].",
)

EPILOG = "Exit codes: 0 done; 2 bad input or usage; 6 LLM backend unreachable; 130 interrupted (rerun with --resume)."


def _plain(text) -> str:
    from .synth_report import plain
    return plain(text)


def _fail(where: str, message: str) -> typer.Exit:
    render.print_input_error(where, message)
    return typer.Exit(EXIT_INVALID)


def _progress(label: str, total: int, quiet: bool):
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    progress = Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                        console=render.err(), transient=False, disable=quiet and not render.err().is_terminal)
    task = progress.add_task(label, total=total)
    return progress, task


@synth_app.command("families")
def families_cmd(json_output: bool = typer.Option(False, "--json", help="A JSON array of families.")) -> None:
    """List the generator families: name, templates their instances use, what the complexity knob scales."""
    from ..data.generators import FAMILIES

    rows = [{"name": f.name, "summary": f.summary, "templates": list(f.templates), "parameters": f.parameters}
            for f in FAMILIES.values()]
    if json_output:
        render.write_json(rows)
        return
    from rich.table import Table

    t = Table("family", "templates", "complexity scales", title=f"{len(rows)} generator families")
    for r in rows:
        t.add_row(r["name"], ", ".join(r["templates"]), "; ".join(f"{k}: {v}" for k, v in r["parameters"].items()))
    render.out().print(t)


@synth_app.command("generate", epilog=EPILOG)
def generate_cmd(
    family: str = typer.Option("all", "--family", "-f", help="A family name, a comma-separated list, or all."),
    n: int = typer.Option(10, "--n", "-n", min=1, max=1_000_000, help="Instances kept per family."),
    complexity: int = typer.Option(2, "--complexity", "-c", min=1, max=5, help="1 (small) .. 5 (large, with logic)."),
    seed: int = typer.Option(0, "--seed", help="Run seed; the same seed gives the same bytes."),
    out: Path = typer.Option(..., "--out", "-o", help="JSONL of instances (appended)."),
    workers: int = typer.Option(1, "--workers", min=1, max=256, help="Worker processes for generating and solving."),
    time_limit: float = typer.Option(5.0, "--time-limit", min=0.01, help="HiGHS seconds per instance."),
    max_variables: int = typer.Option(200, help="Drop instances with more variables (after linearization)."),
    max_rows: int = typer.Option(400, help="Drop instances with more constraint rows."),
    resume: bool = typer.Option(False, "--resume", help="Continue an interrupted run into the same --out."),
    json_output: bool = typer.Option(False, "--json", help="Last line of stdout: the summary as JSON."),
) -> None:
    """Generate instances, solve them with HiGHS and keep the optimal, non-trivial, distinct ones."""
    from ..data.generators import FAMILIES
    from ..data.synth.generate import generate
    from ..data.synth.jsonl import SynthError

    names = list(FAMILIES) if family == "all" else [x.strip() for x in family.split(",") if x.strip()]
    progress, task = _progress("generate", n * len(names), json_output)
    counts = {"kept": 0, "tried": 0}

    def on_record(rec, drop):
        counts["tried"] += 1
        counts["kept"] += rec is not None
        progress.update(task, advance=rec is not None,
                        description=f"generate: kept {counts['kept']}/{counts['tried']} tried")

    try:
        with progress:
            summary = generate(names, n, complexity, seed, out, workers=workers, resume=resume, time_limit=time_limit,
                               max_variables=max_variables, max_rows=max_rows, on_record=on_record)
    except SynthError as e:
        raise _fail("synth generate", str(e))
    except KeyboardInterrupt:
        render.err().print(f"\n[yellow]interrupted[/]: instances so far are in {out}; continue with --resume")
        raise typer.Exit(EXIT_INTERRUPTED)
    _finish(summary.to_json(), json_output, out)


def _finish(summary: dict, json_output: bool, out) -> None:
    dropped = ", ".join(f"{k} {v}" for k, v in summary.get("dropped", {}).items()) or "none"
    render.err().print(f"{summary['stage']}: {summary['accepted']} accepted, {summary['rejected']} rejected "
                       f"(dropped: {render.escape(dropped)}) → {render.escape(str(out))}")
    if json_output:
        render.write_json(summary)


# --- LLM stages ----------------------------------------------------------------------

def _backend(backend: str, base_urls: list[str] | None, model: str | None, cache: str | None, timeout: float):
    """One backend per --base-url (requests spread round-robin), or the in-process vLLM engine."""
    from .llm_cmds import LLMOptions, make_backend

    urls = base_urls or [None]
    if backend == "vllm":
        urls = [None]
    made = [make_backend(LLMOptions(backend=backend, base_url=u, model=model, cache=cache, timeout=timeout))
            for u in urls]
    if len(made) == 1:
        return made[0]
    from ..data.synth.llm import RoundRobin
    return RoundRobin(made)


def _run_async(coro_factory, where: str, out, counts: dict):
    import asyncio

    from ..data.synth.jsonl import SynthError
    from ..formulate.llm import BackendError

    try:
        return asyncio.run(coro_factory())
    except SynthError as e:
        raise _fail(where, str(e))
    except KeyboardInterrupt:
        render.err().print(f"\n[yellow]interrupted[/]: {counts.get('done', 0)} records written to "
                           f"{render.escape(str(out))}; continue with the same command and --resume")
        raise typer.Exit(EXIT_INTERRUPTED)
    except BackendError as e:
        render.err().print(f"[bold red]LLM backend:[/] {render.escape(str(e))}")
        render.err().print(f"[dim]{counts.get('done', 0)} records written to {render.escape(str(out))}; "
                           f"continue later with --resume[/]")
        raise typer.Exit(EXIT_BACKEND)


from .llm_cmds import BackendName, ModeName  # noqa: E402 - light: typer only

BACKEND_HELP = "openai (any OpenAI-compatible server) or vllm (in-process, batched)."
URL_HELP = "Server URL; repeat to spread requests over several servers."
CONCURRENCY_HELP = "Requests in flight at once, over all --base-url servers (instances in progress: up to twice that)."


def backtranslate_stage(instances: Path, out: Path, backend: str, base_url: list[str] | None, model, cache, timeout,
                        refine: int, concurrency: int, temperature: float, max_tokens, seed, resume: bool,
                        limit: int | None, quiet: bool) -> dict:
    from ..data.synth.backtranslate import BTOptions, backtranslate, load_instances
    from ..data.synth.jsonl import SynthError
    from ..formulate.llm import BackendError

    try:
        recs = load_instances(instances)
    except SynthError as e:
        raise _fail("synth backtranslate", str(e))
    if not recs and not instances.exists():
        raise _fail("synth backtranslate", f"{instances}: no such file")
    recs = recs[:limit] if limit else recs
    try:
        llm = _backend(backend, base_url, model, cache, timeout)
    except BackendError as e:
        render.err().print(f"[bold red]LLM backend:[/] {render.escape(str(e))}")
        raise typer.Exit(EXIT_BACKEND)
    progress, task = _progress("backtranslate", len(recs), quiet)
    counts = {"done": 0, "accepted": 0}

    def on_record(rec):
        counts["done"] += 1
        counts["accepted"] += bool(rec["accepted"])
        progress.update(task, advance=1, description=f"backtranslate: accepted {counts['accepted'] / counts['done']:.0%}")

    async def go():
        if resume:
            from ..data.synth.jsonl import read_records
            progress.update(task, completed=len({str(r.get('id')) for r in read_records(out)}
                                                & {str(r['id']) for r in recs}))
        with progress:
            return await backtranslate(recs, llm, out, BTOptions(refine=refine, concurrency=concurrency,
                                                                 temperature=temperature, max_tokens=max_tokens,
                                                                 seed=seed),
                                       resume=resume, on_record=on_record)

    s = _run_async(go, "synth backtranslate", out, counts)
    for e in s.errors[:5]:
        render.err().print(f"[yellow]not written (retried by --resume):[/] {_plain(e)}")
    from ..data.synth.jsonl import read_records
    # the summary covers the whole output file, so a resumed run reports the finished stage
    all_recs = [r for r in read_records(out) if str(r.get("id")) in {str(x["id"]) for x in recs}]
    from collections import Counter

    from ..data.synth.backtranslate import reason_kind
    reasons = Counter(reason_kind(r.get("reason")) for r in all_recs if not r.get("accepted"))
    return {"stage": "backtranslate", "n": len(all_recs), "accepted": sum(bool(r.get("accepted")) for r in all_recs),
            "rejected": sum(not r.get("accepted") for r in all_recs), "dropped": dict(sorted(reasons.items())),
            "errors": len(s.errors), "this_run": s.n, "tokens": sum(int(r.get("bt_tokens") or 0) for r in all_recs),
            "seconds": round(s.seconds, 3)}


@synth_app.command("backtranslate", epilog=EPILOG)
def backtranslate_cmd(
    instances: Path = typer.Argument(..., help="JSONL from `nlopt synth generate`."),
    out: Path = typer.Option(..., "--out", "-o", help="JSONL of texts (appended)."),
    refine: int = typer.Option(1, "--refine", min=0, max=20, help="Critique-and-rewrite rounds."),
    concurrency: int = typer.Option(64, min=1, max=4096, help=CONCURRENCY_HELP),
    backend: BackendName = typer.Option(BackendName.openai, help=BACKEND_HELP),
    base_url: Optional[list[str]] = typer.Option(None, "--base-url", envvar="NLOPT_BASE_URL", help=URL_HELP),
    model: Optional[str] = typer.Option(None, envvar="NLOPT_MODEL", help="Model (default: first listed)."),
    cache: Optional[str] = typer.Option(None, help="Record/replay directory for LLM requests."),
    temperature: float = typer.Option(0.7, min=0.0, help="Sampling temperature of the writer."),
    max_tokens: Optional[int] = typer.Option(None, min=1, help="Token limit per reply."),
    seed: Optional[int] = typer.Option(None, help="Sampling seed sent to the server."),
    timeout: float = typer.Option(120.0, min=0.1, help="Seconds per LLM request."),
    limit: Optional[int] = typer.Option(None, min=1, help="Only the first N instances."),
    resume: bool = typer.Option(False, "--resume", help="Skip instances already in --out."),
    json_output: bool = typer.Option(False, "--json", help="Last line of stdout: the summary as JSON."),
) -> None:
    """Write a problem text for each instance (LLM), with critique/refine rounds and the number audit."""
    summary = backtranslate_stage(instances, out, backend, base_url, model, cache, timeout, refine, concurrency,
                                  temperature, max_tokens, seed, resume, limit, json_output)
    _finish(summary, json_output, out)


def default_benchmarks() -> list[Path]:
    import os

    env = os.environ.get("NLOPT_BENCHMARKS")
    if env is not None:
        return [Path(p) for p in env.split(os.pathsep) if p]
    p = Path("../shared/benchmarks")
    return [p] if p.is_dir() else []


def verify_stage(texts: Path, dataset_dir: Path, backend: str, base_url, model, cache, timeout, mode: str,
                 samples: int, max_repairs: int, concurrency: int, tolerance: float, target: str,
                 decontaminate: list[Path] | None, no_decontaminate: bool, time_limit: float, temperature,
                 max_tokens, seed, workers: int, shard_rows: int, license: str, resume: bool, quiet: bool,
                 extra_stats: dict | None = None) -> dict:
    from ..data.synth import dataset as D
    from ..data.synth.decontam import Index
    from ..data.synth.jsonl import SynthError, read_records
    from ..data.synth.verify import VerifyOptions, eligible, summarize, verify
    from ..formulate.llm import BackendError
    from ..formulate.pipeline import MODES

    if mode not in MODES:
        raise typer.BadParameter(f"unknown mode {mode!r}; use {' or '.join(MODES)}", param_hint="'--mode'")
    if target not in D.TARGETS:
        raise typer.BadParameter("use gold or forward", param_hint="'--target'")
    if samples > 1 and temperature == 0:
        raise typer.BadParameter("several samples need a temperature above 0", param_hint="'--temperature'")
    try:
        if not texts.is_file():
            raise SynthError(f"{texts}: no such file")
        recs, upstream = eligible(read_records(texts), str(texts))
        D.claim(dataset_dir)
        if not resume and D.log_path(dataset_dir).exists() and D.log_path(dataset_dir).stat().st_size:
            raise SynthError(f"{dataset_dir}: holds a dataset already; continue it with --resume or choose another")
    except SynthError as e:
        raise _fail("synth verify", str(e))
    paths = [] if no_decontaminate else (decontaminate if decontaminate else default_benchmarks())
    index = None
    if paths:
        missing = [p for p in paths if not p.exists()]
        if missing:
            raise _fail("synth verify", f"{missing[0]}: no such benchmark file or folder (--decontaminate)")
        index = Index.build(paths)
        render.err().print(f"decontamination: 13-gram index of {index.problems} benchmark problems "
                           f"({', '.join(render.escape(str(p)) for p in paths)})")
    else:
        render.err().print("[yellow]decontamination: no benchmark folder given or found; texts not checked[/]")
    try:
        llm = _backend(backend, base_url, model, cache, timeout)
    except BackendError as e:
        render.err().print(f"[bold red]LLM backend:[/] {render.escape(str(e))}")
        raise typer.Exit(EXIT_BACKEND)
    options = VerifyOptions(mode=mode, samples=samples, max_repairs=max_repairs, concurrency=concurrency,
                            tolerance=tolerance, time_limit=time_limit, temperature=temperature,
                            max_tokens=max_tokens, seed=seed, solve_workers=workers)
    progress, task = _progress("verify", len(recs), quiet)
    counts = {"done": 0, "train": 0}

    def on_record(rec):
        counts["done"] += 1
        counts["train"] += rec.get("split") == "train"
        progress.update(task, advance=1, description=f"verify: accepted {counts['train'] / counts['done']:.0%}")

    log = D.log_path(dataset_dir)

    async def go():
        if resume:
            progress.update(task, completed=len({str(r.get('id')) for r in read_records(log)}
                                                & {str(r['id']) for r in recs}))
        with progress:
            return await verify(recs, llm, log, options, resume=resume, index=index, on_record=on_record)

    t0 = time.perf_counter()
    run = _run_async(go, "synth verify", log, counts)
    for e in run.errors[:5]:
        render.err().print(f"[yellow]not written (retried by --resume):[/] {_plain(e)}")
    summary = summarize(read_records(log), {str(r["id"]) for r in recs}, upstream)
    summary.update(errors=len(run.errors), this_run=run.written, seconds=round(time.perf_counter() - t0, 3),
                   decontamination={"benchmark_problems": index.problems if index else 0,
                                    "sources": [str(p) for p in paths],
                                    "dropped": summary["dropped"].get("contaminated", 0)})
    stats = {**(extra_stats or {}), "verify": summary}
    from ..data.synth.stats import SUMMARY
    (dataset_dir / SUMMARY).write_text(json.dumps(stats, indent=1) + "\n", encoding="utf-8")
    try:
        counts_by_split = D.write_dataset(dataset_dir, target=target, license=license, shard_rows=shard_rows,
                                          extra_stats=stats)
    except SynthError as e:
        raise _fail("synth verify", str(e))
    summary["rows"] = counts_by_split
    summary["dataset"] = str(dataset_dir)
    return summary


@synth_app.command("verify", epilog=EPILOG)
def verify_cmd(
    texts: Path = typer.Argument(..., help="JSONL from `nlopt synth backtranslate` (or any records with id, text, "
                                           "objective, status, and formulation for --target gold)."),
    out: Path = typer.Option(..., "--out", "-o", help="Dataset folder (Hugging Face layout)."),
    mode: ModeName = typer.Option(ModeName.staged, help="staged (three requests) or single (one request)."),
    samples: int = typer.Option(1, "--samples", "-k", min=1, max=64, help="Forward formulations per text."),
    max_repairs: int = typer.Option(3, min=0, max=20, help="Self-correction rounds per sample."),
    concurrency: int = typer.Option(64, min=1, max=4096, help=CONCURRENCY_HELP),
    tolerance: float = typer.Option(1e-6, min=0.0, help="Accept when |Δ| / (|optimum| + 1) is below this."),
    target: str = typer.Option("gold", help="Assistant turn of train rows: gold (the instance) or forward."),
    decontaminate: Optional[list[Path]] = typer.Option(None, "--decontaminate", help="Benchmark file or folder "
                                                       "(repeatable); default NLOPT_BENCHMARKS or ../shared/benchmarks."),
    no_decontaminate: bool = typer.Option(False, "--no-decontaminate", help="Skip the 13-gram check."),
    time_limit: float = typer.Option(60.0, min=0.1, help="Solver seconds per forward formulation."),
    workers: int = typer.Option(2, min=1, max=256, help="Solver processes."),
    shard_rows: int = typer.Option(50_000, min=1, help="Rows per parquet shard."),
    license: str = typer.Option("mit", help="License declared in the dataset card."),
    backend: BackendName = typer.Option(BackendName.openai, help=BACKEND_HELP),
    base_url: Optional[list[str]] = typer.Option(None, "--base-url", envvar="NLOPT_BASE_URL", help=URL_HELP),
    model: Optional[str] = typer.Option(None, envvar="NLOPT_MODEL", help="Model (default: first listed)."),
    cache: Optional[str] = typer.Option(None, help="Record/replay directory for LLM requests."),
    temperature: Optional[float] = typer.Option(None, help="Sampling temperature (default 0, 0.7 with -k > 1)."),
    max_tokens: Optional[int] = typer.Option(None, min=1, help="Token limit per reply."),
    seed: Optional[int] = typer.Option(None, help="Sampling seed sent to the server."),
    timeout: float = typer.Option(120.0, min=0.1, help="Seconds per LLM request."),
    resume: bool = typer.Option(False, "--resume", help="Skip texts already verified in the folder."),
    json_output: bool = typer.Option(False, "--json", help="Last line of stdout: the summary as JSON."),
) -> None:
    """Formulate each text again with the pipeline, accept when the optimum matches; write the dataset."""
    summary = verify_stage(texts, out, backend, base_url, model, cache, timeout, mode, samples, max_repairs,
                           concurrency, tolerance, target, decontaminate, no_decontaminate, time_limit, temperature,
                           max_tokens, seed, workers, shard_rows, license, resume, json_output)
    _finish(summary, json_output, out)


@synth_app.command("run", epilog=EPILOG)
def run_cmd(
    work: Path = typer.Option(..., "--work", "-w", help="Work folder: instances.jsonl, texts.jsonl, dataset/."),
    family: str = typer.Option("all", "--family", "-f", help="A family name, a comma-separated list, or all."),
    n: int = typer.Option(10, "--n", "-n", min=1, max=1_000_000, help="Instances kept per family."),
    complexity: int = typer.Option(2, "--complexity", "-c", min=1, max=5, help="1 .. 5."),
    seed: int = typer.Option(0, "--seed", help="Run seed."),
    refine: int = typer.Option(1, "--refine", min=0, max=20, help="Critique-and-rewrite rounds."),
    mode: ModeName = typer.Option(ModeName.staged, help="staged or single."),
    samples: int = typer.Option(1, "--samples", "-k", min=1, max=64, help="Forward formulations per text."),
    max_repairs: int = typer.Option(3, min=0, max=20, help="Self-correction rounds per sample."),
    tolerance: float = typer.Option(1e-6, min=0.0, help="Acceptance tolerance."),
    target: str = typer.Option("gold", help="gold or forward."),
    decontaminate: Optional[list[Path]] = typer.Option(None, "--decontaminate", help="Benchmark file or folder."),
    no_decontaminate: bool = typer.Option(False, "--no-decontaminate", help="Skip the 13-gram check."),
    concurrency: int = typer.Option(64, min=1, max=4096, help=CONCURRENCY_HELP),
    workers: int = typer.Option(2, min=1, max=256, help="Generator / solver processes."),
    backend: BackendName = typer.Option(BackendName.openai, help=BACKEND_HELP),
    base_url: Optional[list[str]] = typer.Option(None, "--base-url", envvar="NLOPT_BASE_URL", help=URL_HELP),
    model: Optional[str] = typer.Option(None, envvar="NLOPT_MODEL", help="Model."),
    cache: Optional[str] = typer.Option(None, help="Record/replay directory for LLM requests."),
    temperature: Optional[float] = typer.Option(None, help="Forward sampling temperature."),
    max_tokens: Optional[int] = typer.Option(None, min=1, help="Token limit per reply."),
    timeout: float = typer.Option(120.0, min=0.1, help="Seconds per LLM request."),
    resume: bool = typer.Option(False, "--resume", help="Continue every stage where it stopped."),
    json_output: bool = typer.Option(False, "--json", help="Last line of stdout: the summary as JSON."),
) -> None:
    """generate → backtranslate → verify in a work folder; --resume continues where it stopped."""
    from ..data.generators import FAMILIES
    from ..data.synth.generate import generate
    from ..data.synth.jsonl import SynthError

    work.mkdir(parents=True, exist_ok=True)
    inst, texts, ds = work / "instances.jsonl", work / "texts.jsonl", work / "dataset"
    names = list(FAMILIES) if family == "all" else [x.strip() for x in family.split(",") if x.strip()]
    try:
        g = generate(names, n, complexity, seed, inst, workers=workers, resume=resume).to_json()
    except SynthError as e:
        raise _fail("synth run", str(e))
    render.err().print(f"generate: {g['n'] + g['already']} instances → {inst}")
    b = backtranslate_stage(inst, texts, backend, base_url, model, cache, timeout, refine, concurrency, 0.7,
                            max_tokens, None, resume, None, json_output)
    render.err().print(f"backtranslate: {b['accepted']} of {b['n']} accepted → {texts}")
    v = verify_stage(texts, ds, backend, base_url, model, cache, timeout, mode, samples, max_repairs, concurrency,
                     tolerance, target, decontaminate, no_decontaminate, 60.0, temperature, max_tokens, None, workers,
                     50_000, "mit", resume, json_output, extra_stats={"generate": g, "backtranslate": b})
    summary = {"stage": "run", "n": v["n"], "accepted": v["accepted"], "rejected": v["rejected"], "hard": v["hard"],
               "preference": v["preference"],
               "dropped": {**{f"generate:{k}": c for k, c in g["dropped"].items()},
                           **{f"backtranslate:{k}": c for k, c in b["dropped"].items()},
                           **{f"verify:{k}": c for k, c in v["dropped"].items() if k != "backtranslation_rejected"}},
               "generate": g, "backtranslate": b, "verify": v, "dataset": str(ds)}
    _finish(summary, json_output, ds)


@synth_app.command("export")
def export_cmd(
    dataset_dir: Path = typer.Argument(..., help="A dataset folder written by `nlopt synth verify`."),
    to: str = typer.Option("llamafactory", "--to", help="llamafactory: write its dataset_info.json."),
    overwrite: bool = typer.Option(False, "--overwrite", help="Replace an existing dataset_info.json."),
) -> None:
    """Describe the dataset for a fine-tuning tool (LLaMA-Factory's dataset_info.json)."""
    from ..data.synth.dataset import export_llamafactory
    from ..data.synth.jsonl import SynthError

    if to != "llamafactory":
        raise typer.BadParameter("only llamafactory is supported", param_hint="'--to'")
    try:
        path = export_llamafactory(dataset_dir, overwrite)
    except (SynthError, OSError) as e:
        raise _fail("synth export", str(e))
    render.err().print(f"wrote {render.escape(str(path))}")


@synth_app.command("stats")
def stats_cmd(
    dataset_dir: Path = typer.Argument(..., help="A dataset folder written by `nlopt synth verify`."),
    html: Optional[Path] = typer.Option(None, "--html", help="Also write a self-contained HTML report here."),
    benchmarks: Optional[list[Path]] = typer.Option(None, "--benchmarks", help="Benchmark files or folders for "
                                                    "the length comparison; default NLOPT_BENCHMARKS or ../shared/benchmarks."),
    json_output: bool = typer.Option(False, "--json", help="Print the statistics as JSON."),
    overwrite: bool = typer.Option(False, "--overwrite", help="Replace an existing --html file."),
) -> None:
    """Acceptance per family and band, text lengths beside NL4Opt and MAMO, tokens and time, drop reasons."""
    from ..data.synth.jsonl import SynthError
    from ..data.synth.stats import compute

    try:
        st = compute(dataset_dir, benchmarks if benchmarks else default_benchmarks())
    except SynthError as e:
        raise _fail("synth stats", str(e))
    if json_output:
        render.write_json(st)
    else:
        from .synth_report import terminal
        render.out().print(*terminal(st))
    if html:
        from .synth_report import write_html
        try:
            write_html(st, html, title=f"nlopt synth: {dataset_dir}", overwrite=overwrite)
        except OSError as e:
            raise _fail(str(html), str(e))
        render.err().print(f"wrote {render.escape(str(html))}")

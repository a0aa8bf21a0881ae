"""`nlopt eval`: run the pipeline over a benchmark, score it, report it.

`nlopt eval BENCHMARK ...` is short for `nlopt eval run BENCHMARK ...`.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Optional

import typer
from typer.core import TyperGroup

from ..core.size import DEFAULT_MAX_TERMS
from . import render
from .exit_codes import EXIT_BACKEND, EXIT_INTERRUPTED, EXIT_INVALID, EXIT_IO
from .llm_cmds import BackendName, LLMOptions, ModeName


class _RunByDefault(TyperGroup):
    """Treat `nlopt eval X ...` as `nlopt eval run X ...` unless X is a subcommand."""

    def parse_args(self, ctx, args):
        if args and args[0] not in self.commands and args[0] not in ("--help", "-h"):
            args = ["run", *args]
        return super().parse_args(ctx, args)


eval_app = typer.Typer(
    cls=_RunByDefault, no_args_is_help=True, rich_markup_mode="rich",
    help="Benchmark the pipeline: [bold]nlopt eval BENCHMARK[/] (or --file PATH), "
         "[bold]nlopt eval report LOG...[/], [bold]nlopt eval gold FORMULATIONS --file BENCH[/].",
)


def _load_samples(benchmark, file, question_field, answer_field, limit, ids):
    from ..eval.datasets import DatasetError, load_benchmark, load_file

    id_list = [i.strip() for i in ids.split(",") if i.strip()] if ids else None
    try:
        if file:
            return load_file(file, question_field=question_field, answer_field=answer_field,
                             benchmark=benchmark, limit=limit, ids=id_list)
        if not benchmark:
            raise DatasetError("name a BENCHMARK or give --file PATH")
        return load_benchmark(benchmark, limit=limit, ids=id_list)
    except (DatasetError, OSError, ValueError) as e:
        where = str(file or benchmark or "eval")
        message = str(e).removeprefix(f"{where}: ")  # the path is said once
        render.print_input_error(where, message)
        raise typer.Exit(EXIT_INVALID)


def _server_of(llm) -> str | None:
    """The server URL the backend talks to (through cache / batching wrappers)."""
    try:
        d = llm.describe()
    except Exception:
        return None
    while isinstance(d, dict):
        if d.get("base_url"):
            return str(d["base_url"])
        d = d.get("inner")
    return None


_EVAL_SOLVERS = ("highs", "highs-pyomo", "ortools")


@eval_app.command("run", epilog="Exit codes: 0 finished; 2 bad input, or --out exists / is another run's log / "
                                 "is locked by another run; 6 LLM backend unreachable; 74 the log or a trace could "
                                 "not be written (disk full; the log stays valid, rerun with --resume); "
                                 "130 interrupted (rerun with --resume).")
def run_cmd(
    benchmark: Optional[str] = typer.Argument(None, help="nl4opt, mamo-easy, mamo-complex, nlp4lp, complexor, "
                                                         "industryor, optibench, optmath-bench, icml-task3."),
    file: Optional[str] = typer.Option(None, "--file", help="Local JSON / JSONL / parquet instead of the hub."),
    question_field: Optional[str] = typer.Option(None, help="Field holding the problem text."),
    answer_field: Optional[str] = typer.Option(None, help="Field holding the ground-truth objective."),
    out: Path = typer.Option(Path("nlopt-eval.jsonl"), "--out", "-o",
                             help="JSONL log, appended per problem; an existing log needs --resume or --overwrite."),
    resume: bool = typer.Option(False, help="Continue --out: skip the problems already in it (same run only)."),
    overwrite: bool = typer.Option(False, "--overwrite", help="Replace an existing --out (and traces in --trace)."),
    force: bool = typer.Option(False, "--force", help="With --resume: continue a log whose header names another "
                                                      "benchmark version, model, backend, prompts or scoring."),
    json_output: bool = typer.Option(False, "--json", help="Last line of stdout: the summary as JSON."),
    concurrency: int = typer.Option(32, min=1, help="Requests in flight at once (solving goes on outside the limit)."),
    limit: Optional[int] = typer.Option(None, min=1, help="Only the first N problems."),
    ids: Optional[str] = typer.Option(None, help="Comma-separated problem ids (the dataset's or stable ids)."),
    backend: BackendName = typer.Option(BackendName.openai, help="openai (any OpenAI-compatible server) or vllm (in-process)."),
    base_url: Optional[str] = typer.Option(None, envvar="NLOPT_BASE_URL", help="Server URL."),
    model: Optional[str] = typer.Option(None, envvar="NLOPT_MODEL", help="Model (default: first listed)."),
    cache: Optional[str] = typer.Option(None, help="Record/replay directory for LLM requests."),
    mode: ModeName = typer.Option(ModeName.staged, help="staged (three requests) or single (one request)."),
    samples: int = typer.Option(1, min=1, help="Formulations drawn per problem (majority vote)."),
    max_repairs: int = typer.Option(3, min=0, help="Self-correction rounds per sample."),
    temperature: Optional[float] = typer.Option(None, help="Sampling temperature (default 0, 0.7 with --samples>1)."),
    max_tokens: Optional[int] = typer.Option(None, help="Token limit per reply."),
    seed: Optional[int] = typer.Option(None, help="Sampling seed."),
    timeout: float = typer.Option(120.0, help="Seconds per LLM request."),
    rel_tol: float = typer.Option(1e-4, help="Relative tolerance for a correct objective."),
    solver: str = typer.Option("highs", "--solver", "-s", help="highs, highs-pyomo or ortools (as nlopt solve)."),
    time_limit: float = typer.Option(60.0, "--time-limit", "-t", min=0.1,
                                     help="Time limit per formulation (building and solving), in seconds."),
    mip_gap: Optional[float] = typer.Option(None, "--mip-gap", min=0, help="Relative MIP gap at which to stop."),
    threads: Optional[int] = typer.Option(None, "--threads", min=1, help="Solver threads per solve."),
    trace: Optional[Path] = typer.Option(None, "--trace", metavar="DIR", file_okay=False,
                                         help="Write one trace per problem (prompts, replies, repairs) to "
                                              "DIR/<problem_id>.json."),
    max_terms: int = typer.Option(DEFAULT_MAX_TERMS, "--max-terms", min=1, metavar="N",
                                  help="Refuse formulations that expand to more than N terms."),
    engine_arg: Optional[list[str]] = typer.Option(None, "--engine-arg", metavar="KEY=VALUE",
                                                   help="In-process vLLM engine setting (see nlopt solve --help)."),
    engine_config: Optional[str] = typer.Option(None, "--engine-config", metavar="FILE.json",
                                                help="In-process vLLM engine settings as a JSON object."),
) -> None:
    """Run the pipeline over a benchmark; log each problem as it finishes; print SA / ER / AST."""
    if samples > 1 and temperature == 0:
        raise typer.BadParameter("several samples need a temperature above 0", param_hint="'--temperature'")
    if solver not in _EVAL_SOLVERS:
        raise typer.BadParameter(f"unknown solver {solver!r}; use {', '.join(_EVAL_SOLVERS)}", param_hint="'--solver'")
    if resume and overwrite:
        raise typer.BadParameter("--resume continues the log, --overwrite replaces it: give one",
                                 param_hint="'--overwrite'")
    if force and not resume:
        raise typer.BadParameter("--force only applies with --resume", param_hint="'--force'")
    import asyncio

    from ..eval.log import LogError, LogWriteError, check_log_target, open_log

    try:
        check_log_target(out, resume=resume, overwrite=overwrite)  # before loading or asking anything
    except LogError as e:
        render.print_input_error(e.path, e.reason)
        raise typer.Exit(EXIT_INVALID)
    from ..eval.runner import EvalOptions, check_trace_dir, provenance, run_eval
    from ..eval.scoring import summarize
    from ..eval.report import read_log, render_terminal
    from ..formulate.llm import BackendError
    from .llm_cmds import make_backend

    loaded = _load_samples(benchmark, file, question_field, answer_field, limit, ids)
    err = render.err()
    err.print(render.escape(loaded.summary_line()))
    for ex in loaded.excluded[:10]:
        err.print(f"  [yellow]excluded[/] {render.escape(str(ex.id))}: {render.escape(ex.reason)}")
    if resume and not out.exists():
        err.print(f"[dim]{render.escape(str(out))} does not exist yet; starting a new log[/]")
    backend, mode = backend.value, mode.value
    o = LLMOptions(backend=backend, base_url=base_url, model=model, cache=cache, mode=mode, samples=samples,
                   max_repairs=max_repairs, temperature=temperature, max_tokens=max_tokens, seed=seed,
                   timeout=timeout, engine_arg=engine_arg, engine_config=engine_config)
    options = EvalOptions(mode=mode, samples=samples, max_repairs=max_repairs, concurrency=concurrency, seed=seed,
                          temperature=temperature, max_tokens=max_tokens, rel_tol=rel_tol, time_limit=time_limit,
                          solver=solver, mip_gap=mip_gap, threads=threads, max_terms=max_terms)
    try:
        llm = make_backend(o)
        id_list = [i.strip() for i in ids.split(",") if i.strip()] if ids else None
        header = provenance(loaded, options, backend=backend, model=llm.model, server=_server_of(llm) or base_url,
                            limit=limit, ids=id_list)
    except BackendError as e:
        err.print(f"[bold red]LLM backend:[/] {render.escape(str(e))}")
        raise typer.Exit(EXIT_BACKEND)
    try:
        check_trace_dir(trace, loaded.samples, resume or overwrite)
        log = open_log(out, header, resume=resume, overwrite=overwrite, force=force)
    except LogError as e:
        render.print_input_error(e.path, e.reason)
        raise typer.Exit(EXIT_INVALID)
    except LogWriteError as e:
        err.print(f"[bold red]Error:[/] {render.escape(str(e))}")
        raise typer.Exit(EXIT_IO)

    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from .llm_cmds import attach_token_counter
    from .progress import RequestCounter

    counts = {"done": 0, "correct": 0}
    # The bar counts finished problems; the requests column moves while they are worked on.
    progress = Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                        TextColumn("[dim]{task.fields[requests]}"),
                        console=err, transient=False, disable=json_output and not err.is_terminal)
    task = progress.add_task("eval", total=len(loaded.samples), requests="")
    llm = RequestCounter(llm, on_change=lambda: progress.update(task, requests=llm.status()))
    attach_token_counter(llm.inner, llm.on_tokens)

    def on_result(rec: dict) -> None:
        counts["done"] += 1
        counts["correct"] += bool(rec.get("correct"))
        progress.update(task, advance=1, description=f"SA {counts['correct'] / counts['done']:.1%}")

    t0 = time.perf_counter()
    try:
        with progress:
            progress.update(task, completed=len(log.done & {s.problem_id for s in loaded.samples}))
            asyncio.run(run_eval(loaded.samples, llm, log, options, header, resume=resume, on_result=on_result,
                                 overwrite=overwrite, trace_dir=trace))
    except KeyboardInterrupt:
        err.print(f"\n[yellow]interrupted[/]: {counts['done']} problems written to {render.escape(str(out))}; "
                  f"continue with the same command and --resume")
        raise typer.Exit(EXIT_INTERRUPTED)
    except BackendError as e:
        err.print(f"[bold red]LLM backend:[/] {render.escape(str(e))}")
        err.print(f"[dim]{counts['done']} problems written to {render.escape(str(out))}; continue later with --resume[/]")
        raise typer.Exit(EXIT_BACKEND)
    except LogWriteError as e:
        err.print(f"[bold red]Error:[/] {render.escape(str(e))}")
        raise typer.Exit(EXIT_IO)
    _, records = read_log(out)
    wanted = {s.problem_id for s in loaded.samples}
    records = [r for r in records if str(r.get("problem_id")) in wanted]
    summary = summarize(records, rel_tol=rel_tol)
    err.print(f"[dim]{len(records)} problems in {render.escape(str(out))}; {time.perf_counter() - t0:.1f} s this run[/]")
    if json_output:
        render.write_json({**summary.to_json(), "log": str(out), "excluded": len(loaded.excluded)})
    else:
        render.out().print(render_terminal({str(out): summary}))


@eval_app.command("report", epilog="Exit codes: 0 reported; 2 a log is missing.")
def report_cmd(
    logs: list[Path] = typer.Argument(..., help="One or more eval logs (JSONL); with two or more, the first is "
                                                "compared with each other one on the problems both contain."),
    html: Optional[Path] = typer.Option(None, "--html", help="Also write a self-contained HTML report here."),
    json_output: bool = typer.Option(False, "--json", help="Print the figures as JSON: per log and benchmark n, sa, "
                                                           "sa_ci, sa_5pct, er; with two logs `paired`."),
    max_problems: int = typer.Option(2000, min=0, help="Problem details in the HTML (failures first)."),
    traces: list[Path] = typer.Option([], "--traces", help="The `eval run --trace` directory of each log, in the "
                                                            "order of the logs: every request in the HTML detail."),
    overwrite: bool = typer.Option(False, "--overwrite", help="Replace an existing --html file."),
) -> None:
    """Accuracy per benchmark with n and 95 % intervals under both conventions, next to the published figures;
    paired comparison of logs on their common problems; failures; templates."""
    from ..eval.report import load_logs, render_html, render_terminal, report_json

    missing = [str(p) for p in logs if not p.is_file()]
    if missing:
        render.print_input_error(missing[0], "no such log file")
        raise typer.Exit(EXIT_INVALID)
    problems = [(str(d), "not a directory") for d in traces if not d.is_dir()]
    if len(traces) > len(logs):
        problems.append(("--traces", f"{len(traces)} directories for {len(logs)} log(s)"))
    if problems:
        render.print_input_error(*problems[0])
        raise typer.Exit(EXIT_INVALID)
    data = load_logs([str(p) for p in logs], traces)
    if json_output:
        render.write_json(report_json(data))
    else:
        render.out().print(render_terminal(data))
    if html:
        from ..core.files import check_output_target, write_new_output

        try:
            check_output_target(html, overwrite)
        except OSError as e:
            render.print_input_error(str(html), f"cannot write: {e.strerror or e}")
            raise typer.Exit(EXIT_INVALID)
        try:
            write_new_output(html, render_html(data, max_problems=max_problems), overwrite)
        except OSError as e:
            render.print_input_error(str(html), f"cannot write: {e.strerror or e}")
            raise typer.Exit(EXIT_IO)
        render.err().print(f"wrote {render.escape(str(html))}")


@eval_app.command("gold", epilog="Exit codes: 0 scored; 2 bad input.")
def gold_cmd(
    formulations: Path = typer.Argument(..., help="JSONL of formulations whose `problem` field holds the text."),
    file: Path = typer.Option(..., "--file", help="Benchmark file with the answers (JSON / JSONL / parquet)."),
    question_field: Optional[str] = typer.Option(None, help="Field holding the problem text."),
    answer_field: Optional[str] = typer.Option(None, help="Field holding the ground-truth objective."),
    out: Optional[Path] = typer.Option(None, "--out", "-o", help="Also write a JSONL log (readable by report)."),
    solver: str = typer.Option("highs", help="highs or ortools."),
    json_output: bool = typer.Option(False, "--json", help="Last line of stdout: the summary as JSON."),
    overwrite: bool = typer.Option(False, "--overwrite", help="Replace an existing --out log."),
    max_terms: int = typer.Option(DEFAULT_MAX_TERMS, "--max-terms", min=1, metavar="N",
                                  help="Refuse formulations that expand to more than N terms."),
) -> None:
    """Score formulations made elsewhere (e.g. the NL4Opt gold import) against a benchmark's answers.

    Formulations are matched to benchmark problems on their problem text, so this measures
    the solve path alone, with no LLM.
    """
    from ..eval.gold import gold_records, write_log
    from ..eval.report import render_terminal

    if out:
        from ..core.files import check_output_target

        try:
            check_output_target(out, overwrite)  # before the work, not after
        except OSError as e:
            render.print_input_error(str(out), f"cannot write: {e.strerror or e}")
            raise typer.Exit(EXIT_INVALID)
    loaded = _load_samples(None, str(file), question_field, answer_field, None, None)
    try:
        lines = formulations.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as e:
        render.print_input_error(str(formulations), f"cannot read: {e}")
        raise typer.Exit(EXIT_INVALID)
    run = gold_records(lines, loaded, solver=solver, source=str(formulations), max_terms=max_terms)
    for where, message in run.errors:
        render.print_input_error(where, message)
    if out:
        try:
            write_log(out, run, loaded.benchmark, str(formulations), overwrite=overwrite)
        except OSError as e:
            render.print_input_error(str(out), f"cannot write: {e.strerror or e}")
            from ..core.files import is_disk_full

            raise typer.Exit(EXIT_IO if is_disk_full(e) else EXIT_INVALID)
    summary = run.summary()
    render.err().print(f"{len(run.records)} formulations matched {loaded.benchmark} problems; "
                       f"{run.unmatched} unmatched")
    if json_output:
        render.write_json({**summary.to_json(), "matched": len(run.records), "unmatched": run.unmatched})
    else:
        render.out().print(render_terminal({str(formulations): summary}))

"""`nlopt synth`: verified training data (generate → backtranslate → verify → dataset).

Heavy modules (the generators, solvers, the pipeline, datasets) are imported inside the
commands so that `nlopt --help` stays fast.
"""

from __future__ import annotations

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

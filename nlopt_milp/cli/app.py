"""The `nlopt` command line.

    nlopt solve --formulation model.json          # solve one formulation, rich output
    nlopt solve --formulation batch.jsonl --json  # one JSON object per formulation
    cat model.json | nlopt solve --formulation -  # stdin: a JSON object or JSON lines
    nlopt check model.json                        # validate only
    nlopt emit model.json --to lp -o model.lp     # export
    nlopt schema                                  # the JSON Schema of the format
    nlopt data import-nl4opt test.jsonl -o nl4opt.jsonl

Heavy modules (pyomo, highspy, ortools, datasets, httpx, ...) are imported inside the
command functions only, so `nlopt --help` stays fast; a test guards this.
"""

# No `from __future__ import annotations` here: typer reads every command's annotations at each
# start, and as strings it would compile and evaluate them, twice per command.
import enum
import gc
import itertools
import json
import os
import sys
from pathlib import Path
from typing import Annotated, Optional

import typer
from typer.core import TyperGroup

from .. import __version__
from . import render
from . import llm_cmds as L
from .exit_codes import EXIT_CODES_HELP, EXIT_INTERRUPTED, EXIT_INVALID, EXIT_IO, EXIT_OK, EXIT_SOLVER
from ..core.size import DEFAULT_MAX_TERMS
from ..core.text import safe_text
from .inputs import InputError, Record, iter_records

# Command groups imported (and their commands built) only when named, or listed by --help:
# `nlopt solve` does not pay for them. name -> (module, its typer.Typer).
LAZY_GROUPS = {"eval": (".eval_cmd", "eval_app"), "synth": (".synth_cmd", "synth_app")}


class _Commands(dict):
    """The root's name -> command mapping; each of LAZY_GROUPS is built on its first lookup
    (its name is there from the start: the listing keeps its order, "Did you mean 'eval'?" works)."""

    def __getitem__(self, name):
        cmd = super().__getitem__(name)
        if cmd is None:
            import importlib

            module, attr = LAZY_GROUPS[name]
            cmd = typer.main.get_group(getattr(importlib.import_module(module, __package__), attr))
            cmd.name = name
            self[name] = cmd
        return cmd

    def get(self, name, default=None):
        return self[name] if name in self else default

    def values(self):
        return [self[name] for name in self]

    def items(self):
        return [(name, self[name]) for name in self]


class _RootGroup(TyperGroup):
    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self.commands = _Commands(self.commands, **dict.fromkeys(LAZY_GROUPS))


app = typer.Typer(
    name="nlopt",
    cls=_RootGroup,
    help=(
        "Turn optimization problems into MILP models, solve them with HiGHS or OR-Tools, "
        "and explain the answer.\n\n"
        "Formulations are JSON files in the five-element format (sets, parameters, "
        "variables, objective, constraints); see [bold]nlopt schema[/bold]."
    ),
    epilog=EXIT_CODES_HELP,
    no_args_is_help=True,
    add_completion=False,
    rich_markup_mode="rich",
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)

data_app = typer.Typer(
    help="Datasets: convert public benchmarks into formulation JSON lines.",
    no_args_is_help=True,
    rich_markup_mode="rich",
)
app.add_typer(data_app, name="data")


class SolverName(str, enum.Enum):
    highs = "highs"
    highs_pyomo = "highs-pyomo"
    ortools = "ortools"


class EmitFormat(str, enum.Enum):
    pyomo = "pyomo"
    lp = "lp"
    mps = "mps"
    latex = "latex"
    markdown = "markdown"


def _disk_full(e: OSError) -> bool:
    from ..core.files import is_disk_full

    return is_disk_full(e)


def _version_callback(value: bool) -> None:
    if value:
        typer.echo(f"nlopt {__version__}")
        raise typer.Exit(0)


@app.callback()
def _root(
    version: Annotated[
        Optional[bool],
        typer.Option("--version", help="Print the version and exit.", callback=_version_callback, is_eager=True),
    ] = None,
    max_input_bytes: Annotated[
        Optional[str],
        typer.Option("--max-input-bytes", metavar="SIZE", envvar="NLOPT_MAX_INPUT_BYTES", show_default=False,
                     help="Largest input document, and largest line of JSON lines, any command reads "
                          r"(bytes, or with K/M/G) \[default: 16M].")
    ] = None,
    data_dir: Annotated[
        Optional[Path],
        typer.Option("--data-dir", envvar="NLOPT_DATA_DIR", file_okay=False, show_default=False,
                     help=r"The shared data directory (holding benchmarks/ and nl4opt/) \[default: ../shared "
                          "beside the checkout, else ./shared or ../shared]."),
    ] = None,
) -> None:
    """Turn optimization problems into MILP models, solve them with HiGHS or OR-Tools, and explain the answer."""
    if max_input_bytes is not None:
        from ..core import io as cio

        try:
            cio.set_limit(cio.parse_size(max_input_bytes))
        except ValueError as e:
            raise typer.BadParameter(str(e), param_hint="'--max-input-bytes'") from None
    if data_dir is not None:  # read where the data is needed (eval's registry), after this
        os.environ["NLOPT_DATA_DIR"] = str(data_dir)


# --- helpers -------------------------------------------------------------------------

# Every command names its output file -o/--out; --output, the older name of some, still works (unlisted).
OutputAlias = Annotated[Optional[Path], typer.Option("--output", hidden=True, dir_okay=False)]


def _fail(source: str, message: str, json_output: bool = False, kind: str = "solve") -> None:
    """Report a whole-input error (stderr, and a JSON object with --json) and exit 2."""
    render.print_input_error(source, message)
    if json_output:
        issue = [{"path": "", "message": message}]
        if kind == "check":
            render.write_json({"source": source, "valid": False, "issues": issue})
        else:
            render.write_json({"name": "", "source": source, "status": "invalid", "objective": None,
                               "values": {}, "message": message, "issues": issue})
    raise typer.Exit(EXIT_INVALID)


def _records(path: str, json_output: bool, kind: str = "solve", max_terms: int | None = None):
    """The records of `path`, streamed; a whole-input error (even after some records) exits 2."""
    try:
        yield from iter_records(path, max_terms)
    except InputError as e:
        _fail(e.source, e.message, json_output, kind)


def _issues_json(issues) -> list[dict]:
    return [{"path": i.path, "message": i.message} for i in issues]


def _error_result(solver: str, message: str):
    """A SolveResult with status `error` (exit 5) for when the solve layer itself raised."""
    from ..solve.result import SolveResult

    return SolveResult("error", solver=solver, message=message)


# --- solve ---------------------------------------------------------------------------


def _solve_one(rec: Record, *, solver: str, opts: dict, check: bool, json_output: bool, show_header: bool) -> int:
    if not rec.valid:
        render.print_issues(rec.source, rec.issues)
        if json_output:
            render.write_json({
                "name": rec.name, "source": rec.source, "status": "invalid", "objective": None, "values": {},
                "message": f"invalid formulation ({len(rec.issues)} problem{'s' if len(rec.issues) != 1 else ''})",
                "issues": _issues_json(rec.issues),
            })
        return EXIT_INVALID

    f = rec.formulation
    agreement = None
    try:
        if check:
            agreement, result = _check(f, solver, opts)
        else:
            from ..solve import solve as solve_formulation

            result = solve_formulation(f, solver=solver, **opts)
    except Exception as e:  # never a traceback: report as a solver failure
        if render.debug():
            raise
        result = _error_result(solver, f"{type(e).__name__}: {e}")

    code = result.exit_code
    if agreement is not None and not agreement.agree:
        code = max(code, EXIT_SOLVER)

    if json_output:
        d = {"name": f.name, "source": rec.source, **result.to_json()}
        if agreement is not None:
            d["check"] = render.check_json(agreement)
        d["exit_code"] = code
        render.write_json(d)
        return code

    con = render.out()
    if show_header:
        con.rule(f"[bold]{render.escape(rec.source)}[/]", align="left")
    try:
        con.print(render.summary_renderable(f, render.model_summary(f), rec.source))
    except Exception as e:  # the summary is a nicety; never fail on it
        if render.debug():
            raise
        con.print(f"[dim](model summary unavailable: {render.escape(str(e))})[/]")
    con.print(render.status_renderable(result, agreement))
    if agreement is not None:
        render.print_check(con, agreement)
    if result.has_solution:
        con.print(render.values_renderable(result.values, f))
        if result.status == "optimal" and result.duals:
            lines = render.binding_lines(f, result)
            if lines is not None:
                con.print(render.binding_renderable(lines))
    if result.status == "infeasible":
        con.print(render.iis_renderable(result.iis or []))
    return code


def _is_json_file(path: str) -> bool:
    """Whether a PROBLEM file holds JSON (a formulation, or JSON lines of them) rather than plain language:
    its first non-blank character is '{'. Problem texts are prose; stdin is never guessed."""
    if path == "-":
        return False
    try:
        with open(path, "rb") as fh:
            head = fh.read(4096)
    except OSError:
        return False  # the text reader reports it
    return head.lstrip(b"\xef\xbb\xbf \t\r\n").startswith(b"{")


def _check(f, solver: str, opts: dict):
    """(Agreement, the result of `solver`) of a --check: HiGHS and OR-Tools, with the IIS of an
    infeasible model (`check_agreement` leaves it out unless asked)."""
    from ..solve import check_agreement

    agreement = check_agreement(f, iis=True, **opts)
    # highs-pyomo is not one of the compared backends: show HiGHS's answer, as before
    result = agreement.results.get(solver) or next(iter(agreement.results.values()))
    return agreement, result


@app.command(epilog=EXIT_CODES_HELP)
def solve(
    problem: Annotated[
        Optional[str],
        typer.Argument(
            metavar="PROBLEM",
            help="A plain-language problem text file (solved through the LLM pipeline), or a formulation "
                 "(.json / .jsonl, solved as with --formulation). Leave out when using --formulation.",
            show_default=False,
        ),
    ] = None,
    formulation: Annotated[
        Optional[str],
        typer.Option(
            "--formulation", "-f", metavar="F",
            help="Formulation to solve: a .json file (one formulation), a .jsonl file (one per line, "
                 "solved in order), or - for stdin (a JSON object or JSON lines, detected).",
            show_default=False,
        ),
    ] = None,
    solver: Annotated[
        SolverName, typer.Option("--solver", "-s", help="Solver backend: highs (HiGHS directly via highspy), "
                                                "highs-pyomo (HiGHS through Pyomo's interface) or ortools.")
    ] = SolverName.highs,
    time_limit: Annotated[
        Optional[float], typer.Option("--time-limit", "-t", min=0, metavar="SECONDS",
                                      help="Stop after this many seconds per formulation: building the "
                                           "model and solving it.")
    ] = None,
    mip_gap: Annotated[
        Optional[float], typer.Option("--mip-gap", min=0, metavar="GAP",
                                      help="Relative MIP gap at which to stop, e.g. 0.01 for 1%.")
    ] = None,
    threads: Annotated[
        Optional[int], typer.Option("--threads", min=1, metavar="N", help="Number of solver threads.")
    ] = None,
    check: Annotated[
        bool, typer.Option("--check", help="Solve with both HiGHS and OR-Tools and compare status and objective; "
                                           "a disagreement is reported and exits with code 5.")
    ] = False,
    json_output: Annotated[
        bool, typer.Option("--json", help="Print one JSON object per formulation (JSON lines) instead of tables.")
    ] = False,
    max_terms: L.MaxTermsOpt = DEFAULT_MAX_TERMS,
    log: Annotated[bool, typer.Option("--log", help="Show the solver's own log (on stderr).")] = False,
    backend: L.BackendOpt = L.BackendName.openai,
    base_url: L.BaseUrlOpt = None,
    model: L.ModelOpt = None,
    cache: L.CacheOpt = None,
    mode: L.ModeOpt = L.ModeName.staged,
    samples: L.SamplesOpt = 1,
    max_repairs: L.MaxRepairsOpt = 3,
    temperature: L.TemperatureOpt = None,
    max_tokens: L.MaxTokensOpt = None,
    seed: L.SeedOpt = None,
    timeout: L.TimeoutOpt = 120.0,
    deadline: L.DeadlineOpt = None,
    trace: L.TraceOpt = None,
    save_formulation: L.SaveFormulationOpt = None,
    emit_pyomo: L.EmitPyomoOpt = None,
    overwrite: L.OverwriteOpt = False,
    engine_arg: L.EngineArgOpt = None,
    engine_config: L.EngineConfigOpt = None,
) -> None:
    """Solve a plain-language problem (through the LLM) or a formulation, and explain the answer.

    Prints a model summary, the status, the nonzero variable values, for linear programs
    the binding constraints with their shadow prices, and for infeasible models the
    conflicting constraints with the sentences they come from.
    """
    if problem is not None and formulation is not None:
        render.print_input_error("usage", "give either a PROBLEM text file or --formulation F, not both")
        raise typer.Exit(EXIT_INVALID)
    if problem is None and formulation is None:
        render.print_input_error("usage", "give a PROBLEM text file or --formulation F (see nlopt solve --help)")
        raise typer.Exit(EXIT_INVALID)
    opts = {"time_limit": time_limit, "mip_gap": mip_gap, "threads": threads, "max_terms": max_terms, "log": log}
    if problem is not None and _is_json_file(problem):
        problem, formulation = None, problem  # `nlopt solve model.json`: a formulation, not a text for the LLM
    if problem is not None:
        o = L.LLMOptions(backend=backend, base_url=base_url, model=model, cache=cache, mode=mode, samples=samples,
                         max_repairs=max_repairs, temperature=temperature, max_tokens=max_tokens, seed=seed,
                         timeout=timeout, deadline=deadline, engine_arg=engine_arg, engine_config=engine_config)
        raise typer.Exit(L.run_solve_text(problem, o, solver=solver.value, time_limit=time_limit,
                                          mip_gap=mip_gap, threads=threads, check=check, log=log,
                                          json_output=json_output, trace=trace,
                                          save_formulation=save_formulation, emit_pyomo=emit_pyomo,
                                          overwrite=overwrite, max_terms=max_terms))
    records = _records(formulation, json_output, max_terms=max_terms)
    first = list(itertools.islice(records, 2))  # a header per formulation when there are several
    codes = [
        _solve_one(rec, solver=solver.value, opts=opts, check=check, json_output=json_output,
                   show_header=len(first) > 1)
        for rec in itertools.chain(first, records)
    ]
    raise typer.Exit(max(codes, default=EXIT_OK))


# --- check ---------------------------------------------------------------------------


@app.command("check", epilog="[bold]Exit codes[/bold]: 0 every formulation is valid; 2 otherwise.")
def check_cmd(
    formulation: Annotated[
        str, typer.Argument(metavar="F", help="A .json file, a .jsonl file (one per line), or - for stdin.")
    ],
    json_output: Annotated[
        bool, typer.Option("--json", help='Print {"valid": bool, "issues": [{"path", "message"}]} per formulation.')
    ] = False,
    max_terms: L.MaxTermsOpt = DEFAULT_MAX_TERMS,
) -> None:
    """Validate formulations without solving them.

    Prints OK and a model summary, or every problem found as `path: message`.
    """
    records = _records(formulation, json_output, kind="check", max_terms=max_terms)
    code = EXIT_OK
    con = render.out()
    for rec in records:
        if json_output:
            render.write_json({"name": rec.name, "source": rec.source, "valid": rec.valid,
                               "issues": _issues_json(rec.issues)})
        elif rec.valid:
            con.print(f"[bold green]OK[/] {render.escape(rec.source)}")
            try:
                con.print(render.summary_renderable(rec.formulation, render.model_summary(rec.formulation),
                                                    rec.source))
            except Exception as e:
                con.print(f"[dim](model summary unavailable: {render.escape(str(e))})[/]")
        else:
            render.print_issues(rec.source, rec.issues)
        if not rec.valid:
            code = EXIT_INVALID
    raise typer.Exit(code)


# --- emit ----------------------------------------------------------------------------


@app.command(epilog="[bold]Exit codes[/bold]: 0 written; 2 invalid input; 5 export failed.")
def emit(
    formulation: Annotated[
        str, typer.Argument(metavar="F", help="A .json file, a one-line .jsonl file, or - for stdin.")
    ],
    to: Annotated[
        EmitFormat, typer.Option("--to", help="Output format: a Pyomo script, LP or MPS file, LaTeX, or Markdown.")
    ],
    output: Annotated[
        Optional[Path], typer.Option("--out", "-o", metavar="OUT", help="Write here instead of stdout.",
                                     dir_okay=False)
    ] = None,
    overwrite: L.OverwriteOpt = False,
    output_alias: OutputAlias = None,
) -> None:
    """Export a formulation as a Pyomo model, an LP or MPS file, LaTeX, or Markdown."""
    output = output or output_alias
    records = list(itertools.islice(_records(formulation, False), 2))
    if len(records) != 1:
        render.print_input_error(records[0].source.rsplit(":", 1)[0],
                                 "holds several formulations; emit exports one at a time")
        raise typer.Exit(EXIT_INVALID)
    rec = records[0]
    if not rec.valid:
        render.print_issues(rec.source, rec.issues)
        raise typer.Exit(EXIT_INVALID)
    try:
        from ..solve.export import emit as emit_formulation

        text = emit_formulation(rec.formulation, to.value)
    except Exception as e:
        if render.debug():
            raise
        render.print_input_error(rec.source, f"export to {to.value} failed: {type(e).__name__}: {e}")
        raise typer.Exit(EXIT_SOLVER)
    # names, sentences and elements are data: no control character (nor lone surrogate) leaves
    data = text if isinstance(text, bytes) else safe_text(str(text)).encode("utf-8")
    if output is None:
        sys.stdout.buffer.write(data) if hasattr(sys.stdout, "buffer") else sys.stdout.write(data.decode("utf-8"))
        if not data.endswith(b"\n"):
            sys.stdout.write("\n")
        sys.stdout.flush()
        return
    try:
        from ..core.files import write_new_output

        write_new_output(output, data, overwrite)
    except OSError as e:
        render.print_input_error(str(output), f"cannot write: {e.strerror or e}")
        raise typer.Exit(EXIT_IO if _disk_full(e) else EXIT_INVALID)
    render.err().print(f"Wrote {to.value} to {render.escape(str(output))}")


# --- schema --------------------------------------------------------------------------


@app.command()
def schema(
    output: Annotated[
        Optional[Path], typer.Option("--out", "-o", metavar="OUT", help="Write here instead of stdout.",
                                     dir_okay=False)
    ] = None,
    overwrite: L.OverwriteOpt = False,
    output_alias: OutputAlias = None,
) -> None:
    """Print the JSON Schema of the formulation format (pretty JSON)."""
    output = output or output_alias
    from ..core.formulation import json_schema

    text = json.dumps(json_schema(), indent=2, ensure_ascii=False) + "\n"
    if output is None:
        sys.stdout.write(text)
        return
    try:
        from ..core.files import write_new_output

        write_new_output(output, text, overwrite)
    except OSError as e:
        render.print_input_error(str(output), f"cannot write: {e.strerror or e}")
        raise typer.Exit(EXIT_IO if _disk_full(e) else EXIT_INVALID)


# --- data ----------------------------------------------------------------------------


@data_app.command("import-nl4opt", epilog="[bold]Exit codes[/bold]: 0 written (even if some records failed); "
                                          "2 unreadable input, or no record could be converted.")
def import_nl4opt_cmd(
    source: Annotated[Path, typer.Argument(metavar="IN.jsonl", help="An NL4Opt split in its original JSON lines form.",
                                           show_default=False)],
    output: Annotated[Optional[Path], typer.Option("--out", "-o", metavar="OUT.jsonl", show_default=False,
                                                   help="Where to write the formulations (JSON lines); required.",
                                                   dir_okay=False)] = None,
    integer: Annotated[bool, typer.Option("--integer", help="Declare every variable integer instead of continuous.")]
    = False,
    overwrite: L.OverwriteOpt = False,
    output_alias: OutputAlias = None,
) -> None:
    """Convert an NL4Opt split into formulation JSON lines.

    Writes one line per input record, {id, document, formulation, error, notes}, in input
    order; records that cannot be converted keep their error and a null formulation.
    `nlopt solve --formulation OUT.jsonl` and `nlopt check OUT.jsonl` read this file directly.
    """
    output = output or output_alias
    if output is None:
        raise typer.BadParameter("give the output file with --out OUT.jsonl", param_hint="'--out'")
    from ..core.io import InputFileError, path_problem

    problem = path_problem(source)
    if problem:
        render.print_input_error(str(source), problem)
        raise typer.Exit(EXIT_INVALID)
    from ..data.nl4opt import import_nl4opt, write_jsonl

    try:
        problems = list(import_nl4opt(source, integer=integer))
    except InputFileError as e:
        render.print_input_error(e.source, e.message)
        raise typer.Exit(EXIT_INVALID)
    except (OSError, UnicodeDecodeError, ValueError) as e:
        if render.debug():
            raise
        msg = "not UTF-8 text" if isinstance(e, UnicodeDecodeError) else f"cannot import: {e}"
        render.print_input_error(str(source), msg)
        raise typer.Exit(EXIT_INVALID)
    try:
        write_jsonl(problems, output, overwrite=overwrite)
    except OSError as e:
        render.print_input_error(str(output), f"cannot write: {e.strerror or e}")
        raise typer.Exit(EXIT_IO if _disk_full(e) else EXIT_INVALID)
    failed = [p for p in problems if not getattr(p, "ok", getattr(p, "formulation", None) is not None)]
    con = render.out()
    con.print(f"Read {len(problems)} record{'s' if len(problems) != 1 else ''}: "
              f"[bold green]{len(problems) - len(failed)}[/] converted, [bold]{len(failed)}[/] failed; "
              f"wrote {render.escape(str(output))}")
    for p in failed:
        render.err().print(f"  [yellow]{render.escape(str(getattr(p, 'id', '?')))}[/]: "
                           f"{render.escape(str(getattr(p, 'error', '') or 'not converted'))}")
    if not problems or len(failed) == len(problems):
        raise typer.Exit(EXIT_INVALID)


# --- entry point ---------------------------------------------------------------------


@app.command(epilog="[bold]Exit codes[/bold]: 0 a valid formulation was written; 2 bad input; "
                    "6 LLM backend unreachable; 7 no valid formulation within the repair rounds.")
def formulate(
    problem: Annotated[str, typer.Argument(metavar="PROBLEM", help="Problem text file, or - for stdin.")],
    out: Annotated[Optional[str], typer.Option("--out", "-o", help="Write the formulation JSON here.")] = None,
    json_output: Annotated[bool, typer.Option("--json", help="Print the outcome as JSON.")] = False,
    backend: L.BackendOpt = L.BackendName.openai,
    base_url: L.BaseUrlOpt = None,
    model: L.ModelOpt = None,
    cache: L.CacheOpt = None,
    mode: L.ModeOpt = L.ModeName.staged,
    samples: L.SamplesOpt = 1,
    max_repairs: L.MaxRepairsOpt = 3,
    temperature: L.TemperatureOpt = None,
    max_tokens: L.MaxTokensOpt = None,
    seed: L.SeedOpt = None,
    timeout: L.TimeoutOpt = 120.0,
    deadline: L.DeadlineOpt = None,
    trace: L.TraceOpt = None,
    overwrite: L.OverwriteOpt = False,
    max_terms: L.MaxTermsOpt = DEFAULT_MAX_TERMS,
    engine_arg: L.EngineArgOpt = None,
    engine_config: L.EngineConfigOpt = None,
) -> None:
    """Ask the model for a formulation of PROBLEM and stop there (validated and audited, not solved)."""
    o = L.LLMOptions(backend=backend, base_url=base_url, model=model, cache=cache, mode=mode, samples=samples,
                     max_repairs=max_repairs, temperature=temperature, max_tokens=max_tokens, seed=seed,
                     timeout=timeout, deadline=deadline, engine_arg=engine_arg, engine_config=engine_config)
    raise typer.Exit(L.run_solve_text(problem, o, solver="highs", time_limit=None, json_output=json_output,
                                      trace=trace, save_formulation=out, emit_pyomo=None, formulate_only=True,
                                      overwrite=overwrite, max_terms=max_terms))


@app.command(epilog="[bold]Exit codes[/bold]: 0 an LLM server answers; 6 none does (or what answers is not one).")
def backends(
    backend: L.BackendOpt = L.BackendName.openai,
    base_url: L.BaseUrlOpt = None,
    model: L.ModelOpt = None,
    timeout: L.TimeoutOpt = 30.0,
    json_output: Annotated[bool, typer.Option("--json", help="Print the probe as JSON.")] = False,
) -> None:
    """Check the LLM backend: which server answers, its models, whether structured output works."""
    o = L.LLMOptions(backend=backend, base_url=base_url, model=model, timeout=timeout)
    raise typer.Exit(L.run_backends(o, json_output))


app.command("doctor", help="Same as [bold]nlopt backends[/bold].", hidden=True)(backends)


def main() -> None:
    """Console-script entry point (`nlopt`)."""
    # Pydantic looks for plugins by reading the entry points of every installed distribution when it
    # builds its first validator (5-15 ms with ~160 distributions); a command line has no use for them.
    # Set before any model is built; a value the user set wins.
    os.environ.setdefault("PYDANTIC_DISABLE_PLUGINS", "__all__")
    try:
        app(prog_name="nlopt")
    except KeyboardInterrupt:
        sys.stderr.write("Interrupted\n")
        sys.exit(EXIT_INTERRUPTED)
    except BrokenPipeError:
        # e.g. `nlopt solve ... --json | head -1`
        try:
            sys.stdout = open(os.devnull, "w")  # noqa: SIM115
        except OSError:
            pass
        sys.exit(0)
    finally:
        # Interpreter shutdown runs the cyclic garbage collector over every object, several times
        # (~25 ms with the classes of typer, rich, pydantic and numpy); frozen objects are skipped.
        # atexit handlers (weakref.finalize among them) and the flushing of sys.stdout/stderr still
        # run; only objects held in reference cycles are not finalized at exit (our writers close
        # their files or flush every line).
        gc.freeze()


if __name__ == "__main__":
    main()

"""The LLM half of the CLI: `solve PROBLEM`, `formulate`, `backends`.

Heavy modules (httpx, pyomo, the pipeline) are imported inside functions so that
`nlopt --help` stays fast.
"""

from __future__ import annotations

import dataclasses
import enum
import json
import os
import sys
from dataclasses import dataclass
from pathlib import Path

import typer

from . import render
from .exit_codes import EXIT_BACKEND, EXIT_INTERRUPTED, EXIT_INVALID, EXIT_IO, EXIT_NO_FORMULATION, EXIT_OK, EXIT_SOLVER

MAX_PROBLEM_CHARS = 100_000


@dataclass
class LLMOptions:
    """Options shared by every command that talks to a model."""

    backend: str = "openai"
    base_url: str | None = None
    model: str | None = None
    cache: str | None = None
    mode: str = "staged"
    samples: int = 1
    max_repairs: int = 3
    temperature: float | None = None
    max_tokens: int | None = None
    seed: int | None = None
    timeout: float = 120.0
    deadline: float | None = None  # whole command; None: command_deadline() derives it
    engine_arg: list[str] | None = None  # --engine-arg KEY=VALUE (in-process vLLM)
    engine_config: str | None = None  # --engine-config FILE.json

    def command_deadline(self) -> float:
        """--deadline, else room for every request of a staged run and its repairs:
        timeout x (max_repairs + 3)."""
        return self.deadline if self.deadline is not None else self.timeout * (self.max_repairs + 3)

    def __post_init__(self) -> None:
        # the CLI passes enum members (BackendName, ModeName); the rest of the program speaks their values
        self.backend = getattr(self.backend, "value", self.backend)
        self.mode = getattr(self.mode, "value", self.mode)


class ProblemTextError(ValueError):
    pass


def read_problem_text(path: str) -> tuple[str, str]:
    """(text, source name) of a problem file or stdin ('-'); ProblemTextError says what is wrong."""
    from ..core.io import InputFileError, InputTooLarge, limit, read_capped

    source = "<stdin>" if path == "-" else path
    cap = MAX_PROBLEM_CHARS * 4  # bytes: a character is at most 4 in UTF-8
    try:
        raw = read_capped(path, min(cap, limit()), source=source)  # --max-input-bytes may lower it
    except InputTooLarge as e:
        if limit() < cap:
            raise ProblemTextError(f"{source}: {e.message}") from None
        raise ProblemTextError(f"{source}: more than {cap:,} bytes is too large for a problem text "
                               f"(limit {MAX_PROBLEM_CHARS:,} characters)") from None
    except InputFileError as e:
        raise ProblemTextError(f"{source}: {e.message}") from None
    nul = raw.find(b"\x00")
    if nul != -1:
        raise ProblemTextError(f"{source}: looks like a binary file (NUL byte at offset {nul}); expected plain text")
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        raise ProblemTextError(f"{source}: not UTF-8 text (invalid byte at offset {e.start}); "
                               "convert it with iconv -t UTF-8") from None
    text = text.strip()
    if not text:
        raise ProblemTextError(f"{source}: is empty; write the optimization problem in plain language")
    if len(text) > MAX_PROBLEM_CHARS:
        raise ProblemTextError(f"{source}: {len(text):,} characters is too long (limit {MAX_PROBLEM_CHARS:,})")
    return text, source


def make_backend(o: LLMOptions):
    """The configured backend, wrapped in the replay cache when asked."""
    from ..formulate.llm import BatchingBackend, CachedBackend, OpenAIBackend, VLLMBackend

    from ..formulate.backends.vllm_local import EngineArgError, engine_args

    try:
        settings = engine_args(o.engine_arg, o.engine_config)
    except EngineArgError as e:
        raise typer.BadParameter(str(e), param_hint="'--engine-arg' / '--engine-config'") from None
    if settings and o.backend != "vllm":
        raise typer.BadParameter("engine settings are for --backend vllm (a server takes them at its own start)",
                                 param_hint="'--engine-arg' / '--engine-config'")
    if o.backend == "vllm":
        model = o.model or os.environ.get("NLOPT_MODEL")
        if not model:
            raise typer.BadParameter("--backend vllm needs --model (or NLOPT_MODEL): the model to load")
        inner = BatchingBackend(VLLMBackend(model, **settings))
    elif o.backend == "openai":
        inner = OpenAIBackend.from_env(base_url=o.base_url, model=o.model, timeout=o.timeout, deadline=o.deadline)
    else:
        raise typer.BadParameter(f"unknown backend {o.backend!r}; use openai or vllm")
    if o.cache:
        return CachedBackend(inner, o.cache)
    return inner


def make_pipeline(o: LLMOptions, backend, **kw):
    from ..formulate.pipeline import MODES, Pipeline

    if o.mode not in MODES:  # a usage error (exit 2), not a traceback
        raise typer.BadParameter(f"unknown mode {o.mode!r}; use {' or '.join(MODES)}", param_hint="'--mode'")
    if o.samples > 1 and o.temperature == 0:
        raise typer.BadParameter("several samples need a temperature above 0", param_hint="'--temperature'")
    return Pipeline(backend, mode=o.mode, samples=o.samples, max_repairs=o.max_repairs,
                    temperature=o.temperature, max_tokens=o.max_tokens, seed=o.seed, **kw)


def _backend_failure(e: Exception, json_output: bool) -> int:
    msg = str(e)
    if json_output:
        render.write_json({"status": "error", "objective": None, "values": {}, "message": msg,
                           "exit_code": EXIT_BACKEND})
    else:
        render.err().print(f"[bold red]LLM backend:[/] {render.escape(msg)}")
    return EXIT_BACKEND


def attach_token_counter(backend, on_tokens) -> None:
    """Give `on_tokens` to the backend and every backend it wraps (cache, batching): the one that streams calls it."""
    seen = set()
    while backend is not None and id(backend) not in seen:
        seen.add(id(backend))
        try:
            backend.on_tokens = on_tokens
        except AttributeError:  # a read-only attribute: not a backend of ours
            pass
        backend = getattr(backend, "inner", None)


def _interrupted(progress, partial, trace: str | None, json_output: bool) -> int:
    """Ctrl-C: say what was interrupted and where the partial trace is; exit 130."""
    doing = progress.doing()
    what = f"interrupted during {doing}" if doing else "interrupted before the first request"
    what += f" after {progress.elapsed:.1f} s ({progress.requests} request{'s' if progress.requests != 1 else ''} answered)"
    where, written = None, False
    if trace and partial is not None:
        try:
            Path(trace).write_text(json.dumps(partial.to_json(), indent=1), encoding="utf-8")
            where, written = f"the partial trace (the requests answered so far) is in {trace}", True
        except OSError as e:
            where = f"could not write the partial trace to {trace}: {e.strerror or e}"
    elif partial is not None and partial.events:
        where = "nothing was saved (add --trace FILE to keep the requests of an interrupted run)"
    if json_output:
        render.write_json({"status": "interrupted", "objective": None, "values": {}, "exit_code": EXIT_INTERRUPTED,
                           "message": what, "trace": trace if written else None})
    render.err().print(f"[yellow]{render.escape(what)}[/]" + (f"\n{render.escape(where)}" if where else ""))
    return EXIT_INTERRUPTED


def _write_side_files(outcome, trace: str | None, save_formulation: str | None, emit_pyomo: str | None,
                      overwrite: bool = False) -> None:
    from ..core.files import write_new_output

    if trace:
        write_new_output(trace, json.dumps(outcome.trace.to_json(), indent=1), overwrite)
    f = outcome.best.formulation
    if f is None:
        return
    if save_formulation:
        # json.dumps + safe_json, not model_dump_json: a lone surrogate from the model is written
        # as a \\u escape instead of failing to encode
        from ..core.text import safe_json

        text = safe_json(json.dumps(f.model_dump(mode="json"), indent=2, ensure_ascii=False))
        write_new_output(save_formulation, text + "\n", overwrite)
    if emit_pyomo:
        from ..core.text import safe_text
        from ..solve.export import emit

        write_new_output(emit_pyomo, safe_text(emit(f, "pyomo")), overwrite)


def _formulation_renderable(f):
    from rich.table import Table
    from rich.text import Text

    from ..core.templates import CATALOG, render as render_constraint

    t = Table(title=render.escape(f"Formulation: {f.objective.sense} {f.objective.expr}"), title_justify="left")
    t.add_column("constraint")
    t.add_column("template")
    t.add_column("meaning")
    t.add_column("from the text", style="dim")
    for c in f.constraints:
        t.add_row(render.plain(c.name), Text(CATALOG[c.template].title), render.plain(render_constraint(c)),
                  render.plain(c.source))
    return t


def run_solve_text(problem: str, o: LLMOptions, *, solver: str, time_limit: float | None, json_output: bool,
                   trace: str | None, save_formulation: str | None, emit_pyomo: str | None,
                   mip_gap: float | None = None, threads: int | None = None, check: bool = False,
                   formulate_only: bool = False, overwrite: bool = False,
                   max_terms: int | None = None, log: bool = False) -> int:
    """`nlopt solve PROBLEM` (and `nlopt formulate` with `formulate_only`): the exit code.

    Every solve of the pipeline uses `solver`, `time_limit`, `mip_gap` and `threads`; with
    `check`, the chosen formulation is also solved by HiGHS and OR-Tools with the same options
    and compared (a disagreement exits with 5, as for `--formulation`).
    """
    try:
        text, source = read_problem_text(problem)
    except ProblemTextError as e:
        # The message starts with the source name, which may itself contain ": ".
        name = "<stdin>" if problem == "-" else problem
        msg = str(e)
        render.print_input_error(name, msg[len(name) + 2:] if msg.startswith(name + ": ") else msg)
        return EXIT_INVALID

    from ..core.files import check_output_target

    for side in (trace, save_formulation, emit_pyomo):  # refuse before asking the model anything
        try:
            if side:
                check_output_target(side, overwrite)
        except OSError as e:
            render.print_input_error(side, f"cannot write: {e.strerror or e}")
            return EXIT_INVALID

    from ..formulate.llm import BackendError

    solve_opts = {"time_limit": time_limit, "mip_gap": mip_gap, "threads": threads, "max_terms": max_terms,
                  "log": log}

    def solve_fn(f):
        from ..solve import solve

        return solve(f, solver=solver, **solve_opts)

    from .progress import StageProgress

    progress = StageProgress(render.err(), label=Path(source).name, samples=o.samples)
    pipeline = None
    try:
        backend = make_backend(dataclasses.replace(o, deadline=o.command_deadline()))
        attach_token_counter(backend, progress.on_tokens)
        pipeline = make_pipeline(o, backend, solve=solve_fn, max_terms=max_terms, on_event=progress.on_event)
        with progress:
            outcome = pipeline.formulate(text) if formulate_only else pipeline.run(text)
    except KeyboardInterrupt:
        return _interrupted(progress, getattr(pipeline, "trace", None), trace, json_output)
    except BackendError as e:
        partial = getattr(e, "trace", None)  # what was asked before the backend failed
        if trace and partial is not None:
            try:
                from ..core.files import write_new_output

                write_new_output(trace, json.dumps(partial.to_json(), indent=1), overwrite)
            except OSError:
                pass
        return _backend_failure(e, json_output)
    try:
        _write_side_files(outcome, trace, save_formulation, emit_pyomo, overwrite)
    except OSError as e:  # e.g. -o into a missing directory: a message, not a traceback
        from ..core.files import is_disk_full

        render.print_input_error(str(e.filename or "output"), f"cannot write: {e.strerror or e}")
        return EXIT_IO if is_disk_full(e) else EXIT_INVALID
    best = outcome.best
    result = best.result
    agreement = None
    if best.formulation is None:
        code = EXIT_NO_FORMULATION
    elif formulate_only:
        code = EXIT_OK
    else:
        code = result.exit_code if result is not None else EXIT_SOLVER
        if check and result is not None:
            from ..solve import check_agreement

            # The result shown stays the pipeline's (with its IIS); the check only compares.
            agreement = check_agreement(best.formulation, **solve_opts)
            if not agreement.agree:
                code = max(code, EXIT_SOLVER)

    if json_output:
        d = {
            "source": source,
            "status": result.status if result is not None else ("valid" if best.formulation and formulate_only
                                                               else "error"),
            "objective": result.objective if result is not None else None,
            "values": result.values if result is not None else {},
            "agreement": {"agree": outcome.agree, "samples": len(outcome.samples)},
            "samples": [{"status": s.result.status if s.result else s.error_kind,
                         "objective": s.result.objective if s.result else None, "repairs": s.repairs}
                        for s in outcome.samples],
            "repairs": best.repairs,
            "errors": best.errors,
            "findings": [str(x) for x in best.findings],
            "formulation": best.formulation.model_dump(exclude={"problem"}) if best.formulation else None,
            "tokens": outcome.trace.tokens,
            "exit_code": code,
        }
        if result is not None:
            d.update({k: v for k, v in result.to_json().items() if k not in d})
        if agreement is not None:
            d["check"] = render.check_json(agreement)
        render.write_json(d)
        return code

    con = render.out()
    if best.formulation is None:
        last = best.errors[0] if best.errors else "no formulation"  # a plain-word summary comes first
        render.err().print(f"[bold red]{render.escape(source)}:[/] the model produced no valid formulation after "
                           f"{best.repairs} repair round{'s' if best.repairs != 1 else ''}; last error: "
                           f"{render.escape(last)}")
        for e in best.errors[:10]:
            render.err().print(f"  {render.escape(e)}")
        return code
    f = best.formulation
    con.print(render.summary_renderable(f, render.model_summary(f), source))
    con.print(_formulation_renderable(f))
    if best.findings:
        con.print("[yellow]Audit:[/]")
        for x in best.findings:
            con.print(f"  [yellow]![/] {render.escape(str(x))}")
    if best.repairs:
        con.print(f"[dim]{best.repairs} repair round{'s' if best.repairs != 1 else ''}[/]")
    if formulate_only:
        return code
    if len(outcome.samples) > 1:
        objs = ", ".join(render.fmt(s.result.objective) if s.solved else (s.error_kind or "failed")
                         for s in outcome.samples)
        style = "green" if outcome.agree == len(outcome.samples) else "yellow"
        con.print(f"[{style}]{outcome.agreement}[/] (objectives: {objs})")
    if result is None:
        return code
    con.print(render.status_renderable(result, agreement))
    if agreement is not None:
        render.print_check(con, agreement)
    if result.has_solution:
        con.print(render.values_renderable(result.values, f))
        lines = render.binding_lines(f, result) if result.status == "optimal" and result.duals else None
        if lines:
            con.print(render.binding_renderable(lines))
    if result.status == "infeasible":
        con.print(render.iis_renderable(result.iis or []))
    return code


def run_backends(o: LLMOptions, json_output: bool) -> int:
    """Which server answers, its models, whether structured output works."""
    if o.backend != "openai":
        info = vllm_info()
        if json_output:
            render.write_json(info)
        else:
            from rich.table import Table

            t = Table(show_header=False, box=None)
            t.add_row("backend", "vllm (in-process)")
            t.add_row("installed", "[green]yes[/]" if info["installed"] else "[red]no[/]")
            if info["installed"]:
                t.add_row("version", render.escape(str(info["version"])))
                t.add_row("supported", "[green]yes[/]" if info["supported"] else f"[red]no[/] (needs >= {info['needs']})")
            if info.get("message"):
                t.add_row("", render.escape(info["message"]))
            render.out().print(t)
        return 0 if info["installed"] and info["supported"] else EXIT_BACKEND
    from ..formulate.llm import OpenAIBackend

    backend = OpenAIBackend.from_env(base_url=o.base_url, model=o.model, timeout=min(o.timeout, 60.0), max_retries=0)
    info = backend.probe()
    ok = bool(info.get("reachable") and info.get("llm_server"))
    if json_output:
        render.write_json(info)
        return 0 if ok else EXIT_BACKEND
    con = render.out()
    answer = "[green]answers[/]" if ok else \
        "[red]answers, but is not an LLM server[/]" if info.get("reachable") else "[red]does not answer[/]"
    con.print(f"server: {render.escape(str(info.get('base_url')))}  {answer}")
    if ok:
        models = ", ".join(str(m) for m in info.get("models") or [])  # names the server chose: data
        con.print(f"models: {render.escape(models) if models else '(none listed)'}")
        con.print(f"model used: {render.escape(str(info.get('model')))}")
        so = info.get("structured_output")
        con.print(f"structured output: {'[green]works[/]' if so else '[yellow]not confirmed[/]'}"
                  f" (response_format: {render.escape(str(info.get('response_format')))})")
    if info.get("error"):
        con.print(f"[red]{render.escape(str(info['error']))}[/]")
    return 0 if ok else EXIT_BACKEND


def vllm_info() -> dict:
    """Whether in-process vLLM can be used: installed, its version, new enough."""
    from ..formulate.backends.vllm_local import INSTALL_HINT, MIN_VERSION, version_tuple

    needs = ".".join(map(str, MIN_VERSION))
    try:
        import vllm
    except ImportError:
        return {"backend": "vllm", "installed": False, "version": None, "supported": False, "needs": needs,
                "message": f"vllm is not installed; {INSTALL_HINT}"}
    version = str(getattr(vllm, "__version__", "?"))
    supported = version_tuple(version) >= MIN_VERSION
    return {"backend": "vllm", "installed": True, "version": version, "supported": supported, "needs": needs,
            "message": "" if supported else f"vllm {version} is older than {needs}; {INSTALL_HINT}"}


# --- typer options shared by solve, formulate, backends ---------------------------------

from typing import Annotated, Optional  # noqa: E402

class BackendName(str, enum.Enum):
    openai = "openai"
    vllm = "vllm"


class ModeName(str, enum.Enum):
    staged = "staged"
    single = "single"


# Defaults that are not the parameter's value are written into the help text, with the bracket escaped:
# a bare "[default: ...]" is rich markup and vanishes from --help.
BackendOpt = Annotated[BackendName, typer.Option("--backend", help="openai: any OpenAI-compatible server (vllm "
                                                 "serve, llama.cpp, SGLang, Ollama); vllm: in-process vLLM.")]
BaseUrlOpt = Annotated[Optional[str], typer.Option("--base-url", envvar="NLOPT_BASE_URL", show_default=False,
                                                   help=r"Server URL \[default: http://localhost:8000/v1].")]
ModelOpt = Annotated[Optional[str], typer.Option("--model", envvar="NLOPT_MODEL", show_default=False,
                                                 help=r"Model name \[default: the first the server lists].")]
CacheOpt = Annotated[Optional[str], typer.Option("--cache", metavar="DIR",
                                                 help="Record every LLM request/response here and replay hits.")]
ModeOpt = Annotated[ModeName, typer.Option("--mode", help="staged: entities, classification, slots (3 requests); "
                                                     "single: the whole formulation in one request.")]
SamplesOpt = Annotated[int, typer.Option("--samples", "-k", min=1,
                                         help="Formulations to draw; the majority objective wins.")]
MaxRepairsOpt = Annotated[int, typer.Option("--max-repairs", min=0,
                                            help="Self-correction rounds with validation and solver feedback.")]
TemperatureOpt = Annotated[Optional[float], typer.Option("--temperature", show_default=False,
                                                         help=r"Sampling temperature \[default: 0, or 0.7 with "
                                                              "--samples > 1].")]
MaxTokensOpt = Annotated[Optional[int], typer.Option("--max-tokens", min=1, help="Token limit per reply.")]
SeedOpt = Annotated[Optional[int], typer.Option("--seed", help="Sampling seed, for reproducible runs.")]
TimeoutOpt = Annotated[float, typer.Option("--timeout", min=0.1, help="Seconds one LLM request may take, "
                                                                    "from sending it to the reply's last byte.")]
DeadlineOpt = Annotated[Optional[float], typer.Option("--deadline", min=0.1, show_default=False,
                                                      help="Seconds the whole command may wait for the LLM "
                                                           r"\[default: timeout x (max-repairs + 3)].")]
OverwriteOpt = Annotated[bool, typer.Option("--overwrite", help="Replace output files that already exist "
                                            "(without it an existing file is kept and the command exits with 2).")]
TraceOpt = Annotated[Optional[str], typer.Option("--trace", metavar="FILE", help="Write prompts, raw replies, "
                                                 "errors, timings and token counts as JSON.")]
SaveFormulationOpt = Annotated[Optional[str], typer.Option("--save-formulation", metavar="FILE",
                                                           help="Write the chosen formulation JSON.")]
MaxTermsOpt = Annotated[int, typer.Option("--max-terms", min=1, metavar="N",
                                          help="Refuse formulations that expand to more than N terms (counted "
                                               "before expanding: forall instances x sum terms).")]
EmitPyomoOpt = Annotated[Optional[str], typer.Option("--emit-pyomo", metavar="FILE",
                                                     help="Write a standalone Pyomo script of the model.")]
EngineArgOpt = Annotated[Optional[list[str]], typer.Option("--engine-arg", metavar="KEY=VALUE",
                                                         help="In-process vLLM engine setting, repeatable: "
                                                              "max_model_len, gpu_memory_utilization, "
                                                              "tensor_parallel_size, dtype, quantization, "
                                                              "enable_prefix_caching.")]
EngineConfigOpt = Annotated[Optional[str], typer.Option("--engine-config", metavar="FILE.json",
                                                        help="In-process vLLM engine settings as a JSON object "
                                                             "(--engine-arg wins).")]

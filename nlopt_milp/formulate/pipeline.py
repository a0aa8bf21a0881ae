"""Problem text -> formulation -> solution, with self-correction and voting.

`Pipeline.run(text)` draws `samples` formulations (single-call or staged prompting),
repairs each with validation errors, audit findings and solver feedback for at most
`max_repairs` rounds, solves them, and picks the majority objective. Every request and
its outcome is recorded in a `Trace`.
"""

from __future__ import annotations

import asyncio
import json
import time
from concurrent.futures import Executor
from dataclasses import asdict, dataclass, field
from typing import Callable

from pydantic import ValidationError

from ..core.formulation import Formulation
from ..core.validate import FormulationError, check, load
from . import prompts as P
from .audit import Finding, audit
from .diagnose import missing_parts
from .voting import majority, verdict
from .llm import Backend, BackendError, ChatRequest, NoJSONFound, extract_json

MODES = ("staged", "single")
SOLVED = ("optimal", "feasible")


@dataclass
class TraceEvent:
    sample: int
    stage: str  # entities | classify | fill | formulation | repair | check (our verdict, no request)
    round: int
    messages: list[dict]
    responses: list[str]
    errors: list[str] = field(default_factory=list)
    seconds: float = 0.0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    finish_reasons: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class StageEvent:
    """What the pipeline is doing, for progress displays (`Pipeline(on_event=...)`).

    kind: "start" | "end" of a request (stage entities | classify | fill | formulation | repair),
    or of our own check-and-solve step (stage "check"). `completion_tokens` is set on "end".
    """

    kind: str
    sample: int
    stage: str
    round: int = 0
    completion_tokens: int = 0


# Why a sample's repair loop ended (recorded in the trace as a "stop" event).
STOP_CLEAN = "clean: the formulation passed every check"
STOP_MAX_REPAIRS = "max_repairs: the repair rounds are used up"
STOP_REPEATED = ("repeated_reply: the repair reply repeats an earlier reply of this sample; at this "
                 "temperature another round with the same feedback would too")


@dataclass
class Trace:
    model: str = ""
    mode: str = ""
    prompt_version: str = P.PROMPT_VERSION
    events: list[TraceEvent] = field(default_factory=list)

    @property
    def tokens(self) -> int:
        return sum(e.prompt_tokens + e.completion_tokens for e in self.events)

    def to_json(self) -> dict:
        return {"model": self.model, "mode": self.mode, "prompt_version": self.prompt_version,
                "tokens": self.tokens, "events": [asdict(e) for e in self.events]}


@dataclass
class SampleOutcome:
    formulation: Formulation | None = None
    result: object | None = None  # SolveResult
    repairs: int = 0
    errors: list[str] = field(default_factory=list)  # the last round's problems, if it never got clean
    error_kind: str | None = None  # no_output | validation_error | nonlinear | infeasible | unbounded | ...
    findings: list[Finding] = field(default_factory=list)
    raw: str = ""
    feedback: list[str] = field(default_factory=list)  # the same problems, as written for the model
    stop_reason: str = ""  # one of the STOP_* texts

    @property
    def solved(self) -> bool:
        return self.result is not None and self.result.status in SOLVED


@dataclass
class Outcome:
    samples: list[SampleOutcome]
    chosen: int | None
    agree: int  # samples in the chosen group
    trace: Trace

    @property
    def best(self) -> SampleOutcome:
        if self.chosen is not None:
            return self.samples[self.chosen]
        # Nothing solved: prefer a sample with a valid formulation (its result says why) over raw failures.
        return next((s for s in self.samples if s.formulation is not None), self.samples[0])

    @property
    def agreement(self) -> str:
        return f"{self.agree} of {len(self.samples)} samples agree"


def _solve_default(f: Formulation):
    from ..solve import solve
    return solve(f)


class CutOff(str):
    """A reply the server stopped at the token limit: its JSON is incomplete whatever it looks like."""


@dataclass
class Assessment:
    """What is wrong with one draft: our verdict, without the LLM."""

    raw: str
    problems: list[str] = field(default_factory=list)  # for the model (repair prompt); empty: usable as it is
    messages: list[str] = field(default_factory=list)  # the same problems, worded for the user
    formulation: Formulation | None = None
    result: object | None = None
    findings: list[Finding] = field(default_factory=list)
    error_kind: str | None = None


def assess(draft: str | dict, text: str, solve: Callable[[Formulation], object] | None,
           max_terms: int | None = None) -> Assessment:
    """Parse, validate, audit and (when `solve` is given) solve a draft formulation.

    `max_terms` is the size limit of validation (`check`); a larger draft goes back for repair.

    Module-level and free of pipeline state so that it can run in a process pool.
    """
    a = _assess(draft, text, solve, max_terms)
    if not a.messages:
        a.messages = list(a.problems)
    return a


def _assess(draft: str | dict, text: str, solve: Callable[[Formulation], object] | None,
            max_terms: int | None = None) -> Assessment:
    a = Assessment(raw=draft if isinstance(draft, str) else json.dumps(draft))
    if isinstance(draft, CutOff):
        a.error_kind = "no_output"
        a.problems = ["the reply was cut off at the token limit before the JSON was complete; write it more compactly"]
        a.messages = ["the model's reply was cut off at the token limit before its JSON was complete "
                      "(raise --max-tokens)"]
        return a
    try:
        obj = extract_json(draft) if isinstance(draft, str) else draft
    except NoJSONFound as e:
        a.error_kind, a.problems = "no_output", [f"no JSON object in the reply ({e})"]
        return a
    if isinstance(obj, dict):
        obj.setdefault("version", "1")
        obj["problem"] = text
    try:
        f = load(obj)
    except FormulationError as e:
        a.error_kind, a.problems = "validation_error", [str(i) for i in e.issues]
        a.messages = missing_parts(obj, a.problems) + a.problems
        return a
    issues = check(f, max_terms)
    a.findings = audit(f, text)
    if issues:
        a.error_kind = "nonlinear" if any("nonlinear" in i.message for i in issues) else "validation_error"
        a.problems = [str(i) for i in issues]
        a.messages = missing_parts(obj, a.problems) + a.problems
        return a
    a.formulation = f
    if solve is None:
        return a
    r = a.result = solve(f)
    if r.status == "infeasible":
        a.error_kind = "infeasible"
        conflict = "; ".join(f"{m.constraint} ({m.source!r})" if m.source else m.constraint for m in (r.iis or []))
        a.problems = ["the model is infeasible" + (f"; these constraints conflict: {conflict}" if conflict else "")]
    elif r.status == "unbounded":
        a.error_kind = "unbounded"
        a.problems = ["the model is unbounded: the objective can improve without limit; a constraint or bound "
                      "from the text is missing or has the wrong direction"]
        a.messages = ["the model is unbounded: the objective can improve without limit (a constraint or bound "
                      "of the text is missing or points the wrong way)"]
    elif r.status not in SOLVED:
        a.error_kind = r.status  # a solver failure is not the model's to fix: no problems listed
    return a


class Pipeline:
    def __init__(
        self,
        backend: Backend,
        mode: str = "staged",
        samples: int = 1,
        max_repairs: int = 3,
        temperature: float | None = None,
        max_tokens: int | None = None,
        seed: int | None = None,
        solve: Callable[[Formulation], object] = _solve_default,
        executor: Executor | None = None,
        tolerance: float = 1e-6,
        max_terms: int | None = None,
        on_event: Callable[[StageEvent], None] | None = None,
    ):
        if mode not in MODES:
            raise ValueError(f"mode must be one of {', '.join(MODES)}")
        if samples > 1 and temperature == 0:
            raise ValueError("several samples need a temperature above 0: at 0 every sample is the same draw")
        self.backend = backend
        self.mode = mode
        self.samples = max(1, samples)
        self.max_repairs = max(0, max_repairs)
        self.temperature = temperature if temperature is not None else (0.0 if self.samples == 1 else 0.7)
        self.max_tokens = max_tokens
        self.seed = seed
        self.solve = solve  # runs in `executor` (a process pool in eval) so slow solves never block requests
        self.executor = executor
        self.tolerance = tolerance
        self.max_terms = max_terms  # validation's size limit (None: core.size.DEFAULT_MAX_TERMS)
        self.on_event = on_event  # progress displays; called on the event loop's thread, must not block
        self.trace: Trace | None = None  # the trace of the latest run, also while it runs (for Ctrl-C)

    def _emit(self, kind: str, sample: int, stage: str, rnd: int = 0, completion_tokens: int = 0) -> None:
        if self.on_event is not None:
            self.on_event(StageEvent(kind, sample, stage, rnd, completion_tokens))

    # -- requests --------------------------------------------------------------------

    async def _ask(self, trace: Trace, sample: int, stage: str, rnd: int, user: str, schema_stage: str, n: int = 1
             ) -> list[str]:
        messages = [{"role": "system", "content": P.system_prompt()}, {"role": "user", "content": user}]
        req = ChatRequest(messages=messages, schema=P.stage_schema(schema_stage), schema_name=schema_stage, n=n,
                          temperature=self.temperature, max_tokens=self.max_tokens, seed=self.seed)
        t0 = time.perf_counter()
        self._emit("start", sample, stage, rnd)
        try:
            done = await self.backend.acomplete(req)
        except BackendError as e:  # keep the failed request in the trace, then let the caller report it
            trace.events.append(TraceEvent(sample, stage, rnd, messages, [], errors=[str(e)],
                                           seconds=time.perf_counter() - t0))
            e.trace = trace  # type: ignore[attr-defined]
            e.args = (f"{stage} stage: {e}",)  # say which stage was waiting
            self._emit("end", sample, stage, rnd)
            raise
        self._emit("end", sample, stage, rnd, done.completion_tokens)
        trace.events.append(TraceEvent(sample, stage, rnd, messages, list(done.texts),
                                       seconds=time.perf_counter() - t0, prompt_tokens=done.prompt_tokens,
                                       completion_tokens=done.completion_tokens,
                                       finish_reasons=list(done.finish_reasons)))
        reasons = list(done.finish_reasons) + [""] * len(done.texts)
        return [CutOff(t) if r == "length" else t for t, r in zip(done.texts, reasons)]

    async def _first_drafts(self, text: str, trace: Trace) -> list[str | dict]:
        ex = P.example_parts()
        if self.mode == "single":
            user = P.text("single").format(example_problem=ex["problem"], example_formulation=ex["formulation"],
                                           problem=text)
            return await self._ask(trace, 0, "formulation", 0, user, "formulation", n=self.samples)
        user = P.text("stage1_entities").format(example_problem=ex["problem"], example_answer=ex["entities"],
                                                problem=text)
        entities = await self._ask(trace, 0, "entities", 0, user, "entities", n=self.samples)
        return list(await asyncio.gather(*(self._staged_rest(text, e, k, trace, ex) for k, e in enumerate(entities))))

    async def _staged_rest(self, text: str, ent_text: str, k: int, trace: Trace, ex: dict) -> str | dict:
        """Stages 2 and 3 for one sample; returns the assembled formulation dict or the raw failing text."""
        try:
            entities = P.Entities.model_validate(extract_json(ent_text))
        except (NoJSONFound, ValidationError) as e:
            trace.events[-1].errors.append(f"entities: {_short(e)}")
            return ent_text
        ent_json = entities.model_dump_json(exclude_defaults=True)
        user = P.text("stage2_classify").format(example_problem=ex["problem"], example_answer=ex["classification"],
                                                problem=text, entities=ent_json)
        cls_text = (await self._ask(trace, k, "classify", 0, user, "classify"))[0]
        try:
            classification = P.Classification.model_validate(extract_json(cls_text))
        except (NoJSONFound, ValidationError) as e:
            trace.events[-1].errors.append(f"classify: {_short(e)}")
            return cls_text
        user = P.text("stage3_fill").format(example_problem=ex["problem"], example_answer=ex["filled"], problem=text,
                                            entities=ent_json, classification=classification.model_dump_json())
        fill_text = (await self._ask(trace, k, "fill", 0, user, "fill"))[0]
        try:
            filled = extract_json(fill_text)
        except NoJSONFound as e:
            trace.events[-1].errors.append(f"fill: {_short(e)}")
            return fill_text
        return {"version": "1", "problem": text, **entities.model_dump(), **filled}

    # -- one sample: check, solve, repair --------------------------------------------

    async def _problems(self, draft: str | dict, text: str, out: SampleOutcome, solve: bool) -> list[str]:
        """Everything wrong with a draft (empty list: it solved). Fills `out`."""
        solve_fn = self.solve if solve else None
        if self.executor is None:
            a = assess(draft, text, solve_fn, self.max_terms)  # in this thread: Pyomo is not thread-safe
        else:  # parsing, checking and solving are CPU work: keep them off the event loop
            a = await asyncio.get_running_loop().run_in_executor(self.executor, assess, draft, text, solve_fn,
                                                           self.max_terms)
        out.raw, out.formulation, out.result = a.raw, a.formulation, a.result
        out.findings, out.error_kind = a.findings, a.error_kind
        out.errors, out.feedback = list(a.messages), list(a.problems)
        return a.problems

    async def _run_sample(self, k: int, draft: str | dict, text: str, trace: Trace, solve: bool) -> SampleOutcome:
        out = SampleOutcome()
        seen = {_reply_key(draft)}
        for rnd in range(self.max_repairs + 1):
            t0 = time.perf_counter()
            self._emit("start", k, "check", rnd)
            problems = await self._problems(draft, text, out, solve)
            self._emit("end", k, "check", rnd)
            status = out.result.status if out.result is not None else out.error_kind or "valid"
            trace.events.append(TraceEvent(k, "check", rnd, [], [status], errors=list(problems),
                                           seconds=time.perf_counter() - t0))
            if not problems:
                out.errors, out.feedback = [], []
                return self._stop(trace, k, rnd, out, STOP_CLEAN)
            if rnd == self.max_repairs:
                return self._stop(trace, k, rnd, out, STOP_MAX_REPAIRS)
            out.repairs += 1
            listed = problems + [f"(warning) {f.for_model()}" for f in out.findings]
            current = out.raw if out.formulation is None else out.formulation.model_dump_json(exclude={"problem"})
            user = P.text("repair").format(problem=text, formulation=current,
                                           errors="\n".join(f"- {p}" for p in listed))
            draft = (await self._ask(trace, k, "repair", rnd + 1, user, "formulation"))[0]
            key = _reply_key(draft)
            if key in seen:
                # The same draft gets the same verdict and, at temperature 0, the same feedback brings the
                # same reply again: the remaining rounds would only cost time.
                return self._stop(trace, k, rnd + 1, out, STOP_REPEATED)
            seen.add(key)
        return out

    def _stop(self, trace: Trace, k: int, rnd: int, out: SampleOutcome, reason: str) -> SampleOutcome:
        out.stop_reason = reason
        trace.events.append(TraceEvent(k, "stop", rnd, [], [reason]))
        return out

    # -- voting ----------------------------------------------------------------------

    def _vote(self, samples: list[SampleOutcome]) -> tuple[int | None, int]:
        verdicts = [verdict(s.result.status, s.result.objective) if s.result is not None else None for s in samples]
        return majority(verdicts, rel_tol=self.tolerance, abs_tol=self.tolerance)

    async def arun(self, text: str, solve: bool = True) -> Outcome:
        """Formulate, repair, solve and vote. With solve=False, stop after a valid formulation."""
        trace = self.trace = Trace(model=getattr(self.backend, "model", "") or "", mode=self.mode)
        drafts = await self._first_drafts(text, trace)  # a backend may return fewer than asked
        samples = list(await asyncio.gather(
            *(self._run_sample(k, d, text, trace, solve) for k, d in enumerate(drafts[: self.samples]))))
        if solve:
            chosen, agree = self._vote(samples)
        else:
            valid = [k for k, s in enumerate(samples) if s.formulation is not None]
            chosen, agree = (valid[0] if valid else None), len(valid)
        return Outcome(samples, chosen, agree, trace)

    def run(self, text: str) -> Outcome:
        return asyncio.run(self.arun(text))

    def formulate(self, text: str) -> Outcome:
        """Stop after the formulation: repairs use validation only, nothing is solved."""
        return asyncio.run(self.arun(text, solve=False))


def _reply_key(draft: str | dict) -> str:
    """A draft's content, ignoring JSON layout (a reply that differs only in spacing is the same reply)."""
    try:
        obj = draft if isinstance(draft, dict) else extract_json(draft)
    except NoJSONFound:
        return " ".join(str(draft).split())
    obj = {k: v for k, v in obj.items() if k not in ("version", "problem")}
    return json.dumps(obj, sort_keys=True)


def _short(e: Exception) -> str:
    if isinstance(e, ValidationError):
        errs = e.errors()
        first = errs[0]
        loc = ".".join(str(x) for x in first["loc"])
        return f"{loc}: {first['msg']}" + (f" (and {len(errs) - 1} more)" if len(errs) > 1 else "")
    return str(e).splitlines()[0][:200]

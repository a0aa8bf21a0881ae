"""Problem text -> formulation -> solution, with self-correction and voting.

`Pipeline.run(text)` draws `samples` formulations (single-call or staged prompting),
repairs each with validation errors, audit findings and solver feedback for at most
`max_repairs` rounds, solves them, and picks the majority objective. Every request and
its outcome is recorded in a `Trace`.
"""

from __future__ import annotations

import asyncio
import difflib
import hashlib
import json
import re
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
from .voting import Vote, vote, verdict
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
    prompt_version: str = field(default_factory=P.prompt_version)
    events: list[TraceEvent] = field(default_factory=list)
    vote: dict | None = None  # how the chosen sample won (voting.Vote.to_json)

    @property
    def tokens(self) -> int:
        return sum(e.prompt_tokens + e.completion_tokens for e in self.events)

    def to_json(self) -> dict:
        return {"model": self.model, "mode": self.mode, "prompt_version": self.prompt_version,
                "tokens": self.tokens, "vote": self.vote, "events": [asdict(e) for e in self.events]}


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
    reviewed: bool = False  # the solved formulation went through one review round

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
    missing = model_reply_issues(obj)
    if isinstance(obj, dict):
        obj = {k: v for k, v in obj.items() if k not in P.MODEL_ONLY_KEYS}
        obj.setdefault("version", "1")
        obj["problem"] = text
        if isinstance(obj.get("constraints"), list):
            obj["constraints"] = [{k: v for k, v in c.items() if k not in P.MODEL_ONLY_KEYS}
                                  if isinstance(c, dict) else c for c in obj["constraints"]]
    try:
        f = load(obj)
    except FormulationError as e:
        a.error_kind, a.problems = "validation_error", missing + _with_hints([str(i) for i in e.issues], obj)
        a.messages = missing_parts(obj, a.problems) + a.problems
        return a
    issues = check(f, max_terms)
    a.findings = audit(f, text)
    if issues or missing:
        a.error_kind = "nonlinear" if any("nonlinear" in i.message for i in issues) else "validation_error"
        a.problems = missing + _with_hints([str(i) for i in issues], obj)
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
        names = unbounded_variables(f, solve)
        a.problems = ["the model is unbounded: the objective can improve without limit; a constraint or bound "
                      "from the text is missing or has the wrong direction"
                      + (f"; these variables grow without limit: {', '.join(names)}" if names else "")]
        a.messages = ["the model is unbounded: the objective can improve without limit (a constraint or bound "
                      "of the text is missing or points the wrong way)"
                      + (f"; these variables grow without limit: {', '.join(names)}" if names else "")]
    elif r.status not in SOLVED:
        a.error_kind = r.status  # a solver failure is not the model's to fix: no problems listed
    return a


def model_reply_issues(obj) -> list[str]:
    """What the model must write that a person's file may leave out: at least one constraint, and every
    slot whose default would pick a meaning (`sense`, `demand`, `count`). Checked even when the
    server ignored the schema, so an omitted `sense` is never filled in silently."""
    if not isinstance(obj, dict):
        return []
    out = []
    constraints = obj.get("constraints")
    if not constraints:
        out.append("constraints: at least one constraint is required; every limit, requirement or "
                   "relation of the text is a constraint")
        return out
    if not isinstance(constraints, list):
        return out
    from ..core.formulation import SLOT_MODELS, meaning_slots
    for k, c in enumerate(constraints):
        if not isinstance(c, dict) or c.get("template") not in SLOT_MODELS or not isinstance(c.get("slots"), dict):
            continue
        for slot in meaning_slots(c["template"]):
            if c["slots"].get(slot) is None:
                hint = (' ("<=", ">=" or "=="; at least -> ">=", at most -> "<=")' if slot == "sense"
                        else "; write it out")
                out.append(f"constraints[{k}].slots.{slot}: required: the model must state it{hint}")
    return out


_UNKNOWN_NAME = re.compile(r"unknown name (\w+)")


def _with_hints(problems: list[str], obj) -> list[str]:
    """Add "did you mean make['table']?" where an unknown name is a set element (or close to a declared name)."""
    if not isinstance(obj, dict):
        return problems
    def names(key):
        return [x.get("name") for x in obj.get(key) or [] if isinstance(x, dict) and isinstance(x.get("name"), str)]
    sets = {x["name"]: x.get("elements") or [] for x in obj.get("sets") or []
            if isinstance(x, dict) and isinstance(x.get("name"), str)}
    variables = [v for v in obj.get("variables") or [] if isinstance(v, dict)]
    declared = names("sets") + names("parameters") + names("variables")
    out = []
    for p in problems:
        m = _UNKNOWN_NAME.search(p)
        if m:
            word, hint = m.group(1), None
            for v in variables:
                index = v.get("index") or []
                if len(index) == 1 and any(str(e).lower() == word.lower() for e in sets.get(index[0], [])):
                    element = next(e for e in sets[index[0]] if str(e).lower() == word.lower())
                    hint = f"{v.get('name')}[{json.dumps(element) if not isinstance(element, str) else repr(element)}]"
                    break
            if hint is None:
                close = difflib.get_close_matches(word, declared, n=1)
                hint = close[0] if close else None
            if hint:
                p += f"; did you mean {hint}?"
        out.append(p)
    return out


UNBOUNDED_PROBE = 1e7  # bound put on every variable to find the ones that run away


def unbounded_variables(f: Formulation, solve) -> list[str]:
    """Variables that grow without limit: re-solve with every variable boxed at +-UNBOUNDED_PROBE and
    name those that end near the box."""
    boxed = f.model_copy(deep=True)
    for v in boxed.variables:
        if v.upper is None:
            v.upper = UNBOUNDED_PROBE
        if v.lower is None:
            v.lower = -UNBOUNDED_PROBE
    try:
        r = solve(boxed)
    except Exception:  # noqa: BLE001 - a hint only; the verdict stands without it
        return []
    values = getattr(r, "values", None) or {}
    return sorted(k for k, x in values.items() if isinstance(x, (int, float)) and abs(x) >= UNBOUNDED_PROBE / 10)[:10]


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
        tolerance: float = 1e-4,
        review: bool = True,
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
        self.max_tokens = max_tokens  # None: the per-stage default P.MAX_TOKENS
        self.seed = seed
        self.solve = solve  # runs in `executor` (a process pool in eval) so slow solves never block requests
        self.executor = executor
        self.tolerance = tolerance  # voting groups objectives at the scorer's tolerance
        self.review = review  # one review round for solved formulations with audit findings
        self.max_terms = max_terms  # validation's size limit (None: core.size.DEFAULT_MAX_TERMS)
        self.on_event = on_event  # progress displays; called on the event loop's thread, must not block
        self.trace: Trace | None = None  # the trace of the latest run, also while it runs (for Ctrl-C)

    def _emit(self, kind: str, sample: int, stage: str, rnd: int = 0, completion_tokens: int = 0) -> None:
        if self.on_event is not None:
            self.on_event(StageEvent(kind, sample, stage, rnd, completion_tokens))

    # -- requests --------------------------------------------------------------------

    def request_seed(self, sample: int, stage: str, rnd: int) -> int | None:
        """A seed of its own for every sample, stage and round (from --seed), so equal prompts do not
        give equal draws by construction."""
        if self.seed is None:
            return None
        digest = hashlib.sha256(f"{self.seed}:{sample}:{stage}:{rnd}".encode()).digest()
        return int.from_bytes(digest[:4], "big") >> 1

    async def _ask(self, trace: Trace, sample: int, stage: str, rnd: int, user: str, schema: dict, schema_name: str,
                   n: int = 1) -> list[str]:
        messages = [{"role": "system", "content": P.system_prompt()}, {"role": "user", "content": user}]
        max_tokens = self.max_tokens if self.max_tokens is not None else P.MAX_TOKENS.get(stage)
        req = ChatRequest(messages=messages, schema=schema, schema_name=schema_name, n=n,
                          temperature=self.temperature, max_tokens=max_tokens,
                          seed=self.request_seed(sample, stage, rnd), sample=sample)
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
        if self.mode == "single":
            user = P.text("single").format(examples=P.examples_block(text, "formulation"), problem=text)
            return await self._ask(trace, 0, "formulation", 0, user, P.stage_schema("formulation"), "formulation",
                                   n=self.samples)
        user = P.text("stage1_entities").format(examples=P.examples_block(text, "entities"), problem=text)
        entities = await self._ask(trace, 0, "entities", 0, user, P.stage_schema("entities"), "entities",
                                   n=self.samples)
        return list(await asyncio.gather(*(self._staged_rest(text, e, k, trace, user)
                                           for k, e in enumerate(entities))))

    async def _stage(self, trace: Trace, k: int, stage: str, user: str, schema: dict, reply: str | None,
                     parse: Callable[[dict], object]) -> tuple[object | None, str]:
        """One stage of one sample: parse `reply` (asking first when None); on failure ask once more with the
        problems, keeping the earlier stages. Returns (parsed or None, last raw reply)."""
        for rnd in range(STAGE_RETRIES + 1):
            if reply is None:
                reply = (await self._ask(trace, k, stage, rnd, user, schema, stage))[0]
                event = trace.events[-1]  # appended by _ask with no await since: ours
            else:  # a reply of the first request (n samples in one): its event is the stage's first
                event = next(e for e in trace.events if e.stage == stage)
            try:
                return parse(_reply_json(reply)), reply
            except (NoJSONFound, ValidationError, ValueError) as e:
                problems = _stage_problems(e)
                event.errors.extend(f"{stage}: {p}" for p in problems)
            if rnd == STAGE_RETRIES:
                break
            user = user + P.text("stage_retry").format(answer=str(reply)[:4000],
                                                        errors="\n".join(f"- {p}" for p in problems))
            reply = None
        return None, reply

    async def _staged_rest(self, text: str, ent_text: str, k: int, trace: Trace, user1: str) -> str | dict:
        """Stage 1's check (and retry) and stages 2 and 3 for one sample; returns the assembled formulation
        dict or the raw failing text."""
        entities, raw = await self._stage(trace, k, "entities", user1, P.stage_schema("entities"), ent_text,
                                          P.Entities.model_validate)
        if entities is None:
            return raw
        ent_json = entities.model_dump_json(exclude={"notes"})
        user = P.text("stage2_classify").format(examples=P.examples_block(text, "classify"), problem=text,
                                                entities=ent_json)
        classification, raw = await self._stage(trace, k, "classify", user, P.classify_schema(text), None,
                                                lambda o: _classification(o, text))
        if classification is None:
            return raw
        cls_json = classification.model_dump_json(exclude={"notes", "sentences"})
        user = P.text("stage3_fill").format(examples=P.examples_block(text, "fill"), problem=text,
                                            entities=ent_json, classification=cls_json)
        filled, raw = await self._stage(trace, k, "fill", user, P.fill_schema(entities, classification), None,
                                        lambda o: _filled(o, classification))
        if filled is None:
            return raw
        return StagedDraft(assemble(entities, classification, filled), entities, classification, filled, text)

    # -- one sample: check, solve, repair, review ---------------------------------------

    async def _assess(self, draft: str | dict, text: str, solve: bool) -> Assessment:
        solve_fn = self.solve if solve else None
        if self.executor is None:
            return assess(draft, text, solve_fn, self.max_terms)  # in this thread: Pyomo is not thread-safe
        # parsing, checking and solving are CPU work: keep them off the event loop
        return await asyncio.get_running_loop().run_in_executor(self.executor, assess, draft, text, solve_fn,
                                                                self.max_terms)

    @staticmethod
    def _take(a: Assessment, out: SampleOutcome) -> list[str]:
        out.raw, out.formulation, out.result = a.raw, a.formulation, a.result
        out.findings, out.error_kind = a.findings, a.error_kind
        out.errors, out.feedback = list(a.messages), list(a.problems)
        return a.problems

    async def _problems(self, draft: str | dict, text: str, out: SampleOutcome, solve: bool) -> list[str]:
        """Everything wrong with a draft (empty list: it solved). Fills `out`."""
        return self._take(await self._assess(draft, text, solve), out)

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
                if solve and self.review:
                    await self._review(k, text, trace, out, rnd)
                return self._stop(trace, k, rnd, out, STOP_CLEAN)
            if rnd == self.max_repairs:
                return self._stop(trace, k, rnd, out, STOP_MAX_REPAIRS)
            out.repairs += 1
            if isinstance(draft, StagedDraft) and _failing_constraints(problems, draft):
                draft = await self._repair_constraints(k, draft, problems, trace, rnd + 1)
                continue
            listed = problems + [f"(warning) {f.for_model()}" for f in out.findings]
            current = out.raw if out.formulation is None else _model_json(out.formulation)
            user = P.text("repair").format(problem=text, formulation=current,
                                           errors="\n".join(f"- {p}" for p in listed))
            draft = (await self._ask(trace, k, "repair", rnd + 1, user, P.stage_schema("formulation"),
                                     "formulation"))[0]
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

    async def _repair_constraints(self, k: int, draft: "StagedDraft", problems: list[str], trace: Trace,
                                  rnd: int) -> "StagedDraft | str":
        """Ask stage 3 again for the failing constraints only (schema keyed by their names), keeping the rest."""
        failing = _failing_constraints(problems, draft)
        subset = draft.classification.model_copy(
            update={"constraints": [c for c in draft.classification.constraints if c.name in failing]})
        previous = {"objective": draft.filled["objective"],
                    "constraints": {n: draft.filled["constraints"].get(n) for n in failing}}
        user = P.text("stage3_fill").format(
            examples=P.examples_block(draft.text, "fill"), problem=draft.text,
            entities=draft.entities.model_dump_json(exclude={"notes"}),
            classification=subset.model_dump_json(exclude={"notes", "sentences"}))
        user += P.text("stage_retry").format(answer=json.dumps(previous, ensure_ascii=False)[:4000],
                                             errors="\n".join(f"- {p}" for p in problems))
        reply = (await self._ask(trace, k, "fill", rnd, user, P.fill_schema(draft.entities, subset), "fill"))[0]
        try:
            new = _filled(_reply_json(reply), subset)
        except (NoJSONFound, ValueError) as e:
            trace.events[-1].errors.extend(f"fill: {p}" for p in _stage_problems(e))
            return reply
        filled = {**draft.filled, "constraints": {**draft.filled["constraints"], **new["constraints"]}}
        return StagedDraft(assemble(draft.entities, draft.classification, filled), draft.entities,
                           draft.classification, filled, draft.text)

    async def _review(self, k: int, text: str, trace: Trace, out: SampleOutcome, rnd: int) -> None:
        """A solved formulation that leaves numbers of the text unused or variables unconstrained gets one
        review round; the reviewed formulation replaces it only if it solves too."""
        worth = [f for f in out.findings if f.kind in REVIEW_KINDS]
        if not worth or out.formulation is None:
            return
        user = P.text("review").format(problem=text, formulation=_model_json(out.formulation),
                                       errors="\n".join(f"- {f}" for f in out.findings))
        try:
            draft = (await self._ask(trace, k, "review", rnd + 1, user, P.stage_schema("formulation"),
                                     "formulation"))[0]
        except BackendError:  # the review is a second look, not needed for an answer: the solved one stands
            trace.events[-1].errors.append("review not taken: the request failed; the first formulation stands")
            return
        t0 = time.perf_counter()
        a = await self._assess(draft, text, True)
        status = a.result.status if a.result is not None else a.error_kind or "valid"
        kept = not a.problems and a.result is not None and a.result.status in SOLVED
        trace.events.append(TraceEvent(k, "check", rnd + 1, [], [status],
                                       errors=list(a.problems) + ([] if kept else ["review not taken: the first "
                                                                                   "formulation stands"]),
                                       seconds=time.perf_counter() - t0))
        out.reviewed = True
        out.repairs += 1
        if kept:
            self._take(a, out)

    # -- voting ----------------------------------------------------------------------

    def _vote(self, samples: list[SampleOutcome]) -> Vote:
        verdicts = [verdict(s.result.status, s.result.objective) if s.result is not None else None for s in samples]
        return vote(verdicts, rel_tol=self.tolerance, abs_tol=1e-6,
                    findings=[len(s.findings) for s in samples], repairs=[s.repairs for s in samples])

    async def arun(self, text: str, solve: bool = True) -> Outcome:
        """Formulate, repair, solve and vote. With solve=False, stop after a valid formulation."""
        trace = self.trace = Trace(model=getattr(self.backend, "model", "") or "", mode=self.mode)
        drafts = await self._first_drafts(text, trace)  # a backend may return fewer than asked
        samples = list(await asyncio.gather(
            *(self._run_sample(k, d, text, trace, solve) for k, d in enumerate(drafts[: self.samples]))))
        if solve:
            v = self._vote(samples)
            trace.vote = v.to_json()
            chosen, agree = v.chosen, v.size
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



class StagedDraft(dict):
    """An assembled staged formulation that remembers its stage answers, so a repair can redo only the
    constraints that fail."""

    def __init__(self, formulation: dict, entities, classification, filled: dict, text: str):
        super().__init__(formulation)
        self.entities, self.classification, self.filled, self.text = entities, classification, filled, text

    def __reduce__(self):  # a plain dict in a process pool: assess needs only the formulation
        return (dict, (dict(self),))


_CONSTRAINT_PATH = re.compile(r"^constraints\[(\d+)\]")


def _failing_constraints(problems: list[str], draft: StagedDraft) -> list[str]:
    """Names of the constraints the problems are about, when every problem is about a constraint's slots
    (or its forall/where); else [] (then the whole formulation is repaired)."""
    names = [c.name for c in draft.classification.constraints]
    out = []
    for p in problems:
        m = _CONSTRAINT_PATH.match(p)
        if not m or int(m.group(1)) >= len(names) or not re.match(r"^constraints\[\d+\]\.(slots|forall|where)", p):
            return []
        if names[int(m.group(1))] not in out:
            out.append(names[int(m.group(1))])
    return out


STAGE_RETRIES = 1  # a stage-1/2/3 reply that fails its own check is asked again once, the earlier stages kept
REVIEW_KINDS = ("unused_number", "unused_variable", "unconstrained_variable")


def _reply_json(reply: str) -> dict:
    if isinstance(reply, CutOff):  # before extracting: a cut-off reply may hold a complete inner object
        raise NoJSONFound("the reply was cut off at the token limit before the JSON was complete; "
                          "write it more compactly")
    return extract_json(reply)


def _stage_problems(e: Exception) -> list[str]:
    if isinstance(e, ValidationError):
        return [f"{'.'.join(str(x) for x in err['loc'])}: {err['msg']}" for err in e.errors()[:10]]
    return [str(e).splitlines()[0][:300]]


def _classification(obj: dict, text: str) -> P.Classification:
    """Stage 2's reply, with what its schema cannot say: names unique, a direction for every template
    that takes one, none that contradicts the template."""
    c = P.Classification.model_validate(obj)
    problems, seen = [], set()
    for k, item in enumerate(c.constraints):
        where = f"constraints[{k}] ({item.name})"
        if item.name in seen:
            problems.append(f"{where}: the name {item.name} is used twice; names are unique")
        seen.add(item.name)
        implied = P.IMPLIED_SENSE.get(item.template)
        if P.has_direction(item.template) and item.sense is None:
            problems.append(f"{where}: {item.template} needs a sense from the direction word (<=, >= or ==)")
        elif implied and item.sense not in (None, implied):
            other = "lower_bound" if implied == "<=" else "upper_bound"
            problems.append(f"{where}: {item.template} means {implied}; for {item.sense} use {other}")
        elif not P.has_direction(item.template) and not implied:
            item.sense = None  # a template without a direction: a sense written there means nothing
    if problems:
        raise ValueError("; ".join(problems))
    return c


def _filled(obj: dict, classification: P.Classification) -> dict:
    if not isinstance(obj, dict) or not isinstance(obj.get("objective"), dict) \
            or not isinstance(obj.get("constraints"), dict):
        raise ValueError("expected {\"notes\", \"objective\": {\"expr\"}, \"constraints\": {name: {...}}}")
    missing = [c.name for c in classification.constraints if c.name not in obj["constraints"]]
    if missing:
        raise ValueError(f"constraints: missing {', '.join(missing)}; fill every classified constraint")
    if not isinstance(obj["objective"].get("expr"), str):
        raise ValueError("objective.expr: required")
    return obj


def assemble(entities: P.Entities, classification: P.Classification, filled: dict) -> dict:
    """The formulation from the three stage answers: stage 2 decides names, sources, templates and
    directions; stage 3 only fills slots."""
    constraints = []
    for c in classification.constraints:
        entry = filled["constraints"].get(c.name)
        entry = entry if isinstance(entry, dict) else {}
        slots = dict(entry.get("slots") or {}) if isinstance(entry.get("slots"), dict) else entry.get("slots")
        if isinstance(slots, dict) and c.sense is not None:
            if "sense" in P.slot_fields(c.template):
                slots["sense"] = c.sense
            elif c.template == "k_of_n":
                slots["mode"] = P.MODE_OF_SENSE[c.sense]
        out = {"name": c.name, "source": c.source, "template": c.template, "slots": slots}
        if entry.get("forall"):
            out["forall"] = entry["forall"]
        if entry.get("where") is not None:
            out["where"] = entry["where"]
        constraints.append(out)
    ent = entities.model_dump(mode="json", exclude={"notes"})
    objective = {"sense": classification.objective.sense, "expr": filled["objective"]["expr"],
                 "description": classification.objective.description}
    return {"version": "1", **ent, "objective": objective, "constraints": constraints}


def _model_json(f: Formulation) -> str:
    """A formulation as the model writes it (schema order, no file-only fields)."""
    d = f.model_dump(mode="json", exclude={"version", "name", "problem"})
    return json.dumps(P.ordered({"notes": "", **d}), separators=(",", ":"), ensure_ascii=False)

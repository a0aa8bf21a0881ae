"""Live progress on stderr while the model works: stage, sample, tokens received, elapsed time.

    progress = StageProgress(render.err())
    pipeline = Pipeline(backend, ..., on_event=progress.on_event)
    backend.on_tokens = progress.on_tokens        # streaming backends report tokens as they arrive
    with progress:
        pipeline.run(text)

Shown only when stderr is a terminal (not TERM=dumb): a spinner line that rich redraws in place (and clears
at the end). When stderr is a file or a pipe nothing is written, so logs and `2>&1` captures
stay clean; stdout is never touched. The same object also remembers what was in flight, for
the message after Ctrl-C.
"""

from __future__ import annotations

import time

from rich.console import Console, Group
from rich.live import Live
from rich.spinner import Spinner
from rich.text import Text

# Pipeline stage names -> the words users see
STAGE_WORDS = {"entities": "entities", "classify": "classification", "fill": "slots",
               "formulation": "formulation", "repair": "repair", "check": "checking and solving"}


def stage_words(stage: str, rnd: int = 0) -> str:
    word = STAGE_WORDS.get(stage, stage)
    return f"{word} {rnd}" if stage == "repair" else word


class StageProgress:
    """Follows `StageEvent`s and token counts; draws a spinner line on a terminal."""

    def __init__(self, console: Console, label: str = "", samples: int = 1):
        self.console = console
        self.label = label
        self.samples = samples
        self.enabled = console.is_terminal and not console.is_dumb_terminal  # a line redrawn in place needs cursor moves
        self.started = time.monotonic()
        self.in_flight: dict[tuple[int, str, int], float] = {}  # (sample, stage, round) -> start time
        self.last: tuple[int, str, int] | None = None  # the latest stage started
        self.done_tokens = 0  # completion tokens of finished requests
        self.live_tokens = 0  # tokens streamed for requests still running
        self.requests = 0
        self._live: Live | None = None

    # -- inputs ----------------------------------------------------------------------

    def on_event(self, ev) -> None:
        key = (ev.sample, ev.stage, ev.round)
        if ev.kind == "start":
            self.in_flight[key] = time.monotonic()
            self.last = key
        elif ev.kind == "end":
            self.in_flight.pop(key, None)
            if ev.stage != "check":
                self.requests += 1
                self.done_tokens += ev.completion_tokens
                # the streamed count of this request is now in done_tokens
                self.live_tokens = max(0, self.live_tokens - ev.completion_tokens)

    def on_tokens(self, n: int) -> None:
        self.live_tokens += max(0, int(n))

    # -- what is going on ------------------------------------------------------------

    @property
    def tokens(self) -> int:
        return self.done_tokens + self.live_tokens

    @property
    def elapsed(self) -> float:
        return time.monotonic() - self.started

    def doing(self) -> str:
        """'classification (sample 2 of 3)', or '' before the first stage."""
        keys = list(self.in_flight) or ([self.last] if self.last else [])
        if not keys:
            return ""
        stages = []
        for sample, stage, rnd in keys:
            words = stage_words(stage, rnd)
            if words not in stages:
                stages.append(words)
        samples = sorted({k[0] for k in keys})
        where = ", ".join(stages)
        if self.samples > 1 and len(samples) == 1 and samples[0] < self.samples and keys[0][1] != "entities":
            where += f" (sample {samples[0] + 1} of {self.samples})"
        elif len(samples) > 1:
            where += f" ({len(samples)} samples)"
        return where

    def line(self) -> Text:
        t = Text()
        if self.label:
            t.append(f"{self.label}  ", style="bold")
        t.append(self.doing() or "starting", style="cyan")
        t.append(f"  {self.tokens:,} tokens  {_clock(self.elapsed)}", style="dim")
        return t

    def __rich__(self):
        return Group(Spinner("dots", text=self.line()))

    # -- display ---------------------------------------------------------------------

    def __enter__(self):
        self.started = time.monotonic()
        if self.enabled:
            self._live = Live(self, console=self.console, refresh_per_second=8, transient=True)
            self._live.__enter__()
        return self

    def __exit__(self, *exc) -> None:
        if self._live is not None:
            self._live.__exit__(*exc)
            self._live = None


def _clock(seconds: float) -> str:
    m, s = divmod(int(seconds), 60)
    return f"{m}:{s:02d}"


class RequestCounter:
    """Wraps a backend to count requests in flight, answered, and tokens received (for `nlopt eval`'s bar,
    whose problem count only moves when a whole problem is done)."""

    def __init__(self, inner, on_change=None):
        self.inner = inner
        self.on_change = on_change or (lambda: None)
        self.in_flight = 0
        self.answered = 0
        self.done_tokens = 0
        self.live_tokens = 0

    @property
    def model(self):
        return self.inner.model

    @property
    def tokens(self) -> int:
        return self.done_tokens + self.live_tokens

    def on_tokens(self, n: int) -> None:
        self.live_tokens += max(0, int(n))
        self.on_change()

    async def acomplete(self, req):
        self.in_flight += 1
        self.on_change()
        try:
            done = await self.inner.acomplete(req)
        finally:
            self.in_flight -= 1
        self.answered += 1
        self.done_tokens += done.completion_tokens
        self.live_tokens = max(0, self.live_tokens - done.completion_tokens)
        self.on_change()
        return done

    def complete(self, req):
        return self.inner.complete(req)

    def complete_batch(self, reqs):
        return self.inner.complete_batch(reqs)

    def describe(self) -> dict:
        return self.inner.describe()

    def close(self) -> None:
        self.inner.close()

    def status(self) -> str:
        return f"{self.in_flight} in flight, {self.answered:,} answered, {self.tokens:,} tokens"

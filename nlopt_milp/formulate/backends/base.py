"""The backend interface: one chat request in, a few completion texts out.

Every backend (an OpenAI-compatible HTTP server, an on-disk cache, an in-process
vLLM engine) speaks these few types, so the rest of the program never needs to
know which one it is talking to.
"""

from __future__ import annotations

import asyncio
import json
import re
from dataclasses import dataclass, field


class BackendError(RuntimeError):
    """The model could not be asked, or did not answer usefully."""


class BackendUnavailable(BackendError):
    """No server answers at the configured address."""


class NoJSONFound(ValueError):
    """A completion text holds no JSON object."""


@dataclass(frozen=True)
class ChatRequest:
    messages: list[dict]
    schema: dict | None = None  # JSON Schema the reply must follow; None = free text
    schema_name: str = "formulation"
    n: int = 1  # number of samples wanted
    temperature: float = 0.0
    max_tokens: int | None = None
    seed: int | None = None
    sample: int = 0  # which sample of a run asks: part of the cache key, so equal prompts of two samples differ


@dataclass
class Completion:
    texts: list[str]  # one per sample, len == request.n
    model: str
    prompt_tokens: int = 0
    completion_tokens: int = 0
    seconds: float = 0.0
    finish_reasons: list[str] = field(default_factory=list)  # per text: "stop", "length" (cut off), ...


class Backend:
    """Base class: subclasses implement `complete`; the rest has usable defaults."""

    model: str

    def complete(self, req: ChatRequest) -> Completion:
        raise NotImplementedError

    async def acomplete(self, req: ChatRequest) -> Completion:
        # Fallback for blocking backends: keep the event loop free.
        return await asyncio.to_thread(self.complete, req)

    def complete_batch(self, reqs: list[ChatRequest]) -> list[Completion]:
        """Answer many requests; backends that can batch natively override this."""
        return [self.complete(r) for r in reqs]

    def describe(self) -> dict:
        return {"backend": type(self).__name__, "model": getattr(self, "model", None)}

    def close(self) -> None:
        pass

    def __enter__(self):
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()


# --- tolerant parsing of completion texts ------------------------------------------

_FENCED = re.compile(r"```[ \t]*(?:json|JSON)?[ \t]*\r?\n(.*?)```", re.DOTALL)


def extract_json(text: str) -> dict:
    """The JSON object in a completion: the whole text, a ```json block, or the
    first parseable {...} inside prose. Raises NoJSONFound otherwise."""
    stripped = text.strip()
    try:
        value = json.loads(stripped)
    except ValueError:
        pass
    else:
        if isinstance(value, dict):
            return value
    for block in _FENCED.findall(text):
        try:
            value = json.loads(block)
        except ValueError:
            continue
        if isinstance(value, dict):
            return value
    # raw_decode parses one value starting at an offset and ignores what follows,
    # which finds the first balanced object even with prose on both sides.
    decoder = json.JSONDecoder()
    start = text.find("{")
    while start != -1:
        try:
            value, _ = decoder.raw_decode(text, start)
        except ValueError:
            pass
        else:
            if isinstance(value, dict):
                return value
        start = text.find("{", start + 1)
    preview = " ".join(stripped.split())[:60]
    raise NoJSONFound(f"no JSON object in model output ({len(text)} chars): {preview!r}")

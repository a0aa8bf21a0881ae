"""The backend interface: one chat request in, a few completion texts out.

Every backend (an OpenAI-compatible HTTP server, an on-disk cache, an in-process
vLLM engine) speaks these few types, so the rest of the program never needs to
know which one it is talking to.
"""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field


class BackendError(RuntimeError):
    """The model could not be asked, or did not answer usefully."""


class BackendUnavailable(BackendError):
    """No server answers at the configured address."""


class DeadlineExceeded(BackendError):
    """The command's --deadline passed while waiting for the model."""


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
    # Called with the number of new completion tokens as a reply streams in (about one
    # per content chunk), for progress displays; wrappers pass it to the wrapped backend.
    on_tokens: Callable[[int], None] | None = None

    @property
    def requested_model(self) -> str:
        """The model as configured, without asking a server ("" = the server's default).
        Replay caches key on this, so that they work offline."""
        return self.model

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

# Deeper JSON is refused: Python's parser recurses once per level (RecursionError near
# 1,000), and no formulation nests more than a dozen levels.
MAX_JSON_DEPTH = 200

_JSON_SYNTAX = re.compile(r'\\.|["{}\[\]]', re.DOTALL)
_FENCED = re.compile(r"```[ \t]*(?:json|JSON)?[ \t]*\r?\n(.*?)```", re.DOTALL)


def _loads_object(text: str) -> dict | None:
    try:
        value = json.loads(text)
    except (ValueError, RecursionError):
        return None
    return value if isinstance(value, dict) else None


def _object_spans(text: str) -> tuple[list[tuple[int, int]], bool]:
    """The outermost balanced {...} spans of `text` (in order), found in one linear pass,
    and whether the scan stopped at a nesting deeper than MAX_JSON_DEPTH.

    Quotes count only inside braces (prose has apostrophes and stray quotes). A span
    that closes inside a brace that never closes is still outermost: that brace is prose.
    """
    spans_at: list[list[tuple[int, int]]] = [[]]  # per open level: closed spans directly inside it
    opens: list[tuple[int, str]] = []  # (position, bracket) of the open brackets
    in_string = False
    closers = {"}": "{", "]": "["}
    for m in _JSON_SYNTAX.finditer(text):  # only the characters that matter (fast on prose)
        ch, i = m.group(), m.start()
        if len(ch) == 2:  # a backslash escape: skip both characters
            continue
        if in_string:
            in_string = ch != '"'
            continue
        if ch == "{" or (ch == "[" and opens):
            if len(opens) >= MAX_JSON_DEPTH:
                return _flatten(spans_at), True
            opens.append((i, ch))
            spans_at.append([])
        elif ch in closers and opens:
            start, bracket = opens.pop()
            inner = spans_at.pop()
            if bracket == "{" and ch == "}":
                spans_at[-1].append((start, i + 1))  # contains `inner`, which is dropped
            else:  # an array, or mismatched brackets: keep the objects inside
                spans_at[-1].extend(inner)
        elif ch == '"' and opens:
            in_string = True
    return _flatten(spans_at), False


def _flatten(spans_at: list[list[tuple[int, int]]]) -> list[tuple[int, int]]:
    return sorted(span for level in spans_at for span in level)


def extract_json(text: str) -> dict:
    """The JSON object in a completion: the whole text, a ```json block, or the
    first parseable {...} inside prose. Raises NoJSONFound otherwise.

    Linear in the text: one scan finds the candidate objects, each character is parsed
    at most a few times, and nesting beyond MAX_JSON_DEPTH is refused."""
    spans, too_deep = _object_spans(text)
    stripped = text.strip()
    if not too_deep:
        value = _loads_object(stripped)
        if value is not None:
            return value
    for block in _FENCED.findall(text):
        value = _loads_object(block)
        if value is not None:
            return value
    for start, end in spans:
        value = _loads_object(text[start:end])
        if value is not None:
            return value
    preview = " ".join(stripped[:200].split())[:60]
    if too_deep:
        raise NoJSONFound(f"no usable JSON object in model output ({len(text)} chars): it nests deeper than "
                          f"{MAX_JSON_DEPTH} levels: {preview!r}")
    raise NoJSONFound(f"no JSON object in model output ({len(text)} chars): {preview!r}")

"""Record and replay completions on disk, so runs (and tests) can repeat
without a model server.

Keys hold the model *as configured* ("" for the server's default), never a name
that only the server knows: a replay needs no server when every request is a hit,
with the same arguments as the recording run."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import tempfile
from pathlib import Path

from .base import Backend, BackendError, ChatRequest, Completion


def request_key(model: str, req: ChatRequest) -> str:
    # model: as configured; "" means "whatever the server serves by default".
    """sha256 of the canonical JSON of everything that shapes the answer."""
    payload = {
        "model": model,
        "messages": req.messages,
        "schema": req.schema,
        "n": req.n,
        "temperature": req.temperature,
        "max_tokens": req.max_tokens,
        "seed": req.seed,
    }
    if req.sample:  # left out for sample 0, so keys recorded before the field existed still match
        payload["sample"] = req.sample
    canonical = json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


class CachedBackend(Backend):
    def __init__(self, inner: Backend | None, directory: str | os.PathLike, model: str | None = None):
        self.inner = inner
        self.directory = Path(directory)
        self._model = model or None
        self._served_model: str | None = None  # the model of the last completion served
        self.hits = self.misses = 0

    @property
    def requested_model(self) -> str:
        if self._model:
            return self._model
        return self.inner.requested_model if self.inner is not None else ""

    @property
    def model(self) -> str:
        """The model's name; asks the server only when it is not configured, and falls
        back to the recorded name when no server answers (offline replay)."""
        if self._model:
            return self._model
        if self.inner is not None:
            try:
                return self.inner.model
            except BackendError:
                pass
        return self._served_model or self.requested_model

    @property
    def on_tokens(self):
        return self.inner.on_tokens if self.inner is not None else None

    @on_tokens.setter
    def on_tokens(self, callback) -> None:
        if self.inner is not None:
            self.inner.on_tokens = callback

    def path_for(self, req: ChatRequest) -> Path:
        return self.directory / f"{request_key(self.requested_model, req)}.json"

    def complete(self, req: ChatRequest) -> Completion:
        path = self.path_for(req)
        cached = self._load(path)
        if cached is not None:
            return cached
        completion = self._inner_or_raise(path).complete(req)
        self._store(path, req, completion)
        return completion

    async def acomplete(self, req: ChatRequest) -> Completion:
        path = self.path_for(req)
        cached = self._load(path)
        if cached is not None:
            return cached
        completion = await self._inner_or_raise(path).acomplete(req)
        self._store(path, req, completion)
        return completion

    def describe(self) -> dict:
        return {
            "backend": "cache",
            "directory": str(self.directory),
            "model": self.requested_model or None,
            "inner": self.inner.describe() if self.inner is not None else None,
        }

    def close(self) -> None:
        if self.inner is not None:
            self.inner.close()

    def _inner_or_raise(self, path: Path) -> Backend:
        self.misses += 1
        if self.inner is None:
            raise BackendError(f"cache miss ({path.name} not in {self.directory}) and no server configured")
        return self.inner

    def _load(self, path: Path) -> Completion | None:
        try:
            record = json.loads(path.read_text(encoding="utf-8"))
            completion = Completion(**record["completion"])
        except (OSError, ValueError, KeyError, TypeError, RecursionError):
            return None  # absent or unreadable: a miss, rewritten after the call
        self.hits += 1
        self._served_model = completion.model
        return completion

    def _store(self, path: Path, req: ChatRequest, completion: Completion) -> None:
        record = {
            "model": self.requested_model,  # as configured ("" = the server's default) ...
            "served_by": completion.model,  # ... and what answered
            "request": dataclasses.asdict(req),
            "completion": dataclasses.asdict(completion),
        }
        self.directory.mkdir(parents=True, exist_ok=True)
        # Write to a temporary file and rename, so readers never see half a file.
        fd, tmp = tempfile.mkstemp(dir=self.directory, prefix=path.stem, suffix=".tmp")
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as f:
                json.dump(record, f, ensure_ascii=False, indent=1)
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise

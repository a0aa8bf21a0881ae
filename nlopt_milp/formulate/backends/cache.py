"""Record and replay completions on disk, so runs (and tests) can repeat
without a model server."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import tempfile
from pathlib import Path

from .base import Backend, BackendError, ChatRequest, Completion


def request_key(model: str, req: ChatRequest) -> str:
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
        if inner is None and not model:
            raise ValueError("CachedBackend without an inner backend needs a model name for its keys")
        self.inner = inner
        self.directory = Path(directory)
        self._model = model
        self.hits = self.misses = 0

    @property
    def model(self) -> str:
        return self.inner.model if self.inner is not None else self._model

    def path_for(self, req: ChatRequest) -> Path:
        return self.directory / f"{request_key(self.model, req)}.json"

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
            "model": self.model if self.inner is None else None,
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
        except (OSError, ValueError, KeyError, TypeError):
            return None  # absent or unreadable: a miss, rewritten after the call
        self.hits += 1
        return completion

    def _store(self, path: Path, req: ChatRequest, completion: Completion) -> None:
        record = {
            "model": self.model,
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

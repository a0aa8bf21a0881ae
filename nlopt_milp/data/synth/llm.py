"""Several servers behind one backend (the limits on concurrency are in `formulate.backends.throttle`)."""

from __future__ import annotations

import itertools


class RoundRobin:
    """Spreads requests over several backends (one per `--base-url`)."""

    def __init__(self, backends: list):
        if not backends:
            raise ValueError("no backend")
        self.backends = backends
        self._next = itertools.cycle(range(len(backends)))

    @property
    def model(self) -> str:
        return getattr(self.backends[0], "model", "") or ""

    async def acomplete(self, req):
        return await self.backends[next(self._next)].acomplete(req)

    def complete(self, req):
        return self.backends[next(self._next)].complete(req)

    def close(self) -> None:
        for b in self.backends:
            close = getattr(b, "close", None)
            if close is not None:
                close()

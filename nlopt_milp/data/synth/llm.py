"""LLM plumbing shared by the stages: several servers, bounded concurrency."""

from __future__ import annotations

import asyncio
import itertools
from typing import AsyncIterator, Awaitable, Callable, Iterable, TypeVar

T = TypeVar("T")
R = TypeVar("R")


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


async def bounded(items: Iterable[T], fn: Callable[[T], Awaitable[R]], concurrency: int) -> AsyncIterator[R]:
    """Results of fn over items, as they finish, with at most `concurrency` running (items read lazily)."""
    it = iter(items)
    running: set[asyncio.Task] = set()

    def fill() -> None:
        while len(running) < max(1, concurrency):
            try:
                item = next(it)
            except StopIteration:
                return
            running.add(asyncio.ensure_future(fn(item)))

    fill()
    try:
        while running:
            done, _ = await asyncio.wait(running, return_when=asyncio.FIRST_COMPLETED)
            for task in done:
                running.discard(task)
            fill()
            for task in done:
                yield task.result()
    finally:
        for task in running:
            task.cancel()

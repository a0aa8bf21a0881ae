"""Concurrency limits shared by `nlopt eval run` and the `nlopt synth` stages.

`Throttled` caps the requests in flight (`--concurrency`). A slot is held only while the
model answers: parsing, checking and solving a reply go on outside the limit, so a
reply that waits for the solver pool never holds the next request back.

`bounded` caps the items (problems, instances) in progress. Run with a few times more
items than request slots, the slot freed by a reply goes at once to a request of another
item, memory stays bounded however long the input, and when solving falls behind the
replies the items waiting for the solver fill the backlog and no new ones start.
"""

from __future__ import annotations

import asyncio
from typing import AsyncIterator, Awaitable, Callable, Iterable, TypeVar

from .base import Backend, ChatRequest, Completion

T = TypeVar("T")
R = TypeVar("R")

ITEMS_PER_SLOT = 2  # items in progress per request slot: one waiting for its reply, one being checked and solved


def backlog(concurrency: int) -> int:
    """Items in progress for `concurrency` requests in flight."""
    return ITEMS_PER_SLOT * max(1, concurrency)


class Throttled(Backend):
    """At most `limit` requests in flight to `inner` (over all the servers behind it together)."""

    def __init__(self, inner, limit: int):
        self.inner = inner
        self.gate = asyncio.Semaphore(max(1, limit))

    @property
    def model(self) -> str:
        return getattr(self.inner, "model", "") or ""

    async def acomplete(self, req: ChatRequest) -> Completion:
        async with self.gate:
            return await self.inner.acomplete(req)

    def complete(self, req: ChatRequest) -> Completion:
        return self.inner.complete(req)


async def bounded(items: Iterable[T], fn: Callable[[T], Awaitable[R]], limit: int) -> AsyncIterator[R]:
    """Results of fn over items, as they finish, with at most `limit` running (items read lazily, in order)."""
    it = iter(items)
    running: set[asyncio.Task] = set()

    def fill() -> None:
        while len(running) < max(1, limit):
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

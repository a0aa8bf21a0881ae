"""Gather concurrent requests into one batched call.

An in-process engine (vLLM) is fastest when all prompts of a stage go into one
`generate` call. The eval runner starts every problem at once, so the requests of a
stage arrive together: this wrapper collects the requests that arrive within a short
window and answers them with one `complete_batch` call of the inner backend.
"""

from __future__ import annotations

import asyncio

from .base import Backend, ChatRequest, Completion


class BatchingBackend(Backend):
    def __init__(self, inner: Backend, window: float = 0.05, max_batch: int = 4096):
        self.inner = inner
        self.window = window  # seconds to wait for more requests after the first
        self.max_batch = max_batch
        self.batches: list[int] = []  # sizes of the batches sent, for logs and tests
        self.retried: list[int] = []  # sizes of failed batches that were asked again one by one
        self._pending: list[tuple[ChatRequest, asyncio.Future]] = []
        self._flusher: asyncio.Task | None = None

    @property
    def model(self) -> str:
        return self.inner.model

    @property
    def requested_model(self) -> str:
        return self.inner.requested_model

    @property
    def on_tokens(self):
        return self.inner.on_tokens

    @on_tokens.setter
    def on_tokens(self, callback) -> None:
        self.inner.on_tokens = callback

    def complete(self, req: ChatRequest) -> Completion:
        return self.inner.complete(req)

    def complete_batch(self, reqs: list[ChatRequest]) -> list[Completion]:
        return self.inner.complete_batch(reqs)

    async def acomplete(self, req: ChatRequest) -> Completion:
        fut = asyncio.get_running_loop().create_future()
        self._pending.append((req, fut))
        if len(self._pending) >= self.max_batch:
            await self._flush()
        elif self._flusher is None or self._flusher.done():
            self._flusher = asyncio.create_task(self._flush_later())
        return await fut

    async def _flush_later(self) -> None:
        await asyncio.sleep(self.window)
        await self._flush()

    async def _flush(self) -> None:
        batch, self._pending = self._pending, []
        if not batch:
            return
        self.batches.append(len(batch))
        try:
            results = await asyncio.to_thread(self.inner.complete_batch, [r for r, _ in batch])
        except Exception as e:
            if len(batch) == 1:
                _settle(batch[0][1], error=e)
                return
            # One bad request (too long, a schema the engine cannot compile) fails a whole engine call:
            # ask again one by one, so that only the bad one fails.
            self.retried.append(len(batch))
            for req, fut in batch:
                self.batches.append(1)
                try:
                    (res,) = await asyncio.to_thread(self.inner.complete_batch, [req])
                except Exception as single:
                    _settle(fut, error=single)
                else:
                    _settle(fut, result=res)
            return
        for (_, fut), res in zip(batch, results):
            _settle(fut, result=res)

    def describe(self) -> dict:
        return {**self.inner.describe(), "batching": True}

    def close(self) -> None:
        self.inner.close()


def _settle(fut: asyncio.Future, result=None, error: Exception | None = None) -> None:
    if fut.done():  # the waiter gave up (cancelled)
        return
    if error is not None:
        fut.set_exception(error)
    else:
        fut.set_result(result)

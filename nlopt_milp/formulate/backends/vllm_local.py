"""vLLM inside this process (the optional `vllm` extra), for batch runs on a GPU
without a server. vllm is imported only when this backend is used."""

from __future__ import annotations

import asyncio
import threading
import time
from typing import Any

from .base import Backend, BackendError, ChatRequest, Completion

GREEDY_BELOW = 1e-5  # vLLM treats temperatures under this as greedy decoding


def build_sampling_params(req: ChatRequest) -> Any:
    """vllm.SamplingParams for one request, with JSON-schema constrained decoding.

    vLLM renamed its structured output API: newer releases take
    `structured_outputs=StructuredOutputsParams(json=...)`, older ones
    `guided_decoding=GuidedDecodingParams(json=...)`. Use whichever exists.
    """
    from vllm import SamplingParams
    from vllm import sampling_params as sp

    # max_tokens=None lets vLLM use the rest of the context (its default is 16).
    # Greedy decoding has a single answer and vLLM refuses n > 1 for it; the
    # caller repeats that answer.
    kwargs: dict[str, Any] = {
        "n": 1 if req.temperature < GREEDY_BELOW else req.n,
        "temperature": req.temperature,
        "max_tokens": req.max_tokens,
        "seed": req.seed,
    }
    if req.schema is not None:
        if hasattr(sp, "StructuredOutputsParams"):
            # no free whitespace: a grammar that allows it lets small models run on in blanks
            kwargs["structured_outputs"] = sp.StructuredOutputsParams(json=req.schema, disable_any_whitespace=True)
        elif hasattr(sp, "GuidedDecodingParams"):
            kwargs["guided_decoding"] = sp.GuidedDecodingParams(json=req.schema)
        else:
            raise BackendError("this vllm version offers no JSON-schema constrained decoding")
    return SamplingParams(**kwargs)


class VLLMBackend(Backend):
    def __init__(self, model: str, **engine_kwargs: Any):
        try:
            from vllm import LLM
        except ImportError as exc:
            raise BackendError("in-process vLLM needs the extra: pip install 'nlopt-milp[vllm]'") from exc
        self.model = model
        self.engine_kwargs = engine_kwargs
        self._llm = LLM(model=model, **engine_kwargs)
        self._lock = threading.Lock()  # one engine, one generate call at a time

    def complete(self, req: ChatRequest) -> Completion:
        return self.complete_batch([req])[0]

    async def acomplete(self, req: ChatRequest) -> Completion:
        return await asyncio.to_thread(self.complete, req)

    def complete_batch(self, reqs: list[ChatRequest]) -> list[Completion]:
        """All requests in ONE LLM.chat call, so vLLM schedules them together."""
        if not reqs:
            return []
        params = [build_sampling_params(r) for r in reqs]
        started = time.perf_counter()
        with self._lock:
            outputs = self._llm.chat([r.messages for r in reqs], sampling_params=params, use_tqdm=False)
        # The batch's wall time, shared out evenly: per-request latency is not observable.
        seconds = (time.perf_counter() - started) / len(reqs)
        completions = []
        for req, out in zip(reqs, outputs):
            texts = [o.text for o in out.outputs]
            completions.append(
                Completion(
                    texts=(texts * req.n)[: req.n],  # greedy requests got one answer; repeat it
                    model=self.model,
                    prompt_tokens=len(out.prompt_token_ids or []),
                    completion_tokens=sum(len(o.token_ids) for o in out.outputs),
                    seconds=seconds,
                    finish_reasons=([str(getattr(o, "finish_reason", None) or "") for o in out.outputs] * req.n)[: req.n],
                )
            )
        return completions

    def describe(self) -> dict:
        return {"backend": "vllm", "model": self.model, "engine": dict(self.engine_kwargs)}

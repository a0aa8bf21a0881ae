"""vLLM inside this process (the optional `vllm` extra), for batch runs on a GPU
without a server. vllm is imported only when this backend is used.

Needs vllm >= 0.11: `LLM.chat` over a list of conversations (batched since 0.6.3) and
`SamplingParams(structured_outputs=StructuredOutputsParams(json=...))` (0.10.2; the older
`guided_decoding` form went with the V0 engine in 0.11).
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
from pathlib import Path
from typing import Any

from .base import Backend, BackendError, ChatRequest, Completion

GREEDY_BELOW = 1e-5  # vLLM treats temperatures under this as greedy decoding
MIN_VERSION = (0, 11)
INSTALL_HINT = ('install the vllm extra of nlopt: pip install -e ".[vllm]" in the nlopt source directory '
                '(or pip install "nlopt-milp[vllm]" from a wheel)')

# Engine settings passed through to vllm.LLM: name -> (type, check, what a valid value is)
ENGINE_ARGS: dict[str, tuple[type, Any, str]] = {
    "max_model_len": (int, lambda v: v >= 1, "a whole number of tokens >= 1"),
    "gpu_memory_utilization": (float, lambda v: 0 < v <= 1, "a fraction in (0, 1]"),
    "tensor_parallel_size": (int, lambda v: v >= 1, "a number of GPUs >= 1"),
    "dtype": (str, lambda v: v in ("auto", "half", "float16", "bfloat16", "float", "float32"),
              "auto, half, float16, bfloat16, float or float32"),
    "quantization": (str, lambda v: bool(v.strip()), "a quantization method vLLM knows, e.g. awq, gptq, fp8"),
    "enable_prefix_caching": (bool, lambda v: True, "true or false"),
}
MAX_ENGINE_CONFIG_BYTES = 64_000


class EngineArgError(ValueError):
    """An engine setting that vLLM would not take; the message says which and why."""


def _typed(key: str, value: Any, from_text: bool) -> Any:
    if key not in ENGINE_ARGS:
        raise EngineArgError(f"unknown engine setting {key!r}; known: {', '.join(ENGINE_ARGS)}")
    kind, ok, valid = ENGINE_ARGS[key]
    raw = value  # errors quote what the user wrote
    try:
        if kind is bool:
            if from_text:
                low = str(value).strip().lower()
                if low not in ("true", "false", "1", "0", "yes", "no"):
                    raise ValueError
                value = low in ("true", "1", "yes")
            elif not isinstance(value, bool):
                raise ValueError
        elif kind is int:
            if isinstance(value, bool) or (not from_text and not isinstance(value, int)):
                raise ValueError
            value = int(str(value).strip(), 10) if from_text else value
        elif kind is float:
            if isinstance(value, bool) or (not from_text and not isinstance(value, (int, float))):
                raise ValueError
            value = float(value)
            if value != value or value in (float("inf"), float("-inf")):
                raise ValueError
        elif not isinstance(value, str):
            raise ValueError
    except ValueError:
        raise EngineArgError(f"engine setting {key}: {raw!r} is not {valid}") from None
    if not ok(value):
        raise EngineArgError(f"engine setting {key}: {raw!r} is not {valid}")
    return value


def engine_args(pairs: list[str] | None = None, config_file: str | None = None) -> dict[str, Any]:
    """vllm.LLM keyword arguments from a JSON file and KEY=VALUE pairs (pairs win), checked against ENGINE_ARGS."""
    out: dict[str, Any] = {}
    if config_file:
        p = Path(config_file)
        try:
            if p.stat().st_size > MAX_ENGINE_CONFIG_BYTES:
                raise EngineArgError(f"{config_file}: larger than {MAX_ENGINE_CONFIG_BYTES:,} bytes")
            data = json.loads(p.read_text(encoding="utf-8"))
        except OSError as e:
            raise EngineArgError(f"{config_file}: cannot read: {e.strerror or e}") from None
        except ValueError as e:
            raise EngineArgError(f"{config_file}: not JSON: {e}") from None
        if not isinstance(data, dict):
            raise EngineArgError(f"{config_file}: expected a JSON object of engine settings")
        out.update({k: _typed(k, v, from_text=False) for k, v in data.items()})
    for pair in pairs or []:
        key, eq, value = pair.partition("=")
        if not eq:
            raise EngineArgError(f"engine setting {pair!r}: write KEY=VALUE, e.g. max_model_len=8192")
        out[key.strip()] = _typed(key.strip(), value, from_text=True)
    return out


def version_tuple(version: str) -> tuple[int, ...]:
    """(major, minor, micro) of a version string; () when it is not one."""
    from packaging.version import InvalidVersion, Version

    try:
        return Version(version).release[:3]
    except InvalidVersion:
        return ()


def _import_vllm():
    try:
        import vllm
    except ImportError as exc:
        raise BackendError(f"in-process vLLM is not installed; {INSTALL_HINT}") from exc
    return vllm


def build_sampling_params(req: ChatRequest, vllm: Any = None) -> Any:
    """vllm.SamplingParams for one request, with JSON-schema constrained decoding (vllm >= 0.11)."""
    vllm = vllm or _import_vllm()
    SamplingParams, sp = vllm.SamplingParams, vllm.sampling_params

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
        if not hasattr(sp, "StructuredOutputsParams"):
            raise BackendError(f"vllm {getattr(vllm, '__version__', '?')} has no StructuredOutputsParams; "
                               f"nlopt needs vllm >= {'.'.join(map(str, MIN_VERSION))}")
        # no free whitespace: a grammar that allows it lets small models run on in blanks
        kwargs["structured_outputs"] = sp.StructuredOutputsParams(json=req.schema, disable_any_whitespace=True)
    return SamplingParams(**kwargs)


class VLLMBackend(Backend):
    """`vllm` is the module to use (default: import it); tests pass a stand-in."""

    def __init__(self, model: str, vllm: Any = None, **engine_kwargs: Any):
        self._vllm = vllm or _import_vllm()  # engine settings are checked by the CLI (engine_args); here any pass
        self.model = model
        self.engine_kwargs = engine_kwargs
        self._llm = self._vllm.LLM(model=model, **engine_kwargs)
        self._lock = threading.Lock()  # one engine, one generate call at a time

    def complete(self, req: ChatRequest) -> Completion:
        return self.complete_batch([req])[0]

    async def acomplete(self, req: ChatRequest) -> Completion:
        return await asyncio.to_thread(self.complete, req)

    def complete_batch(self, reqs: list[ChatRequest]) -> list[Completion]:
        """All requests in ONE LLM.chat call, so vLLM schedules them together."""
        if not reqs:
            return []
        params = [build_sampling_params(r, self._vllm) for r in reqs]
        started = time.perf_counter()
        try:
            with self._lock:
                outputs = self._llm.chat([r.messages for r in reqs], sampling_params=params, use_tqdm=False)
        except BackendError:
            raise
        except Exception as e:  # vLLM raises ValueError & co. for a too-long prompt or a schema it cannot compile
            raise BackendError(f"vLLM refused the batch of {len(reqs)}: {type(e).__name__}: {e}") from e
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

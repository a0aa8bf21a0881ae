"""The LLM layer: one small interface, several backends.

    backend = OpenAIBackend.from_env()            # any OpenAI-compatible server
    backend = CachedBackend(backend, ".cache/llm") # record / replay
    completion = backend.complete(ChatRequest(messages, schema=json_schema(), n=3))
    formulation = extract_json(completion.texts[0])
"""

from .backends.base import (
    Backend,
    BackendError,
    BackendUnavailable,
    ChatRequest,
    Completion,
    NoJSONFound,
    extract_json,
)
from .backends.batching import BatchingBackend
from .backends.cache import CachedBackend, request_key
from .backends.openai_compatible import (
    DEFAULT_BASE_URL,
    PROBE_SCHEMA,
    STRUCTURED_FORMS,
    OpenAIBackend,
    forget_structured_forms,
)
from .backends.vllm_local import VLLMBackend, build_sampling_params

__all__ = [
    "Backend",
    "BackendError",
    "BackendUnavailable",
    "BatchingBackend",
    "CachedBackend",
    "ChatRequest",
    "Completion",
    "DEFAULT_BASE_URL",
    "NoJSONFound",
    "OpenAIBackend",
    "PROBE_SCHEMA",
    "STRUCTURED_FORMS",
    "VLLMBackend",
    "build_sampling_params",
    "extract_json",
    "forget_structured_forms",
    "request_key",
]

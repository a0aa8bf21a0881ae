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
    DeadlineExceeded,
    Completion,
    NoJSONFound,
    extract_json,
)
from .backends.batching import BatchingBackend
from .backends.cache import CachedBackend, request_key
from .backends.openai_compatible import (
    DEFAULT_BASE_URL,
    DEFAULT_MAX_REPLY_BYTES,
    PROBE_SCHEMA,
    STRUCTURED_FORMS,
    NotAnLLMServer,
    OpenAIBackend,
    ReplyTooLarge,
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
    "DeadlineExceeded",
    "DEFAULT_MAX_REPLY_BYTES",
    "NotAnLLMServer",
    "ReplyTooLarge",
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

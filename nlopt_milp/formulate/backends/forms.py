"""How structured output is asked of a server, and which form each server accepted.

Forms, best first: "json_schema" (the OpenAI standard), "json_object" with a "schema"
key (llama.cpp's servers turn that schema into a grammar; every other server ignores
the key and only promises *some* JSON), "none" (no response_format; tolerant parsing).

A server is never moved to a form it silently ignores: vLLM and SGLang honour
json_schema and are never demoted (their errors are reported); json_object is tried
only on llama.cpp servers or when the server's own error names it as the accepted
alternative; anything else goes straight to "none".

The accepted form is remembered per (server URL, model) in this process and in a small
JSON file in the user's cache directory (`$XDG_CACHE_HOME/nlopt/structured_forms.json`,
else `~/.cache/nlopt/...`), so a new CLI call does not first send a request that fails.
An entry is used only while the server lists the same models.
"""

from __future__ import annotations

import json
import os
import re
import tempfile
import time
from pathlib import Path

STRUCTURED_FORMS = ("json_schema", "json_object", "none")
FORMS_FILE = "structured_forms.json"
_MAX_FILE_BYTES = 1_000_000  # a bigger file is not ours to parse: start afresh
_MAX_ENTRIES = 200

# /v1/models "owned_by" -> server family.
_FAMILIES = {"vllm": "vllm", "sglang": "sglang", "llamacpp": "llama-server", "me": "llama-cpp-python",
             "library": "ollama", "ollama": "ollama"}
NEVER_DEMOTED = ("vllm", "sglang")
_FORMS_OF = {
    "vllm": ("json_schema",),
    "sglang": ("json_schema",),
    "llama-server": ("json_schema", "json_object"),
    "llama-cpp-python": ("json_schema", "json_object"),
    "ollama": ("json_schema", "none"),  # Ollama's json_object ignores the schema
}

# A server refusing the *type* of response_format we sent, e.g.
#   llama-cpp-python: "1 validation error for ResponseFormat: Input should be 'text' or 'json_object'"
#   llama-server (older): 'response_format type must be one of "text" or "json_object", but got: json_schema'
#   others: "unknown field: response_format", "response_format is not supported"
_FORMAT_REJECTION = re.compile(
    r"""Input should be 'text'|must be one of ["']text["']"""
    r"|response_format\W.{0,60}\b(not supported|unsupported|not allowed|not permitted|unknown|invalid type)"
    r"|\b(unknown|unsupported|unrecognized|unexpected|extra)\b.{0,40}\b(response_format|json_schema)\b",
    re.IGNORECASE | re.DOTALL,
)
# The server's message names json_object as what it accepts (llama.cpp's servers).
_JSON_OBJECT_OFFERED = re.compile(r"""['"]json_object['"]""")

_memory: dict[tuple[str, str], str] = {}


def server_family(owned_by: object) -> str:
    return _FAMILIES.get(str(owned_by or "").lower(), "unknown")


def is_format_rejection(error_text: str) -> bool:
    return _FORMAT_REJECTION.search(error_text) is not None


def next_form(family: str, rejected: str, error_text: str) -> str | None:
    """The form to try after `rejected` was refused with `error_text`; None: do not demote."""
    if family in NEVER_DEMOTED or rejected == "none":
        return None
    allowed = _FORMS_OF.get(family, STRUCTURED_FORMS)
    later = [f for f in allowed if STRUCTURED_FORMS.index(f) > STRUCTURED_FORMS.index(rejected)]
    if family == "unknown" and "json_object" in later and not _JSON_OBJECT_OFFERED.search(error_text):
        later.remove("json_object")  # it may be accepted and its schema silently ignored
    return later[0] if later else "none"  # asking for nothing is never silently ignored


def cache_path() -> Path:
    import platformdirs

    return Path(platformdirs.user_cache_dir("nlopt", appauthor=False)) / FORMS_FILE


def _key(base_url: str, model: str) -> str:
    return f"{base_url} {model}"


def _read() -> dict:
    try:
        path = cache_path()
        if path.stat().st_size > _MAX_FILE_BYTES:
            return {}
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError, RecursionError):
        return {}
    servers = data.get("servers") if isinstance(data, dict) else None
    return servers if isinstance(servers, dict) else {}


def remembered(base_url: str, model: str, models: list[str] | None) -> str | None:
    """The form this server and model accepted before, if its model list is unchanged."""
    form = _memory.get((base_url, model))
    if form is not None:
        return form
    entry = _read().get(_key(base_url, model))
    if not isinstance(entry, dict) or entry.get("form") not in STRUCTURED_FORMS:
        return None
    if entry.get("models") != sorted(models or []):
        return None  # the server changed: negotiate again
    _memory[(base_url, model)] = entry["form"]
    return entry["form"]


def remember(base_url: str, model: str, models: list[str] | None, form: str) -> None:
    """Note the accepted form in memory and (best effort, atomically) in the cache file."""
    if _memory.get((base_url, model)) == form:
        return
    _memory[(base_url, model)] = form
    servers = _read()
    servers[_key(base_url, model)] = {"form": form, "models": sorted(models or []), "saved": int(time.time())}
    if len(servers) > _MAX_ENTRIES:  # keep the newest
        newest = sorted(servers.items(), key=lambda kv: -(kv[1].get("saved", 0) if isinstance(kv[1], dict) else 0))
        servers = dict(newest[:_MAX_ENTRIES])
    try:
        path = cache_path()
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".forms", suffix=".tmp")
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as f:
                json.dump({"version": 1, "servers": servers}, f, indent=1)
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
    except OSError:
        pass  # a read-only cache directory costs one failed request next time, nothing more


def forget() -> None:
    """Forget this process's memory of accepted forms (the file stays)."""
    _memory.clear()

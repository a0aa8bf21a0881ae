"""Reading formulation input for the CLI: a .json file, a .jsonl file, or stdin (`-`).

Only the standard library is used here (plus `core.io`, and `core.validate` imported
lazily), so `nlopt --help` stays fast. Every read goes through `core.io`: a document is
capped at `core.io.limit()` bytes, JSON lines are streamed one line at a time (each line
capped). Problems with the input as a whole (missing file, a directory, binary data,
too large) raise `InputError`; problems with one record (bad JSON, a line past the cap,
not UTF-8, an integer of too many digits) are carried on that record, so a JSON-lines
input with one bad line still goes on with the others.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from ..core import io as cio
from ..core.io import InputFileError as InputError  # noqa: F401 - the CLI's name for it


@dataclass
class Record:
    """One formulation of the input: loaded and checked, or with the issues found."""

    source: str  # "file.json", "file.jsonl:3", "<stdin>:2"
    line: int | None  # line number for JSON lines, else None
    formulation: object | None = None  # a valid nlopt_milp.core.formulation.Formulation
    issues: list = field(default_factory=list)  # list[core.validate.Issue]
    name: str = ""

    @property
    def valid(self) -> bool:
        return self.formulation is not None and not self.issues


STDIN = cio.STDIN


def _decode(data: bytes, source: str) -> str:
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        raise InputError(source, f"not UTF-8 text (invalid byte at offset {e.start})") from None


def read_text(path: str) -> tuple[str, str]:
    """(text, source name) of a whole file or stdin, capped; raise InputError on anything unreadable."""
    source = "<stdin>" if path == STDIN else path
    text = _decode(cio.read_capped(path, source=source), source)
    if not text.strip():
        raise InputError(source, "is empty" if path != STDIN else "no input on standard input")
    return text, source


def _parses(text: str) -> bool:
    try:
        json.loads(text)
        return True
    except (ValueError, RecursionError):  # JSONDecodeError, too many digits
        return False


def iter_chunks(path: str) -> Iterator[tuple[str, int | None, str | None, str | None]]:
    """The formulation texts of an input: (source, line number or None, JSON text, or None
    and why the line is unusable).

    `.json` files hold one object; `.jsonl` files are JSON lines, streamed; anything else
    (stdin included) is detected: one JSON document if the whole text (within the cap)
    parses or is a single line, else JSON lines. An input past the cap whose first line is
    a JSON document on its own is streamed as JSON lines.
    """
    cap = cio.limit()
    suffix = Path(path).suffix.lower() if path != STDIN else ""
    fh, size, source = cio.open_input(path, "<stdin>" if path == STDIN else None)
    try:
        if suffix == ".jsonl":
            yield from _lines(fh, cap, source, b"")
            return
        if size is not None and size > cap and suffix == ".json":
            raise cio.InputTooLarge(source, cio.too_large_message(cap, f"input ({size:,} bytes)"))
        data, complete = cio.read_prefix(fh, cap, source)
        if not complete:
            first = data.split(b"\n", 1)[0]
            if suffix != ".json" and b"\n" in data and len(first) <= cap \
                    and _parses(first.decode("utf-8-sig", "replace")):
                yield from _lines(fh, cap, source, data)
                return
            raise cio.InputTooLarge(source, cio.too_large_message(cap))
        text = _decode(data, source)
        if not text.strip():
            raise InputError(source, "is empty" if path != STDIN else "no input on standard input")
        if suffix == ".json":
            yield source, None, text, None
            return
        lines = [ln for ln in text.splitlines() if ln.strip()]
        if len(lines) <= 1 or _parses(text):
            yield source, None, text, None
            return
        yield from _lines(None, cap, source, data)
    finally:
        if fh is not getattr(sys.stdin, "buffer", None):
            fh.close()


def _lines(fh, cap: int, source: str, prefix: bytes):
    import io

    any_line = False
    for k, raw in cio.iter_lines(fh if fh is not None else io.BytesIO(b""), cap, source=source, prefix=prefix):
        src = f"{source}:{k}"
        if raw is None:
            any_line = True
            yield src, k, None, cio.too_large_message(cap, "line")
            continue
        try:
            line = raw.decode("utf-8-sig" if k == 1 else "utf-8")
        except UnicodeDecodeError as e:
            any_line = True
            yield src, k, None, f"not UTF-8 text (invalid byte at column {e.start + 1})"
            continue
        if line.strip():
            any_line = True
            yield src, k, line, None
    if not any_line:
        raise InputError(source, "is empty")


def iter_records(path: str, max_terms: int | None = None) -> Iterator[Record]:
    """Read, parse and check every formulation of `path` (a file or `-`), one at a time;
    `max_terms` is the size limit of `check` (None: its default).

    Whole-input errors raise InputError (possibly after some records were yielded).
    """
    from ..core.validate import FormulationError, Issue, check, load

    for src, line, chunk, error in iter_chunks(path):
        rec = Record(src, line)
        if chunk is None:
            rec.issues = [Issue("", error)]
            yield rec
            continue
        chunk, wrapper_error, wrapper_name = _unwrap(chunk)
        if wrapper_error is not None:
            rec.issues = [Issue("formulation", wrapper_error)]
            rec.name = wrapper_name
            yield rec
            continue
        try:
            f = load(chunk, src)
        except FormulationError as e:
            rec.issues = list(e.issues)
            rec.name = _guess_name(chunk) or wrapper_name
            yield rec
            continue
        except (ValueError, RecursionError, MemoryError) as e:
            # e.g. an integer past Python's 4,300-digit conversion limit: this record only
            rec.issues = [Issue("", f"invalid JSON: {_reason(e)}")]
            yield rec
            continue
        except Exception as e:  # noqa: BLE001 - a loader bug must not stop the batch
            rec.issues = [Issue("", f"internal error while reading: {type(e).__name__}: {_reason(e)}")]
            yield rec
            continue
        rec.name = f.name or wrapper_name
        try:
            rec.issues = check(f, max_terms)
        except Exception as e:  # a checker bug must not become a traceback
            rec.issues = [Issue("", f"internal error while checking: {type(e).__name__}: {_reason(e)}")]
        if not rec.issues:
            rec.formulation = f
        yield rec


def load_records(path: str) -> list[Record]:
    """Every record of `path` at once (small inputs; the commands stream with iter_records)."""
    return list(iter_records(path))


def _reason(e: BaseException) -> str:
    text = str(e)
    if isinstance(e, ValueError) and "integer string conversion" in text:
        return f"a number with more than {sys.get_int_max_str_digits():,} digits"
    return text[:300] + ("..." if len(text) > 300 else "")


def _unwrap(chunk: str):
    """Records of `nlopt data import-nl4opt` ({id, document, formulation, error, notes}) hold the
    formulation under "formulation": return (formulation JSON or the original chunk, error, id)."""
    if '"formulation"' not in chunk:
        return chunk, None, ""
    try:
        obj = json.loads(chunk)
    except (ValueError, RecursionError):
        return chunk, None, ""
    if not isinstance(obj, dict) or "formulation" not in obj or "variables" in obj:
        return chunk, None, ""
    rid = str(obj.get("id", "")) if obj.get("id") is not None else ""
    inner = obj["formulation"]
    if inner is None:
        return chunk, f"no formulation: {obj.get('error') or 'the record was not converted'}", rid
    return inner, None, rid


def _guess_name(chunk) -> str:
    try:
        obj = json.loads(chunk) if isinstance(chunk, (str, bytes)) else chunk
    except Exception:
        return ""
    name = obj.get("name") if isinstance(obj, dict) else None
    return name if isinstance(name, str) else ""

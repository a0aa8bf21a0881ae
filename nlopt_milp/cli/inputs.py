"""Reading formulation input for the CLI: a .json file, a .jsonl file, or stdin (`-`).

Only the standard library is used here (plus `core.validate`, imported lazily), so
`nlopt --help` stays fast. Problems with the input as a whole (missing file, a
directory, not UTF-8, empty) raise `InputError`; problems with one record are carried
on that record, so a JSON-lines file with one bad line still solves the others.
"""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass, field
from pathlib import Path


class InputError(Exception):
    """The input as a whole cannot be read; `source` names the file (or `<stdin>`)."""

    def __init__(self, source: str, message: str):
        self.source = source
        self.message = message
        super().__init__(f"{source}: {message}")


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


STDIN = "-"


def read_text(path: str) -> tuple[str, str]:
    """(text, source name) of a file or of stdin; raise InputError on anything unreadable."""
    if path == STDIN:
        source = "<stdin>"
        try:
            data = sys.stdin.buffer.read() if hasattr(sys.stdin, "buffer") else sys.stdin.read().encode("utf-8")
        except OSError as e:
            raise InputError(source, f"cannot read standard input: {e.strerror or e}") from None
    else:
        source = path
        p = Path(path)
        if not p.exists():
            raise InputError(source, "no such file")
        if p.is_dir():
            raise InputError(source, "is a directory, not a formulation file")
        try:
            data = p.read_bytes()
        except OSError as e:
            raise InputError(source, f"cannot read file: {e.strerror or e}") from None
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        raise InputError(source, f"not UTF-8 text (invalid byte at offset {e.start})") from None
    if not text.strip():
        raise InputError(source, "is empty" if path != STDIN else "no input on standard input")
    return text, source


def split_records(path: str, text: str, source: str) -> list[tuple[str, int | None, str]]:
    """The formulation texts of an input: [(source, line number or None, JSON text)].

    `.jsonl` files are JSON lines; `.json` files hold one object; anything else
    (stdin included) is detected: one JSON document if the whole text parses (or is
    a single line), else JSON lines.
    """
    suffix = Path(path).suffix.lower() if path != STDIN else ""
    if suffix == ".json":
        return [(source, None, text)]
    if suffix != ".jsonl":
        lines = [ln for ln in text.splitlines() if ln.strip()]
        if len(lines) <= 1:
            return [(source, None, text)]
        try:
            json.loads(text)
            return [(source, None, text)]
        except (json.JSONDecodeError, RecursionError):
            pass
    out = []
    for k, line in enumerate(text.splitlines(), start=1):
        if line.strip():
            out.append((f"{source}:{k}", k, line))
    if not out:
        raise InputError(source, "is empty")
    return out


def load_records(path: str, max_terms: int | None = None) -> list[Record]:
    """Read, parse and check every formulation of `path` (a file or `-`); `max_terms` is
    the size limit of `check` (None: its default)."""
    from ..core.validate import FormulationError, Issue, check, load

    text, source = read_text(path)
    records = []
    for src, line, chunk in split_records(path, text, source):
        rec = Record(src, line)
        chunk, wrapper_error, wrapper_name = _unwrap(chunk)
        if wrapper_error is not None:
            rec.issues = [Issue("formulation", wrapper_error)]
            rec.name = wrapper_name
            records.append(rec)
            continue
        try:
            f = load(chunk, src)
        except FormulationError as e:
            rec.issues = list(e.issues)
            rec.name = _guess_name(chunk) or wrapper_name
            records.append(rec)
            continue
        rec.name = f.name or wrapper_name
        try:
            rec.issues = check(f, max_terms)
        except Exception as e:  # a checker bug must not become a traceback
            rec.issues = [Issue("", f"internal error while checking: {type(e).__name__}: {e}")]
        if not rec.issues:
            rec.formulation = f
        records.append(rec)
    return records


def _unwrap(chunk: str):
    """Records of `nlopt data import-nl4opt` ({id, document, formulation, error, notes}) hold the
    formulation under "formulation": return (formulation JSON or the original chunk, error, id)."""
    if '"formulation"' not in chunk:
        return chunk, None, ""
    try:
        obj = json.loads(chunk)
    except (json.JSONDecodeError, RecursionError):
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

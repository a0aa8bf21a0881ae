"""Appending JSONL files that several stages write: locked, resumable, never clobbered."""

from __future__ import annotations

import fcntl
import json
from pathlib import Path


class SynthError(Exception):
    """Bad input or a state the user must resolve (the CLI exits with code 2)."""


MAX_LINE_BYTES = 16_000_000  # one record; a longer line is not ours
DEFAULT_MAX_FILE_BYTES = 4 << 30  # a whole stage file (about a million records); NLOPT_MAX_SYNTH_FILE_BYTES


def max_file_bytes() -> int:
    import os

    return int(os.environ.get("NLOPT_MAX_SYNTH_FILE_BYTES", DEFAULT_MAX_FILE_BYTES))


def read_records(path: Path, repair: bool = False) -> list[dict]:
    """The records of a JSONL file. With `repair`, a torn last line (a killed writer) is cut off."""
    try:
        size, cap = path.stat().st_size, max_file_bytes()
        if size > cap:  # checked before reading: the records are held in memory
            raise SynthError(f"{path}: {size:,} bytes is over the limit of {cap:,} for a synth stage file "
                             "(raise it with NLOPT_MAX_SYNTH_FILE_BYTES, or split the run)")
        raw = path.read_bytes()
    except FileNotFoundError:
        return []
    except OSError as e:
        raise SynthError(f"{path}: cannot read: {e.strerror}") from None
    good_end = raw.rfind(b"\n") + 1
    out = []
    for n, line in enumerate(raw[:good_end].splitlines(), 1):
        if not line.strip():
            continue
        if len(line) > MAX_LINE_BYTES:
            raise SynthError(f"{path}:{n}: a line of {len(line):,} bytes is too long (limit {MAX_LINE_BYTES:,})")
        try:
            rec = json.loads(line)
        except ValueError as e:
            raise SynthError(f"{path}:{n}: not JSON ({e})") from None
        if not isinstance(rec, dict):
            raise SynthError(f"{path}:{n}: expected a JSON object per line")
        out.append(rec)
    tail = raw[good_end:]
    if tail.strip():
        if not repair:
            try:
                rec = json.loads(tail)
            except ValueError:
                raise SynthError(f"{path}: the last line is cut off (a killed run?); rerun with --resume") from None
            out.append(rec)
        else:
            with open(path, "r+b") as fh:  # only files a synth stage wrote: resume requires one of ours
                fh.truncate(good_end)
    return out


class Appender:
    """An exclusive, append-only writer: one JSON line per record, flushed at once."""

    def __init__(self, path: Path, resume: bool):
        path.parent.mkdir(parents=True, exist_ok=True)
        if path.is_dir():
            raise SynthError(f"{path}: is a directory")
        if not resume and path.exists() and path.stat().st_size > 0:
            raise SynthError(f"{path}: exists; continue it with --resume or choose another output")
        self.path = path
        self.fh = open(path, "a", encoding="utf-8")
        try:
            fcntl.flock(self.fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            self.fh.close()
            raise SynthError(f"{path}: another process is writing it (locked)") from None

    def write(self, rec: dict) -> None:
        self.fh.write(json.dumps(rec, sort_keys=False, ensure_ascii=False) + "\n")
        self.fh.flush()

    def close(self) -> None:
        if not self.fh.closed:
            fcntl.flock(self.fh, fcntl.LOCK_UN)
            self.fh.close()

    def __enter__(self) -> "Appender":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def open_output(path: Path, resume: bool) -> tuple[Appender, list[dict]]:
    """(writer, records already there). Without `resume` an existing non-empty file is an error.

    The lock is taken before the torn tail is cut, so a live writer's line is never touched.
    """
    app = Appender(path, resume)
    try:
        done = read_records(path, repair=True) if resume else []
    except BaseException:
        app.close()
        raise
    return app, done

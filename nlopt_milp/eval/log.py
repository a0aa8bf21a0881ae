"""The eval log: one JSON Lines file per run, created or resumed, locked, appended, never destroyed.

Line 1 is the header (``{"type": "header", ...}``: the run's provenance, see
``cli/eval_cmd.py`` and the README); then one ``{"type": "result", ...}`` line per problem,
keyed by its stable ``problem_id``; a resumed session adds a ``{"type": "resume", ...}`` line
with its own provenance before its results.

* :func:`open_log` refuses an existing log unless the caller resumes or overwrites it, refuses
  to resume a log of another run (benchmark data, model, scoring, ... see :data:`IDENTITY`)
  unless forced, and holds an exclusive ``flock`` on it until closed: a second writer fails
  fast instead of interleaving lines.
* :meth:`EvalLog.append` writes one whole line or nothing: after a failed write (disk full,
  file-size limit) the partial line is cut off and :class:`LogWriteError` raised, so the log
  stays valid and resumable.
"""

from __future__ import annotations

import errno
import fcntl
import json
import os
import stat
from dataclasses import dataclass, field
from pathlib import Path

from ..core.files import is_disk_full

LOG_FORMAT = 2  # 1: the headers before stable problem ids (no dataset hash)

# What a resumed log must agree on with the new session: the header fields whose change makes
# the old results incomparable with the new ones. The subset (--limit/--ids), the server URL,
# concurrency, threads and time limit may change between sessions.
IDENTITY = ("benchmark", "dataset_sha256", "backend", "model", "prompt_version", "scoring",
            "pipeline.mode", "pipeline.samples", "pipeline.max_repairs", "pipeline.temperature",
            "solve.solver", "solve.mip_gap")


class LogError(Exception):
    """The log cannot be used as asked; `reason` says why and what to do (exit 2)."""

    def __init__(self, path: str | os.PathLike, reason: str):
        super().__init__(f"{path}: {reason}")
        self.path, self.reason = str(path), reason


class LogWriteError(Exception):
    """Writing the log failed (disk full, I/O error); the log holds every line written before."""

    def __init__(self, path: Path, exc: OSError, written: int):
        self.path, self.exc, self.written = path, exc, written
        self.disk_full = is_disk_full(exc)
        what = "the disk is full" if self.disk_full else f"cannot write ({exc.strerror or exc})"
        super().__init__(f"{path}: {what}; {written} problem(s) of this session are in the log, "
                         "which is intact; free space and rerun with --resume")


def _field(header: dict, dotted: str):
    value = header
    for part in dotted.split("."):
        value = value.get(part) if isinstance(value, dict) else None
    return value


def mismatches(old: dict, new: dict) -> list[str]:
    """The identity fields on which two headers differ, as ``field: old != new`` texts."""
    out = []
    for key in IDENTITY:
        a, b = _field(old, key), _field(new, key)
        if a != b:
            out.append(f"{key}: {json.dumps(a)} != {json.dumps(b)}")
    return out


@dataclass
class EvalLog:
    path: Path
    fd: int
    header: dict  # the log's own header (the first line), for a resumed log the old one
    done: set[str] = field(default_factory=set)  # problem ids with a result line
    written: int = 0  # result lines appended by this session

    def append(self, obj: dict) -> None:
        data = (json.dumps(obj, ensure_ascii=False) + "\n").encode("utf-8")
        start = os.fstat(self.fd).st_size  # we hold the lock: nobody else moves the end
        try:
            view = memoryview(data)
            while view:
                n = os.write(self.fd, view)
                view = view[n:]
        except OSError as exc:
            try:
                os.ftruncate(self.fd, start)  # cut our partial line; shrinking needs no space
            except OSError:
                pass
            raise LogWriteError(self.path, exc, self.written) from exc
        if obj.get("type") == "result":
            self.written += 1
            self.done.add(str(obj.get("problem_id")))

    def close(self) -> None:
        if self.fd >= 0:
            os.close(self.fd)  # also releases the lock
            self.fd = -1

    def __enter__(self) -> "EvalLog":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def _describe(st: os.stat_result) -> str | None:
    if stat.S_ISDIR(st.st_mode):
        return "is a directory; give a file for --out"
    if not stat.S_ISREG(st.st_mode):
        return "is not a regular file (a device, FIFO or socket); give a file for --out"
    return None


def _open_fd(path: Path) -> tuple[int, bool]:
    """An O_APPEND descriptor of ``path`` and whether this call created the file."""
    flags = os.O_RDWR | os.O_APPEND | getattr(os, "O_CLOEXEC", 0)
    try:
        return os.open(path, flags | os.O_CREAT | os.O_EXCL, 0o644), True
    except FileExistsError:
        pass
    except OSError as exc:
        raise LogError(path, _os_reason(exc)) from exc
    try:
        st = os.stat(path)
    except OSError as exc:
        raise LogError(path, _os_reason(exc)) from exc
    problem = _describe(st)
    if problem:
        raise LogError(path, problem)
    try:
        return os.open(path, flags), False
    except OSError as exc:
        raise LogError(path, _os_reason(exc)) from exc


def _os_reason(exc: OSError) -> str:
    if exc.errno == errno.ELOOP:
        return "a symbolic link loop"
    return exc.strerror or str(exc)


def _read_existing(path: Path, fd: int) -> tuple[dict | None, set[str], int]:
    """(header, done problem ids, offset after the last whole line) of an existing log."""
    size = os.fstat(fd).st_size
    raw = os.pread(fd, size, 0) if size else b""
    good_end = raw.rfind(b"\n") + 1
    header: dict | None = None
    done: set[str] = set()
    for k, line in enumerate(raw[:good_end].splitlines()):
        try:
            obj = json.loads(line)
        except ValueError:
            obj = None
        if k == 0:
            if not (isinstance(obj, dict) and obj.get("type") == "header"):
                raise LogError(path, "is not an nlopt eval log (its first line is not a header); give another --out")
            header = obj
            continue
        if isinstance(obj, dict) and obj.get("type") == "result" and obj.get("problem_id") is not None:
            done.add(str(obj["problem_id"]))
    if header is None and raw.strip():
        raise LogError(path, "is not an nlopt eval log (no complete header line); give another --out")
    return header, done, good_end


def check_log_target(path: str | os.PathLike, *, resume: bool = False, overwrite: bool = False) -> None:
    """The checks of :func:`open_log` that need no header, to refuse before any work is done
    (`open_log` repeats them under the lock)."""
    path = Path(path)
    try:
        st = os.stat(path)
    except FileNotFoundError:
        return
    except OSError as exc:
        raise LogError(path, _os_reason(exc)) from exc
    problem = _describe(st)
    if problem:
        raise LogError(path, problem)
    if st.st_size and not (resume or overwrite):
        raise LogError(path, "already exists and is not empty; use --resume to continue it or --overwrite to replace it")
    if st.st_size and resume:
        first = b""
        try:
            with open(path, "rb") as fh:
                first = fh.readline(1 << 20)
            obj = json.loads(first) if first.endswith(b"\n") else None
        except (OSError, ValueError):
            obj = None
        if not (isinstance(obj, dict) and obj.get("type") == "header") and first.strip():
            raise LogError(path, "is not an nlopt eval log (its first line is not a header); give another --out")


def open_log(path: str | os.PathLike, header: dict, *, resume: bool = False, overwrite: bool = False,
             force: bool = False) -> EvalLog:
    """Open the log of a session: a new one, a resumed one, or (``overwrite``) a replaced one.

    The returned log is locked and ends with a newline; its header is written when it is new.
    """
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise LogError(path, f"cannot create its directory: {_os_reason(exc)}") from exc
    fd, created = _open_fd(path)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        raise LogError(path, "is in use by another nlopt eval run (it holds the lock); "
                             "wait for it to finish or give another --out") from None
    try:
        size = os.fstat(fd).st_size
        if size and overwrite:
            os.ftruncate(fd, 0)  # the user asked for it; done under the lock
            size = 0
        if size and not resume:
            raise LogError(path, "already exists and is not empty; "
                                 "use --resume to continue it or --overwrite to replace it")
        log = EvalLog(path, fd, header)
        if not size:
            log.append({"type": "header", **header})
            return log
        old, done, good_end = _read_existing(path, fd)
        if old is None:  # blank lines only: nothing to keep
            os.ftruncate(fd, 0)
            log.append({"type": "header", **header})
            return log
        diff = mismatches(old, header)
        if diff and not force and old.get("format") is None:
            raise LogError(path, "was written by an older nlopt (no stable problem ids or dataset hash), so "
                                 "it cannot be resumed; give another --out")
        if diff and not force:
            raise LogError(path, f"is the log of another run ({'; '.join(diff)}); resuming would mix "
                                 "incomparable results: give another --out, or --force to resume anyway")
        if good_end != size:
            os.ftruncate(fd, good_end)  # a torn last line of a killed run of this log
        log.header, log.done = old, done
        log.append({"type": "resume", **header, **({"forced": diff} if diff else {})})
        return log
    except BaseException:
        if created and os.fstat(fd).st_size == 0:
            try:
                os.unlink(path)  # ours and empty: leave nothing behind
            except OSError:
                pass
        os.close(fd)
        raise

"""Reading input files and stdin with a size cap: the one reader every command uses.

- `read_capped(path, limit)` reads a whole document (a `.json` formulation, a problem
  text): a regular file larger than the cap is refused before reading, a stream (stdin,
  a FIFO, /dev/zero) is refused as soon as it passes the cap.
- `iter_lines(fh, limit)` streams JSON lines: one line in memory at a time, each line
  capped; a longer line is reported (as `None`) and skipped, the others go on.
- `path_problem(path)` says what a path is when it cannot be read as a file: a
  directory, a symlink loop, a dangling symlink, permission denied, a socket.

JSON text never holds a raw NUL byte, so one means binary data: `InputFileError` at
once (this is what stops `/dev/zero` and sparse files early).

The cap defaults to `DEFAULT_MAX_INPUT_BYTES`; the environment variable
`NLOPT_MAX_INPUT_BYTES` or `nlopt --max-input-bytes` (which calls `set_limit`) raise it.
"""

from __future__ import annotations

import errno
import os
import re
import stat
import sys
from collections.abc import Iterator
from typing import BinaryIO

DEFAULT_MAX_INPUT_BYTES = 16 * 1024 * 1024  # per document, and per line of JSON lines
ENV_VAR = "NLOPT_MAX_INPUT_BYTES"
STDIN = "-"
CHUNK = 1 << 16

_override: int | None = None


class InputFileError(Exception):
    """An input cannot be read as a whole; `source` names it, `message` says why."""

    def __init__(self, source: str, message: str):
        self.source = source
        self.message = message
        super().__init__(f"{source}: {message}")


class InputTooLarge(InputFileError):
    pass


_SIZE = re.compile(r"^\s*(\d+)\s*([kmg]i?b?|b)?\s*$", re.IGNORECASE)


def parse_size(text: str) -> int:
    """`1048576`, `64k`, `16M`, `2GiB` -> bytes (powers of 1024); ValueError otherwise."""
    m = _SIZE.match(str(text))
    if not m:
        raise ValueError(f"not a size: {text!r} (use bytes, or a number with K, M or G)")
    n = int(m.group(1))
    unit = (m.group(2) or "b")[0].lower()
    n *= {"b": 1, "k": 1 << 10, "m": 1 << 20, "g": 1 << 30}[unit]
    if n < 1:
        raise ValueError("the input limit must be at least 1 byte")
    return n


def set_limit(n: int | None) -> None:
    """Set the cap for this process (`nlopt --max-input-bytes`); None restores the default."""
    global _override
    _override = n


def limit() -> int:
    """The cap in bytes: `set_limit`, else $NLOPT_MAX_INPUT_BYTES, else the default."""
    if _override is not None:
        return _override
    env = os.environ.get(ENV_VAR, "").strip()
    if env:
        try:
            return parse_size(env)
        except ValueError as e:
            raise InputFileError(ENV_VAR, str(e)) from None
    return DEFAULT_MAX_INPUT_BYTES


def human(n: int) -> str:
    for unit, size in (("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)):
        if n >= size and n % size == 0:
            return f"{n // size} {unit}"
    return f"{n:,} bytes"


def too_large_message(cap: int, what: str = "input") -> str:
    return (f"{what} is larger than the input limit of {human(cap)}; raise it with "
            f"--max-input-bytes or {ENV_VAR}")


# --- what a path is ------------------------------------------------------------------


def _kind(mode: int) -> str:
    if stat.S_ISDIR(mode):
        return "a directory"
    if stat.S_ISFIFO(mode):
        return "a FIFO"
    if stat.S_ISCHR(mode):
        return "a character device"
    if stat.S_ISBLK(mode):
        return "a block device"
    if stat.S_ISSOCK(mode):
        return "a socket"
    return "a regular file"


def _os_error_message(e: OSError, path: str) -> str:
    if e.errno == errno.ELOOP:
        return "is a symlink loop (too many levels of symbolic links)"
    if e.errno == errno.ENOENT:
        try:
            if stat.S_ISLNK(os.lstat(path).st_mode):
                return f"is a dangling symlink (its target {os.readlink(path)!r} does not exist)"
        except OSError:
            pass
        return "no such file"
    if e.errno in (errno.EACCES, errno.EPERM):
        return "permission denied"
    if e.errno == errno.ENOTDIR:
        return "no such file (a part of the path is not a directory)"
    if e.errno == errno.EISDIR:
        return "is a directory, not a file"
    if e.errno == errno.ENAMETOOLONG:
        return "file name too long"
    return f"cannot read: {e.strerror or e}"


def path_problem(path: str | os.PathLike) -> str | None:
    """Why `path` cannot be read as an input file (a phrase after "PATH: "), or None.

    Regular files, FIFOs and character devices (/dev/stdin, process substitution) are
    readable kinds; directories, sockets and block devices are not.
    """
    p = os.fspath(path)
    try:
        st = os.stat(p)
    except OSError as e:
        return _os_error_message(e, p)
    except ValueError:  # an embedded NUL in the name
        return "not a valid file name"
    kind = _kind(st.st_mode)
    if kind == "a directory":
        return "is a directory, not a file"
    if kind in ("a socket", "a block device"):
        return f"is {kind}, not a regular file"
    return None


def open_input(path: str | os.PathLike, source: str | None = None) -> tuple[BinaryIO, int | None, str]:
    """(binary file object, size of a regular file or None, source name); `-` is stdin.

    Raises InputFileError with what the path is when it cannot be opened.
    """
    p = os.fspath(path)
    if p == STDIN:
        fh = getattr(sys.stdin, "buffer", None)
        if fh is None:  # a text stream swapped in by a test runner
            import io as _io

            fh = _io.BytesIO(sys.stdin.read().encode("utf-8", "surrogatepass"))
        return fh, None, source or "<stdin>"
    source = source or p
    problem = path_problem(p)
    if problem:
        raise InputFileError(source, problem)
    try:
        fh = open(p, "rb")  # noqa: SIM115 - the caller closes it
        st = os.fstat(fh.fileno())
    except OSError as e:
        raise InputFileError(source, _os_error_message(e, p)) from None
    return fh, (st.st_size if stat.S_ISREG(st.st_mode) else None), source


def _check_nul(data: bytes, offset: int, source: str) -> None:
    k = data.find(b"\x00")
    if k != -1:
        raise InputFileError(source, f"looks like a binary file (NUL byte at offset {offset + k}); expected text")


def read_capped(path: str | os.PathLike, cap: int | None = None, *, source: str | None = None,
                what: str = "input") -> bytes:
    """The bytes of a file or stdin (`-`), at most `cap` (default `limit()`) of them.

    Raises InputTooLarge past the cap (before reading, for a regular file) and
    InputFileError for an unreadable path or binary data (a NUL byte).
    """
    cap = limit() if cap is None else cap
    fh, size, source = open_input(path, source)
    try:
        if size is not None and size > cap:
            raise InputTooLarge(source, too_large_message(cap, f"{what} ({size:,} bytes)"))
        parts: list[bytes] = []
        n = 0
        while True:
            chunk = fh.read(min(CHUNK, cap + 1 - n))
            if not chunk:
                break
            _check_nul(chunk, n, source)
            parts.append(chunk)
            n += len(chunk)
            if n > cap:
                raise InputTooLarge(source, too_large_message(cap, what))
        return b"".join(parts)
    except OSError as e:
        raise InputFileError(source, f"cannot read: {e.strerror or e}") from None
    finally:
        if fh is not getattr(sys.stdin, "buffer", None):
            fh.close()


def read_prefix(fh: BinaryIO, cap: int, source: str) -> tuple[bytes, bool]:
    """Up to `cap + 1` bytes of `fh`: (data, whether the stream ended within the cap)."""
    parts: list[bytes] = []
    n = 0
    try:
        while n <= cap:
            chunk = fh.read(min(CHUNK, cap + 1 - n))
            if not chunk:
                return b"".join(parts), True
            _check_nul(chunk, n, source)
            parts.append(chunk)
            n += len(chunk)
    except OSError as e:
        raise InputFileError(source, f"cannot read: {e.strerror or e}") from None
    return b"".join(parts), False


def iter_lines(fh: BinaryIO, cap: int | None = None, *, source: str = "input",
               prefix: bytes = b"") -> Iterator[tuple[int, bytes | None]]:
    """(line number, line without its newline) of a byte stream, one line in memory at a time.

    A line longer than `cap` comes as (number, None) and is skipped to its end; the next
    lines go on. `prefix` is data already read from `fh`. A NUL byte raises InputFileError.
    """
    cap = limit() if cap is None else cap
    buf = bytearray(prefix)
    _check_nul(prefix, 0, source)
    read = len(prefix)  # bytes taken from the stream so far (for NUL offsets)
    pos = 0
    lineno = 0
    skipping = False  # inside a line already known to be too long
    eof = False
    while True:
        nl = buf.find(b"\n", pos)
        if nl != -1:
            lineno += 1
            line = bytes(buf[pos:nl])
            pos = nl + 1
            yield lineno, (None if skipping or len(line) > cap else line)
            skipping = False
            continue
        if len(buf) - pos > cap:  # no newline within the cap: drop what we hold, skip to the newline
            skipping = True
            del buf[:]
            pos = 0
        if eof:
            if len(buf) > pos or skipping:
                lineno += 1
                line = bytes(buf[pos:])
                yield lineno, (None if skipping or len(line) > cap else line)
            return
        if pos:
            del buf[:pos]
            pos = 0
        try:
            chunk = fh.read(CHUNK)
        except OSError as e:
            raise InputFileError(source, f"cannot read: {e.strerror or e}") from None
        if not chunk:
            eof = True
            continue
        _check_nul(chunk, read, source)
        read += len(chunk)
        buf += chunk

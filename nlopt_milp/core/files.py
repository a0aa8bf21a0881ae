"""Output files that never destroy what is already there.

Every file `nlopt` writes on request (`-o OUT`, `--trace`, `--html`, ...) goes through
:func:`open_new_output` / :func:`write_new_output`:

* the data is written to a temporary file next to the target and moved into place only when
  complete, so a crash or a full disk never leaves a half-written file behind;
* an existing target is kept and :class:`OutputExists` raised, unless ``overwrite`` is given
  (the user's explicit consent); then the old file is replaced in one step (``os.replace``);
* a target that is not a regular file (a directory, a device, a FIFO) is refused.

The move without ``overwrite`` uses ``os.link``, which fails when the target exists, so two
writers racing for one new path cannot replace each other's file either.
"""

from __future__ import annotations

import contextlib
import errno
import os
import stat
import tempfile
from pathlib import Path
from typing import IO, Iterator

# Errors that mean "the disk (or the file-size limit) is full", reported as such.
DISK_FULL_ERRNOS = frozenset(e for e in (errno.ENOSPC, errno.EFBIG, getattr(errno, "EDQUOT", None)) if e)


class OutputExists(FileExistsError):
    """The output path exists and overwriting it was not asked for."""

    def __init__(self, path: str | os.PathLike, hint: str = "--overwrite"):
        super().__init__(errno.EEXIST, f"already exists; not replacing it (use {hint} to replace it)", str(path))
        self.path = str(path)

    def __str__(self) -> str:
        return f"{self.path}: {self.strerror}"


def is_disk_full(exc: BaseException) -> bool:
    return isinstance(exc, OSError) and exc.errno in DISK_FULL_ERRNOS


def check_output_target(path: str | os.PathLike, overwrite: bool, hint: str = "--overwrite") -> None:
    """Raise unless ``path`` may be written: absent, or a regular file and ``overwrite``."""
    try:
        st = os.stat(path)
    except FileNotFoundError:
        return
    if stat.S_ISDIR(st.st_mode):
        raise IsADirectoryError(errno.EISDIR, "is a directory", str(path))
    if not stat.S_ISREG(st.st_mode):
        raise OSError(errno.EINVAL, "not a regular file (a device, FIFO or socket)", str(path))
    if not overwrite:
        raise OutputExists(path, hint)


@contextlib.contextmanager
def open_new_output(path: str | os.PathLike, overwrite: bool = False, *, binary: bool = False,
                    hint: str = "--overwrite") -> Iterator[IO]:
    """Write ``path`` through a temporary file; see the module docstring.

    The target is checked before anything is written (a refusal costs no work) and again
    when the file is moved into place.
    """
    target = Path(path)
    check_output_target(target, overwrite, hint)
    directory = target.parent if str(target.parent) else Path(".")
    try:
        fd, tmp = tempfile.mkstemp(dir=directory, prefix=f".{target.name}.", suffix=".part")
    except OSError as e:  # name the file the user asked for, not our temporary one
        raise OSError(e.errno, e.strerror, str(target)) from None
    try:
        with os.fdopen(fd, "wb" if binary else "w", **({} if binary else {"encoding": "utf-8"})) as fh:
            yield fh
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, 0o644)  # mkstemp makes it private
        if overwrite:
            check_output_target(target, True, hint)  # still not a directory or device
            os.replace(tmp, target)
        else:
            _move_to_new(tmp, target, hint)
    except BaseException as e:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        if isinstance(e, OSError) and not isinstance(e, OutputExists) and e.filename in (tmp, None):
            raise OSError(e.errno, e.strerror, str(target)) from e  # e.g. the disk is full
        raise


def write_new_output(path: str | os.PathLike, data: str | bytes, overwrite: bool = False,
                     hint: str = "--overwrite") -> None:
    """Write all of ``data`` to ``path`` (see :func:`open_new_output`)."""
    with open_new_output(path, overwrite, binary=isinstance(data, bytes), hint=hint) as fh:
        fh.write(data)


def _move_to_new(tmp: str, target: Path, hint: str) -> None:
    try:
        os.link(tmp, target)  # fails if the target appeared meanwhile
    except FileExistsError:
        raise OutputExists(target, hint) from None
    except OSError as e:
        if e.errno not in (errno.EPERM, errno.ENOTSUP, errno.EOPNOTSUPP, errno.EXDEV, errno.EMLINK):
            raise
        # No hard links here (some network or FAT file systems): claim the name, then replace it.
        try:
            os.close(os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644))
        except FileExistsError:
            raise OutputExists(target, hint) from None
        os.replace(tmp, target)
        return
    os.unlink(tmp)

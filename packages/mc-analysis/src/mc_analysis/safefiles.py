"""Writing files without following symbolic links: atomic replacement and checked appends.

Run directories, sweep directories and report folders may sit on shared storage. Whatever
the toolkit writes there goes through this module, so that a symbolic link planted (or left)
where a file is expected never makes it write somewhere else:

* :func:`atomic_write_bytes` writes a temporary file next to the target (created exclusively,
  so never through a link) and renames it over the target: a link at the target is replaced,
  not followed, and readers see the old or the new file, never a half-written one;
* :func:`open_no_follow` opens a file that is appended to or locked in place (``run.log``,
  ``.lock``) and refuses a symbolic link or anything but a regular file with
  :class:`UnsafePath`;
* :func:`refuse_links` refuses a directory tree (recordings, checkpoints) that holds a link.
"""

from __future__ import annotations

import errno
import os
import secrets
import stat
from collections.abc import Iterable
from pathlib import Path

__all__ = ["UnsafePath", "atomic_write_bytes", "open_no_follow", "refuse_links"]


class UnsafePath(ValueError):
    """A path the toolkit would write through (a symbolic link, not a regular file); named."""


def atomic_write_bytes(path: str | os.PathLike, data: bytes) -> None:
    """Write ``data`` to ``path`` atomically (temporary file in the same folder, then rename).

    The file gets the mode the umask gives any new file (``0o666 & ~umask``). A symbolic link
    at ``path`` is replaced by the file, never written through.
    """
    path = Path(path)
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(6)}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def open_no_follow(path: str | os.PathLike, flags: int, what: str) -> int:
    """``os.open(path, flags)`` refusing a symbolic link or anything but a regular file.

    Parameters
    ----------
    path
        The file (created with the umask's mode when ``flags`` has ``O_CREAT``).
    flags
        ``os.O_*`` flags (``O_NOFOLLOW`` is added).
    what
        What the file is, for the message (``"lock file"``).

    Returns
    -------
    int
        The file descriptor.

    Raises
    ------
    UnsafePath
        Naming ``path`` when it is a symbolic link or not a regular file.
    """
    try:
        fd = os.open(path, flags | os.O_NOFOLLOW | getattr(os, "O_CLOEXEC", 0), 0o666)
    except OSError as err:
        if err.errno == errno.ELOOP:
            raise UnsafePath(
                f"{path}: the {what} is a symbolic link; refusing to write through it (remove "
                "the link)"
            ) from None
        raise
    if not stat.S_ISREG(os.fstat(fd).st_mode):
        os.close(fd)
        raise UnsafePath(f"{path}: the {what} is not a regular file; refusing to write it")
    return fd


def refuse_links(paths: Iterable[str | os.PathLike], what: str) -> None:
    """Raise :class:`UnsafePath` naming the first symbolic link at or below ``paths``.

    Directories are walked without following links; paths that do not exist are skipped.
    """
    for top in map(Path, paths):
        if top.is_symlink():
            _refuse(top, what)
        if not top.is_dir():
            continue
        for root, dirs, files in os.walk(top):
            for name in (*dirs, *files):
                p = Path(root) / name
                if p.is_symlink():
                    _refuse(p, what)


def _refuse(path: Path, what: str) -> None:
    raise UnsafePath(
        f"{path}: a symbolic link in the {what}; refusing to write through it (a run directory "
        "holds only the files the toolkit wrote: remove the link)"
    )

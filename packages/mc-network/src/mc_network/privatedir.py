"""Directories whose contents are loaded as code: only this user may be able to write them.

The compiled backend imports generated Python kernels (and numba's pickled cache index next
to them) from a cache directory; GeNN loads the shared library it builds in its code cache.
Whoever can write such a directory can make every user of it run their code. So a cache
directory is used only when it is owned by the current user and neither group- nor
world-writable; one this module creates gets mode 0700. Anything else is refused with
:class:`UnsafeDirectory`, naming the directory and the environment variable (or config key)
that chooses another one.

>>> import tempfile, pathlib
>>> d = private_dir(pathlib.Path(tempfile.mkdtemp()) / "cache", what="kernel cache", env="X")
>>> oct(d.stat().st_mode & 0o777)
'0o700'
"""

from __future__ import annotations

import contextlib
import os
import stat
from pathlib import Path

__all__ = ["UnsafeDirectory", "check_private_dir", "private_dir"]


class UnsafeDirectory(PermissionError):
    """A directory code is loaded from that another user could write; the message names it."""


def _uid() -> int | None:
    return os.geteuid() if hasattr(os, "geteuid") else None  # None: not POSIX, not checked


def check_private_dir(path: str | os.PathLike, *, what: str, env: str) -> Path:
    """``path`` if it is a directory only this user can write (or does not exist yet).

    Checked: the directory (through a final symbolic link, whose own owner must be this user
    or root) is owned by the current user and not writable by its group or by others.

    Parameters
    ----------
    path
        The directory.
    what
        What it holds, for the message (``"kernel cache"``).
    env
        How the user chooses another directory (an environment variable or config key).

    Raises
    ------
    UnsafeDirectory
        Naming the directory, what is wrong with it and ``env``.
    NotADirectoryError
        When ``path`` exists and is not a directory.
    """
    path = Path(path)
    uid = _uid()
    try:
        link = os.lstat(path)
    except FileNotFoundError:
        return path
    problems = []
    if uid is not None and stat.S_ISLNK(link.st_mode) and link.st_uid not in (uid, 0):
        problems.append(f"is a symbolic link owned by uid {link.st_uid}")
    st = os.stat(path)
    if not stat.S_ISDIR(st.st_mode):
        raise NotADirectoryError(f"{path}: the {what} is not a directory; set {env} to one")
    if uid is not None and st.st_uid != uid:
        problems.append(f"is owned by uid {st.st_uid}, not by this user (uid {uid})")
    if uid is not None and st.st_mode & 0o022:
        who = " and ".join(
            w for w, bit in (("its group", 0o020), ("others", 0o002)) if st.st_mode & bit
        )
        problems.append(f"is writable by {who} (mode {oct(st.st_mode & 0o777)})")
    if problems:
        raise UnsafeDirectory(
            f"{path}: refusing to use it as the {what}: it {' and '.join(problems)}, so another "
            f"user could plant code that would run as you. Set {env} to a directory only you can "
            f"write, or make this one yours (chown) and not writable by others (chmod go-w)"
        )
    return path


def private_dir(path: str | os.PathLike, *, what: str, env: str) -> Path:
    """``path``, created with mode 0700 when missing, after :func:`check_private_dir`.

    Missing parent directories are created with the default mode. Raises
    :class:`UnsafeDirectory` (a :class:`PermissionError`) when the directory exists but
    another user could write it, and :class:`OSError` when it cannot be created.
    """
    path = Path(path)
    if not os.path.lexists(path):
        path.parent.mkdir(parents=True, exist_ok=True)
        with contextlib.suppress(FileExistsError):  # a concurrent process: checked below
            os.mkdir(path, 0o700)
    return check_private_dir(path, what=what, env=env)

"""Import generated Python source from a content-addressed cache directory.

numba's disk cache (``cache=True``) works only for functions defined in files, and it keys
its index on the file's path and time stamp. Generated kernels are therefore written to
``$MC_NETWORK_KERNEL_DIR`` (default ``$XDG_CACHE_HOME/mc-network/kernels``, i.e.
``~/.cache/mc-network/kernels``; if that cannot be written, ``mc-network-kernels-<uid>`` in
the temporary directory) under the hash of their text, written once (atomically, so
concurrent processes cannot collide) and imported from there. A module is imported once per
process.

Code is loaded from that directory (the kernels, and numba's pickled cache index next to
them), so it must be private (:func:`mc_network.privatedir.private_dir`): owned by the
current user and not writable by group or others; a missing one is created with mode 0700.
A directory that fails the check (for instance a fallback folder another user created
first) is refused with :class:`~mc_network.privatedir.UnsafeDirectory`, naming it and
``MC_NETWORK_KERNEL_DIR``.
"""

from __future__ import annotations

import hashlib
import importlib.util
import logging
import os
import sys
import tempfile
import threading
from pathlib import Path
from types import ModuleType

from mc_network.privatedir import UnsafeDirectory, private_dir

__all__ = ["cache_dir", "fallback_dir", "import_source"]

log = logging.getLogger(__name__)

_LOCK = threading.Lock()
_MODULES: dict[str, ModuleType] = {}


def cache_dir() -> Path:
    """The directory of the generated kernel sources (and numba's cache next to them)."""
    env = os.environ.get("MC_NETWORK_KERNEL_DIR")
    if env:
        return Path(env)
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "mc-network" / "kernels"


def fallback_dir() -> Path:
    """Where kernels go when :func:`cache_dir` cannot be written: a per-user temporary folder."""
    uid = os.geteuid() if hasattr(os, "geteuid") else "user"
    return Path(tempfile.gettempdir()) / f"mc-network-kernels-{uid}"


def _write(path: Path, source: str) -> None:
    private_dir(path.parent, what="kernel cache", env="MC_NETWORK_KERNEL_DIR")
    if path.exists() and path.read_text() == source:
        return  # keep the file and its time stamp, which numba's cache index checks
    fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".tmp")
    with os.fdopen(fd, "w") as f:
        f.write(source)
    os.replace(tmp, path)


def import_source(source: str, prefix: str) -> ModuleType:
    """Import ``source`` as the module ``{prefix}{hash of source}`` from the cache directory."""
    name = prefix + hashlib.sha256(source.encode()).hexdigest()[:20]
    with _LOCK:
        if name in _MODULES:
            return _MODULES[name]
        path = None
        for directory in (cache_dir(), fallback_dir()):
            try:
                _write(directory / f"{name}.py", source)
                path = directory / f"{name}.py"
                break
            except UnsafeDirectory:
                raise  # another user could write it: never fall back silently
            except OSError as err:
                log.warning("kernel directory %s is not writable (%s)", directory, err)
        if path is None:
            raise OSError("no writable directory for the generated kernels")
        spec = importlib.util.spec_from_file_location(name, path)
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
        log.debug("kernel module %s loaded from %s", name, path)
        _MODULES[name] = module
        return module

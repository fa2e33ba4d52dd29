"""Caching, building and loading the models of the GeNN backend.

pygenn is imported lazily (:func:`import_pygenn`), only by the GeNN backend. The groups are
described once from the step program (:mod:`._genn_groups`); the generated code goes to
``<root>/<key>/`` where ``key`` hashes that description and everything else that
determines the code (:func:`cache_key`); a lock file ``<root>/<key>.lock`` keeps concurrent
builds and loads of one key apart.
"""

from __future__ import annotations

import ctypes
import hashlib
import json
import logging
import os
import shlex
import subprocess
import sys
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import lru_cache
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

import numpy as np

from mc_network.backends import _genn_groups
from mc_network.backends._genn_rng import HostRNG
from mc_network.backends.base import BackendUnavailable
from mc_network.privatedir import private_dir
from mc_network.program import lower
from mc_network.topology import build_topology

__all__ = [
    "DEVICES",
    "LOADED",
    "Loaded",
    "build_and_load",
    "build_mode",
    "cache_key",
    "cache_root",
    "check_cuda_device",
    "check_device",
    "compiler_family",
    "cuda_devices",
    "cxx_command",
    "genn_preferences",
    "import_pygenn",
    "nvcc_flags",
]

log = logging.getLogger(__name__)
DEVICES = ("single_threaded_cpu", "cuda")
_HINT = (
    "build pygenn 5 from GeNN's sources (https://github.com/genn-team/genn, a 5.x release; "
    "see the README)"
)


def import_pygenn() -> tuple[Any, str]:
    """Import pygenn 5; returns ``(module, version)`` or raises :class:`BackendUnavailable`."""
    try:
        import pygenn
    except ImportError as err:
        raise BackendUnavailable(f"backend 'genn' needs pygenn: {err}; {_HINT}") from None
    try:
        ver = version("pygenn")
    except PackageNotFoundError:
        ver = str(getattr(pygenn, "__version__", "0"))
    try:
        major = int(ver.split(".")[0])
    except ValueError:
        major = 0
    if major < 5:
        raise BackendUnavailable(f"backend 'genn' needs pygenn >= 5.0, found {ver}; {_HINT}")
    return pygenn, ver


_DRIVER = "nvcuda.dll" if sys.platform == "win32" else "libcuda.so.1"
_CC_MAJOR, _CC_MINOR = 75, 76  # CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR / _MINOR


class _DriverProblem(Exception):
    """The NVIDIA driver cannot be used (the message says why)."""


def _open_driver() -> tuple[Any, int]:
    """The initialised driver library and its number of visible devices (at least one)."""
    try:
        lib = ctypes.CDLL(_DRIVER)
    except OSError as err:
        raise _DriverProblem(
            f"the NVIDIA driver library {_DRIVER} cannot be loaded ({err}): no GPU or no driver"
        ) from None
    try:
        cu_init, cu_count = lib.cuInit, lib.cuDeviceGetCount
    except AttributeError as err:
        raise _DriverProblem(f"{_DRIVER} is not a usable NVIDIA driver library ({err})") from None
    rc = cu_init(0)
    if rc != 0:
        raise _DriverProblem(f"cuInit failed with CUDA error {rc}: no usable GPU")
    n = ctypes.c_int(0)
    rc = cu_count(ctypes.byref(n))
    if rc != 0 or n.value < 1:
        raise _DriverProblem(
            f"no CUDA device found (cuDeviceGetCount: error {rc}, {n.value} devices)"
        )
    return lib, n.value


def cuda_devices() -> tuple[tuple[str, int, int], ...]:
    """Name and compute capability of every visible CUDA device; empty without a driver.

    Part of the cache key of CUDA builds: GeNN compiles for the chosen device's architecture
    but its own "model unchanged" check ignores it, so a code cache shared by nodes with
    different GPUs (a cluster home directory) would otherwise load another GPU's build.
    """
    try:
        lib, count = _open_driver()
        found = []
        for i in range(count):
            dev, major, minor = ctypes.c_int(0), ctypes.c_int(0), ctypes.c_int(0)
            name = ctypes.create_string_buffer(256)
            if (
                lib.cuDeviceGet(ctypes.byref(dev), i) != 0
                or lib.cuDeviceGetName(name, 256, dev) != 0
                or lib.cuDeviceGetAttribute(ctypes.byref(major), _CC_MAJOR, dev) != 0
                or lib.cuDeviceGetAttribute(ctypes.byref(minor), _CC_MINOR, dev) != 0
            ):
                return ()
            found.append((name.value.decode(errors="replace"), major.value, minor.value))
        return tuple(found)
    except (_DriverProblem, AttributeError):
        return ()


def _cuda_problem() -> str | None:
    """Why no CUDA device can be used here (``None`` if one can)."""
    try:
        _open_driver()
    except _DriverProblem as err:
        return str(err)
    return None


def _backend_import_error(device: str) -> str | None:
    """Why pygenn's module of ``device`` does not import (``None``: it is not installed)."""
    import importlib

    try:
        importlib.import_module(f"pygenn.{device}_backend")
    except ModuleNotFoundError as err:
        if err.name == f"pygenn.{device}_backend":
            return None
        return str(err)
    except ImportError as err:  # e.g. the CUDA driver library is missing
        return str(err)
    return None


def check_device(device: str) -> None:
    """Raise ``ValueError`` for an unknown device, :class:`BackendUnavailable` if unusable."""
    if device not in DEVICES:
        raise ValueError(f"device {device!r} is not valid; use one of {DEVICES}")
    from pygenn.genn_model import backend_modules

    if device not in backend_modules:
        why = _backend_import_error(device)
        if why is None:
            why = (
                f"this pygenn was built with {sorted(backend_modules)} only (for CUDA, build "
                "pygenn with CUDA_PATH set on a machine with an NVIDIA GPU; see the README)"
            )
        else:
            why = f"pygenn's {device} backend is installed but does not load: {why}"
        raise BackendUnavailable(f"GeNN device {device!r} is not available: {why}")
    if device == "cuda":
        why = _cuda_problem()
        if why is not None:
            raise BackendUnavailable(f"GeNN device 'cuda' is not available: {why}")


# GCC gives up vectorising a loop that needs more than 10 run-time alias checks (its default
# ``vect-max-version-for-alias-checks``). GeNN reaches every array through a struct whose
# ``__restrict__`` members GCC ignores, so a plastic dense projection (weight, delta, the
# post-synaptic input and the pre/post rates it reads) needs 13-16 checks, and its loop stayed
# scalar: 784-100-10 ran at 6 500-8 000 steps/s, with this parameter at about 25 000.
GCC_VECTOR_PARAMS = ("--param", "vect-max-version-for-alias-checks=64")

# The exact build: optimised, but every floating-point operation is the IEEE operation written
# in the code, in the order written. GeNN's ``optimize_code`` adds ``-O3 -ffast-math``
# (reassociation, FMA contraction, vectorised libm calls), so the exact build leaves it off
# and passes its own flags through the compiler command; ``-O3`` alone changes no value, and
# ``-ffp-contract=off`` stops the contraction of ``a * b + c`` into an FMA that GCC (and
# Clang) would otherwise do on targets with FMA instructions.
EXACT_CXX_FLAGS = ("-ffp-contract=off",)
OPT_CXX_FLAGS = ("-O3",)
# CUDA: GeNN's flags carry no ``-use_fast_math`` while ``optimize_code`` is off (it is never
# set on CUDA); nvcc contracts multiply-adds by default, which ``-fmad=false`` stops. GeNN 5.4
# has no preference for extra nvcc flags in Python, so they go through nvcc's own
# ``NVCC_APPEND_FLAGS`` environment variable.
EXACT_NVCC_FLAGS = ("-fmad=false",)


@lru_cache(maxsize=8)
def compiler_family(cxx: str) -> str | None:
    """``"gcc"``, ``"clang"`` or ``None`` (unknown or not runnable), from ``cxx --version``."""
    try:
        out = subprocess.run(
            [*shlex.split(cxx), "--version"], capture_output=True, text=True, timeout=60
        )
    except (OSError, ValueError, subprocess.SubprocessError):
        return None
    if out.returncode != 0:
        return None
    if "Free Software Foundation" in out.stdout:
        return "gcc"
    if "clang version" in out.stdout:
        return "clang"
    return None


def _cxx() -> str:
    return os.environ.get("CXX") or "g++"


def cxx_command(device: str, optimize: bool, exact: bool) -> str | None:
    """The C++ compiler command the CPU build runs with, or ``None`` to leave GeNN's default.

    Fast build (``exact=False``): with ``optimize`` and a GCC compiler (``$CXX``, else
    make's default ``g++``), that compiler followed by :data:`GCC_VECTOR_PARAMS`, so the
    plastic projection loops are vectorised (GeNN adds ``-O3 -ffast-math``). Exact build:
    with GCC or Clang, the compiler followed by ``-O3`` (if ``optimize``),
    :data:`EXACT_CXX_FLAGS` and, for GCC with ``optimize``, :data:`GCC_VECTOR_PARAMS`;
    GeNN's ``optimize_code`` stays off. An exact build with another compiler gets
    ``None``: GeNN's unoptimised build. Part of the cache key: another compiler builds into
    another directory.
    """
    if device == "cuda" or not (optimize or exact):
        return None
    cxx = _cxx()
    family = compiler_family(cxx)
    if not exact:
        return " ".join([cxx, *GCC_VECTOR_PARAMS]) if family == "gcc" else None
    if family is None:
        return None
    flags = [*(OPT_CXX_FLAGS if optimize else ()), *EXACT_CXX_FLAGS]
    if family == "gcc" and optimize:
        flags += GCC_VECTOR_PARAMS
    return " ".join([cxx, *flags])


def nvcc_flags(device: str, exact: bool) -> str | None:
    """Flags appended to every nvcc command of a CUDA build (``None``: nvcc's defaults)."""
    return " ".join(EXACT_NVCC_FLAGS) if device == "cuda" and exact else None


def genn_preferences(
    device: str, optimize: bool, exact: bool, cuda_device: int | None
) -> dict[str, Any]:
    """Keyword arguments of ``GeNNModel`` (backend preferences) for a build mode.

    ``optimize_code`` (``-O3 -ffast-math`` on the CPU) only for a fast optimised CPU build;
    on CUDA it would add ``-use_fast_math``, so it is never set there. ``cuda_device`` picks
    the GPU by ordinal. Needs pygenn only for the CUDA device selection.
    """
    prefs: dict[str, Any] = {}
    if device != "cuda" and optimize and not exact:
        prefs["optimize_code"] = True
    if device == "cuda" and cuda_device is not None:
        from pygenn.cuda_backend import DeviceSelect

        prefs.update(device_select_method=DeviceSelect.MANUAL, manual_device_id=cuda_device)
    return prefs


def build_mode(device: str, optimize: bool, exact: bool) -> dict[str, Any]:
    """What a build runs with, as plain data (recorded in run directories).

    ``exact`` and ``optimize`` as given, the compiler command of CPU builds (``None``:
    GeNN's default ``$CXX``), whether GeNN's ``optimize_code`` is on and the flags appended
    to nvcc on CUDA.
    """
    return {
        "exact": bool(exact),
        "optimize": bool(optimize),
        "optimize_code": device != "cuda" and optimize and not exact,
        "cxx": cxx_command(device, optimize, exact),
        "nvcc_append_flags": nvcc_flags(device, exact),
    }


_QUIET_MAKE = "-s --no-print-directory"


@contextmanager
def _build_env(cxx: str | None, nvcc: str | None = None):
    """Set the environment GeNN's make inherits, and restore it afterwards.

    ``$CXX`` becomes ``cxx`` (if given); ``nvcc`` (if given) is appended to
    ``$NVCC_APPEND_FLAGS``; ``-s --no-print-directory`` is added to ``$MAKEFLAGS``, so that
    make prints only what the compiler says (warnings, errors), not its directory and
    "nothing to be done" messages.
    """

    def joined(var: str, extra: str) -> str:
        return " ".join(filter(None, [os.environ.get(var), extra]))

    changes = {"MAKEFLAGS": joined("MAKEFLAGS", _QUIET_MAKE)}
    if cxx is not None:
        changes["CXX"] = cxx
    if nvcc is not None:
        changes["NVCC_APPEND_FLAGS"] = joined("NVCC_APPEND_FLAGS", nvcc)
    old = {k: os.environ.get(k) for k in changes}
    os.environ.update(changes)
    try:
        yield
    finally:
        for k, v in old.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def check_cuda_device(device: str, cuda_device: int | None) -> None:
    """Check the ``cuda_device`` option: ``None``, or a visible GPU's ordinal on CUDA."""
    if cuda_device is None:
        return
    if device != "cuda":
        raise ValueError(f"cuda_device={cuda_device!r} applies to device='cuda' only")
    if isinstance(cuda_device, bool) or not isinstance(cuda_device, int) or cuda_device < 0:
        raise ValueError(f"cuda_device must be a GPU ordinal (0, 1, ...), got {cuda_device!r}")
    gpus = cuda_devices()
    if gpus and cuda_device >= len(gpus):
        names = ", ".join(f"{i}: {gpu[0]}" for i, gpu in enumerate(gpus))
        raise BackendUnavailable(
            f"cuda_device={cuda_device}: only {len(gpus)} GPU(s) are visible here ({names})"
        )


def cache_key(
    spec,
    device: str,
    batch: int,
    pygenn_version: str,
    optimize: bool,
    seed: int | None = None,
    cuda_device: int | None = None,
    *,
    exact: bool,
    groups: tuple[_genn_groups.Group, ...] | None = None,
) -> str:
    """Content hash of everything that determines the generated code.

    The spec, every group the model is built from (``groups``, the list
    ``_genn_groups.describe`` made and ``build_and_load`` builds: code strings,
    variables and their types, parameter and derived-parameter values, references, dynamic
    parameters; described here from the spec where not given), the device, batch size,
    pygenn version, the optimisation flag, the build mode (``exact``), and the GeNN seed
    where it is compiled into the code (``seed``; ``None`` where the backend does not use
    it), the compiler command (``cxx_command``), the flags appended to nvcc
    (``nvcc_flags``) and, for CUDA, the visible GPUs (``cuda_devices``) and the
    chosen one (``cuda_device``, if set). Precision is in the spec.
    """
    if groups is None:
        groups = _genn_groups.describe(spec, lower(spec, build_topology(spec)))
    cxx = cxx_command(device, optimize, exact)
    nvcc = nvcc_flags(device, exact)
    gpus = [list(d) for d in cuda_devices()] if device == "cuda" else []
    blob = json.dumps(
        [spec.to_dict(), _genn_groups.plain(groups), device, batch, pygenn_version, optimize]
        + [seed]
        + ([cxx] if cxx is not None else [])
        + ([gpus] if gpus else [])
        + ([cuda_device] if cuda_device is not None else [])
        + ([{"exact": True, "nvcc": nvcc}] if exact else []),
        sort_keys=True,
        default=str,
    )
    return hashlib.sha256(blob.encode()).hexdigest()[:24]


def cache_root(cache_dir: str | os.PathLike | None) -> Path:
    """The code cache root: ``cache_dir``, ``$MC_GENN_CACHE`` or ``~/.cache/mc-network/genn``.

    GeNN loads the library it builds there, so the directory must be this user's alone
    (:func:`mc_network.privatedir.private_dir`: created with mode 0700, refused otherwise).
    """
    root = cache_dir or os.environ.get("MC_GENN_CACHE")
    path = Path(root) if root else Path.home() / ".cache" / "mc-network" / "genn"
    return private_dir(
        path, what="GeNN code cache", env="MC_GENN_CACHE (or backend.options.cache_dir)"
    )


@contextmanager
def _locked(path: Path):
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        import fcntl
    except ImportError:  # not POSIX: no lock (GeNN's CPU/CUDA builds are POSIX here)
        yield
        return
    with open(path, "a") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


@dataclass
class Loaded:
    """A loaded GeNN model, shared by every simulation of one process with the same key.

    GeNN's runtime ``dlopen``s the generated library, so two loads of one library in one
    process would share (and free) the same globals. Simulations therefore share one loaded
    model per key; each pushes its complete state before it runs a stage.
    """

    model: Any
    pops: dict[str, Any]
    syns: dict[str, Any]
    capacity: int
    copies: int
    host_rng: HostRNG | None
    snippets: list[Any] = field(default_factory=list)
    segments: dict[str, dict[str, Any]] = field(default_factory=dict)
    users: int = 0


LOADED: dict[str, Loaded] = {}


def build_and_load(
    spec,
    groups: tuple[_genn_groups.Group, ...],
    *,
    key: str,
    root: Path,
    device: str,
    batch: int,
    capacity: int,
    copies: int,
    seed: int,
    optimize: bool,
    exact: bool,
    host_rng: bool,
    cuda_device: int | None = None,
) -> Loaded:
    """Create, build (or reuse the cached build of) and load the GeNN model of ``groups``.

    ``groups``: the program's group descriptions (:func:`._genn_groups.describe`, the list
    ``key`` was made from); ``spec``: their network (precision, time step). The players'
    resident arrays hold ``copies`` (1 when the batch shares its stage data,
    up to ``batch``) copies of the rates of ``capacity`` samples, and ``capacity`` order
    entries per member. ``host_rng``: attach a :class:`HostRNG` to the loaded CPU library.
    ``optimize`` and ``exact`` select the build (:func:`build_mode`).
    """
    import pygenn as pg

    prefs = genn_preferences(device, optimize, exact, cuda_device)
    prec = "float" if np.dtype(spec.dtype) == np.float32 else "double"
    name = f"mc_{key[:12]}"
    model = pg.GeNNModel(prec, name, backend=device, **prefs)
    # written into the code: cast here, as the parameter values are (_genn_groups._values)
    model.dt = float(np.dtype(spec.dtype).type(spec.dt))
    model.batch_size = batch
    model.seed = seed
    pops, syns, segments, keep = _genn_groups.add_groups(
        pg, model, groups, spec.dtype, batch, capacity, copies
    )
    code_dir = root / key
    cxx, nvcc = cxx_command(device, optimize, exact), nvcc_flags(device, exact)
    with _locked(root / f"{key}.lock"), _build_env(cxx, nvcc):
        code_dir.mkdir(parents=True, exist_ok=True)
        log.info("GeNN: building (or reusing) %s on %s", code_dir, device)
        model.build(path_to_model=str(code_dir))
        model.load()
    rng = None
    if host_rng:
        try:
            rng = HostRNG(code_dir / f"{name}_CODE" / "librunner.so", double=prec == "double")
        except RuntimeError as err:
            model.unload()
            raise BackendUnavailable(str(err)) from None
    return Loaded(model, pops, syns, capacity, copies, rng, keep, segments)

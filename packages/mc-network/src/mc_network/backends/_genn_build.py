"""Rendering, caching, building and loading the models of the GeNN backend.

pygenn is imported lazily (:func:`import_pygenn`), only by the GeNN backend. Every population
and synapse group is rendered from the mc-models definitions: DENSE matrices for all-to-all
projections, SPARSE with the ``OneToOne`` initialiser for the one-to-one ones (``fbi_*`` and
the teacher), ``DeltaCurr`` postsynaptic models feeding each projection's target variable.

The generated code goes to ``<root>/<key>/`` where ``key`` hashes everything that determines
the code (:func:`cache_key`); a lock file ``<root>/<key>.lock`` keeps concurrent builds and
loads of one key apart.
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

from mc_models import get_activation
from mc_models.render.genn import SAMPLE_VARS, neuron_model_kwargs, weight_update_model_kwargs
from mc_network.backends import _genn_fast
from mc_network.backends._genn_rng import HostRNG
from mc_network.backends.base import BackendUnavailable
from mc_network.program import StepProgram, lower
from mc_network.topology import Topology, build_topology

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


def _values(model, params, spec) -> dict[str, float]:
    """The parameter values GeNN writes into the code: the reference's, in the spec's dtype.

    Base and derived parameters as the NumPy backends resolve them (derived ones computed in
    float64 from the float64 parameters, then cast once), as Python floats. GeNN writes a
    float value into float code as a decimal of 10 significant digits that the compiler
    rounds to float; for a float32 value that is exact, but for a double it gives another
    float than the cast in about 0.1% of cases (a double within 1e-10 of a midpoint between
    two floats), so the values are cast to the spec's dtype here, not by the compiler.
    """
    resolved = model.resolve(params, spec.dt, np.dtype(spec.dtype))
    return {k: float(v) for k, v in resolved.values.items()}


def _derived_kwargs(model, values: dict[str, float]) -> list[tuple[str, Any]]:
    """GeNN derived parameters that return the values of :func:`_values`.

    GeNN would call each derived parameter's function with the values it was given, which
    are already cast; the cast results of the float64 computation are handed over instead.
    """
    return [(d.name, (lambda v: lambda pars, dt: v)(values[d.name])) for d in model.derived]


def _neuron_kwargs(op, activation) -> dict[str, Any]:
    """``create_neuron_model`` keyword arguments of a population (plain data)."""
    return neuron_model_kwargs(op.model, activation)


def _synapse_kwargs(op, activation) -> dict[str, Any]:
    """``create_weight_update_model`` keyword arguments of a projection (plain data).

    A sample-factorised projection's code runs only outside its segments (``_genn_fast``).
    """
    kw = weight_update_model_kwargs(op.model, activation)
    if op.fast is not None:
        kw = _genn_fast.gate(kw)
    if not op.one_to_one:
        # A distinct comment per projection keeps GeNN from merging the groups: merged,
        # their sizes and parameters become run-time fields that GCC must assume the weight
        # stores alias, and the loops do not vectorise (784-100-10: 4 000 -> 8 000 steps/s).
        kw["synapse_dynamics_code"] += f"// projection {op.projection}\n"
    return kw


def _params(op, values: dict[str, float]) -> dict[str, float]:
    """A group's GeNN parameters: the model's (from :func:`_values`), its switches on.

    A sample-factorised projection also has its segment gate, off.
    """
    gate = {_genn_fast.GATE: 0.0} if getattr(op, "fast", None) is not None else {}
    return {
        **{k: values[k] for k in op.model.param_names},
        **dict.fromkeys(op.model.switches, 1.0),
        **gate,
    }


def _describe(spec, program: StepProgram) -> list[Any]:
    """Plain data of every group in the order it is added: code, types, parameter values."""
    act = get_activation(spec.activation)
    out: list[Any] = []
    for op in program.neurons:
        kw = {k: v for k, v in _neuron_kwargs(op, act).items() if k != "derived_params"}
        values = _values(op.model, op.params, spec)
        inits = [(v.name, v.type, v.init) for v in op.model.vars]
        out.append(["pop", op.population, op.size, kw, values, inits])
        out.append(list(op.model.switches))
    for op in program.synapses:
        kw = {k: v for k, v in _synapse_kwargs(op, act).items() if k != "derived_params"}
        values = _values(op.model, op.params, spec)
        out.append(
            [
                "syn",
                op.projection,
                op.pre,
                op.post,
                op.target,
                op.one_to_one,
                kw,
                [list(r) for r in (*op.model.pre_refs, *op.model.post_refs)],
                values,
                [(v.name, v.type, v.init) for v in op.model.vars],
                list(op.model.switches),
                sorted(op.frozen),
            ]
        )
        if op.fast is not None:
            out.append(_genn_fast.describe(op, _values(op.fast.factor, op.params, spec)))
    return out


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
) -> str:
    """Content hash of everything that determines the generated code.

    The spec, every rendered group (code strings, variables and their types, parameter and
    derived-parameter values, references, dynamic parameters), the device, batch size,
    pygenn version, the optimisation flag, the build mode (``exact``), and the GeNN seed
    where it is compiled into the code (``seed``; ``None`` where the backend does not use
    it), the compiler command (``cxx_command``), the flags appended to nvcc
    (``nvcc_flags``) and, for CUDA, the visible GPUs (``cuda_devices``) and the
    chosen one (``cuda_device``, if set). Precision is in the spec.
    """
    program = lower(spec, build_topology(spec))
    cxx = cxx_command(device, optimize, exact)
    nvcc = nvcc_flags(device, exact)
    gpus = [list(d) for d in cuda_devices()] if device == "cuda" else []
    blob = json.dumps(
        [spec.to_dict(), _describe(spec, program), device, batch, pygenn_version, optimize, seed]
        + ([cxx] if cxx is not None else [])
        + ([gpus] if gpus else [])
        + ([cuda_device] if cuda_device is not None else [])
        + ([{"exact": True, "nvcc": nvcc}] if exact else []),
        sort_keys=True,
        default=str,
    )
    return hashlib.sha256(blob.encode()).hexdigest()[:24]


def cache_root(cache_dir: str | os.PathLike | None) -> Path:
    """The code cache root: ``cache_dir``, ``$MC_GENN_CACHE`` or ``~/.cache/mc-network/genn``."""
    root = cache_dir or os.environ.get("MC_GENN_CACHE")
    return Path(root) if root else Path.home() / ".cache" / "mc-network" / "genn"


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
    topo: Topology,
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
    """Create, build (or reuse the cached build of) and load the GeNN model of ``spec``.

    The players' resident arrays hold ``copies`` (1 when the batch shares its stage data,
    up to ``batch``) copies of the rates of ``capacity`` samples, and ``capacity`` order
    entries per member. ``host_rng``: attach a :class:`HostRNG` to the loaded CPU library.
    ``optimize`` and ``exact`` select the build (:func:`build_mode`).
    """
    import pygenn as pg

    prefs = genn_preferences(device, optimize, exact, cuda_device)
    prec = "float" if np.dtype(spec.dtype) == np.float32 else "double"
    name = f"mc_{key[:12]}"
    model = pg.GeNNModel(prec, name, backend=device, **prefs)
    model.dt = float(np.dtype(spec.dtype).type(spec.dt))  # written into the code: see _values
    model.batch_size = batch
    model.seed = seed
    program = lower(spec, topo)
    pops, syns, segments, keep = _add_groups(pg, model, spec, program, batch, capacity, copies)
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


def _add_groups(pg, model, spec, program: StepProgram, batch: int, capacity: int, copies: int):
    """Add every operation of the step program to ``model`` as a GeNN group.

    Populations with their neuron model's rendering; a player (a model that calls
    ``sample``) gets its resident arrays, ``copies`` copies of ``capacity`` samples' rates
    and ``capacity`` order entries per member. Projections with their synapse model's
    rendering: DENSE all-to-all or SPARSE ``OneToOne``, a ``DeltaCurr`` postsynaptic model
    feeding the target input. Switches are dynamic parameters. A sample-factorised
    projection gets its segment groups right after it (``_genn_fast``). Returns the groups
    by name, the segment groups by projection and the snippets (kept alive with the model).
    """
    act = get_activation(spec.activation)
    dtype = np.dtype(spec.dtype)
    pops: dict[str, Any] = {}
    keep: list[Any] = []
    for op in program.neurons:
        kw = _neuron_kwargs(op, act)
        values = _values(op.model, op.params, spec)
        kw["derived_params"] = _derived_kwargs(op.model, values)
        keep.append(pg.create_neuron_model(kw.pop("class_name"), **kw))
        init = {v.name: float(v.initial_value(values)) for v in op.model.vars}
        sample = op.model.uses("sample")
        init.update({v.name: v.init for v in SAMPLE_VARS} if sample else {})
        grp = model.add_neuron_population(
            op.population, op.size, keep[-1], _params(op, values), init
        )
        for switch in op.model.switches:
            grp.set_param_dynamic(switch)
        if sample:
            egp = grp.extra_global_params
            egp["rates"].set_init_values(np.zeros(copies * capacity * op.size, dtype=dtype))
            egp["order"].set_init_values(np.zeros(batch * capacity, dtype=np.uint32))
        pops[op.population] = grp
    syns: dict[str, Any] = {}
    segments: dict[str, dict[str, Any]] = {}
    read_only = pg.VarAccessMode.READ_ONLY
    for op in program.synapses:
        kw = _synapse_kwargs(op, act)
        cls = kw.pop("class_name")
        for refs in ("pre_neuron_var_refs", "post_neuron_var_refs"):
            kw[refs] = [(n, t, read_only) for n, t, _ in kw[refs]]
        values = _values(op.model, op.params, spec)
        kw["derived_params"] = _derived_kwargs(op.model, values)
        keep.append(pg.create_weight_update_model(cls, **kw))
        wvars = {v.name: float(v.initial_value(values)) for v in op.model.vars}
        pre, post = pops[op.pre], pops[op.post]
        wu = pg.init_weight_update(
            keep[-1],
            _params(op, values),
            wvars,
            pre_var_refs={ln: pg.create_var_ref(pre, v) for ln, v in op.model.pre_refs},
            post_var_refs={ln: pg.create_var_ref(post, v) for ln, v in op.model.post_refs},
        )
        ps = pg.init_postsynaptic("DeltaCurr")
        if op.one_to_one:
            conn = pg.init_sparse_connectivity("OneToOne")
            syn = model.add_synapse_population(op.projection, "SPARSE", pre, post, wu, ps, conn)
        else:
            syn = model.add_synapse_population(op.projection, "DENSE", pre, post, wu, ps)
        syn.post_target_var = op.target
        for switch in op.model.switches:
            syn.set_wu_param_dynamic(switch)
        syns[op.projection] = syn
        if op.fast is not None:
            syn.set_wu_param_dynamic(_genn_fast.GATE)
            fvalues = _values(op.fast.factor, op.params, spec)
            derived = _derived_kwargs(op.fast.factor, fvalues)
            segments[op.projection] = _genn_fast.add_segment_groups(
                pg, model, op, post, fvalues, derived, keep
            )
    return pops, syns, segments, keep

"""Source generation for the compiled backend: one numba kernel per network *structure*.

The structure is what the generated loops depend on: the populations and projections of the
:class:`~mc_network.topology.Topology` (depth, bias), the activation, the LE switch and the
precision. Layer sizes, parameters, learning rates and switches are run-time arguments, so
e.g. the Yin-Yang and MNIST networks of one variant share a kernel.

The source is written to a cache directory under a name that is the hash of its text and
imported from there, so numba's on-disk cache (``cache=True``) keeps the compiled machine code
between processes. Every expression follows the reference's float32 evaluation order (the
spec's section 0): sums over presynaptic neurons in ascending order from zero, products
rounded before they are added, the activation evaluated in float64 and rounded once, no FMA
contraction and no reassociation (``fastmath`` off).
"""

from __future__ import annotations

import hashlib
import importlib.util
import logging
import os
import sys
import tempfile
import threading
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import Any

from mc_network.models import neuron_var_names
from mc_network.topology import PopKind, ProjKind, Topology

__all__ = [
    "COUNTERS",
    "PLAYERS",
    "POP_PARAMS",
    "PROJ_PARAMS",
    "float_vars",
    "kernel_module",
    "kernel_source",
]

log = logging.getLogger(__name__)

COUNTERS = ("index", "step_counter")
PLAYERS = (PopKind.INPUT, PopKind.TEACHER)

# Parameters the kernels read, per model, as name -> value from the resolved parameters. The
# values are computed with NumPy scalars of the network's precision exactly as the reference
# step functions compute them (e.g. ``(g_basal + g_apical) + g_leak`` in float32).
POP_PARAMS: dict[PopKind, dict[str, Callable[[Any], Any]]] = {
    PopKind.PYRAMIDAL: {
        "inv_tau_n": lambda p: p.dtype.type(1.0) / p.tau_noise,
        "scale_noise": lambda p: p.scale_noise,
        "dt": lambda p: p.dt,
        "dt_hp": lambda p: p.dt / p.tau_highpass,
        "gb": lambda p: p.g_basal,
        "ga": lambda p: p.g_apical,
        "tau_s": lambda p: p.tau_soma,
        "g_scale": lambda p: p.g_scale,
        "g_sum": lambda p: p.g_basal + p.g_apical + p.g_leak,
        "thr": lambda p: p.threshold,
    },
    PopKind.INTER: {
        "gd": lambda p: p.g_dendrite,
        "gsom": lambda p: p.g_soma,
        "tau_s": lambda p: p.tau_soma,
        "g_scale": lambda p: p.g_scale,
        "g_sum": lambda p: p.g_dendrite + p.g_soma + p.g_leak,
        "dt": lambda p: p.dt,
        "thr": lambda p: p.threshold,
    },
    PopKind.OUTPUT: {
        "gb": lambda p: p.g_basal,
        "gt": lambda p: p.g_target,
        "den_t": lambda p: p.g_basal + p.g_leak + p.g_target,
        "den_n": lambda p: p.g_basal + p.g_leak,
        "g_scale": lambda p: p.g_scale,
        "g_sum": lambda p: p.g_basal + p.g_target + p.g_leak,
        "tau_s": lambda p: p.tau_soma,
        "dt": lambda p: p.dt,
        "dt_hp": lambda p: p.dt / p.tau_highpass,
        "thr": lambda p: p.threshold,
    },
    PopKind.INPUT: {"decay": lambda p: p.decay_step, "base": lambda p: p.base_rate},
    PopKind.TEACHER: {"decay": lambda p: p.decay_step, "base": lambda p: p.base_rate},
    PopKind.BIAS: {"value": lambda p: p.value},
}
PROJ_PARAMS: dict[ProjKind, dict[str, Callable[[Any], Any]]] = {
    ProjKind.FORWARD: {"dt_eta": lambda p: p.dt * p.eta, "h": lambda p: p.h},
    ProjKind.P2I: {"dt_eta": lambda p: p.dt * p.eta, "h": lambda p: p.h},
    ProjKind.I2P: {"dt_eta": lambda p: p.dt * p.eta, "h": lambda p: p.h},
    ProjKind.FEEDBACK: {"dt_eta": lambda p: p.dt * p.eta, "alpha": lambda p: p.alpha},
    ProjKind.DOWN_TO_INTER: {},
    ProjKind.TEACHER: {},
}
# The post-synaptic error term of each delta rule, with the names of the post variables.
_ERR = {
    ProjKind.FORWARD: "q_dt_eta * ({post}_rate[j] - {post}_rate_basal[j])",
    ProjKind.P2I: "q_dt_eta * ({post}_rate[j] - {post}_rate_dendrite[j])",
    ProjKind.I2P: "-{post}_v_apical[j]",
}
_ACT = {
    "sigmoid": ["return 1.0 / (1.0 + math.exp(-x))"],
    "soft_relu": [
        "if x < -thr:",
        "    return 0.0",
        "if abs(x) < thr:",
        "    return math.log(1.0 + math.exp(min(x, thr)))",
        "return x",
    ],
    "sigmoid_stable": [
        "if x < -thr:",
        "    return 0.0",
        "if x > thr:",
        "    return 1.0",
        "return 1.0 / (1.0 + math.exp(-x))",
    ],
}
_JIT = "@njit(cache=True, nogil=True, error_model='numpy', fastmath=False)"


def float_vars(kind: PopKind) -> tuple[str, ...]:
    """Floating-point state variables of a population kind, in the kernel's layout order."""
    return tuple(v for v in neuron_var_names(kind) if v not in COUNTERS)


class _Src:
    def __init__(self) -> None:
        self.lines: list[str] = []
        self.ind = 0

    def __call__(self, *lines: str) -> None:
        self.lines.extend("    " * self.ind + ln for ln in lines)

    def loop(self, head: str, *body: str) -> None:
        self(head)
        self.ind += 1
        self(*body)
        self.ind -= 1


def _synapse(e: _Src, topo: Topology, pj: int, proj, acc: str, w: int, d: int | None) -> None:
    pops = [p.name for p in topo.populations]
    pre, post = f"s{pops.index(proj.pre)}", f"s{pops.index(proj.post)}"
    e(f"# {proj.name}: {proj.pre} -> {proj.post}.{proj.target}")
    if proj.kind is ProjKind.DOWN_TO_INTER:
        e.loop(f"for j in range({acc}.shape[0]):", f"{acc}[j] = zero + {pre}_v_brev[j]")
        return
    if proj.kind is ProjKind.TEACHER:
        e.loop("if teach:", f"for j in range({acc}.shape[0]):", f"    {acc}[j] = zero + {pre}_rate[j]")
        e.loop("else:", f"for j in range({acc}.shape[0]):", f"    {acc}[j] = zero")
        return
    g = f"g{w}"
    e(f"q_dt_eta = P[Q{pj}_dt_eta]")
    e(f"n_pre = {g}.shape[0]", f"n_post = {g}.shape[1]")
    e.loop("for j in range(n_post):", f"{acc}[j] = zero")
    e(f"if learn and LF[{pj}] != 0:")
    e.ind += 1
    if proj.kind is ProjKind.FEEDBACK:
        e(f"q_alpha = P[Q{pj}_alpha]")
        e.loop(
            "for i in range(n_pre):",
            f"rh = {pre}_rate_highpass[i]",
            f"r = {pre}_rate[i]",
            "for j in range(n_post):",
            f"    gg = {g}[i, j]",
            f"    gn = gg + q_dt_eta * ({post}_noise[j] * rh - q_alpha * gg)",
            f"    {g}[i, j] = gn",
            f"    {acc}[j] += gn * r",
        )
    else:
        dl = f"d{d}"
        target = "q_dt_eta * (err[j] * rl)" if proj.kind is ProjKind.I2P else "err[j] * rl"
        e(f"q_h = P[Q{pj}_h]")
        e.loop("for j in range(n_post):", "err[j] = " + _ERR[proj.kind].format(post=post))
        e.loop(
            "for i in range(n_pre):",
            f"rl = {pre}_rate_last[i]",
            f"r = {pre}_rate[i]",
            "for j in range(n_post):",
            f"    dd = {dl}[i, j]",
            f"    gn = {g}[i, j] + dd",
            f"    {g}[i, j] = gn",
            f"    {dl}[i, j] = dd + q_h * ({target} - dd)",
            f"    {acc}[j] += gn * r",
        )
    e.ind -= 1
    e.loop(
        "else:",
        "for i in range(n_pre):",
        f"    r = {pre}_rate[i]",
        "    for j in range(n_post):",
        f"        {acc}[j] += {g}[i, j] * r",
    )


def _le(e: _Src, s: str, le_active: bool) -> None:
    e("vd = p_g_sum * (vs - V)", f"{s}_v_dot[j] = vd", "dv = p_dt * vd", f"{s}_dv[j] = dv")
    if le_active:
        e("vb = V + p_tau_s * vd", f"{s}_V[j] = V + dv")
    else:
        e("vb = V + dv", f"{s}_V[j] = vb")
    e(f"{s}_v_brev[j] = vb")


def _highpass(e: _Src, s: str) -> None:
    e(
        f"r = {s}_rate[j]",
        f"hp = {s}_rate_highpass[j]",
        f"{s}_rate_highpass[j] = hp + ((r - {s}_rate_last[j]) - p_dt_hp * hp)",
        f"{s}_rate_last[j] = r",
    )


def _neuron(e: _Src, pop, pi: int, inputs: dict, player: int, noise_off: str, le: bool) -> None:
    s, kind = f"s{pi}", pop.kind
    e(f"# {pop.name} ({kind.value})")
    for name in POP_PARAMS[kind]:
        e(f"p_{name} = P[N{pi}_{name}]")
    if kind in PLAYERS:
        src = "X" if kind is PopKind.INPUT else "T"
        e.loop(f"for j in range({s}_rate.shape[0]):", f"{s}_rate_last[j] = {s}_rate[j]")
        e.loop(
            f"if ctr[{player}, 1] >= IP[{2 * player}]:",
            f"ctr[{player}, 0] += 1",
            f"ctr[{player}, 1] = 0",
            f"row = ORD[b, ctr[{player}, 0]]",
            f"for j in range({s}_rate.shape[0]):",
            f"    {s}_rate0[j] = {src}[b, row, j]",
        )
        e(f"mute = ctr[{player}, 1] < IP[{2 * player + 1}]")
        e.loop(
            f"for j in range({s}_rate.shape[0]):",
            f"rl = {s}_rate_last[j]",
            f"u = p_base if mute else {s}_rate0[j]",
            f"{s}_rate[j] = rl + p_decay * (u - rl)",
        )
        e(f"ctr[{player}, 1] += 1")
        return
    if kind is PopKind.BIAS:
        e(f"{s}_rate[0] = p_value", f"{s}_rate_last[0] = p_value")
        return
    e(f"thr = np.float64(p_thr)")
    inp = {t: f"in{pi}_{t}" for t in inputs}
    e(f"for j in range({s}_rate.shape[0]):")
    e.ind += 1
    e(f"V = {s}_V[j]")
    if kind is PopKind.PYRAMIDAL:
        e(
            f"vbas = {inp['Isyn_up']}[j]",
            f"va = {inp['Isyn_down']}[j] + {inp['Isyn_inter']}[j]",
            f"{s}_v_basal[j] = vbas",
            f"{s}_v_apical[j] = va",
            f"nz = {s}_noise[j]",
            f"nz = nz + p_inv_tau_n * (p_scale_noise * xrow[{noise_off} + j] - p_dt * nz)",
            f"{s}_noise[j] = nz",
        )
        _highpass(e, s)
        e("vs = (p_gb * vbas + p_ga * (va + nz)) * p_tau_s", f"{s}_v_steady[j] = vs")
        e("vrb = p_g_scale * vbas")
        _le(e, s, le)
        e(f"{s}_rate[j] = DT(_act(np.float64(vb), thr))")
        e(f"{s}_rate_basal[j] = DT(_act(np.float64(vrb), thr))")
    elif kind is PopKind.INTER:
        e(
            f"{s}_rate_last[j] = {s}_rate[j]",
            f"{s}_rate_dendrite_last[j] = {s}_rate_dendrite[j]",
            f"vden = {inp['Isyn_pyramidal']}[j]",
            f"vdown = {inp['Isyn_down']}[j]",
            f"{s}_v_dendrite[j] = vden",
            f"{s}_v_down[j] = vdown",
            "vs = (p_gd * vden + p_gsom * vdown) * p_tau_s",
            f"{s}_v_steady[j] = vs",
            "vrd = p_g_scale * vden",
        )
        _le(e, s, le)
        e(f"{s}_rate[j] = DT(_act(np.float64(vb), thr))")
        e(f"{s}_rate_dendrite[j] = DT(_act(np.float64(vrd), thr))")
    else:
        e(
            f"vbas = {inp['Isyn_up']}[j]",
            f"vt = {inp['Isyn_target']}[j]",
            f"{s}_v_basal[j] = vbas",
            f"{s}_v_target[j] = vt",
        )
        _highpass(e, s)
        e.loop("if teach:", "vs = (p_gb * vbas + p_gt * vt) / p_den_t")
        e.loop("else:", "vs = p_gb * vbas / p_den_n")
        e(f"{s}_v_steady[j] = vs", "vrb = p_g_scale * vbas")
        _le(e, s, le)
        e(f"{s}_rate[j] = DT(_act(np.float64(vb), thr))")
        e(f"{s}_rate_basal[j] = DT(_act(np.float64(vrb), thr))")
    e.ind -= 1


def kernel_source(topo: Topology, activation: str, le_active: bool, dtype: str) -> str:
    """Python source of the kernel module for a network structure.

    The module defines ``run_member(b, NS, GW, DW, CT, P, IP, LF, X, T, ORD, XI, REC, RI, k0,
    n, every, r0, sps, lag, learning, teaching, noisy)``: ``n`` steps of batch member ``b``
    from stage step ``k0``, without the GIL (members run on threads of their own). Parameter indices are module constants
    (``N{pop}_{name}``, ``Q{proj}_{name}``) so the caller can fill ``P`` in the same layout.
    """
    pops = topo.populations
    e = _Src()
    e(
        '"""Generated by mc_network.backends._codegen; do not edit."""',
        "import math",
        "import numpy as np",
        "from numba import njit",
        f"DT = np.{dtype}",
    )
    idx = 0
    for pi, pop in enumerate(pops):
        for name in POP_PARAMS[pop.kind]:
            e(f"N{pi}_{name} = {idx}")
            idx += 1
    for pj, proj in enumerate(topo.projections):
        for name in PROJ_PARAMS[proj.kind]:
            e(f"Q{pj}_{name} = {idx}")
            idx += 1
    e(f"N_PARAMS = {idx}", "", "", _JIT, "def _act(x, thr):")
    e.ind += 1
    e(*_ACT[activation])
    e.ind -= 1
    e("", "", _JIT)
    args = "b, NS, GW, DW, CT, P, IP, LF, X, T, ORD, XI, REC, RI, k0, n, every, r0, sps, lag, "
    e(f"def run_member({args}learning, teaching, noisy):")
    e.ind += 1
    e("zero = DT(0.0)", "ctr = CT[b]")
    # views of every state variable and an input buffer per (population, target)
    inputs: dict[str, dict[str, str]] = {}
    for proj in topo.projections:
        inputs.setdefault(proj.post, {}).setdefault(proj.target, None)
    for pi, pop in enumerate(pops):
        for v, var in enumerate(float_vars(pop.kind)):
            e(f"s{pi}_{var} = NS[{pi}][b, {v}]")
        for t in inputs.get(pop.name, {}):
            e(f"in{pi}_{t} = np.zeros(s{pi}_rate.shape[0], DT)")
    weights = [p for p in topo.projections if not p.one_to_one]
    deltas = [p for p in weights if p.has_delta]
    for w, proj in enumerate(weights):
        e(f"g{w} = GW[{w}][b]")
    for d, proj in enumerate(deltas):
        e(f"d{d} = DW[{d}][b]")
    e("nmax = 1")
    for pi in range(len(pops)):
        e(f"nmax = max(nmax, s{pi}_rate.shape[0])")
    e("err = np.zeros(nmax, DT)", "tmp = np.zeros(nmax, DT)")
    pyr = [pi for pi, p in enumerate(pops) if p.kind is PopKind.PYRAMIDAL]
    e("noff0 = 0")
    for a, pi in enumerate(pyr[:-1]):
        e(f"noff{a + 1} = noff{a} + s{pi}_rate.shape[0]")
    e("for kk in range(n):")
    e.ind += 1
    e(
        "k = k0 + kk",
        "in_lag = lag > 0 and (k % sps) < lag",
        "learn = learning and not in_lag",
        "teach = teaching and not in_lag",
        "xrow = XI[b, kk if noisy else 0]",
    )
    seen: set[tuple[str, str]] = set()
    for pj, proj in enumerate(topo.projections):
        pi = [p.name for p in pops].index(proj.post)
        buf = f"in{pi}_{proj.target}"
        first = (proj.post, proj.target) not in seen
        seen.add((proj.post, proj.target))
        acc = buf if first else f"tmp[:{buf}.shape[0]]"
        if not first:
            e(f"tacc = {acc}")
            acc = "tacc"
        w = weights.index(proj) if proj in weights else -1
        d = deltas.index(proj) if proj in deltas else None
        _synapse(e, topo, pj, proj, acc, w, d)
        if not first:
            e.loop(f"for j in range({buf}.shape[0]):", f"{buf}[j] = {buf}[j] + tacc[j]")
    player = 0
    for pi, pop in enumerate(pops):
        noise_off = f"noff{pyr.index(pi)}" if pi in pyr else ""
        _neuron(e, pop, pi, inputs.get(pop.name, {}), player, noise_off, le_active)
        player += pop.kind in PLAYERS
    e.loop("if RI.shape[0] > 0 and k % every == 0:", "_record(b, NS, GW, DW, CT, REC[b, k // every - r0], RI)")
    e.ind -= 2
    e(
        "",
        "",
        _JIT,
        "def _record(b, NS, GW, DW, CT, row, RI):",
        "    for e in range(RI.shape[0]):",
        "        kind, t, v, o = RI[e, 0], RI[e, 1], RI[e, 2], RI[e, 3]",
        "        if kind == 0:",
        "            src = NS[t][b, v]",
        "            for j in range(src.shape[0]):",
        "                row[o + j] = src[j]",
        "        elif kind == 3:",
        "            for j in range(RI[e, 4]):",
        "                row[o + j] = DT(CT[b, t, v])",
        "        else:",
        "            m = GW[t][b] if kind == 1 else DW[t][b]",
        "            for i in range(m.shape[0]):",
        "                for j in range(m.shape[1]):",
        "                    row[o + i * m.shape[1] + j] = m[i, j]",
    )
    return "\n".join(e.lines) + "\n"


def _cache_dir() -> Path:
    env = os.environ.get("MC_NETWORK_KERNEL_DIR")
    if env:
        return Path(env)
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "mc-network" / "kernels"


_LOCK = threading.Lock()
_MODULES: dict[str, ModuleType] = {}


def _write(directory: Path, path: Path, source: str) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    if not path.exists() or path.read_text() != source:
        fd, tmp = tempfile.mkstemp(dir=directory, suffix=".tmp")
        with os.fdopen(fd, "w") as f:
            f.write(source)
        os.replace(tmp, path)
    return path


def kernel_module(topo: Topology, activation: str, le_active: bool, dtype: str) -> ModuleType:
    """The imported kernel module of a structure (generated and cached on first use).

    The module file lives in ``$MC_NETWORK_KERNEL_DIR`` (default
    ``~/.cache/mc-network/kernels``; a temporary directory if that is not writable) and is
    named after the hash of its source, so numba's disk cache stays valid across processes.
    """
    source = kernel_source(topo, activation, le_active, dtype)
    key = hashlib.sha256(source.encode()).hexdigest()[:20]
    with _LOCK:
        if key in _MODULES:
            return _MODULES[key]
        name = f"mc_kernel_{key}"
        path = None
        for directory in (_cache_dir(), Path(tempfile.gettempdir()) / "mc-network-kernels"):
            try:
                path = _write(directory, directory / f"{name}.py", source)
                break
            except OSError as err:
                log.warning("kernel cache %s not writable (%s); trying another", directory, err)
        if path is None:
            raise OSError("no writable directory for the compiled kernels")
        spec = importlib.util.spec_from_file_location(name, path)
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
        log.debug("kernel module %s loaded from %s", name, path)
        _MODULES[key] = module
        return module

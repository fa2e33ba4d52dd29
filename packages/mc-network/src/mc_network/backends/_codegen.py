"""Source generation for the compiled backend: one numba kernel per network *structure*.

The structure is what the generated loops depend on: the populations and projections of the
:class:`~mc_network.topology.Topology` (depth, bias), the activation, the LE switch and the
precision. Layer sizes, parameters, learning rates and the run switches are run-time
arguments, so e.g. the Yin-Yang and MNIST networks of every feedback variant share a kernel.

The kernel runs a chunk of time steps of one batch member without the GIL. Each step follows
the reference: every synapse group on the neuron state of the previous step (the weight update
fused with the input sum: one pass over the matrix, the inner loop over the contiguous
postsynaptic index, presynaptic terms added in ascending order from zero), then every
population. Expressions are written exactly as in the NumPy step functions (same operands,
same parenthesisation; the activation in float64 from the state's value, rounded once);
``fastmath`` is off, so LLVM neither contracts to FMA nor reassociates.

The apical noise of a step is drawn first, in the reference's order, from the member's
PCG64 stream (:mod:`._pcg64`, inlined). The source is imported through
:func:`._modcache.import_source`, so numba's disk cache keeps the machine code between
processes.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from types import ModuleType

from mc_models import get_activation
from mc_network.backends import _pcg64
from mc_network.backends._layout import PLAYERS, POP_PARAMS, PROJ_PARAMS, float_vars
from mc_network.backends._modcache import import_source
from mc_network.topology import PopKind, Projection, ProjKind, Topology

__all__ = ["kernel_module", "kernel_source"]

_PCG64_DIGEST = hashlib.sha256(Path(_pcg64.__file__).read_bytes()).hexdigest()[:16]

ARGS = (
    "b, NS, GW, DW, CT, P, IP, LF, X, T, ORD, RNG, REC, RI, k0, n, every, r0, sps, lag, "
    "learning, teaching, noisy"
)
_JIT = "@njit(cache=True, nogil=True, error_model='numpy', fastmath=False)"
_RECORD = """
{jit}
def _get(src):
    dst = np.empty(src.shape, src.dtype)
    _put(dst, src)
    return dst


{jit}
def _put(dst, src):
    for i in range(src.shape[0]):
        for j in range(src.shape[1]):
            dst[i, j] = src[i, j]


{jit}
def _record(ns, gw, dw, ctr, row, RI):
    for e in range(RI.shape[0]):
        kind, t, v, o, size = RI[e, 0], RI[e, 1], RI[e, 2], RI[e, 3], RI[e, 4]
        if kind == 0:
            src = ns[t][v]
            for j in range(size):
                row[o + j] = src[j]
        elif kind == 3:
            for j in range(size):
                row[o + j] = DT(ctr[t, v])
        else:
            m = gw[t] if kind == 1 else dw[t]
            for i in range(m.shape[0]):
                for j in range(m.shape[1]):
                    row[o + i * m.shape[1] + j] = m[i, j]
"""


class _Src:
    """Lines of Python source with an indentation level."""

    def __init__(self) -> None:
        self.lines: list[str] = []
        self.ind = 0

    def __call__(self, *lines: str) -> None:
        self.lines.extend("    " * self.ind + ln for ln in lines)

    def block(self, head: str, *body: str) -> None:
        self(head)
        self.ind += 1
        self(*body)
        self.ind -= 1


def _sum(acc: str, g: str, pre: str) -> tuple[str, ...]:
    """Input sum without learning, ascending presynaptic order."""
    return (
        f"for i in range({g}.shape[0]):",
        f"    r = {pre}_rate[i]",
        f"    for j in range({g}.shape[1]):",
        f"        {acc}[j] += {g}[i, j] * r",
    )


def _synapse(e: _Src, pj: int, proj: Projection, pre: str, post: str, acc: str, w: int, d: int):
    e(f"# {proj.name}: {proj.pre} -> {proj.post}.{proj.target}")
    if proj.kind is ProjKind.DOWN_TO_INTER:  # GeNN adds inSyn to a zeroed input: zero + x
        e.block(f"for j in range({acc}.shape[0]):", f"{acc}[j] = zero + {pre}_v_brev[j]")
        return
    if proj.kind is ProjKind.TEACHER:
        e.block(
            "if teach:", f"for j in range({acc}.shape[0]):", f"    {acc}[j] = zero + {pre}_rate[j]"
        )
        e.block("else:", f"for j in range({acc}.shape[0]):", f"    {acc}[j] = zero")
        return
    g, q = f"g{w}", f"q{pj}_"
    e.block(f"for j in range({g}.shape[1]):", f"{acc}[j] = zero")
    e(f"if learn and lf{pj}:")
    e.ind += 1
    if proj.kind is ProjKind.FEEDBACK:
        e.block(
            f"for i in range({g}.shape[0]):",
            f"rh = {pre}_rate_highpass[i]",
            f"r = {pre}_rate[i]",
            f"for j in range({g}.shape[1]):",
            f"    gg = {g}[i, j]",
            f"    gn = gg + {q}dt_eta * ({post}_noise[j] * rh - {q}alpha * gg)",
            f"    {g}[i, j] = gn",
            f"    {acc}[j] += gn * r",
        )
    else:
        if proj.kind is ProjKind.I2P:
            err, target = f"-{post}_v_apical[j]", f"{q}dt_eta * (err[j] * rl)"
        else:
            pred = "rate_basal" if proj.kind is ProjKind.FORWARD else "rate_dendrite"
            err, target = f"{q}dt_eta * ({post}_rate[j] - {post}_{pred}[j])", "err[j] * rl"
        e.block(f"for j in range({g}.shape[1]):", f"err[j] = {err}")
        e.block(
            f"for i in range({g}.shape[0]):",
            f"rl = {pre}_rate_last[i]",
            f"r = {pre}_rate[i]",
            f"for j in range({g}.shape[1]):",
            f"    dd = d{d}[i, j]",
            f"    gn = {g}[i, j] + dd",
            f"    {g}[i, j] = gn",
            f"    d{d}[i, j] = dd + {q}h * ({target} - dd)",
            f"    {acc}[j] += gn * r",
        )
    e.ind -= 1
    e.block("else:", *_sum(acc, g, pre))


def _soma(e: _Src, s: str, p: str, le_active: bool) -> None:
    """``v_dot``, ``dv``, the Euler step of ``V`` and ``v_brev`` (LE or plain)."""
    e(f"vd = {p}g_sum * (vs - V)", f"{s}_v_dot[j] = vd", f"dv = {p}dt * vd", f"{s}_dv[j] = dv")
    if le_active:
        e(f"vb = V + {p}tau_s * vd", f"{s}_V[j] = V + dv")
    else:
        e("vb = V + dv", f"{s}_V[j] = vb")
    e(f"{s}_v_brev[j] = vb")


def _highpass(e: _Src, s: str, p: str) -> None:
    e(
        f"r = {s}_rate[j]",
        f"hp = {s}_rate_highpass[j]",
        f"{s}_rate_highpass[j] = hp + ((r - {s}_rate_last[j]) - {p}dt_hp * hp)",
        f"{s}_rate_last[j] = r",
    )


def _player(e: _Src, s: str, p: str, slot: int, rates: str) -> None:
    e.block(f"for j in range({s}_rate.shape[0]):", f"{s}_rate_last[j] = {s}_rate[j]")
    e.block(
        f"if ctr[{slot}, 1] >= IP[{2 * slot}]:",
        f"ctr[{slot}, 0] += 1",
        f"ctr[{slot}, 1] = 0",
        f"row = ob[ctr[{slot}, 0]]",
        f"for j in range({s}_rate.shape[0]):",
        f"    {s}_rate0[j] = {rates}[row, j]",
    )
    e(f"mute = ctr[{slot}, 1] < IP[{2 * slot + 1}]")
    e.block(
        f"for j in range({s}_rate.shape[0]):",
        f"rl = {s}_rate_last[j]",
        f"u = {p}base if mute else {s}_rate0[j]",
        f"{s}_rate[j] = rl + {p}decay * (u - rl)",
    )
    e(f"ctr[{slot}, 1] += 1")


def _neuron(e: _Src, pi: int, pop, inp: dict[str, str], slot: int, noff: str, le: bool):
    s, p, kind = f"s{pi}", f"p{pi}_", pop.kind
    e(f"# {pop.name} ({kind.value})")
    if kind in PLAYERS:
        _player(e, s, p, slot, "xb" if kind is PopKind.INPUT else "tb")
        return
    if kind is PopKind.BIAS:
        e(f"{s}_rate[0] = {p}value", f"{s}_rate_last[0] = {p}value")
        return
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
            f"nz = nz + {p}inv_tau_n * ({p}scale_noise * xi[{noff} + j] - {p}dt * nz)",
            f"{s}_noise[j] = nz",
        )
        _highpass(e, s, p)
        e(f"vs = ({p}gb * vbas + {p}ga * (va + nz)) * {p}tau_s", f"{s}_v_steady[j] = vs")
        e(f"vp = {p}g_scale * vbas")
        pred = "rate_basal"
    elif kind is PopKind.INTER:
        e(
            f"{s}_rate_last[j] = {s}_rate[j]",
            f"{s}_rate_dendrite_last[j] = {s}_rate_dendrite[j]",
            f"vden = {inp['Isyn_pyramidal']}[j]",
            f"vdown = {inp['Isyn_down']}[j]",
            f"{s}_v_dendrite[j] = vden",
            f"{s}_v_down[j] = vdown",
            f"vs = ({p}gd * vden + {p}gsom * vdown) * {p}tau_s",
            f"{s}_v_steady[j] = vs",
            f"vp = {p}g_scale * vden",
        )
        pred = "rate_dendrite"
    else:
        e(
            f"vbas = {inp['Isyn_up']}[j]",
            f"vt = {inp['Isyn_target']}[j]",
            f"{s}_v_basal[j] = vbas",
            f"{s}_v_target[j] = vt",
        )
        _highpass(e, s, p)
        e.block("if teach:", f"vs = ({p}gb * vbas + {p}gt * vt) / {p}den_t")
        e.block("else:", f"vs = {p}gb * vbas / {p}den_n")
        e(f"{s}_v_steady[j] = vs", f"vp = {p}g_scale * vbas")
        pred = "rate_basal"
    _soma(e, s, p, le)
    e(f"{s}_rate[j] = DT(_act(np.float64(vb), {p}thr64))")
    e(f"{s}_{pred}[j] = DT(_act(np.float64(vp), {p}thr64))")
    e.ind -= 1


def kernel_source(topo: Topology, activation: str, le_active: bool, dtype: str) -> str:
    """Python source of the kernel module of a network structure.

    The module defines ``run_member(b, NS, GW, DW, CT, P, IP, LF, X, T, ORD, RNG, REC, RI, k0,
    n, every, r0, sps, lag, learning, teaching, noisy)``: ``n`` steps of batch member ``b``
    from stage step ``k0``, without the GIL. Positions in ``P`` are module constants
    (``N{population}_{name}``, ``Q{projection}_{name}``) so that the caller fills ``P`` in the
    same layout.
    """
    pops, projs = topo.populations, topo.projections
    names = [p.name for p in pops]
    e = _Src()
    e(
        '"""Generated by mc_network.backends._codegen for one network structure; do not edit."""',
        "import math",
        f"# {_PCG64_DIGEST}: _pcg64 is inlined, numba's cache does not track it",
        "import numpy as np",
        "from numba import njit",
        "from mc_network.backends._pcg64 import fill_normal_f32",
        f"DT = np.{dtype}",
    )
    idx = 0
    for tag, items, table in (("N", pops, POP_PARAMS), ("Q", projs, PROJ_PARAMS)):
        for i, item in enumerate(items):
            for name in table[item.kind]:
                e(f"{tag}{i}_{name} = {idx}")
                idx += 1
    e(f"N_PARAMS = {idx}", "", "", _JIT, "def _act(x, thr):")
    e.ind += 1
    e(*get_activation(activation).numba_body)
    e.ind -= 1
    e(*_RECORD.format(jit=_JIT).split("\n"), "", _JIT, f"def run_member({ARGS}):")
    e.ind += 1
    # the member's state is copied in and out: private memory, no false sharing between
    # threads that run neighbouring members
    e(
        "zero = DT(0.0)",
        "ctr = _get(CT[b])",
        "rng = RNG[b].copy()",
        "xb, tb, ob = X[b % X.shape[0]], T[b % T.shape[0]], ORD[b]",
    )
    inputs: dict[str, dict[str, str]] = {}
    for proj in projs:
        inputs.setdefault(proj.post, {})[proj.target] = f"in{names.index(proj.post)}_{proj.target}"
    for pi, pop in enumerate(pops):
        e(f"s{pi} = _get(NS[{pi}][b])")
        e(*(f"s{pi}_{var} = s{pi}[{v}]" for v, var in enumerate(float_vars(pop.kind))))
        e(
            *(
                f"{buf} = np.zeros(s{pi}_rate.shape[0], DT)"
                for buf in inputs.get(pop.name, {}).values()
            )
        )
        e(*(f"p{pi}_{name} = P[N{pi}_{name}]" for name in POP_PARAMS[pop.kind]))
        if "thr" in POP_PARAMS[pop.kind]:
            e(f"p{pi}_thr64 = np.float64(p{pi}_thr)")
    weights = [p for p in projs if not p.one_to_one]
    deltas = [p for p in weights if p.has_delta]
    e(*(f"g{w} = _get(GW[{w}][b])" for w in range(len(weights))))
    e(*(f"d{d} = _get(DW[{d}][b])" for d in range(len(deltas))))
    for name, prefix, n in (
        ("nsl", "s", len(pops)),
        ("gwl", "g", len(weights)),
        ("dwl", "d", len(deltas)),
    ):
        e(f"{name} = (" + "".join(f"{prefix}{i}, " for i in range(n)) + ")")
    for pj, proj in enumerate(projs):
        e(*(f"q{pj}_{name} = P[Q{pj}_{name}]" for name in PROJ_PARAMS[proj.kind]))
        if not proj.one_to_one:
            e(f"lf{pj} = LF[{pj}] != 0")
    e("err = np.zeros(max(" + ", ".join(f"s{i}_rate.shape[0]" for i in range(len(pops))) + "), DT)")
    pyr = [pi for pi, p in enumerate(pops) if p.kind is PopKind.PYRAMIDAL]
    e("noff0 = 0", *(f"noff{a + 1} = noff{a} + s{pi}_rate.shape[0]" for a, pi in enumerate(pyr)))
    e(f"xi = np.zeros(noff{len(pyr)}, DT)")
    # the body of the step loop
    step = _Src()
    step.ind = 2
    step(
        "k = k0 + kk",
        "in_lag = lag > 0 and (k % sps) < lag",
        "learn = learning and not in_lag",
        "teach = teaching and not in_lag",
    )
    # this step's noise: the reference's draws in its order (pyramidal layers bottom-up)
    step.block("if noisy:", "fill_normal_f32(rng, xi)")
    seen: set[str] = set()
    for pj, proj in enumerate(projs):
        buf = inputs[proj.post][proj.target]
        pre, post = f"s{names.index(proj.pre)}", f"s{names.index(proj.post)}"
        w = weights.index(proj) if proj in weights else -1
        d = deltas.index(proj) if proj in deltas else -1
        if buf in seen:  # a second group onto the same input: its own sum, then added
            e(f"tmp{pj} = np.zeros({buf}.shape[0], DT)")
            _synapse(step, pj, proj, pre, post, f"tmp{pj}", w, d)
            step.block(f"for j in range({buf}.shape[0]):", f"{buf}[j] = {buf}[j] + tmp{pj}[j]")
        else:
            _synapse(step, pj, proj, pre, post, buf, w, d)
        seen.add(buf)
    slot = 0
    for pi, pop in enumerate(pops):
        noff = f"noff{pyr.index(pi)}" if pi in pyr else ""
        _neuron(step, pi, pop, inputs.get(pop.name, {}), slot, noff, le_active)
        slot += pop.kind in PLAYERS
    step.block(
        "if RI.shape[0] > 0 and k % every == 0:",
        "_record(nsl, gwl, dwl, ctr, REC[b, k // every - r0], RI)",
    )
    end = _Src()
    end.ind = 1
    end(*(f"_put(NS[{pi}][b], s{pi})" for pi in range(len(pops))))
    end(*(f"_put(GW[{w}][b], g{w})" for w in range(len(weights))))
    end(*(f"_put(DW[{d}][b], d{d})" for d in range(len(deltas))))
    end("_put(CT[b], ctr)", "for i in range(rng.shape[0]):", "    RNG[b, i] = rng[i]")
    e("for kk in range(n):")
    return "\n".join(e.lines + step.lines + end.lines) + "\n"


def kernel_module(topo: Topology, activation: str, le_active: bool, dtype: str) -> ModuleType:
    """The imported kernel module of a structure (generated, compiled and cached on first use)."""
    return import_source(kernel_source(topo, activation, le_active, dtype), "mc_kernel_")

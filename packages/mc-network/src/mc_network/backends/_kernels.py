"""Per-step numba kernels of the compiled backend: one function per neuron and synapse model.

Compiled once per precision and kept in numba's disk cache. The generated driver of a
network structure (:mod:`mc_network.backends._codegen`) calls them in the reference's order;
LLVM inlines them there. Every expression reproduces the NumPy step functions of
:mod:`mc_models` operation by operation in the state's precision: left-to-right evaluation as
written, presynaptic sums in ascending order from zero, the activation in float64 from the
state's value and rounded once when it is stored. ``fastmath`` is off, so there is no FMA
contraction and no reassociation. Parameters arrive as scalars of the state's precision,
computed by :data:`POP_PARAMS` / :data:`PROJ_PARAMS` with NumPy scalars exactly as the
reference computes them.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

from numba import njit

from mc_network.models import neuron_var_names
from mc_network.topology import PopKind, ProjKind

__all__ = ["ACTIVATION_CODES", "COUNTERS", "POP_PARAMS", "PROJ_PARAMS", "float_vars"]

COUNTERS = ("index", "step_counter")
ACTIVATION_CODES = {"sigmoid": 0, "soft_relu": 1, "sigmoid_stable": 2}


def float_vars(kind: PopKind) -> tuple[str, ...]:
    """Floating-point state variables of a population kind, in the kernel's layout order."""
    return tuple(v for v in neuron_var_names(kind) if v not in COUNTERS)


# Parameters the kernels take, per model (keyword names of the kernel functions below), as
# name -> value from the resolved parameters, computed with NumPy scalars of the network's
# precision as the reference step functions compute them (``(g_basal + g_apical) + g_leak``).
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

# Row of each state variable in a population's (n_vars, n) state block (numba freezes them).
_PYR = {v: i for i, v in enumerate(float_vars(PopKind.PYRAMIDAL))}
_INT = {v: i for i, v in enumerate(float_vars(PopKind.INTER))}
_OUT = {v: i for i, v in enumerate(float_vars(PopKind.OUTPUT))}
_PLAY = {v: i for i, v in enumerate(float_vars(PopKind.INPUT))}
V, V_STEADY, V_DOT, DV, V_BREV, RATE, RATE_LAST = range(7)  # shared by the somatic models
for _m in (_PYR, _INT, _OUT):
    assert [_m[v] for v in ("V", "v_steady", "v_dot", "dv", "v_brev", "rate", "rate_last")] == [
        V,
        V_STEADY,
        V_DOT,
        DV,
        V_BREV,
        RATE,
        RATE_LAST,
    ]
P_BASAL, P_APICAL, P_NOISE, P_RB, P_HP = (
    _PYR[v] for v in ("v_basal", "v_apical", "noise", "rate_basal", "rate_highpass")
)
I_DOWN, I_DEND, I_RD, I_RDL = (
    _INT[v] for v in ("v_down", "v_dendrite", "rate_dendrite", "rate_dendrite_last")
)
O_TARGET, O_BASAL, O_RB, O_HP = (
    _OUT[v] for v in ("v_target", "v_basal", "rate_basal", "rate_highpass")
)
PL_RATE, PL_LAST, PL_RATE0 = (_PLAY[v] for v in ("rate", "rate_last", "rate0"))

_JIT = {"cache": True, "nogil": True, "error_model": "numpy", "fastmath": False}


@njit(**_JIT)
def act(x, thr, code):
    """The activation ``code`` (see ACTIVATION_CODES) of a float64 argument, in float64."""
    if code == 0:
        return 1.0 / (1.0 + math.exp(-x))
    if code == 1:
        if x < -thr:
            return 0.0
        if abs(x) < thr:
            return math.log(1.0 + math.exp(min(x, thr)))
        return x
    if x < -thr:
        return 0.0
    if x > thr:
        return 1.0
    return 1.0 / (1.0 + math.exp(-x))


@njit(**_JIT)
def _soma(s, j, vs, le, g_sum, dt, tau_s):
    """``v_dot``, ``dv``, the Euler step of ``V`` and ``v_brev`` (LE or plain); returns v_brev."""
    v = s[V, j]
    vd = g_sum * (vs - v)
    s[V_DOT, j] = vd
    dv = dt * vd
    s[DV, j] = dv
    if le:
        vb = v + tau_s * vd
        s[V, j] = v + dv
    else:
        vb = v + dv
        s[V, j] = vb
    s[V_BREV, j] = vb
    return vb


@njit(**_JIT)
def _highpass(s, j, hp_row, dt_hp):
    """``rate_highpass += (rate - rate_last) - (dt/tau_hp) rate_highpass``; ``rate_last = rate``."""
    r = s[RATE, j]
    hp = s[hp_row, j]
    s[hp_row, j] = hp + ((r - s[RATE_LAST, j]) - dt_hp * hp)
    s[RATE_LAST, j] = r


@njit(**_JIT)
def pyramidal(
    s, up, down, inter, xi, le, code, inv_tau_n, scale_noise, dt, dt_hp, gb, ga, tau_s, g_scale,
    g_sum, thr,
):  # fmt: skip
    """One step of the pyramidal neurons (``mc_models.neurons.pyramidal.numpy_step``)."""
    t = float(thr)
    for j in range(s.shape[1]):
        vbas = up[j]
        va = down[j] + inter[j]
        s[P_BASAL, j] = vbas
        s[P_APICAL, j] = va
        nz = s[P_NOISE, j]
        nz = nz + inv_tau_n * (scale_noise * xi[j] - dt * nz)
        s[P_NOISE, j] = nz
        _highpass(s, j, P_HP, dt_hp)
        vs = (gb * vbas + ga * (va + nz)) * tau_s
        s[V_STEADY, j] = vs
        vrb = g_scale * vbas
        vb = _soma(s, j, vs, le, g_sum, dt, tau_s)
        s[RATE, j] = act(float(vb), t, code)
        s[P_RB, j] = act(float(vrb), t, code)


@njit(**_JIT)
def interneuron(s, pyr, down, le, code, gd, gsom, tau_s, g_scale, g_sum, dt, thr):
    """One step of the interneurons (``mc_models.neurons.interneuron.numpy_step``)."""
    t = float(thr)
    for j in range(s.shape[1]):
        s[RATE_LAST, j] = s[RATE, j]
        s[I_RDL, j] = s[I_RD, j]
        vden = pyr[j]
        vdown = down[j]
        s[I_DEND, j] = vden
        s[I_DOWN, j] = vdown
        vs = (gd * vden + gsom * vdown) * tau_s
        s[V_STEADY, j] = vs
        vrd = g_scale * vden
        vb = _soma(s, j, vs, le, g_sum, dt, tau_s)
        s[RATE, j] = act(float(vb), t, code)
        s[I_RD, j] = act(float(vrd), t, code)


@njit(**_JIT)
def output(
    s, up, target, teach, le, code, gb, gt, den_t, den_n, g_scale, g_sum, tau_s, dt, dt_hp, thr
):
    """One step of the output neurons (``mc_models.neurons.output.numpy_step``)."""
    t = float(thr)
    for j in range(s.shape[1]):
        vbas = up[j]
        vt = target[j]
        s[O_BASAL, j] = vbas
        s[O_TARGET, j] = vt
        _highpass(s, j, O_HP, dt_hp)
        if teach:
            vs = (gb * vbas + gt * vt) / den_t
        else:
            vs = gb * vbas / den_n
        s[V_STEADY, j] = vs
        vrb = g_scale * vbas
        vb = _soma(s, j, vs, le, g_sum, dt, tau_s)
        s[RATE, j] = act(float(vb), t, code)
        s[O_RB, j] = act(float(vrb), t, code)


@njit(**_JIT)
def player(s, ctr, slot, rates, order, period, mute, decay, base):
    """One step of a rate player (``mc_models.neurons.rate_player.numpy_step``, one member)."""
    n = s.shape[1]
    for j in range(n):
        s[PL_LAST, j] = s[PL_RATE, j]
    if ctr[slot, 1] >= period:
        ctr[slot, 0] += 1
        ctr[slot, 1] = 0
        row = order[ctr[slot, 0]]
        for j in range(n):
            s[PL_RATE0, j] = rates[row, j]
    muted = ctr[slot, 1] < mute
    for j in range(n):
        rl = s[PL_LAST, j]
        u = base if muted else s[PL_RATE0, j]
        s[PL_RATE, j] = rl + decay * (u - rl)
    ctr[slot, 1] += 1


@njit(**_JIT)
def bias(s, value):
    """The bias neuron: ``rate = rate_last = value``."""
    s[0, 0] = value
    s[1, 0] = value


@njit(**_JIT)
def syn_delta(g, d, r_pre, rl_pre, post_a, post_b, dt_eta, h, learn, i2p, acc, err, zero):
    """A low-pass delta-rule projection, then its input sum into ``acc``.

    Error terms: ``(dt eta) (post_a - post_b)`` (forward, p2i: rate minus basal/dendritic
    rate), or ``-post_a`` (i2p: the apical potential, target ``(dt eta) (err r_last)``).
    ``g += delta`` (the old delta), ``delta += h (target - delta)``, then
    ``acc[j] = sum_i g[i, j] r_pre[i]`` in ascending ``i`` from zero.
    """
    n_pre, n_post = g.shape
    for j in range(n_post):
        acc[j] = zero
    if not learn:
        for i in range(n_pre):
            r = r_pre[i]
            for j in range(n_post):
                acc[j] += g[i, j] * r
        return
    if i2p:
        for j in range(n_post):
            err[j] = -post_a[j]
        for i in range(n_pre):
            rl = rl_pre[i]
            r = r_pre[i]
            for j in range(n_post):
                dd = d[i, j]
                gn = g[i, j] + dd
                g[i, j] = gn
                d[i, j] = dd + h * (dt_eta * (err[j] * rl) - dd)
                acc[j] += gn * r
        return
    for j in range(n_post):
        err[j] = dt_eta * (post_a[j] - post_b[j])
    for i in range(n_pre):
        rl = rl_pre[i]
        r = r_pre[i]
        for j in range(n_post):
            dd = d[i, j]
            gn = g[i, j] + dd
            g[i, j] = gn
            d[i, j] = dd + h * (err[j] * rl - dd)
            acc[j] += gn * r


@njit(**_JIT)
def syn_feedback(g, r_pre, hp_pre, noise_post, dt_eta, alpha, learn, acc, zero):
    """PAL: ``g += (dt eta) (noise_post hp_pre - alpha g)``, then the input sum into ``acc``."""
    n_pre, n_post = g.shape
    for j in range(n_post):
        acc[j] = zero
    for i in range(n_pre):
        r = r_pre[i]
        if learn:
            rh = hp_pre[i]
            for j in range(n_post):
                gg = g[i, j]
                gn = gg + dt_eta * (noise_post[j] * rh - alpha * gg)
                g[i, j] = gn
                acc[j] += gn * r
        else:
            for j in range(n_post):
                acc[j] += g[i, j] * r


@njit(**_JIT)
def one_to_one(acc, src, on, zero):
    """Static one-to-one input of weight 1 (``zero + x``, as the input collection adds it)."""
    for j in range(acc.shape[0]):
        acc[j] = zero + src[j] if on else zero


@njit(**_JIT)
def add_into(buf, tmp):
    """A second projection onto the same input: ``buf = buf + tmp``."""
    for j in range(buf.shape[0]):
        buf[j] = buf[j] + tmp[j]


@njit(**_JIT)
def record(b, ns, gw, dw, ct, row, index):
    """Copy member ``b``'s recorded variables into ``row`` (layout in ``index``, see the backend)."""
    for e in range(index.shape[0]):
        kind, t, v, o, size = index[e, 0], index[e, 1], index[e, 2], index[e, 3], index[e, 4]
        if kind == 0:
            src = ns[t][b, v]
            for j in range(size):
                row[o + j] = src[j]
        elif kind == 3:
            for j in range(size):
                row[o + j] = ct[b, t, v]
        else:
            m = gw[t][b] if kind == 1 else dw[t][b]
            for i in range(m.shape[0]):
                for j in range(m.shape[1]):
                    row[o + i * m.shape[1] + j] = m[i, j]

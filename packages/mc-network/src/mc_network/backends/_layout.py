"""Data layout shared by the compiled backend and its generated kernels.

Each population's floating-point state is one ``(batch, n_vars, n)`` array (variables in
:func:`float_vars` order); the rate players' counters live in one ``(batch, n_players, 2)``
integer array; the parameters the kernels read are one flat array of the network's precision,
filled by :data:`POP_PARAMS` / :data:`PROJ_PARAMS`. Those compute every value with NumPy
scalars of the network's precision exactly as the reference step functions do (e.g.
``(g_basal + g_apical) + g_leak`` and ``1 / tau_noise`` in float32), so the kernels see the
very same constants.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from mc_network.models import neuron_var_names
from mc_network.topology import PopKind, ProjKind

__all__ = ["COUNTERS", "PLAYERS", "POP_PARAMS", "PROJ_PARAMS", "float_vars"]

COUNTERS = ("index", "step_counter")
PLAYERS = (PopKind.INPUT, PopKind.TEACHER)


def float_vars(kind: PopKind) -> tuple[str, ...]:
    """Floating-point state variables of a population kind, in the kernel's layout order."""
    return tuple(v for v in neuron_var_names(kind) if v not in COUNTERS)


def _delta_rule() -> dict[str, Callable[[Any], Any]]:
    return {"dt_eta": lambda p: p.dt * p.eta, "h": lambda p: p.h}


def _player() -> dict[str, Callable[[Any], Any]]:
    return {"decay": lambda p: p.decay_step, "base": lambda p: p.base_rate}


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
    PopKind.INPUT: _player(),
    PopKind.TEACHER: _player(),
    PopKind.BIAS: {"value": lambda p: p.value},
}
"""Per population kind: kernel parameter name -> value from the resolved model parameters."""

PROJ_PARAMS: dict[ProjKind, dict[str, Callable[[Any], Any]]] = {
    ProjKind.FORWARD: _delta_rule(),
    ProjKind.P2I: _delta_rule(),
    ProjKind.I2P: _delta_rule(),
    ProjKind.FEEDBACK: {"dt_eta": lambda p: p.dt * p.eta, "alpha": lambda p: p.alpha},
    ProjKind.DOWN_TO_INTER: {},
    ProjKind.TEACHER: {},
}
"""Per projection kind: kernel parameter name -> value from the resolved synapse parameters."""

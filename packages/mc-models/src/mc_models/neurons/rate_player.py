r"""Rate player: plays stored rates, one sample per period (inputs and teacher).

All samples of a stage are resident where the backend computes (the original's "rate
player"); each batch member reads its own rates in its own presentation order
(``sample(i)``: the rate of the sample at position :math:`i` of the order). With :math:`P`
steps per sample, the low-pass factor :math:`d = \Delta t/\tau_0` and the mute window
:math:`M` steps (teacher only), per step:

.. math::

    r_{last} &\leftarrow r \\
    \text{if } c \ge P:&\quad i \leftarrow i + 1,\ c \leftarrow 0,\ r_0 \leftarrow x_{\pi(i)} \\
    u &= \begin{cases} r_{base} & c < M \\ r_0 & \text{otherwise}\end{cases} \\
    r &\leftarrow r_{last} + d\,(u - r_{last}), \qquad c \leftarrow c + 1

Before the first step of a stage the player is reset: :math:`i = c = 0` and
:math:`r = r_{last} = r_0 = x_{\pi(0)}`, so the first sample has no one-step lag.
The mute window is the *fixed* behaviour (the original computed it from the wrong parameter
and never muted; with ``mute_time = 0`` both agree). The network sets every parameter.
"""

from __future__ import annotations

import numpy as np

from mc_models._legacy import LegacyNeuronModel
from mc_models.model import DerivedParam, NeuronModel, Param, Var

__all__ = ["MODEL", "model", "numpy_reset", "numpy_step"]

PARAMS = (
    Param("period", "presentation time per sample (t_pattern)", unit="time"),
    Param("tau", "onset low-pass time constant tau_0 (tau_0 = dt: no low-pass)", unit="time"),
    Param("mute_time", "time at the start of each sample when base_rate is played", unit="time"),
    Param("base_rate", "rate played during the mute window (teacher: u_low)"),
)
DERIVED = (
    DerivedParam("decay_step", "dt/tau_0", lambda p, dt: dt / p["tau"]),
    DerivedParam("period_steps", "steps per sample", lambda p, dt: round(p["period"] / dt)),
    DerivedParam("mute_steps", "muted steps per sample", lambda p, dt: round(p["mute_time"] / dt)),
)
VARS = (
    Var("rate", "played rate"),
    Var("rate_last", "rate one step earlier"),
    Var("rate0", "target rate of the current sample"),
    Var("index", "position in the presentation order", "int", 0, shared=True),
    Var("step_counter", "steps since the sample started", "int", 0, shared=True),
)

MODEL = NeuronModel(
    name="rate_player",
    doc=__doc__,
    params=PARAMS,
    derived=DERIVED,
    vars=VARS,
    update="""
rate_last = rate
if step_counter >= period_steps:
    index += 1
    step_counter = 0
    rate0 = sample(index)
rate = rate_last + decay_step * ((base_rate if step_counter < mute_steps else rate0) - rate_last)
step_counter += 1
""",
    stage_start="""
index = 0
step_counter = 0
rate0 = sample(0)
rate = rate0
rate_last = rate0
""",
)


# ---------------------------------------------------------------------- legacy
# The hand-written renderings, until every backend renders MODEL (being replaced).
_LEGACY_PARAMS = (
    Param("period", "presentation time per sample (t_pattern)", 1.0, "time"),
    Param("tau", "onset low-pass time constant tau_0 (tau_0 = dt: no low-pass)", 0.01, "time"),
    Param("mute_time", "time at the start of each sample when base_rate is played", 0.0, "time"),
    Param("base_rate", "rate played during the mute window (teacher: u_low)", 0.0),
)
# GeNN: ``rates`` holds every member's samples ([member][sample][neuron]) and ``order`` every
# member's presentation order ([member][sample]); the per-neuron offsets say where the
# member's data start (set by the backend at each stage).
GENN_VARS = (
    Var("order_base", "offset of this member's order (member * n_samples)", "unsigned int", 0),
    Var(
        "rate_base",
        "offset of this neuron's first rate (member * n_samples * n + id)",
        "unsigned int",
        0,
    ),
    Var("stride", "neurons per sample (n)", "unsigned int", 1),
)
SIM_CODE = """\
rate_last = rate;
if (step_counter >= period_steps) {
    index++;
    step_counter = 0;
    rate0 = rates[rate_base + (order[order_base + index] * stride)];
}
scalar r = rate0;
if (step_counter < mute_steps) { r = base_rate; }
rate = rate_last + decay_step * (r - rate_last);
step_counter++;
"""


def model() -> NeuronModel:
    """The rate-player model (rates and order are extra global parameters)."""
    return LegacyNeuronModel(
        name="mc_rate_player",
        doc=__doc__,
        params=_LEGACY_PARAMS,
        derived=DERIVED,
        vars=VARS,
        additional_inputs=(),
        sim_code=SIM_CODE,
        extra_global_params=(("rates", "scalar*"), ("order", "unsigned int*")),
        genn_vars=GENN_VARS,
    )


def numpy_reset(s, first_rates) -> None:
    """Reset before a stage: counters to 0 and every rate to the first sample's rates."""
    s["index"][...] = 0
    s["step_counter"][...] = 0
    for name in ("rate0", "rate", "rate_last"):
        s[name][...] = first_rates


def numpy_step(s, rates, order, p) -> None:
    """One step for every batch member.

    ``rates`` has shape (batch, n_samples, n), or (1, n_samples, n) when every member reads
    the same samples; ``order`` has shape (batch, n_samples). Every member steps in lockstep,
    so the counters ``index`` and ``step_counter`` (shape (batch, 1)) hold the same value in
    every row.
    """
    s["rate_last"][...] = s["rate"]
    if s["step_counter"].flat[0] >= int(p.period_steps):
        s["index"] += 1
        s["step_counter"][...] = 0
        b = np.arange(order.shape[0]) % rates.shape[0]
        s["rate0"][...] = rates[b, order[:, s["index"].flat[0]]]
    r = s["rate0"]
    if s["step_counter"].flat[0] < int(p.mute_steps):
        r = p.base_rate
    s["rate"][...] = s["rate_last"] + p.decay_step * (r - s["rate_last"])
    s["step_counter"] += 1

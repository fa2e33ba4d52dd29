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
Within a sample, once an update leaves :math:`r = r_{last}` (the same bits), every later
update recomputes the same rate until the sample or the mute window's side changes
(``hold``/``at_rest``: a backend may then run only the counters).
The mute window is the *fixed* behaviour (the original computed it from the wrong parameter
and never muted; with ``mute_time = 0`` both agree). The network sets every parameter.
"""

from __future__ import annotations

from mc_models.model import DerivedParam, NeuronModel, Param, Var

__all__ = ["MODEL"]

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
    # no switch to a new sample in this update, and the same side of the mute window as the
    # last one (which ran with step_counter - 1)
    hold="step_counter < period_steps and step_counter != mute_steps",
    at_rest=(("rate", "rate_last"),),
    stage_start="""
index = 0
step_counter = 0
rate0 = sample(0)
rate = rate0
rate_last = rate0
""",
)

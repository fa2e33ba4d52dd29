r"""Three-compartment pyramidal neuron (basal, apical with OU noise, soma) with LE.

Per time step :math:`k` (inputs are the synaptic sums of step :math:`k`):

.. math::

    v_B &= I_{up}, \qquad v_A = I_{down} + I_{inter} \\
    n &\leftarrow n + \tfrac{1}{\tau_n}\big(s_n \xi_k - \Delta t\, n\big),
        \quad s_n = \sqrt{\Delta t\,\tau_n}\,\sigma_n,\ \xi_k\sim\mathcal N(0,1) \\
    \hat r &\leftarrow \hat r + (r - r_{last}) - \tfrac{\Delta t}{\tau_{hp}}\hat r,
        \qquad r_{last} \leftarrow r \\
    v_{ss} &= \big(g_B v_B + g_A (v_A + n)\big)\,\tau_s,
        \qquad \tau_s = 1/(g_L+g_B+g_A) \\
    \dot V &= (g_B+g_A+g_L)(v_{ss} - V), \qquad
        \breve v = V + \tau_s \dot V \ \text{(LE)}, \qquad V \leftarrow V + \Delta t\,\dot V \\
    r &= \varphi(\breve v), \qquad r_B = \varphi\big(\tfrac{g_B}{g_L+g_B+g_A} v_B\big)

With LE on, :math:`\breve v = v_{ss}` up to rounding. The OU noise has stationary standard
deviation :math:`\sigma_n/\sqrt{2-\Delta t/\tau_n}`. Without LE (``le_active = 0``),
:math:`\breve v = V` after the Euler step. The defaults are the paper's shared
hyperparameters (the original's model file had g_L 0.1, g_B 1, g_A 0.8, tau 1).

The update is joined from blocks (``INPUTS``, ``OU_NOISE``, ``SOMA``) so that
a variant with another apical noise process replaces one block (see
:mod:`mc_models.neurons.pyramidal_white`).
"""

from __future__ import annotations

from math import sqrt

from mc_models.model import DerivedParam, NeuronModel, Param, Var
from mc_models.neurons._common import (
    HIGHPASS,
    LE,
    LE_ACTIVE,
    SOMA_VARS,
    TAU_HIGHPASS,
    THRESHOLD,
)

__all__ = ["MODEL"]

CONDUCTANCES = (
    Param("g_leak", "leak conductance g_L", 0.03, domain="nonnegative"),
    Param("g_basal", "basal-to-soma coupling g_B", 0.1, domain="positive"),
    Param("g_apical", "apical-to-soma coupling g_A", 0.06, domain="nonnegative"),
)
SIGMA_NOISE = Param(
    "sigma_noise", "noise amplitude sigma_n in the apical compartment", 0.0, domain="nonnegative"
)
PARAMS = (
    *CONDUCTANCES,
    THRESHOLD,
    SIGMA_NOISE,
    Param("tau_noise", "OU noise time constant tau_n", 0.1, "time", "positive"),
    TAU_HIGHPASS,
    LE_ACTIVE,
)
SOMA_DERIVED = (
    DerivedParam(
        "g_scale",
        "basal prediction scale g_B/(g_L+g_B+g_A)",
        lambda p, dt: p["g_basal"] / (p["g_leak"] + p["g_basal"] + p["g_apical"]),
    ),
    DerivedParam(
        "tau_soma",
        "effective somatic time constant 1/(g_L+g_B+g_A)",
        lambda p, dt: 1.0 / (p["g_leak"] + p["g_basal"] + p["g_apical"]),
    ),
)
DERIVED = (
    *SOMA_DERIVED,
    DerivedParam(
        "scale_noise",
        "sqrt(dt tau_n) sigma_n",
        lambda p, dt: sqrt(dt * p["tau_noise"]) * p["sigma_noise"],
    ),
)
VARS = (
    *SOMA_VARS,
    Var("v_basal", "basal potential"),
    Var("v_apical", "apical potential without the noise"),
    Var("noise", "apical noise state"),
    Var("rate_basal", "basal prediction rate phi(g_scale v_basal)"),
    Var("rate_highpass", "high-passed rate"),
)
INPUTS = ("Isyn_up", "Isyn_down", "Isyn_inter")

READ_INPUTS = """
v_basal = Isyn_up
v_apical = Isyn_down + Isyn_inter
"""
OU_NOISE = """
noise += (1.0 / tau_noise) * (scale_noise * normal() - dt * noise)
"""
SOMA = (
    HIGHPASS
    + """
v_steady = (g_basal * v_basal + g_apical * (v_apical + noise)) * tau_soma
v_rate_b = g_scale * v_basal
v_dot = (g_basal + g_apical + g_leak) * (v_steady - V)
"""
    + LE
    + """
rate = phi(v_brev)
rate_basal = phi(v_rate_b)
"""
)

MODEL = NeuronModel(
    name="pyramidal",
    doc=__doc__,
    params=PARAMS,
    derived=DERIVED,
    vars=VARS,
    inputs=INPUTS,
    update=READ_INPUTS + OU_NOISE + SOMA,
    noise_gate="sigma_noise",
)

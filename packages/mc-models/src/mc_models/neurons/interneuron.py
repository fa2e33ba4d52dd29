r"""Two-compartment interneuron (dendrite, soma nudged by the upper layer's voltage) with LE.

One interneuron per neuron of the next layer. Per time step:

.. math::

    r_{last} &\leftarrow r, \qquad r_{D,last} \leftarrow r_D \\
    v_D &= I_{pyramidal}, \qquad v_{down} = I_{down} \\
    v_{ss} &= (g_D v_D + g_{som} v_{down})\,\tau_s, \qquad \tau_s = 1/(g_L+g_D+g_{som}) \\
    \dot V &= (g_D+g_{som}+g_L)(v_{ss} - V), \qquad
        \breve v = V + \tau_s\dot V \ \text{(LE)}, \qquad V \leftarrow V + \Delta t\,\dot V \\
    r &= \varphi(\breve v), \qquad r_D = \varphi\big(\tfrac{g_D}{g_L+g_D} v_D\big)

:math:`I_{down}` is the upper neuron's prospective *voltage* :math:`\breve v` (one-to-one,
weight 1). There is no noise and no high-pass filter. The defaults are the paper's.
"""

from __future__ import annotations

from mc_models.model import DerivedParam, NeuronModel, Param, Var
from mc_models.neurons._common import LE, LE_ACTIVE, SOMA_VARS, THRESHOLD

__all__ = ["MODEL"]

PARAMS = (
    Param("g_leak", "leak conductance g_L", 0.03, domain="nonnegative"),
    Param("g_dendrite", "dendrite-to-soma coupling g_D", 0.1, domain="positive"),
    Param("g_soma", "nudging conductance g_som from the upper layer", 0.06, domain="nonnegative"),
    THRESHOLD,
    LE_ACTIVE,
)
DERIVED = (
    DerivedParam(
        "g_scale",
        "dendritic prediction scale g_D/(g_L+g_D)",
        lambda p, dt: p["g_dendrite"] / (p["g_leak"] + p["g_dendrite"]),
    ),
    DerivedParam(
        "tau_soma",
        "effective somatic time constant 1/(g_L+g_D+g_som)",
        lambda p, dt: 1.0 / (p["g_leak"] + p["g_dendrite"] + p["g_soma"]),
    ),
)
VARS = (
    *SOMA_VARS,
    Var("v_down", "nudging input (upper layer's v_brev)"),
    Var("v_dendrite", "dendritic potential"),
    Var("rate_dendrite", "dendritic prediction rate phi(g_scale v_dendrite)"),
    Var("rate_dendrite_last", "rate_dendrite one step earlier"),
)

MODEL = NeuronModel(
    name="interneuron",
    doc=__doc__,
    params=PARAMS,
    derived=DERIVED,
    vars=VARS,
    inputs=("Isyn_pyramidal", "Isyn_down"),
    update="""
rate_last = rate
rate_dendrite_last = rate_dendrite
v_dendrite = Isyn_pyramidal
v_down = Isyn_down
v_steady = (g_dendrite * v_dendrite + g_soma * v_down) * tau_soma
v_rate_d = g_scale * v_dendrite
v_dot = (g_dendrite + g_soma + g_leak) * (v_steady - V)
"""
    + LE
    + """
rate = phi(v_brev)
rate_dendrite = phi(v_rate_d)
""",
)

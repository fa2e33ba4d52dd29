r"""Output neuron: basal input and a soma nudged by the teacher voltage (switchable), with LE.

Per time step, with the teaching switch :math:`\theta\in\{0,1\}` (a run-time switch):

.. math::

    v_B &= I_{up}, \qquad v_{tgt} = I_{target} \\
    \hat r &\leftarrow \hat r + (r - r_{last}) - \tfrac{\Delta t}{\tau_{hp}}\hat r,
        \qquad r_{last} \leftarrow r \\
    v_{ss} &= \begin{cases} (g_B v_B + g_{tgt} v_{tgt})/(g_B+g_L+g_{tgt}) & \theta=1\\
                            g_B v_B/(g_B+g_L) & \theta = 0\end{cases} \\
    \dot V &= (g_B+g_{tgt}+g_L)(v_{ss} - V), \qquad
        \breve v = V + \tau_s\dot V\ \text{(LE)}, \qquad V \leftarrow V + \Delta t\,\dot V \\
    r &= \varphi(\breve v), \qquad r_B = \varphi\big(\tfrac{g_B}{g_L+g_B} v_B\big)

with :math:`\tau_s = 1/(g_L+g_B+g_{tgt})` whether or not teaching is on (as in the original).
The defaults are the paper's.
"""

from __future__ import annotations

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

PARAMS = (
    Param("g_leak", "leak conductance g_L", 0.03, domain="nonnegative"),
    Param("g_basal", "basal-to-soma coupling g_B", 0.1, domain="positive"),
    Param("g_target", "teacher nudging conductance g_tgt", 0.06, domain="nonnegative"),
    THRESHOLD,
    TAU_HIGHPASS,
    LE_ACTIVE,
)
DERIVED = (
    DerivedParam(
        "g_scale",
        "basal prediction scale g_B/(g_L+g_B)",
        lambda p, dt: p["g_basal"] / (p["g_leak"] + p["g_basal"]),
    ),
    DerivedParam(
        "tau_soma",
        "effective somatic time constant 1/(g_L+g_B+g_tgt)",
        lambda p, dt: 1.0 / (p["g_leak"] + p["g_basal"] + p["g_target"]),
    ),
)
VARS = (
    *SOMA_VARS,
    Var("v_target", "teacher voltage input"),
    Var("v_basal", "basal potential"),
    Var("rate_basal", "basal prediction rate phi(g_scale v_basal)"),
    Var("rate_highpass", "high-passed rate"),
)

MODEL = NeuronModel(
    name="output",
    doc=__doc__,
    params=PARAMS,
    derived=DERIVED,
    vars=VARS,
    inputs=("Isyn_up", "Isyn_target"),
    switches=("teaching",),
    update="""
v_basal = Isyn_up
v_target = Isyn_target
"""
    + HIGHPASS
    + """
if teaching:
    v_steady = (g_basal * v_basal + g_target * v_target) / (g_basal + g_leak + g_target)
else:
    v_steady = g_basal * v_basal / (g_basal + g_leak)
v_rate_b = g_scale * v_basal
v_dot = (g_basal + g_target + g_leak) * (v_steady - V)
"""
    + LE
    + """
rate = phi(v_brev)
rate_basal = phi(v_rate_b)
""",
)

r"""Forward ("up") synapse: low-pass filtered Urbanczik-Senn rule on the basal error.

Used for input/lower pyramidal -> pyramidal, pyramidal -> output and bias -> pyramidal.
At step :math:`k`, reading the neuron state after step :math:`k-1`, if learning is on:

.. math::

    \delta^\ast &= \big((\Delta t\,\eta)\,(r_{post} - r^B_{post})\big)\,r^{last}_{pre} \\
    g &\leftarrow g + \delta \qquad\text{(the old } \delta\text{: one step of lag)} \\
    \delta &\leftarrow \delta + h\,(\delta^\ast - \delta), \qquad h = \Delta t/\tau_w

and always :math:`I_{up} \mathrel{+}= g\,r_{pre}` (with the new :math:`g`). Here
:math:`r^{last}_{pre} = r_{pre}[k-2]`. In steady state
:math:`\dot g \approx \eta\,\langle (r - r^B) r_{pre}\rangle` low-passed over :math:`\tau_w`.
"""

from __future__ import annotations

from mc_models.synapses._common import (
    delta_rule_model,
)

__all__ = ["MODEL"]

MODEL = delta_rule_model(
    "forward", __doc__, "((dt * eta) * (rate_post - rate_basal_post)) * rate_last_pre"
)

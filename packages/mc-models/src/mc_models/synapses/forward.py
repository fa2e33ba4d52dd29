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

from mc_models._legacy import LegacySynapseModel
from mc_models.synapses._common import (
    DELTA,
    ETA,
    LEARNING,
    TAU_W,
    G,
    H,
    delta_rule_code,
    delta_rule_model,
)

__all__ = ["MODEL", "model", "target"]

MODEL = delta_rule_model(
    "forward", __doc__, "((dt * eta) * (rate_post - rate_basal_post)) * rate_last_pre"
)


# ---------------------------------------------------------------------- legacy
# The hand-written renderings, until every backend renders MODEL (being replaced).
def model() -> LegacySynapseModel:
    """The forward synapse model."""
    return LegacySynapseModel(
        name="mc_forward",
        doc=__doc__,
        params=(ETA, TAU_W, LEARNING),
        derived=(H,),
        vars=(G, DELTA),
        pre_refs=(("rate_pre", "rate"), ("rate_last_pre", "rate_last")),
        post_refs=(("rate_post", "rate"), ("rate_basal_post", "rate_basal")),
        synapse_dynamics_code=delta_rule_code("rate_post - rate_basal_post"),
        dynamic_params=("learning",),
    )


def target(dt_eta, pre, post):
    """Per-synapse delta target (batch, n_pre, n_post) in the spec's evaluation order."""
    err = dt_eta * (post["rate"] - post["rate_basal"])
    return err[:, None, :] * pre["rate_last"][:, :, None]

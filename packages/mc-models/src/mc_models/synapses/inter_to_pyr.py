r"""Interneuron -> pyramidal synapse: learns to silence the apical potential.

.. math::

    \delta^\ast = (\Delta t\,\eta)\,\big((-v^A_{post})\,r^{last}_{pre}\big),
    \qquad g \leftarrow g + \delta,\qquad \delta \leftarrow \delta + h(\delta^\ast-\delta)

(the product of the post and pre terms is formed first) and
:math:`I_{inter} \mathrel{+}= g\,r_{pre}`. :math:`v^A` excludes the apical noise.
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

MODEL = delta_rule_model("inter_to_pyr", __doc__, "(dt * eta) * ((-v_apical_post) * rate_last_pre)")


# ---------------------------------------------------------------------- legacy
# The hand-written renderings, until every backend renders MODEL (being replaced).
def model() -> LegacySynapseModel:
    """The interneuron-to-pyramidal synapse model."""
    return LegacySynapseModel(
        name="mc_inter_to_pyr",
        doc=__doc__,
        params=(ETA, TAU_W, LEARNING),
        derived=(H,),
        vars=(G, DELTA),
        pre_refs=(("rate_pre", "rate"), ("rate_last_pre", "rate_last")),
        post_refs=(("v_apical_post", "v_apical"),),
        synapse_dynamics_code=delta_rule_code("(-v_apical_post)", product_first=True),
        dynamic_params=("learning",),
    )


def target(dt_eta, pre, post):
    """Per-synapse delta target (batch, n_pre, n_post) in the spec's evaluation order."""
    return dt_eta * ((-post["v_apical"])[:, None, :] * pre["rate_last"][:, :, None])

r"""Pyramidal -> interneuron synapse: the interneuron learns to predict the next layer.

Same low-pass delta scheme as the forward synapse, with the dendritic error:

.. math::

    \delta^\ast = \big((\Delta t\,\eta)\,(r_{post} - r^D_{post})\big)\,r^{last}_{pre},
    \qquad g \leftarrow g + \delta,\qquad \delta \leftarrow \delta + h(\delta^\ast-\delta)

and :math:`I_{pyramidal} \mathrel{+}= g\,r_{pre}`. Also used for bias -> interneuron.
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
    "pyr_to_inter", __doc__, "((dt * eta) * (rate_post - rate_dendrite_post)) * rate_last_pre"
)


# ---------------------------------------------------------------------- legacy
# The hand-written renderings, until every backend renders MODEL (being replaced).
def model() -> LegacySynapseModel:
    """The pyramidal-to-interneuron synapse model."""
    return LegacySynapseModel(
        name="mc_pyr_to_inter",
        doc=__doc__,
        params=(ETA, TAU_W, LEARNING),
        derived=(H,),
        vars=(G, DELTA),
        pre_refs=(("rate_pre", "rate"), ("rate_last_pre", "rate_last")),
        post_refs=(("rate_post", "rate"), ("rate_dendrite_post", "rate_dendrite")),
        synapse_dynamics_code=delta_rule_code("rate_post - rate_dendrite_post"),
        dynamic_params=("learning",),
    )


def target(dt_eta, pre, post):
    """Per-synapse delta target (batch, n_pre, n_post) in the spec's evaluation order."""
    err = dt_eta * (post["rate"] - post["rate_dendrite"])
    return err[:, None, :] * pre["rate_last"][:, :, None]

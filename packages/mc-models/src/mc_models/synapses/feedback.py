r"""Feedback synapse B (upper layer -> apical dendrite) with Phaseless Alignment Learning.

At step :math:`k`, reading the state after step :math:`k-1`, if learning is on:

.. math::

    B \leftarrow B + (\Delta t\,\eta_B)\,\big(\xi_{post}\,\hat r_{pre} - \alpha B\big)

where :math:`\xi_{post}` is the lower pyramidal's apical noise state and :math:`\hat r_{pre}`
the upper neuron's high-passed rate. Always :math:`I_{down} \mathrel{+}= B\,r_{pre}`. With
:math:`\eta_B = 0` (feedback alignment) :math:`B` is bit-for-bit constant.
"""

from __future__ import annotations

from mc_models._legacy import LegacySynapseModel
from mc_models.model import Param, SynapseModel
from mc_models.synapses._common import ETA, LEARNING, OUTPUT, G

__all__ = ["MODEL", "model", "numpy_update"]

ALPHA = Param("alpha", "weight decay alpha of the PAL rule")

MODEL = SynapseModel(
    name="pal",
    doc=__doc__,
    params=(ETA, ALPHA),
    vars=(G,),
    switches=("learning",),
    update="""
if learning:
    g += (dt * eta) * (noise_post * rate_highpass_pre - alpha * g)
""",
    output=OUTPUT,
)


# ---------------------------------------------------------------------- legacy
# The hand-written renderings, until every backend renders MODEL (being replaced).
def model() -> LegacySynapseModel:
    """The PAL feedback synapse model."""
    return LegacySynapseModel(
        name="mc_feedback_pal",
        doc=__doc__,
        params=(ETA, ALPHA, LEARNING),
        derived=(),
        vars=(G,),
        pre_refs=(("rate_pre", "rate"), ("rate_highpass_pre", "rate_highpass")),
        post_refs=(("noise_post", "noise"),),
        synapse_dynamics_code=(
            "if (learning > 0.5) {\n"
            "    g += (dt * eta) * (noise_post * rate_highpass_pre - alpha * g);\n"
            "}\n"
            "addToPost(g * rate_pre);\n"
        ),
        dynamic_params=("learning",),
    )


def numpy_update(g, dt_eta, alpha, pre, post) -> None:
    """Apply one PAL step to ``g`` (batch, n_pre, n_post) in place."""
    g += dt_eta * (post["noise"][:, None, :] * pre["rate_highpass"][:, :, None] - alpha * g)

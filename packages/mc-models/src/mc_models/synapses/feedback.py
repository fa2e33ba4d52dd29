r"""Feedback synapse B (upper layer -> apical dendrite) with Phaseless Alignment Learning.

At step :math:`k`, reading the state after step :math:`k-1`, if learning is on:

.. math::

    B \leftarrow B + (\Delta t\,\eta_B)\,\big(\xi_{post}\,\hat r_{pre} - \alpha B\big)

where :math:`\xi_{post}` is the lower pyramidal's apical noise state and :math:`\hat r_{pre}`
the upper neuron's high-passed rate. Always :math:`I_{down} \mathrel{+}= B\,r_{pre}`. With
:math:`\eta_B = 0` (feedback alignment) :math:`B` is bit-for-bit constant.
"""

from __future__ import annotations

from mc_models.model import Param, SynapseModel
from mc_models.synapses._common import ETA, OUTPUT, G

__all__ = ["MODEL"]

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

r"""Static one-to-one connections (weight 1, no state).

* ``down_to_inter``: upper neuron -> its interneuron, carrying the prospective *voltage*
  :math:`I_{down} \mathrel{+}= \breve v_{pre}` (not a rate).
* ``teacher``: teacher player -> output, :math:`I_{target} \mathrel{+}= r_{pre}` only
  while teaching is on; the teacher value is injected as a target voltage.
"""

from __future__ import annotations

from mc_models.model import SynapseModel

__all__ = ["DOWN_TO_INTER", "TEACHER"]

DOWN_TO_INTER = SynapseModel(
    name="down_to_inter",
    doc="One-to-one voltage nudging of the interneurons: I_down += v_brev_pre.",
    output="v_brev_pre",
)
TEACHER = SynapseModel(
    name="teacher",
    doc="One-to-one teacher input to the output neurons, gated by the teaching switch.",
    switches=("teaching",),
    output="rate_pre",
    output_when="teaching",
)

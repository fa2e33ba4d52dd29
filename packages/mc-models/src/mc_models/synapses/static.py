r"""Static one-to-one connections (weight 1, no state).

* ``down_to_inter``: upper neuron -> its interneuron, carrying the prospective *voltage*
  :math:`I_{down} \mathrel{+}= \breve v_{pre}` (not a rate).
* ``teacher``: teacher player -> output, :math:`I_{target} \mathrel{+}= r_{pre}` only
  while teaching is on; the teacher value is injected as a target voltage.
"""

from __future__ import annotations

from mc_models._legacy import LegacySynapseModel
from mc_models.model import Param, SynapseModel, Var

__all__ = ["DOWN_TO_INTER", "TEACHER", "down_to_inter", "teacher"]

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


# ---------------------------------------------------------------------- legacy
# The hand-written renderings, until every backend renders MODEL (being replaced).
def down_to_inter() -> LegacySynapseModel:
    """One-to-one voltage nudging of the interneurons."""
    return LegacySynapseModel(
        name="mc_down_to_inter",
        doc=__doc__,
        params=(),
        derived=(),
        vars=(Var("g", "weight (1)", init=1.0),),
        pre_refs=(("v_brev_pre", "v_brev"),),
        post_refs=(),
        synapse_dynamics_code="addToPost(g * v_brev_pre);\n",
        plastic=False,
    )


def teacher() -> LegacySynapseModel:
    """One-to-one teacher input to the output neurons, gated by the teaching switch."""
    return LegacySynapseModel(
        name="mc_teacher",
        doc=__doc__,
        params=(Param("teaching", "teaching switch (run-time)", 1.0),),
        derived=(),
        vars=(Var("g", "weight (1)", init=1.0),),
        pre_refs=(("rate_pre", "rate"),),
        post_refs=(),
        synapse_dynamics_code="if (teaching > 0.5) {\n    addToPost(g * rate_pre);\n}\n",
        dynamic_params=("teaching",),
        plastic=False,
    )

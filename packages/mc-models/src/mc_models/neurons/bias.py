r"""Bias neuron: one neuron whose rate is a constant, :math:`r = r_{last} = b` every step.

It *starts* at :math:`b` too (as the original: its initial rate and rate_last are the value),
so the bias synapses read :math:`b` already at the first step.
"""

from __future__ import annotations

from mc_models._legacy import LegacyNeuronModel
from mc_models.model import NeuronModel, Param, Var

__all__ = ["MODEL", "model", "numpy_step"]

MODEL = NeuronModel(
    name="bias",
    doc=__doc__,
    params=(Param("value", "the constant rate b", 1.0),),
    vars=(Var("rate", "rate b", init="value"), Var("rate_last", "rate b", init="value")),
    update="""
rate = value
rate_last = value
""",
)


# ---------------------------------------------------------------------- legacy
# The hand-written renderings, until every backend renders MODEL (being replaced).
def model() -> LegacyNeuronModel:
    """The bias neuron model."""
    return LegacyNeuronModel(
        name="mc_bias",
        doc=__doc__,
        params=MODEL.params,
        derived=(),
        vars=MODEL.vars,
        additional_inputs=(),
        sim_code="rate = value;\nrate_last = value;\n",
    )


def numpy_step(s, p) -> None:
    """Set the rate to the constant value."""
    s["rate"][...] = p.value
    s["rate_last"][...] = p.value

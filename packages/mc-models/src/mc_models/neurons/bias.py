r"""Bias neuron: one neuron whose rate is a constant, :math:`r = r_{last} = b` every step.

It *starts* at :math:`b` too (as the original: its initial rate and rate_last are the value),
so the bias synapses read :math:`b` already at the first step.
"""

from __future__ import annotations

from mc_models.model import NeuronModel, Param, Var

__all__ = ["MODEL"]

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

r"""Bias neuron: one neuron whose rate is a constant, :math:`r = r_{last} = b` every step.

It *starts* at :math:`b` too (as the original: its initial rate and rate_last are the value),
so the bias synapses read :math:`b` already at the first step.
"""

from __future__ import annotations

from mc_models.model import NeuronModel, Param, Var

__all__ = ["model", "numpy_step"]

PARAMS = (Param("value", "the constant rate b", 1.0),)
VARS = (Var("rate", "rate b", init="value"), Var("rate_last", "rate b", init="value"))
SIM_CODE = "rate = value;\nrate_last = value;\n"


def model() -> NeuronModel:
    """The bias neuron model."""
    return NeuronModel(
        name="mc_bias",
        doc=__doc__,
        params=PARAMS,
        derived=(),
        vars=VARS,
        additional_inputs=(),
        sim_code=SIM_CODE,
    )


def numpy_step(s, p) -> None:
    """Set the rate to the constant value."""
    s["rate"][...] = p.value
    s["rate_last"][...] = p.value

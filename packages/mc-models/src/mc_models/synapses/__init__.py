"""Synapse (weight-update) models: each module declares one rule (``MODEL``)."""

from mc_models.render.numpy import presyn_sum
from mc_models.synapses import feedback, forward, inter_to_pyr, pyr_to_inter, static
from mc_models.synapses._common import delta_rule_step

__all__ = [
    "delta_rule_step",
    "feedback",
    "forward",
    "inter_to_pyr",
    "presyn_sum",
    "pyr_to_inter",
    "static",
]

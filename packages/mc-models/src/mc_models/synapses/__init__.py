"""Synapse (weight-update) models: each module declares one rule (``MODEL``)."""

from mc_models.render.numpy import presyn_sum
from mc_models.synapses import feedback, forward, inter_to_pyr, pyr_to_inter, static

__all__ = ["feedback", "forward", "inter_to_pyr", "presyn_sum", "pyr_to_inter", "static"]

"""Neuron models: each module declares one model (``MODEL``) in the notation of mc_models.expr."""

from mc_models.neurons import bias, interneuron, output, pyramidal, pyramidal_white, rate_player

__all__ = ["bias", "interneuron", "output", "pyramidal", "pyramidal_white", "rate_player"]

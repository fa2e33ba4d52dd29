"""Neuron models: each module defines one model (GeNN rendering and NumPy step)."""

from mc_models.neurons import bias, interneuron, output, pyramidal, rate_player

__all__ = ["bias", "interneuron", "output", "pyramidal", "rate_player"]

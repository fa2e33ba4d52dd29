"""mc-models: neuron and synapse models of dendritic cortical microcircuits.

Each model is declared once (named parameters with defaults, derived parameters, state
variables, run-time switches and the per-step update in the notation of
:mod:`mc_models.expr`) and rendered from that one declaration as GeNN 5 code (plain data,
no pygenn needed), as a vectorised NumPy step and as numba loop bodies
(:mod:`mc_models.render`). See :mod:`mc_models.neurons`, :mod:`mc_models.synapses` and
:mod:`mc_models.registry`.
"""

from importlib.metadata import PackageNotFoundError, version

from mc_models.activations import ACTIVATIONS, Activation, get_activation
from mc_models.expr import NotationError
from mc_models.model import DerivedParam, NeuronModel, Param, ResolvedParams, SynapseModel, Var
from mc_models.registry import (
    ModelOrigin,
    PluginError,
    model_origin,
    neuron_model,
    neuron_models,
    register,
    synapse_model,
    synapse_models,
)

try:
    __version__ = version("mc-models")
except PackageNotFoundError:  # pragma: no cover - running from a source tree
    __version__ = "0.0.0+unknown"

__all__ = [
    "ACTIVATIONS",
    "Activation",
    "DerivedParam",
    "ModelOrigin",
    "NeuronModel",
    "NotationError",
    "Param",
    "PluginError",
    "ResolvedParams",
    "SynapseModel",
    "Var",
    "__version__",
    "get_activation",
    "model_origin",
    "neuron_model",
    "neuron_models",
    "register",
    "synapse_model",
    "synapse_models",
]

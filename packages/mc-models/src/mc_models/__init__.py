"""mc-models: neuron and synapse models of dendritic cortical microcircuits.

Each model is defined once (named parameters, derived parameters, state variables and
equations) and rendered both as GeNN 5 code (plain data, no pygenn needed) and as a NumPy
step for the reference backend. See :mod:`mc_models.neurons` and :mod:`mc_models.synapses`.
"""

from importlib.metadata import PackageNotFoundError, version

from mc_models.activations import ACTIVATIONS, Activation, get_activation
from mc_models.model import DerivedParam, NeuronModel, Param, ResolvedParams, SynapseModel, Var

try:
    __version__ = version("mc-models")
except PackageNotFoundError:  # pragma: no cover - running from a source tree
    __version__ = "0.0.0+unknown"

__all__ = [
    "ACTIVATIONS",
    "Activation",
    "DerivedParam",
    "NeuronModel",
    "Param",
    "ResolvedParams",
    "SynapseModel",
    "Var",
    "__version__",
    "get_activation",
]

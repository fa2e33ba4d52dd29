"""The models a network can use, by name: the built-in ones and those registered by users.

A new model is one module that declares it (see ``Adding a model`` in the mc-models README)
plus one registration: a line in ``BUILTIN`` for a model of this package, or
:func:`register` for a model defined elsewhere (a script, a test, another package).
"""

from __future__ import annotations

from mc_models.model import NeuronModel, SynapseModel
from mc_models.neurons import bias, interneuron, output, pyramidal, pyramidal_white, rate_player
from mc_models.synapses import feedback, forward, inter_to_pyr, pyr_to_inter, static

__all__ = [
    "BUILTIN",
    "neuron_model",
    "neuron_models",
    "register",
    "synapse_model",
    "synapse_models",
]

BUILTIN: tuple[NeuronModel | SynapseModel, ...] = (
    pyramidal.MODEL,
    pyramidal_white.MODEL,
    interneuron.MODEL,
    output.MODEL,
    rate_player.MODEL,
    bias.MODEL,
    forward.MODEL,
    pyr_to_inter.MODEL,
    inter_to_pyr.MODEL,
    feedback.MODEL,
    static.DOWN_TO_INTER,
    static.TEACHER,
)

_NEURONS: dict[str, NeuronModel] = {}
_SYNAPSES: dict[str, SynapseModel] = {}


def register(model: NeuronModel | SynapseModel, *, replace: bool = False) -> None:
    """Make ``model`` available to networks under its name.

    Registering another model under a taken name is an error unless ``replace``;
    registering the same model again does nothing.
    """
    table = _NEURONS if isinstance(model, NeuronModel) else _SYNAPSES
    if not isinstance(model, NeuronModel | SynapseModel):
        raise TypeError(f"register: expected a NeuronModel or SynapseModel, got {model!r}")
    old = table.get(model.name)
    if old is not None and old is not model and not replace:
        raise ValueError(
            f"a model named {model.name!r} is registered already; pick another name or pass "
            "replace=True"
        )
    table[model.name] = model


def neuron_model(name: str) -> NeuronModel:
    """The registered neuron model ``name``."""
    try:
        return _NEURONS[name]
    except KeyError:
        raise ValueError(f"unknown neuron model {name!r}; registered: {sorted(_NEURONS)}") from None


def synapse_model(name: str) -> SynapseModel:
    """The registered synapse model ``name``."""
    try:
        return _SYNAPSES[name]
    except KeyError:
        raise ValueError(
            f"unknown synapse model {name!r}; registered: {sorted(_SYNAPSES)}"
        ) from None


def neuron_models() -> dict[str, NeuronModel]:
    """Every registered neuron model by name."""
    return dict(_NEURONS)


def synapse_models() -> dict[str, SynapseModel]:
    """Every registered synapse model by name."""
    return dict(_SYNAPSES)


for _model in BUILTIN:
    register(_model)

"""Which model each population and projection of a network uses, and its parameter values.

The one place where the network description meets the models: a population's or
projection's role (:class:`~mc_network.topology.PopKind`, ``ProjKind``) names its model in
the registry of :mod:`mc_models.registry`, and the description's sections give the values
of the parameters the network sets (the rest keep the model's defaults).
"""

from __future__ import annotations

from typing import Any

from mc_models import NeuronModel, SynapseModel, get_activation, neuron_model, synapse_model
from mc_models.neurons import bias, interneuron, output, pyramidal, rate_player
from mc_models.synapses import feedback, forward, inter_to_pyr, pyr_to_inter, static
from mc_network.spec import NetworkSpec
from mc_network.topology import PopKind, Population, Projection, ProjKind

__all__ = [
    "neuron_params",
    "population_data",
    "population_model",
    "projection_frozen",
    "projection_model",
    "synapse_params",
]

POPULATION_MODELS = {
    PopKind.PYRAMIDAL: "pyramidal",
    PopKind.INTER: "interneuron",
    PopKind.OUTPUT: "output",
    PopKind.INPUT: "rate_player",
    PopKind.TEACHER: "rate_player",
    PopKind.BIAS: "bias",
}
PROJECTION_MODELS = {
    ProjKind.FORWARD: "forward",
    ProjKind.FEEDBACK: "pal",
    ProjKind.P2I: "pyr_to_inter",
    ProjKind.I2P: "inter_to_pyr",
    ProjKind.DOWN_TO_INTER: "down_to_inter",
    ProjKind.TEACHER: "teacher",
}
_DATA = {PopKind.INPUT: "inputs", PopKind.TEACHER: "teacher"}


def population_model(spec: NetworkSpec, pop: Population) -> NeuronModel:
    """The neuron model of a population."""
    return neuron_model(POPULATION_MODELS[pop.kind])


def projection_model(spec: NetworkSpec, proj: Projection) -> SynapseModel:
    """The synapse model of a projection."""
    return synapse_model(PROJECTION_MODELS[proj.kind])


def population_data(pop: Population) -> str | None:
    """The stage data a player population plays (``inputs`` or ``teacher``)."""
    return _DATA.get(pop.kind)


def projection_frozen(proj: Projection) -> frozenset[str]:
    """The switches held off for a projection: ``learning`` where it never learns."""
    return frozenset() if proj.plastic and proj.eta != 0 else frozenset({"learning"})


def neuron_params(spec: NetworkSpec, pop: Population, model: NeuronModel) -> dict[str, float]:
    """Named parameter values of a population (only those its model declares)."""
    pl = spec.player
    values: dict[str, Any] = {
        "threshold": spec.threshold,
        "le_active": 1.0 if spec.le_active else 0.0,
    }
    if pop.kind is PopKind.PYRAMIDAL:
        values.update(vars(spec.pyramidal))
    elif pop.kind is PopKind.INTER:
        values.update(vars(spec.interneuron))
    elif pop.kind is PopKind.OUTPUT:
        values.update(vars(spec.output))
    elif pop.kind is PopKind.INPUT:
        values.update(period=pl.t_pattern, tau=pl.tau_0, mute_time=0.0, base_rate=0.0)
    elif pop.kind is PopKind.TEACHER:
        values.update(
            period=pl.t_pattern,
            tau=pl.tau_0,
            mute_time=pl.teacher_mute,
            base_rate=pl.teacher_base_rate,
        )
    else:
        values.update(value=spec.bias.value)
    return {k: float(v) for k, v in values.items() if k in model.param_names}


def synapse_params(spec: NetworkSpec, proj: Projection, model: SynapseModel) -> dict[str, float]:
    """Named parameter values of a projection (only those its model declares)."""
    values = {"eta": proj.eta, "tau": proj.tau, "alpha": spec.plasticity.alpha}
    return {k: float(v) for k, v in values.items() if k in model.param_names}


# ---------------------------------------------------------------------- legacy
# The hand-written renderings of the backends that do not run the step program yet.
def legacy_neuron_model(spec: NetworkSpec, kind: PopKind):
    """The hand-written neuron model of a population kind."""
    return _legacy_neuron_model(kind, spec.activation)


def neuron_var_names(kind: PopKind) -> tuple[str, ...]:
    """State variables of a population kind (independent of the activation)."""
    return _legacy_neuron_model(kind, "sigmoid").var_names


def _legacy_neuron_model(kind: PopKind, activation: str):
    act = get_activation(activation)
    return {
        PopKind.PYRAMIDAL: lambda: pyramidal.model(act),
        PopKind.INTER: lambda: interneuron.model(act),
        PopKind.OUTPUT: lambda: output.model(act),
        PopKind.INPUT: rate_player.model,
        PopKind.TEACHER: rate_player.model,
        PopKind.BIAS: bias.model,
    }[kind]()


def legacy_neuron_params(spec: NetworkSpec, pop: Population) -> dict[str, float]:
    """Named parameter values of a population for the hand-written models."""
    values = neuron_params(spec, pop, _legacy_neuron_model(pop.kind, "sigmoid"))
    if pop.kind is PopKind.OUTPUT:
        values["teaching"] = 1.0
    return values


_SYNAPSES: dict[ProjKind, Any] = {
    ProjKind.FORWARD: forward.model,
    ProjKind.P2I: pyr_to_inter.model,
    ProjKind.I2P: inter_to_pyr.model,
    ProjKind.FEEDBACK: feedback.model,
    ProjKind.DOWN_TO_INTER: static.down_to_inter,
    ProjKind.TEACHER: static.teacher,
}


def legacy_synapse_model(kind: ProjKind):
    """The hand-written weight-update model of a projection kind."""
    return _SYNAPSES[kind]()


def legacy_synapse_params(spec: NetworkSpec, proj: Projection) -> dict[str, float]:
    """Named parameter values of a projection for the hand-written models."""
    if proj.kind is ProjKind.FEEDBACK:
        return {"eta": proj.eta, "alpha": spec.plasticity.alpha, "learning": 1.0}
    if proj.has_delta:
        return {"eta": proj.eta, "tau": proj.tau, "learning": 1.0}
    if proj.kind is ProjKind.TEACHER:
        return {"teaching": 1.0}
    return {}

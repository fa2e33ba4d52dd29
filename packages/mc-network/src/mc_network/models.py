"""Which model each population and projection of a network uses, and its parameter values.

The one place where the network description meets the models: a population's or
projection's role (:class:`~mc_network.topology.PopKind`, ``ProjKind``) names its model in
the registry of :mod:`mc_models.registry`, and the description's sections give the values
of the parameters the network sets (the rest keep the model's defaults).
"""

from __future__ import annotations

from typing import Any

from mc_models import NeuronModel, SynapseModel, neuron_model, synapse_model
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

"""Which model each population and projection of a network uses, and its parameter values.

The one place where the network description meets the models: a population's or
projection's role (:class:`~mc_network.topology.PopKind`, ``ProjKind``) names the section of
the description that chooses its model (``spec.pyramidal.model``, ``spec.rules.feedback``
...) from the registry of :mod:`mc_models.registry`, and the description gives the values
of the parameters the network sets.
"""

from __future__ import annotations

from dataclasses import fields
from typing import Any

from mc_models import NeuronModel, SynapseModel, neuron_model, synapse_model
from mc_network.spec import NetworkSpec, section_model
from mc_network.topology import PopKind, Population, Projection, ProjKind

__all__ = [
    "neuron_params",
    "population_data",
    "population_model",
    "projection_frozen",
    "projection_model",
    "synapse_params",
]

_NEURON_SECTIONS = {
    PopKind.PYRAMIDAL: "pyramidal",
    PopKind.INTER: "interneuron",
    PopKind.OUTPUT: "output",
}
_FIXED_NEURONS = {
    PopKind.INPUT: "rate_player",
    PopKind.TEACHER: "rate_player",
    PopKind.BIAS: "bias",
}
_RULES = {
    ProjKind.FORWARD: "forward",
    ProjKind.P2I: "p2i",
    ProjKind.I2P: "i2p",
    ProjKind.FEEDBACK: "feedback",
}
_FIXED_SYNAPSES = {ProjKind.DOWN_TO_INTER: "down_to_inter", ProjKind.TEACHER: "teacher"}
_DATA = {PopKind.INPUT: "inputs", PopKind.TEACHER: "teacher"}


def _values(sec: Any) -> dict[str, float]:
    return {f.name: getattr(sec, f.name) for f in fields(sec) if f.name != "model"}


def population_model(spec: NetworkSpec, pop: Population) -> NeuronModel:
    """The neuron model of a population."""
    if pop.kind in _NEURON_SECTIONS:
        return section_model(getattr(spec, _NEURON_SECTIONS[pop.kind]))
    return neuron_model(_FIXED_NEURONS[pop.kind])


def projection_model(spec: NetworkSpec, proj: Projection) -> SynapseModel:
    """The synapse model of a projection."""
    if proj.kind in _RULES:
        return section_model(getattr(spec.rules, _RULES[proj.kind]))
    return synapse_model(_FIXED_SYNAPSES[proj.kind])


def population_data(pop: Population) -> str | None:
    """The stage data a player population plays (``inputs`` or ``teacher``)."""
    return _DATA.get(pop.kind)


def projection_frozen(proj: Projection) -> frozenset[str]:
    """The switches held off for a projection: ``learning`` where it never learns."""
    return frozenset() if proj.plastic and proj.eta != 0 else frozenset({"learning"})


def neuron_params(spec: NetworkSpec, pop: Population, model: NeuronModel) -> dict[str, float]:
    """Named parameter values of a population (those its model declares)."""
    pl = spec.player
    values: dict[str, Any] = {
        "threshold": spec.threshold,
        "le_active": 1.0 if spec.le_active else 0.0,
    }
    if pop.kind in _NEURON_SECTIONS:
        values.update(_values(getattr(spec, _NEURON_SECTIONS[pop.kind])))
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
    """Named parameter values of a projection (those its model declares)."""
    values = {"eta": proj.eta, "tau": proj.tau, "alpha": spec.plasticity.alpha}
    if proj.kind in _RULES:
        values.update(_values(getattr(spec.rules, _RULES[proj.kind])))
    return {k: float(v) for k, v in values.items() if k in model.param_names}

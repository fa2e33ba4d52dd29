"""The mapping from a :class:`NetworkSpec` to the mc-models definitions and their parameters.

Shared by every backend, so that each model's parameters are named in exactly one place.
"""

from __future__ import annotations

from typing import Any

from mc_models import NeuronModel, SynapseModel, get_activation
from mc_models.neurons import bias, interneuron, output, pyramidal, rate_player
from mc_models.synapses import feedback, forward, inter_to_pyr, pyr_to_inter, static
from mc_network.spec import NetworkSpec
from mc_network.topology import PopKind, Population, Projection, ProjKind

__all__ = ["neuron_model", "neuron_params", "neuron_var_names", "synapse_model", "synapse_params"]


def neuron_model(spec: NetworkSpec, kind: PopKind) -> NeuronModel:
    """The neuron model of a population kind."""
    return _neuron_model(kind, spec.activation)


def neuron_var_names(kind: PopKind) -> tuple[str, ...]:
    """State variables of a population kind (independent of the activation)."""
    return _neuron_model(kind, "sigmoid").var_names


def _neuron_model(kind: PopKind, activation: str) -> NeuronModel:
    act = get_activation(activation)
    return {
        PopKind.PYRAMIDAL: lambda: pyramidal.model(act),
        PopKind.INTER: lambda: interneuron.model(act),
        PopKind.OUTPUT: lambda: output.model(act),
        PopKind.INPUT: rate_player.model,
        PopKind.TEACHER: rate_player.model,
        PopKind.BIAS: bias.model,
    }[kind]()


def neuron_params(spec: NetworkSpec, pop: Population) -> dict[str, float]:
    """Named parameter values of a population."""
    le = {"threshold": spec.threshold, "le_active": 1.0 if spec.le_active else 0.0}
    pl = spec.player
    if pop.kind is PopKind.PYRAMIDAL:
        return {**vars(spec.pyramidal), **le}
    if pop.kind is PopKind.INTER:
        return {**vars(spec.interneuron), **le}
    if pop.kind is PopKind.OUTPUT:
        return {**vars(spec.output), **le, "teaching": 1.0}
    if pop.kind is PopKind.INPUT:
        return {"period": pl.t_pattern, "tau": pl.tau_0, "mute_time": 0.0, "base_rate": 0.0}
    if pop.kind is PopKind.TEACHER:
        return {
            "period": pl.t_pattern,
            "tau": pl.tau_0,
            "mute_time": pl.teacher_mute,
            "base_rate": pl.teacher_base_rate,
        }
    return {"value": spec.bias.value}


_SYNAPSES: dict[ProjKind, Any] = {
    ProjKind.FORWARD: forward.model,
    ProjKind.P2I: pyr_to_inter.model,
    ProjKind.I2P: inter_to_pyr.model,
    ProjKind.FEEDBACK: feedback.model,
    ProjKind.DOWN_TO_INTER: static.down_to_inter,
    ProjKind.TEACHER: static.teacher,
}


def synapse_model(kind: ProjKind) -> SynapseModel:
    """The weight-update model of a projection kind."""
    return _SYNAPSES[kind]()


def synapse_params(spec: NetworkSpec, proj: Projection) -> dict[str, float]:
    """Named parameter values of a projection."""
    if proj.kind is ProjKind.FEEDBACK:
        return {"eta": proj.eta, "alpha": spec.plasticity.alpha, "learning": 1.0}
    if proj.has_delta:
        return {"eta": proj.eta, "tau": proj.tau, "learning": 1.0}
    if proj.kind is ProjKind.TEACHER:
        return {"teaching": 1.0}
    return {}

"""Pieces shared by the synapse models: the learning-rate parameters and the delta filter."""

from __future__ import annotations

from mc_models.model import DerivedParam, Param, SynapseModel, Var

ETA = Param("eta", "learning rate eta (scaled by dt once)")
TAU_W = Param("tau", "time constant tau_w of the low-pass filter on weight increments", unit="time")
H = DerivedParam("h", "filter factor dt/tau_w", lambda p, dt: dt / p["tau"])
G = Var("g", "weight")
DELTA = Var("delta", "low-pass filtered weight increment")
OUTPUT = "g * rate_pre"


def delta_rule_model(name: str, doc: str, target: str) -> SynapseModel:
    """A synapse model learning by the low-pass delta rule towards ``target``.

    Parameters eta and tau_w, the weight ``g`` and the filtered increment ``delta``, the
    ``learning`` switch, the output ``g * rate_pre``; ``target`` is the per-synapse target
    increment (notation of :mod:`mc_models.expr`).
    """
    return SynapseModel(
        name=name,
        doc=doc,
        params=(ETA, TAU_W),
        derived=(H,),
        vars=(G, DELTA),
        switches=("learning",),
        update=delta_rule(target),
        output=OUTPUT,
    )


def delta_rule(target: str) -> str:
    """The low-pass delta rule with the given per-synapse target increment.

    ``g`` takes the *old* delta, then the delta relaxes towards the new target.
    """
    return f"""
if learning:
    delta_target = {target}
    g += delta
    delta += h * (delta_target - delta)
"""

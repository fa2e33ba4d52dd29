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


LEARNING = Param("learning", "plasticity switch (run-time): 1 learns, 0 freezes g and delta", 1.0)


# ---------------------------------------------------------------------- legacy
# The hand-written renderings, until every backend renders MODEL (being replaced).
def delta_rule_code(post_term: str, product_first: bool = False) -> str:
    """GeNN 5 code of the low-pass delta rule with the given postsynaptic error term.

    ``g`` takes the *old* delta, then the delta relaxes towards the new target.
    """
    if product_first:
        target = f"(dt * eta) * ({post_term} * rate_last_pre)"
    else:
        target = f"((dt * eta) * ({post_term})) * rate_last_pre"
    return (
        "if (learning > 0.5) {\n"
        f"    const scalar delta_target = {target};\n"
        "    g += delta;\n"
        "    delta += h * (delta_target - delta);\n"
        "}\n"
        "addToPost(g * rate_pre);\n"
    )


def delta_rule_step(g, delta, target, h) -> None:
    """``g += delta`` (old delta), then ``delta += h (target - delta)``, in place."""
    g += delta
    delta += h * (target - delta)

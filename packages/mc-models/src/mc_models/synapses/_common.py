"""Shared pieces of the synapse models: parameters, the delta filter and the input sum."""

from __future__ import annotations

import numpy as np

from mc_models.model import DerivedParam, Param, Var

ETA = Param("eta", "learning rate eta (scaled by dt once)", 0.0)
TAU_W = Param(
    "tau", "time constant tau_w of the low-pass filter on weight increments", 0.01, "time"
)
LEARNING = Param("learning", "plasticity switch (run-time): 1 learns, 0 freezes g and delta", 1.0)
H = DerivedParam("h", "filter factor dt/tau_w", lambda p, dt: dt / p["tau"])
G = Var("g", "weight")
DELTA = Var("delta", "low-pass filtered weight increment")


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


def presyn_sum(g: np.ndarray, x_pre: np.ndarray) -> np.ndarray:
    """Sum ``g[b, i, j] * x_pre[b, i]`` over ``i`` in ascending presynaptic order.

    The products are rounded to the weights' precision and added one after another into an
    accumulator that starts at zero, exactly as GeNN's dense CPU kernel does (``inSyn``). A
    BLAS product or a pairwise sum would change the last bits.
    """
    prod = g * x_pre[:, :, None]
    if prod.shape[1] == 1:
        return prod[:, 0, :].copy()
    return np.cumsum(prod, axis=1, dtype=g.dtype)[:, -1, :]


def delta_rule_step(g, delta, target, h) -> None:
    """``g += delta`` (old delta), then ``delta += h (target - delta)``, in place."""
    g += delta
    delta += h * (target - delta)

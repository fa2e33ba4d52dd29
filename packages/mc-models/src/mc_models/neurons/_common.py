"""Pieces shared by the somatic neuron models: parameters, variables and code blocks.

The blocks are notation (:mod:`mc_models.expr`) that the models join into their updates.
"""

from __future__ import annotations

from mc_models.model import Param, Var

THRESHOLD = Param("threshold", "activation threshold (soft-ReLU and stable sigmoid only)", 15.0)
LE_ACTIVE = Param(
    "le_active",
    "Latent Equilibrium switch: > 0 uses the prospective voltage v_brev = V + tau dV/dt, "
    "0 the plain somatic voltage (original Sacramento et al. 2018 microcircuit)",
    1.0,
)
TAU_HIGHPASS = Param("tau_highpass", "rate high-pass time constant tau_hp", 0.1, "time", "positive")

SOMA_VARS = (
    Var("V", "somatic membrane potential"),
    Var("v_steady", "steady-state somatic potential of the current inputs"),
    Var("v_dot", "dV/dt"),
    Var("dv", "Euler increment dt * dV/dt"),
    Var("v_brev", "prospective (LE) or plain somatic potential, the activation's argument"),
    Var("rate", "rate phi(v_brev)"),
    Var("rate_last", "rate one step earlier"),
)

# Euler step of V and the LE switch (steps 7-10 of the pyramidal in the spec)
LE = """
dv = dt * v_dot
if le_active > 0.0:
    v_brev = V + tau_soma * v_dot
V += dv
if le_active <= 0.0:
    v_brev = V
"""

# Discrete high-pass filter of the rate, then rate_last = rate:
# r_hp[k] = r_hp[k-1] + ((r[k-1] - r[k-2]) - (dt / tau_hp) r_hp[k-1])
HIGHPASS = """
rate_highpass += (rate - rate_last) - (dt / tau_highpass) * rate_highpass
rate_last = rate
"""

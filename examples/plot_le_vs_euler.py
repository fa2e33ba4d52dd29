r"""
Latent Equilibrium: the prospective voltage against the plain Euler voltage
===========================================================================

One pyramidal neuron, stepped by the NumPy rendering of its model declaration
(:mod:`mc_models.render.numpy`), receives a basal input that jumps at :math:`t = 2`.
The somatic voltage :math:`V` follows with the effective time constant
:math:`\tau_s = 1/(g_L + g_B + g_A)`; with Latent Equilibrium (``le_active = 1``) the
neuron's output is computed from the prospective voltage
:math:`\breve v = V + \tau_s \dot V`, which is the steady-state voltage of the current
inputs, so the rate responds within one step instead of after a few :math:`\tau_s`.
With ``le_active = 0`` (the original Sacramento et al. dynamics) :math:`\breve v = V`.
"""

import os

import matplotlib.pyplot as plt
import numpy as np

from mc_analysis import figures as F
from mc_models import get_activation, neuron_model
from mc_models.render import numpy as rnp

DT = 0.01
JUMP = 2.0  # time of the input jump
T = 30.0 if os.environ.get("MC_EXAMPLES_SIZE") != "tiny" else 8.0
model = neuron_model("pyramidal")


def simulate(le_active: float) -> dict[str, np.ndarray]:
    """Step one neuron through the input jump; return V, v_brev and the rate per step."""
    params = model.resolve({"le_active": le_active}, dt=DT)
    step = rnp.neuron_step(model, get_activation("sigmoid"), params)
    state = model.initial_state((1, 1), np.float32, params)
    zero = np.zeros((1, 1), np.float32)
    out = {"V": [], "v_brev": [], "rate": []}
    for k in range(round(T / DT)):
        basal = np.full((1, 1), 1.0 if k * DT >= JUMP else 0.0, np.float32)
        # sigma_noise is 0 by default: the one normal() draw per step reads 0
        step(state, {"Isyn_up": basal, "Isyn_down": zero, "Isyn_inter": zero}, draws=[zero])
        for name in out:
            out[name].append(float(state[name][0, 0]))
    return {name: np.array(v) for name, v in out.items()}


le, euler = simulate(1.0), simulate(0.0)
t = np.arange(le["V"].size) * DT
tau_s = float(model.resolve({}, dt=DT).tau_soma)
print(f"tau_soma = {tau_s:.3f}")

# %%
# The somatic voltage is the same in both (the Euler step of :math:`V` does not depend on
# LE); only the voltage that sets the rate differs.
fig, (ax_v, ax_r) = plt.subplots(2, 1, sharex=True, figsize=(6.4, 5.0), layout="constrained")
ax_v.plot(t, le["V"], color="0.5", lw=2.5, label="V (both)")
ax_v.plot(t, le["v_brev"], color="C0", label=r"$\breve v$ with LE")
ax_v.plot(t, euler["v_brev"], color="C1", ls="--", label=r"$\breve v = V$ without LE")
ax_v.set(ylabel="voltage")
ax_v.legend(loc="lower right")
ax_r.plot(t, le["rate"], color="C0", label="rate with LE")
ax_r.plot(t, euler["rate"], color="C1", ls="--", label="rate without LE")
ax_r.axvspan(JUMP, JUMP + tau_s, color="0.9", label=r"one $\tau_s$ after the jump")
ax_r.set(xlabel="time", ylabel=r"rate $\varphi(\breve v)$")
ax_r.legend(loc="lower right")

# %%
# With LE the rate reaches its new value at once; without it, it lags.
after = round(JUMP / DT) + 1
print(f"rate one step after the jump: LE {le['rate'][after]:.4f}, Euler {euler['rate'][after]:.4f}")
print(f"final rate: LE {le['rate'][-1]:.4f}, Euler {euler['rate'][-1]:.4f}")

# sphinx_gallery_start_ignore
# run by hand, the script saves its figures in ./figures/ and says so
for path in F.save_open_figures("plot_le_vs_euler"):
    print(f"figure saved: {path}")
# sphinx_gallery_end_ignore

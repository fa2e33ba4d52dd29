"""
Settling into the self-predicting state
=======================================

In the self-predicting state the interneurons predict the upper layer's activity and
their input to the apical dendrites cancels the feedback, so that without a teacher the
apical potentials of the hidden pyramidal neurons are silent. The paper's runs start
there (``init.self_predicting: true``, :math:`W^{PI} = W^{up}`, :math:`W^{IP} = -B`).
Here the network starts from random lateral weights (``self_predicting=False``) and learns
them with the lateral rules at the paper's PAL rates (pyramidal-to-interneuron 0.05,
interneuron-to-pyramidal 0.02), with forward and feedback weights held fixed, random inputs
played and the teacher off.
"""

import dataclasses
import os

import matplotlib.pyplot as plt
import numpy as np

from mc_analysis import figures as F
from mc_analysis import rate_mismatch, self_prediction_errors
from mc_network import InitParams, RecordPlan, build_network, yinyang_spec

TINY = os.environ.get("MC_EXAMPLES_SIZE") == "tiny"
N_SAMPLES = 150 if TINY else 400  # 100 steps each
EVERY = 500

base = yinyang_spec("fa")  # FA: B is fixed and there is no apical noise
spec = yinyang_spec(
    "fa",
    init=InitParams(self_predicting=False),
    plasticity=dataclasses.replace(base.plasticity, eta_up=(0.0, 0.0), eta_pi=(0.02,)),
)
net = build_network(spec, seeds=[1])
rng = np.random.default_rng(0)
inputs = rng.uniform(0.0, 1.0, size=(N_SAMPLES, 4)).astype(np.float32)
teacher = np.full((N_SAMPLES, 3), 0.1, dtype=np.float32)
names = (
    "ff_2.g",
    "p2i_1.g",
    "fb_1.g",
    "i2p_1.g",
    "pyramidal_1.v_apical",
    "output.rate",
    "inter_1.rate",
)
rec = net.run_stage(
    inputs, teacher, learning=True, teaching=False, record=RecordPlan(names, every=EVERY)
)
first = 1  # record 0 is the initial state (no input has arrived yet)
t = np.arange(rec["ff_2.g"].shape[1])[first:] * EVERY * spec.dt
apical = np.abs(rec["pyramidal_1.v_apical"][0, first:]).mean(axis=-1)
mismatch = np.abs(rate_mismatch(rec["output.rate"][0], rec["inter_1.rate"][0]))[first:].mean(-1)
errors = [
    self_prediction_errors(*(rec[n][0, r] for n in ("ff_2.g", "p2i_1.g", "fb_1.g", "i2p_1.g")))
    for r in range(first, rec["ff_2.g"].shape[1])
]
print(f"mean |v_apical|: {apical[0]:.4f} -> {apical[-1]:.6f}")
print(f"mean |r_out - r_inter|: {mismatch[0]:.4f} -> {mismatch[-1]:.6f}")

# %%
# The apical potential and the interneurons' prediction error fall by orders of magnitude
# (top). The weights themselves approach :math:`W^{up}` and :math:`-B` only in the
# directions the inputs excite (bottom, element-wise distances): the rates live in a
# low-dimensional subspace, and only there does the cancellation need the weights to match.
fig, (ax_a, ax_w) = plt.subplots(2, 1, sharex=True, figsize=(6.0, 5.2), layout="constrained")
ax_a.semilogy(t, apical, color="C2", label=r"mean $|v_A|$ of the hidden pyramidal neurons")
ax_a.semilogy(t, mismatch, color="C4", label=r"mean $|r^{out} - r^{I}|$")
ax_a.legend()
ax_w.plot(t, [e["ff_p2i_mean_abs"] for e in errors], label=r"mean $|W^{up} - W^{PI}|$")
ax_w.plot(t, [e["fb_i2p_mean_abs"] for e in errors], label=r"mean $|B + W^{IP}|$")
ax_w.set(xlabel="time", ylabel="element-wise distance")
ax_w.legend()

# sphinx_gallery_start_ignore
# run by hand, the script saves its figures in ./figures/ and says so
for path in F.save_open_figures("plot_self_prediction"):
    print(f"figure saved: {path}")
# sphinx_gallery_end_ignore

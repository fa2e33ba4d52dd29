r"""
The angle between B and Wᵀ under PAL and under feedback alignment
=================================================================

PAL learns the feedback weights :math:`B` into the hidden layer from the apical noise of
the hidden pyramidal neurons and the high-passed rates of the layer above,
:math:`B \leftarrow B + \Delta t\,\eta_B\,(\xi_{post}\,\hat r_{pre} - \alpha B)`;
feedback alignment (FA) keeps :math:`B` at its random start. Here the forward weights are
held fixed (their learning rates set to 0) and random Yin-Yang-like inputs are played
without a teacher, so only :math:`B` can move. The alignment angle
:math:`\angle(B, W^T) = \arccos\big(\mathrm{tr}(W^T B^T) / (\|W\|_F\|B\|_F)\big)`
(:func:`mc_analysis.alignment_angle`) between :math:`B` and the transposed forward
weights of the layer above falls under PAL and stays put under FA.

To fit in a few seconds the noise and the feedback learning rate are far larger than the
paper's (:math:`\sigma = 0.1` instead of 0.01, :math:`\eta_B = 5000` instead of 0.5);
with the paper's values the same happens over the paper's much longer runs. Three seeds of
each variant run as one batched simulation (one member per seed).
"""

import dataclasses
import os

import matplotlib.pyplot as plt
import numpy as np

from mc_analysis import alignment_angle
from mc_analysis import figures as F
from mc_network import RecordPlan, build_network, section, yinyang_spec

TINY = os.environ.get("MC_EXAMPLES_SIZE") == "tiny"
SEEDS = [1, 2, 3]
N_SAMPLES = 300 if TINY else 1000  # 100 steps each
EVERY = 1000  # record the weights every 1000 steps (10 samples)

rng = np.random.default_rng(0)
inputs = rng.uniform(0.0, 1.0, size=(N_SAMPLES, 4)).astype(np.float32)
teacher = np.full((N_SAMPLES, 3), 0.1, dtype=np.float32)  # not played: teaching off

angles = {}
for feedback in ("pal", "fa"):
    spec = yinyang_spec(feedback)
    changes = {"eta_up": (0.0, 0.0)}  # forward weights fixed
    if feedback == "pal":
        changes["eta_down"] = (5000.0,)
    spec = yinyang_spec(
        feedback,
        plasticity=dataclasses.replace(spec.plasticity, **changes),
        pyramidal=section("pyramidal", sigma_noise=0.1 if feedback == "pal" else 0.0),
    )
    net = build_network(spec, seeds=SEEDS)
    rec = net.run_stage(
        inputs,
        teacher,
        learning=True,
        teaching=False,
        record=RecordPlan(("fb_1.g", "ff_2.g"), every=EVERY),
    )
    b, w = rec["fb_1.g"], rec["ff_2.g"]  # (members, records, 3, 30) and (members, records, 30, 3)
    angles[feedback] = np.array(
        [[alignment_angle(w[m, r], b[m, r]) for r in range(b.shape[1])] for m in range(len(SEEDS))]
    )
    a = angles[feedback]
    print(f"{feedback}: angle {a[:, 0].mean():.1f} -> {a[:, -1].mean():.1f} degrees")

# %%
# Each seed as a thin line, the mean as a thick one.
fig, ax = plt.subplots(figsize=(6.0, 3.8), layout="constrained")
for feedback, color in (("pal", "C0"), ("fa", "C3")):
    a = angles[feedback]
    t = (np.arange(a.shape[1]) + 1) * EVERY * spec.dt
    ax.plot(t, a.T, color=color, lw=0.8, alpha=0.5)
    ax.plot(t, a.mean(axis=0), color=color, lw=2.5, label=feedback.upper())
ax.set(xlabel="time", ylabel=r"$\angle(B, W^T)$ [degrees]", ylim=(0, 95))
ax.legend()

# sphinx_gallery_start_ignore
# run by hand, the script saves its figures in ./figures/ and says so
for path in F.save_open_figures("plot_alignment_pal_vs_fa"):
    print(f"figure saved: {path}")
# sphinx_gallery_end_ignore

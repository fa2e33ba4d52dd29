"""
A Yin-Yang run and its decision maps
====================================

Train the paper's 4-30-3 network with PAL on a small Yin-Yang set for a few epochs
(``configs/quickstart.yaml`` with fewer samples and epochs), then read the run directory
back and draw the decision maps: every test point coloured by the class the network
predicts, misclassified points as crosses.
"""

import logging
import os
import tempfile
from pathlib import Path

import matplotlib.pyplot as plt

from mc_analysis import figures as F
from mc_analysis import read_run, run_summary
from mc_analysis.traces import decision_points
from mc_experiments import load_config, train

logging.getLogger("mc_experiments").setLevel(logging.WARNING)  # no per-epoch log lines
TINY = os.environ.get("MC_EXAMPLES_SIZE") == "tiny"
# sphinx_gallery_start_ignore
try:
    ROOT = Path(__file__).resolve().parent.parent
except NameError:  # the docs build runs the script in examples/ without __file__
    ROOT = Path.cwd().parent
# sphinx_gallery_end_ignore

cfg = load_config(
    ROOT / "configs" / "quickstart.yaml",
    {
        "dataset.n_train": 10 if TINY else 200,  # samples per class
        "dataset.n_valid": 10 if TINY else 50,
        "dataset.n_test": 10 if TINY else 100,
        "protocol.n_epochs": 2 if TINY else 20,
    },
)
out = tempfile.mkdtemp(prefix="mc-example-")
(run_dir,) = train(cfg, out, quiet=True)
print(f"test accuracy: {run_dir.read_metrics()['test_accuracy']:.1f} %")

# %%
# The run directory holds the recordings; :func:`mc_analysis.traces.decision_points`
# takes the mean input and output of each sample from them.
run = read_run(run_dir.path)
fig, (ax_val, ax_test) = plt.subplots(1, 2, figsize=(9.0, 3.8), layout="constrained")
F.plot_decision_map(decision_points(run, "validation", entry=0), ax=ax_val)
ax_val.set_title("validation before training: " + ax_val.get_title().split(": ")[-1])
ax_val.get_legend().remove()
F.plot_decision_map(decision_points(run, "test"), ax=ax_test)

# %%
# The validation accuracy per epoch from the run's summary (the figure functions draw into
# a given ``ax``; without one they return a new figure made without pyplot).
summary = run_summary(run)
fig2, ax2 = plt.subplots(figsize=(5.0, 3.4), layout="constrained")
F.plot_validation_accuracy(summary, ax=ax2)

# sphinx_gallery_start_ignore
# run by hand, the script saves its figures in ./figures/ and says so
for path in F.save_open_figures("plot_yinyang_decision_map"):
    print(f"figure saved: {path}")
# sphinx_gallery_end_ignore

"""
A batched seed sweep
====================

A sweep file declares a grid of configs: a base config, seeds and variants, and named
profiles that shrink or grow it. Here: the quick-start Yin-Yang config, PAL and feedback
alignment, four seeds each. :func:`mc_experiments.run_sweep` runs the four seeds of a
variant as one batched simulation (each member bit-identical to running alone) and writes
one run directory per member; :func:`mc_analysis.read_sweep` and
:func:`mc_analysis.sweep_summary` gather them into statistics over seeds, which
:mod:`mc_analysis.sweep_figures` plots. ``mc-run sweep FILE --profile example`` and
``mc-analyze sweep DIR`` do the same from the command line.
"""

import logging
import os
import tempfile
from pathlib import Path

import matplotlib.pyplot as plt

from mc_analysis import figures as F
from mc_analysis import read_sweep, sweep_summary
from mc_analysis import sweep_figures as S
from mc_experiments import load_sweep, run_sweep

logging.getLogger("mc_experiments").setLevel(logging.WARNING)  # no per-epoch log lines
TINY = os.environ.get("MC_EXAMPLES_SIZE") == "tiny"
# sphinx_gallery_start_ignore
try:
    ROOT = Path(__file__).resolve().parent.parent
except NameError:  # the docs build runs the script in examples/ without __file__
    ROOT = Path.cwd().parent
# sphinx_gallery_end_ignore
work = Path(tempfile.mkdtemp(prefix="mc-example-"))

sweep_file = work / "seeds.yaml"
sweep_file.write_text(
    f"""
name: seeds
base: {ROOT / "configs" / "quickstart.yaml"}
seeds: {{start: 1, count: 4}}
variants:
  pal: {{}}
  fa: {{network.feedback: fa}}
max_batch: 4                  # the seeds of a variant as one simulation
profiles:
  example:                    # about a minute on one core
    overrides: {{dataset.n_train: 100, dataset.n_valid: 30, dataset.n_test: 30,
                protocol.n_epochs: 10}}
  tiny:                       # what the tests run
    seeds: [1, 2]
    overrides: {{dataset.n_train: 5, dataset.n_valid: 5, dataset.n_test: 5,
                protocol.n_epochs: 1}}
"""
)
sweep = load_sweep(sweep_file, profile="tiny" if TINY else "example")
print(f"{len(sweep.members)} members:", ", ".join(m.name for m in sweep.members))
result = run_sweep(sweep, out=work / "runs", quiet=True)
print("sweep directory:", result.directory.name)

# %%
# Statistics over the seeds of each variant: mean and spread of the validation accuracy per
# epoch, and every seed's test accuracy.
summary = sweep_summary(read_sweep(result.directory))
for variant, stats in summary["variants"].items():
    per_seed = ", ".join(f"{a:.1f}" for a in stats["test_accuracy"]["per_seed"])
    print(f"{variant}: test accuracy per seed [%]: {per_seed}")
# Each line is a variant's mean over its seeds, each band and error bar mean ± std over them;
# the brackets give the p-value of Welch's t-test between the variants (``mc-analyze sweep``
# draws the paper's figures the same way, the accuracy also zoomed to its last epochs).
fig, (ax_v, ax_t) = plt.subplots(1, 2, figsize=(9.0, 4.2), layout="constrained")
S.plot_sweep_validation_accuracy(summary, ax=ax_v, zoom=False)
S.plot_sweep_test_accuracy(summary, ax=ax_t)

# sphinx_gallery_start_ignore
# run by hand, the script saves its figures in ./figures/ and says so
for path in F.save_open_figures("plot_seed_sweep"):
    print(f"figure saved: {path}")
# sphinx_gallery_end_ignore

"""mc-analysis: metrics, run and sweep readers, summaries, reports and the paper's figures.

Metrics (:mod:`mc_analysis.metrics`) are pure functions of arrays; :mod:`mc_analysis.rundir`
reads run and sweep directories, :mod:`mc_analysis.original` runs of the original code;
:mod:`mc_analysis.summary` recomputes a run's numbers from its recordings and aggregates
sweeps; :mod:`mc_analysis.figures` only plots (matplotlib is imported there lazily and its
global state is never changed); :mod:`mc_analysis.report` writes both to disk.

>>> import numpy as np
>>> from mc_analysis import alignment_angle
>>> W = np.array([[1.0, 0.0], [0.0, 2.0]])
>>> round(alignment_angle(W, W.T), 4), alignment_angle(W, np.array([[0.0, 1.0], [1.0, 0.0]]))
(0.0, 90.0)
"""

from importlib.metadata import PackageNotFoundError, version

from mc_analysis.metrics import (
    accuracy,
    alignment_angle,
    angle_window,
    labels_from_teacher,
    mae,
    per_class_counts,
    predictions,
    rate_mismatch,
    rmse,
    sample_view,
    self_prediction_errors,
    window_means,
    windowed_angle,
)
from mc_analysis.original import (
    Bookkeeping,
    OriginalConfigError,
    OriginalRun,
    OriginalYAMLError,
    load_original_config,
    read_original_run,
)
from mc_analysis.report import make_run_report, make_sweep_report
from mc_analysis.rundir import Run, RunDataError, RunDirError, read_run, read_sweep
from mc_analysis.summary import run_summary, sweep_summary

try:
    __version__ = version("mc-analysis")
except PackageNotFoundError:  # pragma: no cover - running from a source tree
    __version__ = "0.0.0+unknown"

__all__ = [
    "Bookkeeping",
    "OriginalConfigError",
    "OriginalRun",
    "OriginalYAMLError",
    "Run",
    "RunDataError",
    "RunDirError",
    "__version__",
    "accuracy",
    "alignment_angle",
    "angle_window",
    "labels_from_teacher",
    "load_original_config",
    "mae",
    "make_run_report",
    "make_sweep_report",
    "per_class_counts",
    "predictions",
    "rate_mismatch",
    "read_original_run",
    "read_run",
    "read_sweep",
    "rmse",
    "run_summary",
    "sample_view",
    "self_prediction_errors",
    "sweep_summary",
    "window_means",
    "windowed_angle",
]

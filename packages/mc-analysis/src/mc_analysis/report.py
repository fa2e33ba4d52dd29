"""Reports: the summary, tables and figures of one run or of a sweep, written to a folder.

:func:`make_run_report` writes into ``out_dir``, by default ``<run_dir>/report/``, or, for a
run inside an output that DVC tracks, ``<DVC root>/reports/<run_dir>``
(:func:`mc_analysis.dvcouts.default_report_dir`) (for a run of the original code:
``summary.json`` and the accuracy, RMSE and angle figures):

* ``summary.json``: :func:`mc_analysis.summary.run_summary`;
* ``validation_accuracy``, ``validation_rmse``, ``angles``, ``self_prediction``,
  ``output_vs_teacher_validation_last_epoch``, ``output_vs_teacher_test`` and, for Yin-Yang,
  ``decision_map_validation_last_epoch``, ``decision_map_test`` and
  ``decision_maps_over_epochs`` (the validation after up to six epochs, first and last
  included), each as PNG and PDF (a figure is left out, with a log message, when its
  recordings are missing).

:func:`make_sweep_report` writes ``summary.json``
(:func:`mc_analysis.summary.sweep_summary`), ``test_accuracy.csv``,
``validation_accuracy.csv``, ``validation_rmse.csv``, ``angles.csv``, the per-seed tables
``per_seed.csv`` and ``validation_accuracy_per_seed.csv``, and the figures
``sweep_validation_accuracy``, ``sweep_validation_rmse``, ``sweep_test_accuracy`` and
``sweep_angle_fb_<l>``. Runs of the original code can be mixed
in; they appear as variant ``original:<name>``.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from mc_analysis import figures as F
from mc_analysis import sweep_figures as S
from mc_analysis import tables as T
from mc_analysis.dvcouts import default_report_dir
from mc_analysis.original import read_original_run
from mc_analysis.rundir import SWEEP, Run, is_original_run_dir, read_run, read_sweep
from mc_analysis.safefiles import UnsafePath
from mc_analysis.summary import compare_with_metrics, original_summary, run_summary, sweep_summary
from mc_analysis.traces import decision_points, output_traces, spread_entries, weight_sizes

__all__ = ["make_run_report", "make_sweep_report"]

logger = logging.getLogger(__name__)


def _figure(out_dir: Path, stem: str, draw: Callable[[], Any]) -> list[Path]:
    """Draw one figure and save it; a missing recording skips it with a log message."""
    try:
        ax = draw()
    except (KeyError, IndexError, FileNotFoundError) as err:
        logger.info("%s: figure %s left out: %s", out_dir, stem, err)
        return []
    return F.save_figure(ax.figure, out_dir, stem)


def _report_dir(run_dir: Path, out_dir: str | Path | None) -> Path:
    """The report folder, created: ``out_dir``, or the default unless that is a link.

    The default is ``<run_dir>/report``, or outside a DVC output that holds the run
    (:func:`~mc_analysis.dvcouts.default_report_dir`). The files are written atomically,
    replacing any symbolic link in their place; a default report folder that is itself a
    symbolic link (planted in a shared run directory) is refused. A folder given
    explicitly is the caller's choice.
    """
    if out_dir is None:
        out = default_report_dir(run_dir)
        if out.is_symlink():
            raise UnsafePath(
                f"{out}: is a symbolic link; refusing to write the report through it (remove "
                "it, or give --out)"
            )
    else:
        out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    return out


def _check(run: Run, summary: dict[str, Any]) -> None:
    if not run.metrics:
        return
    for problem in compare_with_metrics(summary, run.metrics):
        logger.warning("%s: %s", run.path, problem)


def _warn_unverified(summaries: Sequence[Mapping[str, Any]]) -> None:
    """One warning per reason, naming every run whose data no checksum protects."""
    by_reason: dict[str, list[str]] = {}
    for s in summaries:
        if s.get("verified") is False:
            by_reason.setdefault(str(s.get("verification")), []).append(str(s.get("path")))
    for reason, paths in by_reason.items():
        logger.warning(
            "UNVERIFIED (%s), %d of %d run(s): %s", reason, len(paths), len(summaries),
            ", ".join(paths),
        )  # fmt: skip


def make_run_report(
    run_dir: str | Path, out_dir: str | Path | None = None, n_samples: int = 8
) -> Path:
    """Write the summary and figures of one run.

    Parameters
    ----------
    run_dir
        The run directory (the toolkit's, or one of the original code).
    out_dir
        Where to write (default :func:`mc_analysis.dvcouts.default_report_dir`:
        ``<run_dir>/report``, or under ``<DVC root>/reports/`` for a run inside a DVC output).
    n_samples
        Samples shown in the output-vs-teacher traces (the first ones presented).

    Returns
    -------
    pathlib.Path
        The report folder.
    """
    if n_samples < 1:
        raise ValueError(f"n_samples: {n_samples} must be >= 1 (samples in the trace figures)")
    if is_original_run_dir(run_dir):
        return _original_run_report(Path(run_dir), out_dir)
    run = read_run(run_dir)
    out = _report_dir(run.path, out_dir)
    summary = run_summary(run)
    _warn_unverified([summary])
    _check(run, summary)
    T.write_json(summary, out / "summary.json")

    _figure(out, "validation_accuracy", lambda: F.plot_validation_accuracy(summary))
    _figure(out, "validation_rmse", lambda: F.plot_validation_rmse(summary))
    if summary["angles"]:
        _figure(out, "angles", lambda: F.plot_angles(summary))
    if summary["self_prediction"]:
        _figure(out, "self_prediction",
                lambda: F.plot_self_prediction(summary, sizes=weight_sizes(run)))  # fmt: skip
    for stage, stem in (("validation", "validation_last_epoch"), ("test", "test")):
        _figure(
            out,
            f"output_vs_teacher_{stem}",
            lambda s=stage: F.plot_output_traces(output_traces(run, s, -1, 0, n_samples)),
        )
        if run.dataset == "yinyang":
            _figure(
                out,
                f"decision_map_{stem}",
                lambda s=stage: F.plot_decision_map(decision_points(run, s, -1)),
            )
    recorded = summary["validation_recorded"]
    if run.dataset == "yinyang" and len(recorded) > 1:
        _figure(
            out,
            "decision_maps_over_epochs",
            lambda: F.plot_decision_map_series(
                [decision_points(run, "validation", e) for e in spread_entries(recorded)]
            ),
        )
    logger.debug("%s: report written to %s", run.path, out)
    return out


def _original_run_report(run_dir: Path, out_dir: str | Path | None) -> Path:
    """The report of a run of the original code: its summary, accuracy, RMSE and angles."""
    summary = original_summary(read_original_run(run_dir))
    out = _report_dir(run_dir, out_dir)
    T.write_json(summary, out / "summary.json")
    _figure(out, "validation_accuracy", lambda: F.plot_validation_accuracy(summary))
    _figure(out, "validation_rmse", lambda: F.plot_validation_rmse(summary))
    if summary["angles"]:
        _figure(out, "angles", lambda: F.plot_angles(summary))
    logger.debug("%s: report of the original run written to %s", run_dir, out)
    return out


def make_sweep_report(
    paths_or_sweep_dir: str | Path | Sequence[str | Path],
    out_dir: str | Path | None = None,
    variant_by: str | None = None,
    compare: Sequence[tuple[str, str]] | None = None,
    labels: Mapping[str, str] | None = None,
) -> Path:
    """Write the statistics, tables and comparison figures of a sweep.

    Parameters
    ----------
    paths_or_sweep_dir
        A sweep directory, or run directories (ours, sweep directories, or runs of the
        original code, which become variant ``original:<name>``).
    out_dir
        Where to write; may be omitted only for a single sweep directory (then
        ``<sweep_dir>/report``, or under ``<DVC root>/reports/`` inside a DVC output).
    variant_by
        Grouping of runs into variants (see :func:`mc_analysis.rundir.read_sweep`).
    compare
        Pairs of variants to compare statistically (default: the first variant against
        each other one); written to ``summary.json`` and ``comparisons.csv``.
    labels
        Readable names of variants in the figures (default
        :func:`mc_analysis.figures.variant_labels`: ``PAL``, ``FA``, ...).

    Returns
    -------
    pathlib.Path
        The report folder.
    """
    single = isinstance(paths_or_sweep_dir, str | Path)
    paths = [Path(paths_or_sweep_dir)] if single else [Path(p) for p in paths_or_sweep_dir]
    for p in paths:
        if not p.exists():
            raise FileNotFoundError(f"{p}: no such sweep or run directory")
    if out_dir is None and (len(paths) != 1 or not (paths[0] / SWEEP).is_file()):
        what = (
            f"{paths[0]} is not a sweep directory (no {SWEEP})"
            if len(paths) == 1
            else (f"{len(paths)} directories are given")
        )
        raise ValueError(f"out_dir is required unless a single sweep directory is given: {what}")
    out = _report_dir(paths[0], out_dir)
    entries = read_sweep(paths, variant_by=variant_by)
    if not entries:
        raise ValueError(f"no runs found in {', '.join(map(str, paths))}")
    sweep = sweep_summary(entries, compare=compare)
    _warn_unverified(sweep["runs"])
    for (_, _, run), summary in zip(entries, sweep["runs"], strict=True):
        if isinstance(run, Run):
            _check(run, summary)
    T.write_json(sweep, out / "summary.json")
    T.write_csv(T.table_test_accuracy(sweep), out / "test_accuracy.csv")
    T.write_csv(T.table_validation_accuracy(sweep), out / "validation_accuracy.csv")
    T.write_csv(T.table_validation_accuracy(sweep, "validation_rmse"), out / "validation_rmse.csv")
    T.write_csv(T.table_angles(sweep), out / "angles.csv")
    T.write_csv(T.table_per_seed(sweep), out / "per_seed.csv")
    if sweep["comparisons"]:
        T.write_csv(T.table_comparisons(sweep), out / "comparisons.csv")
    T.write_csv(T.table_validation_per_seed(sweep), out / "validation_accuracy_per_seed.csv")

    colors = F.variant_colors(sweep["variants"])
    kw = {"colors": colors, "labels": labels}
    _figure(out, "sweep_validation_accuracy", lambda: S.plot_sweep_validation_accuracy(sweep, **kw))
    _figure(out, "sweep_validation_rmse", lambda: S.plot_sweep_validation_rmse(sweep, **kw))
    _figure(out, "sweep_test_accuracy", lambda: S.plot_sweep_test_accuracy(sweep, **kw))
    layers = sorted({k for v in sweep["variants"].values() for k in v["angles"]})
    for layer in layers:
        _figure(out, f"sweep_angle_{layer}",
                lambda lay=layer: S.plot_sweep_angles(sweep, lay, **kw))  # fmt: skip
    logger.debug("sweep report of %d runs written to %s", len(entries), out)
    return out

"""Data for the trace and decision-map figures, read from a run's recordings.

Plain arrays for :func:`mc_analysis.figures.plot_output_traces` and
:func:`mc_analysis.figures.plot_decision_map`; only the records needed are read.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from mc_analysis import metrics as M
from mc_analysis.rundir import Run
from mc_analysis.summary import INPUT, OUTPUT, TEACHER, stored_records_per_sample, written_entries

__all__ = ["decision_points", "output_traces", "spread_entries", "weight_sizes"]


def _entry(run: Run, stage: str, var: str, entry: int) -> tuple[Any, int]:
    arr = run.array(stage, var)
    n = written_entries(arr[:, :1]) if arr.shape[1] else 0
    e = entry if entry >= 0 else n + entry
    if n == 0 or not 0 <= e < n:
        raise IndexError(f"{run.recordings_path}: {stage}/{var} has {n} entries; no entry {entry}")
    return arr, e


def output_traces(
    run: Run, stage: str = "validation", entry: int = -1, first_sample: int = 0, n_samples: int = 8
) -> dict[str, Any]:
    """Output ``v_brev`` and teacher rate records of some consecutive samples.

    Parameters
    ----------
    run
        The run.
    stage
        ``"validation"`` or ``"test"``.
    entry
        Which validation (``-1``: the last one written, after the last epoch).
    first_sample, n_samples
        The samples, in presentation order.

    Returns
    -------
    dict
        ``time`` [steps since the start of the stage] ``(rows,)``, ``output`` and ``teacher``
        ``(rows, n_classes)``, ``sample_starts`` [steps], ``predicted`` and ``labels`` (the
        class of each sample shown, as :func:`mc_analysis.metrics.accuracy` decides it),
        ``first_sample``, ``n_total`` (samples in the stage), ``stage``, ``entry``.
    """
    out_arr, e = _entry(run, stage, OUTPUT, entry)
    rps = stored_records_per_sample(run, stage, OUTPUT)
    every = run.attr_int(stage, OUTPUT, "record_every_steps", 1)
    total = out_arr.shape[1] // rps
    s1 = min(total, first_sample + n_samples)
    rows = slice(first_sample * rps, s1 * rps)
    idx = np.arange(rows.start, rows.stop)
    output = np.asarray(out_arr[e, rows], dtype=np.float64)
    teacher = np.asarray(run.array(stage, TEACHER)[e, rows], dtype=np.float64)
    return {
        "stage": stage,
        "entry": e,
        "time": (idx * every).astype(np.int64),
        "output": output,
        "teacher": teacher,
        "sample_starts": (np.arange(first_sample, s1) * rps * every).astype(np.int64),
        "predicted": M.predictions(output, rps),
        "labels": M.labels_from_teacher(teacher, rps),
        "first_sample": first_sample,
        "n_total": total,
    }


def weight_sizes(run: Run, entry: int = -1) -> dict[str, dict[str, float]]:
    """Mean ``|W_{l+1}|`` and mean ``|B_l|`` per hidden layer at a weight snapshot.

    The scale of the self-prediction errors (:func:`mc_analysis.metrics.self_prediction_errors`
    compares the lateral weights with these): ``{"layer_1": {"ff": ..., "fb": ...}}``, from
    the snapshot ``entry`` (the last one written by default); layers whose weights were not
    recorded are left out.
    """
    out: dict[str, dict[str, float]] = {}
    for layer in range(1, run.n_hidden + 1):
        names = {"ff": f"ff_{layer + 1}.g", "fb": f"fb_{layer}.g"}
        if not all(run.has("weights", var) for var in names.values()):
            continue
        sizes = {}
        for key, var in names.items():
            arr, e = _entry(run, "weights", var, entry)
            sizes[key] = float(np.mean(np.abs(np.asarray(arr[e], dtype=np.float64))))
        out[f"layer_{layer}"] = sizes
    return out


def decision_points(run: Run, stage: str = "validation", entry: int = -1) -> dict[str, Any]:
    """Yin-Yang inputs with their predicted and true class (the original's points plot).

    ``x``, ``y`` are the means of ``input.rate[:, 0]`` and ``input.rate[:, 1]`` over records
    ``1..n_r-1`` of each sample; ``predicted`` from the output ``v_brev`` and ``labels`` from
    the teacher, as in :func:`mc_analysis.metrics.accuracy`.

    Returns
    -------
    dict
        ``x``, ``y``, ``predicted``, ``labels`` ``(n_samples,)``; ``accuracy`` [%], ``stage``,
        ``entry``, ``n_classes``.
    """
    out_arr, e = _entry(run, stage, OUTPUT, entry)
    rps = stored_records_per_sample(run, stage, OUTPUT)
    v = np.asarray(out_arr[e])
    t = np.asarray(run.array(stage, TEACHER)[e])
    inp = M.sample_view(np.asarray(run.array(stage, INPUT)[e]), rps)
    window = inp if rps == 1 else inp[:, 1:, :]
    xy = window.mean(axis=1, dtype=np.float64)
    return {
        "stage": stage,
        "entry": e,
        "x": xy[:, 0],
        "y": xy[:, 1],
        "predicted": M.predictions(v, rps),
        "labels": M.labels_from_teacher(t, rps),
        "accuracy": M.accuracy(v, t, rps),
        "n_classes": int(v.shape[-1]),
    }


def spread_entries(entries: int | Sequence[int], k: int = 6) -> list[int]:
    """Up to ``k`` of the entries, evenly spread, always the first and the last.

    ``entries`` is a number ``n`` (the entries ``0..n-1``) or the recorded entries
    (:meth:`Run.entries`). For the validation entries of a run: entry ``e`` is the validation
    after ``e`` epochs.
    """
    have = list(range(entries)) if isinstance(entries, int) else sorted(entries)
    n = len(have)
    if n < 1 or k < 1:
        return []
    m = min(n, k)
    if m == 1:
        return [have[-1]]
    return [have[i] for i in sorted({round(i * (n - 1) / (m - 1)) for i in range(m)})]

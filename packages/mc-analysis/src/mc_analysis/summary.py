"""Summaries recomputed from a run's recordings, and statistics over the runs of a sweep.

Everything here returns plain data (dicts of lists and floats, JSON-ready after
:func:`mc_analysis.tables.jsonable`); no plotting. The numbers are computed with
:mod:`mc_analysis.metrics` from ``recordings.zarr``, exactly as the experiment computes the
values it writes to ``metrics.json`` (:func:`compare_with_metrics` checks that they agree):

* validation accuracy, RMSE and MAE per validation (``n_epochs + 1`` values, index 0 = the
  untrained network), test accuracy, RMSE and MAE, confusion matrices;
* per hidden layer ``l``: the alignment angle [deg] between ``fb_l`` and ``ff_{l+1}^T`` at the
  start and after every epoch (from ``weights/*.g``), and the self-prediction diagnostics
  mean ``|W_ff(l+1) - W_p2i(l)|`` and mean ``|B_l + W_i2p(l)|``.

Entries of a recording that were never written (all NaN: an unfinished run) are left out at
the end; an entry with some non-finite values (a failed run) gives nan.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from mc_analysis import metrics as M
from mc_analysis.original import OriginalRun
from mc_analysis.rundir import Run
from mc_analysis.stats import compare_groups

__all__ = [
    "compare_with_metrics",
    "original_summary",
    "run_summary",
    "summarize",
    "sweep_summary",
]

logger = logging.getLogger(__name__)
OUTPUT, TEACHER, INPUT = "output.v_brev", "teacher.rate", "input.rate"
#: What can be verified of a run of the original code (``verified`` is ``None``: not applicable).
ORIGINAL_FORMAT = "a run of the original code: its format has no checksums"


# ------------------------------------------------------------------------------ helpers


def written_entries(a: np.ndarray) -> int:
    """Number of entries (first axis) up to the last one holding any finite value."""
    flat = np.isfinite(np.asarray(a, dtype=np.float64).reshape(a.shape[0], -1)).any(axis=1)
    idx = np.flatnonzero(flat)
    return int(idx[-1]) + 1 if idx.size else 0


def stored_records_per_sample(run: Run, stage: str, var: str) -> int:
    """``recording.records_per_sample``, checked against the array's attribute."""
    rps = run.records_per_sample
    stored = run.attrs(stage, var).get("records_per_sample")
    if stored is not None and stored != rps:
        raise ValueError(
            f"{run.recordings_path}: {stage}/{var} has records_per_sample = {stored} but "
            f"{run.path / 'config.yaml'} says recording.records_per_sample = {rps}"
        )
    return rps


def _stage_scores(run: Run, stage: str) -> dict[int, dict[str, Any]]:
    """Accuracy, RMSE, MAE and confusion of every recorded entry of a stage, by entry index.

    With ``recording.validation_every > 1`` only some validations are recorded
    (:meth:`Run.entries`); the others are absent here.
    """
    if not (run.has(stage, OUTPUT) and run.has(stage, TEACHER)):
        logger.info("%s: no %s/%s and %s recorded", run.path, stage, OUTPUT, TEACHER)
        return {}
    if run.partial_samples(stage, OUTPUT):
        logger.info("%s: %s records only its first samples; its metrics are in metrics.json",
                    run.path, stage)  # fmt: skip
        return {}
    rps = stored_records_per_sample(run, stage, OUTPUT)
    out_arr, teacher_arr = run.array(stage, OUTPUT), run.array(stage, TEACHER)
    n_classes = out_arr.shape[-1]
    scores = {}
    for e in run.entries(stage, OUTPUT):
        v, t = np.asarray(out_arr[e]), np.asarray(teacher_arr[e])
        if not (np.all(np.isfinite(v)) and np.all(np.isfinite(t))):
            nan = float("nan")
            scores[e] = {"accuracy": nan, "rmse": nan, "mae": nan, "confusion": None}
            continue
        pred = M.predictions(v, rps)
        conf = M.per_class_counts(pred, M.labels_from_teacher(t, rps), n_classes)
        scores[e] = {
            "accuracy": M.accuracy(v, t, rps),
            "rmse": M.rmse(v, t),
            "mae": M.mae(v, t),
            "confusion": conf.tolist(),
        }
    return scores


def _validation_curves(run: Run, scores: dict[int, dict[str, Any]]) -> dict[str, Any]:
    """Per-validation accuracy, RMSE and MAE: recomputed where recorded, else ``metrics.json``.

    Returns the three lists (one value per validation done), ``validation_recorded`` (the
    entries recomputed from the recordings) and ``validation_source``: ``"recordings"``,
    ``"recordings+metrics"`` (thinned recordings, ``recording.validation_every > 1``) or
    ``"metrics"``.
    """
    keys = ("accuracy", "rmse", "mae")
    thinned = run.has("validation", OUTPUT) and (
        run.entry_every("validation", OUTPUT) > 1 or run.partial_samples("validation", OUTPUT)
    )
    if thinned or not scores:
        # metrics.json holds every validation done; the recordings only some (or none)
        from_metrics = {k: list(run.metrics.get(f"validation_{k}") or []) for k in keys}
    else:  # every validation is recorded: the recordings alone say how many were done
        from_metrics = {k: [] for k in keys}
    n = max([len(v) for v in from_metrics.values()] + [max(scores) + 1 if scores else 0])
    out: dict[str, Any] = {}
    for k in keys:
        values = []
        for e in range(n):
            if e in scores:
                values.append(scores[e][k])
            elif e < len(from_metrics[k]) and from_metrics[k][e] is not None:
                values.append(float(from_metrics[k][e]))
            else:
                values.append(float("nan"))
        out[f"validation_{k}"] = values
    recorded = sorted(e for e in scores if e < n)
    out["validation_recorded"] = recorded
    if len(recorded) == n:
        out["validation_source"] = "recordings"
    else:
        out["validation_source"] = "recordings+metrics" if recorded else "metrics"
    if n and n - 1 in scores:
        out["validation_confusion"] = scores[n - 1]["confusion"]
    else:
        out["validation_confusion"] = run.metrics.get("validation_confusion") if n else None
    return out


def _weight_diagnostics(run: Run) -> tuple[dict, dict, str | None]:
    """Angles and self-prediction errors per layer and weight snapshot."""
    angles: dict[str, list[float]] = {}
    selfpred: dict[str, dict[str, list[float]]] = {}
    names = {"ff", "fb", "p2i", "i2p"}
    for layer in range(1, run.n_hidden + 1):
        need = {"ff": f"ff_{layer + 1}.g", "fb": f"fb_{layer}.g"}
        need |= {"p2i": f"p2i_{layer}.g", "i2p": f"i2p_{layer}.g"}
        have = {k for k in names if run.has("weights", need[k])}
        if not {"ff", "fb"} <= have:
            continue
        if any(run.entry_every("weights", need[k]) > 1 for k in have):
            break  # thinned snapshots: metrics.json holds the angle of every epoch
        w = {k: run.read("weights", need[k]) for k in have}
        n = min(written_entries(a) for a in w.values())
        # one 2-D call per snapshot, as the experiment does, so the float64 sums agree exactly
        angles[f"fb_{layer}"] = [float(M.alignment_angle(w["ff"][e], w["fb"][e])) for e in range(n)]
        if {"p2i", "i2p"} <= have:
            sp = [M.self_prediction_errors(w["ff"][e], w["p2i"][e], w["fb"][e], w["i2p"][e])
                  for e in range(n)]  # fmt: skip
            selfpred[f"layer_{layer}"] = {
                "ff_minus_p2i": [s["ff_p2i_mean_abs"] for s in sp],
                "fb_plus_i2p": [s["fb_i2p_mean_abs"] for s in sp],
                "ff_minus_p2i_max": [s["ff_p2i_max_abs"] for s in sp],
                "fb_plus_i2p_max": [s["fb_i2p_max_abs"] for s in sp],
            }
    if angles:
        return angles, selfpred, "recordings"
    if run.metrics.get("angles"):
        logger.debug("%s: weights not recorded every epoch; angles from metrics.json", run.path)
        return dict(run.metrics["angles"]), dict(run.metrics.get("self_prediction", {})), "metrics"
    return {}, {}, None


# ------------------------------------------------------------------------------- runs


def run_summary(run: Run) -> dict[str, Any]:
    """Summary of one run, recomputed from its recordings.

    Parameters
    ----------
    run
        From :func:`mc_analysis.rundir.read_run`.

    Returns
    -------
    dict
        ``kind`` ("run"), ``path``, ``name``, ``seed``, ``dataset``, ``feedback``, ``dims``,
        ``n_epochs``, ``records_per_sample``, ``status``, ``epochs``; ``validation_accuracy``
        [%], ``validation_rmse``, ``validation_mae`` (lists, one per validation; recomputed
        from the recordings where the validation was recorded, else from ``metrics.json``),
        ``validation_recorded`` (the recomputed entries), ``validation_source``,
        ``validation_confusion`` (of the last one); ``test_accuracy`` [%], ``test_rmse``,
        ``test_mae``, ``test_confusion`` (None without a test), ``test_source``
        ("recordings", "metrics" when only the first samples were recorded, or None); ``angles``
        ``{"fb_l": [deg per snapshot]}`` and ``angle_epoch`` (the epochs they belong to);
        ``self_prediction`` ``{"layer_l": {"ff_minus_p2i": [...], "fb_plus_i2p": [...], ...}}``;
        ``angles_source`` ("recordings", "metrics" when no weights were recorded, or None);
        ``format_version`` of the run directory (1: legacy, unverified); ``verified``
        (whether its config fingerprint and every recorded array's chunk checksums were
        there to check) and ``verification`` (what was checked, or why nothing was).

    Raises
    ------
    mc_analysis.rundir.RunDataError
        When recordings fail their checksums or entries the run wrote are missing.
    """
    run.check_recordings()
    verified, how = run.verification()
    curves = _validation_curves(run, _stage_scores(run, "validation"))
    test = _stage_scores(run, "test")
    angles, selfpred, source = _weight_diagnostics(run)
    t0 = test.get(0, {})
    test_source = "recordings" if t0 else None
    if not t0 and run.has("test", OUTPUT) and run.partial_samples("test", OUTPUT):
        mt = run.metrics
        t0 = {k: mt.get(f"test_{k}") for k in ("accuracy", "rmse", "mae", "confusion")}
        test_source = "metrics" if t0["accuracy"] is not None else None
    return {
        "kind": "run",
        "path": str(run.path),
        "name": run.name,
        "seed": run.seed,
        "dataset": run.dataset,
        "feedback": run.feedback,
        "dims": run.dims,
        "n_epochs": run.n_epochs,
        "records_per_sample": run.records_per_sample,
        "status": run.status.get("state", "unknown"),
        "epochs": list(range(len(curves["validation_accuracy"]))),
        **curves,
        "test_accuracy": t0.get("accuracy"),
        "test_rmse": t0.get("rmse"),
        "test_mae": t0.get("mae"),
        "test_confusion": t0.get("confusion"),
        "test_source": test_source,
        "angles": angles,
        "angle_epoch": {k: [float(e) for e in range(len(v))] for k, v in angles.items()},
        "angles_source": source,
        "self_prediction": selfpred,
        "format_version": run.format_version,
        "verified": verified,
        "verification": how,
    }


def original_summary(run: OriginalRun) -> dict[str, Any]:
    """Summary of a run of the original code, in the layout of :func:`run_summary`.

    Validation and test accuracy come from :meth:`OriginalRun.validation_accuracy` and
    :meth:`~OriginalRun.test_accuracy`. Angles are the original's, over windows of training
    records (:meth:`OriginalRun.angles`); ``angle_epoch`` places each window at its centre in
    units of training epochs. Missing recordings leave the entry empty (logged).
    """
    bk = run.bookkeeping
    dims = run.dims()
    out: dict[str, Any] = {"kind": "original", "path": str(run.run_dir), "dims": dims}
    out["verified"], out["verification"] = None, ORIGINAL_FORMAT
    out["name"] = str(run.meta.get("name", run.run_dir.name))
    out["seed"] = run.meta.get("numpy_seed")
    out["n_epochs"] = bk.n_epochs
    out["records_per_sample"] = bk.records_per_sample
    acc = run.validation_accuracy()
    out["epochs"] = list(range(len(acc)))
    out["validation_accuracy"] = acc.tolist()
    out["validation_rmse"] = run.validation_rmse().tolist()
    try:
        out["test_accuracy"] = run.test_accuracy()
    except KeyError as err:
        logger.warning("%s: no test accuracy: %s", run.run_dir, err)
        out["test_accuracy"] = None
    out["angles"], out["angle_epoch"] = {}, {}
    for layer in range(1, len(dims) - 1):
        try:
            a, ws = run.angles(layer)
        except (KeyError, ValueError) as err:
            logger.warning("%s: no angles for layer %d: %s", run.run_dir, layer, err)
            continue
        centres = (np.arange(a.size) + 0.5) * ws / max(1, bk.training_rows)
        out["angles"][f"fb_{layer}"] = a.tolist()
        out["angle_epoch"][f"fb_{layer}"] = centres.tolist()
    return out


def summarize(run: Run | OriginalRun | Mapping[str, Any]) -> dict[str, Any]:
    """:func:`run_summary` or :func:`original_summary`; a summary dict is passed through."""
    if isinstance(run, Mapping):
        return dict(run)
    if isinstance(run, OriginalRun):
        return original_summary(run)
    return run_summary(run)


def compare_with_metrics(
    summary: Mapping[str, Any], metrics: Mapping[str, Any], atol: float = 1e-9
) -> list[str]:
    """Differences between a run summary and the run's ``metrics.json``.

    Compares validation accuracy/RMSE/MAE, test accuracy/RMSE, angles and self-prediction
    values that both hold. Returns one message per disagreement beyond ``atol`` (``[]`` if
    they agree).
    """
    pairs: list[tuple[str, Any, Any]] = []
    for key in ("validation_accuracy", "validation_rmse", "validation_mae"):
        pairs.append((key, summary.get(key), metrics.get(key)))
    for key in ("test_accuracy", "test_rmse"):
        pairs.append((key, summary.get(key), metrics.get(key)))
    for key, vals in (metrics.get("angles") or {}).items():
        pairs.append((f"angles.{key}", summary.get("angles", {}).get(key), vals))
    for layer, d in (metrics.get("self_prediction") or {}).items():
        for key, vals in d.items():
            mine = summary.get("self_prediction", {}).get(layer, {}).get(key)
            pairs.append((f"self_prediction.{layer}.{key}", mine, vals))
    problems = []
    for key, a, b in pairs:
        if b is None:
            continue
        a_arr = np.asarray(a if a is not None else np.nan, dtype=np.float64)
        b_arr = np.asarray(b, dtype=np.float64)
        if a_arr.shape != b_arr.shape:
            problems.append(f"{key}: recomputed shape {a_arr.shape} != metrics {b_arr.shape}")
        elif np.any(np.isnan(a_arr) != np.isnan(b_arr)):
            problems.append(f"{key}: recomputed {a} but metrics.json has {b}")
        elif not np.allclose(a_arr, b_arr, rtol=0.0, atol=atol, equal_nan=True):
            diff = np.nanmax(np.abs(a_arr - b_arr))
            problems.append(f"{key}: recomputed differs from metrics.json by up to {diff:.3g}")
    return problems


# ------------------------------------------------------------------------------ sweeps


def _stats(x: np.ndarray, axis: int | None = None) -> dict[str, Any]:
    """n, mean, std (ddof=0, NumPy's default), min, max over finite values."""
    x = np.asarray(x, dtype=np.float64)
    ok = np.isfinite(x)
    n = ok.sum(axis=axis)
    with np.errstate(invalid="ignore", divide="ignore"):
        filled = np.where(ok, x, 0.0)
        mean = filled.sum(axis=axis) / n
        var = np.where(ok, x - (mean if axis is None else np.expand_dims(mean, axis)), 0.0) ** 2
        std = np.sqrt(var.sum(axis=axis) / n)
        lo = np.where(n > 0, np.where(ok, x, np.inf).min(axis=axis), np.nan)
        hi = np.where(n > 0, np.where(ok, x, -np.inf).max(axis=axis), np.nan)
    out = {"n": n, "mean": mean, "std": std, "min": lo, "max": hi}
    return {k: np.asarray(v).tolist() for k, v in out.items()}


def _pad(rows: Sequence[Sequence[float | None]]) -> np.ndarray:
    width = max((len(r) for r in rows), default=0)
    out = np.full((len(rows), width), np.nan)
    for i, r in enumerate(rows):
        out[i, : len(r)] = [np.nan if v is None else v for v in r]
    return out


def _last_finite(row: np.ndarray) -> float:
    ok = np.flatnonzero(np.isfinite(row))
    return float(row[ok[-1]]) if ok.size else float("nan")


def _variant_summary(items: list[tuple[int, dict[str, Any]]]) -> dict[str, Any]:
    sums = [s for _, s in items]
    acc = _pad([s.get("validation_accuracy") or [] for s in sums])
    rmse = _pad([s.get("validation_rmse") or [] for s in sums])
    test = _pad([[s.get("test_accuracy")] for s in sums])[:, 0]
    out: dict[str, Any] = {
        "n_runs": len(items),
        "seeds": [seed for seed, _ in items],
        "runs": [s.get("path") for s in sums],
        "kind": sums[0].get("kind", "run"),
        "epochs": list(range(acc.shape[1])),
        "validation_accuracy": {**_stats(acc, axis=0), "per_seed": acc.tolist()},
        "final_validation_accuracy": {
            **_stats(np.array([_last_finite(r) for r in acc])),
            "per_seed": [_last_finite(r) for r in acc],
        },
        "test_accuracy": {**_stats(test), "per_seed": test.tolist()},
        "validation_rmse": {**_stats(rmse, axis=0), "per_seed": rmse.tolist()},
        "angles": {},
        "final_angle": {},
    }
    layers = sorted({k for s in sums for k in (s.get("angles") or {})})
    for layer in layers:
        ang = _pad([(s.get("angles") or {}).get(layer, []) for s in sums])
        xs = [(s.get("angle_epoch") or {}).get(layer, []) for s in sums]
        x = max(xs, key=len) if xs else []
        finals = np.array([_last_finite(r) for r in ang])
        out["angles"][layer] = {"epoch": list(x), **_stats(ang, axis=0), "per_seed": ang.tolist()}
        out["final_angle"][layer] = {**_stats(finals), "per_seed": finals.tolist()}
    return out


def _comparisons(
    variants: Mapping[str, dict[str, Any]], pairs: Sequence[tuple[str, str]] | None
) -> list[dict[str, Any]]:
    """Per pair of variants: test accuracy, final validation accuracy and final angles."""
    names = list(variants)
    if pairs is None:  # the first variant (the sweep's reference, e.g. PAL) against each other
        pairs = [(names[0], other) for other in names[1:]]
    out = []
    for a, b in pairs:
        for v in (a, b):
            if v not in variants:
                raise ValueError(f"compare {a}:{b}: no variant {v!r}; variants: {names}")
        va, vb = variants[a], variants[b]
        entry: dict[str, Any] = {"a": a, "b": b, "metrics": {}}
        for key in ("test_accuracy", "final_validation_accuracy"):
            entry["metrics"][key] = compare_groups(va[key]["per_seed"], vb[key]["per_seed"])
        for layer in sorted(set(va["final_angle"]) & set(vb["final_angle"])):
            entry["metrics"][f"final_angle_{layer}"] = compare_groups(
                va["final_angle"][layer]["per_seed"], vb["final_angle"][layer]["per_seed"]
            )
        out.append(entry)
    return out


def sweep_summary(
    runs: Sequence[tuple[str, int, Run | OriginalRun | Mapping[str, Any]]],
    compare: Sequence[tuple[str, str]] | None = None,
) -> dict[str, Any]:
    """Statistics over seeds, per variant.

    Parameters
    ----------
    runs
        ``(variant, seed, run)`` as from :func:`mc_analysis.rundir.read_sweep`; ``run`` may
        also be a summary from ``summarize``.

    Returns
    -------
    dict
        ``variants``: ``{variant: {...}}`` in order of first appearance, each with
        ``n_runs``, ``seeds``, ``runs``, ``epochs``; ``validation_accuracy`` (``n``, ``mean``,
        ``std``, ``min``, ``max`` per epoch over the seeds that have the epoch, and
        ``per_seed``); ``final_validation_accuracy`` and ``test_accuracy`` (the same over
        seeds, ``per_seed`` with nan for a missing test); ``angles``
        ``{"fb_l": {"epoch", "mean", "std", ..., "per_seed"}}`` and ``final_angle``. Standard
        deviations are population ones (ddof = 0, as ``numpy.std``). ``runs``: the run
        summaries, in input order, each with its ``variant``. ``comparisons``: for each pair
        ``(a, b)`` of ``compare`` (default: the first variant against each other one), the
        statistics of :func:`mc_analysis.stats.compare_groups` of ``a`` against ``b`` for the
        test accuracy, the final validation accuracy and each final angle.
        ``unverified_runs``: the paths of the toolkit's runs whose data no checksum protects
        (legacy runs; each run's ``verification`` says why; runs of the original code, whose
        format has no checksums, have ``verified`` None and are not listed).
    """
    groups: dict[str, list[tuple[int, dict[str, Any]]]] = {}
    all_runs = []
    for variant, seed, run in runs:
        s = summarize(run)
        groups.setdefault(variant, []).append((seed, s))
        all_runs.append({"variant": variant, **s})
    variants = {v: _variant_summary(items) for v, items in groups.items()}
    return {
        "variants": variants,
        "comparisons": _comparisons(variants, compare) if len(variants) > 1 else [],
        "unverified_runs": [r.get("path") for r in all_runs if r.get("verified") is False],
        "runs": all_runs,
    }

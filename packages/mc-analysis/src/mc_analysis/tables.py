"""Tables from sweep summaries, and writers to CSV and JSON.

The table functions turn :func:`mc_analysis.summary.sweep_summary` output into lists of
rows (dicts with the same keys); :func:`write_csv` and :func:`write_json` put them on disk,
atomically and never through a symbolic link (:func:`mc_analysis.safefiles.atomic_write_bytes`).
JSON has no NaN: non-finite numbers are written as ``null``.
"""

from __future__ import annotations

import csv
import io
import json
import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from mc_analysis.safefiles import atomic_write_bytes

__all__ = [
    "jsonable",
    "sweep_digest",
    "table_angles",
    "table_comparisons",
    "table_per_seed",
    "table_test_accuracy",
    "table_validation_accuracy",
    "table_validation_per_seed",
    "write_csv",
    "write_json",
]

Row = dict[str, Any]


def jsonable(obj: Any) -> Any:
    """Plain JSON data: NumPy types to Python, tuples to lists, non-finite floats to None."""
    if isinstance(obj, Mapping):
        return {str(k): jsonable(v) for k, v in obj.items()}
    if isinstance(obj, np.ndarray):
        return jsonable(obj.tolist())
    if isinstance(obj, list | tuple):
        return [jsonable(v) for v in obj]
    if isinstance(obj, np.bool_ | bool):
        return bool(obj)
    if isinstance(obj, np.integer):
        return int(obj)
    if isinstance(obj, float | np.floating):
        return float(obj) if math.isfinite(obj) else None
    if isinstance(obj, Path):
        return str(obj)
    return obj


def write_json(obj: Any, path: str | Path) -> Path:
    """Write ``jsonable(obj)`` to ``path`` (indented, strict JSON)."""
    path = Path(path)
    atomic_write_bytes(path, (json.dumps(jsonable(obj), indent=2, allow_nan=False) + "\n").encode())
    return path


def write_csv(rows: Sequence[Row], path: str | Path) -> Path:
    """Write rows (dicts; the columns of the first row) as CSV; nan and None become empty."""
    path = Path(path)
    fields = list(rows[0]) if rows else []
    text = io.StringIO(newline="")
    writer = csv.DictWriter(text, fieldnames=fields)
    writer.writeheader()
    for row in rows:
        writer.writerow({k: _cell(row.get(k)) for k in fields})
    atomic_write_bytes(path, text.getvalue().encode())
    return path


def _cell(v: Any) -> Any:
    v = jsonable(v)
    if v is None:
        return ""
    return repr(v) if isinstance(v, float) else v


def table_test_accuracy(sweep: Mapping[str, Any]) -> list[Row]:
    """Per variant: test accuracy [%] over seeds (n, mean, std, min, max)."""
    rows = []
    for variant, v in sweep["variants"].items():
        t = v["test_accuracy"]
        rows.append(
            {
                "variant": variant,
                "n": t["n"],
                "mean": t["mean"],
                "std": t["std"],
                "min": t["min"],
                "max": t["max"],
            }
        )
    return rows


def table_validation_accuracy(
    sweep: Mapping[str, Any], metric: str = "validation_accuracy"
) -> list[Row]:
    """Per variant and epoch: a validation metric over seeds (mean, std, n, min, max).

    ``metric``: ``validation_accuracy`` [%] (default) or ``validation_rmse``.
    """
    rows = []
    for variant, v in sweep["variants"].items():
        a = v[metric]
        for i, epoch in enumerate(v["epochs"]):
            rows.append(
                {
                    "variant": variant,
                    "epoch": epoch,
                    "mean": a["mean"][i],
                    "std": a["std"][i],
                    "n": a["n"][i],
                    "min": a["min"][i],
                    "max": a["max"][i],
                }
            )
    return rows


def table_per_seed(sweep: Mapping[str, Any]) -> list[Row]:
    """One row per run: variant, seed, test and final validation accuracy, final angles."""
    layers = sorted({k for v in sweep["variants"].values() for k in v["final_angle"]})
    rows = []
    for variant, v in sweep["variants"].items():
        for i, seed in enumerate(v["seeds"]):
            row = {
                "variant": variant,
                "seed": seed,
                "test_accuracy": v["test_accuracy"]["per_seed"][i],
                "final_validation_accuracy": v["final_validation_accuracy"]["per_seed"][i],
            }
            for layer in layers:
                fa = v["final_angle"].get(layer)
                row[f"final_angle_{layer}"] = fa["per_seed"][i] if fa else None
            row["run"] = v["runs"][i]
            rows.append(row)
    return rows


def table_validation_per_seed(sweep: Mapping[str, Any]) -> list[Row]:
    """Long format: variant, seed, epoch, validation accuracy [%]."""
    rows = []
    for variant, v in sweep["variants"].items():
        for seed, acc in zip(v["seeds"], v["validation_accuracy"]["per_seed"], strict=True):
            for epoch, a in zip(v["epochs"], acc, strict=True):
                rows.append({"variant": variant, "seed": seed, "epoch": epoch, "accuracy": a})
    return rows


def table_angles(sweep: Mapping[str, Any]) -> list[Row]:
    """Per variant, layer and epoch: alignment angle [deg] over seeds (mean, std, n)."""
    rows = []
    for variant, v in sweep["variants"].items():
        for layer, a in v["angles"].items():
            for i, epoch in enumerate(a["epoch"]):
                if i >= len(a["mean"]):
                    break
                rows.append(
                    {
                        "variant": variant,
                        "layer": layer,
                        "epoch": epoch,
                        "mean": a["mean"][i],
                        "std": a["std"][i],
                        "n": a["n"][i],
                    }
                )
    return rows


def table_comparisons(sweep: Mapping[str, Any]) -> list[Row]:
    """One row per compared pair and metric (``sweep["comparisons"]``).

    Means, spreads, the difference with its 95 % CI, Welch's t-test, the Mann-Whitney U test
    and Hedges' g.
    """
    rows = []
    for c in sweep.get("comparisons", []):
        for metric, st in c["metrics"].items():
            rows.append(
                {
                    "a": c["a"],
                    "b": c["b"],
                    "metric": metric,
                    "n_a": st["n_a"],
                    "n_b": st["n_b"],
                    "mean_a": st["mean_a"],
                    "std_a": st["std_a"],
                    "mean_b": st["mean_b"],
                    "std_b": st["std_b"],
                    "difference": st["difference"],
                    "ci95_low": st["ci95"][0],
                    "ci95_high": st["ci95"][1],
                    "welch_t": st["welch"]["statistic"],
                    "welch_df": st["welch"]["df"],
                    "welch_p": st["welch"]["p_value"],
                    "mann_whitney_u": st["mann_whitney"]["statistic"],
                    "mann_whitney_p": st["mann_whitney"]["p_value"],
                    "mann_whitney_method": st["mann_whitney"]["method"],
                    "hedges_g": st["hedges_g"],
                }
            )
    return rows


def _spread(stat: Mapping[str, Any] | None, unit: str, digits: int) -> str:
    """``95.93 ± 0.49 %`` (mean ± std over seeds), or ``-`` where nothing was measured."""
    if not stat or stat.get("mean") is None or not math.isfinite(stat["mean"]):
        return "-"
    return f"{stat['mean']:.{digits}f} ± {stat['std']:.{digits}f}{unit}"


def sweep_digest(sweep: Mapping[str, Any]) -> list[str]:
    """A few lines that sum a sweep summary up for the console.

    One line per variant (runs, test accuracy, final validation accuracy and final angle of
    every layer, mean ± std over seeds), one per comparison (the difference in test accuracy
    and Welch's p-value) and one that counts the runs read without checksums and those whose
    angles come from ``metrics.json`` (their weights not recorded every epoch).
    """
    runs = sweep.get("runs", [])
    lines = [f"{len(runs)} run(s) in {len(sweep['variants'])} variant(s), mean ± std over seeds:"]
    width = max((len(v) for v in sweep["variants"]), default=0)
    for variant, v in sweep["variants"].items():
        angles = "".join(
            f", final angle {layer} {_spread(stat, '°', 1)}"
            for layer, stat in sorted(v.get("final_angle", {}).items())
        )
        lines.append(
            f"  {variant:<{width}}  {v['n_runs']:>3} run(s): test accuracy "
            f"{_spread(v.get('test_accuracy'), ' %', 2)}, final validation accuracy "
            f"{_spread(v.get('final_validation_accuracy'), ' %', 2)}{angles}"
        )
    for c in sweep.get("comparisons", []):
        st = c["metrics"].get("test_accuracy")
        if st and st.get("welch", {}).get("p_value") is not None:
            lines.append(
                f"  {c['a']} vs {c['b']}: test accuracy {st['difference']:+.2f} points, "
                f"Welch's t-test p = {st['welch']['p_value']:.2g}"
            )
    unverified = len(sweep.get("unverified_runs", []))
    from_metrics = sum(1 for r in runs if r.get("angles_source") == "metrics")
    notes = []
    if unverified:
        notes.append(f"{unverified} read without checksums (unverified_runs in summary.json)")
    if from_metrics:
        notes.append(
            f"{from_metrics} with angles from metrics.json (weights not recorded every epoch)"
        )
    if notes:
        lines.append("  runs: " + "; ".join(notes))
    return lines

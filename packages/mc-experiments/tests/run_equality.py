"""Test helper: two run directories hold the same run, bit for bit."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import zarr

from mc_experiments.storage import RunDir


def recordings(path: Path) -> dict[str, np.ndarray]:
    """Every recorded array of a run directory, by ``<stage>/<variable>``."""
    g = zarr.open_group(Path(path) / "recordings.zarr", mode="r")
    return {f"{s}/{a}": g[s][a][...] for s in g.group_keys() for a in g[s].array_keys()}


def assert_same_run(a: Path, b: Path) -> None:
    """Same metrics, same recordings and the same final checkpoint (weights, RNG states)."""
    ra, rb = RunDir(Path(a)), RunDir(Path(b))
    assert ra.status()["state"] == rb.status()["state"] == "completed", (a, b)
    assert ra.read_metrics() == rb.read_metrics(), (a, b)
    x, y = recordings(a), recordings(b)
    assert x.keys() == y.keys() and x
    for k in x:
        np.testing.assert_array_equal(x[k], y[k], err_msg=f"{b}: {k}")
    (wa, meta_a), (wb, meta_b) = ra.latest_checkpoint(), rb.latest_checkpoint()
    assert meta_a["epoch"] == meta_b["epoch"]
    assert wa.keys() == wb.keys() and wa
    for k in wa:
        np.testing.assert_array_equal(wa[k], wb[k], err_msg=f"{b}: checkpoint {k}")

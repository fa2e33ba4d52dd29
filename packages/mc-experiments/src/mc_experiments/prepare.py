"""Data preparation steps of the pipeline (``mc-run data``): obtain and verify datasets."""

from __future__ import annotations

import logging
import os
from pathlib import Path

import numpy as np

from mc_experiments.config import Config
from mc_experiments.data import data_seed, load_stage_data
from mc_experiments.datasets.mnist import ENV_VAR, MIRRORS, download_mnist
from mc_experiments.storage import atomic_write_bytes

__all__ = ["prepare_mnist", "prepare_yinyang"]

log = logging.getLogger(__name__)


def prepare_mnist(out: Path, source: Path | None = None) -> Path:
    """Put verified MNIST files into ``out``.

    ``source`` (or ``$MC_MNIST_DIR``) is tried first, as a local mirror; then the public
    mirrors. Every file's md5 is checked before it is put in place.
    """
    source = source or (Path(os.environ[ENV_VAR]) if os.environ.get(ENV_VAR) else None)
    mirrors = list(MIRRORS)
    if source is not None:
        if not Path(source).is_dir():
            raise FileNotFoundError(f"MNIST source directory {source} does not exist")
        mirrors.insert(0, Path(source).resolve().as_uri() + "/")
    return download_mnist(out, mirrors=mirrors)


def prepare_yinyang(cfg: Config, out: Path) -> Path:
    """Write the Yin-Yang splits of ``cfg`` (inputs, labels, teacher) to ``out/<name>.npz``."""
    out.mkdir(parents=True, exist_ok=True)
    data = load_stage_data(cfg)
    arrays = {}
    for stage, d in data.items():
        arrays[f"{stage}_inputs"] = d.inputs
        arrays[f"{stage}_labels"] = d.labels
        arrays[f"{stage}_teacher"] = d.teacher
    path = out / f"yinyang_seed{data_seed(cfg)}.npz"
    import io

    buf = io.BytesIO()
    np.savez_compressed(buf, **arrays)
    atomic_write_bytes(path, buf.getvalue())
    log.info("wrote %s", path)
    return path

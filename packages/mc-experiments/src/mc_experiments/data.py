"""Stage data of a run: the dataset of its config, encoded as input and teacher rates."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from mc_experiments.config import Config
from mc_experiments.datasets import encode_teacher, load_dataset
from mc_network import run_streams

__all__ = ["STAGES", "StageData", "data_seed", "load_stage_data"]

STAGES = ("validation", "training", "test")


@dataclass(frozen=True)
class StageData:
    """Rates of one stage: inputs ``(N, n_in)``, teacher ``(N, n_out)``, labels ``(N,)``."""

    inputs: np.ndarray
    teacher: np.ndarray
    labels: np.ndarray

    @property
    def n_samples(self) -> int:
        """Samples in the stage."""
        return self.labels.shape[0]


def data_seed(cfg: Config) -> int:
    """The dataset seed: ``dataset.seed`` or, if unset, drawn from the run's ``data`` stream."""
    if cfg.dataset.seed is not None:
        return cfg.dataset.seed
    return int(run_streams(cfg.seed).data.integers(0, 2**31 - 1))


def load_stage_data(cfg: Config) -> dict[str, StageData]:
    """Load the config's dataset and encode the teacher with ``u_low``/``u_high``."""
    ds = cfg.dataset
    kwargs = {"n_train": ds.n_train, "n_valid": ds.n_valid, "n_test": ds.n_test}
    if ds.name == "yinyang":
        dataset = load_dataset("yinyang", data_seed=data_seed(cfg), **kwargs)
    elif ds.name == "mnist":
        dataset = load_dataset("mnist", directory=ds.directory, **kwargs)
    else:
        dataset = load_dataset("bars", noise_level=ds.noise_level, seed=data_seed(cfg), **kwargs)
    splits = {"validation": dataset.valid, "training": dataset.train, "test": dataset.test}
    return {
        stage: StageData(
            inputs=np.asarray(split.inputs, dtype=np.float32),
            teacher=encode_teacher(split.labels, dataset.n_classes, ds.u_low, ds.u_high),
            labels=np.asarray(split.labels),
        )
        for stage, split in splits.items()
    }

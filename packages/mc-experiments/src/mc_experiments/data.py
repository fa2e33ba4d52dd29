"""Stage data of a run: the dataset of its config, encoded as input and teacher rates."""

from __future__ import annotations

import weakref
from dataclasses import dataclass

import numpy as np

from mc_experiments.config import Config
from mc_experiments.datasets import encode_teacher, load_dataset
from mc_network import run_streams

__all__ = ["STAGES", "StageData", "data_seed", "load_stage_data"]

STAGES = ("validation", "training", "test")


@dataclass(frozen=True)
class StageData:
    """Rates of one stage: inputs ``(N, n_in)``, teacher ``(N, n_out)``, labels ``(N,)``.

    ``n_shown``: samples presented per stage run (``None``: all ``N``). With ``randomness:
    original`` an MNIST stage holds the whole split and shows the first ``n_shown`` entries of
    each run's shuffle, as the original did.
    """

    inputs: np.ndarray
    teacher: np.ndarray
    labels: np.ndarray
    n_shown: int | None = None

    @property
    def n_samples(self) -> int:
        """Samples in the stage."""
        return self.labels.shape[0]

    @property
    def shown(self) -> int:
        """Samples presented per stage run."""
        return self.n_samples if self.n_shown is None else self.n_shown


def data_seed(cfg: Config) -> int:
    """The dataset seed: ``dataset.seed`` or, if unset, drawn from the run's ``data`` stream."""
    if cfg.dataset.seed is not None:
        return cfg.dataset.seed
    return int(run_streams(cfg.seed).data.integers(0, 2**31 - 1))


class _Stages(dict):
    """The stage data of one dataset config (a dict subclass, so it can be weakly cached)."""


# Runs whose dataset sections and data seeds agree share one read-only copy of their stage
# data (a batched sweep of seeds holds one MNIST, not one per member); the copy is freed when
# no run holds it any more.
_SHARED: weakref.WeakValueDictionary[tuple, _Stages] = weakref.WeakValueDictionary()


def load_stage_data(cfg: Config) -> dict[str, StageData]:
    """Load the config's dataset and encode the teacher with ``u_low``/``u_high``.

    Runs whose ``dataset`` sections and data seeds are equal get the same (read-only)
    arrays, loaded once while any of them holds them.

    With ``randomness: original`` the Bars splits are drawn as the original drew them and an
    MNIST stage holds its whole split (see :class:`StageData`); Yin-Yang is the same in both
    modes (the original's seed arithmetic).
    """
    ds = cfg.dataset
    seed = None if ds.name == "mnist" else data_seed(cfg)
    original = cfg.randomness == "original" and ds.name != "yinyang"
    key = (repr(ds), seed, original)
    stages = _SHARED.get(key)
    if stages is None:
        stages = _load(cfg, seed, original)
        _SHARED[key] = stages
    return stages


def _load(cfg: Config, seed: int | None, original: bool) -> _Stages:
    ds = cfg.dataset
    kwargs = {"n_train": ds.n_train, "n_valid": ds.n_valid, "n_test": ds.n_test}
    if ds.name == "yinyang":
        dataset = load_dataset("yinyang", data_seed=seed, **kwargs)
    elif ds.name == "mnist":
        extra = {"whole_splits": True} if original else {}
        dataset = load_dataset(
            "mnist", directory=ds.directory, sample=ds.mnist_sample, **kwargs, **extra
        )
    else:
        extra = {"original_seeding": True} if original else {}
        dataset = load_dataset("bars", noise_level=ds.noise_level, seed=seed, **kwargs, **extra)
    splits = {"validation": dataset.valid, "training": dataset.train, "test": dataset.test}
    per_class = {"validation": ds.n_valid, "training": ds.n_train, "test": ds.n_test}
    stages = _Stages()
    for stage, split in splits.items():
        arrays = (
            np.array(split.inputs, dtype=np.float32),
            encode_teacher(split.labels, dataset.n_classes, ds.u_low, ds.u_high),
            np.array(split.labels),
        )
        for a in arrays:
            a.flags.writeable = False
        shown = dataset.n_classes * per_class[stage]
        stages[stage] = StageData(*arrays, n_shown=shown if shown != split.n_samples else None)
    return stages

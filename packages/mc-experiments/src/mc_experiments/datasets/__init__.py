"""Datasets of the experiments: Yin-Yang, MNIST and 3x3 bars, plus the teacher encoding.

Every loader takes the sample counts per class (``n_train``, ``n_valid``, ``n_test``) and
returns a :class:`Dataset` of float32 inputs and int64 labels; :func:`load_dataset` picks one
by name.

>>> from mc_experiments.datasets import load_dataset
>>> ds = load_dataset("bars", n_train=2, n_valid=1, n_test=1, noise_level=0.1, seed=0)
>>> ds.train.inputs.shape, ds.n_classes
((6, 9), 3)
"""

from __future__ import annotations

import inspect
from collections.abc import Callable

from mc_experiments.datasets.bars import load_bars
from mc_experiments.datasets.base import Dataset, DatasetError, Split
from mc_experiments.datasets.mnist import download_mnist, load_mnist, read_idx, resolve_mnist_dir
from mc_experiments.datasets.teacher import encode_teacher
from mc_experiments.datasets.yinyang import class_of, load_yinyang, yinyang_split

__all__ = [
    "DATASETS",
    "Dataset",
    "DatasetError",
    "Split",
    "class_of",
    "download_mnist",
    "encode_teacher",
    "load_bars",
    "load_dataset",
    "load_mnist",
    "load_yinyang",
    "read_idx",
    "resolve_mnist_dir",
    "yinyang_split",
]

DATASETS: dict[str, Callable[..., Dataset]] = {
    "yinyang": load_yinyang,
    "mnist": load_mnist,
    "bars": load_bars,
}


def load_dataset(name: str, **kwargs: object) -> Dataset:
    """Load the dataset registered as ``name`` with the loader's keyword arguments.

    Parameters
    ----------
    name
        One of ``DATASETS``: ``"yinyang"`` (``data_seed``), ``"mnist"`` (``directory``,
        ``verify``) or ``"bars"`` (``noise_level``, ``seed``).
    **kwargs
        ``n_train``, ``n_valid``, ``n_test`` (per class) and the loader's own arguments.

    Returns
    -------
    Dataset
        The loaded dataset.

    Raises
    ------
    DatasetError
        For an unknown name (the message lists the valid ones) or bad arguments.
    """
    try:
        loader = DATASETS[name]
    except (KeyError, TypeError):
        valid = ", ".join(sorted(DATASETS))
        raise DatasetError(f"unknown dataset {name!r}; valid names: {valid}") from None
    try:
        inspect.signature(loader).bind(**kwargs)
    except TypeError as exc:
        raise DatasetError(f"dataset {name!r}: bad arguments: {exc}") from None
    return loader(**kwargs)

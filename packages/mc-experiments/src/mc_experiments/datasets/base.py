"""Containers shared by every dataset: one :class:`Split` per stage and the :class:`Dataset`."""

from __future__ import annotations

import operator
from dataclasses import dataclass

import numpy as np

__all__ = ["Dataset", "DatasetError", "Split", "check_count"]


class DatasetError(ValueError):
    """A dataset cannot be built or loaded; the message says what and how to fix it."""


def check_count(value: object, name: str) -> int:
    """Return ``value`` as a non-negative ``int`` or raise :class:`DatasetError` naming it.

    Parameters
    ----------
    value
        The count to check (any integral type; ``bool`` is refused).
    name
        Name of the argument, used in the error message.

    Returns
    -------
    int
        The count.
    """
    if isinstance(value, bool):
        raise DatasetError(f"{name} must be a non-negative integer, got {value!r}")
    try:
        count = operator.index(value)
    except TypeError:
        raise DatasetError(f"{name} must be a non-negative integer, got {value!r}") from None
    if count < 0:
        raise DatasetError(f"{name} must be a non-negative integer, got {count}")
    return count


@dataclass(frozen=True)
class Split:
    """Samples of one stage.

    Attributes
    ----------
    inputs : numpy.ndarray
        Input rates, shape ``(N, n_in)``, float32.
    labels : numpy.ndarray
        Class indices, shape ``(N,)``, int64.
    """

    inputs: np.ndarray
    labels: np.ndarray

    def __post_init__(self) -> None:
        inputs = np.asarray(self.inputs)
        labels = np.asarray(self.labels)
        if inputs.ndim != 2:
            raise DatasetError(f"Split.inputs must be 2-D (N, n_in), got shape {inputs.shape}")
        if labels.ndim != 1:
            raise DatasetError(f"Split.labels must be 1-D (N,), got shape {labels.shape}")
        if inputs.shape[0] != labels.shape[0]:
            raise DatasetError(
                f"Split has {inputs.shape[0]} input rows but {labels.shape[0]} labels"
            )
        if labels.size and not np.issubdtype(labels.dtype, np.integer):
            raise DatasetError(f"Split.labels must be integers, got dtype {labels.dtype}")
        object.__setattr__(self, "inputs", inputs.astype(np.float32, copy=False))
        object.__setattr__(self, "labels", labels.astype(np.int64, copy=False))

    @property
    def n_samples(self) -> int:
        """Number of samples ``N``."""
        return int(self.labels.shape[0])


@dataclass(frozen=True)
class Dataset:
    """A classification dataset with its three splits.

    Attributes
    ----------
    name : str
        Registry name (``"yinyang"``, ``"mnist"``, ``"bars"``).
    train, valid, test : Split
        Training, validation and test samples.
    n_classes : int
        Number of classes; every label lies in ``[0, n_classes)``.
    n_inputs : int
        Input dimension; every split has ``n_inputs`` columns.
    """

    name: str
    train: Split
    valid: Split
    test: Split
    n_classes: int
    n_inputs: int

    def __post_init__(self) -> None:
        if self.n_classes < 1 or self.n_inputs < 1:
            raise DatasetError(
                f"dataset {self.name!r}: n_classes and n_inputs must be positive, "
                f"got {self.n_classes} and {self.n_inputs}"
            )
        for stage, split in self.splits().items():
            if split.inputs.shape[1] != self.n_inputs:
                raise DatasetError(
                    f"dataset {self.name!r}: {stage} split has {split.inputs.shape[1]} inputs, "
                    f"expected {self.n_inputs}"
                )
            if split.labels.size and (
                split.labels.min() < 0 or split.labels.max() >= self.n_classes
            ):
                raise DatasetError(
                    f"dataset {self.name!r}: {stage} labels must lie in [0, {self.n_classes})"
                )

    def splits(self) -> dict[str, Split]:
        """The splits by stage name: ``{"train": ..., "valid": ..., "test": ...}``."""
        return {"train": self.train, "valid": self.valid, "test": self.test}

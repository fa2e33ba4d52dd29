"""Teacher (supervisor) encoding of class labels."""

from __future__ import annotations

import numpy as np

from mc_experiments.datasets.base import DatasetError, check_count

__all__ = ["encode_teacher"]


def encode_teacher(
    labels: np.ndarray, n_classes: int, u_low: float = 0.1, u_high: float = 1.0
) -> np.ndarray:
    """Encode labels as teacher rates: ``u_high`` at the label, ``u_low`` elsewhere.

    The original builds the same values with classes ordered by ``np.unique`` of the train and
    validation labels; with labels ``0..n_classes-1`` that order is the label index itself.
    The original's layout is the transpose ``(n_classes, N)``.

    Parameters
    ----------
    labels
        Class indices, shape ``(N,)``, each in ``[0, n_classes)``.
    n_classes
        Number of output units.
    u_low, u_high
        Rates of the wrong classes and of the true class.

    Returns
    -------
    numpy.ndarray
        Teacher rates, shape ``(N, n_classes)``, float32.

    Examples
    --------
    >>> encode_teacher(np.array([2, 0]), 3)
    array([[0.1, 0.1, 1. ],
           [1. , 0.1, 0.1]], dtype=float32)
    """
    n_classes = check_count(n_classes, "n_classes")
    if n_classes == 0:
        raise DatasetError("n_classes must be at least 1")
    labels = np.asarray(labels)
    if labels.ndim != 1:
        raise DatasetError(f"labels must be 1-D, got shape {labels.shape}")
    if labels.size and not np.issubdtype(labels.dtype, np.integer):
        raise DatasetError(f"labels must be integers, got dtype {labels.dtype}")
    if labels.size and (labels.min() < 0 or labels.max() >= n_classes):
        raise DatasetError(
            f"labels must lie in [0, {n_classes}), got range [{labels.min()}, {labels.max()}]"
        )
    teacher = np.full((labels.shape[0], n_classes), u_low, dtype=np.float32)
    teacher[np.arange(labels.shape[0]), labels.astype(np.intp)] = np.float32(u_high)
    return teacher

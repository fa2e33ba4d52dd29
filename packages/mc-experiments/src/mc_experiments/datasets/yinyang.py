"""The Yin-Yang dataset (Kriener et al. 2022), generated exactly as the original does.

The generator follows the algorithm of ``YinYangDataset`` (github.com/lkriener/yin_yang_data_set,
``dataset.py``, copied into the original code as ``microcircuits/Dataset.py``) draw for draw, so
that a seed gives the same points, bit for bit:

* one ``numpy.random.RandomState(seed)`` per split;
* per sample, first the goal class ``rs.randint(3)`` (classes are balanced only in expectation),
  then repeated tries ``x, y = rs.rand(2) * 2 * r_big``, each try one ``rand(2)`` call, until the
  point lies inside the big circle and has the goal class;
* the input is ``[x, y, 1 - x, 1 - y]``, computed in float64 and rounded to float32 once.
"""

from __future__ import annotations

import logging
import math

import numpy as np

from mc_experiments.datasets.base import Dataset, DatasetError, Split, check_count

__all__ = [
    "CLASS_NAMES",
    "N_CLASSES",
    "R_BIG",
    "R_SMALL",
    "class_of",
    "load_yinyang",
    "yinyang_split",
]

logger = logging.getLogger(__name__)

R_SMALL = 0.1
R_BIG = 0.5
N_CLASSES = 3
#: Names of the labels ``class_of`` returns: 0 yang, 1 yin, 2 dot. As in the original, whose
#: ``which_class`` returns ``int(is_yin)`` (its ``class_names`` list gave them the other way).
CLASS_NAMES = ("yang", "yin", "dot")
_MAX_SEED = 2**32 - 1  # numpy.random.RandomState accepts seeds in [0, 2**32 - 1]


def _distance(x: float, y: float, cx: float, cy: float) -> float:
    # sqrt(dx*dx + dy*dy) with correctly rounded products and sqrt, the same float64 result as
    # the upstream ``np.sqrt((x - cx)**2 + (y - cy)**2)`` (``math.hypot`` may differ by an ulp).
    dx = x - cx
    dy = y - cy
    return math.sqrt(dx * dx + dy * dy)


def class_of(x: float, y: float, r_small: float = R_SMALL, r_big: float = R_BIG) -> int:
    """Class of the point ``(x, y)``: 0 yang, 1 yin, 2 dot (see ``CLASS_NAMES``).

    With ``d_right`` and ``d_left`` the distances to the dot centres ``(1.5 r_big, r_big)`` and
    ``(0.5 r_big, r_big)`` (``(0.75, 0.5)`` and ``(0.25, 0.5)`` for ``r_big = 0.5``):
    the point is a dot if ``d_right < r_small`` or ``d_left < r_small``; otherwise it is
    class ``int(yin)`` with ``yin = d_right <= r_small or r_small < d_left <= 0.5 r_big or
    (y > r_big and d_right > 0.5 r_big)``. The point is assumed to lie in the big circle.

    Parameters
    ----------
    x, y
        Coordinates in ``[0, 2 r_big]``.
    r_small, r_big
        Radii of the dots and of the big circle.

    Returns
    -------
    int
        The class index.

    Examples
    --------
    >>> class_of(0.75, 0.5), class_of(0.5, 0.9), class_of(0.5, 0.1)
    (2, 1, 0)
    """
    x = float(x)
    y = float(y)
    d_right = _distance(x, y, 1.5 * r_big, r_big)
    d_left = _distance(x, y, 0.5 * r_big, r_big)
    if d_right < r_small or d_left < r_small:
        return 2
    is_yin = (
        d_right <= r_small
        or (r_small < d_left <= 0.5 * r_big)
        or (y > r_big and d_right > 0.5 * r_big)
    )
    return int(is_yin)


def _draw_sample(
    rs: np.random.RandomState, goal: int, r_small: float, r_big: float
) -> tuple[float, float]:
    """Rejection-sample one point of class ``goal``: one ``rs.rand(2)`` per try."""
    while True:
        x, y = (rs.rand(2) * 2.0 * r_big).tolist()
        if _distance(x, y, r_big, r_big) > r_big:
            continue
        if class_of(x, y, r_small, r_big) == goal:
            return x, y


def _check_seed(seed: object, name: str) -> int:
    value = check_count(seed, name)
    if value > _MAX_SEED:
        raise DatasetError(f"{name} must lie in [0, 2**32 - 1] for RandomState, got {value}")
    return value


def yinyang_split(
    n_per_class: int, seed: int, r_small: float = R_SMALL, r_big: float = R_BIG
) -> Split:
    """Generate ``3 * n_per_class`` Yin-Yang samples from ``RandomState(seed)``.

    Parameters
    ----------
    n_per_class
        Samples per class on average; the split holds ``3 * n_per_class`` samples whose class
        counts are random (each sample's class is drawn uniformly).
    seed
        Seed of the split's own ``numpy.random.RandomState``.
    r_small, r_big
        Radii of the dots and of the big circle.

    Returns
    -------
    Split
        Inputs ``[x, y, 1 - x, 1 - y]`` (float32) and labels (0 yang, 1 yin, 2 dot).
    """
    n = N_CLASSES * check_count(n_per_class, "n_per_class")
    seed = _check_seed(seed, "seed")
    if not 0.0 < r_small < 0.5 * r_big:
        raise DatasetError(f"need 0 < r_small < r_big / 2, got r_small={r_small}, r_big={r_big}")
    rs = np.random.RandomState(seed)
    coords = np.empty((n, 2), dtype=np.float64)
    labels = np.empty(n, dtype=np.int64)
    for i in range(n):
        goal = int(rs.randint(N_CLASSES))
        coords[i] = _draw_sample(rs, goal, r_small, r_big)
        labels[i] = goal
    inputs = np.concatenate([coords, 1.0 - coords], axis=1).astype(np.float32)
    return Split(inputs=inputs, labels=labels)


def load_yinyang(
    n_train: int,
    n_valid: int,
    n_test: int,
    data_seed: int,
    r_small: float = R_SMALL,
    r_big: float = R_BIG,
) -> Dataset:
    """Load the Yin-Yang dataset with the original's seed arithmetic.

    Parameters
    ----------
    n_train, n_valid, n_test
        Samples per class (each split holds three times as many).
    data_seed
        Seed of the training split; validation uses ``data_seed + 1`` and test
        ``data_seed + 2``.
    r_small, r_big
        Radii of the dots and of the big circle.

    Returns
    -------
    Dataset
        Four inputs, three classes.
    """
    data_seed = _check_seed(data_seed, "data_seed")
    _check_seed(data_seed + 2, "data_seed + 2")
    dataset = Dataset(
        name="yinyang",
        train=yinyang_split(n_train, data_seed, r_small, r_big),
        valid=yinyang_split(n_valid, data_seed + 1, r_small, r_big),
        test=yinyang_split(n_test, data_seed + 2, r_small, r_big),
        n_classes=N_CLASSES,
        n_inputs=4,
    )
    logger.info(
        "Yin-Yang data_seed=%d: %d/%d/%d train/valid/test samples",
        data_seed,
        dataset.train.n_samples,
        dataset.valid.n_samples,
        dataset.test.n_samples,
    )
    return dataset

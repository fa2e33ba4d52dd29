"""The 3x3 bars dataset: horizontal, vertical and diagonal bars with uniform noise.

Prototypes and their order follow the original ``BarsDataset(3, ...)``: the horizontal bars in
the order of ``np.unique`` over the row permutations (bottom row, middle row, top row), the
vertical bars as their transposes (right, middle, left column), then the main diagonal and the
anti-diagonal. Within a class the prototypes are cycled in that order; every sample gets
``U(0, 1) * noise_level`` added to each pixel; the split is then shuffled and clipped to [0, 1].

Fix (documented): the original reseeded numpy's *global* RNG for every split (seeds
``data_seed``, ``5 * data_seed``, ``42 * data_seed``) and shuffled with whatever state the
global RNG then had. Here each split has its own ``numpy.random.Generator``, spawned from
``numpy.random.SeedSequence(seed)`` (children 0, 1, 2 for train, valid, test), which draws the
noise sample by sample in the same order and then the shuffling permutation. The global RNG is
never touched, so the values differ from the original's for the same seed.
"""

from __future__ import annotations

import logging
import math

import numpy as np

from mc_experiments.datasets.base import Dataset, DatasetError, Split, check_count

__all__ = ["CLASS_NAMES", "N_CLASSES", "SIZE", "bars_prototypes", "load_bars"]

logger = logging.getLogger(__name__)

SIZE = 3
N_CLASSES = 3
CLASS_NAMES = ("horizontal", "vertical", "diagonal")


def bars_prototypes(size: int = SIZE) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Noise-free prototypes of the three classes, each of shape ``(n_prototypes, size, size)``.

    Parameters
    ----------
    size
        Side length of the square image.

    Returns
    -------
    tuple of numpy.ndarray
        Horizontal (``size`` bars, bottom row first), vertical (transposes of the horizontals)
        and diagonal (main diagonal, anti-diagonal) prototypes, float64 in {0, 1}.
    """
    eye = np.eye(size)
    horizontals = np.zeros((size, size, size))
    for k, row in enumerate(reversed(range(size))):
        horizontals[k, row, :] = 1.0
    verticals = horizontals.transpose(0, 2, 1).copy()
    diagonals = np.stack([eye, eye[::-1]])
    return horizontals, verticals, diagonals


def _bars_split(n_per_class: int, noise_level: float, rng: np.random.Generator) -> Split:
    """Build one split: prototypes cycled per class plus noise, then shuffled and clipped."""
    n_pixels = SIZE * SIZE
    rows = []
    labels = []
    for label, prototypes in enumerate(bars_prototypes(SIZE)):
        flat = prototypes.reshape(len(prototypes), n_pixels)
        for i in range(n_per_class):
            rows.append(flat[i % len(flat)] + rng.random(n_pixels) * noise_level)
            labels.append(label)
    values = np.array(rows, dtype=np.float64).reshape(-1, n_pixels)
    order = rng.permutation(len(labels))
    inputs = np.clip(values[order], 0.0, 1.0).astype(np.float32)
    return Split(inputs=inputs, labels=np.asarray(labels, dtype=np.int64)[order])


def load_bars(n_train: int, n_valid: int, n_test: int, noise_level: float, seed: int) -> Dataset:
    """Load the 3x3 bars dataset.

    Parameters
    ----------
    n_train, n_valid, n_test
        Samples per class (each split holds three times as many, exactly balanced).
    noise_level
        Scale of the uniform noise ``U(0, 1) * noise_level`` added to every pixel.
    seed
        Non-negative seed; the splits use the three children of ``SeedSequence(seed)``.

    Returns
    -------
    Dataset
        Nine inputs, three classes (horizontal, vertical, diagonal).
    """
    counts = {
        "n_train": check_count(n_train, "n_train"),
        "n_valid": check_count(n_valid, "n_valid"),
        "n_test": check_count(n_test, "n_test"),
    }
    seed = check_count(seed, "seed")
    noise_level = float(noise_level)
    if not math.isfinite(noise_level) or noise_level < 0.0:
        raise DatasetError(f"noise_level must be finite and >= 0, got {noise_level}")
    streams = [np.random.default_rng(s) for s in np.random.SeedSequence(seed).spawn(3)]
    train, valid, test = (
        _bars_split(n, noise_level, rng) for n, rng in zip(counts.values(), streams, strict=True)
    )
    logger.info(
        "bars seed=%d noise=%g: %d/%d/%d train/valid/test samples",
        seed,
        noise_level,
        train.n_samples,
        valid.n_samples,
        test.n_samples,
    )
    return Dataset(
        name="bars", train=train, valid=valid, test=test, n_classes=N_CLASSES, n_inputs=9
    )

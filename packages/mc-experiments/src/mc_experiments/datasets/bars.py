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
never touched, so the values differ from the original's for the same seed;
``original_seeding=True`` (used by ``randomness: original``) reproduces them with legacy
``RandomState`` objects instead, still without touching the global RNG.
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
_MAX_LEGACY_SEED = 2**32 - 1  # numpy.random.RandomState accepts seeds in [0, 2**32 - 1]
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


def _bars_values(
    n_per_class: int, noise_level: float, rng: np.random.Generator | np.random.RandomState
) -> tuple[np.ndarray, np.ndarray]:
    """One split before shuffling: prototypes cycled per class plus noise, sample by sample."""
    n_pixels = SIZE * SIZE
    rows = []
    labels = []
    for label, prototypes in enumerate(bars_prototypes(SIZE)):
        flat = prototypes.reshape(len(prototypes), n_pixels)
        for i in range(n_per_class):
            rows.append(flat[i % len(flat)] + rng.random(n_pixels) * noise_level)
            labels.append(label)
    return np.array(rows, dtype=np.float64).reshape(-1, n_pixels), np.asarray(labels, np.int64)


def _shuffled(values: np.ndarray, labels: np.ndarray, order: np.ndarray) -> Split:
    """The split in the shuffled order, clipped to [0, 1]."""
    inputs = np.clip(values[order], 0.0, 1.0).astype(np.float32)
    return Split(inputs=inputs, labels=labels[order])


def _bars_split(n_per_class: int, noise_level: float, rng: np.random.Generator) -> Split:
    """Build one split: prototypes cycled per class plus noise, then shuffled and clipped."""
    values, labels = _bars_values(n_per_class, noise_level, rng)
    return _shuffled(values, labels, rng.permutation(len(labels)))


def _original_splits(counts: list[int], noise_level: float, seed: int) -> list[Split]:
    """The splits as the original drew them from numpy's global RNG, with RandomState objects.

    The original seeded the global RNG with ``seed``, ``int(5 * seed)`` and ``int(42 * seed)``
    before the noise of the training, validation and test split, then shuffled the three
    splits in that order with the state the test split's draws left.
    """
    seeds = (seed, int(seed * 5), int(seed * 42))
    if seeds[2] > _MAX_LEGACY_SEED:
        raise DatasetError(
            f"seed={seed}: the original's test seed 42 * seed = {seeds[2]} exceeds the largest "
            f"RandomState seed {_MAX_LEGACY_SEED} (use seed <= {_MAX_LEGACY_SEED // 42})"
        )
    rngs = [np.random.RandomState(s) for s in seeds]
    drawn = [_bars_values(n, noise_level, rng) for n, rng in zip(counts, rngs, strict=True)]
    shuffle_rng = rngs[2]
    return [_shuffled(v, lab, shuffle_rng.permutation(len(lab))) for v, lab in drawn]


def load_bars(
    n_train: int,
    n_valid: int,
    n_test: int,
    noise_level: float,
    seed: int,
    *,
    original_seeding: bool = False,
) -> Dataset:
    """Load the 3x3 bars dataset.

    Parameters
    ----------
    n_train, n_valid, n_test
        Samples per class (each split holds three times as many, exactly balanced).
    noise_level
        Scale of the uniform noise ``U(0, 1) * noise_level`` added to every pixel.
    seed
        Non-negative seed; the splits use the three children of ``SeedSequence(seed)``.
    original_seeding
        Draw the splits as the original did (``RandomState`` objects seeded with ``seed``,
        ``5 * seed`` and ``42 * seed``, shuffled with the last one's state), reproducing its
        values for the same seed.

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
    if original_seeding:
        train, valid, test = _original_splits(list(counts.values()), noise_level, seed)
    else:
        streams = [np.random.default_rng(s) for s in np.random.SeedSequence(seed).spawn(3)]
        train, valid, test = (
            _bars_split(n, noise_level, rng)
            for n, rng in zip(counts.values(), streams, strict=True)
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

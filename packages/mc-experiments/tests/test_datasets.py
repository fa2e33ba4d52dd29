import math

import numpy as np
import pytest

from mc_experiments.datasets import (
    DATASETS,
    Dataset,
    DatasetError,
    Split,
    class_of,
    encode_teacher,
    load_bars,
    load_dataset,
    load_yinyang,
    yinyang_split,
)
from mc_experiments.datasets.bars import bars_prototypes
from mc_experiments.datasets.yinyang import R_BIG, R_SMALL

# ---------------------------------------------------------------- base


def test_split_casts_dtypes():
    s = Split(inputs=np.zeros((2, 3), dtype=np.float64), labels=np.array([0, 1], dtype=np.int32))
    assert s.inputs.dtype == np.float32
    assert s.labels.dtype == np.int64
    assert s.n_samples == 2


@pytest.mark.parametrize(
    ("inputs", "labels", "match"),
    [
        (np.zeros(3), np.zeros(3, dtype=int), "2-D"),
        (np.zeros((3, 2)), np.zeros((3, 1), dtype=int), "1-D"),
        (np.zeros((3, 2)), np.zeros(2, dtype=int), "3 input rows but 2 labels"),
        (np.zeros((2, 2)), np.zeros(2), "integers"),
    ],
)
def test_split_validation(inputs, labels, match):
    with pytest.raises(DatasetError, match=match):
        Split(inputs=inputs, labels=labels)


def test_dataset_validation():
    good = Split(np.zeros((2, 4)), np.array([0, 2]))
    Dataset("x", good, good, good, n_classes=3, n_inputs=4)
    with pytest.raises(DatasetError, match="valid split has 4 inputs, expected 5"):
        Dataset("x", Split(np.zeros((2, 5)), np.array([0, 1])), good, good, 3, 5)
    with pytest.raises(DatasetError, match=r"labels must lie in \[0, 2\)"):
        Dataset("x", good, good, good, n_classes=2, n_inputs=4)
    assert issubclass(DatasetError, ValueError)


# ---------------------------------------------------------------- Yin-Yang

# Computed with the upstream generator's algorithm, seed 42: YinYangDataset(size=9, seed=42)
# of github.com/lkriener/yin_yang_data_set (dataset.py, commit e6eef96), run separately with
# numpy 1.26; these are its first three (x, y) pairs (float64) and the first nine labels.
# The same run reproduced the repository's publication_data/train_samples.npy (size 5000,
# seed 42) bit for bit.
UPSTREAM_SEED42_XY = [
    (0.6803075385877797, 0.450499251969543),
    (0.09767211400638387, 0.6842330265121569),
    (0.7553614103176525, 0.4251558744912447),
]
UPSTREAM_SEED42_LABELS = [2, 1, 2, 1, 1, 1, 0, 2, 2]


def test_yinyang_golden_values_seed42():
    split = yinyang_split(3, 42)
    xy = np.array(UPSTREAM_SEED42_XY)
    expected = np.concatenate([xy, 1.0 - xy], axis=1).astype(np.float32)
    np.testing.assert_array_equal(split.inputs[:3], expected)
    np.testing.assert_array_equal(split.labels, UPSTREAM_SEED42_LABELS)
    assert split.inputs.dtype == np.float32
    assert split.labels.dtype == np.int64


def test_yinyang_sizes_are_per_class():
    ds = load_yinyang(5, 2, 0, data_seed=7)
    assert (ds.train.n_samples, ds.valid.n_samples, ds.test.n_samples) == (15, 6, 0)
    assert ds.test.inputs.shape == (0, 4)
    assert (ds.n_classes, ds.n_inputs, ds.name) == (3, 4, "yinyang")


def test_yinyang_geometry():
    split = yinyang_split(400, 3)
    x = split.inputs[:, 0].astype(np.float64)
    y = split.inputs[:, 1].astype(np.float64)
    # float32 rounding moves a point by < 1e-7, so allow that much at the circle's edge
    assert np.all(np.hypot(x - R_BIG, y - R_BIG) <= R_BIG + 1e-7)
    assert set(np.unique(split.labels)) == {0, 1, 2}
    dots = split.labels == 2
    d_left = np.hypot(x - 0.25, y - 0.5)
    d_right = np.hypot(x - 0.75, y - 0.5)
    assert np.all(np.minimum(d_left, d_right)[dots] < R_SMALL + 1e-7)
    assert np.all(np.minimum(d_left, d_right)[~dots] >= R_SMALL - 1e-7)
    # class_of on the float32-rounded points (none lies within round-off of a border here)
    assert [class_of(a, b) for a, b in zip(x, y, strict=True)] == split.labels.tolist()


def test_class_of_known_points():
    assert class_of(0.75, 0.5) == 2  # right dot centre
    assert class_of(0.25, 0.5) == 2  # left dot centre
    assert class_of(0.25, 0.66) == 1  # around the left dot: yin
    assert class_of(0.75, 0.34) == 0  # around the right dot: yang
    assert class_of(0.5, 0.95) == 1  # top: yin
    assert class_of(0.5, 0.05) == 0  # bottom: yang


def test_class_names_match_the_labels():
    """Label 1 is yin (the original's ``int(is_yin)``); names, figures and labels agree."""
    from mc_experiments.datasets.yinyang import CLASS_NAMES

    assert CLASS_NAMES[class_of(0.5, 0.95)] == "yin"  # the top half, around the left dot
    assert CLASS_NAMES[class_of(0.5, 0.05)] == "yang"
    assert CLASS_NAMES[class_of(0.75, 0.5)] == "dot"
    from mc_analysis.figures import YINYANG_CLASSES  # the decision maps' legend

    assert YINYANG_CLASSES == CLASS_NAMES


def test_yinyang_inputs_mirror():
    inputs = yinyang_split(50, 11).inputs
    np.testing.assert_allclose(inputs[:, 2:], 1.0 - inputs[:, :2], rtol=0, atol=6e-8)


def test_yinyang_seeding():
    a = yinyang_split(20, 5)
    b = yinyang_split(20, 5)
    c = yinyang_split(20, 6)
    np.testing.assert_array_equal(a.inputs, b.inputs)
    np.testing.assert_array_equal(a.labels, b.labels)
    assert not np.array_equal(a.inputs, c.inputs)


def test_yinyang_split_seed_arithmetic():
    ds = load_yinyang(4, 3, 2, data_seed=100)
    for split, (n, seed) in zip(
        (ds.train, ds.valid, ds.test), ((4, 100), (3, 101), (2, 102)), strict=True
    ):
        ref = yinyang_split(n, seed)
        np.testing.assert_array_equal(split.inputs, ref.inputs)
        np.testing.assert_array_equal(split.labels, ref.labels)


def test_yinyang_leaves_global_rng_alone():
    state = np.random.get_state()  # noqa: NPY002 - checks the global RNG is untouched
    yinyang_split(5, 1)
    after = np.random.get_state()  # noqa: NPY002
    assert state[0] == after[0]
    np.testing.assert_array_equal(state[1], after[1])
    assert state[2:] == after[2:]


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"n_per_class": -1, "seed": 0}, "n_per_class"),
        ({"n_per_class": 1.5, "seed": 0}, "n_per_class"),
        ({"n_per_class": 1, "seed": -3}, "seed"),
        ({"n_per_class": 1, "seed": 2**32}, "seed"),
        ({"n_per_class": 1, "seed": 0, "r_small": 0.3}, "r_small"),
    ],
)
def test_yinyang_bad_arguments(kwargs, match):
    with pytest.raises(DatasetError, match=match):
        yinyang_split(**kwargs)


def test_load_yinyang_seed_overflow():
    with pytest.raises(DatasetError, match=r"data_seed \+ 2"):
        load_yinyang(1, 1, 1, data_seed=2**32 - 2)


# ---------------------------------------------------------------- bars


def test_bars_prototypes_order():
    hor, ver, diag = bars_prototypes()
    assert hor.shape == ver.shape == (3, 3, 3)
    assert diag.shape == (2, 3, 3)
    # the original's np.unique order: bottom row first
    np.testing.assert_array_equal(hor[0], [[0, 0, 0], [0, 0, 0], [1, 1, 1]])
    np.testing.assert_array_equal(hor[2], [[1, 1, 1], [0, 0, 0], [0, 0, 0]])
    np.testing.assert_array_equal(ver[0], [[0, 0, 1], [0, 0, 1], [0, 0, 1]])
    np.testing.assert_array_equal(diag[0], np.eye(3))
    np.testing.assert_array_equal(diag[1], np.eye(3)[::-1])


def test_bars_noise_free_cycles_prototypes():
    ds = load_bars(4, 2, 1, noise_level=0.0, seed=1)
    assert (ds.n_inputs, ds.n_classes, ds.name) == (9, 3, "bars")
    assert (ds.train.n_samples, ds.valid.n_samples, ds.test.n_samples) == (12, 6, 3)
    protos = [p.reshape(len(p), 9) for p in bars_prototypes()]
    for label, proto in enumerate(protos):
        rows = ds.train.inputs[ds.train.labels == label]
        assert len(rows) == 4
        # rows are the prototypes cycled in order: as a multiset
        want = sorted(map(tuple, proto[np.arange(4) % len(proto)]))
        assert sorted(map(tuple, rows.tolist())) == want


def test_bars_noise_and_clipping():
    ds = load_bars(30, 30, 30, noise_level=0.3, seed=5)
    for split in ds.splits().values():
        assert split.inputs.dtype == np.float32
        assert split.inputs.min() >= 0.0
        assert split.inputs.max() <= 1.0
        assert np.bincount(split.labels).tolist() == [30, 30, 30]
        protos = [p.reshape(len(p), 9) for p in bars_prototypes()]
        # each row is a prototype of its class: on pixels clipped to 1, off pixels U(0, 0.3)
        for row, label in zip(split.inputs, split.labels, strict=True):
            fits = [np.all(row[p > 0] == 1.0) and np.all(row[p == 0] <= 0.3) for p in protos[label]]
            assert sum(fits) == 1
    # shuffled: labels are not in class blocks
    assert not np.array_equal(ds.train.labels, np.sort(ds.train.labels))


def test_bars_seeding_independent_streams():
    a = load_bars(5, 5, 5, noise_level=0.1, seed=3)
    b = load_bars(5, 5, 5, noise_level=0.1, seed=3)
    c = load_bars(5, 5, 5, noise_level=0.1, seed=4)
    np.testing.assert_array_equal(a.train.inputs, b.train.inputs)
    np.testing.assert_array_equal(a.test.labels, b.test.labels)
    assert not np.array_equal(a.train.inputs, c.train.inputs)
    assert not np.array_equal(a.train.inputs, a.valid.inputs)


@pytest.mark.parametrize(
    ("noise", "seed", "match"),
    [(-0.1, 0, "noise_level"), (math.nan, 0, "noise_level"), (0.1, -1, "seed")],
)
def test_bars_bad_arguments(noise, seed, match):
    with pytest.raises(DatasetError, match=match):
        load_bars(1, 1, 1, noise_level=noise, seed=seed)


# ---------------------------------------------------------------- teacher


def test_encode_teacher():
    t = encode_teacher(np.array([1, 0, 2, 1]), 3)
    assert t.dtype == np.float32
    assert t.shape == (4, 3)
    np.testing.assert_array_equal(np.argmax(t, axis=1), [1, 0, 2, 1])
    np.testing.assert_array_equal(t[0], np.array([0.1, 1.0, 0.1], dtype=np.float32))
    t2 = encode_teacher(np.array([0]), 2, u_low=0.2, u_high=0.8)
    np.testing.assert_array_equal(t2, np.array([[0.8, 0.2]], dtype=np.float32))
    assert encode_teacher(np.array([], dtype=np.int64), 3).shape == (0, 3)


@pytest.mark.parametrize(
    ("labels", "n", "match"),
    [
        (np.array([0, 3]), 3, r"\[0, 3\)"),
        (np.array([-1]), 3, r"\[0, 3\)"),
        (np.array([[0]]), 3, "1-D"),
        (np.array([0.5]), 3, "integers"),
        (np.array([0]), 0, "at least 1"),
    ],
)
def test_encode_teacher_errors(labels, n, match):
    with pytest.raises(DatasetError, match=match):
        encode_teacher(labels, n)


# ---------------------------------------------------------------- registry


def test_registry():
    assert set(DATASETS) == {"yinyang", "mnist", "bars"}
    ds = load_dataset("yinyang", n_train=1, n_valid=1, n_test=1, data_seed=42)
    np.testing.assert_array_equal(ds.train.inputs, yinyang_split(1, 42).inputs)
    assert load_dataset("bars", n_train=1, n_valid=1, n_test=1, noise_level=0, seed=0).n_inputs == 9


def test_registry_unknown_name():
    with pytest.raises(DatasetError, match="unknown dataset 'cifar'.*bars, mnist, yinyang"):
        load_dataset("cifar", n_train=1)


def test_registry_bad_kwargs():
    with pytest.raises(DatasetError, match="dataset 'yinyang': bad arguments"):
        load_dataset("yinyang", n_train=1, n_valid=1, n_test=1, seed=3)

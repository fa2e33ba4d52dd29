from __future__ import annotations

import math
from pathlib import Path

import h5py
import numpy as np
import pytest
import yaml

from mc_analysis.metrics import rmse, windowed_angle
from mc_analysis.original import (
    OriginalConfigError,
    OriginalYAMLError,
    bookkeeping_from_config,
    load_original_config,
    read_original_run,
)

# A tiny original run: dims [4, 5, 3], 2 epochs, per class 2 training, 2 validation and 1 test
# samples (3 classes), 100 steps per sample, 5 records per sample (idx_rec = 20):
# validation 6 samples = 30 records per chunk, 3 chunks (n_epochs + 1); test 3 samples = 15
# records; training 6 samples = 30 records per epoch, 60 records of g.
DIMS = [4, 5, 3]
N_CLASS, N_TRAIN, N_VALID, N_TEST, N_EPOCHS, N_R = 3, 2, 2, 1, 2, 5
ULOW, UHIGH = 0.1, 1.0
# Samples classified right per validation chunk (of 6) and in the test (of 3).
VALID_CORRECT = [2, 4, 6]  # -> 33.3 %, 66.7 %, 100 %
TEST_CORRECT = 1  # -> 33.3 %
# Training: the angle between B and W^T is constant over blocks of 6 records.
ANGLE_BLOCK = 6
THETAS = 5.0 + 17.0 * np.arange(10)  # 10 blocks x 6 records = 60 records


def _records(rng, n_samples, n_correct):
    """Output v_brev and supervisor rates with n_correct of n_samples classified right.

    Record 0 of every sample is misleading: the output is huge on a wrong class and the
    teacher still shows another class; an evaluation that used record 0 would disagree.
    """
    labels = rng.integers(0, N_CLASS, size=n_samples)
    correct = np.zeros(n_samples, dtype=bool)
    correct[rng.permutation(n_samples)[:n_correct]] = True
    preds = np.where(correct, labels, (labels + 1) % N_CLASS)
    out = rng.uniform(0.0, 0.3, size=(n_samples * N_R, N_CLASS))
    sup = np.full((n_samples * N_R, N_CLASS), ULOW)
    for s in range(n_samples):
        first, rest = s * N_R, slice(s * N_R + 1, (s + 1) * N_R)
        out[rest, preds[s]] += 0.5
        out[first, (preds[s] + 2) % N_CLASS] = 50.0
        sup[rest, labels[s]] = UHIGH
        sup[first, (labels[s] + 1) % N_CLASS] = UHIGH
    return out.astype(np.float32), sup.astype(np.float32)


def _training_weights(rng):
    """ff.g of layer 2 (rows, 5*3) and fb.g of layer 1 (rows, 3*5) at angles THETAS."""
    n_pyr, n_next = DIMS[1], DIMS[2]
    ff, fb = [], []
    for theta in THETAS:
        W = rng.normal(size=(n_pyr, n_next))
        Wt = W.T
        Q = rng.normal(size=Wt.shape)
        Q -= np.sum(Q * Wt) / np.sum(Wt * Wt) * Wt
        t = math.radians(theta)
        B = math.cos(t) * Wt / np.linalg.norm(Wt) + math.sin(t) * Q / np.linalg.norm(Q)
        ff += [W.reshape(-1)] * ANGLE_BLOCK
        fb += [B.reshape(-1)] * ANGLE_BLOCK
    return np.array(ff, dtype=np.float32), np.array(fb, dtype=np.float32)


def _write(f, stage, layer, key, var, data):
    data = np.asarray(data, dtype=np.float32)
    f.create_dataset(
        f"{stage}/{layer}/{key}/{var}",
        data=data,
        chunks=(1, data.shape[1]),
        maxshape=(None, data.shape[1]),
    )


def _meta_net(run_dir):
    rng = np.random.default_rng(7)
    meta = {
        "backend": "SingleThreadedCPU",
        "dataset_key": "yinyang",
        "dt": 0.01,
        "name": "tiny",
        "numpy_seed": 123456,
        # the original dumps its data sets as numpy objects (python/object/apply tags)
        "input_rates": {s: rng.uniform(size=(4, 6)) for s in ("validation", "testing")},
        "output_rates": {"training": rng.uniform(size=(3, 6))},
        "evil": "plain",
        "shape": (4, 6),
        "record": {
            "filename": "/somewhere/else/tiny_2023-01-01_00-00-00/net_recordings.h5",
            "recordings": {2: {"output": ["v_brev", "rate"]}, 3: {"supervisor": ["rate"]}},
        },
        "sim_config": {
            "n_class": N_CLASS,
            "n_epochs": N_EPOCHS,
            "n_test": N_TEST,
            "n_train": N_TRAIN,
            "n_valid": N_VALID,
            "pat_t": 1.0,
            "recs_per_sample": N_R,
            "uhigh": UHIGH,
            "ulow": ULOW,
            # filled in by fill_out_config_template
            "idx_sample": 100,
            "idx_rec": 20,
            "idx_train": 600,
            "idx_valid": 600,
            "idx_test": 300,
            "idx_epoch": 1200,
        },
    }
    net = {"dims": DIMS, "t_pattern": 1.0, "le_active": 1}
    return meta, net


def _write_config(path, meta, net):
    text = yaml.dump([meta, net])  # default Dumper: numpy arrays become python object tags
    assert "!!python/object/apply:numpy" in text
    path.write_text(text)


@pytest.fixture
def run_dir(tmp_path):
    d = tmp_path / "tiny_2023-01-01_00-00-00"
    d.mkdir()
    meta, net = _meta_net(d)
    _write_config(d / "config.yaml", meta, net)

    rng = np.random.default_rng(3)
    val = [_records(rng, N_VALID * N_CLASS, k) for k in VALID_CORRECT]
    test = _records(rng, N_TEST * N_CLASS, TEST_CORRECT)
    train = _records(rng, N_TRAIN * N_CLASS * N_EPOCHS, 0)
    ff, fb = _training_weights(rng)
    with h5py.File(d / "net_recordings.h5", "w") as f:
        for stage, (out, sup) in (
            ("validation", tuple(np.concatenate(x) for x in zip(*val, strict=True))),
            ("testing", test),
            ("training", train),
        ):
            n = out.shape[0]
            _write(f, stage, 0, "input", "rate", rng.uniform(size=(n, 4)))
            _write(f, stage, 1, "pyramidal", "rate", rng.uniform(size=(n, 5)))
            _write(f, stage, 1, "inter", "rate", rng.uniform(size=(n, 3)))
            _write(f, stage, 2, "output", "v_brev", out)
            _write(f, stage, 2, "output", "rate", rng.uniform(size=(n, 3)))
            _write(f, stage, 3, "supervisor", "rate", sup)
            weights = stage == "training"
            for layer, key, g in ((1, "fb", fb), (2, "ff", ff), (1, "p2i", ff), (1, "i2p", -fb)):
                _write(f, stage, layer, key, "g", g if weights else np.zeros((0, 15)))
    return d


# ---------------------------------------------------------------------------------- config


def test_config_arrays_are_rebuilt_and_plain_data_kept(run_dir):
    meta, net = load_original_config(run_dir / "config.yaml")
    rng = np.random.default_rng(7)  # the draws of _meta_net
    want = {s: rng.uniform(size=(4, 6)) for s in ("validation", "testing")}
    for stage, arr in want.items():
        got = meta["input_rates"][stage]
        assert isinstance(got, np.ndarray) and got.dtype == np.float64
        assert got.shape == (4, 6) and np.array_equal(got, arr)
    assert np.array_equal(meta["output_rates"]["training"], rng.uniform(size=(3, 6)))
    assert meta["shape"] == (4, 6)  # plain-data python/tuple is kept
    assert meta["record"]["recordings"][2] == {"output": ["v_brev", "rate"]}
    assert net["dims"] == DIMS
    assert meta["sim_config"]["recs_per_sample"] == N_R


def test_config_other_python_tags_are_refused_not_executed(run_dir):
    path = run_dir / "config.yaml"
    pwned = run_dir / "pwned"
    text = path.read_text().replace(
        "evil: plain", f'evil: !!python/object/apply:os.system ["touch {pwned}"]'
    )
    path.write_text(text)
    with pytest.raises(
        OriginalYAMLError,
        match=r"config\.yaml: line \d+: refused python tag "
        r"'tag:yaml.org,2002:python/object/apply:os.system'",
    ):
        load_original_config(path)
    assert not pwned.exists()
    with pytest.raises(ValueError):  # OriginalYAMLError is a ValueError (CLI error path)
        read_original_run(run_dir)


def test_config_must_be_a_two_element_list(tmp_path):
    p = tmp_path / "config.yaml"
    p.write_text("a: 1\n")
    with pytest.raises(ValueError, match="meta_params, network_params"):
        load_original_config(p)


def test_bookkeeping(run_dir):
    bk = read_original_run(run_dir).bookkeeping
    assert (bk.idx_sample, bk.idx_rec, bk.idx_valid, bk.idx_test) == (100, 20, 600, 300)
    assert bk.records_per_sample == N_R
    assert (bk.validation_rows, bk.test_rows, bk.training_rows) == (30, 15, 30)


def test_bookkeeping_computed_from_template_keys_and_fallbacks():
    meta = {
        "dt": 0.01,
        "sim_config": {
            "recs_per_sample": 4,
            "n_train": 10,
            "n_valid": 3,
            "n_test": 2,
            "n_epochs": 1,
            "idx_rec": None,  # an unfilled template
        },
    }
    net = {"dims": [784, 100, 10], "t_pattern": 0.5}  # no pat_t, no n_class
    bk = bookkeeping_from_config(meta, net)
    # idx_sample = int(0.5 / 0.01) = 50; idx_rec = max(1, 50 // 4) = 12; n_class = dims[-1]
    assert (bk.pat_t, bk.n_class, bk.idx_sample, bk.idx_rec) == (0.5, 10, 50, 12)
    assert (bk.idx_train, bk.idx_valid, bk.idx_test) == (5000, 1500, 1000)
    with pytest.raises(ValueError, match="does not divide"):
        bk.records_per_sample  # noqa: B018


def test_missing_config_key_names_key_and_file(run_dir):
    text = (run_dir / "config.yaml").read_text().replace("recs_per_sample", "recs_per_smpl")
    (run_dir / "config.yaml").write_text(text)
    run = read_original_run(run_dir)
    with pytest.raises(OriginalConfigError) as info:
        run.validation_accuracy()
    msg = str(info.value)
    assert "'recs_per_sample'" in msg
    assert str(run_dir / "config.yaml") in msg
    assert isinstance(info.value, KeyError)


def test_non_numeric_config_value_is_reported():
    meta = {"dt": "fast", "sim_config": {}}
    with pytest.raises(OriginalConfigError, match=r"meta\.dt = 'fast'"):
        bookkeeping_from_config(meta, {}, "cfg.yaml")


# ------------------------------------------------------------------------------ recordings


def test_layout_and_layers(run_dir):
    run = read_original_run(run_dir)
    assert run.h5_path == run_dir / "net_recordings.h5"
    assert sorted(run.layout) == ["testing", "training", "validation"]
    assert run.layers("validation") == [0, 1, 2, 3]
    assert run.output_layer() == 2
    assert run.supervisor_layer() == 3
    assert run.shape("validation", 2, "output", "v_brev") == (90, 3)
    assert run.shape("validation", "1", "fb", "g") == (0, 15)
    assert run.dims() == DIMS


def test_dataset_reads_float32_rows(run_dir):
    run = read_original_run(run_dir)
    v = run.dataset("testing", 2, "output", "v_brev")
    assert v.shape == (15, 3)
    assert v.dtype == np.float32
    np.testing.assert_array_equal(
        run.dataset("testing", 2, "output", "v_brev", slice(5, 10)), v[5:10]
    )


@pytest.mark.parametrize(
    ("address", "listed"),
    [
        (("bogus", 2, "output", "v_brev"), "training"),
        (("validation", 7, "output", "v_brev"), "[0, 1, 2, 3]"),
        (("validation", 2, "outptu", "v_brev"), "output: ['rate', 'v_brev']"),
        (("validation", 2, "output", "V"), "['rate', 'v_brev']"),
    ],
)
def test_dataset_key_error_lists_what_exists(run_dir, address, listed):
    run = read_original_run(run_dir)
    with pytest.raises(KeyError) as info:
        run.dataset(*address)
    assert listed in str(info.value)


def test_validation_and_test_accuracy(run_dir):
    run = read_original_run(run_dir)
    acc = run.validation_accuracy()
    assert acc.shape == (N_EPOCHS + 1,)
    np.testing.assert_allclose(acc, [100.0 * k / 6 for k in VALID_CORRECT], rtol=1e-15)
    assert run.test_accuracy() == pytest.approx(100.0 / 3.0, rel=1e-15)


def test_validation_rmse_per_chunk(run_dir):
    run = read_original_run(run_dir)
    out = run.dataset("validation", 2, "output", "v_brev")
    sup = run.dataset("validation", 3, "supervisor", "rate")
    expected = [rmse(out[i * 30 : (i + 1) * 30], sup[i * 30 : (i + 1) * 30]) for i in range(3)]
    np.testing.assert_array_equal(run.validation_rmse(), expected)


def test_interrupted_run_scores_complete_chunks_only(run_dir, caplog):
    with h5py.File(run_dir / "net_recordings.h5", "a") as f:
        for path in ("validation/2/output/v_brev", "validation/3/supervisor/rate"):
            f[path].resize(40, axis=0)  # 1 complete chunk + 10 records
    acc = read_original_run(run_dir).validation_accuracy()
    np.testing.assert_allclose(acc, [100.0 * VALID_CORRECT[0] / 6])
    assert "expected n_epochs + 1 = 3 chunks" in caplog.text


def test_angles(run_dir):
    run = read_original_run(run_dir)
    # 60 records x 15 weights = 900 <= 1e5: one angle per record
    angles, ws = run.angles(1)
    assert ws == 1
    np.testing.assert_allclose(angles, np.repeat(THETAS, ANGLE_BLOCK), atol=1e-4)
    # ws = ceil(60 / (150 / 15)) = 6: one angle per block (float32 records, float64 means)
    angles, ws = run.angles(1, max_elements=150)
    assert ws == ANGLE_BLOCK
    np.testing.assert_allclose(angles, THETAS, atol=1e-4)


def test_angles_match_windowed_angle_on_the_arrays(run_dir):
    run = read_original_run(run_dir)
    W = run.dataset("training", 2, "ff", "g").reshape(-1, 5, 3)
    B = run.dataset("training", 1, "fb", "g").reshape(-1, 3, 5)
    ref, ref_ws = windowed_angle(W, B, max_elements=150)
    for block_elements in (1 << 24, 15 * 6 * 2, 15 * 6 + 1):  # windows fit in a block
        got, ws = run._angles(1, 150, block_elements)
        assert ws == ref_ws
        np.testing.assert_array_equal(got, ref)
    got, ws = run._angles(1, 150, 15 * 4)  # a window spans several blocks: summed in float64
    np.testing.assert_allclose(got, ref, rtol=1e-12)


def test_angles_need_a_layer_above(run_dir):
    run = read_original_run(run_dir)
    with pytest.raises(ValueError, match="no layer above"):
        run.angles(2)


def test_no_h5_handle_left_open(run_dir):
    run = read_original_run(run_dir)
    run.validation_accuracy()
    run.test_accuracy()
    run.angles(1)
    run.dataset("validation", 2, "output", "v_brev")
    # HDF5 refuses to reopen a file for writing that this process still holds open read-only
    with h5py.File(run.h5_path, "a") as f:
        f.attrs["touched"] = 1


def test_recordings_found_by_stored_name_or_missing(run_dir):
    (run_dir / "net_recordings.h5").rename(run_dir / "net_recording.h5")
    assert read_original_run(run_dir).h5_path == run_dir / "net_recording.h5"
    (run_dir / "net_recording.h5").unlink()
    with pytest.raises(FileNotFoundError, match="net_recordings.h5"):
        read_original_run(run_dir)
    with pytest.raises(FileNotFoundError, match="config.yaml"):
        read_original_run(Path(run_dir) / "nope")

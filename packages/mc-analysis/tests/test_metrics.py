from __future__ import annotations

import math
import warnings

import numpy as np
import pytest

from mc_analysis.metrics import (
    accuracy,
    alignment_angle,
    angle_window,
    labels_from_teacher,
    mae,
    per_class_counts,
    predictions,
    rate_mismatch,
    rmse,
    sample_view,
    self_prediction_errors,
    window_means,
    windowed_angle,
)

# ----------------------------------------------------------------------------- samples


def test_sample_view_groups_consecutive_records():
    x = np.arange(20.0).reshape(10, 2)
    v = sample_view(x, 5)
    assert v.shape == (2, 5, 2)
    np.testing.assert_array_equal(v[1, 0], [10.0, 11.0])
    assert np.shares_memory(v, x)


@pytest.mark.parametrize(("rows", "n_r"), [(7, 5), (4, 3)])
def test_sample_view_rejects_partial_samples(rows, n_r):
    with pytest.raises(ValueError, match="not a whole number of samples"):
        sample_view(np.zeros((rows, 3)), n_r)


def test_sample_view_rejects_bad_arguments():
    with pytest.raises(ValueError, match="2-D"):
        sample_view(np.zeros(10), 5)
    with pytest.raises(ValueError, match="positive integer"):
        sample_view(np.zeros((10, 2)), 0)


# ---------------------------------------------------------------------------- accuracy

# 4 samples x 5 records, 3 classes. True classes 0, 1, 2, 1; the output favours 0, 1, 0, 1 in
# records 1..4 (samples 0, 1, 3 right, sample 2 wrong): accuracy 3/4 = 75 %.
# Record 0 of every sample is misleading in both signals:
# * the output has a huge value (100) on class (pred + 1) % 3 there, so including record 0
#   would move every prediction to (pred + 1) % 3 = 1, 2, 1, 2 (1 of 4 right: 25 %);
# * the teacher still shows the previous sample's class there (sample 0: class 2), so a max
#   over all 5 records would tie uhigh between two classes and argmax would pick the lower:
#   labels 0, 0, 1, 1 (instead of 0, 1, 2, 1).
LABELS = np.array([0, 1, 2, 1])
PREDS = np.array([0, 1, 0, 1])
PREV = np.array([2, 0, 1, 2])
N_R = 5
ULOW, UHIGH = 0.1, 1.0


def _constructed_recording():
    out = np.zeros((4 * N_R, 3), dtype=np.float32)
    sup = np.full((4 * N_R, 3), ULOW, dtype=np.float32)
    for s in range(4):
        rows = slice(s * N_R, (s + 1) * N_R)
        out[rows] = 0.2
        out[s * N_R + 1 : (s + 1) * N_R, PREDS[s]] = 0.9
        out[s * N_R, (PREDS[s] + 1) % 3] = 100.0
        sup[s * N_R + 1 : (s + 1) * N_R, LABELS[s]] = UHIGH
        sup[s * N_R, PREV[s]] = UHIGH
    return out, sup


def test_predictions_and_labels_drop_the_first_record():
    out, sup = _constructed_recording()
    np.testing.assert_array_equal(predictions(out, N_R), PREDS)
    np.testing.assert_array_equal(labels_from_teacher(sup, N_R), LABELS)
    # sanity check of the construction: with record 0 included the answers would differ
    assert np.argmax(out[:N_R].mean(axis=0)) == 1
    assert np.argmax(sup[2 * N_R : 3 * N_R].max(axis=0)) == 1


def test_accuracy_of_constructed_recording():
    out, sup = _constructed_recording()
    assert accuracy(out, sup, N_R) == 75.0
    assert isinstance(accuracy(out, sup, N_R), float)


def test_single_record_per_sample_uses_that_record():
    out = np.array([[0.0, 1.0], [1.0, 0.0], [0.3, 0.2]])
    sup = np.array([[0.1, 1.0], [0.1, 1.0], [1.0, 0.1]])
    np.testing.assert_array_equal(predictions(out, 1), [1, 0, 0])
    np.testing.assert_array_equal(labels_from_teacher(sup, 1), [1, 1, 0])
    assert accuracy(out, sup, 1) == pytest.approx(200.0 / 3.0)


def test_accuracy_shape_mismatch():
    with pytest.raises(ValueError, match="shape"):
        accuracy(np.zeros((10, 3)), np.zeros((10, 2)), 5)


def test_per_class_counts():
    c = per_class_counts(PREDS, LABELS, 3)
    expected = np.array([[1, 0, 0], [0, 2, 0], [1, 0, 0]])
    np.testing.assert_array_equal(c, expected)
    assert c.dtype == np.int64
    assert 100.0 * np.trace(c) / c.sum() == 75.0
    with pytest.raises(ValueError, match="outside"):
        per_class_counts(np.array([0, 3]), np.array([0, 1]), 3)


# ------------------------------------------------------------------------------ errors


def test_rmse_and_mae_by_hand():
    v = np.array([[1.0, 2.0], [3.0, 4.0]])
    r = np.array([[0.0, 2.0], [5.0, 4.0]])
    # differences 1, 0, -2, 0: squares 1, 0, 4, 0 -> mean 5/4; |d| -> mean 3/4
    assert rmse(v, r) == pytest.approx(math.sqrt(1.25), rel=1e-15)
    assert mae(v, r) == 0.75


def test_errors_are_float64_on_float32_input():
    v = np.array([[1.0 + 2.0**-20]], dtype=np.float32)
    r = np.array([[1.0]], dtype=np.float32)
    assert mae(v, r) == 2.0**-20
    assert rmse(v, r) == 2.0**-20
    with pytest.raises(ValueError, match="shape"):
        rmse(np.zeros((2, 2)), np.zeros((2, 3)))


# ------------------------------------------------------------------------------ angles


def test_angle_zero_when_feedback_is_forward_transposed():
    rng = np.random.default_rng(0)
    W = rng.normal(size=(5, 3))
    assert alignment_angle(W, W.T) == pytest.approx(0.0, abs=1e-6)
    # scale-invariant, and the clipped cosine never yields nan
    assert alignment_angle(3.0 * W, 0.5 * W.T) == pytest.approx(0.0, abs=1e-6)


def test_angle_180_when_feedback_is_negative_transpose():
    W = np.array([[1.0, -2.0, 0.5], [0.0, 3.0, 1.0]])
    assert alignment_angle(W, -W.T) == pytest.approx(180.0, abs=1e-6)


def test_angle_90_for_orthogonal_matrices():
    W = np.array([[1.0, 0.0], [0.0, 0.0]])
    Bt = np.array([[0.0, 1.0], [0.0, 0.0]])
    assert alignment_angle(W, Bt.T) == 90.0


def test_angle_compares_w_with_b_transposed_not_b():
    # W = [[0, 1], [0, 0]]; B = W (not transposed) -> B^T = [[0, 0], [1, 0]] has no overlap
    # with W: tr(W^T B^T) = sum_ij W_ij B_ji = W_01 B_10 = 1 * 0 = 0 -> 90 degrees.
    W = np.array([[0.0, 1.0], [0.0, 0.0]])
    assert alignment_angle(W, W) == 90.0
    assert alignment_angle(W, W.T) == 0.0


def test_oblique_angles_by_hand():
    # 45 degrees: W = [[1], [1]] (n_lower 2, n_upper 1), B = [[1, 0]] so B^T = [[1], [0]].
    # tr(W^T B^T) = 1*1 + 1*0 = 1; |W|_F = sqrt(2); |B|_F = 1; cos = 1/sqrt(2) -> 45 degrees.
    assert alignment_angle(np.array([[1.0], [1.0]]), np.array([[1.0, 0.0]])) == pytest.approx(45.0)
    # 60 degrees: W = [[2, 0], [0, 0]], B = B^T = [[1, 0], [0, sqrt(3)]].
    # tr(W^T B^T) = 2*1 = 2; |W|_F = 2; |B|_F = sqrt(1 + 3) = 2; cos = 2/4 = 1/2 -> 60 degrees.
    W = np.array([[2.0, 0.0], [0.0, 0.0]])
    B = np.array([[1.0, 0.0], [0.0, math.sqrt(3.0)]])
    assert alignment_angle(W, B) == pytest.approx(60.0)


def test_angle_over_records_axis():
    W = np.array([[[1.0], [1.0]], [[1.0], [0.0]], [[0.0], [2.0]]])  # (3, 2, 1)
    B = np.array([[[1.0, 0.0]], [[1.0, 0.0]], [[-1.0, 0.0]]])  # (3, 1, 2)
    angles = alignment_angle(W, B)
    assert angles.shape == (3,)
    np.testing.assert_allclose(angles, [45.0, 0.0, 90.0], atol=1e-12)


def test_angle_of_zero_matrix_is_nan_without_warning():
    W = np.zeros((2, 3))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert math.isnan(alignment_angle(W, np.ones((3, 2))))
        both = alignment_angle(np.stack([W, np.ones((2, 3))]), np.ones((2, 3, 2)))
    assert math.isnan(both[0])
    assert both[1] == pytest.approx(0.0, abs=1e-6)


@pytest.mark.parametrize(
    ("w_shape", "b_shape"),
    [((2, 3), (2, 3)), ((2, 3), (3, 3)), ((4, 2, 3), (5, 3, 2)), ((3,), (3,)), ((2, 3), (1, 3, 2))],
)
def test_angle_shape_mismatch_names_shapes(w_shape, b_shape):
    with pytest.raises(ValueError, match=r"got W \("):
        alignment_angle(np.ones(w_shape), np.ones(b_shape))


# ----------------------------------------------------------------------- windowed angle


def test_angle_window_for_the_original_runs():
    # Yin-Yang: 12 000 000 training records x 90 weights (30 x 3):
    # 1e5 / 90 = 1111.1 records fit; ws = ceil(12e6 / 1111.1) = ceil(10 800.0) = 10 800;
    # n_w = 12e6 // 10 800 = 1111 (about 2.78 per 600 000-step epoch of 30 000 records).
    assert angle_window(12_000_000, 90) == (10_800, 1111)
    # MNIST: 25 M x 1000 -> ws = ceil(25e6 / 100) = 250 000, n_w = 100 (one per epoch).
    assert angle_window(25_000_000, 1000) == (250_000, 100)


def test_angle_window_small_cases():
    assert angle_window(100, 10) == (1, 100)  # 1000 elements <= 1e5: no windows
    assert angle_window(10_000, 10) == (1, 10_000)  # exactly 1e5: still none
    assert angle_window(10_001, 10) == (2, 5000)  # ceil(10001 / 1e4) = 2, last row dropped
    assert angle_window(60, 15, max_elements=150) == (6, 10)
    assert angle_window(65, 15, max_elements=150) == (7, 9)  # 63 used, 2 dropped
    assert angle_window(0, 15) == (1, 0)


def test_window_means():
    x = np.arange(14, dtype=np.float32).reshape(7, 2)
    m = window_means(x, 3, 2)
    assert m.dtype == np.float64
    np.testing.assert_array_equal(m, [[2.0, 3.0], [8.0, 9.0]])
    with pytest.raises(ValueError, match="rows"):
        window_means(x, 4, 2)


def _rotated_feedback(W, theta_deg, rng):
    """B (n_upper, n_lower) at exactly theta degrees from W^T."""
    Wt = W.T
    Q = rng.normal(size=Wt.shape)
    Q -= np.sum(Q * Wt) / np.sum(Wt * Wt) * Wt
    t = math.radians(theta_deg)
    return math.cos(t) * Wt / np.linalg.norm(Wt) + math.sin(t) * Q / np.linalg.norm(Q)


def test_windowed_angle_averages_windows_and_drops_trailing_rows():
    rng = np.random.default_rng(1)
    n_lower, n_upper, ws, n_w = 5, 3, 7, 9
    thetas = 10.0 + 17.0 * np.arange(n_w)
    W_rows, B_rows = [], []
    for theta in thetas:  # constant within each window, so the window means are exact
        W = rng.normal(size=(n_lower, n_upper))
        B = rng.uniform(0.5, 2.0) * _rotated_feedback(W, theta, rng)
        W_rows += [W] * ws
        B_rows += [B] * ws
    W_rows += [np.ones((n_lower, n_upper))] * 2  # trailing rows that must be dropped
    B_rows += [-np.ones((n_upper, n_lower))] * 2
    W_rows, B_rows = np.array(W_rows), np.array(B_rows)
    assert W_rows.shape == (65, 5, 3)

    angles, window = windowed_angle(W_rows, B_rows, max_elements=150)
    assert window == ws
    np.testing.assert_allclose(angles, thetas, atol=1e-9)

    full, one = windowed_angle(W_rows, B_rows)  # 65 * 15 elements: no downsampling
    assert one == 1
    assert full.shape == (65,)
    np.testing.assert_allclose(full[:63], np.repeat(thetas, ws), atol=1e-9)
    np.testing.assert_allclose(full[63:], 180.0, atol=1e-6)


def test_windowed_angle_shape_check():
    with pytest.raises(ValueError, match="rows, n_upper, n_lower"):
        windowed_angle(np.ones((4, 5, 3)), np.ones((4, 5, 3)))


# --------------------------------------------------------------------- self-prediction


def test_self_prediction_errors_by_hand():
    w_up = np.array([[1.0, 2.0], [3.0, 4.0]])
    w_p2i = np.array([[1.0, 2.0], [3.0, 3.5]])  # |diff| = 0, 0, 0, 0.5
    b = np.array([[1.0, -1.0]])
    w_i2p = np.array([[-1.0, 0.5]])  # |b + i2p| = 0, 0.5
    e = self_prediction_errors(w_up, w_p2i, b, w_i2p)
    assert e == {
        "ff_p2i_mean_abs": 0.125,
        "ff_p2i_max_abs": 0.5,
        "fb_i2p_mean_abs": 0.25,
        "fb_i2p_max_abs": 0.5,
    }
    with pytest.raises(ValueError, match="w_up"):
        self_prediction_errors(w_up, w_p2i[:1], b, w_i2p)


def test_rate_mismatch():
    d = rate_mismatch(np.array([[0.5, 0.25]], dtype=np.float32), np.array([[0.25, 0.5]]))
    np.testing.assert_array_equal(d, [[0.25, -0.25]])
    assert d.dtype == np.float64
    with pytest.raises(ValueError, match="r_upper"):
        rate_mismatch(np.zeros(2), np.zeros(3))

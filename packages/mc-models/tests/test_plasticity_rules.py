"""Hand-computed plasticity steps on a 2x3 example (2 presynaptic, 3 postsynaptic)."""

import numpy as np

from mc_models.synapses import (
    delta_rule_step,
    feedback,
    forward,
    inter_to_pyr,
    presyn_sum,
    pyr_to_inter,
)

DT, ETA, H = 0.1, 2.0, 0.5  # dt * eta = 0.2; h = dt / tau_w with tau_w = 0.2


def arr(x):
    return np.array([x], dtype=np.float64)


PRE = {"rate": arr([1.0, 0.5]), "rate_last": arr([0.4, 0.2]), "rate_highpass": arr([0.1, -0.2])}
POST = {
    "rate": arr([0.5, 0.6, 0.7]),
    "rate_basal": arr([0.25, 0.6, 0.9]),
    "rate_dendrite": arr([0.5, 0.1, 0.7]),
    "v_apical": arr([1.0, -2.0, 0.0]),
    "noise": arr([0.3, 0.0, -0.1]),
}
G0 = np.array([[[0.1, 0.2, 0.3], [-0.1, 0.0, 0.5]]])


def test_forward_rule_two_steps_with_delta_lag():
    g, d = G0.copy(), np.zeros_like(G0)
    # target[i, j] = dt*eta*(r_j - rB_j) * r_last_i; errors 0.25, 0, -0.2
    t = np.array(
        [[[0.2 * 0.25 * 0.4, 0.0, 0.2 * -0.2 * 0.4], [0.2 * 0.25 * 0.2, 0.0, 0.2 * -0.2 * 0.2]]]
    )
    np.testing.assert_allclose(forward.target(DT * ETA, PRE, POST), t, rtol=1e-12)
    assert t[0, 0, 0] == 0.02000000000000001 or abs(t[0, 0, 0] - 0.02) < 1e-15
    delta_rule_step(g, d, t, H)
    np.testing.assert_array_equal(g, G0)  # step 1: g takes the old delta (0)
    np.testing.assert_allclose(d, 0.5 * t)
    delta_rule_step(g, d, t, H)  # same target again
    np.testing.assert_allclose(g, G0 + 0.5 * t)  # step 2: g moves by the delta of step 1
    np.testing.assert_allclose(d, 0.5 * t + 0.5 * (t - 0.5 * t))  # = 0.75 t


def test_pyr_to_inter_target():
    # errors r - r_dendrite: 0, 0.5, 0
    t = pyr_to_inter.target(DT * ETA, PRE, POST)
    np.testing.assert_allclose(t[0, :, 1], [0.2 * 0.5 * 0.4, 0.2 * 0.5 * 0.2])
    np.testing.assert_array_equal(t[0, :, [0, 2]], 0.0)


def test_inter_to_pyr_target_silences_apical():
    t = inter_to_pyr.target(DT * ETA, PRE, POST)
    expect = 0.2 * (-np.array([1.0, -2.0, 0.0])[None, :] * np.array([0.4, 0.2])[:, None])
    np.testing.assert_allclose(t[0], expect)
    assert t[0, 0, 0] < 0 and t[0, 0, 1] > 0  # drives g to cancel a positive apical potential


def test_pal_rule_two_steps():
    alpha = 0.5
    g = G0.copy()
    feedback.numpy_update(g, DT * ETA, alpha, PRE, POST)
    # g_ij += 0.2 * (noise_j * rhp_i - 0.5 g_ij)
    e1 = G0 + 0.2 * (np.outer([0.1, -0.2], [0.3, 0.0, -0.1])[None] - 0.5 * G0)
    np.testing.assert_allclose(g, e1)
    assert abs(g[0, 0, 0] - (0.1 + 0.2 * (0.03 - 0.05))) < 1e-15  # 0.096
    feedback.numpy_update(g, DT * ETA, alpha, PRE, POST)
    e2 = e1 + 0.2 * (np.outer([0.1, -0.2], [0.3, 0.0, -0.1])[None] - 0.5 * e1)
    np.testing.assert_allclose(g, e2)


def test_presyn_sum_is_sequential_float32():
    rng = np.random.default_rng(0)
    g = rng.standard_normal((2, 50, 7)).astype(np.float32)
    x = rng.random((2, 50)).astype(np.float32)
    got = presyn_sum(g, x)
    acc = np.zeros((2, 7), np.float32)
    for i in range(50):
        acc = acc + g[:, i, :] * x[:, i, None]
    np.testing.assert_array_equal(got, acc)
    assert got.dtype == np.float32

"""Hand-computed plasticity steps on a 2x3 example (2 presynaptic, 3 postsynaptic).

Each rule runs through its NumPy rendering (float64 here), as the reference backend runs it.
"""

import numpy as np

from mc_models.render.numpy import presyn_sum, synapse_step
from mc_models.synapses import feedback, forward, inter_to_pyr, pyr_to_inter

DT, ETA, H = 0.1, 2.0, 0.5  # dt * eta = 0.2; h = dt / tau_w with tau_w = 0.2
ON = {"learning": True}


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


def _delta_rule(module):
    step = synapse_step(
        module.MODEL, module.MODEL.resolve({"eta": ETA, "tau": DT / H}, DT, np.float64)
    )
    return step, {"g": G0.copy(), "delta": np.zeros_like(G0)}


def test_forward_rule_two_steps_with_delta_lag():
    step, w = _delta_rule(forward)
    # target[i, j] = dt*eta*(r_j - rB_j) * r_last_i; errors 0.25, 0, -0.2
    t = np.array(
        [[[0.2 * 0.25 * 0.4, 0.0, 0.2 * -0.2 * 0.4], [0.2 * 0.25 * 0.2, 0.0, 0.2 * -0.2 * 0.2]]]
    )
    step.update(w, PRE, POST, ON)
    np.testing.assert_array_equal(w["g"], G0)  # step 1: g takes the old delta (0)
    np.testing.assert_allclose(w["delta"], 0.5 * t, rtol=1e-12)
    step.update(w, PRE, POST, ON)  # same target again
    np.testing.assert_allclose(w["g"], G0 + 0.5 * t)  # step 2: g moves by the delta of step 1
    np.testing.assert_allclose(w["delta"], 0.5 * t + 0.5 * (t - 0.5 * t))  # = 0.75 t
    # learning off: nothing moves
    before = {k: v.copy() for k, v in w.items()}
    step.update(w, PRE, POST, {"learning": False})
    for k in w:
        np.testing.assert_array_equal(w[k], before[k])


def test_pyr_to_inter_target():
    # errors r - r_dendrite: 0, 0.5, 0
    step, w = _delta_rule(pyr_to_inter)
    step.update(w, PRE, POST, ON)
    t = w["delta"] / H
    np.testing.assert_allclose(t[0, :, 1], [0.2 * 0.5 * 0.4, 0.2 * 0.5 * 0.2])
    np.testing.assert_array_equal(t[0, :, [0, 2]], 0.0)


def test_inter_to_pyr_target_silences_apical():
    step, w = _delta_rule(inter_to_pyr)
    step.update(w, PRE, POST, ON)
    t = w["delta"] / H
    expect = 0.2 * (-np.array([1.0, -2.0, 0.0])[None, :] * np.array([0.4, 0.2])[:, None])
    np.testing.assert_allclose(t[0], expect)
    assert t[0, 0, 0] < 0 and t[0, 0, 1] > 0  # drives g to cancel a positive apical potential


def test_pal_rule_two_steps():
    alpha = 0.5
    params = feedback.MODEL.resolve({"eta": ETA, "alpha": alpha}, DT, np.float64)
    step, w = synapse_step(feedback.MODEL, params), {"g": G0.copy()}
    step.update(w, PRE, POST, ON)
    # g_ij += 0.2 * (noise_j * rhp_i - 0.5 g_ij)
    e1 = G0 + 0.2 * (np.outer([0.1, -0.2], [0.3, 0.0, -0.1])[None] - 0.5 * G0)
    np.testing.assert_allclose(w["g"], e1)
    assert abs(w["g"][0, 0, 0] - (0.1 + 0.2 * (0.03 - 0.05))) < 1e-15  # 0.096
    step.update(w, PRE, POST, ON)
    e2 = e1 + 0.2 * (np.outer([0.1, -0.2], [0.3, 0.0, -0.1])[None] - 0.5 * e1)
    np.testing.assert_allclose(w["g"], e2)
    # the output: I_down += B r_pre, summed over the presynaptic neurons
    np.testing.assert_allclose(step.input_sum(w, PRE, POST, ON), presyn_sum(w["g"], PRE["rate"]))


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

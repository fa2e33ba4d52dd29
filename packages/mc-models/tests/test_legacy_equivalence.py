"""The rendered NumPy steps equal the hand-written ones they replace, bit for bit.

(Temporary: goes with the hand-written steps once every backend renders the declarations.)
"""

import numpy as np
import pytest

from mc_models import get_activation
from mc_models.neurons import bias, interneuron, output, pyramidal, rate_player
from mc_models.render.numpy import neuron_step, presyn_sum, synapse_step
from mc_models.synapses import delta_rule_step, feedback, forward, inter_to_pyr, pyr_to_inter

B, N = 3, 7
PAPER = {"g_leak": 0.03, "g_basal": 0.1, "g_apical": 0.06, "sigma_noise": 0.01}


class StageData:
    def __init__(self, rates, order):
        self.rates, self.order = rates, order

    def sample(self, index):
        b = np.arange(self.order.shape[0])
        idx = np.broadcast_to(np.asarray(index), (b.size, 1))[:, 0]
        return self.rates[b % self.rates.shape[0], self.order[b, idx]]


def _run(old_model, new_model, values, hand_step, inputs, switches=None, steps=5, seed=0):
    rng = np.random.default_rng(seed)
    p_old = old_model.resolve(values, 0.01)
    p_new = new_model.MODEL.resolve({k: v for k, v in values.items() if k != "teaching"}, 0.01)
    state = {k: rng.normal(0, 3, (B, N)).astype(np.float32) for k in old_model.var_names}
    mine = {k: v.copy() for k, v in state.items()}
    step = neuron_step(new_model.MODEL, getattr(hand_step, "act", None), p_new)
    for k in range(steps):
        x = {i: rng.normal(0, 3, (B, N)).astype(np.float32) for i in inputs}
        xi = rng.standard_normal((B, N)).astype(np.float32)
        teach = k % 2 == 0
        hand_step(state, x, xi, p_old, teach)
        step(mine, x, {"teaching": teach} if switches else {}, [xi])
        for v in state:
            np.testing.assert_array_equal(mine[v], state[v], err_msg=f"{new_model} {v} {k}")


@pytest.mark.parametrize("le", [1.0, 0.0])
@pytest.mark.parametrize("name", ["sigmoid", "soft_relu", "sigmoid_stable"])
def test_somatic_neurons(name, le):
    act = get_activation(name)
    common = {"le_active": le, "threshold": 2.0}

    def pyr(s, x, xi, p, teach):
        pyramidal.numpy_step(s, x["Isyn_up"], x["Isyn_down"], x["Isyn_inter"], xi, p, act)

    def inter(s, x, xi, p, teach):
        interneuron.numpy_step(s, x["Isyn_pyramidal"], x["Isyn_down"], p, act)

    def out(s, x, xi, p, teach):
        output.numpy_step(s, x["Isyn_up"], x["Isyn_target"], p, act, teach)

    for f in (pyr, inter, out):
        f.act = act
    _run(pyramidal.model(act), pyramidal, {**PAPER, **common}, pyr, pyramidal.INPUTS)
    _run(interneuron.model(act), interneuron, common, inter, interneuron.MODEL.inputs)
    _run(output.model(act), output, common, out, output.MODEL.inputs, switches=True)


@pytest.mark.parametrize("mute", [0.0, 0.2])
def test_rate_player_and_bias(mute):
    rng = np.random.default_rng(3)
    rates = rng.uniform(size=(1, 5, 4)).astype(np.float32)
    order = np.stack([rng.permutation(5) for _ in range(3)])
    values = {"period": 1.0, "tau": 0.03, "mute_time": mute, "base_rate": 0.1}
    p_old, p_new = (
        rate_player.model().resolve(values, 0.01),
        rate_player.MODEL.resolve(values, 0.01),
    )
    old = rate_player.model().initial_state((3, 4), np.float32)
    for c in ("index", "step_counter"):
        old[c] = np.zeros((3, 1), np.int32)
    new = rate_player.MODEL.initial_state((3, 4), np.float32, p_new)
    rate_player.numpy_reset(old, rates[0, order[:, 0]])
    step, data = neuron_step(rate_player.MODEL, None, p_new), StageData(rates, order)
    step.stage_start(new, data)
    for k in range(500):
        for v in old:
            np.testing.assert_array_equal(new[v], old[v], err_msg=f"{v} {k}")
            assert new[v].dtype == old[v].dtype
        rate_player.numpy_step(old, rates, order, p_old)
        step(new, {}, {}, (), data)
    pb = bias.MODEL.resolve({"value": 0.7}, 0.01)
    sb = bias.MODEL.initial_state((2, 1), np.float32, pb)
    neuron_step(bias.MODEL, None, pb)(sb, {})
    assert np.all(sb["rate"] == np.float32(0.7)) and np.all(sb["rate_last"] == np.float32(0.7))


@pytest.mark.parametrize("module", [forward, pyr_to_inter, inter_to_pyr, feedback])
def test_synapse_rules(module):
    rng = np.random.default_rng(1)

    def f(*shape):
        return rng.normal(size=shape).astype(np.float32)

    vals = {"eta": 0.37, "alpha": 0.2} if module is feedback else {"eta": 0.37, "tau": 0.3}
    p = module.MODEL.resolve(vals, 0.01)
    g, d = f(B, 5, 4), f(B, 5, 4)
    w = {"g": g.copy(), "delta": d.copy()}
    if module is feedback:
        del w["delta"]
    st = synapse_step(module.MODEL, p)
    for _ in range(5):
        pre = {"rate": f(B, 5), "rate_last": f(B, 5), "rate_highpass": f(B, 5)}
        post = {k: f(B, 4) for k in ("rate", "rate_basal", "rate_dendrite", "v_apical", "noise")}
        dt_eta = p.dt * p.eta
        if module is feedback:
            feedback.numpy_update(g, dt_eta, p.alpha, pre, post)
        else:
            delta_rule_step(g, d, module.target(dt_eta, pre, post), p.h)
        st.update(w, pre, post, {"learning": True})
        np.testing.assert_array_equal(
            st.input_sum(w, pre, post, {"learning": True}), presyn_sum(g, pre["rate"])
        )
        np.testing.assert_array_equal(w["g"], g)
        if "delta" in w:
            np.testing.assert_array_equal(w["delta"], d)

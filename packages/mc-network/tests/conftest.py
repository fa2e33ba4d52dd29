import numpy as np
import pytest

from mc_network import available_backends


def stage_data(n_samples, n_in, n_out, seed=0):
    """Random input rates and a one-hot teacher (u_low 0.1, u_high 1.0)."""
    rng = np.random.default_rng(seed)
    x = rng.uniform(0, 1, size=(n_samples, n_in)).astype(np.float32)
    labels = rng.integers(0, n_out, size=n_samples)
    t = np.full((n_samples, n_out), 0.1, np.float32)
    t[np.arange(n_samples), labels] = 1.0
    return x, t


@pytest.fixture
def data():
    return stage_data


BACKENDS = [name for name, why in available_backends().items() if why is None and name != "genn"]


@pytest.fixture(params=BACKENDS)
def backend(request):
    return request.param


def check_bias_first_steps(net, x, t, value):
    """The bias neuron starts at its value: the bias synapses read it already at step 0.

    Hand-computed first step (learning off, so the weights stay): the pyramidal's basal input
    is the forward sum of the first sample plus the bias weight times the value, collected
    into a zeroed input in projection order; the interneuron's dendrite (the pyramidal rates
    are still 0) gets only the bias term.
    """
    f32 = np.float32
    state = net.get_state()["neurons"]["bias"]
    assert state["rate"].tolist() == state["rate_last"].tolist() == [[f32(value)]]
    plan_vars = ("bias.rate", "bias.rate_last", "pyramidal_1.v_basal", "inter_1.v_dendrite")
    from mc_network import RecordPlan

    rec = net.run_stage(x, t, learning=False, teaching=False, record=RecordPlan(plan_vars))
    w = net.get_weights()
    b = np.full((1, 1), value, f32)
    ff = (w["ff_1"][0] * x[0][:, None]).astype(f32)
    ff_sum = f32(0)
    for row in ff:  # ascending presynaptic order from zero
        ff_sum = ff_sum + row
    bias_pyr = (w["bias_pyr_1"][0] * b)[0]
    np.testing.assert_array_equal(rec["pyramidal_1.v_basal"][0, 0], (f32(0) + ff_sum) + bias_pyr)
    p2i = np.zeros(w["p2i_1"].shape[2], f32)
    for row in w["p2i_1"][0] * f32(0):  # the pyramidal rates are 0 before step 0
        p2i = p2i + row
    bias_inter = (w["bias_inter_1"][0] * b)[0]
    np.testing.assert_array_equal(rec["inter_1.v_dendrite"][0, 0], (f32(0) + p2i) + bias_inter)
    assert np.all(rec["bias.rate"] == f32(value)) and np.all(rec["bias.rate_last"] == f32(value))


@pytest.fixture
def bias_first_steps():
    return check_bias_first_steps

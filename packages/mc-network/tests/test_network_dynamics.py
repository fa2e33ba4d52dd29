"""Network-level semantics, run on every available CPU backend."""

import numpy as np
import pytest

from mc_models.synapses import presyn_sum
from mc_network import (
    BiasParams,
    NetworkSpec,
    PlasticityParams,
    PlayerParams,
    RecordPlan,
    build_network,
    yinyang_spec,
)
from mc_network.backends.base import prepare_stage


def test_pipeline_delays(backend, data):
    spec = yinyang_spec("fa")
    net = build_network(spec, seeds=3, backend=backend)
    x, t = data(2, 4, 3)
    rec = net.run_stage(
        x,
        t,
        learning=False,
        teaching=True,
        record=RecordPlan(
            ("input.rate", "pyramidal_1.v_basal", "output.v_basal", "output.v_target"), every=1
        ),
    )
    inp, pyr = rec["input.rate"][0], rec["pyramidal_1.v_basal"][0]
    out, tgt = rec["output.v_basal"][0], rec["output.v_target"][0]
    w = net.get_weights()
    # the first sample reaches the synapses at step 0 (the player is reset to it)
    np.testing.assert_array_equal(pyr[0], presyn_sum(w["ff_1"], x[None, 0])[0])
    assert np.all(out[0] == 0) and np.any(out[1] != 0)
    # input switches at step 100, reaches the pyramidal at 101 and the output at 102
    assert np.array_equal(inp[99], x[0]) and np.array_equal(inp[100], x[1])
    assert np.array_equal(pyr[100], pyr[99]) and not np.array_equal(pyr[101], pyr[100])
    np.testing.assert_array_equal(pyr[101], presyn_sum(w["ff_1"], x[None, 1])[0])
    assert np.array_equal(out[101], out[100]) and not np.array_equal(out[102], out[101])
    # the teacher reaches the output one step after it switches (one hop)
    np.testing.assert_array_equal(tgt[100], t[0])
    np.testing.assert_array_equal(tgt[101], t[1])


def test_self_predicting_start_silences_apical_fa_keeps_b(backend, data):
    spec = yinyang_spec("fa")
    net = build_network(spec, seeds=5, backend=backend)
    b0 = net.get_weights()["fb_1"]
    x, t = data(6, 4, 3)
    rec = net.run_stage(
        x, t, learning=False, teaching=False, record=RecordPlan(("pyramidal_1.v_apical",), every=1)
    )
    va = rec["pyramidal_1.v_apical"][0].reshape(6, 100, 30)
    # after the pipeline settles (a few steps) the apical potential is zero up to rounding
    assert np.max(np.abs(va[:, 10:])) < 1e-6
    assert np.max(np.abs(va[:, :4])) > 1e-3  # ... and it was not zero during the transient
    # FA: B bit-identical even while everything else learns
    net.run_stage(x, t, learning=True, teaching=True)
    w = net.get_weights()
    np.testing.assert_array_equal(w["fb_1"], b0)
    np.testing.assert_array_equal(w["i2p_1"], -b0)  # static i2p under FA
    assert not np.array_equal(w["p2i_1"], w["ff_2"])  # p2i learned


def test_pal_moves_b(backend, data):
    net = build_network(yinyang_spec("pal"), seeds=5, backend=backend)
    b0 = net.get_weights()["fb_1"]
    x, t = data(5, 4, 3)
    net.run_stage(x, t, learning=True, teaching=True)
    w = net.get_weights()
    assert not np.array_equal(w["fb_1"], b0)
    assert not np.array_equal(w["i2p_1"], -b0)  # i2p learns under PAL
    # learning off: nothing moves, though the noise still runs
    net.run_stage(x, t, learning=False, teaching=False)
    for k, v in net.get_weights().items():
        np.testing.assert_array_equal(v, w[k], err_msg=k)


def test_noise_control_keeps_b_with_noise(backend, data):
    net = build_network(yinyang_spec("noise_control"), seeds=5, backend=backend)
    b0 = net.get_weights()["fb_1"]
    x, t = data(3, 4, 3)
    rec = net.run_stage(
        x, t, learning=True, teaching=True, record=RecordPlan(("pyramidal_1.noise",), every=10)
    )
    assert rec["pyramidal_1.noise"].std() > 1e-3
    np.testing.assert_array_equal(net.get_weights()["fb_1"], b0)


@pytest.mark.parametrize("feedback", ["pal", "fa"])
def test_batch_member_equals_lone_run(backend, data, feedback):
    spec = yinyang_spec(feedback)
    x, t = data(4, 4, 3)
    rng = np.random.default_rng(9)
    order = np.stack([rng.permutation(4) for _ in range(3)])
    xs = np.stack([x, x[::-1], x * 0.5])
    plan = RecordPlan(("output.v_brev", "pyramidal_1.rate", "fb_1.g", "ff_1.delta"), every=7)
    batch = build_network(spec, seeds=[11, 12, 13], backend=backend)
    rb = batch.run_stage(xs, t, order, learning=True, teaching=True, record=plan)
    lone = build_network(spec, seeds=12, backend=backend)
    rl = lone.run_stage(xs[1], t, order[1], learning=True, teaching=True, record=plan)
    for k in rl:
        np.testing.assert_array_equal(rb[k][1], rl[k][0], err_msg=k)
    for k, v in lone.get_weights().items():
        np.testing.assert_array_equal(batch.get_weights()[k][1], v[0], err_msg=k)


def test_checkpoint_restore_continues_bit_for_bit(backend, data):
    spec = yinyang_spec("pal")
    x, t = data(3, 4, 3)
    a = build_network(spec, seeds=[1, 2], backend=backend)
    a.run_stage(x, t, learning=True, teaching=True)
    state = a.get_state()
    ra = a.run_stage(
        x, t, learning=True, teaching=True, record=RecordPlan(("output.rate", "fb_1.g"), every=5)
    )
    b = build_network(spec, seeds=[7, 8], backend=backend)  # other seeds: all state restored
    b.set_state(state)
    rb = b.run_stage(
        x, t, learning=True, teaching=True, record=RecordPlan(("output.rate", "fb_1.g"), every=5)
    )
    for k in ra:
        np.testing.assert_array_equal(ra[k], rb[k], err_msg=k)


def test_given_weights_must_be_self_predicting(backend):
    spec = yinyang_spec("fa")
    bad = {"p2i_1": np.zeros((30, 3))}
    with pytest.raises(ValueError, match="self-predicting start violated: p2i_1 != ff_2"):
        build_network(spec, seeds=1, backend=backend, weights=bad)
    w = build_network(spec, seeds=1, backend=backend).get_weights()
    net = build_network(spec, seeds=99, backend=backend, weights=w)
    np.testing.assert_array_equal(net.get_weights()["ff_1"], w["ff_1"])


def test_deep_network_with_bias_and_transpose(backend, data):
    spec = NetworkSpec(
        dims=(4, 8, 6, 3),
        feedback="transpose",
        bias=BiasParams(enabled=True),
        plasticity=PlasticityParams(
            eta_up=(1.0, 0.5, 0.1), eta_ip=(0.05, 0.05), eta_pi=(0.0, 0.0), eta_down=(0.0, 0.0)
        ),
    )
    net = build_network(spec, seeds=[1, 2], backend=backend)
    assert {"fb_1", "fb_2", "bias_pyr_1", "bias_inter_2", "i2p_2"} <= set(net.get_weights())
    x, t = data(3, 4, 3)
    rec = net.run_stage(
        x,
        t,
        learning=True,
        teaching=True,
        record=RecordPlan(("output.rate", "pyramidal_2.v_apical"), every=50),
    )
    assert rec["output.rate"].shape == (2, 6, 3) and np.all(np.isfinite(rec["output.rate"]))
    net.align_feedback_to_transpose()
    w = net.get_weights()
    np.testing.assert_array_equal(w["fb_1"], np.swapaxes(w["ff_2"], 1, 2))
    np.testing.assert_array_equal(w["i2p_2"], -np.swapaxes(w["ff_3"], 1, 2))


def test_teacher_mute_and_learning_lag(backend, data):
    spec = yinyang_spec("fa", player=PlayerParams(teacher_mute=0.2, learning_lag=0.3))
    net = build_network(spec, seeds=2, backend=backend)
    x, t = data(2, 4, 3)
    rec = net.run_stage(
        x,
        t,
        learning=True,
        teaching=True,
        record=RecordPlan(("teacher.rate", "ff_2.delta", "output.v_target"), every=1),
    )
    tr = rec["teacher.rate"][0].reshape(2, 100, 3)
    # muted for 20 steps (the first step of a sample may carry a float32 rounding error of the
    # previous value's size: the player writes rate_last + 1 * (r - rate_last))
    np.testing.assert_allclose(tr[:, 0], 0.1, atol=1.2e-7)
    assert np.all(tr[:, 1:20] == np.float32(0.1)) and np.array_equal(tr[1, 20], t[1])
    d = rec["ff_2.delta"][0].reshape(2, 100, -1)
    # no learning during the first 30 steps of each sample: delta frozen
    assert np.array_equal(d[1, 0], d[1, 29]) and not np.array_equal(d[1, 30], d[1, 29])
    vt = rec["output.v_target"][0].reshape(2, 100, 3)
    assert np.all(vt[1, :30] == 0) and np.any(vt[1, 30:] != 0)


def test_float64_agrees_with_float32(backend, data):
    x, t = data(3, 4, 3)
    plan = RecordPlan(("output.v_brev",), every=10)
    r32 = build_network(yinyang_spec("fa"), seeds=4, backend=backend).run_stage(
        x, t, learning=True, teaching=True, record=plan
    )
    r64 = build_network(yinyang_spec("fa", dtype="float64"), seeds=4, backend=backend).run_stage(
        x, t, learning=True, teaching=True, record=plan
    )
    assert r64["output.v_brev"].dtype == np.float64
    np.testing.assert_allclose(r32["output.v_brev"], r64["output.v_brev"], rtol=1e-4, atol=1e-5)
    assert not np.array_equal(r32["output.v_brev"], r64["output.v_brev"].astype(np.float32))


def test_stage_input_errors(backend, data):
    net = build_network(yinyang_spec("fa"), seeds=1, backend=backend)
    x, t = data(2, 4, 3)
    with pytest.raises(ValueError, match=r"inputs: expected shape \(n_samples, 4\)"):
        net.run_stage(x[:, :3], t, learning=False, teaching=False)
    with pytest.raises(ValueError, match="steps_per_sample=50 does not match"):
        net.run_stage(x, t, learning=False, teaching=False, steps_per_sample=50)
    with pytest.raises(ValueError, match="record 'output.foo'.*no variable 'foo'"):
        net.run_stage(x, t, learning=False, teaching=False, record=RecordPlan(("output.foo",)))


def test_shared_rates_equal_the_same_rates_given_per_member(backend, data):
    spec = yinyang_spec("pal")
    x, t = data(5, 4, 3, seed=4)
    rng = np.random.default_rng(2)
    order = np.stack([rng.permutation(5) for _ in range(3)])
    plan = RecordPlan(("output.v_brev", "input.rate", "teacher.rate", "fb_1.g"), every=9)
    runs = []
    for xs, ts in ((x, t), (np.stack([x] * 3), np.stack([t] * 3))):
        net = build_network(spec, seeds=[4, 5, 6], backend=backend)
        runs.append(net.run_stage(xs, ts, order, learning=True, teaching=True, record=plan))
    for k in plan.variables:
        np.testing.assert_array_equal(runs[0][k], runs[1][k], err_msg=k)
    # every member played its own order of the one shared copy (no onset low-pass here:
    # tau_0 = dt); record 12 is step 108, in the second sample
    assert spec.player.tau_0 == spec.dt
    played = runs[0]["input.rate"][:, 12]
    np.testing.assert_array_equal(played, x[order[:, 1]])
    assert len({tuple(r) for r in played}) == len(set(order[:, 1]))


def test_shared_stage_rates_are_not_copied_per_member(data):
    spec = yinyang_spec("fa")
    x, t = data(6, 4, 3)
    st = prepare_stage(spec, 30, x, t, None, None)
    assert st.inputs.shape == (1, 6, 4) and st.teacher.shape == (1, 6, 3)
    assert np.shares_memory(st.inputs, x) and np.shares_memory(st.teacher, t)
    assert st.order.shape == (30, 6)
    per_member = prepare_stage(spec, 2, np.stack([x, x]), t, None, None)
    assert per_member.inputs.shape == (2, 6, 4) and per_member.teacher.shape == (1, 6, 3)
    with pytest.raises(ValueError, match=r"inputs: expected shape \(n_samples, 4\) or \(3, "):
        prepare_stage(spec, 3, np.stack([x, x]), t, None, None)


def test_bias_neuron_starts_at_its_value(backend, data, bias_first_steps):
    # the original sets the bias population's initial rate and rate_last to its value
    spec = yinyang_spec("fa", bias=BiasParams(enabled=True, value=0.7))
    x, t = data(2, 4, 3)
    bias_first_steps(build_network(spec, seeds=3, backend=backend), x, t, 0.7)

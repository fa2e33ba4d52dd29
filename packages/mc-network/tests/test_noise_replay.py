"""Noise replay: ``run_stage(noise=...)`` on the reference backend and ``noise_draws``."""

from __future__ import annotations

import numpy as np
import pytest

from mc_network import (
    NetworkSpec,
    RecordPlan,
    available_backends,
    build_network,
    noise_draws,
    run_streams,
    yinyang_spec,
)

SPEC = yinyang_spec("pal")  # sigma_noise 0.01
VARS = ("pyramidal_1.noise", "pyramidal_1.rate", "output.v_brev", "fb_1.g", "i2p_1.g")


@pytest.fixture
def stage():
    rng = np.random.default_rng(0)
    return rng.uniform(size=(6, 4)), rng.uniform(0.1, 1.0, size=(6, 3))


def _run(net, stage, learning, noise=None):
    x, t = stage
    plan = RecordPlan(VARS, every=1)
    return net.run_stage(x, t, learning=learning, teaching=learning, record=plan, noise=noise)


def test_replaying_the_own_draws_equals_drawing(stage):
    drawn = build_network(SPEC, seeds=[5], backend="reference")
    a = _run(drawn, stage, True)
    # the same standard-normal draws the reference backend makes from the member's stream
    xi = run_streams(5).noise.standard_normal((600, 30), dtype=np.float32)
    replayed = build_network(SPEC, seeds=[99], backend="reference", weights=drawn._initial_weights)
    b = _run(replayed, stage, True, noise={"pyramidal_1": xi})
    for k in VARS:
        np.testing.assert_array_equal(a[k], b[k], err_msg=k)
    # the replaying network did not touch its own noise stream
    fresh = run_streams(99).noise.standard_normal(4, dtype=np.float32)
    np.testing.assert_array_equal(replayed.streams[0].noise.standard_normal(4, np.float32), fresh)


def test_noise_draws_reproduce_a_recorded_trace_bit_for_bit(stage):
    src = build_network(SPEC, seeds=[5, 6], backend="reference")
    train, valid = _run(src, stage, True), _run(src, stage, False)  # the noise is never reset
    for b in range(2):
        trace_t, trace_v = train["pyramidal_1.noise"][b], valid["pyramidal_1.noise"][b]
        xi_t = noise_draws(SPEC, "pyramidal_1", trace_t)
        xi_v = noise_draws(SPEC, "pyramidal_1", trace_v, initial=trace_t[-1])
        # about N(0, 1), as the draws were (the recovery is exact only up to draws that
        # round to the same noise value)
        assert 0.9 < xi_t.std() < 1.1 and abs(xi_t.mean()) < 0.1
        net = build_network(
            SPEC,
            seeds=[123],
            backend="reference",
            weights={k: v[b] for k, v in src._initial_weights.items()},
        )
        rt = _run(net, stage, True, noise={"pyramidal_1": xi_t})
        rv = _run(net, stage, False, noise={"pyramidal_1": xi_v})
        for k in VARS:
            np.testing.assert_array_equal(rt[k][0], train[k][b], err_msg=k)
            np.testing.assert_array_equal(rv[k][0], valid[k][b], err_msg=k)
    # without the replay the same network follows another noise
    other = build_network(SPEC, seeds=[123], backend="reference")
    assert not np.array_equal(_run(other, stage, True)["pyramidal_1.noise"][0], train[VARS[0]][0])


def test_noise_draws_report_an_unreachable_trace():
    trace = np.zeros((3, 30), np.float32)
    trace[1, 4] = 0.5  # a jump the OU update with sigma 0.01 cannot make in one step
    with pytest.raises(ValueError, match=r"step 1, neuron 4 .* not reached by any float32"):
        noise_draws(SPEC, "pyramidal_1", trace)
    with pytest.raises(ValueError, match=r"must be \(n_steps, 30\)"):
        noise_draws(SPEC, "pyramidal_1", np.zeros((3, 29)))
    with pytest.raises(ValueError, match="not a hidden pyramidal population"):
        noise_draws(SPEC, "inter_1", np.zeros((3, 3)))
    with pytest.raises(ValueError, match="no apical noise"):
        noise_draws(yinyang_spec("fa"), "pyramidal_1", trace)


def test_noise_argument_is_checked(stage):
    net = build_network(SPEC, seeds=[1, 2], backend="reference")
    x, t = stage
    kw = {"learning": False, "teaching": False}
    with pytest.raises(ValueError, match=r"missing \['pyramidal_1'\], unknown \['pyr'\]"):
        net.run_stage(x, t, noise={"pyr": np.zeros((600, 30))}, **kw)
    with pytest.raises(ValueError, match=r"expected shape \(600, 30\) or \(2, 600, 30\)"):
        net.run_stage(x, t, noise={"pyramidal_1": np.zeros((599, 30))}, **kw)
    with pytest.raises(ValueError, match="NaN or infinite"):
        net.run_stage(x, t, noise={"pyramidal_1": np.full((600, 30), np.nan)}, **kw)
    quiet = build_network(yinyang_spec("fa"), seeds=[1], backend="reference")
    with pytest.raises(ValueError, match="no apical noise"):
        quiet.run_stage(x, t, noise={"pyramidal_1": np.zeros((600, 30))}, **kw)
    # per-member traces: member b reads its own
    xi = np.stack([np.zeros((600, 30)), np.ones((600, 30))]).astype(np.float32)
    out = net.run_stage(x, t, noise={"pyramidal_1": xi}, record=RecordPlan(VARS[:1]), **kw)
    assert np.all(out[VARS[0]][0] == 0) and np.all(out[VARS[0]][1] > 0)


@pytest.mark.parametrize("backend", ["compiled", "genn"])
def test_other_backends_refuse_noise_replay(stage, backend, tmp_path, monkeypatch):
    why = available_backends()[backend]
    if why is not None:
        pytest.skip(f"{backend} backend not available: {why}")
    monkeypatch.setenv("MC_GENN_CACHE", str(tmp_path / "genn-cache"))
    net = build_network(SPEC, seeds=[1], backend=backend)
    x, t = stage
    with pytest.raises(NotImplementedError, match=rf"the '{backend}' backend cannot replay"):
        net.run_stage(x, t, learning=False, teaching=False, noise={"pyramidal_1": np.zeros(1)})


def test_two_hidden_layers_take_one_trace_each(stage):
    base = yinyang_spec("pal").to_dict()
    base["dims"] = [4, 20, 10, 3]
    p = base["plasticity"]
    base["plasticity"] = {**p, "eta_up": [1.0, 1.0, 0.01], "eta_ip": [0.05, 0.05],
                          "eta_pi": [0.02, 0.02], "eta_down": [0.5, 0.5]}  # fmt: skip
    spec = NetworkSpec.from_dict(base)
    src = build_network(spec, seeds=[3], backend="reference")
    x, t = stage
    plan = RecordPlan(("pyramidal_1.noise", "pyramidal_2.noise", "output.v_brev"), every=1)
    a = src.run_stage(x, t, learning=True, teaching=True, record=plan)
    noise = {p: noise_draws(spec, p, a[f"{p}.noise"][0]) for p in ("pyramidal_1", "pyramidal_2")}
    net = build_network(spec, seeds=[4], backend="reference", weights=src._initial_weights)
    b = net.run_stage(x, t, learning=True, teaching=True, record=plan, noise=noise)
    for k in plan.variables:
        np.testing.assert_array_equal(a[k], b[k], err_msg=k)

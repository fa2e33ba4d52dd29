"""The GeNN backend against the reference backend (needs pygenn 5; skipped without it)."""

import numpy as np
import pytest

pytest.importorskip(
    "pygenn", reason="pygenn 5 is not installed: the GeNN backend tests need it (see the README)"
)

from mc_network import (  # noqa: E402
    BackendUnavailable,
    BiasParams,
    NetworkSpec,
    PlasticityParams,
    PyramidalParams,
    RecordPlan,
    build_network,
    yinyang_spec,
)
from mc_network.backends.genn import cache_key  # noqa: E402

pytestmark = pytest.mark.genn

VARS = (
    "output.v_brev",
    "output.V",
    "output.rate",
    "pyramidal_1.rate",
    "pyramidal_1.v_apical",
    "inter_1.rate",
    "ff_1.g",
    "ff_2.g",
    "ff_2.delta",
    "p2i_1.g",
    "fb_1.g",
    "i2p_1.g",
)


def _data(n, n_in, n_out, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.uniform(0, 1, (n, n_in)).astype(np.float32)
    t = np.full((n, n_out), 0.1, np.float32)
    t[np.arange(n), rng.integers(0, n_out, n)] = 1.0
    return x, t


def _compare(spec, n_samples=25, seeds=3, variables=VARS):
    ref = build_network(spec, seeds=seeds, backend="reference")
    gen = build_network(spec, seeds=seeds, backend="genn", weights=ref.get_weights())
    x, t = _data(n_samples, spec.dims[0], spec.dims[-1])
    plan = RecordPlan(variables, every=10)
    a = ref.run_stage(x, t, learning=True, teaching=True, record=plan)
    b = gen.run_stage(x, t, learning=True, teaching=True, record=plan)
    return a, b, ref, gen


def _check_close(a, b):
    # float32 round-off only: GeNN compiles with -ffast-math and its own exp, so single
    # operations differ by an ulp or two (6e-8 at values of order 1); over 2 500 plastic
    # steps such differences feed back through the weights and grow, but stay below 1e-5
    # absolute (100 x the float32 epsilon times the values' scale). A wrong equation or an
    # extra step of delay gives differences of 1e-3 to 1.
    for k in a:
        scale = max(1.0, float(np.abs(a[k]).max()))
        np.testing.assert_allclose(b[k], a[k], rtol=0, atol=1e-5 * scale, err_msg=k)


def test_fa_trajectories_match_reference():
    a, b, _, _ = _compare(yinyang_spec("fa"))
    _check_close(a, b)
    assert a["ff_2.g"][0, -1].tolist() != a["ff_2.g"][0, 0].tolist()  # learning happened
    assert np.array_equal(b["fb_1.g"][0, -1], b["fb_1.g"][0, 0])  # FA: B fixed on GeNN too


def test_pal_without_noise_matches_reference():
    spec = yinyang_spec("pal", pyramidal=PyramidalParams(sigma_noise=0.0))
    a, b, _, _ = _compare(spec)
    _check_close(a, b)


def test_pal_noise_statistics():
    sigma, tau, dt = 0.01, 0.1, 0.01
    net = build_network(yinyang_spec("pal"), seeds=4, backend="genn")
    x, t = _data(40, 4, 3)
    rec = net.run_stage(
        x, t, learning=False, teaching=False, record=RecordPlan(("pyramidal_1.noise",), every=50)
    )
    # samples 50 steps apart are nearly independent (autocorrelation 0.9**50 = 0.005)
    z = rec["pyramidal_1.noise"][0, 4:].ravel().astype(np.float64)
    from scipy import stats

    var = sigma**2 / (2 - dt / tau)
    stat = (z.size - 1) * z.var(ddof=1) / var
    cdf = stats.chi2.cdf(stat, z.size - 1)
    assert 5e-5 < cdf < 1 - 5e-5, (z.std(), np.sqrt(var))  # two-sided, level 1e-4
    assert abs(z.mean()) < 5 * np.sqrt(var / z.size)


def test_deep_network_with_bias_matches_reference():
    spec = NetworkSpec(
        dims=(4, 8, 6, 3),
        feedback="fa",
        bias=BiasParams(enabled=True),
        plasticity=PlasticityParams(
            eta_up=(1.0, 0.5, 0.1), eta_ip=(0.05, 0.05), eta_pi=(0.0, 0.0), eta_down=(0.0, 0.0)
        ),
    )
    a, b, _, _ = _compare(
        spec,
        n_samples=10,
        variables=(
            "output.v_brev",
            "pyramidal_2.v_apical",
            "inter_2.rate",
            "bias_pyr_1.g",
            "ff_3.g",
        ),
    )
    _check_close(a, b)


def test_cpu_batch_runs_members_in_turn_and_state_roundtrip():
    spec = yinyang_spec("fa")
    x, t = _data(6, 4, 3)
    plan = RecordPlan(("output.v_brev", "ff_1.g"), every=25)
    batch = build_network(spec, seeds=[5, 6], backend="genn")
    rb = batch.run_stage(x, t, learning=True, teaching=True, record=plan)
    lone = build_network(spec, seeds=6, backend="genn")
    rl = lone.run_stage(x, t, learning=True, teaching=True, record=plan)
    for k in rl:
        np.testing.assert_array_equal(rb[k][1], rl[k][0], err_msg=k)
    state = lone.get_state()
    r1 = lone.run_stage(x, t, learning=True, teaching=True, record=plan)
    lone.set_state(state)
    r2 = lone.run_stage(x, t, learning=True, teaching=True, record=plan)
    for k in r1:
        np.testing.assert_array_equal(r1[k], r2[k], err_msg=k)


def test_cache_key_follows_content():
    import pygenn

    v = getattr(pygenn, "__version__", "5")
    a = cache_key(yinyang_spec("fa"), "single_threaded_cpu", 1, v, True)
    assert a == cache_key(yinyang_spec("fa"), "single_threaded_cpu", 1, v, True)
    assert a != cache_key(yinyang_spec("fa", threshold=10.0), "single_threaded_cpu", 1, v, True)
    assert a != cache_key(yinyang_spec("fa"), "cuda", 4, v, True)


def test_cuda_unavailable_is_a_clear_error():
    from pygenn.genn_model import backend_modules

    if "cuda" in backend_modules:
        pytest.skip("this pygenn has the CUDA backend")
    with pytest.raises(BackendUnavailable, match="device 'cuda' is not available"):
        build_network(yinyang_spec("fa"), seeds=1, backend="genn", device="cuda")

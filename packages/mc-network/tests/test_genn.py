"""The GeNN backend against the reference backend (needs pygenn 5; skipped without it).

The exact build (the default) must equal the reference bit for bit; the fast build
(``exact=False``, GeNN's ``-O3 -ffast-math``) to float round-off (:func:`_check_close`).
Each distinct model costs a GeNN compile (a few seconds): the models are built once per
module in a private code cache (``$MC_GENN_CACHE`` if set) and shared between tests.
"""

from __future__ import annotations

import importlib.util
import json
import os
import shutil

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
    PlayerParams,
    PyramidalParams,
    RecordPlan,
    build_network,
    mnist_spec,
    yinyang_spec,
)
from mc_network.backends import _genn_build  # noqa: E402
from mc_network.backends.genn import cache_key  # noqa: E402

pytestmark = pytest.mark.genn

PAL0 = {"pyramidal": PyramidalParams(sigma_noise=0.0)}  # PAL without noise: B only decays
DEEP = NetworkSpec(
    dims=(4, 8, 6, 3),
    feedback="fa",
    activation="soft_relu",
    bias=BiasParams(enabled=True),
    plasticity=PlasticityParams(
        eta_up=(1.0, 0.5, 0.1), eta_ip=(0.05, 0.05), eta_pi=(0.0, 0.0), eta_down=(0.0, 0.0)
    ),
)

TINY = NetworkSpec(
    dims=(2, 3, 2),
    feedback="fa",
    plasticity=PlasticityParams(eta_up=(0.1, 0.1), eta_ip=(0.1,), eta_pi=(0.0,), eta_down=(0.0,)),
)


@pytest.fixture(scope="module")
def cache(tmp_path_factory):
    return os.environ.get("MC_GENN_CACHE") or str(tmp_path_factory.mktemp("genn-cache"))


@pytest.fixture(scope="module")
def pal_genn(cache):
    """A noisy PAL network (seed 6) and a batch of two (seeds 5 and 6), one loaded model."""
    spec = yinyang_spec("pal")
    lone = build_network(spec, seeds=6, backend="genn", cache_dir=cache)
    batch = build_network(spec, seeds=[5, 6], backend="genn", cache_dir=cache)
    yield lone, batch
    lone.close()
    batch.close()


def _data(n, n_in, n_out, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.uniform(0, 1, (n, n_in)).astype(np.float32)
    t = np.full((n, n_out), 0.1, np.float32)
    t[np.arange(n), rng.integers(0, n_out, n)] = 1.0
    return x, t


def _every_variable(sim):
    """Every recordable variable of the hidden and output layers and every plastic weight."""
    names = [
        f"{pop}.{var}"
        for pop, arrays in sim.neurons.items()
        if pop not in ("input", "teacher", "bias")
        for var in arrays
    ]
    return names + [f"{proj}.{var}" for proj, arrays in sim.synapses.items() for var in arrays]


def _run_both(spec, cache, exact, n_samples=25, seed=3, stages=((True, True),)):
    """Run the same stages on both backends; returns the records of each and both sims."""
    ref = build_network(spec, seeds=seed, backend="reference")
    gen = build_network(
        spec, seeds=seed, backend="genn", weights=ref.get_weights(), cache_dir=cache, exact=exact
    )
    plan = RecordPlan(tuple(_every_variable(ref)), every=1)
    a, b = [], []
    for i, (learning, teaching) in enumerate(stages):
        x, t = _data(n_samples, spec.dims[0], spec.dims[-1], seed=i)
        a.append(ref.run_stage(x, t, learning=learning, teaching=teaching, record=plan))
        b.append(gen.run_stage(x, t, learning=learning, teaching=teaching, record=plan))
    return a, b, ref, gen


ULPS = 256


def _check_close(a, b, eps):
    """GeNN equals the reference to float round-off, with a bound that is not vacuous.

    The bound is ``ULPS`` units of ``eps`` times the variable's scale ``S = max |x|`` over
    the run (``eps`` = 2**-23 for float32; for ``ULPS = 256`` that is 3e-5 relative); for
    the high-passed rate, a difference of consecutive rates, ``S`` is the rate's scale.
    Why differences exist: the fast build compiles with ``-O3 -ffast-math`` (reassociation, FMA
    contraction of the same formulas, ~1-2 ulp per expression) and its own ``exp``/``log``
    (<= 1 ulp before the single rounding); sums over the presynaptic neurons can cancel
    (``v_apical = I_down + I_inter`` nearly cancels in the self-predicting state, which
    multiplies the relative error of the result by ~10). Why they stay small: the neuron
    dynamics contract (leaky integration; with LE ``v_brev`` is an instantaneous function of
    the inputs), so per-step differences do not compound over the 2 500 plastic steps, and
    the round-off of the small weight updates, summed over the run, stays near the weights'
    own ulp. Measured on four seeds of the FA, PAL,
    LE-off and deep networks: at most 66 units (``v_apical``), mostly 1-20; the bound
    leaves a factor ~4. Not vacuous: it must stay below 5% of each compared variable's
    range over the run (checked here; it is below 1% for all but the high-passed rate of the
    slow LE-off dynamics), so a wrong equation or a step of delay (differences of 6e-5 to 1
    in the spec's checks) fails; variables that do not change must agree exactly.
    """
    checked = 0
    for k in a:
        ref, got = a[k].astype(np.float64), b[k].astype(np.float64)
        owner, var = k.split(".")
        scale = float(np.abs(ref).max())
        if var == "rate_highpass":  # a difference of consecutive rates: their round-off
            scale = max(scale, float(np.abs(a[f"{owner}.rate"]).max()))
        span = float(ref.max() - ref.min())
        if span == 0:
            np.testing.assert_array_equal(got, ref, err_msg=k)
            continue
        bound = ULPS * eps * scale
        assert bound < 0.05 * span, (k, bound, span)
        np.testing.assert_allclose(got, ref, rtol=0, atol=bound, err_msg=k)
        checked += 1
    assert checked >= 10


F32, F64 = float(np.finfo(np.float32).eps), float(np.finfo(np.float64).eps)
EXACT = [pytest.param(True, id="exact"), pytest.param(False, id="fast")]


def _check(a, b, eps, exact):
    """The exact build equals the reference bit for bit, the fast one to round-off."""
    if not exact:
        _check_close(a, b, eps)
        return
    assert a.keys() == b.keys() and len(a) >= 10
    for k in a:
        np.testing.assert_array_equal(b[k], a[k], err_msg=k)


@pytest.mark.parametrize("exact", EXACT)
def test_fa_matches_reference_over_2500_steps(cache, exact):
    a, b, ref, gen = _run_both(yinyang_spec("fa"), cache, exact)
    assert a[0]["output.v_brev"].shape[1] == 2500
    _check(a[0], b[0], F32, exact)
    assert not np.array_equal(a[0]["ff_2.g"][0, -1], a[0]["ff_2.g"][0, 0])  # W learns
    assert np.array_equal(b[0]["fb_1.g"][0, -1], b[0]["fb_1.g"][0, 0])  # FA: B fixed
    # the state has the reference backend's keys and shapes
    sa, sb = ref.get_state(), gen.get_state()
    for group in ("neurons", "synapses"):
        assert sa[group].keys() == sb[group].keys()
        for owner in sa[group]:
            assert {k: v.shape for k, v in sa[group][owner].items()} == {
                k: v.shape for k, v in sb[group][owner].items()
            }, owner
    assert len(sb["noise_rng"]) == 1
    gen.close()


@pytest.mark.parametrize("exact", EXACT)
def test_pal_without_noise_matches_reference(cache, exact):
    a, b, _, gen = _run_both(yinyang_spec("pal", **PAL0), cache, exact)
    _check(a[0], b[0], F32, exact)
    assert a[0]["i2p_1.g"][0, -1].tolist() != a[0]["i2p_1.g"][0, 0].tolist()  # i2p learns
    gen.close()


@pytest.mark.parametrize("exact", EXACT)
def test_pal_without_noise_float64_decay_of_b(cache, exact):
    # in float64 the alpha decay of B acts (in float32 the decrement alpha * B is below half an
    # ulp of B)
    spec = yinyang_spec("pal", dtype="float64", **PAL0)
    a, b, ref, gen = _run_both(spec, cache, exact, n_samples=20)
    fb = a[0]["fb_1.g"]
    assert np.abs(fb[0, -1] - fb[0, 0]).max() > 1e-6
    # float64 exp: NumPy's SIMD routine and the C library's differ in the last bit of some
    # results, which float64 state keeps (float32 rounding hides it), so even the exact
    # build only comes close to the reference; it equals the compiled backend, which calls
    # the C library as the generated code does
    _check_close(a[0], b[0], F64)
    if exact and importlib.util.find_spec("numba") is not None:
        com = build_network(spec, seeds=3, backend="compiled")  # the initial weights of seed 3
        x, t = _data(20, 4, 3, seed=0)
        plan = RecordPlan(tuple(_every_variable(ref)), every=1)
        c = com.run_stage(x, t, learning=True, teaching=True, record=plan)
        _check(c, b[0], F64, True)
    gen.close()


@pytest.mark.parametrize("exact", EXACT)
def test_deep_network_with_bias_and_soft_relu(cache, exact):
    a, b, _, gen = _run_both(DEEP, cache, exact, n_samples=20)
    assert "bias_pyr_1.g" in a[0] and "pyramidal_2.v_apical" in a[0]
    _check(a[0], b[0], F32, exact)
    gen.close()


def test_bias_neuron_starts_at_its_value(cache, bias_first_steps):
    net = build_network(DEEP, seeds=3, backend="genn", cache_dir=cache)
    x, t = _data(2, 4, 3)
    bias_first_steps(net, x, t, DEEP.bias.value)
    net.close()


@pytest.mark.parametrize("exact", EXACT)
def test_le_off_stable_sigmoid_lag_mute_and_growing_stages(cache, exact):
    spec = yinyang_spec(
        "fa",
        le_active=False,
        activation="sigmoid_stable",
        player=PlayerParams(teacher_mute=0.1, learning_lag=0.2),
    )
    # a validation-like stage (no learning, no teacher), then training stages of 5 and 12
    # samples: the second is larger than the resident arrays, so the model is reloaded
    stages = ((False, False), (True, True), (True, True))
    ref = build_network(spec, seeds=2, backend="reference")
    w0 = ref.get_weights()
    gen = build_network(spec, seeds=2, backend="genn", weights=w0, cache_dir=cache, exact=exact)
    plan = RecordPlan(tuple(_every_variable(ref)), every=1)
    for i, ((learning, teaching), n) in enumerate(zip(stages, (4, 5, 12), strict=True)):
        x, t = _data(n, 4, 3, seed=i)
        ra = ref.run_stage(x, t, learning=learning, teaching=teaching, record=plan)
        rb = gen.run_stage(x, t, learning=learning, teaching=teaching, record=plan)
        _check(ra, rb, F32, exact)
    gen.close()


NETWORKS = {"yinyang": yinyang_spec, "mnist": mnist_spec}
BIG = ("ff_1.g", "ff_1.delta")  # MNIST's 784 x 100 input weights: compared at the end only


@pytest.mark.parametrize("le_active", [True, False], ids=["le", "no-le"])
@pytest.mark.parametrize("feedback", ["fa", "pal"])
@pytest.mark.parametrize("network", list(NETWORKS))
def test_exact_build_is_bit_identical_with_bias(cache, network, feedback, le_active):
    # the paper's networks with a bias neuron, 2 000 plastic steps (20 samples, teacher on):
    # every variable at every step (on MNIST all but the input weights, which reach the
    # records through every rate downstream of them), then the whole final state
    changes = {"le_active": le_active, "bias": BiasParams(enabled=True)}
    spec = NETWORKS[network](feedback, **changes, **(PAL0 if feedback == "pal" else {}))
    ref = build_network(spec, seeds=4, backend="reference")
    w0 = ref.get_weights()
    gen = build_network(spec, seeds=4, backend="genn", weights=w0, cache_dir=cache)
    assert gen.exact and gen.build_info()["exact"]  # the default build
    names = [n for n in _every_variable(ref) if network == "yinyang" or n not in BIG]
    plan = RecordPlan(tuple(names), every=1)
    x, t = _data(20, spec.dims[0], spec.dims[-1], seed=1)
    a = ref.run_stage(x, t, learning=True, teaching=True, record=plan)
    b = gen.run_stage(x, t, learning=True, teaching=True, record=plan)
    assert a["output.v_brev"].shape[1] == 2000 and "bias_pyr_1.g" in a
    _check(a, b, F32, True)
    sa, sb = ref.get_state(), gen.get_state()
    for group in ("neurons", "synapses"):
        for owner, arrays in sa[group].items():
            for var, arr in arrays.items():
                np.testing.assert_array_equal(sb[group][owner][var], arr, err_msg=(owner, var))
    learned = sb["synapses"]["ff_1"]["g"] - w0["ff_1"]
    assert np.abs(learned).max() > 1e-5  # the input weights learned
    gen.close()


def test_exact_build_writes_each_parameter_as_its_float32_value(cache):
    # GeNN writes a parameter into the code as a decimal of 10 significant digits that the
    # compiler rounds to float; for about 0.1% of doubles that is not the float32 the
    # reference casts the double to (here tau_soma = 1/(0.079 + 0.1 + 0.8), whose double
    # lies within 1e-10 of a midpoint between two floats)
    tau = 1.0 / (0.079 + 0.1 + 0.8)
    assert np.float32(float(f"{tau:.9e}")) != np.float32(tau)
    spec = yinyang_spec("fa", pyramidal=PyramidalParams(g_leak=0.079, g_apical=0.8))
    a, b, _, gen = _run_both(spec, cache, True, n_samples=4)
    _check(a[0], b[0], F32, True)
    gen.close()


def test_pal_noise_statistics(pal_genn):
    # OU noise: n[k] = (1 - dt/tau) n[k-1] + sigma sqrt(dt/tau) xi, stationary variance
    # sigma**2 / (2 - dt/tau). Records 50 steps apart are nearly independent (lag
    # autocorrelation 0.9**50 = 0.005); the 30 neurons are independent; the first 4 records
    # (200 steps, transient 0.9**400) are dropped. (n-1) s^2 / var ~ chi2(n-1) for Gaussian
    # samples: a two-sided test at level 1e-4, and the mean within 5 standard errors.
    from scipy import stats

    sigma, tau, dt = 0.01, 0.1, 0.01
    net, _ = pal_genn
    x, t = _data(40, 4, 3)
    plan = RecordPlan(("pyramidal_1.noise",), every=50)
    rec = net.run_stage(x, t, learning=False, teaching=False, record=plan)
    z = rec["pyramidal_1.noise"][0, 4:].ravel().astype(np.float64)
    var = sigma**2 / (2 - dt / tau)
    cdf = stats.chi2.cdf((z.size - 1) * z.var(ddof=1) / var, z.size - 1)
    assert 5e-5 < cdf < 1 - 5e-5, (z.std(), np.sqrt(var))
    assert abs(z.mean()) < 5 * np.sqrt(var / z.size)
    # lag-1 autocorrelation of the every-step noise is 1 - dt/tau = 0.9
    every_step = RecordPlan(("pyramidal_1.noise",))
    rec = net.run_stage(x[:5], t[:5], learning=False, teaching=False, record=every_step)
    n = rec["pyramidal_1.noise"][0, 100:].astype(np.float64)
    rho = np.mean([np.corrcoef(n[1:, j], n[:-1, j])[0, 1] for j in range(n.shape[1])])
    assert abs(rho - 0.9) < 0.02


def test_cpu_batch_equals_lone_runs_with_noise(pal_genn, cache):
    lone, batch = pal_genn
    spec = yinyang_spec("pal")
    x, t = _data(6, 4, 3)
    plan = RecordPlan(("output.v_brev", "pyramidal_1.noise", "fb_1.g", "ff_1.delta"), every=7)
    five = build_network(spec, seeds=5, backend="genn", cache_dir=cache)
    six = build_network(spec, seeds=6, backend="genn", cache_dir=cache)
    assert five.key == six.key == batch.key  # the seed is not compiled in: one build
    rb = batch.run_stage(x, t, learning=True, teaching=True, record=plan)
    r5 = five.run_stage(x, t, learning=True, teaching=True, record=plan)
    r6 = six.run_stage(x, t, learning=True, teaching=True, record=plan)
    for k in plan.variables:
        np.testing.assert_array_equal(rb[k][0], r5[k][0], err_msg=k)
        np.testing.assert_array_equal(rb[k][1], r6[k][0], err_msg=k)
    assert not np.array_equal(r5["pyramidal_1.noise"], r6["pyramidal_1.noise"])
    for k in ("fb_1", "ff_1"):
        np.testing.assert_array_equal(batch.get_weights()[k][1], six.get_weights()[k][0])
    # per-member rates and orders (more samples than before: the resident arrays grow)
    xs = np.stack([x, x[::-1] * 0.5])
    xs, ts = np.concatenate([xs, xs], axis=1), np.concatenate([t, t[::-1]])
    order = np.stack([np.random.default_rng(s).permutation(12) for s in (1, 2)])
    plan = RecordPlan(("output.v_brev", "input.rate", "ff_1.g"), every=11)
    rb = batch.run_stage(xs, ts, order, learning=True, teaching=True, record=plan)
    r5 = five.run_stage(xs[0], ts, order[0], learning=True, teaching=True, record=plan)
    r6 = six.run_stage(xs[1], ts, order[1], learning=True, teaching=True, record=plan)
    for k in plan.variables:
        np.testing.assert_array_equal(rb[k][0], r5[k][0], err_msg=k)
        np.testing.assert_array_equal(rb[k][1], r6[k][0], err_msg=k)
    np.testing.assert_array_equal(rb["input.rate"][:, 10], xs[[0, 1], order[:, 1]])  # step 110
    five.close()
    six.close()


def test_state_roundtrip_continues_bit_for_bit(pal_genn):
    _, batch = pal_genn
    x, t = _data(4, 4, 3, seed=9)
    plan = RecordPlan(("output.v_brev", "pyramidal_1.noise", "fb_1.g"), every=3)
    # through JSON, as a checkpoint stores it
    state = json.loads(json.dumps(batch.get_state(), default=lambda a: a.tolist()))
    for group in ("neurons", "synapses"):
        for arrays in state[group].values():
            for k, v in arrays.items():
                arrays[k] = np.asarray(v)
    r1 = batch.run_stage(x, t, learning=True, teaching=True, record=plan)
    batch.set_state(state)
    r2 = batch.run_stage(x, t, learning=True, teaching=True, record=plan)
    for k in r1:
        np.testing.assert_array_equal(r1[k], r2[k], err_msg=k)
    assert np.abs(r1["fb_1.g"][:, -1] - r1["fb_1.g"][:, 0]).max() > 0  # PAL learned


def test_unrestorable_noise_stream_is_logged_once_and_only_with_noise(cache, caplog):
    # a checkpoint from CUDA (or from GeNN without host RNG management) has no noise streams
    def restore_without_streams(spec):
        net = build_network(spec, seeds=[5, 6], backend="genn", cache_dir=cache)
        state = net.get_state()
        state["noise_rng"] = [None, None]
        caplog.clear()
        with caplog.at_level("WARNING", logger="mc_network.backends.genn"):
            net.set_state(state)
            net.set_state(state)
        net.close()
        return [r for r in caplog.records if "cannot be restored" in r.getMessage()]

    assert len(restore_without_streams(yinyang_spec("pal"))) == 1
    assert restore_without_streams(yinyang_spec("fa")) == []


def test_compiled_in_seed_without_host_rng_management(monkeypatch, cache):
    # MC_GENN_HOST_RNG=0: GeNN seeds its generator once from the run seeds (compiled in,
    # so the seeds are part of the cache key); the noise stream is not part of the state
    monkeypatch.setenv("MC_GENN_HOST_RNG", "0")
    spec = yinyang_spec("pal")
    net = build_network(spec, seeds=[5, 6], backend="genn", cache_dir=cache)
    other = build_network(spec, seeds=[5, 7], backend="genn", cache_dir=cache)
    assert net.key != other.key
    other.close()
    x, t = _data(3, 4, 3)
    rec = net.run_stage(
        x, t, learning=True, teaching=True, record=RecordPlan(("pyramidal_1.noise",))
    )
    noise = rec["pyramidal_1.noise"][:, 100:]
    assert 0.004 < noise.std() < 0.01 and not np.array_equal(noise[0], noise[1])
    state = net.get_state()
    assert state["noise_rng"] == [None, None]
    net.set_state(state)
    net.close()


def test_code_cache_is_keyed_by_content(tmp_path):
    import pygenn

    v = getattr(pygenn, "__version__", "5")
    fa = yinyang_spec("fa")
    cpu = "single_threaded_cpu"
    a = cache_key(fa, cpu, 1, v, True, exact=True)
    assert a == cache_key(yinyang_spec("fa"), cpu, 1, v, True, exact=True)
    for other in (
        cache_key(yinyang_spec("fa", threshold=10.0), cpu, 1, v, True, exact=True),
        cache_key(fa.replace(dtype="float64"), cpu, 1, v, True, exact=True),
        cache_key(fa, cpu, 1, v, False, exact=True),
        cache_key(fa, cpu, 1, v, True, exact=False),
        cache_key(fa, "cuda", 4, v, True, exact=True),
        cache_key(fa, cpu, 1, "5.9.9", True, exact=True),
        cache_key(fa, cpu, 1, v, True, seed=7, exact=True),
    ):
        assert other != a
    # built once, reused by a later simulation of the same spec, rebuilt for another one
    spec = TINY
    first = build_network(spec, seeds=1, backend="genn", cache_dir=tmp_path)
    lib = next(first.code_dir.glob("*_CODE/librunner.so"))
    stamp = lib.stat().st_mtime_ns
    first.close()
    again = build_network(spec, seeds=2, backend="genn", cache_dir=tmp_path)
    assert again.code_dir == first.code_dir and lib.stat().st_mtime_ns == stamp
    again.close()
    changed = build_network(
        spec.replace(threshold=10.0), seeds=1, backend="genn", cache_dir=tmp_path
    )
    assert changed.code_dir != first.code_dir and changed.code_dir.parent == tmp_path
    changed.close()
    assert sorted(p.name for p in tmp_path.glob("*.lock")) == sorted(
        f"{d.name}.lock" for d in (first.code_dir, changed.code_dir)
    )


@pytest.mark.skipif(os.name != "posix", reason="the compiler wrapper is a shell script")
def test_each_build_mode_compiles_with_its_flags(tmp_path, monkeypatch):
    # a wrapper around the C++ compiler logs every command GeNN's make runs
    gxx = shutil.which(os.environ.get("CXX") or "g++")
    if gxx is None or _genn_build.compiler_family(gxx) != "gcc":
        pytest.skip("needs GCC as $CXX or g++")
    log = tmp_path / "commands.log"
    wrapper = tmp_path / "g++"
    wrapper.write_text(f'#!/bin/sh\necho "$@" >> "{log}"\nexec "{gxx}" "$@"\n')
    wrapper.chmod(0o755)
    monkeypatch.setenv("CXX", str(wrapper))
    _genn_build.compiler_family.cache_clear()
    vect = "--param vect-max-version-for-alias-checks=64"
    try:
        for exact in (True, False):
            log.unlink(missing_ok=True)
            net = build_network(TINY, seeds=1, backend="genn", cache_dir=tmp_path, exact=exact)
            net.close()
            compiles = [c for c in log.read_text().splitlines() if " -c " in f" {c} "]
            assert len(compiles) >= 5  # runner, init, neuron, synapse and custom updates
            for c in compiles:
                assert vect in c, c
                if exact:
                    assert c.startswith(f"-O3 -ffp-contract=off {vect} -c ") and "fast" not in c
                else:
                    assert "-O3 -ffast-math" in c and "ffp-contract" not in c, c
    finally:
        _genn_build.compiler_family.cache_clear()


def test_cuda_unavailable_is_a_clear_error():
    try:
        _genn_build.check_device("cuda")
    except BackendUnavailable:
        pass
    else:
        pytest.skip("a CUDA device is usable here")
    with pytest.raises(BackendUnavailable, match="device 'cuda' is not available"):
        build_network(yinyang_spec("fa"), seeds=1, backend="genn", device="cuda")
    with pytest.raises(ValueError, match="device 'gpu' is not valid"):
        build_network(yinyang_spec("fa"), seeds=1, backend="genn", device="gpu")


def test_cuda_backend_that_does_not_load_says_why(monkeypatch):
    # pygenn built with CUDA on a machine without the driver: its CUDA module fails to import
    import importlib

    from pygenn.genn_model import backend_modules

    if "cuda" in backend_modules:
        pytest.skip("pygenn's CUDA backend loads here")
    real = importlib.import_module

    def fake(name, *args, **kwargs):
        if name == "pygenn.cuda_backend":
            raise ImportError("libcuda.so.1: cannot open shared object file: No such file")
        return real(name, *args, **kwargs)

    with pytest.raises(BackendUnavailable, match="built with .'single_threaded_cpu'. only"):
        _genn_build.check_device("cuda")
    monkeypatch.setattr(importlib, "import_module", fake)
    with pytest.raises(
        BackendUnavailable, match="cuda backend is installed but does not load: libcuda.so.1"
    ):
        _genn_build.check_device("cuda")


def test_missing_or_old_pygenn_is_a_clear_error(monkeypatch):
    monkeypatch.setattr(_genn_build, "version", lambda _: "4.9.0")
    with pytest.raises(BackendUnavailable, match=r"pygenn >= 5.0, found 4.9.0.*genn-team/genn"):
        _genn_build.import_pygenn()
    monkeypatch.setitem(__import__("sys").modules, "pygenn", None)
    with pytest.raises(BackendUnavailable, match=r"needs pygenn.*genn-team/genn"):
        _genn_build.import_pygenn()

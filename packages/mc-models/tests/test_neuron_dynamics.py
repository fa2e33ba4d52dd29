"""Closed-form checks of the neuron models, run through their NumPy renderings."""

import numpy as np
import pytest
from scipy import stats

from mc_models import NeuronModel, Var, get_activation
from mc_models.neurons import interneuron, output, pyramidal
from mc_models.neurons._common import HIGHPASS, TAU_HIGHPASS
from mc_models.render.numpy import neuron_step

SIG = get_activation("sigmoid")
PAPER = {"g_leak": 0.03, "g_basal": 0.1, "g_apical": 0.06, "tau_noise": 0.1, "tau_highpass": 0.1}
_STEPS: dict = {}


def _stepper(model, p):
    """The model's NumPy step bound to ``p`` (rendered once per parameter set)."""
    if id(p) not in _STEPS:
        _STEPS[id(p)] = (p, neuron_step(model, SIG, p))
    return _STEPS[id(p)][1]


def pyramidal_step(s, up, down, inter, xi, p):
    _stepper(pyramidal.MODEL, p)(
        s, {"Isyn_up": up, "Isyn_down": down, "Isyn_inter": inter}, {}, [xi]
    )


def interneuron_step(s, dendrite, down, p):
    _stepper(interneuron.MODEL, p)(s, {"Isyn_pyramidal": dendrite, "Isyn_down": down})


def output_step(s, up, target, p, teaching):
    _stepper(output.MODEL, p)(s, {"Isyn_up": up, "Isyn_target": target}, {"teaching": teaching})


def _pyr(n=5, dtype=np.float32, **kw):
    m = pyramidal.MODEL
    p = m.resolve({**PAPER, **kw}, 0.01, dtype)
    return m.initial_state((1, n), dtype, p), p


def test_le_prospective_voltage_equals_steady_state():
    s, p = _pyr()
    z = np.zeros((1, 5), np.float32)
    up = np.array([[0.3, -1.0, 2.0, 0.0, 5.0]], np.float32)
    down = np.array([[0.1, 0.2, -0.3, 0.4, 0.0]], np.float32)
    for _ in range(3):
        pyramidal_step(s, up, down, z, z, p)
        # tau_soma * g_tot = 1, so v_brev = V + (v_ss - V) = v_ss up to float32 rounding
        np.testing.assert_allclose(s["v_brev"], s["v_steady"], rtol=2e-6, atol=1e-7)
    expect = (0.1 * up + 0.06 * down) / 0.19
    np.testing.assert_allclose(s["v_steady"], expect, rtol=1e-6)
    np.testing.assert_array_equal(s["rate"], SIG.numpy(s["v_brev"]))
    np.testing.assert_array_equal(s["rate_basal"], SIG.numpy(p.g_scale * up))


def test_v_relaxes_with_time_constant_one_over_gtot():
    s, p = _pyr(n=1, dtype=np.float64)
    up = np.array([[2.0]])
    z = np.zeros((1, 1))
    v_ss = 0.1 * 2.0 / 0.19
    vs = []
    for _ in range(500):
        pyramidal_step(s, up, z, z, z, p)
        vs.append(s["V"][0, 0])
    k = np.arange(1, 501)
    # Euler solution of dV/dt = g_tot (v_ss - V), V(0) = 0
    np.testing.assert_allclose(vs, v_ss * (1 - (1 - 0.01 * 0.19) ** k), rtol=1e-12)
    # ... which approaches the continuous exponential with tau = 1/g_tot
    t = k * 0.01
    np.testing.assert_allclose(vs, v_ss * (1 - np.exp(-0.19 * t)), atol=2e-3 * v_ss)


def test_without_le_v_brev_is_v():
    s, p = _pyr(n=1, le_active=0.0)
    up, z = np.array([[2.0]], np.float32), np.zeros((1, 1), np.float32)
    pyramidal_step(s, up, z, z, z, p)
    assert s["v_brev"][0, 0] == s["V"][0, 0] == np.float32(0.01) * s["v_dot"][0, 0]


def test_highpass_step_response():
    # rate steps 0 -> 1 at step 0; the filter sees r[k-1] - r[k-2], one step late
    names = ("rate", "rate_last", "rate_highpass")
    hp = NeuronModel(
        "highpass", "", (TAU_HIGHPASS,), vars=tuple(Var(n, n) for n in names), update=HIGHPASS
    )
    p = hp.resolve({"tau_highpass": 0.1}, 0.01, np.float64)
    s, step = hp.initial_state((1, 1), np.float64, p), neuron_step(hp, None, p)
    out = []
    for _k in range(50):
        step(s, {})
        s["rate"][...] = 1.0  # the neuron's rate after its update at this step
        out.append(s["rate_highpass"][0, 0])
    a = 0.01 / 0.1
    assert out[0] == 0.0
    np.testing.assert_allclose(out[1:], (1 - a) ** np.arange(49), rtol=1e-12)


def test_ou_noise_stationary_std_and_gaussian_innovations():
    n, sigma, tau, dt = 5000, 0.01, 0.1, 0.01
    s, p = _pyr(n=n, dtype=np.float64, sigma_noise=sigma, tau_noise=tau)
    rng = np.random.default_rng(1234)
    z = np.zeros((1, n))
    samples, prev, innov = [], None, []
    for k in range(1, 2401):
        xi = rng.standard_normal((1, n))
        pyramidal_step(s, z, z, z, xi, p)
        if k == 1100:
            prev = s["noise"].copy()
        if k == 1101:
            innov = (s["noise"] - (1 - dt / tau) * prev) / (sigma * np.sqrt(dt / tau))
        if k % 400 == 0:  # 400 steps apart: autocorrelation 0.9**400 ~ 5e-19
            samples.append(s["noise"].ravel().copy())
    x = np.concatenate(samples)
    # The innovations are exactly the standard-normal draws (the update is the OU rule)
    assert stats.kstest(innov.ravel(), "norm").pvalue > 1e-4
    # Stationary variance sigma^2 / (2 - dt/tau). (N-1) s^2 / var ~ chi2(N-1); two-sided test
    # at level 1e-4 (a false alarm in 1 of 10 000 runs; the seed is fixed anyway).
    var = sigma**2 / (2 - dt / tau)
    stat = (x.size - 1) * x.var(ddof=1) / var
    cdf = stats.chi2.cdf(stat, x.size - 1)
    assert 5e-5 < cdf < 1 - 5e-5
    # ... while the naive sigma^2 / 2 is rejected
    stat_naive = (x.size - 1) * x.var(ddof=1) / (sigma**2 / 2)
    assert stats.chi2.cdf(stat_naive, x.size - 1) > 1 - 5e-5


def test_interneuron_reproduces_output_when_self_predicting():
    i_m, o_m = interneuron.MODEL, output.MODEL
    pi = i_m.resolve({"g_leak": 0.03, "g_dendrite": 0.1, "g_soma": 0.06}, 0.01, np.float64)
    po = o_m.resolve({"g_leak": 0.03, "g_basal": 0.1, "g_target": 0.06}, 0.01, np.float64)
    si, so = i_m.initial_state((1, 3), np.float64, pi), o_m.initial_state((1, 3), np.float64, po)
    vb = np.array([[0.5, -2.0, 1.0]])
    for _ in range(3):
        output_step(so, vb, np.zeros((1, 3)), po, teaching=False)
        # same basal input on the dendrite, nudged by the output's v_brev
        interneuron_step(si, vb, so["v_brev"], pi)
    np.testing.assert_allclose(si["v_brev"], so["v_brev"], rtol=1e-12)
    np.testing.assert_allclose(so["v_brev"], 0.1 / 0.13 * vb, rtol=1e-12)


def test_output_teaching_nudges_towards_target():
    o_m = output.MODEL
    po = o_m.resolve({"g_leak": 0.03, "g_basal": 0.1, "g_target": 0.06}, 0.01, np.float64)
    so = o_m.initial_state((1, 1), np.float64, po)
    output_step(so, np.array([[1.0]]), np.array([[2.0]]), po, teaching=True)
    assert so["v_steady"][0, 0] == pytest.approx((0.1 * 1 + 0.06 * 2) / 0.19)

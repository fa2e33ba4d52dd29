"""``input_mode: fast``: sample-factorised projections from the input player.

What is asserted:

* the factorised projection alone, against the exact rule on the same inputs, within a
  float32 round-off bound derived below (weights, filtered increments, input sums);
* the whole network, one 100-step sample from the same state, learning on and off: every
  variable within a bound set by the exact mode's own float32 round-off (against float64),
  on the reference and the compiled backend;
* the reference and the compiled backend run the same fast algorithm bit for bit;
* selection and records (the spec key, ``input_info``);
* GeNN (where pygenn 5 imports): its CPU device gives the reference's fast-mode numbers bit
  for bit (its members run one at a time, so each has the reference's segments).
"""

from __future__ import annotations

import dataclasses
import importlib.util
import os

import numpy as np
import pytest

from mc_models.factorise import rank1_delta_rule
from mc_models.render.numpy import synapse_step
from mc_models.synapses import forward
from mc_network import (
    NetworkSpec,
    PyramidalParams,
    RecordPlan,
    SpecError,
    build_network,
    mnist_spec,
)
from mc_network.backends import available_backends
from mc_network.backends._factorised import Factorised
from mc_network.program import FactorisedOp, lower
from mc_network.topology import build_topology

U32 = 2.0**-24  # float32 unit round-off: |fl(y) - y| <= U32 |y|
U64 = 2.0**-53
HAVE_NUMBA = available_backends()["compiled"] is None
HAVE_PYGENN = importlib.util.find_spec("pygenn") is not None
BACKENDS = ["reference", "compiled"] if HAVE_NUMBA else ["reference"]
DIMS = (60, 12, 4)


def _spec(eta_up0=1.0, tau_w=100.0, dims=DIMS, **changes) -> NetworkSpec:
    spec = mnist_spec(dims=dims, **changes)
    p = dataclasses.replace(spec.plasticity, eta_up=(eta_up0, 0.005), tau_w_ff=tau_w)
    return spec.replace(plasticity=p)


# ---------------------------------------------------------------------- the projection alone
def test_the_forward_rule_is_recognised_and_only_it_runs_fast():
    rule = rank1_delta_rule(forward.MODEL)
    assert rule is not None and rule.pre_vars == ("rate", "rate_last")
    names = (rule.weight, rule.filtered, rule.filter_param, rule.switch)
    assert names == ("g", "delta", "h", "learning")
    program = lower(_spec(input_mode="fast"), build_topology(_spec()))
    assert [op.projection for op in program.factorised] == ["ff_1"]
    assert all(isinstance(op, FactorisedOp) == (op.projection == "ff_1") for op in program.synapses)
    exact = lower(_spec(), build_topology(_spec()))
    assert not exact.factorised and exact.input_mode == "exact"


def _pre_schedule(rng, batch, n_pre, k_steps):
    """Per step ``(rate, rate_last)`` of each member: the player's transitions, then holds.

    Member 0 holds sample ``x0`` from step 1 on (step 0: ``rate_last`` is the previous
    sample). Member 1 switches again at step 50 to ``x1`` (steps 50 and 51 are transitions,
    as the player's two steps after a switch). Some inputs are exactly 0 (MNIST's border).
    """
    prev, x0, x1 = (rng.uniform(0, 1, (batch, n_pre)).astype(np.float32) for _ in range(3))
    for x in (prev, x0, x1):
        x[:, : n_pre // 5] = 0.0
    rate, last = [], []
    cur, before = x0.copy(), prev.copy()
    for k in range(k_steps):
        if k == 50:
            before[1], cur[1] = cur[1].copy(), x1[1]
        rate.append(cur.copy())
        last.append(before.copy())
        before = cur.copy()
    return rate, last


def test_factorised_projection_within_the_derived_round_off_bound():
    r"""The factorised forward projection against its exact rule, on the same inputs.

    Both get the same presynaptic rates (with transitions), the same postsynaptic rates
    (new random ones every step) and the same learning switch (off for the first 5 steps,
    a learning lag). Increments are made large (``|delta| ~ 1e-3``, ``h = 0.1``), so a
    wrong lag or filter in the factorisation would show by orders of magnitude.

    Bound (``u = 2^-24``, ``K`` steps, ``M_g, M_d, M_t`` the largest ``|g|, |delta|,
    |delta_target|`` of the exact run). The exact rule evaluates per step
    ``t = fl(e x)``, ``delta <- fl(delta + fl(h fl(t - delta)))``, ``g <- fl(g + delta)``.
    Against real arithmetic on the same ``e`` one step adds to the error of ``delta`` at
    most ``u (h|t| + 2h(|t| + |delta|) + |delta_new|) <= u C``, ``C = 3h M_t + (1 + 2h)
    M_d``, and the error is then damped by ``1 - h``; so after ``k`` steps it is at most
    ``k u C``. ``g`` adds its own rounding ``u M_g`` and the error of the old ``delta``:
    after ``K`` steps ``E_g <= K u M_g + K(K-1)/2 u C`` and ``E_d <= K u C``. The
    factorised mode forms the same ``g`` and ``delta`` in float64 (``A, U, a, u``: sums
    of at most ``K`` terms, each error ``<= K 2^-53`` of the magnitudes) and rounds once
    per segment (``S`` segments: ``S u M_g``). Input sums: the exact float32 sum of ``n``
    products in ascending order errs by at most ``gamma_n = n u / (1 - n u)`` times
    ``sum_i |g_ij x_i|``, plus the weight error ``E_g sum_i x_i``; the factorised sum
    ``p + A q + U s`` is float64 (error ``<= 4 n K 2^-53`` of the magnitudes) rounded
    once (``u |I|``).
    """
    batch, n_pre, n_post, k_steps = 2, 784, 30, 100
    spec = _spec(eta_up0=1.0, tau_w=0.1, dims=(n_pre, n_post, 4), input_mode="fast")
    op = lower(spec, build_topology(spec)).synapse("ff_1")
    h = float(op.resolved.values["h"])
    assert h == pytest.approx(0.1)
    rng = np.random.default_rng(7)
    f32 = np.float32
    g0 = rng.uniform(-0.1, 0.1, (batch, n_pre, n_post)).astype(f32)
    d0 = rng.uniform(-1e-3, 1e-3, (batch, n_pre, n_post)).astype(f32)
    w_exact = {"g": g0.copy(), "delta": d0.copy()}
    w_fast = {"g": g0.copy(), "delta": d0.copy()}
    pre = {"rate": np.zeros((batch, n_pre), f32), "rate_last": np.zeros((batch, n_pre), f32)}
    post = {v: np.zeros((batch, n_post), f32) for v in ("rate", "rate_basal")}
    exact = synapse_step(op.model, op.resolved, False, {})
    fast = Factorised(op, synapse_step(op.model, op.resolved, False, {}), w_fast, pre, post,
                      batch, f32)  # fmt: skip
    fast.begin({"learning": True, "teaching": True})
    rates, lasts = _pre_schedule(rng, batch, n_pre, k_steps)
    m_g = m_d = m_t = 0.0
    worst_in, bound_in = [], []
    e_g = 0.0
    for k in range(k_steps):
        pre["rate"][...], pre["rate_last"][...] = rates[k], lasts[k]
        post["rate"][...] = rng.uniform(0, 1, (batch, n_post))
        post["rate_basal"][...] = rng.uniform(0, 1, (batch, n_post))
        sw = {"learning": k >= 5, "teaching": True}
        exact.update(w_exact, pre, post, op.switches(sw))
        i_exact = exact.input_sum(w_exact, pre, post, op.switches(sw))
        i_fast = fast(sw)
        e = (f32(spec.dt * 1.0) * (post["rate"] - post["rate_basal"])).astype(np.float64)
        m_t = max(m_t, float(np.abs(e[:, None, :] * pre["rate_last"][:, :, None]).max()))
        m_g = max(m_g, float(np.abs(w_exact["g"]).max()))
        m_d = max(m_d, float(np.abs(w_exact["delta"]).max()))
        c = 3 * h * m_t + (1 + 2 * h) * m_d
        kk = k + 1
        e_g = kk * U32 * m_g + kk * (kk - 1) / 2 * U32 * c
        x = pre["rate"].astype(np.float64)
        s_abs = np.einsum("bij,bi->bj", np.abs(w_exact["g"].astype(np.float64)), x)
        gamma = n_pre * U32 / (1 - n_pre * U32)
        b_in = gamma * s_abs + (e_g + 3 * U32 * m_g) * x.sum(1)[:, None]
        b_in += U32 * np.abs(i_exact) + 4 * n_pre * kk * U64 * (s_abs + 1.0)
        worst_in.append(np.abs(i_fast.astype(np.float64) - i_exact).max())
        bound_in.append(float(b_in.min()))
        assert np.all(np.abs(i_fast.astype(np.float64) - i_exact) <= b_in), k
    fast.flush()
    segments = 3
    k = k_steps
    b_g = e_g + segments * U32 * m_g + 8 * k * k * U64 * (m_g + m_d + m_t)
    b_d = k * U32 * c + segments * U32 * m_d + 8 * k * k * U64 * (m_d + m_t)
    d_g = np.abs(w_fast["g"].astype(np.float64) - w_exact["g"]).max()
    d_d = np.abs(w_fast["delta"].astype(np.float64) - w_exact["delta"]).max()
    assert d_g <= b_g and d_d <= b_d, (d_g, b_g, d_d, b_d)
    # the bound is not vacuous: the weights moved by far more than it allows
    assert np.abs(w_exact["g"] - g0).max() > 100 * b_g
    assert max(worst_in) > 0  # the two evaluations do differ (in rounding)


# ---------------------------------------------------------------------- the whole network
def _data(n=3, seed=1):
    rng = np.random.default_rng(seed)
    x = rng.uniform(0, 1, (n, DIMS[0])).astype(np.float32)
    x[:, :10] = 0.0
    t = np.full((n, DIMS[-1]), 0.1, np.float32)
    t[np.arange(n), rng.integers(0, DIMS[-1], n)] = 1.0
    return x, t


def _one_sample(backend, learning, state, **changes):
    x, t = _data()
    sim = build_network(_spec(eta_up0=1000.0, **changes), [0, 1], backend=backend)
    sim.set_state(state)
    sim.run_stage(x[1:2], t[1:2], learning=learning, teaching=learning)
    return sim.get_state()


@pytest.mark.parametrize("learning", [True, False], ids=["learning", "no-learning"])
@pytest.mark.parametrize("backend", BACKENDS)
def test_one_sample_fast_vs_exact_within_float32_round_off(backend, learning):
    r"""From the same state, one sample (100 steps): every rate, voltage and weight.

    Both modes are float32 evaluations of the same real-arithmetic trajectory; they differ
    only in where they round (the fast mode replaces, in the input projection, the
    per-step float32 weight updates and the float32 input sums by float64 sums rounded
    once, see the test above; everything else rounds identically). The same network,
    started from the same state and given the same noise, is run in float64 (exact mode)
    as the stand-in for real arithmetic (its own round-off is ~2^-29 of float32's). Per
    variable, ``E = max |exact32 - float64|`` is the float32 round-off of this network
    over this sample, as its dynamics propagate it. The fast mode makes no more roundings
    per step than the exact mode, so its distance to the real trajectory is bounded alike:
    we require ``|fast32 - float64| <= 2 (E + ulp)`` and hence (triangle inequality)
    ``|fast32 - exact32| <= 3 (E + ulp)``, ``ulp`` the spacing of float32 at the
    variable's largest value (for variables where ``E`` happens to be 0). The learning
    rate of the input projection is large (``eta_up = 1000``), so its increments matter.
    Without learning the weights do not change at all: bit-identical.
    """
    x, t = _data()
    warm = build_network(_spec(eta_up0=1000.0), [0, 1], backend=backend)
    warm.run_stage(x, t, learning=True, teaching=True)
    state = warm.get_state()
    exact = _one_sample(backend, learning, state)
    fast = _one_sample(backend, learning, state, input_mode="fast")
    f64 = _one_sample(backend, learning, state, dtype="float64")
    checked = 0
    for group in ("neurons", "synapses"):
        for owner, arrays in exact[group].items():
            for var, a in arrays.items():
                f, d = fast[group][owner][var], f64[group][owner][var]
                if a.dtype.kind != "f":
                    np.testing.assert_array_equal(a, f)
                    continue
                e = np.abs(a.astype(np.float64) - d).max()
                ulp = float(np.spacing(np.float32(np.abs(a).max())))
                where = f"{group} {owner}.{var}"
                assert np.abs(f.astype(np.float64) - d).max() <= 2 * (e + ulp), where
                assert np.abs(f.astype(np.float64) - a).max() <= 3 * (e + ulp), where
                checked += 1
                if group == "synapses" and not learning:
                    np.testing.assert_array_equal(a, f, err_msg=where)
    assert checked > 40
    moved = np.abs(fast["synapses"]["ff_1"]["g"] - state["synapses"]["ff_1"]["g"]).max()
    assert (moved > 0) == learning


@pytest.mark.skipif(not HAVE_NUMBA, reason="the compiled backend needs numba")
@pytest.mark.parametrize("chunk", [4096, 100], ids=["one-chunk", "chunk-per-sample"])
def test_reference_and_compiled_run_the_same_fast_algorithm_bit_for_bit(monkeypatch, chunk):
    """Batch 3, own orders per member (one shows a sample twice in a row, so its rates do not
    change at the switch), a stage with learning, one without, records of the weights; the
    compiled stage in one kernel call or one per sample."""
    from mc_network import RecordPlan
    from mc_network.backends import compiled

    monkeypatch.setattr(compiled, "_MAX_CHUNK_STEPS", chunk)
    x, t = _data(n=4, seed=3)
    rng = np.random.default_rng(0)
    order = np.stack([rng.permutation(4) for _ in range(2)] + [np.array([2, 2, 0, 1])])
    plan = RecordPlan(("pyramidal_1.v_basal", "ff_1.g", "ff_1.delta"), every=37)
    out = {}
    for backend in ("reference", "compiled"):
        sim = build_network(_spec(eta_up0=1000.0, input_mode="fast"), [0, 1, 2], backend=backend)
        r1 = sim.run_stage(x, t, order, learning=True, teaching=True, record=plan)
        sim.run_stage(x, t, order, learning=False, teaching=False)
        out[backend] = (r1, sim.get_state())
    (a1, sa), (b1, sb) = out["reference"], out["compiled"]
    for k in a1:
        np.testing.assert_array_equal(a1[k], b1[k], err_msg=k)
    for group in ("neurons", "synapses"):
        for owner in sa[group]:
            for var in sa[group][owner]:
                np.testing.assert_array_equal(
                    sa[group][owner][var], sb[group][owner][var], err_msg=f"{owner}.{var}"
                )


# ---------------------------------------------------------------------- selection
def test_input_mode_is_validated_and_recorded():
    with pytest.raises(SpecError, match="input_mode: 'quick' is not valid"):
        _spec(input_mode="quick")
    spec = NetworkSpec.from_dict({**_spec().to_dict(), "input_mode": "fast"})
    assert spec.input_mode == "fast" and spec.to_dict()["input_mode"] == "fast"
    assert _spec().to_dict()["input_mode"] == "exact"
    sim = build_network(spec, [0], backend="reference")
    assert sim.input_info() == {"input_mode": "fast", "fast_projections": ["ff_1"]}
    exact = build_network(_spec(), [0], backend="reference").input_info()
    assert exact == {"input_mode": "exact", "fast_projections": []}


def test_tau0_above_dt_warns_once_per_build(caplog):
    spec = _spec(input_mode="fast").replace(player=dataclasses.replace(_spec().player, tau_0=0.05))
    with caplog.at_level("WARNING", logger="mc_network.program"):
        lower(spec, build_topology(spec))
    assert sum("tau_0" in r.getMessage() for r in caplog.records) == 1


@pytest.mark.parametrize("learning", [True, False], ids=["learning", "no-learning"])
def test_one_segment_per_sample_one_exact_step(monkeypatch, learning):
    """With ``tau_0 = dt``: per sample one segment, one step (sometimes two) exact.

    The first step of a sample still reads the previous sample (the player switches after
    the synapses), so it continues the previous sample's segment; the second reads
    ``rate_last`` of the previous sample and runs exactly. The rates may take a step more to
    settle in float32 (``r + (x - r)`` need not be ``x``). The stage's first sample: its
    first step is exact (no segment starts in a sample's first step; the players' stage
    start sets ``rate`` and ``rate_last`` to it, so the second may start one). Write-backs: one
    per sample where the rule learned (the last one at the end of the stage), none without
    learning.
    """
    starts, exact_steps, writebacks = [], [], []
    real_start, real_call, real_flush = Factorised._start, Factorised.__call__, Factorised.flush

    def start(self, members, rates):
        starts.append(int(members.sum()))
        return real_start(self, members, rates)

    def call(self, switches, sample_start=False):
        out = real_call(self, switches, sample_start)
        exact_steps.append(int((~self.on).sum()))
        return out

    def flush(self, members=None):
        m = self.on.copy() if members is None else members
        writebacks.append(int((m & (self.A != 0.0)).sum()))
        return real_flush(self, members)

    monkeypatch.setattr(Factorised, "_start", start)
    monkeypatch.setattr(Factorised, "__call__", call)
    monkeypatch.setattr(Factorised, "flush", flush)
    n = 5
    x, t = _data(n, seed=3)
    sim = build_network(_spec(input_mode="fast"), [0, 1], backend="reference")
    sim.run_stage(x, t, learning=learning, teaching=learning)
    steps = sim.spec.steps_per_sample
    assert sum(starts) == 2 * n  # two members, one segment per sample each
    per_step = np.array(exact_steps).reshape(n, steps)  # members running exactly, per step
    for i, row in enumerate(per_step):
        lead = 0 if i == 0 else 1  # the first step continues the previous sample's segment
        assert (row[:lead] == 0).all(), (i, row[:6])
        exact = int((row[lead:] == 2).sum())  # both members exact, then neither
        assert (row[lead : lead + exact] == 2).all(), (i, row[:6])
        assert (row[lead + exact :] == 0).all(), (i, row[:6])
        assert 1 <= exact <= (3 if i == 0 else 2), (i, exact)
    assert sum(writebacks) == (2 * n if learning else 0)


# ---------------------------------------------------------------------- GeNN
@pytest.fixture(scope="module")
def genn_cache(tmp_path_factory):
    return os.environ.get("MC_GENN_CACHE") or str(tmp_path_factory.mktemp("genn-cache"))


def _run_stages(backend, mode, order, cache):
    x, t = _data(n=4, seed=3)
    kw = {"cache_dir": cache} if backend == "genn" else {}
    spec = _spec(eta_up0=1000.0, input_mode=mode, pyramidal=PyramidalParams(sigma_noise=0.0))
    sim = build_network(spec, [0, 1, 2], backend=backend, **kw)
    plan = RecordPlan(("pyramidal_1.v_basal", "ff_1.g", "ff_1.delta"), every=37)
    rec = sim.run_stage(x, t, order, learning=True, teaching=True, record=plan)
    sim.run_stage(x, t, order, learning=False, teaching=False)
    info = (sim.input_info(), sim.build_info())
    state = sim.get_state()
    sim.close()
    return rec, state, info


@pytest.mark.genn
@pytest.mark.skipif(not HAVE_PYGENN, reason="pygenn 5 is not installed (see the README)")
@pytest.mark.parametrize("copies", [False, True], ids=["cpu", "with-host-copies"])
def test_genn_cpu_fast_input_equals_the_reference_bit_for_bit(genn_cache, monkeypatch, copies):
    """Batch 3 with own orders (one member shows a sample twice in a row, so its rates do not
    change at the switch), a stage with learning and records of the weights, one without;
    noise off (GeNN's noise is its own). ``with-host-copies``: the segments pull and push
    around every use of the host arrays, as on CUDA (on the CPU a pull or push changes
    nothing, so the numbers must stay the same)."""
    from mc_network.backends import _genn_fast

    if copies:
        init = _genn_fast.Segments.__init__

        def with_copies(self, *args, **kwargs):
            init(self, *args, **{**kwargs, "copies": True})

        monkeypatch.setattr(_genn_fast.Segments, "__init__", with_copies)

    rng = np.random.default_rng(0)
    order = np.stack([rng.permutation(4) for _ in range(2)] + [np.array([2, 2, 0, 1])])
    starts = []
    real = _genn_fast.Segments._start

    def start(self, rates):
        starts.append(1)
        return real(self, rates)

    monkeypatch.setattr(_genn_fast.Segments, "_start", start)
    ref_rec, ref_state, _ = _run_stages("reference", "fast", order, genn_cache)
    rec, state, (info, build) = _run_stages("genn", "fast", order, genn_cache)
    assert info == {"input_mode": "fast", "fast_projections": ["ff_1"]}
    assert build["device"] == "single_threaded_cpu" and build["exact"] is True
    assert len(starts) >= 3 * 4  # the segments ran on GeNN (one per sample and member at least)
    for k in ref_rec:
        np.testing.assert_array_equal(rec[k], ref_rec[k], err_msg=k)
    for group in ("neurons", "synapses"):
        for owner, arrays in ref_state[group].items():
            for var, a in arrays.items():
                np.testing.assert_array_equal(state[group][owner][var], a, err_msg=f"{owner}.{var}")
    # and the fast mode is not the exact one (its rounding differs where the weights learn)
    _, exact_state, _ = _run_stages("reference", "exact", order, genn_cache)
    g_fast, g_exact = state["synapses"]["ff_1"]["g"], exact_state["synapses"]["ff_1"]["g"]
    assert not np.array_equal(g_fast, g_exact)
    np.testing.assert_allclose(g_fast, g_exact, rtol=0, atol=1e-4)


@pytest.mark.genn
@pytest.mark.skipif(not HAVE_PYGENN, reason="pygenn 5 is not installed (see the README)")
def test_genn_fast_and_exact_input_build_different_code(genn_cache):
    exact = build_network(_spec(), [0], backend="genn", cache_dir=genn_cache)
    fast = build_network(_spec(input_mode="fast"), [0], backend="genn", cache_dir=genn_cache)
    try:
        assert exact.key != fast.key
        assert exact.input_info()["fast_projections"] == []
        assert fast.input_info()["fast_projections"] == ["ff_1"]
    finally:
        exact.close()
        fast.close()


@pytest.mark.skipif(not HAVE_NUMBA, reason="the compiled backend needs numba")
def test_silent_inputs_are_left_out_of_a_segment_start_on_both_backends():
    """A segment's start skips the rows of silent inputs (most pixels of a digit): the
    compiled kernel does not read them and the reference leaves them out, so even a
    non-finite weight there (``inf * 0`` is NaN) gives the same numbers on both; inside the
    segments the basal input stays finite, where the exact steps between them are NaN."""
    from mc_network import RecordPlan

    x, t = _data(n=4, seed=3)
    assert (x[:, 0] == 0).all()
    plan = RecordPlan(("pyramidal_1.v_basal",), every=1)
    out = {}
    for backend in ("reference", "compiled"):
        sim = build_network(_spec(input_mode="fast"), [0, 1], backend=backend)
        state = sim.get_state()
        state["synapses"]["ff_1"]["g"][:, 0, :] = np.inf
        sim.set_state(state)
        with np.errstate(invalid="ignore"):  # the exact steps' inf * 0
            out[backend] = sim.run_stage(x, t, learning=False, teaching=False, record=plan)
    ref, comp = out["reference"]["pyramidal_1.v_basal"], out["compiled"]["pyramidal_1.v_basal"]
    np.testing.assert_array_equal(ref, comp)
    finite = np.isfinite(ref).all(axis=-1)  # (member, step)
    assert finite.any(axis=1).all() and not finite.all()

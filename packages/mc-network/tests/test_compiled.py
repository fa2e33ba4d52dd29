"""The compiled backend against the NumPy reference: same trajectories, bit for bit in float32.

Every test reuses a few network structures, so that numba compiles at most three kernels
(cached on disk for later runs).
"""

import numpy as np
import pytest

pytest.importorskip(
    "numba", reason="the compiled backend needs numba: pip install 'mc-network[compiled]'"
)

from mc_network import (  # noqa: E402
    BiasParams,
    NetworkSpec,
    PlasticityParams,
    PlayerParams,
    PyramidalParams,
    RecordPlan,
    build_network,
    yinyang_spec,
)
from mc_network.backends import compiled  # noqa: E402
from mc_network.backends._pcg64 import get_streams, normal_f32, put_streams  # noqa: E402

N_SAMPLES = 21  # 2100 steps per stage


def everything(net, every=1):
    """Every neuron variable of every population and every weight and delta matrix."""
    names = []
    for pop in net.topology.populations:
        names += [f"{pop.name}.{v}" for v in net.neuron_var_names(pop.kind)]
    for proj in net.topology.projections:
        if not proj.one_to_one:
            names.append(f"{proj.name}.g")
            if proj.has_delta:
                names.append(f"{proj.name}.delta")
    return RecordPlan(tuple(names), every=every)


def stage(net, x, t, order, plan, learning=True, teaching=True):
    return net.run_stage(x, t, order, learning=learning, teaching=teaching, record=plan)


def assert_same(a, b, what=""):
    assert a.keys() == b.keys()
    for k in a:
        assert a[k].dtype == b[k].dtype and a[k].shape == b[k].shape, (what, k)
        np.testing.assert_array_equal(a[k], b[k], err_msg=f"{what} {k}")


def assert_same_state(sa, sb):
    assert sa["noise_rng"] == sb["noise_rng"]
    for group in ("neurons", "synapses"):
        assert sa[group].keys() == sb[group].keys()
        for owner in sa[group]:
            assert_same(sa[group][owner], sb[group][owner], f"{group} {owner}")


def inputs(data, n_in, n_out, batch, seed=0):
    x, t = data(N_SAMPLES, n_in, n_out, seed=seed)
    rng = np.random.default_rng(seed + 100)
    order = np.stack([rng.permutation(N_SAMPLES) for _ in range(batch)])
    xs = np.stack([x * (1.0 - 0.1 * b) for b in range(batch)])
    return xs, t, order


def deep_spec(**changes):
    """Two hidden layers, bias, soft-ReLU, plain (non-LE) dynamics, PAL in both layers."""
    return NetworkSpec(
        dims=(4, 6, 5, 3),
        activation="soft_relu",
        le_active=False,
        bias=BiasParams(enabled=True, value=0.5),
        pyramidal=PyramidalParams(sigma_noise=0.01),
        plasticity=PlasticityParams(
            eta_up=(1.0, 0.5, 0.1), eta_ip=(0.05, 0.05), eta_pi=(0.02, 0.02), eta_down=(0.5, 0.3)
        ),
        **changes,
    )


@pytest.mark.parametrize("batch", [1, 3])
@pytest.mark.parametrize("feedback", ["fa", "pal"])
def test_yinyang_trajectories_bit_identical(data, feedback, batch):
    spec = yinyang_spec(feedback)
    seeds = list(range(7, 7 + batch))
    x, t, order = inputs(data, 4, 3, batch)
    ref = build_network(spec, seeds, backend="reference")
    com = build_network(spec, seeds, backend="compiled")
    plan = everything(ref)
    train = stage(ref, x, t, order, plan), stage(com, x, t, order, plan)
    assert_same(*train, f"{feedback} training")
    test = [stage(n, x, t, order, plan, learning=False, teaching=False) for n in (ref, com)]
    assert_same(*test, f"{feedback} test")
    assert_same_state(ref.get_state(), com.get_state())
    if feedback == "pal":  # the noise really ran and B really learned
        assert train[1]["pyramidal_1.noise"].std() > 1e-3
        assert not np.array_equal(train[1]["fb_1.g"][:, 0], train[1]["fb_1.g"][:, -1])


def test_deep_bias_softrelu_no_le_bit_identical(data):
    spec = deep_spec()
    x, t, order = inputs(data, 4, 3, 2, seed=3)
    ref = build_network(spec, [1, 2], backend="reference")
    com = build_network(spec, [1, 2], backend="compiled")
    plan = everything(ref, every=3)
    assert_same(stage(ref, x, t, order, plan), stage(com, x, t, order, plan), "deep")
    assert_same_state(ref.get_state(), com.get_state())


def test_teacher_mute_learning_lag_and_chunks(data, monkeypatch):
    # small chunks: several kernel calls per stage (noise streams handed back and forth),
    # records split across chunk boundaries, progress once per chunk; members on two
    # threads whatever the machine (no barrier between chunks)
    monkeypatch.setattr(compiled, "_MAX_CHUNK_STEPS", 300)
    monkeypatch.setenv("MC_NETWORK_THREADS", "2")
    spec = yinyang_spec("pal", player=PlayerParams(teacher_mute=0.2, learning_lag=0.3))
    x, t, order = inputs(data, 4, 3, 2, seed=5)
    ref = build_network(spec, [3, 4], backend="reference")
    com = build_network(spec, [3, 4], backend="compiled")
    plan = everything(ref, every=7)
    done = []
    rc = com.run_stage(x, t, order, learning=True, teaching=True, record=plan, progress=done.append)
    assert_same(stage(ref, x, t, order, plan), rc, "mute/lag")
    assert done == [3, 6, 9, 12, 15, 18, 21]
    assert_same_state(ref.get_state(), com.get_state())


def test_members_in_parallel_keeps_each_members_chunks_in_order_and_raises():
    from concurrent.futures import ThreadPoolExecutor

    events, fail = [], [None]

    def run(b, k):
        if (b, k) == fail[0]:
            raise ValueError(f"member {b}, chunk {k}")
        events.append(("run", b, k))

    def chunk_done(b, k):
        events.append(("done", b, k))

    def of(b):
        return [e for e in events if e[1] == b]

    with ThreadPoolExecutor(2) as pool:
        compiled.members_in_parallel(pool, 3, 4, run, chunk_done)
        for b in range(3):  # every chunk once, in order, each followed by its chunk_done
            assert of(b) == [(w, b, k) for k in range(4) for w in ("run", "done")]
        events.clear()
        fail[0] = (1, 2)
        with pytest.raises(ValueError, match="member 1, chunk 2"):
            compiled.members_in_parallel(pool, 3, 4, run, chunk_done)
    assert of(1) == [(w, 1, k) for k in range(2) for w in ("run", "done")]


def _bits(a):
    a = np.asarray(a)
    return a.view(f"u{a.itemsize}") if a.dtype.kind == "f" else a


@pytest.mark.parametrize("mode", ["exact", "fast"])
def test_held_players_equal_the_reference_bit_for_bit(data, mode, monkeypatch):
    # The compiled kernel runs only a rate player's counters where its model promises that
    # the update changes nothing (NeuronModel.hold), and keeps the fast mode's segment test
    # while its input is held. Here the rates creep to their float32 fixed point (tau_0 =
    # 3 dt: about 45 steps), the teacher is muted for 60 steps and reaches its base rate
    # within them (no hold across the mute window's end), one member sees a sample three
    # times in a row, chunks end mid-sample, and some inputs are -0.0, the first sample's
    # among them: at the stage start such a rate goes from -0.0 to +0.0 in the first
    # update, equal as numbers but not in bits, so the player is not at rest there.
    # Compared as bits (a -0.0 where the reference has +0.0 fails): records, final state.
    monkeypatch.setattr(compiled, "_MAX_CHUNK_STEPS", 250)
    player = PlayerParams(tau_0=0.03, teacher_mute=0.6)
    spec = yinyang_spec("pal", input_mode=mode, player=player)
    x, t, order = inputs(data, 4, 3, 2, seed=7)
    x[:, ::3, 1] = -0.0
    x[[0, 1], order[:, 0], 1] = -0.0
    order[1, 4:7] = order[1, 4]
    nets = [build_network(spec, [5, 6], backend=b) for b in ("reference", "compiled")]
    plan = everything(nets[0], every=3)
    ref, com = (stage(net, x, t, order, plan) for net in nets)
    for k in ref:
        np.testing.assert_array_equal(_bits(com[k]), _bits(ref[k]), err_msg=k)
    sa, sb = (net.get_state() for net in nets)
    assert sa["noise_rng"] == sb["noise_rng"]
    for group in ("neurons", "synapses"):
        for owner, arrays in sa[group].items():
            for var, a in arrays.items():
                where = f"{owner}.{var}"
                np.testing.assert_array_equal(_bits(sb[group][owner][var]), _bits(a), where)
    rates = ref["input.rate"]
    assert (rates[:, 1:] == rates[:, :-1]).any() and (rates[:, 1:] != rates[:, :-1]).any()


def test_batch_member_equals_lone_run(data):
    spec = yinyang_spec("pal")
    x, t, order = inputs(data, 4, 3, 3, seed=1)
    plan = everything(build_network(spec, 0, backend="compiled"), every=10)
    batch = build_network(spec, [11, 12, 13], backend="compiled")
    rb = stage(batch, x, t, order, plan)
    lone = build_network(spec, 12, backend="compiled")
    rl = stage(lone, x[1], t, order[1], plan)
    for k in rl:
        np.testing.assert_array_equal(rb[k][1], rl[k][0], err_msg=k)


def test_state_round_trip_and_cross_loading(data):
    spec = yinyang_spec("pal")
    x, t, order = inputs(data, 4, 3, 2, seed=2)
    half = N_SAMPLES // 2
    xa, xb, oa = x[:, :half], x[:, half:], order[:, :half] % half
    ta, tb, ob = t[:half], t[half:], order[:, : N_SAMPLES - half] % (N_SAMPLES - half)
    plan = RecordPlan(("output.rate", "pyramidal_1.v_apical", "fb_1.g", "ff_1.delta"), every=5)

    a = build_network(spec, [1, 2], backend="compiled")
    stage(a, xa, ta, oa, plan)
    saved = a.get_state()
    cont = stage(a, xb, tb, ob, plan)  # run, save, run more ...

    b = build_network(spec, [8, 9], backend="compiled")  # other seeds: everything is restored
    b.set_state(saved)
    assert_same(cont, stage(b, xb, tb, ob, plan), "restored")  # ... = restore and run more
    assert_same_state(a.get_state(), b.get_state())

    r = build_network(spec, [5, 6], backend="reference")  # compiled state -> reference
    r.set_state(saved)
    assert_same_state(r.get_state(), saved)
    assert_same(cont, stage(r, xb, tb, ob, plan), "compiled -> reference")

    r2 = build_network(spec, [1, 2], backend="reference")  # reference state -> compiled
    stage(r2, xa, ta, oa, plan)
    c2 = build_network(spec, [0, 0], backend="compiled")
    c2.set_state(r2.get_state())
    assert_same_state(c2.get_state(), saved)
    assert_same(cont, stage(c2, xb, tb, ob, plan), "reference -> compiled")


def test_state_checks(data):
    net = build_network(yinyang_spec("fa"), [1, 2], backend="compiled")
    state = net.get_state()
    bad = {**state, "neurons": {**state["neurons"], "nowhere": {"rate": np.zeros((2, 3))}}}
    with pytest.raises(KeyError, match="nowhere"):
        net.set_state(bad)
    bad = {**state, "synapses": {**state["synapses"], "ff_1": {"g": np.zeros((2, 3, 3))}}}
    with pytest.raises(ValueError, match="ff_1"):
        net.set_state(bad)
    with pytest.raises(ValueError, match="noise streams"):
        net.set_state({**state, "noise_rng": state["noise_rng"][:1]})
    net.set_weights({"ff_1": np.ones((4, 30))})
    np.testing.assert_array_equal(net.get_weights()["ff_1"], np.ones((2, 4, 30), np.float32))


def test_float64_close_to_reference(data):
    # float64 exp/log: NumPy's SIMD routines and the C library differ in the last bit of some
    # results, which float64 state keeps (float32 rounding hides it); the runs stay within
    # a few float64 ulps of each other
    spec = yinyang_spec("pal", dtype="float64")
    x, t, order = inputs(data, 4, 3, 1, seed=4)
    ref = build_network(spec, [3], backend="reference")
    com = build_network(spec, [3], backend="compiled")
    plan = everything(ref, every=10)
    rr, rc = stage(ref, x, t, order, plan), stage(com, x, t, order, plan)
    for k in rr:
        assert rc[k].dtype == rr[k].dtype
        np.testing.assert_allclose(rc[k], rr[k], rtol=1e-10, atol=1e-13, err_msg=k)
    assert ref.get_state()["noise_rng"] == com.get_state()["noise_rng"]


def test_pcg64_normals_match_numpy():
    import numba

    @numba.njit
    def draw(st, out):
        for i in range(out.size):
            out[i] = normal_f32(st)

    for seed in (0, 1):
        a, b = np.random.default_rng(seed), np.random.default_rng(seed)
        a.standard_normal(3, dtype=np.float32)  # odd: half of a 64-bit output stays buffered
        b.standard_normal(3, dtype=np.float32)
        st = get_streams([b])
        out = np.empty(1_000_003, np.float32)
        draw(st[0], out)
        put_streams([b], st)
        np.testing.assert_array_equal(out, a.standard_normal(out.size, dtype=np.float32))
        assert np.sum(np.abs(out) > 3.6541529) > 50  # the ziggurat's tail was exercised
        assert a.bit_generator.state == b.bit_generator.state


@pytest.mark.parametrize("dims", [(4, 30, 3), (4, 30, 16)], ids=["real-lanes-loop", "padded-loop"])
def test_activations_the_guard_defers_are_the_scalar_ones_in_both_loops(data, dims):
    # The kernel evaluates the activations in one loop over their real lanes where padding
    # lanes are many (4-30-3: 56 of 128 lanes), else over all lanes (4-30-16: 4 of 128).
    # Large input weights drive basal potentials far below -86.6, where the sigmoid is
    # under 2^-125: the guard sends those to the scalar activation after the loop.
    spec = yinyang_spec("pal", dims=dims)
    x, t, order = inputs(data, 4, dims[-1], 2, seed=4)
    nets = [build_network(spec, [5, 6], backend=b) for b in ("reference", "compiled")]
    w = np.where(nets[0].get_weights()["ff_1"] < 0, np.float32(-100.0), np.float32(100.0))
    for net in nets:
        net.set_weights({"ff_1": w})
    plan = everything(nets[0], every=5)
    ref, com = (stage(net, x, t, order, plan) for net in nets)
    assert_same(ref, com, f"{dims}")
    assert_same_state(nets[0].get_state(), nets[1].get_state())
    rates = com["pyramidal_1.rate_basal"]
    assert ((rates > 0) & (rates < 2.0**-125)).any()  # the scalar activation's results

"""For every model, the NumPy and numba renderings agree bit for bit on random states.

The numba rendering is pasted into a small harness here, the way the compiled backend's
kernel generator pastes it into its kernels: one batch member at a time, the same
constants, the same draws and stage data.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from mc_models import get_activation, neuron_models, synapse_models
from mc_models.render import numba as rnb
from mc_models.render import numpy as rnp

numba = pytest.importorskip("numba", reason="the numba rendering needs numba")

ACTIVATIONS = ("sigmoid", "soft_relu", "sigmoid_stable")
B, N, N_PRE, N_SAMPLES = 3, 6, 5, 4


class StageData:
    """``sample(i)``: each member's stored rates at order position ``i``."""

    def __init__(self, rates, order):
        self.rates, self.order = rates, order

    def sample(self, index):
        b = np.arange(self.order.shape[0])
        idx = np.broadcast_to(np.asarray(index), (b.size, 1))[:, 0]
        return self.rates[b % self.rates.shape[0], self.order[b, idx]]


def _values(model, rng, dtype):
    """Random parameter values (every switch-free test on parameters both ways)."""
    values = {}
    for p in model.params:
        if p.name == "le_active":
            values[p.name] = float(rng.integers(0, 2))
        elif p.name == "threshold":
            values[p.name] = 1.5
        elif p.name in ("period", "mute_time"):
            values[p.name] = {"period": 0.05, "mute_time": 0.02}[p.name]
        else:
            values[p.name] = float(rng.uniform(0.05, 0.5))
    return model.resolve(values, 0.01, dtype)


def _random_state(model, params, rng, dtype):
    state = model.initial_state((B, N), dtype, params)
    for v in model.vars:
        if v.type == "scalar":
            state[v.name][...] = rng.normal(0, 2, (B, N))
    return state


def _neuron_harness(model, code):
    fvars = [v.name for v in model.vars if not v.shared]
    shared = [v.name for v in model.vars if v.shared]
    names = rnb.NeuronNames(
        prefix="p",
        size="S.shape[1]",
        var=lambda v: f"s_{v}",
        shared=lambda v: f"SH[{shared.index(v)}]",
        input=lambda i: f"IN[{model.inputs.index(i)}]",
        const=lambda k: f"C[{k}]",
        draw=lambda k: f"XI[{k} * S.shape[1] + j]",
        sample=lambda i: f"X[ORD[{i}], j]",
        switch=lambda s: f"(SW[{model.switches.index(s)}] != 0)",
        act="_act",
    )
    lines = [
        "def run(S, SH, IN, C, XI, X, ORD, SW):",
        *(f"    s_{v} = S[{k}]" for k, v in enumerate(fvars)),
        *("    " + ln for ln in code.lines(names)),
    ]
    return "\n".join(lines) + "\n"


def _namespace(act, dtype):
    """What a kernel defines before it pastes a rendering in: the activation, ``DT``."""
    ns = {"np": np, "math": math, "DT": np.dtype(dtype).type}
    exec("\n".join(rnb.activation_source(act, "_act")) + "\n", ns)
    ns["_act"] = numba.njit(ns["_act"])
    return ns


def _same(got, want, what):
    """Bit for bit in float32. In float64 the C library's exp/log (numba) and NumPy's may
    differ in the last bit, which float64 state keeps (float32 rounding hides it): a few
    ulp there."""
    if got.dtype == np.float32:
        np.testing.assert_array_equal(got, want, err_msg=what)
    else:
        np.testing.assert_array_max_ulp(got, want, maxulp=64)


CASES = [(a, np.float32) for a in ACTIVATIONS] + [("sigmoid", np.float64)]


@pytest.mark.parametrize(("act_name", "dtype"), CASES, ids=lambda c: getattr(c, "__name__", c))
@pytest.mark.parametrize("name", sorted(neuron_models()))
def test_neuron_numpy_and_numba_agree(name, act_name, dtype):
    model, act = neuron_models()[name], get_activation(act_name)
    rng = np.random.default_rng(sum(map(ord, name + act_name)))
    for trial in range(2):
        params = _values(model, rng, dtype)
        state = _random_state(model, params, rng, dtype)
        rates = rng.uniform(0, 1, (B, N_SAMPLES, N)).astype(dtype)
        order = np.stack([rng.permutation(N_SAMPLES) for _ in range(B)])
        data = StageData(rates, order)
        step = rnp.neuron_step(model, act, params)
        code = rnb.neuron_code(model, params.values, params.dtype)
        ns = _namespace(act, dtype)
        exec(_neuron_harness(model, code), ns)
        run = numba.njit(ns["run"])
        consts = np.array(code.values(params.values, params.dtype), dtype=dtype)
        fvars = [v.name for v in model.vars if not v.shared]
        shared = [v.name for v in model.vars if v.shared]
        step.stage_start(state, data)
        mine = {k: v.copy() for k, v in state.items()}
        per = [
            (
                np.stack([mine[v][b] for v in fvars]) if fvars else np.zeros((0, N), dtype),
                np.array([mine[v][b, 0] for v in shared], np.int64),
            )
            for b in range(B)
        ]
        for k in range(12):
            inputs = {i: rng.normal(0, 2, (B, N)).astype(dtype) for i in model.inputs}
            draws = [rng.standard_normal((B, N)).astype(dtype) for _ in range(model.n_draws)]
            sw = {s: bool((k + trial) % 2) for s in model.switches}
            step(state, inputs, sw, draws, data)
            for b in range(B):
                s_b, sh_b = per[b]
                inp = (
                    np.stack([inputs[i][b] for i in model.inputs])
                    if model.inputs
                    else np.zeros((0, N), dtype)
                )
                xi = np.concatenate([d[b] for d in draws]) if draws else np.zeros(1, dtype)
                swv = np.array([sw[s] for s in model.switches] or [0], np.int64)
                run(s_b, sh_b, inp, consts, xi, rates[b], order[b], swv)
            for v in fvars:
                got = np.stack([per[b][0][fvars.index(v)] for b in range(B)])
                _same(got, state[v], f"{name} {v} step {k}")
            for v in shared:
                got = np.array([[per[b][1][shared.index(v)]] for b in range(B)])
                np.testing.assert_array_equal(got, state[v], err_msg=f"{name} {v} step {k}")


def test_the_rate_players_hold_promise_keeps_on_its_reference_steps():
    # NeuronModel.hold: after an update that leaves each at_rest pair with the same bits,
    # an update that starts with hold true changes no per-neuron variable. Checked on the
    # NumPy step (the reference) through samples that creep to their fixed point (about 45
    # steps) within and after a mute window of 60, from a stage start with an input of
    # -0.0 (its rate turns +0.0 in the first update); the rendering the compiled
    # kernel runs instead has the update's counters and no per-neuron loop.
    from mc_models.render._lower import evaluate

    name = "rate_player"
    model = neuron_models()[name]
    values = {"period": 2.0, "tau": 0.03, "mute_time": 0.6, "base_rate": 0.1}
    params = model.resolve(values, 0.01, np.float32)
    rng = np.random.default_rng(3)
    rates = rng.uniform(0, 1, (B, N_SAMPLES, N)).astype(np.float32)
    order = np.stack([rng.permutation(N_SAMPLES) for _ in range(B)])
    rates[np.arange(B), order[:, 0], 0] = -0.0  # its rate: -0.0, then +0.0 from step 1 on
    data = StageData(rates, order)
    step = rnp.neuron_step(model, None, params)
    state = model.initial_state((B, N), np.float32, params)
    step.stage_start(state, data)
    fvars = [v.name for v in model.vars if not v.shared]
    shared = [v.name for v in model.vars if v.shared]

    def holds(b):
        at = {**params.values, **{v: int(state[v][b, 0]) for v in shared}}
        return bool(evaluate(model.hold_test, at, np.dtype(np.float32)))

    def bits(a):
        return a.view(np.uint32)

    rest = np.zeros(B, bool)
    held = 0
    for k in range(3 * 200):
        before = {v: state[v].copy() for v in fvars}
        steady = [b for b in range(B) if rest[b] and holds(b)]
        held += len(steady)
        step(state, {}, {}, [], data)
        for b in steady:
            for v in fvars:
                assert np.array_equal(bits(state[v][b]), bits(before[v][b])), (name, v, k)
        rest = [
            all((bits(state[u][b]) == bits(state[w][b])).all() for u, w in model.at_rest)
            for b in range(B)
        ]
    assert 3 * 60 < held < 3 * 200 * B  # held in every sample, not throughout
    code = rnb.neuron_code(model, params.values, np.float32)
    names = rnb.NeuronNames(
        prefix="p",
        size="n",
        var=lambda v: f"s_{v}",
        shared=lambda v: f"SH[{shared.index(v)}]",
        input=lambda i: "IN",
        const=lambda k: f"C[{k}]",
    )
    test, counters = code.hold(names)
    assert "SH[1]" in test and not any("for j" in ln or "s_" in ln for ln in counters)
    assert any(ln.strip().startswith("SH[1] = ") for ln in counters)
    pyramidal = neuron_models()["pyramidal"]
    plain = rnb.neuron_code(pyramidal, _values(pyramidal, rng, np.float32).values, np.float32)
    assert plain.hold(names) is None


def _synapse_harness(model, code, one_to_one):
    pre_refs = [v for _, v in model.pre_refs]
    post_refs = [v for _, v in model.post_refs]
    svars = list(model.var_names)
    names = rnb.SynapseNames(
        prefix="q",
        pre=lambda v: f"PRE[{pre_refs.index(v)}]",
        post=lambda v: f"POST[{post_refs.index(v)}]",
        var=lambda v: f"W[{svars.index(v)}]",
        const=lambda k: f"C[{k}]",
        post_term=lambda k: f"PT[{k}]",
        pre_term=lambda k: f"pr{k}",
    )
    lines = ["def run(W, PRE, POST, C, SW, ACC, PT, n_pre, n_post):"]
    lines.append("    for j in range(n_post):")
    lines.append("        ACC[j] = DT(0.0)")
    settings = code.settings() or [{}]
    for k, setting in enumerate(settings):
        test = (
            " and ".join(
                f"{'' if on else 'not '}(SW[{model.switches.index(s)}] != 0)"
                for s, on in setting.items()
            )
            or "True"
        )
        v = code.render(names, setting, one_to_one)
        lines.append(f"    {'if' if k == 0 else 'elif'} {test}:")
        if one_to_one:
            lines.append("        for j in range(n_post):")
            lines.append(
                f"            ACC[j] = DT(0.0) + {v.output}"
                if v.output
                else "            ACC[j] = DT(0.0)"
            )
            continue
        lines.append("        for j in range(n_post):")
        lines += ["            " + ln for ln in v.post_lines] or ["            pass"]
        lines.append("        for i in range(n_pre):")
        lines += ["            " + ln for ln in v.pre_lines]
        lines.append("            for j in range(n_post):")
        lines += ["                " + ln for ln in v.inner_lines]
        if v.output is not None:
            lines.append(f"                ACC[j] += {v.output}")
        else:
            lines.append("                pass")
    return "\n".join(lines) + "\n"


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("name", sorted(synapse_models()))
def test_synapse_numpy_and_numba_agree(name, dtype):
    model = synapse_models()[name]
    one_to_one = not model.vars
    n_pre = N if one_to_one else N_PRE
    rng = np.random.default_rng(sum(map(ord, name)))
    params = _values(model, rng, dtype)
    code = rnb.synapse_code(model, params.values, params.dtype)
    step = rnp.synapse_step(model, params, one_to_one)
    ns = _namespace(get_activation("sigmoid"), dtype)
    exec(_synapse_harness(model, code, one_to_one), ns)
    run = numba.njit(ns["run"])
    consts = np.array(code.values(params.values, params.dtype) or [0.0], dtype=dtype)
    w = {v: rng.normal(0, 1, (B, n_pre, N)).astype(dtype) for v in model.var_names}
    mine = {v: a.copy() for v, a in w.items()}
    for k in range(6):
        pre = {v: rng.normal(0, 1, (B, n_pre)).astype(dtype) for _, v in model.pre_refs}
        post = {v: rng.normal(0, 1, (B, N)).astype(dtype) for _, v in model.post_refs}
        post.setdefault("rate", np.zeros((B, N), dtype))
        pre.setdefault("rate", np.zeros((B, n_pre), dtype))
        sw = {s: bool(k % 2) for s in model.switches}
        step.update(w, pre, post, sw)
        want = step.input_sum(w, pre, post, sw)
        for b in range(B):
            W = (
                np.stack([mine[v][b] for v in model.var_names])
                if model.var_names
                else np.zeros((0, n_pre, N), dtype)
            )
            PRE = (
                np.stack([pre[v][b] for _, v in model.pre_refs])
                if model.pre_refs
                else np.zeros((0, n_pre), dtype)
            )
            POST = (
                np.stack([post[v][b] for _, v in model.post_refs])
                if model.post_refs
                else np.zeros((0, N), dtype)
            )
            acc = np.zeros(N, dtype)
            swv = np.array([sw[s] for s in model.switches] or [0], np.int64)
            run(W, PRE, POST, consts, swv, acc, np.zeros((4, N), dtype), n_pre, N)
            for i, v in enumerate(model.var_names):
                mine[v][b] = W[i]
            expect = want[b] if want is not None else np.zeros(N, dtype)
            np.testing.assert_array_equal(acc, expect, err_msg=f"{name} input step {k}")
        for v in model.var_names:
            np.testing.assert_array_equal(mine[v], w[v], err_msg=f"{name} {v} step {k}")

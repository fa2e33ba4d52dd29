"""The GeNN renderings, compiled and run by pygenn 5 (skipped where pygenn does not import).

mc-models never imports pygenn; these tests hand its plain-data renderings to pygenn.
"""

from __future__ import annotations

import numpy as np
import pytest
from test_activations import BOUNDARY_THRESHOLDS, boundary_points, expected_at_boundary

from mc_models import get_activation, neuron_models, synapse_models
from mc_models.render import genn

pg = pytest.importorskip(
    "pygenn", reason="pygenn 5 is not installed: the GeNN rendering tests need it"
)


def _run_once(tmp_path, name, neuron_kwargs, n, params, init):
    """Build a one-population model, run one step, return the population."""
    model = pg.GeNNModel("float", name, backend="single_threaded_cpu")
    model.dt = 0.01
    snippet = pg.create_neuron_model(f"{name}_neuron", **neuron_kwargs)
    pop = model.add_neuron_population("pop", n, snippet, params, init)
    model.build(path_to_model=str(tmp_path))
    model.load()
    model.step_time()
    return model, pop


@pytest.mark.parametrize("name", ["sigmoid_stable", "soft_relu"])
def test_genn_snippet_at_the_threshold(tmp_path, name):
    act = get_activation(name)
    xs = np.concatenate([boundary_points(t) for t in BOUNDARY_THRESHOLDS])
    thr = np.repeat(np.array(BOUNDARY_THRESHOLDS, np.float32), 6)
    kwargs = {
        "vars": [("x", "scalar"), ("thr", "scalar"), ("y", "scalar")],
        "sim_code": act.render("y", "x", thr="thr"),
    }
    model, pop = _run_once(
        tmp_path, f"probe_{name}", kwargs, xs.size, {}, {"x": xs, "thr": thr, "y": 0.0}
    )
    pop.vars["y"].pull_from_device()
    got = np.array(pop.vars["y"].view, dtype=np.float32).ravel()
    expect = np.concatenate([expected_at_boundary(name, t) for t in BOUNDARY_THRESHOLDS])
    model.unload()
    np.testing.assert_array_equal(got, expect)


def _compatible_population(models, wanted_vars, need_input=False):
    for name, m in sorted(models.items()):
        if set(wanted_vars) <= set(m.var_names) and (m.inputs or not need_input):
            return name
    return None


def test_every_model_compiles_and_steps(tmp_path):
    """Every registered model, rendered for GeNN, in one model: built, loaded, stepped."""
    act = get_activation("sigmoid")
    neurons, synapses = neuron_models(), synapse_models()
    model = pg.GeNNModel("float", "all_models", backend="single_threaded_cpu")
    model.dt = 0.01
    pops, keep = {}, []  # pygenn holds the snippets by reference: keep them alive
    for name, nm in sorted(neurons.items()):
        kw = genn.neuron_model_kwargs(nm, act)
        cls = kw.pop("class_name")
        values = nm.resolve({p.name: 0.5 for p in nm.params if p.default is None}, 0.01, np.float64)
        params = {p: float(values[p]) for p in nm.param_names}
        params.update({s: 1.0 for s in nm.switches})
        init = {v.name: float(v.initial_value(values)) for v in nm.vars}
        init.update({v.name: v.init for v in genn.SAMPLE_VARS} if nm.uses("sample") else {})
        keep.append(pg.create_neuron_model(cls, **kw))
        pop = model.add_neuron_population(name, 3, keep[-1], params, init)
        for s in nm.switches:
            pop.set_param_dynamic(s)
        if nm.uses("sample"):
            pop.extra_global_params["rates"].set_init_values(np.arange(12, dtype=np.float32))
            pop.extra_global_params["order"].set_init_values(np.array([1, 0, 3, 2], np.uint32))
        pops[name] = pop
    for name, sm in sorted(synapses.items()):
        kw = genn.weight_update_model_kwargs(sm, act)
        cls = kw.pop("class_name")
        for refs in ("pre_neuron_var_refs", "post_neuron_var_refs"):
            kw[refs] = [(n, t, pg.VarAccessMode.READ_ONLY) for n, t, _ in kw[refs]]
        pre = _compatible_population(neurons, [v for _, v in sm.pre_refs])
        post = _compatible_population(neurons, [v for _, v in sm.post_refs], need_input=True)
        assert pre and post, name
        values = sm.resolve({p.name: 0.5 for p in sm.params if p.default is None}, 0.01, np.float64)
        params = {p: float(values[p]) for p in sm.param_names}
        params.update({s: 1.0 for s in sm.switches})
        keep.append(pg.create_weight_update_model(cls, **kw))
        wu = pg.init_weight_update(
            keep[-1],
            params,
            {v.name: 0.1 for v in sm.vars},
            pre_var_refs={n: pg.create_var_ref(pops[pre], v) for n, v in sm.pre_refs},
            post_var_refs={n: pg.create_var_ref(pops[post], v) for n, v in sm.post_refs},
        )
        syn = model.add_synapse_population(
            f"syn_{name}", "DENSE", pops[pre], pops[post], wu, pg.init_postsynaptic("DeltaCurr")
        )
        syn.post_target_var = neurons[post].inputs[0]
        for s in sm.switches:
            syn.set_wu_param_dynamic(s)
    model.build(path_to_model=str(tmp_path))
    model.load()
    for _ in range(3):
        model.step_time()
    rate = pops["bias"].vars["rate"]
    rate.pull_from_device()
    np.testing.assert_array_equal(rate.view, np.float32(neurons["bias"].param("value").default))
    model.unload()

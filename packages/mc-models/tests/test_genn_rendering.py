"""The GeNN renderings, compiled and run by pygenn 5 (skipped where pygenn does not import).

mc-models never imports pygenn; these tests hand its plain-data renderings to pygenn.
"""

from __future__ import annotations

import numpy as np
import pytest
from test_activations import BOUNDARY_THRESHOLDS, boundary_points, expected_at_boundary

from mc_models import get_activation

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

"""A model defined here, outside the packages, runs on every backend from one declaration.

The feedback rule below relaxes B towards a target value while learning is on,

    B[k] = B[k-1] + (dt eta_B) (b - B[k-1])  =>  B[k] = b + (B[0] - b) (1 - dt eta_B)^k,

a closed form the run must follow; the reference and compiled backends must agree bit for
bit (and GeNN to round-off, where pygenn imports). It is registered under a name and chosen
in the network description like any built-in rule.
"""

from __future__ import annotations

import numpy as np
import pytest

from mc_models import Param, SynapseModel, Var, register
from mc_network import PyramidalParams, RecordPlan, RuleModels, build_network, section, yinyang_spec

RELAX = SynapseModel(
    name="test_relax_feedback",
    doc="B += (dt eta) (b_target - B) while learning; I_down += B r_pre.",
    params=(
        Param("eta", "learning rate"),
        Param("b_target", "the value B relaxes to", 0.25, domain="any"),
    ),
    vars=(Var("g", "weight"),),
    switches=("learning",),
    update="""
if learning:
    g += (dt * eta) * (b_target - g)
""",
    output="g * rate_pre",
)
register(RELAX)
B_TARGET = 0.25


def _spec(dtype="float32"):
    return yinyang_spec(
        "pal",
        dtype=dtype,
        pyramidal=PyramidalParams(sigma_noise=0.0),
        rules=RuleModels(feedback=section("feedback", model=RELAX.name, b_target=B_TARGET)),
    )


def _run(backend, data, spec, n=21, **options):
    x, t = data(n, 4, 3, seed=2)
    net = build_network(spec, seeds=[4, 5], backend=backend, **options)
    b0 = net.get_weights()["fb_1"]
    plan = RecordPlan(("fb_1.g", "pyramidal_1.v_apical", "output.rate", "i2p_1.g"), every=1)
    rec = net.run_stage(x, t, learning=True, teaching=True, record=plan)
    return net, b0, rec


def _closed_form(b0, spec, n_steps):
    k = np.arange(1, n_steps + 1)[None, :, None, None]
    c = spec.dt * spec.plasticity.eta_down[0]
    return B_TARGET + (b0[:, None].astype(np.float64) - B_TARGET) * (1 - c) ** k


def test_the_new_rule_is_the_feedback_model():
    spec = _spec()
    net = build_network(spec, seeds=1, backend="reference")
    assert net.program.synapse("fb_1").model is RELAX
    assert spec.to_dict()["rules"]["feedback"] == {"b_target": B_TARGET, "model": RELAX.name}


def test_reference_and_compiled_agree_bit_for_bit_and_follow_the_closed_form(data):
    pytest.importorskip("numba", reason="the compiled backend needs numba")
    spec = _spec()
    ref, b0, a = _run("reference", data, spec)
    com, b0c, b = _run("compiled", data, spec)
    np.testing.assert_array_equal(b0, b0c)
    for k in a:
        np.testing.assert_array_equal(a[k], b[k], err_msg=k)
    assert np.array_equal(ref.get_weights()["fb_1"], com.get_weights()["fb_1"])
    # the record after step k holds B[k+1] (the update runs before the step is recorded)
    want = _closed_form(b0, spec, a["fb_1.g"].shape[1])
    # float32 stops moving once (dt eta)|b - B| is below half an ulp of B (2**-25 at 0.25):
    # within 3e-6 of the target, as PAL's B does (spec 2.4); per-step round-off stays below
    np.testing.assert_allclose(a["fb_1.g"], want, rtol=0, atol=4e-6)
    moved = np.abs(a["fb_1.g"][:, -1] - b0).max()
    assert moved > 0.05  # B really moved towards the target (by 1 - 0.995**2100 of the gap)


def test_closed_form_in_float64(data):
    spec = _spec("float64")
    _, b0, a = _run("reference", data, spec, n=5)
    np.testing.assert_allclose(a["fb_1.g"], _closed_form(b0, spec, 500), rtol=0, atol=1e-13)


def test_genn_runs_it_too(data, tmp_path):
    pytest.importorskip("pygenn", reason="pygenn 5 is not installed: GeNN is checked where it is")
    spec = _spec()
    _, b0, a = _run("reference", data, spec)
    gen, b0g, g = _run("genn", data, spec, cache_dir=str(tmp_path))
    np.testing.assert_array_equal(b0, b0g)
    # GeNN compiles with -ffast-math: round-off only (about 1 ulp of B per step at most)
    np.testing.assert_allclose(g["fb_1.g"], a["fb_1.g"], rtol=0, atol=2e-5)
    np.testing.assert_allclose(g["fb_1.g"], _closed_form(b0, spec, 2100), rtol=0, atol=2e-5)
    gen.close()

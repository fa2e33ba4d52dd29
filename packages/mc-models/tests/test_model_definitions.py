import re

import numpy as np
import pytest

from mc_models import get_activation, neuron_models, synapse_models
from mc_models.neurons import bias, interneuron, output, pyramidal, rate_player
from mc_models.render import genn

SIG = get_activation("sigmoid")
NEURONS = list(neuron_models().values())
SYNAPSES = list(synapse_models().values())
BUILTINS = {
    "dt",
    "t",
    "id",
    "batch",
    "num_neurons",
    "exp",
    "log",
    "fabs",
    "gennrand_normal",
    "addToPost",
    "scalar",
    "const",
    "if",
    "else",
    "double",
    "int",
    "d",
}


def _identifiers(code):
    code = re.sub(r"//.*", " ", code)
    code = re.sub(r"\b\d+(\.\d*)?(e-?\d+)?d?\b", " ", code)
    return set(re.findall(r"[A-Za-z_][A-Za-z0-9_]*", code))


@pytest.mark.parametrize("model", NEURONS, ids=lambda m: m.name)
def test_neuron_code_uses_only_declared_names(model):
    kw = genn.neuron_model_kwargs(model, SIG)
    declared = (
        set(kw["params"])
        | {n for n, _ in kw["derived_params"]}
        | {n for n, _ in kw["vars"]}
        | {n for n, _, _ in kw["additional_input_vars"]}
        | {n for n, _ in kw.get("extra_global_params", ())}
    )
    local = {"v_rate_b", "v_rate_d", "mc_phi0", "mc_phi1"}
    unknown = _identifiers(kw["sim_code"]) - declared - BUILTINS - local
    assert not unknown, unknown
    # every additional input is read by the code
    for name in model.inputs:
        assert name in kw["sim_code"]


@pytest.mark.parametrize("model", SYNAPSES, ids=lambda m: m.name)
def test_synapse_code_uses_only_declared_names(model):
    kw = genn.weight_update_model_kwargs(model, SIG)
    declared = (
        set(kw["params"])
        | {n for n, _ in kw["derived_params"]}
        | {n for n, _ in kw["vars"]}
        | {n for n, _, _ in kw["pre_neuron_var_refs"]}
        | {n for n, _, _ in kw["post_neuron_var_refs"]}
    )
    unknown = _identifiers(kw["synapse_dynamics_code"]) - declared - BUILTINS - {"delta_target"}
    assert not unknown, unknown
    assert "addToPost" in kw["synapse_dynamics_code"]
    if model.vars:
        assert kw["vars"][0][0] == "g"


def test_genn_kwargs_are_plain_data():
    kw = genn.neuron_model_kwargs(pyramidal.MODEL, SIG)
    assert kw["params"] == [
        "g_leak",
        "g_basal",
        "g_apical",
        "threshold",
        "sigma_noise",
        "tau_noise",
        "tau_highpass",
        "le_active",
    ]
    assert ("Isyn_up", "scalar", 0.0) in kw["additional_input_vars"]
    names = [n for n, _ in kw["derived_params"]]
    assert names == ["g_scale", "tau_soma", "scale_noise"]
    # derived params are looked up by name: a dict in any order gives the same value
    f = dict(kw["derived_params"])["g_scale"]
    pars = {"tau_noise": 0.1, "g_apical": 0.06, "g_basal": 0.1, "g_leak": 0.03, "sigma_noise": 0.0}
    assert f(pars, 0.01) == pytest.approx(0.1 / 0.19)
    # switches are (dynamic) parameters after the model's own
    assert genn.neuron_model_kwargs(output.MODEL, SIG)["params"][-1] == "teaching"
    with pytest.raises(ValueError, match="calls phi\\(\\): give the activation"):
        genn.neuron_model_kwargs(pyramidal.MODEL)


def test_resolve_paper_values_and_float32_casting():
    p = pyramidal.MODEL.resolve(
        {"g_leak": 0.03, "g_basal": 0.1, "g_apical": 0.06, "sigma_noise": 0.01, "tau_noise": 0.1},
        dt=0.01,
    )
    assert p.g_scale == np.float32(0.1 / 0.19)
    assert p.tau_soma == np.float32(1 / 0.19)
    assert p.scale_noise == np.float32(np.sqrt(0.01 * 0.1) * 0.01)
    assert p.threshold == np.float32(15.0)  # default filled in
    assert p.dt / np.float32(0.1) == np.float32(0.099999994)  # float32 dt/tau_hp (not 0.1)
    o = output.MODEL.resolve({"g_leak": 0.03, "g_basal": 0.1, "g_target": 0.06}, 0.01)
    i = interneuron.MODEL.resolve({"g_leak": 0.03, "g_dendrite": 0.1, "g_soma": 0.06}, 0.01)
    assert o.g_scale == i.g_scale == np.float32(0.1 / 0.13)


def test_resolve_rejects_unknown_parameter():
    with pytest.raises(ValueError, match="unknown parameter.*g_lek.*valid parameters"):
        pyramidal.MODEL.resolve({"g_lek": 0.1}, 0.01)
    with pytest.raises(ValueError, match="parameter 'base_rate'.*has no default"):
        rate_player.MODEL.resolve({"period": 1.0, "tau": 0.01, "mute_time": 0.2}, 0.01)


def test_rate_player_derived_steps():
    values = {"period": 1.0, "tau": 0.01, "mute_time": 0.2, "base_rate": 0.1}
    p = rate_player.MODEL.resolve(values, 0.01)
    assert (p.period_steps, p.mute_steps, p.decay_step) == (100, 20, 1)


def test_bias_starts_at_its_value():
    m = bias.MODEL
    p = m.resolve({"value": 0.7}, 0.01)
    s = m.initial_state((2, 1), np.float32, p)
    assert s["rate"].tolist() == s["rate_last"].tolist() == [[np.float32(0.7)]] * 2
    with pytest.raises(ValueError, match="starts at parameter 'value'"):
        m.initial_state((1, 1), np.float32)

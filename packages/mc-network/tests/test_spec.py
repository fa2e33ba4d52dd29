import pickle
from dataclasses import fields

import pytest

from mc_network import (
    InterneuronParams,
    NetworkSpec,
    OutputParams,
    PlasticityParams,
    PlayerParams,
    PyramidalParams,
    SpecError,
    section,
    yinyang_spec,
)


def test_roundtrip_through_dict():
    spec = yinyang_spec("pal")
    d = spec.to_dict()
    assert d["feedback"] == "pal" and d["dims"] == [4, 30, 3]
    assert NetworkSpec.from_dict(d) == spec


def test_steps_per_sample_and_i2p_rule():
    assert yinyang_spec().steps_per_sample == 100
    assert yinyang_spec("pal").i2p_plastic
    assert not yinyang_spec("fa").i2p_plastic  # self-predicting start and eta_down == 0
    assert not yinyang_spec("noise_control").i2p_plastic


@pytest.mark.parametrize(
    ("change", "match"),
    [
        ({"dims": (4, 3)}, "dims.*no hidden layer"),
        ({"dims": (4, 0, 3)}, r"dims\[1\]"),
        ({"dt": -0.01}, "dt"),
        ({"activation": "tanh"}, "activation.*sigmoid"),
        ({"dtype": "float16"}, "dtype"),
    ],
)
def test_invalid_top_level(change, match):
    with pytest.raises(SpecError, match=match):
        yinyang_spec("fa").replace(**change)


def test_negative_conductance_named():
    d = yinyang_spec("fa").to_dict()
    d["pyramidal"]["g_apical"] = -0.1
    with pytest.raises(SpecError, match=r"network\.pyramidal\.g_apical.*>= 0"):
        NetworkSpec.from_dict(d)


def test_missing_learning_rates_per_layer():
    with pytest.raises(SpecError, match=r"plasticity\.eta_up: needs one learning rate per forward"):
        NetworkSpec(
            dims=(4, 30, 20, 3),
            feedback="fa",
            plasticity=PlasticityParams(
                eta_up=(1.0, 1.0), eta_ip=(0.1, 0.1), eta_pi=(0, 0), eta_down=(0, 0)
            ),
        )
    with pytest.raises(SpecError, match=r"eta_ip: needs one learning rate per hidden layer \(2"):
        NetworkSpec(
            dims=(4, 30, 20, 3),
            feedback="fa",
            plasticity=PlasticityParams(
                eta_up=(1.0, 1.0, 1.0), eta_ip=(0.1,), eta_pi=(0, 0), eta_down=(0, 0)
            ),
        )


def test_feedback_mode_consistency():
    d = yinyang_spec("fa").to_dict()
    d["plasticity"]["eta_down"] = [0.5]
    with pytest.raises(SpecError, match="eta_down.*must be all 0 for feedback 'fa'"):
        NetworkSpec.from_dict(d)
    d = yinyang_spec("pal").to_dict()
    d["plasticity"]["eta_down"] = [0.0]
    with pytest.raises(
        SpecError, match="eta_down: \\[0.0\\] needs an entry > 0 for feedback 'pal'"
    ):
        NetworkSpec.from_dict(d)
    with pytest.raises(SpecError, match="feedback.*'backprop' is not valid"):
        yinyang_spec("fa").replace(feedback="backprop")


def test_pal_without_noise_is_allowed_but_warned(caplog):
    d = yinyang_spec("pal").to_dict()
    d["pyramidal"]["sigma_noise"] = 0.0
    assert NetworkSpec.from_dict(d).feedback == "pal"
    assert "B only decays" in caplog.text


def test_unknown_and_mistyped_keys():
    d = yinyang_spec("fa").to_dict()
    d["pyramidal"]["g_lek"] = 0.1
    with pytest.raises(SpecError, match=r"network\.pyramidal: unknown key\(s\) \['g_lek'\]"):
        NetworkSpec.from_dict(d)
    d = yinyang_spec("fa").to_dict()
    d["dt"] = "0.01"
    with pytest.raises(SpecError, match=r"network\.dt: expected int or float"):
        NetworkSpec.from_dict(d)


def test_pattern_time_must_be_multiple_of_dt():
    d = yinyang_spec("fa").to_dict()
    d["player"]["t_pattern"] = 1.005
    with pytest.raises(SpecError, match="t_pattern.*multiple of dt"):
        NetworkSpec.from_dict(d)


# ---------------------------------------------------------------------- model sections
PAPER_VALUES = {
    "pyramidal": {
        "g_leak": 0.03,
        "g_basal": 0.1,
        "g_apical": 0.06,
        "sigma_noise": 0.0,
        "tau_noise": 0.1,
        "tau_highpass": 0.1,
        "model": "pyramidal",
    },
    "interneuron": {"g_leak": 0.03, "g_dendrite": 0.1, "g_soma": 0.06, "model": "interneuron"},
    "output": {
        "g_leak": 0.03,
        "g_basal": 0.1,
        "g_target": 0.06,
        "tau_highpass": 0.1,
        "model": "output",
    },
}


def test_sections_are_the_models_parameter_lists_with_their_defaults():
    from mc_models import neuron_model

    for role, cls in (("pyramidal", PyramidalParams), ("interneuron", InterneuronParams)):
        model = neuron_model(role)
        own = [p for p in model.params if p.name not in ("threshold", "le_active")]
        assert [f.name for f in fields(cls)] == [p.name for p in own] + ["model"]
        for p in own:
            assert getattr(cls(), p.name) == p.default  # the model's default, nowhere else
    assert [f.name for f in fields(OutputParams)][:-1] == [
        p.name for p in neuron_model("output").params if p.name not in ("threshold", "le_active")
    ]


def test_default_values_are_the_papers_and_unchanged():
    # every config relies on these (the shared hyperparameters of the original configs)
    d = NetworkSpec(
        dims=(4, 30, 3),
        feedback="fa",
        plasticity=PlasticityParams(
            eta_up=(1.0, 1.0), eta_ip=(0.1,), eta_pi=(0.0,), eta_down=(0.0,)
        ),
    ).to_dict()
    for role, values in PAPER_VALUES.items():
        assert d[role] == values, role
    assert d["rules"] == {
        "forward": {"model": "forward"},
        "p2i": {"model": "pyr_to_inter"},
        "i2p": {"model": "inter_to_pyr"},
        "feedback": {"model": "pal"},
    }
    assert yinyang_spec("pal").to_dict()["pyramidal"]["sigma_noise"] == 0.01


def test_another_model_in_a_section_round_trips():
    spec = yinyang_spec(
        "pal", pyramidal=section("pyramidal", model="pyramidal_white", sigma_noise=0.02)
    )
    d = spec.to_dict()
    assert d["pyramidal"] == {
        **{k: v for k, v in PAPER_VALUES["pyramidal"].items() if k != "tau_noise"},
        "sigma_noise": 0.02,
        "model": "pyramidal_white",
    }
    again = NetworkSpec.from_dict(d)
    assert again == spec and again.pyramidal.model == "pyramidal_white"
    assert pickle.loads(pickle.dumps(spec)) == spec  # sweeps send specs to worker processes
    assert spec.noisy


@pytest.mark.parametrize(
    ("change", "match"),
    [
        ({"model": "pyramidel"}, r"network\.pyramidal\.model: unknown neuron model 'pyramidel'"),
        (
            {"model": "pyramidal_white", "tau_noise": 0.1},
            r"network\.pyramidal: unknown key.*tau_noise",
        ),
        ({"model": 3}, r"network\.pyramidal\.model: expected a model name"),
        ({"tau_noise": 0.0}, r"network\.pyramidal\.tau_noise: 0.0 must be > 0"),
    ],
)
def test_section_errors_name_the_key(change, match):
    d = yinyang_spec("fa").to_dict()
    d["pyramidal"] = {**{k: v for k, v in d["pyramidal"].items() if k != "model"}, **change}
    if change.get("model") == "pyramidal_white":
        d["pyramidal"] = change
    with pytest.raises(SpecError, match=match):
        NetworkSpec.from_dict(d)


def test_a_section_holds_its_own_models_parameters():
    with pytest.raises(SpecError, match="PyramidalParams holds the parameters of 'pyramidal'"):
        PyramidalParams(model="pyramidal_white")
    with pytest.raises(SpecError, match="pyramidal: expected a pyramidal section"):
        yinyang_spec("fa", pyramidal=OutputParams())
    with pytest.raises(SpecError, match="unknown role 'basket'"):
        section("basket")


@pytest.mark.parametrize(
    ("data", "where"),
    [
        ({"dims": "x" * 10_000}, "network.dims"),
        ({"dt": list(range(100_000))}, "dt"),
        ({"feedback": "y" * 10_000}, "feedback"),
        ({f"k{i}": 1 for i in range(5_000)}, "unknown key(s)"),
        ({"plasticity": {"eta_up": [[1.0] * 10_000]}}, "plasticity.eta_up"),
    ],
    ids=["dims", "dt", "feedback", "keys", "nested"],
)
def test_error_messages_stay_short_for_huge_values(data, where):
    """A huge value in a description is named in a bounded message, not printed whole."""
    with pytest.raises(SpecError) as err:
        NetworkSpec.from_dict({"dims": [4, 30, 3], **data})
    text = str(err.value)
    assert where in text
    assert len(text) < 600, text[:200]


def test_importing_mc_network_loads_no_model_package():
    """Installed model packages load at the first model look-up, not at import."""
    import subprocess
    import sys

    code = (
        "import mc_models.registry as R, mc_network;"
        "assert R._state == 'unloaded', R._state;"
        "mc_network.yinyang_spec('pal');"
        "assert R._state == 'loaded', R._state"
    )
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert res.returncode == 0, res.stderr


def _number_leaves(node, path=()):
    """Key paths of every number of a spec dictionary (list entries by index)."""
    for key, value in node.items():
        if isinstance(value, dict):
            yield from _number_leaves(value, (*path, key))
        elif isinstance(value, list):
            for i, x in enumerate(value):
                if isinstance(x, float) and key != "dims":
                    yield (*path, key, i)
        elif isinstance(value, float):
            yield (*path, key)


@pytest.mark.parametrize("bad", [float("nan"), float("inf"), -float("inf")])
def test_every_number_must_be_finite_and_is_named(bad):
    """The README promises finite numbers: NaN or inf anywhere is refused, naming the key."""
    leaves = list(_number_leaves(yinyang_spec("pal").to_dict()))
    assert len(leaves) > 30 and ("threshold",) in leaves and ("player", "tau_0") in leaves
    for leaf in leaves:
        data = yinyang_spec("pal").to_dict()
        node = data
        for key in leaf[:-1]:
            node = node[key]
        node[leaf[-1]] = bad
        with pytest.raises(SpecError) as err:
            NetworkSpec.from_dict(data)
        name = next(str(k) for k in reversed(leaf) if isinstance(k, str))
        assert f".{name}" in str(err.value) or str(err.value).startswith(f"network.{name}"), (
            leaf,
            str(err.value),
        )


def test_a_sample_needs_at_least_one_step():
    with pytest.raises(SpecError, match=r"player\.t_pattern: 1\.0 is shorter than one time step"):
        yinyang_spec("pal").replace(dt=1.0e7, player=PlayerParams(tau_0=1.0e7))

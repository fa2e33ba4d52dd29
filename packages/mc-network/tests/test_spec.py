import pytest

from mc_network import NetworkSpec, PlasticityParams, SpecError, yinyang_spec


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

import pytest

from mc_experiments.config import ConfigError, config_from_dict, load_config, parse_overrides


def test_load_resolve_roundtrip(write_yaml, tiny_dict):
    path = write_yaml(tiny_dict)
    cfg = load_config(path)
    assert cfg.network.dims == (4, 30, 3) and cfg.network.feedback == "pal"
    assert cfg.network.plasticity.eta_down == (0.5,)  # from the preset
    assert cfg.network.player.teacher_base_rate == cfg.dataset.u_low
    again = config_from_dict(cfg.to_dict(), source="resolved")
    assert again.to_dict() == cfg.to_dict()


def test_overrides(write_yaml, tiny_dict):
    cfg = load_config(
        write_yaml(tiny_dict),
        parse_overrides(
            ["protocol.n_epochs=5", "network.plasticity.alpha=0.001", "network.feedback=fa"]
        ),
    )
    assert cfg.protocol.n_epochs == 5
    assert cfg.network.plasticity.alpha == 0.001
    assert cfg.network.feedback == "fa" and cfg.network.pyramidal.sigma_noise == 0
    with pytest.raises(ConfigError, match="expected key=value"):
        parse_overrides(["protocol.n_epochs"])


@pytest.mark.parametrize(
    ("mutate", "match"),
    [
        (lambda d: d.update(extra=1), r"config\.yaml: unknown key\(s\) \['extra'\]; valid keys"),
        (
            lambda d: d["protocol"].update(n_epoch=3),
            r"config\.yaml: protocol: unknown key\(s\) \['n_epoch'\]; valid keys are",
        ),
        (
            lambda d: d["protocol"].update(n_epochs="3"),
            r"config\.yaml: protocol\.n_epochs: expected an integer, got '3'",
        ),
        (lambda d: d["network"].update(dt=-0.01), r"config\.yaml: network.*dt.*positive"),
        (
            lambda d: d["network"].update(dt=0.003),
            r"config\.yaml: network.*t_pattern.*multiple of dt",
        ),
        (
            lambda d: d["recording"].update(records_per_sample=3),
            r"recording\.records_per_sample: 3 must divide the steps per sample \(100",
        ),
        (lambda d: d["dataset"].update(name="cifar"), r"dataset\.name: 'cifar' is not valid"),
        (
            lambda d: d["network"].update(dims=[4, 30, 10]),
            r"network\.dims: \[4, 30, 10\] does not fit dataset 'yinyang'",
        ),
        (lambda d: d["network"].update(preset="imagenet"), r"network: unknown dataset"),
        (
            lambda d: d["network"].update(pyramidal={"g_leak": -1}),
            r"network\.pyramidal\.g_leak: -1 must be a number >= 0",
        ),
        (lambda d: d.update(seed=-1), r"seed: expected a non-negative integer"),
        (
            lambda d: d["backend"].update(name="jax"),
            r"config\.yaml: backend\.name: 'jax' is not a registered backend; use one of \[",
        ),
        (
            lambda d: d["backend"].update(name="genn", fallback="numba"),
            r"backend\.fallback: 'numba' is not a registered backend",
        ),
        (
            lambda d: d["backend"].update(name="genn", options={"devcie": "cuda"}),
            r"config\.yaml: backend\.options\.devcie: backend 'genn' has no such option; "
            r"valid options: \['cache_dir', 'cuda_device', 'device'",
        ),
        (
            lambda d: d["backend"].update(options={"device": "cuda"}),
            r"backend\.options\.device: backend 'reference' has no such option; valid options: "
            r"none",
        ),
    ],
)
def test_bad_configs_name_file_and_key(write_yaml, tiny_dict, mutate, match):
    mutate(tiny_dict)
    with pytest.raises(ConfigError, match=match):
        load_config(write_yaml(tiny_dict))


def test_missing_file_and_bad_yaml(tmp_path):
    with pytest.raises(ConfigError, match="no such config file"):
        load_config(tmp_path / "nope.yaml")
    p = tmp_path / "bad.yaml"
    p.write_text("network: [1, 2\n")
    with pytest.raises(ConfigError, match="bad.yaml: not valid YAML"):
        load_config(p)

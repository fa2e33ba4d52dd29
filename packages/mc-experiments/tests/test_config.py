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
        (
            lambda d: d["network"].update(preset="yinyng"),
            r"config\.yaml: network\.preset: 'yinyng' is not a preset network; valid presets: "
            r"\['mnist', 'yinyang'\]",
        ),
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
            lambda d: d["backend"].update(name="cuda"),
            r"backend\.name: 'cuda' is not a registered backend; use one of \[.*\] \(or null "
            r"for the default\); cuda is a device of the genn backend: --backend genn --set "
            r"backend\.options\.device=cuda",
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


def test_every_backend_takes_the_fast_input_mode(write_yaml, tiny_dict):
    for name in ("reference", "compiled", "genn"):
        tiny_dict["backend"] = {"name": name}
        tiny_dict.setdefault("network", {})["input_mode"] = "fast"
        cfg = load_config(write_yaml(tiny_dict))
        assert (cfg.backend.name, cfg.network.input_mode) == (name, "fast")


def test_missing_file_and_bad_yaml(tmp_path):
    with pytest.raises(ConfigError, match="no such config file"):
        load_config(tmp_path / "nope.yaml")
    p = tmp_path / "bad.yaml"
    p.write_text("network: [1, 2\n")
    with pytest.raises(ConfigError, match="bad.yaml: not valid YAML"):
        load_config(p)


# --------------------------------------------------------------- bounds (issue items 3, 7)
def _bomb(levels: int) -> str:
    """A 'billion laughs' document: ``seed`` expands to 9**levels strings through aliases."""
    rows = ['&a0 ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    rows += [f"&a{i} [{', '.join([f'*a{i - 1}'] * 9)}]" for i in range(1, levels)]
    return "name: bomb\nnetwork: {preset: yinyang}\nseed: [" + ",\n  ".join(rows) + "]\n"


def test_alias_bomb_is_refused_before_anything_walks_it(tmp_path):
    p = tmp_path / "bomb.yaml"
    p.write_text(_bomb(6))  # 531 441 strings once expanded; a message of all of them: 5 MB
    with pytest.raises(ConfigError) as info:
        load_config(p)
    msg = str(info.value)
    assert msg.startswith(f"{p}: ") and "aliases" in msg and "alias bomb" in msg
    assert len(msg) < 400


def test_recursive_alias_is_refused(tmp_path):
    p = tmp_path / "loop.yaml"
    p.write_text("name: loop\nnetwork: &n {preset: yinyang, dims: *n}\n")
    with pytest.raises(ConfigError, match="recursive alias"):
        load_config(p)


def test_huge_file_is_refused_unread(tmp_path):
    p = tmp_path / "huge.yaml"
    p.write_text("name: huge\nnetwork: {preset: yinyang}\n" + "# padding\n" * 120_000)
    with pytest.raises(ConfigError, match=r"huge\.yaml: \d+ bytes is too large for a config file"):
        load_config(p)


def test_error_messages_stay_short(write_yaml, tiny_dict):
    tiny_dict["dataset"].update({f"key_{i:05d}": i for i in range(5000)})
    with pytest.raises(ConfigError) as info:
        load_config(write_yaml(tiny_dict))
    msg = str(info.value)
    assert "dataset: unknown key(s) ['key_00000'," in msg and "(4990 more)" in msg
    assert len(msg) < 600  # listing every key printed 70 kB
    with pytest.raises(ConfigError) as info:
        config_from_dict({**tiny_dict, "seed": ["x" * 10_000] * 1000}, source="s.yaml")
    assert len(str(info.value)) < 300


def test_duplicate_keys_name_both_lines(tmp_path):
    p = tmp_path / "dup.yaml"
    p.write_text("name: dup\nseed: 1\nnetwork:\n  preset: yinyang\nseed: 2\n")
    with pytest.raises(ConfigError, match=r"dup\.yaml: duplicate key 'seed' \(line 2 and line 5"):
        load_config(p)


def test_yaml_exponent_numbers_are_numbers(write_yaml, tiny_dict):
    path = write_yaml(tiny_dict)
    cfg = load_config(path, parse_overrides(["network.plasticity.eta_up=[5e1, 1e-2]"]))
    assert cfg.network.plasticity.eta_up == (50.0, 0.01)  # YAML 1.1 read '1e-2' as a string


@pytest.mark.parametrize(
    ("mutate", "match"),
    [
        (lambda d: d["dataset"].update(u_high=float("inf")), r"dataset\.u_high: expected a finite"),
        (lambda d: d["dataset"].update(u_low=float("nan")), r"dataset\.u_low: expected a finite"),
        (
            lambda d: d["recording"].update(validation=["output.nonexistent"]),
            r"recording\.validation: 'output\.nonexistent' is not a variable of this network "
            r"\('output' has \['V', ",
        ),
        (
            lambda d: d["recording"].update(training=["hidden.V"]),
            r"recording\.training: 'hidden\.V' is not a variable .*owners are \['fb_1', 'ff_1', ",
        ),
        (
            lambda d: d["dataset"].update(n_train=10**10),
            r"dataset\.n_train/n_valid/n_test .* need at least [\d.]+ GiB per run; this machine",
        ),
        (
            lambda d: (
                d["network"].update(preset="mnist"),
                d["dataset"].update(name="mnist", n_train=6000),
            ),
            r"dataset\.n_train: 6000 per class is more than MNIST holds for that split \(5000",
        ),
        (
            lambda d: d["network"].update(feedback="pall"),
            r"network\.feedback: 'pall' is not valid; use one of \['pal', 'fa', 'noise_control', "
            r"'transpose'\]",
        ),
        (lambda d: d.update(name="../up"), r"name: '\.\./up' contains '/'"),
    ],
)
def test_validate_rejects_what_train_would(write_yaml, tiny_dict, tmp_path, mutate, match):
    """What ``validate`` passes, ``train`` must not reject: both refuse these, naming the key."""
    from mc_experiments.cli import main

    mutate(tiny_dict)
    path = write_yaml(tiny_dict)
    with pytest.raises(ConfigError, match=match):
        load_config(path)
    assert main(["validate", str(path)]) == 2
    assert main(["train", str(path), "--out", str(tmp_path / "runs"), "--quiet"]) == 2
    assert not (tmp_path / "runs").exists()  # refused before any run directory


@pytest.mark.parametrize(
    ("content", "match"),
    [
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00", r"bin\.yaml: is a binary file, not a config file"),
        ("name: é\n".encode("latin-1"), r"bin\.yaml: is not UTF-8 text"),
    ],
)
def test_binary_config_is_one_clear_error(tmp_path, content, match):
    p = tmp_path / "bin.yaml"
    p.write_bytes(content)
    with pytest.raises(ConfigError, match=match):
        load_config(p)


def test_directory_given_as_config(tmp_path):
    (tmp_path / "adir.yaml").mkdir()
    with pytest.raises(ConfigError, match=r"adir\.yaml: is a directory, not a config file"):
        load_config(tmp_path / "adir.yaml")


def test_bad_yaml_in_set_is_a_config_error():
    with pytest.raises(ConfigError, match=r"--set 'protocol\.n_epochs=\[1': not valid YAML"):
        parse_overrides(["protocol.n_epochs=[1"])
    with pytest.raises(ConfigError, match="the key is empty"):
        parse_overrides(["=3"])


@pytest.mark.parametrize(("rps", "warned"), [(1, True), (2, False), (5, False)])
def test_one_record_per_sample_is_warned(write_yaml, tiny_dict, caplog, rps, warned):
    """One record per sample is the sample's first step: the accuracy would be at chance."""
    tiny_dict["recording"] = {**tiny_dict.get("recording", {}), "records_per_sample": rps}
    with caplog.at_level("WARNING", logger="mc_experiments.config"):
        cfg = load_config(write_yaml(tiny_dict))
    assert cfg.recording.records_per_sample == rps
    hits = [r for r in caplog.records if "records_per_sample: 1 records only" in r.message]
    assert bool(hits) is warned
    if warned:
        assert "config.yaml" in hits[0].message and "chance" in hits[0].message

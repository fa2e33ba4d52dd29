"""The importer of the original two-document configs (unibe-cns/pal_microcircuits_genn).

The YAML files are rebuilt here with the exact key shapes of the five shipped sweep
directories (examples/experiment_configs/sweep_*/ at commit 329b902), seed 123456.
"""

from __future__ import annotations

import copy
import logging

import numpy as np
import pytest
import yaml

from mc_experiments.config import ConfigError, load_config
from mc_experiments.original import (
    import_original_config,
    is_original_config,
    is_original_file,
)


def _meta(name: str, dataset: str, backend: str) -> dict:
    yy = dataset == "yinyang"
    recordings = {
        1: {
            "fb": ["g"],
            "i2p": ["g"],
            "inter": ["rate"],
            "p2i": ["g"],
            "pyramidal": ["rate"],
        },
        2: {"ff": ["g"], "output": ["v_brev", "rate"]},
        3: {"supervisor": ["rate"]},
    }
    if yy:  # the Yin-Yang configs also record the input and layer 1's ff weights
        recordings = {0: {"input": ["rate"]}, **recordings}
        recordings[1] = {"fb": ["g"], "ff": ["g"], **{k: v for k, v in recordings[1].items()}}
    return {
        "backend": backend,
        "dataset_key": dataset,
        "dt": 0.01,
        "input_rates": None,
        "name": name,
        "numpy_seed": 123456,
        "output_rates": None,
        "print_every_n_recs": 100000 if yy else 1000000,
        "record": {
            "filename": None,
            "recordings": recordings,
            "update_indices": {
                k: None for k in ("rates", "sample", "test", "train", "valid", "weights", "write")
            },
        },
        "sim_config": {
            "data_noise": 0,
            "data_seed": 9876543,
            "idx_epoch": None,
            "idx_rec": None,
            "idx_sample": None,
            "idx_test": None,
            "idx_train": None,
            "idx_valid": None,
            "n_class": 3 if yy else 10,
            "n_epochs": 400 if yy else 100,
            "n_test": 300 if yy else 1000,
            "n_train": 2000 if yy else 5000,
            "n_valid": 300 if yy else 1000,
            "pat_t": 1.0,
            "recs_per_sample": 5,
            "shuffle_samples": True,
            "sim_time": None,
            "uhigh": 1.0,
            "ulow": 0.1,
        },
    }


def _net(dataset: str, eta_down: float, eta_pi: float, noise_sig: float) -> dict:
    yy = dataset == "yinyang"
    return {
        "activation_template": "sigmoid",
        "alpha": 1.0e-06,
        "bias": {"on": False, "val": 0.0},
        "debug_mode": False,
        "dims": [4, 30, 3] if yy else [784, 100, 10],
        "eta": {
            "down": [0.0, eta_down],
            "ip": [0.05, 0] if yy else [0.02, 0],
            "pi": [eta_pi, 0],
            "up": [50.0, 0.01] if yy else [1.0, 0.005],
        },
        "ga": 0.06,
        "gb": 0.1,
        "gd": 0.1,
        "gl": 0.03,
        "gsom": 0.06,
        "gtar": 0.06,
        "highpass_tau": 0.1,
        "init_weights": {"down": 1, "ip": 0.1, "pi": 1, "up": 0.1},
        "le_active": 1,
        "learning_lag": 0,
        "noise": 0,
        "noise_sig": noise_sig,
        "noise_tau": 0.1,
        "out_lag": 0,
        "reinforce_self_predict": False,
        "reset_deltas": False,
        "set_wBackw_to_wTransp": False,
        "start_in_self_predict": True,
        "t_pattern": 1.0,
        "tau_0": 0.01,
        "tau_w_ff": 100.0,
        "tau_w_ip": 0.01,
        "tau_w_pi": 0.01,
    }


# sweep dir -> (meta, network, expected feedback, eta_down, eta_pi)
SWEEPS = {
    "sweep_yin_yang_backw": (
        _meta("sweep_yin_yang_le_backw_seed_123456", "yinyang", "SingleThreadedCPU"),
        _net("yinyang", 0.5, 0.02, 0.01),
        "pal",
    ),
    "sweep_yin_yang_fa": (
        _meta("sweep_yin_yang_le_fa_seed_123456", "yinyang", "SingleThreadedCPU"),
        _net("yinyang", 0.0, 0.0, 0.0),
        "fa",
    ),
    "sweep_yin_yang_bw_eta_zero": (
        # the original's noise-control sweep reuses the backw sweep's run names
        _meta("sweep_yin_yang_le_backw_seed_123456", "yinyang", "SingleThreadedCPU"),
        _net("yinyang", 0.0, 0.02, 0.01),
        "noise_control",
    ),
    "sweep_mnist_backw": (
        _meta("sweep_mnist_backw_seed_123456", "mnist", "CUDA"),
        _net("mnist", 0.2, 0.02, 0.01),
        "pal",
    ),
    "sweep_mnist_fa": (
        _meta("sweep_mnist_fa_seed_123456", "mnist", "CUDA"),
        _net("mnist", 0.0, 0.0, 0.0),
        "fa",
    ),
}


@pytest.fixture
def write_original(tmp_path):
    def write(meta: dict, net: dict, name: str = "orig.yaml"):
        p = tmp_path / name
        p.write_text(yaml.safe_dump([meta, net]))  # sorted keys, as the original's yaml.dump
        return p

    return write


def _docs(sweep: str) -> tuple[dict, dict]:
    meta, net, _ = SWEEPS[sweep]
    return copy.deepcopy(meta), copy.deepcopy(net)


@pytest.mark.parametrize("sweep", sorted(SWEEPS))
def test_each_sweep_maps(sweep, write_original):
    meta, net = _docs(sweep)
    path = write_original(meta, net, f"{sweep}.yaml")
    assert is_original_file(path)
    cfg, ignored = import_original_config(path)
    yy = "yin_yang" in sweep
    n = cfg.network
    p = n.plasticity
    assert cfg.name == meta["name"]
    assert cfg.seed == 123456
    assert cfg.source == str(path)
    assert n.dims == ((4, 30, 3) if yy else (784, 100, 10))
    assert n.feedback == SWEEPS[sweep][2]
    assert p.eta_up == ((50.0, 0.01) if yy else (1.0, 0.005))
    assert p.eta_down == (net["eta"]["down"][1],)
    assert p.eta_ip == ((0.05,) if yy else (0.02,))
    assert p.eta_pi == (net["eta"]["pi"][0],)
    assert (p.tau_w_ff, p.tau_w_ip, p.tau_w_pi, p.alpha) == (100.0, 0.01, 0.01, 1e-6)
    assert n.pyramidal.sigma_noise == net["noise_sig"]
    assert (n.pyramidal.g_leak, n.pyramidal.g_basal, n.pyramidal.g_apical) == (0.03, 0.1, 0.06)
    assert (n.pyramidal.tau_noise, n.pyramidal.tau_highpass) == (0.1, 0.1)
    assert (n.interneuron.g_leak, n.interneuron.g_dendrite, n.interneuron.g_soma) == (
        0.03,
        0.1,
        0.06,
    )
    assert (n.output.g_leak, n.output.g_basal, n.output.g_target) == (0.03, 0.1, 0.06)
    assert n.output.tau_highpass == 0.1
    assert n.activation == "sigmoid" and n.threshold == 15.0 and n.le_active is True
    assert n.dt == 0.01 and n.dtype == "float32" and n.steps_per_sample == 100
    assert (n.init.up, n.init.down, n.init.ip, n.init.pi) == (0.1, 1.0, 0.1, 1.0)
    assert n.init.self_predicting is True
    assert n.bias.enabled is False
    pl = n.player
    assert (pl.t_pattern, pl.tau_0, pl.teacher_mute, pl.learning_lag) == (1.0, 0.01, 0.0, 0.0)
    assert pl.teacher_base_rate == 0.1
    ds = cfg.dataset
    assert ds.name == ("yinyang" if yy else "mnist")
    assert (ds.n_train, ds.n_valid, ds.n_test) == ((2000, 300, 300) if yy else (5000, 1000, 1000))
    assert (ds.seed, ds.u_low, ds.u_high) == (9876543, 0.1, 1.0)
    assert cfg.protocol.n_epochs == (400 if yy else 100)
    assert cfg.protocol.shuffle is True
    assert cfg.protocol.reinforce_self_prediction is False
    assert cfg.recording.records_per_sample == 5
    assert cfg.backend.name is None
    # i2p learns only under PAL (the static rule of the original, applied by the spec)
    assert n.i2p_plastic is (SWEEPS[sweep][2] == "pal")

    for key in (
        "backend",
        "print_every_n_recs",
        "input_rates",
        "output_rates",
        "record.filename",
        "record.recordings",
        "record.update_indices",
        "sim_config.sim_time",
        "sim_config.idx_rec",
        "sim_config.idx_epoch",
        "sim_config.data_noise",
        "debug_mode",
        "noise",
        "reset_deltas",
    ):
        assert key in ignored, key
    # every mapped key is used, not reported
    for key in ("gl", "eta.down", "sim_config.pat_t", "numpy_seed", "out_lag", "name", "dt"):
        assert key not in ignored
    # unused learning-rate slots are zero in the shipped configs: nothing to report
    assert not any(k.startswith("eta.") for k in ignored)


def test_bw_eta_zero_keeps_eta_pi_and_static_i2p(write_original):
    cfg, _ = import_original_config(write_original(*_docs("sweep_yin_yang_bw_eta_zero")))
    assert cfg.network.feedback == "noise_control"
    assert cfg.network.plasticity.eta_pi == (0.02,)
    assert cfg.network.plasticity.eta_down == (0.0,)
    assert cfg.network.noisy and not cfg.network.i2p_plastic


def test_nonzero_unused_eta_slots_are_reported(write_original, caplog):
    meta, net = _docs("sweep_yin_yang_backw")
    net["eta"]["down"][0] = 0.3
    net["eta"]["ip"][1] = 0.1
    net["eta"]["pi"][1] = 0.2
    net["eta"]["up"].append(7.0)
    with caplog.at_level(logging.INFO, logger="mc_experiments.original"):
        cfg, ignored = import_original_config(write_original(meta, net))
    assert {"eta.down[0]", "eta.ip[1]", "eta.pi[1]", "eta.up[2]"} <= set(ignored)
    assert cfg.network.plasticity.eta_down == (0.5,)
    assert cfg.network.plasticity.eta_up == (50.0, 0.01)
    assert "eta.down[0] = 0.3" in caplog.text


def test_deeper_network_eta_indexing(write_original):
    meta, net = _docs("sweep_yin_yang_backw")
    net["dims"] = [4, 20, 10, 3]
    net["eta"] = {
        "up": [1.0, 2.0, 3.0],
        "down": [0.0, 0.4, 0.6],
        "ip": [0.1, 0.2, 0.0],
        "pi": [0.01, 0.02, 0.0],
    }
    cfg, _ = import_original_config(write_original(meta, net))
    p = cfg.network.plasticity
    assert p.eta_up == (1.0, 2.0, 3.0)
    assert p.eta_down == (0.4, 0.6)
    assert p.eta_ip == (0.1, 0.2)
    assert p.eta_pi == (0.01, 0.02)
    net["eta"]["down"] = [0.0, 0.4]
    with pytest.raises(ConfigError, match=r"eta\.down: .* up to \[2\]"):
        import_original_config(write_original(meta, net))


@pytest.mark.parametrize(
    ("doc", "mutate", "key"),
    [
        (1, lambda m, n: n.update(gleak=0.1), "gleak"),
        (0, lambda m, n: m["sim_config"].update(n_tran=3), "sim_config.n_tran"),
        (1, lambda m, n: n["eta"].update(side=[0.0]), "eta.side"),
        (1, lambda m, n: n["bias"].update(value=1.0), "bias.value"),
    ],
)
def test_unknown_key_names_file_and_key(write_original, doc, mutate, key):
    meta, net = _docs("sweep_yin_yang_fa")
    mutate(meta, net)
    path = write_original(meta, net)
    with pytest.raises(ConfigError) as err:
        import_original_config(path)
    msg = str(err.value)
    assert str(path) in msg and f"unknown key {key} " in msg
    assert ("second" if doc else "first") in msg


def test_unquoted_on_gets_a_hint(tmp_path):
    meta, net = _docs("sweep_yin_yang_fa")
    text = yaml.safe_dump([meta, net]).replace("'on': false", "on: false")
    path = tmp_path / "on.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError, match=r"unknown key bias\.True .*quote it"):
        import_original_config(path)


def test_mismatched_pattern_time(write_original):
    meta, net = _docs("sweep_yin_yang_backw")
    meta["sim_config"]["pat_t"] = 2.0
    path = write_original(meta, net)
    with pytest.raises(ConfigError) as err:
        import_original_config(path)
    msg = str(err.value)
    assert "mismatched pattern time" in msg and str(path) in msg
    assert "sim_config.pat_t (2.0)" in msg and "t_pattern (1.0)" in msg


def test_mimic_is_not_supported(write_original):
    meta, net = _docs("sweep_yin_yang_fa")
    meta["dataset_key"] = "mimic"
    meta["sim_config"]["n_class"] = 1
    with pytest.raises(ConfigError, match=r"dataset_key: 'mimic' .*not supported yet"):
        import_original_config(write_original(meta, net))
    meta["dataset_key"] = "cifar"
    with pytest.raises(ConfigError, match=r"dataset_key: 'cifar' is not valid"):
        import_original_config(write_original(meta, net))


def test_bars_and_n_class(write_original):
    meta, net = _docs("sweep_yin_yang_fa")
    meta["dataset_key"] = "bars"
    meta["sim_config"]["data_noise"] = 0.2
    net["dims"] = [9, 30, 3]
    cfg, ignored = import_original_config(write_original(meta, net))
    assert cfg.dataset.name == "bars" and cfg.dataset.noise_level == 0.2
    assert "sim_config.data_noise" not in ignored
    meta["sim_config"]["n_class"] = 4
    with pytest.raises(ConfigError, match=r"sim_config\.n_class: 4 does not fit"):
        import_original_config(write_original(meta, net))


def test_missing_and_mistyped_keys(write_original):
    meta, net = _docs("sweep_yin_yang_fa")
    del net["gl"]
    with pytest.raises(ConfigError, match=r"orig\.yaml: missing key 'gl'"):
        import_original_config(write_original(meta, net))
    meta, net = _docs("sweep_yin_yang_fa")
    net["alpha"] = "1e-6"
    with pytest.raises(ConfigError, match=r"alpha: expected a number, got '1e-6' \(YAML 1\.1"):
        import_original_config(write_original(meta, net))


def test_original_defaults_for_optional_keys(write_original):
    meta, net = _docs("sweep_yin_yang_fa")
    for key in ("activation_template", "start_in_self_predict", "bias", "debug_mode", "noise"):
        del net[key]
    net["le_active"] = 0
    cfg, ignored = import_original_config(write_original(meta, net))
    assert cfg.network.activation == "soft_relu"  # the original's default template
    assert cfg.network.init.self_predicting is True
    assert cfg.network.bias.enabled is False
    assert cfg.network.le_active is False
    assert "debug_mode" not in ignored


def test_switches_map(write_original, caplog):
    meta, net = _docs("sweep_yin_yang_fa")
    net.update(
        set_wBackw_to_wTransp=True,
        reinforce_self_predict=True,
        out_lag=0.1,
        learning_lag=0.2,
        bias={"on": True, "val": 0.5},
        init_weights={"down": [-0.5, 0.5], "ip": 0.1, "pi": 1, "up": 0.1},
    )
    meta["sim_config"]["shuffle_samples"] = False
    with caplog.at_level(logging.WARNING, logger="mc_experiments.original"):
        cfg, _ = import_original_config(write_original(meta, net))
    assert cfg.network.feedback == "transpose"
    assert cfg.protocol.reinforce_self_prediction is True
    assert cfg.protocol.shuffle is False
    assert cfg.network.player.teacher_mute == 0.1
    assert cfg.network.player.learning_lag == 0.2
    assert cfg.network.bias.enabled is True and cfg.network.bias.value == 0.5
    assert cfg.network.init.down == (-0.5, 0.5)
    assert "out_lag" in caplog.text  # the original never muted the teacher
    meta, net = _docs("sweep_yin_yang_backw")
    net["set_wBackw_to_wTransp"] = True
    with pytest.raises(ConfigError, match=r"set_wBackw_to_wTransp: true with eta\.down > 0"):
        import_original_config(write_original(meta, net))


def test_pal_without_noise_is_accepted_with_the_spec_warning(write_original, caplog):
    meta, net = _docs("sweep_yin_yang_backw")
    net["noise_sig"] = 0.0
    with caplog.at_level(logging.WARNING):
        cfg, _ = import_original_config(write_original(meta, net))
    assert cfg.network.feedback == "pal" and not cfg.network.noisy
    assert cfg.network.plasticity.eta_down == (0.5,) and cfg.network.i2p_plastic
    warned = [r for r in caplog.records if r.name == "mc_network.spec"]
    assert len(warned) == 1 and "sigma_noise = 0: B only decays" in warned[0].getMessage()


def test_overrides_apply_to_our_keys(write_original):
    path = write_original(*_docs("sweep_yin_yang_backw"))
    cfg, _ = import_original_config(
        path,
        {"protocol.n_epochs": 2, "backend.name": "reference", "dataset.n_train": 3},
    )
    assert cfg.protocol.n_epochs == 2 and cfg.backend.name == "reference"
    assert cfg.dataset.n_train == 3
    with pytest.raises(ConfigError, match="unknown key"):
        import_original_config(path, {"protocol.n_epoch": 2})


def test_key_in_both_documents_network_wins(write_original):
    meta, net = _docs("sweep_yin_yang_fa")
    meta["gl"] = 0.5
    cfg, ignored = import_original_config(write_original(meta, net))
    assert cfg.network.pyramidal.g_leak == 0.03
    assert "meta.gl" in ignored


def test_detection(write_original, write_yaml, tiny_dict, tmp_path):
    meta, net = _docs("sweep_mnist_fa")
    assert is_original_config([meta, net])
    assert not is_original_config(tiny_dict)
    assert not is_original_config([meta])
    assert not is_original_config([{"a": 1}, {"b": 2}])
    ours = write_yaml(tiny_dict)
    assert not is_original_file(ours)
    bad = tmp_path / "bad.yaml"
    bad.write_text("a: [1,\n")
    assert not is_original_file(bad)
    assert not is_original_file(tmp_path / "missing.yaml")
    with pytest.raises(ConfigError, match="original two-document config"):
        load_config(write_original(meta, net))
    with pytest.raises(ConfigError, match="not an original config"):
        import_original_config(ours)


def test_original_run_config_with_python_tags(tmp_path):
    """A run directory's config.yaml holds numpy arrays as python tags: loaded safely."""
    meta, net = _docs("sweep_yin_yang_fa")
    meta["sim_config"].update(idx_rec=20, idx_sample=100, sim_time=2760000.0)
    meta["record"]["filename"] = "/tmp/run/net_recordings.h5"
    rates = np.zeros((4, 6))
    meta["input_rates"] = {"validation": rates, "training": rates, "testing": rates}
    text = yaml.dump([meta, net])  # the original's dumper: numpy arrays as python tags
    path = tmp_path / "config.yaml"
    path.write_text(text)
    assert "!!python/object/apply" in path.read_text()
    assert is_original_file(path)
    cfg, ignored = import_original_config(path)
    assert cfg.network.feedback == "fa"
    assert {"input_rates", "sim_config.idx_rec", "record.filename"} <= set(ignored)


@pytest.mark.parametrize("sweep", sorted(SWEEPS))
def test_each_imported_config_starts(sweep, write_original):
    from mc_network import build_network

    cfg, _ = import_original_config(write_original(*_docs(sweep)))
    net = build_network(cfg.network, seeds=cfg.seed, backend="reference")
    dims = cfg.network.dims
    rng = np.random.default_rng(0)
    x = rng.uniform(0.0, 1.0, size=(2, dims[0]))
    t = np.full((2, dims[-1]), 0.1)
    t[0, 0] = t[1, 1] = 1.0
    net.run_stage(x, t, learning=True, teaching=True)


def test_imported_configs_use_the_original_randomness(write_original, caplog):
    path = write_original(*_docs("sweep_yin_yang_fa"))
    cfg, _ = import_original_config(path)
    assert cfg.randomness == "original" and cfg.seed == 123456
    cfg, _ = import_original_config(path, {"randomness": "toolkit"})
    assert cfg.randomness == "toolkit"
    assert "never seeded" not in caplog.text
    with caplog.at_level(logging.WARNING, logger="mc_experiments.original"):
        cfg, _ = import_original_config(write_original(*_docs("sweep_mnist_fa"), "mnist.yaml"))
    assert cfg.randomness == "original"
    assert "never seeded numpy for MNIST" in caplog.text and "numpy_seed = 123456" in caplog.text


def test_record_as_original_maps_the_recorder_set(write_original):
    path = write_original(*_docs("sweep_yin_yang_backw"))
    default, ignored = import_original_config(path)
    assert default.recording.training == () and "record.recordings" in ignored
    cfg, ignored = import_original_config(path, record_as_original=True)
    neurons = {
        "input.rate",
        "inter_1.rate",
        "pyramidal_1.rate",
        "output.v_brev",
        "output.rate",
        "teacher.rate",
    }
    assert set(cfg.recording.validation) == set(cfg.recording.test) == neurons
    weights = {"fb_1.g", "ff_1.g", "i2p_1.g", "p2i_1.g", "ff_2.g"}
    assert set(cfg.recording.training) == neurons | weights
    assert "record.recordings" not in ignored
    meta, net = _docs("sweep_yin_yang_backw")
    meta["record"]["recordings"][2]["fb"] = ["g"]  # the teacher's one-to-one synapse
    meta["record"]["recordings"][1]["pyramidal"] = ["rate", "RefracTime"]
    cfg, _ = import_original_config(write_original(meta, net), record_as_original=True)
    assert "output.fb.g" not in cfg.recording.training
    assert "pyramidal_1.RefracTime" not in cfg.recording.validation


def test_an_original_run_config_with_data_arrays_loads(tmp_path):
    meta, net = _docs("sweep_yin_yang_fa")
    rng = np.random.default_rng(1)
    meta["input_rates"] = {"training": rng.uniform(size=(4, 6))}  # as the original's runner
    path = tmp_path / "config.yaml"
    path.write_text(yaml.dump([meta, net]))  # numpy arrays in python tags
    assert "!!python/object/apply:numpy" in path.read_text()
    assert is_original_file(path)
    cfg, ignored = import_original_config(path)
    assert cfg.network.feedback == "fa" and "input_rates" in ignored
    with pytest.raises(ConfigError, match="this is an original two-document config"):
        load_config(path)
    path.write_text(path.read_text().replace("numpy.dtype", "os.system"))
    with pytest.raises(ConfigError, match=r"config\.yaml: line \d+: refused python tag"):
        import_original_config(path)

"""``randomness: original``: the original code's weights, shuffles and data for a seed.

The expected draws are written out here in the order of the original's network constructor
(forward matrices bottom-up, feedback top-down, then the lateral ones) with one
``numpy.random.RandomState`` (the original used numpy's global RNG seeded with numpy_seed).
"""

from __future__ import annotations

import copy
import dataclasses

import numpy as np
import pytest

from mc_experiments.config import ConfigError, config_from_dict
from mc_experiments.data import load_stage_data
from mc_experiments.datasets import Dataset, Split
from mc_experiments.protocol import Experiment, Member
from mc_experiments.randomness import original_initial_weights, rng_state, set_rng_state
from mc_experiments.runner import train
from mc_experiments.storage import RunDir
from mc_network import NetworkSpec, mnist_spec, yinyang_spec
from mc_network.backends.base import Simulation


@pytest.mark.parametrize(
    ("spec", "shapes"),
    [
        (yinyang_spec("pal"), {"in": (4, 30), "out": (30, 3), "B": (3, 30)}),
        (mnist_spec("fa"), {"in": (784, 100), "out": (100, 10), "B": (10, 100)}),
    ],
    ids=["yinyang", "mnist"],
)
def test_original_weights_are_the_spec_draws(spec, shapes):
    seed = 123456
    w = original_initial_weights(spec, np.random.RandomState(seed))
    rs = np.random.RandomState(seed)  # draw order: W_in->hid, W_hid->out, B; self-prediction copies
    w_in = rs.uniform(-0.1, 0.1, size=shapes["in"])
    w_out = rs.uniform(-0.1, 0.1, size=shapes["out"])
    b = rs.uniform(-1, 1, size=shapes["B"])
    f32 = np.float32
    np.testing.assert_array_equal(w["ff_1"], w_in.astype(f32))
    np.testing.assert_array_equal(w["ff_2"], w_out.astype(f32))
    np.testing.assert_array_equal(w["fb_1"], b.astype(f32))
    np.testing.assert_array_equal(w["p2i_1"], w_out.astype(f32))
    np.testing.assert_array_equal(w["i2p_1"], (-b).astype(f32))
    assert all(a.dtype == f32 for a in w.values())
    assert set(w) == {"ff_1", "ff_2", "fb_1", "p2i_1", "i2p_1"}


def test_original_weights_general_order_with_bias_and_two_hidden_layers():
    base = yinyang_spec("fa").to_dict()
    base.update(
        dims=[4, 20, 10, 3],
        plasticity={**base["plasticity"], "eta_up": [1.0, 1.0, 1.0], "eta_ip": [0.1, 0.1],
                    "eta_pi": [0.0, 0.0], "eta_down": [0.0, 0.0]},
        init={**base["init"], "self_predicting": False, "down": [-0.5, 0.5]},
        bias={"enabled": True, "value": 0.7},
    )  # fmt: skip
    spec = NetworkSpec.from_dict(base)
    w = original_initial_weights(spec, np.random.RandomState(7))
    rs = np.random.RandomState(7)
    want = {}  # forward bottom-up, feedback top-down, lateral per layer, bias inter before pyr
    want["ff_1"] = rs.uniform(-0.1, 0.1, size=(4, 20))
    want["ff_2"] = rs.uniform(-0.1, 0.1, size=(20, 10))
    want["ff_3"] = rs.uniform(-0.1, 0.1, size=(10, 3))
    want["fb_2"] = rs.uniform(-0.5, 0.5, size=(3, 10))
    want["fb_1"] = rs.uniform(-0.5, 0.5, size=(10, 20))
    want["p2i_1"] = rs.uniform(-0.1, 0.1, size=(20, 10))
    want["i2p_1"] = rs.uniform(-1, 1, size=(10, 20))
    want["p2i_2"] = rs.uniform(-0.1, 0.1, size=(10, 3))
    want["i2p_2"] = rs.uniform(-1, 1, size=(3, 10))
    want["bias_inter_1"] = rs.uniform(-0.1, 0.1, size=(1, 10))
    want["bias_pyr_1"] = rs.uniform(-0.1, 0.1, size=(1, 20))
    want["bias_inter_2"] = rs.uniform(-0.1, 0.1, size=(1, 3))
    want["bias_pyr_2"] = rs.uniform(-0.1, 0.1, size=(1, 10))
    assert set(w) == set(want)
    for k, v in want.items():
        np.testing.assert_array_equal(w[k], v.astype(np.float32), err_msg=k)


@pytest.fixture
def original_dict(tiny_dict):
    d = copy.deepcopy(tiny_dict)
    d["randomness"] = "original"
    d["network"] = {"preset": "yinyang", "feedback": "fa"}
    return d


def test_randomness_key_is_validated(original_dict):
    assert config_from_dict(original_dict).randomness == "original"
    assert config_from_dict({**original_dict, "randomness": "toolkit"}).to_dict()["randomness"] == (
        "toolkit"
    )
    with pytest.raises(ConfigError, match=r"randomness: 'legacy' is not valid; use one of"):
        config_from_dict({**original_dict, "randomness": "legacy"}, source="x.yaml")


def _spy_run_stage(monkeypatch) -> list[dict]:
    calls = []
    real = Simulation.run_stage

    def spy(self, inputs, teacher, order=None, **kwargs):
        calls.append({"inputs": np.array(inputs), "order": np.array(order), "sim": self})
        return real(self, inputs, teacher, order, **kwargs)

    monkeypatch.setattr(Simulation, "run_stage", spy)
    return calls


def test_original_mode_weights_and_shuffle_sequence(original_dict, tmp_path, monkeypatch):
    cfg = config_from_dict(original_dict, source="tiny.yaml")  # 2 epochs, seed 3
    calls = _spy_run_stage(monkeypatch)
    (run,) = train(cfg, tmp_path, quiet=True)
    data = load_stage_data(cfg)
    n = {s: data[s].n_samples for s in data}
    rs = np.random.RandomState(cfg.seed)
    w_in = rs.uniform(-0.1, 0.1, size=(4, 30))
    w_out = rs.uniform(-0.1, 0.1, size=(30, 3))
    b = rs.uniform(-1, 1, size=(3, 30))
    stages = ["validation", "training", "validation", "training", "validation", "test"]
    want = []
    for stage in stages:  # one np.random.shuffle(np.arange(N)) per stage run
        idx = np.arange(n[stage])
        rs.shuffle(idx)
        want.append(idx)
    assert len(calls) == len(stages)
    for call, stage, idx in zip(calls, stages, want, strict=True):
        np.testing.assert_array_equal(call["order"], idx[None])
        np.testing.assert_array_equal(call["inputs"], data[stage].inputs)
    w0 = calls[0]["sim"]._initial_weights
    np.testing.assert_array_equal(w0["ff_1"][0], w_in.astype(np.float32))
    np.testing.assert_array_equal(w0["ff_2"][0], w_out.astype(np.float32))
    np.testing.assert_array_equal(w0["fb_1"][0], b.astype(np.float32))
    weights = RunDir(run.path).zarr_path
    import zarr

    g = zarr.open_group(weights, mode="r")
    np.testing.assert_array_equal(g["weights/fb_1.g"][0], b.astype(np.float32))
    # the toolkit's own mode draws something else from the same seed
    toolkit = dataclasses.replace(cfg, randomness="toolkit")
    calls.clear()
    train(dataclasses.replace(toolkit, protocol=dataclasses.replace(cfg.protocol, n_epochs=0)),
          tmp_path / "tk", quiet=True)  # fmt: skip
    assert not np.array_equal(calls[0]["sim"]._initial_weights["fb_1"][0], b.astype(np.float32))


@pytest.mark.parametrize("randomness", ["original", "toolkit"])
def test_original_mode_batch_equals_lone_runs(original_dict, tmp_path, randomness):
    cfg = config_from_dict({**original_dict, "randomness": randomness}, source="tiny.yaml")
    runs = train(cfg, tmp_path / "batch", quiet=True, seeds=[5, 6])
    (lone,) = train(cfg.with_seed(6), tmp_path / "lone", quiet=True)
    mb, ml = runs[1].read_metrics(), lone.read_metrics()
    mb.pop("name"), ml.pop("name")
    assert mb == ml
    import zarr

    a = zarr.open_group(runs[1].zarr_path, mode="r")
    b = zarr.open_group(lone.zarr_path, mode="r")
    for stage in a.group_keys():
        for name in a[stage].array_keys():
            np.testing.assert_array_equal(a[stage][name][...], b[stage][name][...])
    other = zarr.open_group(runs[0].zarr_path, mode="r")
    assert not np.array_equal(other["weights/ff_1.g"][0], a["weights/ff_1.g"][0])


def test_rng_state_round_trips_through_json():
    import json

    for rng in (np.random.RandomState(4), np.random.default_rng(4)):
        rng.permutation(10)
        state = json.loads(json.dumps(rng_state(rng), default=lambda o: o.tolist()))
        want = rng.permutation(50)
        fresh = (
            np.random.RandomState(0)
            if isinstance(rng, np.random.RandomState)
            else (np.random.default_rng(0))
        )
        set_rng_state(fresh, state)
        np.testing.assert_array_equal(fresh.permutation(50), want)


def _fake_mnist(n_train=50, n_valid=20, n_test=20, seed=0):
    rng = np.random.default_rng(seed)

    def split(n):
        return Split(rng.uniform(size=(n, 784)).astype(np.float32), np.arange(n) % 10)

    return Dataset("mnist", split(n_train), split(n_valid), split(n_test), 10, 784)


def test_mnist_original_mode_shows_a_fresh_subset_of_the_whole_split(tmp_path, monkeypatch):
    whole = _fake_mnist()
    asked = []

    def fake_load(name, **kwargs):
        asked.append(kwargs)
        n = {k: kwargs[k] for k in ("n_train", "n_valid", "n_test")}
        if kwargs.get("whole_splits"):
            return whole
        return _fake_mnist(10 * n["n_train"], 10 * n["n_valid"], 10 * n["n_test"])

    monkeypatch.setattr("mc_experiments.data.load_dataset", fake_load)
    base = {
        "name": "mn",
        "seed": 11,
        "randomness": "original",
        "network": {"preset": "mnist", "feedback": "fa", "player": {"t_pattern": 0.05}},
        "dataset": {"name": "mnist", "n_train": 2, "n_valid": 1, "n_test": 1},
        "protocol": {"n_epochs": 1},
        "recording": {"records_per_sample": 1},
        "backend": {"name": "reference"},
    }
    cfg = config_from_dict(base, source="mn.yaml")
    data = load_stage_data(cfg)
    assert asked[-1]["whole_splits"] is True
    assert data["training"].n_samples == 50 and data["training"].shown == 20
    assert data["validation"].n_samples == 20 and data["validation"].shown == 10
    calls = _spy_run_stage(monkeypatch)
    seeds = (11, 12)  # a batch of two members: each gathers its own subset
    members = []
    for seed in seeds:
        (tmp_path / f"mn{seed}").mkdir()
        members.append(Member(cfg.with_seed(seed), RunDir(tmp_path / f"mn{seed}")))
    Experiment(members).run()
    splits = {"validation": whole.valid, "training": whole.train, "test": whole.test}
    stages = ["validation", "training", "validation", "test"]
    for b, seed in enumerate(seeds):
        rs = np.random.RandomState(seed)
        rs.uniform(-0.1, 0.1, size=(784, 100))  # the weights come first (the draw order)
        rs.uniform(-0.1, 0.1, size=(100, 10))
        rs.uniform(-1, 1, size=(10, 100))
        for call, stage in zip(calls, stages, strict=True):
            idx = np.arange(splits[stage].n_samples)  # a shuffle of the whole split ...
            rs.shuffle(idx)
            shown = 10 * {"validation": 1, "training": 2, "test": 1}[stage]
            # ... of which the stage run shows the first 10 n entries
            np.testing.assert_array_equal(call["inputs"][b], splits[stage].inputs[idx[:shown]])
            np.testing.assert_array_equal(call["order"][b], np.arange(shown))
    # the toolkit's mode: the first 10 n samples of each split, the same ones every run
    tk = load_stage_data(config_from_dict({**base, "randomness": "toolkit"}, source="mn.yaml"))
    assert "whole_splits" not in asked[-1]
    assert tk["training"].n_samples == tk["training"].shown == 20

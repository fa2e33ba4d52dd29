import dataclasses
import importlib.util
import json

import numpy as np
import pytest
import zarr

from mc_experiments.config import config_from_dict
from mc_experiments.data import load_stage_data
from mc_experiments.runner import resume, train
from mc_experiments.storage import RunDir
from mc_network import run_streams


@pytest.fixture
def cfg(tiny_dict):
    return config_from_dict(tiny_dict, source="tiny.yaml")


def _arrays(run: RunDir) -> dict:
    g = zarr.open_group(run.zarr_path, mode="r")
    out = {}
    for stage in g.group_keys():
        for name in g[stage].array_keys():
            out[f"{stage}/{name}"] = g[stage][name][...]
    return out


def test_protocol_stage_order_counts_and_run_dir(cfg, tmp_path):
    (run,) = train(cfg, tmp_path, quiet=True)
    m = run.read_metrics()
    assert m["epochs_completed"] == 2
    assert len(m["validation_accuracy"]) == 3  # before each epoch, plus the final one
    assert len(m["angles"]["fb_1"]) == 3  # at the start and after each epoch
    assert m["test_accuracy"] is not None
    assert run.status()["state"] == "completed"
    for f in ("config.yaml", "environment.json", "metrics.json", "run.log"):
        assert (run.path / f).is_file(), f
    env = json.loads((run.path / "environment.json").read_text())
    assert env["code"]["packages"]["mc-network"] and env["backend"]["name"] == "reference"
    assert env["backend"]["build"] == {}  # the reference backend has nothing to add
    arrays = _arrays(run)
    data = load_stage_data(cfg)
    n_val, n_tr = data["validation"].n_samples, data["training"].n_samples
    assert arrays["validation/output.v_brev"].shape == (3, n_val * 5, 3)
    assert arrays["training/output.v_target"].shape == (2, n_tr * 5, 3)
    assert arrays["test/output.v_brev"].shape == (1, data["test"].n_samples * 5, 3)
    assert arrays["weights/fb_1.g"].shape == (3, 3, 30)
    # presentation order: one permutation per stage from the order stream, in stage order
    rng = run_streams(cfg.seed).order
    perms = [rng.permutation(n) for n in (n_val, n_tr, n_val, n_tr, n_val, data["test"].n_samples)]
    for e, perm in zip((0, 1, 2), (perms[0], perms[2], perms[4]), strict=True):
        rec = arrays["validation/teacher.rate"][e].reshape(n_val, 5, 3)[:, 1]
        np.testing.assert_array_equal(rec, data["validation"].teacher[perm])
    # teacher only in training
    assert np.all(arrays["validation/output.v_target"] == 0)
    assert np.any(arrays["training/output.v_target"] != 0)
    # zarr attributes name the variable, stage and cadence
    attrs = zarr.open_group(run.zarr_path, mode="r")["validation/output.v_brev"].attrs
    assert attrs["variable"] == "v_brev" and attrs["owner"] == "output"
    assert attrs["stage"] == "validation" and attrs["record_every_steps"] == 20


def test_runs_never_overwrite(cfg, tmp_path):
    cfg = dataclasses.replace(cfg, protocol=dataclasses.replace(cfg.protocol, n_epochs=0))
    a = train(cfg, tmp_path, quiet=True)[0].path
    b = train(cfg, tmp_path, quiet=True)[0].path
    assert a != b and a.parent == b.parent


def _backend(name):
    if name == "genn" and importlib.util.find_spec("pygenn") is None:
        pytest.skip("pygenn 5 is not installed: the GeNN variant needs it (see the README)")
    return name


@pytest.mark.parametrize(
    ("backend", "randomness"),
    [("reference", "toolkit"), ("reference", "original"), ("genn", "toolkit")],
)
def test_resume_equals_uninterrupted(cfg, tmp_path, backend, randomness, monkeypatch):
    # GeNN (CPU): each member's noise generator state is part of the checkpoint; with
    # randomness: original the order generator is a legacy RandomState
    monkeypatch.setenv("MC_GENN_CACHE", str(tmp_path / "genn-cache"))
    cfg = dataclasses.replace(cfg, backend=dataclasses.replace(cfg.backend, name=_backend(backend)))
    cfg = dataclasses.replace(cfg, randomness=randomness)
    (full,) = train(cfg, tmp_path / "full", quiet=True)

    calls = {"n": 0}
    from mc_experiments import protocol

    original_epoch = protocol.Experiment._epoch

    def interrupting_epoch(self, epoch):
        if epoch == 1:
            # interrupt in the middle of the second epoch: after its validation stage ran
            self._run_stage("validation", epoch, self.cfg.protocol.n_epochs + 1)
            raise KeyboardInterrupt
        calls["n"] += 1
        return original_epoch(self, epoch)

    protocol.Experiment._epoch = interrupting_epoch
    try:
        with pytest.raises(KeyboardInterrupt):
            train(cfg, tmp_path / "cut", quiet=True)
    finally:
        protocol.Experiment._epoch = original_epoch
    (cut,) = list((tmp_path / "cut").iterdir())
    run = RunDir(cut)
    assert run.status()["state"] == "interrupted" and run.status()["epochs_completed"] == 1
    assert run.read_metrics()["epochs_completed"] == 1
    resume(cut, quiet=True)
    assert run.status()["state"] == "completed"
    assert run.read_metrics() == full.read_metrics()
    a, b = _arrays(full), _arrays(run)
    assert a.keys() == b.keys()
    for k in a:
        np.testing.assert_array_equal(a[k], b[k], err_msg=k)


@pytest.mark.parametrize("backend", ["reference", "genn"])
def test_batched_seeds_equal_lone_runs(cfg, tmp_path, backend, monkeypatch):
    monkeypatch.setenv("MC_GENN_CACHE", str(tmp_path / "genn-cache"))
    cfg = dataclasses.replace(cfg, backend=dataclasses.replace(cfg.backend, name=_backend(backend)))
    runs = train(cfg, tmp_path / "batch", quiet=True, seeds=[5, 6])
    (lone,) = train(cfg.with_seed(6), tmp_path / "lone", quiet=True)
    mb, ml = runs[1].read_metrics(), lone.read_metrics()
    mb.pop("name"), ml.pop("name")
    assert mb == ml
    a, b = _arrays(runs[1]), _arrays(lone)
    for k in a:
        np.testing.assert_array_equal(a[k], b[k], err_msg=k)


@pytest.mark.parametrize(("options", "exact"), [({}, True), ({"exact": False}, False)])
def test_run_directory_records_the_genn_build_mode(cfg, tmp_path, monkeypatch, options, exact):
    # the effective build mode is recorded also when the config leaves it at the default
    monkeypatch.setenv("MC_GENN_CACHE", str(tmp_path / "genn-cache"))
    backend = dataclasses.replace(cfg.backend, name=_backend("genn"), options=options)
    protocol = dataclasses.replace(cfg.protocol, n_epochs=0)
    cfg = dataclasses.replace(cfg, backend=backend, protocol=protocol)
    (run,) = train(cfg, tmp_path / "runs", quiet=True)
    env = json.loads((run.path / "environment.json").read_text())["backend"]
    assert env["name"] == "genn" and env["options"] == options
    build = env["build"]
    assert build["exact"] is exact and build["device"] == "single_threaded_cpu"
    assert build["optimize_code"] is not exact  # GeNN's -O3 -ffast-math: the fast build only
    assert len(build["cache_key"]) == 24 and build["pygenn"].startswith("5.")


def test_unavailable_backend_falls_back_with_warning(tiny_dict, tmp_path, caplog):
    from mc_network import register_backend

    register_backend(
        "nowhere",
        "mc_network.backends.reference:ReferenceSimulation",
        lambda: "it exists nowhere (test)",
    )
    tiny_dict["protocol"]["n_epochs"] = 0
    tiny_dict["backend"] = {"name": "nowhere", "fallback": "reference"}
    cfg = config_from_dict(tiny_dict, source="fallback.yaml")
    (run,) = train(cfg, tmp_path, quiet=True)
    env = json.loads((run.path / "environment.json").read_text())
    assert env["backend"]["name"] == "reference" and env["backend"]["requested"] == "nowhere"
    assert "falling back to the 'reference' backend" in caplog.text
    tiny_dict["backend"] = {"name": "nowhere"}
    from mc_network import BackendUnavailable

    with pytest.raises(BackendUnavailable, match="it exists nowhere"):
        train(config_from_dict(tiny_dict, source="x.yaml"), tmp_path, quiet=True)


def test_runs_with_equal_data_share_one_read_only_copy(tiny_dict):
    cfg = config_from_dict(tiny_dict, source="tiny.yaml")  # dataset.seed 42
    d1, d2 = load_stage_data(cfg), load_stage_data(cfg.with_seed(9))
    for stage in ("validation", "training", "test"):
        assert d1[stage].inputs is d2[stage].inputs and d1[stage].teacher is d2[stage].teacher
    with pytest.raises(ValueError, match="read-only"):
        d1["training"].inputs[0, 0] = 1.0
    # without a dataset seed each run seed draws its own data set
    del tiny_dict["dataset"]["seed"]
    free = config_from_dict(tiny_dict, source="tiny.yaml")
    e1, e2 = load_stage_data(free), load_stage_data(free.with_seed(9))
    assert not np.array_equal(e1["training"].inputs, e2["training"].inputs)


def test_batch_with_shared_data_passes_one_copy(cfg, tmp_path, monkeypatch):
    from mc_network.backends.base import Simulation

    shapes = []
    real = Simulation.run_stage

    def spy(self, inputs, teacher, *args, **kwargs):
        shapes.append((np.shape(inputs), np.shape(teacher)))
        return real(self, inputs, teacher, *args, **kwargs)

    monkeypatch.setattr(Simulation, "run_stage", spy)
    train(cfg, tmp_path, quiet=True, seeds=[5, 6])
    assert shapes and all(len(x) == 2 and len(t) == 2 for x, t in shapes)
    shapes.clear()
    no_seed = dataclasses.replace(cfg, dataset=dataclasses.replace(cfg.dataset, seed=None))
    train(no_seed, tmp_path / "own", quiet=True, seeds=[5, 6])
    assert shapes and all(x[0] == 2 and len(x) == 3 for x, _ in shapes)


def test_thinned_recordings_keep_every_metric(cfg, tmp_path):
    """``validation_every``/``weights_every`` thin what is written, never what is measured."""
    from mc_analysis.rundir import read_run
    from mc_analysis.summary import compare_with_metrics, run_summary

    rec = dataclasses.replace(cfg.recording, validation_every=2, weights_every=2, training=())
    pr = dataclasses.replace(cfg.protocol, n_epochs=3, checkpoint_every=1)
    thin_cfg = dataclasses.replace(cfg, recording=rec, protocol=pr)
    full_cfg = dataclasses.replace(cfg, protocol=pr)
    full = train(full_cfg, tmp_path / "full", quiet=True)[0]
    thin = train(thin_cfg, tmp_path / "thin", quiet=True)[0]
    a, b = full.read_metrics(), thin.read_metrics()
    for key in ("validation_accuracy", "validation_rmse", "test_accuracy", "angles"):
        assert a[key] == b[key], key  # the same simulation, the same numbers
    arrays = _arrays(thin)
    assert "training/output.v_brev" not in arrays  # recording.training: [] records nothing
    v_full, v_thin = _arrays(full)["validation/output.v_brev"], arrays["validation/output.v_brev"]
    for e in range(4):  # validations 0 and 2 (every 2nd) and 3 (the final one) are written
        if e in (0, 2, 3):
            np.testing.assert_array_equal(v_thin[e], v_full[e])
        else:
            assert np.all(np.isnan(v_thin[e]))
    w = arrays["weights/fb_1.g"]
    assert [e for e in range(4) if not np.all(np.isnan(w[e]))] == [0, 2, 3]
    # the analysis recomputes what is recorded and takes the rest from metrics.json
    s = run_summary(read_run(thin.path))
    assert s["validation_recorded"] == [0, 2, 3]
    assert s["validation_source"] == "recordings+metrics"
    assert s["validation_accuracy"] == b["validation_accuracy"]
    assert s["angles"] == b["angles"] and s["angles_source"] == "metrics"
    assert compare_with_metrics(s, b) == []
    # samples_written: the records of the first samples only; the numbers from metrics.json
    rec2 = dataclasses.replace(rec, samples_written=2)
    few = train(dataclasses.replace(thin_cfg, recording=rec2), tmp_path / "few", quiet=True)[0]
    c = few.read_metrics()
    for key in ("validation_accuracy", "validation_rmse", "test_accuracy", "test_confusion"):
        assert c[key] == a[key], key
    few_arrays = _arrays(few)
    np.testing.assert_array_equal(few_arrays["validation/output.v_brev"][3], v_full[3][:10])
    assert few_arrays["test/teacher.rate"].shape[1] == 2 * 5
    s2 = run_summary(read_run(few.path))
    assert s2["validation_recorded"] == [] and s2["validation_source"] == "metrics"
    assert s2["validation_accuracy"] == a["validation_accuracy"]
    assert s2["test_accuracy"] == a["test_accuracy"] and s2["test_source"] == "metrics"
    # a completed run keeps only its final checkpoint
    assert sorted(p.name for p in thin.checkpoint_dir.iterdir()) == [
        "epoch_0003.json",
        "epoch_0003.npz",
    ]


def test_non_finite_state_fails_the_member_naming_the_variable(cfg, tmp_path, monkeypatch):
    from mc_experiments import protocol

    real = protocol.build_network

    def poisoned(*args, **kwargs):
        sim = real(*args, **kwargs)
        w = sim.get_weights()["ff_2"]
        w[1, 0, 0] = np.nan  # member 1 only
        sim.set_weights({"ff_2": w})
        return sim

    monkeypatch.setattr(protocol, "build_network", poisoned)
    m0 = protocol.Member(cfg, RunDir(tmp_path / "a"))
    m1 = protocol.Member(cfg.with_seed(4), RunDir(tmp_path / "b"))
    for m in (m0, m1):
        m.run.path.mkdir()
    protocol.Experiment([m0, m1]).run()
    assert m0.failed is None and m0.run.status()["state"] == "completed"
    assert m1.failed.startswith("non-finite ") and "after validation 0" in m1.failed
    assert m1.run.status()["state"] == "failed"


def test_diverging_run_warns_once_and_says_so_in_its_status(cfg, tmp_path, monkeypatch, caplog):
    from mc_experiments import protocol

    real = protocol.build_network

    def inflated(*args, **kwargs):
        sim = real(*args, **kwargs)
        sim.set_weights({"fb_1": sim.get_weights()["fb_1"] * 5e3})  # finite, far too large
        return sim

    monkeypatch.setattr(protocol, "build_network", inflated)
    (run,) = train(cfg, tmp_path, quiet=True)
    status = run.status()
    assert status["state"] == "completed"  # finite: it runs to the end ...
    warnings = [r.getMessage() for r in caplog.records if "diverging" in r.getMessage()]
    assert len(warnings) == 1  # ... warned once, naming the step and the largest variables
    assert "diverging after validation 0: |" in warnings[0] and "fb_1.g" in warnings[0]
    assert "beyond 1000" in warnings[0] and status["warning"] == warnings[0].split(": ", 1)[1]


@pytest.mark.parametrize("mode", ["exact", "fast"])
def test_run_directory_records_the_input_mode(tiny_dict, tmp_path, mode):
    # the default (exact) is recorded too: in the resolved config and in environment.json
    network = dict(tiny_dict["network"])
    if mode == "fast":
        network["input_mode"] = "fast"
    d = {**tiny_dict, "network": network, "protocol": {**tiny_dict["protocol"], "n_epochs": 0}}
    cfg = config_from_dict(d, source="tiny.yaml")
    (run,) = train(cfg, tmp_path, quiet=True)
    env = json.loads((run.path / "environment.json").read_text())["backend"]
    assert env["input_mode"] == mode
    assert env["fast_projections"] == (["ff_1"] if mode == "fast" else [])
    assert run.read_config()["network"]["input_mode"] == mode

"""Run directories: file modes, sealed checkpoints with fallback, status after every epoch."""

import dataclasses
import json
import logging
import os
import stat

import numpy as np
import pytest
import yaml
import zarr

from mc_experiments import protocol
from mc_experiments.config import config_from_dict
from mc_experiments.runner import resume, train
from mc_experiments.storage import RunDir


@pytest.fixture
def cfg(tiny_dict):
    tiny_dict["protocol"]["n_epochs"] = 3
    return config_from_dict(tiny_dict, source="tiny.yaml")


def _arrays(path):
    g = zarr.open_group(path / "recordings.zarr", mode="r")
    return {f"{s}/{a}": g[s][a][...] for s in g.group_keys() for a in g[s].array_keys()}


def _same_run(a, b):
    assert RunDir(a).read_metrics() == RunDir(b).read_metrics()
    x, y = _arrays(a), _arrays(b)
    assert x.keys() == y.keys() and x
    for k in x:
        np.testing.assert_array_equal(x[k], y[k], err_msg=k)


def _cut_run(cfg, tmp_path, monkeypatch, at):
    """An uninterrupted run and one interrupted in epoch ``at`` (its checkpoints before)."""
    (full,) = train(cfg, tmp_path / "full", quiet=True)
    _interrupt_in_epoch(monkeypatch, at)
    with pytest.raises(KeyboardInterrupt):
        train(cfg, tmp_path / "cut", quiet=True)
    monkeypatch.undo()
    (cut,) = (tmp_path / "cut").iterdir()
    return full.path, cut


def _interrupt_in_epoch(monkeypatch, at, exc=KeyboardInterrupt):
    real = protocol.Experiment._epoch

    def epoch(self, e):
        if e == at:
            self._run_stage("validation", e, self.cfg.protocol.n_epochs + 1)
            raise exc("stopped by the test")
        return real(self, e)

    monkeypatch.setattr(protocol.Experiment, "_epoch", epoch)


# ---------------------------------------------------------------------- item 10: file modes
@pytest.mark.parametrize("umask", [0o022, 0o002])
def test_files_get_the_umask_mode(cfg, tmp_path, umask):
    old = os.umask(umask)
    try:
        (run,) = train(cfg, tmp_path, quiet=True)
    finally:
        os.umask(old)
    files = [p for p in run.path.rglob("*") if p.is_file()]
    assert {p.name for p in files} >= {
        "config.yaml",
        "metrics.json",
        "status.json",
        "epoch_0003.npz",
    }
    modes = {str(p.relative_to(run.path)): stat.S_IMODE(p.stat().st_mode) for p in files}
    assert set(modes.values()) == {0o666 & ~umask}, modes


# ------------------------------------------------------ item 5: checkpoints, checksums, fallback
@pytest.mark.parametrize(
    ("damage", "name"),
    [
        (lambda p: p.write_bytes(p.read_bytes()[: p.stat().st_size // 2]), "epoch_0002.npz"),
        (lambda p: p.write_bytes(b"\x00" * 64 + p.read_bytes()[64:]), "epoch_0002.npz"),
        (lambda p: p.write_text(p.read_text()[:-40]), "epoch_0002.json"),
        (
            lambda p: p.write_text(p.read_text().replace('"epoch": 2', '"epoch": 1')),
            "epoch_0002.json",
        ),
    ],
)
def test_corrupt_latest_checkpoint_falls_back_to_the_previous(
    cfg, tmp_path, monkeypatch, caplog, damage, name
):
    caplog.set_level(logging.INFO, logger="mc_experiments")
    full, cut = _cut_run(cfg, tmp_path, monkeypatch, 2)
    ck = cut / "checkpoints"
    assert sorted(p.name for p in ck.iterdir()) == [
        "epoch_0001.json",
        "epoch_0001.npz",
        "epoch_0002.json",
        "epoch_0002.npz",
    ]
    damage(ck / name)
    resume(cut, quiet=True)
    assert f"{ck / name}: " in caplog.text and "falling back to an older checkpoint" in caplog.text
    assert "resuming at epoch 1" in caplog.text
    assert (ck / f"{name}.corrupt").is_file()  # set aside, never used or kept instead
    _same_run(full, cut)


def test_no_usable_checkpoint_starts_again(cfg, tmp_path, monkeypatch, caplog):
    caplog.set_level(logging.INFO, logger="mc_experiments")
    full, cut = _cut_run(cfg, tmp_path, monkeypatch, 1)
    (cut / "checkpoints" / "epoch_0001.npz").write_bytes(b"garbage")
    resume(cut, quiet=True)
    assert "epoch_0001.npz: fails its checksum" in caplog.text
    assert "no usable checkpoint: starting again from epoch 0" in caplog.text
    _same_run(full, cut)


def test_checkpoint_errors_name_the_file(cfg, tmp_path):
    from mc_analysis.runformat import CorruptFile, seal

    (run,) = train(
        dataclasses.replace(cfg, protocol=dataclasses.replace(cfg.protocol, n_epochs=1)),
        tmp_path,
        quiet=True,
    )
    meta = run.checkpoint_dir / "epoch_0001.json"
    meta.write_text("{not json")
    with pytest.raises(CorruptFile, match=f"{meta}: not valid JSON"):
        run.load_checkpoint(1)
    (run.checkpoint_dir / "epoch_0001.npz").unlink()
    meta.write_text(json.dumps(seal({"epoch": 1})))
    with pytest.raises(CorruptFile, match="epoch_0001.npz: missing"):
        run.load_checkpoint(1)


# ---------------------------------------------------- item 6: status every epoch, on failure
def test_status_is_updated_every_epoch(cfg, tmp_path, monkeypatch):
    seen = []
    real = protocol.Experiment._epoch

    def epoch(self, e):
        seen.append(json.loads((self.members[0].run.path / "status.json").read_text()))
        return real(self, e)

    monkeypatch.setattr(protocol.Experiment, "_epoch", epoch)
    train(cfg, tmp_path, quiet=True)
    assert [(s["state"], s["epochs_completed"]) for s in seen] == [("running", e) for e in range(3)]


def test_any_error_marks_the_run_failed_with_error_and_step(cfg, tmp_path, monkeypatch):
    _interrupt_in_epoch(monkeypatch, 1, exc=RuntimeError)
    with pytest.raises(RuntimeError, match="stopped by the test"):
        train(cfg, tmp_path, quiet=True)
    (path,) = tmp_path.iterdir()
    status = json.loads((path / "status.json").read_text())
    assert status["state"] == "failed"
    assert status["error"] == "RuntimeError: stopped by the test"
    assert status["step"] == "validation 1" and status["epochs_completed"] == 1


@pytest.mark.parametrize("legacy", [False, True], ids=["older format 2", "format 1"])
def test_runs_of_an_older_version_continue(cfg, tmp_path, monkeypatch, legacy):
    """A config written before keys were added (they take their defaults) is the same config."""
    from mc_analysis.bounded import dump_yaml
    from mc_analysis.runformat import fingerprint

    full, cut = _cut_run(cfg, tmp_path, monkeypatch, 2)
    config = yaml.safe_load((cut / "config.yaml").read_text())
    del config["randomness"], config["dataset"]["mnist_sample"]  # keys added later
    (cut / "config.yaml").write_text(dump_yaml(config))
    env = json.loads((cut / "environment.json").read_text())
    if legacy:
        del env["format_version"], env["config_fingerprint"]
    else:
        env["config_fingerprint"] = fingerprint(config)  # as that version wrote it
    (cut / "environment.json").write_text(json.dumps(env))
    resume(cut, quiet=True)
    _same_run(full, cut)

"""Each promise the READMEs make about run directories, tested here in the terms they use.

"Runs never overwrite, write atomically, never through a symbolic link, lock what they
write, checksum what they read back", "finite numbers" and the exit statuses (0 done, 1 a
run failed, 2 refused, 130/143 interrupted). Some are tested in more depth elsewhere:
interrupted runs (130, 143) in ``test_cli.py``, locks in ``test_locks.py``, kills at every
write in ``test_fault_injection.py``, symbolic links and the other hostile inputs in
``test_hostile_inputs.py``. What the READMEs say is *not* protected is not tested as if it
were.
"""

import json
import logging
import math
import os
import sys

import numpy as np
import pytest
import yaml

from mc_analysis.report import make_run_report
from mc_analysis.rundir import RunDataError, read_run
from mc_analysis.runformat import DirLock
from mc_experiments import protocol
from mc_experiments.cli import main
from mc_experiments.config import config_from_dict
from mc_experiments.runner import resume, train
from mc_experiments.storage import RunDir


@pytest.fixture
def cfg(tiny_dict):
    tiny_dict["protocol"]["n_epochs"] = 2
    return config_from_dict(tiny_dict, source="tiny.yaml")


@pytest.fixture
def config_file(write_yaml, tiny_dict):
    tiny_dict["protocol"]["n_epochs"] = 2
    return write_yaml(tiny_dict)


def _errors(caplog):
    return [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]


# ------------------------------------------------------------------ never overwrite
def test_runs_never_overwrite_one_another(cfg, tmp_path):
    a = train(cfg, tmp_path, quiet=True)[0].path
    before = {p: p.read_bytes() for p in a.rglob("*") if p.is_file()}
    b = train(cfg, tmp_path, quiet=True)[0].path  # the same name, within the same second
    assert a != b and a.parent == b.parent
    assert {p: p.read_bytes() for p in a.rglob("*") if p.is_file()} == before


# ------------------------------------------------------------------ atomic writes
def test_every_file_is_written_atomically(cfg, tmp_path, monkeypatch, stop_after_checkpoint):
    """Every file of a run is written as a temporary file and renamed into place.

    Only ``run.log`` (appended to) and ``.lock`` (locked in place, holding its holder) are
    written where they lie. Checked for a run cut after its first epoch and its resume.
    """
    opened, renamed = [], []
    below = str(tmp_path)

    def hook(event, args):
        if not (active and args and isinstance(args[0], str | os.PathLike)):
            return
        path = os.fsdecode(args[0])
        if not path.startswith(below):
            return
        if event == "open":
            mode, flags = args[1], args[2]
            writes = (isinstance(mode, str) and any(c in mode for c in "wax+")) or (
                mode is None and flags & (os.O_WRONLY | os.O_RDWR)
            )
            if writes:
                opened.append(os.path.basename(path))
        elif event == "os.rename":
            renamed.append((os.path.basename(path), os.path.basename(os.fsdecode(args[1]))))

    active = True
    sys.addaudithook(hook)  # stays installed; inactive after the test
    try:
        stop_after_checkpoint(1)
        with pytest.raises(KeyboardInterrupt):
            train(cfg, tmp_path, quiet=True)
        monkeypatch.undo()
        (run_dir,) = tmp_path.iterdir()
        resume(run_dir, quiet=True)
    finally:
        active = False
    in_place = {"run.log", ".lock"}
    direct = [n for n in opened if n not in in_place]
    assert direct and all(n.startswith(".") and n.endswith(".tmp") or n.endswith(".partial")
                          for n in direct), direct  # fmt: skip
    for tmp, final in renamed:  # each temporary file becomes its final file in one rename
        stem = final.rsplit(".", 1)[0] if "." in final else final  # zarr: <stem>.<uuid>.partial
        assert tmp.startswith(("." + final + ".", stem + ".")), (tmp, final)
    finals = {final for _, final in renamed}
    assert {"config.yaml", "status.json", "metrics.json", "environment.json"} <= finals
    assert {"epoch_0001.npz", "epoch_0001.json", "zarr.json"} <= finals
    assert RunDir(run_dir).status()["state"] == "completed"


# ------------------------------------------------------------------ locks
def test_a_directory_being_written_is_locked(
    cfg, tmp_path, monkeypatch, caplog, stop_after_checkpoint
):
    stop_after_checkpoint(1)
    with pytest.raises(KeyboardInterrupt):
        train(cfg, tmp_path, quiet=True)
    monkeypatch.undo()
    (run_dir,) = tmp_path.iterdir()
    with DirLock(run_dir, "run directory"):  # as another process writing it would
        assert main(["resume", str(run_dir), "--quiet"]) == 2
        assert f"this run directory is being written by pid {os.getpid()}" in _errors(caplog)[-1]
    assert main(["resume", str(run_dir), "--quiet"]) == 0


# ------------------------------------------------------------------ checksums when read back
def _flip(path, where=-9):
    data = bytearray(path.read_bytes())
    data[where] ^= 0x01
    path.write_bytes(bytes(data))


def _edit_config(run_dir):
    config = yaml.safe_load((run_dir / "config.yaml").read_text())
    config["seed"] += 1
    (run_dir / "config.yaml").write_text(yaml.safe_dump(config))


def _edit_metadata(run_dir):
    path = run_dir / "recordings.zarr" / "weights" / "ff_1.g" / "zarr.json"
    doc = json.loads(path.read_text())
    doc["attributes"]["entry_every"] = 2
    path.write_text(json.dumps(doc))


def _chunk(run_dir):
    (path,) = [p for p in (run_dir / "recordings.zarr" / "weights" / "ff_1.g" / "c").rglob("*")
               if p.is_file()]  # fmt: skip
    return path


DAMAGE = {
    "config.yaml (its fingerprint)": (_edit_config, "config.yaml: does not match"),
    "a recorded chunk (crc32c)": (lambda d: _flip(_chunk(d), 40), "ff_1.g: data fail their"),
    "an array's metadata (its checksum)": (_edit_metadata, "ff_1.g/zarr.json: fails its"),
}


@pytest.mark.parametrize("what", list(DAMAGE))
def test_what_mc_analyze_reads_back_is_checked(cfg, tmp_path, what):
    (run,) = train(cfg, tmp_path / "runs", quiet=True)
    damage, message = DAMAGE[what]
    damage(run.path)
    with pytest.raises((RunDataError, ValueError), match=message.replace(".", r"\.")):
        make_run_report(run.path, tmp_path / "report")


@pytest.mark.parametrize("file", ["epoch_0001.npz", "epoch_0001.json"])
def test_what_mc_run_resume_reads_back_is_checked(
    cfg, tmp_path, monkeypatch, caplog, file, stop_after_checkpoint
):
    (full,) = train(cfg, tmp_path / "full", quiet=True)
    stop_after_checkpoint(1)
    with pytest.raises(KeyboardInterrupt):
        train(cfg, tmp_path / "cut", quiet=True)
    monkeypatch.undo()
    (run_dir,) = (tmp_path / "cut").iterdir()
    _flip(
        run_dir / "checkpoints" / file,
        where=len((run_dir / "checkpoints" / file).read_bytes()) // 2,
    )
    assert main(["resume", str(run_dir), "--quiet"]) == 0
    assert f"{run_dir / 'checkpoints' / 'epoch_0001'}" in caplog.text
    assert "starting again from epoch 0" in caplog.text  # the damaged state was not used
    assert RunDir(run_dir).read_metrics() == full.read_metrics()


# ------------------------------------------------------------------ finite numbers
def _float_paths(node, path=()):
    for key, value in node.items():
        if isinstance(value, dict):
            yield from _float_paths(value, (*path, key))
        elif isinstance(value, float):
            yield (*path, key)
        elif isinstance(value, list) and value and isinstance(value[0], float):
            yield (*path, key, 0)


def test_every_number_of_a_config_must_be_finite(cfg, write_yaml, caplog):
    """``validate`` (and so ``train``) refuses NaN or inf in any number, naming the key."""
    resolved = cfg.to_dict()
    paths = list(_float_paths(resolved))
    assert len(paths) > 30
    for path in paths:
        data = json.loads(json.dumps(resolved))
        node = data
        for key in path[:-1]:
            node = node[key]
        node[path[-1]] = math.nan
        caplog.clear()
        assert main(["validate", str(write_yaml(data, "nan.yaml"))]) == 2, path
        key = ".".join(str(k) for k in path if isinstance(k, str))
        assert key in _errors(caplog)[-1] or key.rsplit(".", 1)[-1] in _errors(caplog)[-1], (
            path,
            _errors(caplog),
        )


# ------------------------------------------------------------------ exit statuses
def test_exit_statuses(config_file, tmp_path, monkeypatch, caplog, stop_after_checkpoint):
    """0 done, 1 a run failed, 2 refused before any work (nothing left behind), 130 Ctrl-C."""
    assert main(["train", str(config_file), "--out", str(tmp_path / "ok"), "--quiet"]) == 0
    assert main(["train", str(tmp_path / "missing.yaml"), "--out", str(tmp_path / "no")]) == 2
    assert not (tmp_path / "no").exists()
    real = protocol.build_network

    def poisoned(*args, **kwargs):
        sim = real(*args, **kwargs)
        w = sim.get_weights()["ff_1"]
        w[0, 0, 0] = np.nan
        sim.set_weights({"ff_1": w})
        return sim

    with monkeypatch.context() as m:
        m.setattr(protocol, "build_network", poisoned)
        assert main(["train", str(config_file), "--out", str(tmp_path / "nan"), "--quiet"]) == 1
    stop_after_checkpoint(1)
    assert main(["train", str(config_file), "--out", str(tmp_path / "cut"), "--quiet"]) == 130
    monkeypatch.undo()
    (cut,) = (tmp_path / "cut").iterdir()
    assert json.loads((cut / "status.json").read_text())["state"] == "interrupted"
    assert main(["resume", str(cut), "--quiet"]) == 0
    assert read_run(cut).completed

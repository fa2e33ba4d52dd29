"""What hostile or careless inputs do to ``mc-run`` (hardening, round 2).

Each test names the finding it guards (``item N``): writes through symbolic links, a run
continued with another config once ``environment.json`` is gone, damaged checkpoint
records read as legacy, edited array metadata, orphaned checkpoint arrays, sweep overrides
dropped silently, sections reset by ``--set``, huge grids, networks that cannot be built, and
errors that named neither file nor key or had the wrong exit status.
"""

import copy
import json
import logging
import os
import re
import time

import numpy as np
import pytest
import yaml
import zarr

from mc_analysis.bounded import dump_yaml
from mc_analysis.rundir import read_run
from mc_analysis.runformat import CorruptFile
from mc_experiments import protocol, runner
from mc_experiments.cli import main
from mc_experiments.config import ConfigError, config_from_dict, load_config
from mc_experiments.runner import resume, train
from mc_experiments.storage import RunDir
from mc_experiments.sweep import load_sweep

ORIGINAL_RUN = (
    __import__("pathlib").Path(__file__).resolve().parents[2]
    / "mc-analysis"
    / "tests"
    / "data"
    / "original_runs"
    / "yinyang_fa"
)


def _errors(caplog):
    return [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]


@pytest.fixture
def cfg(tiny_dict):
    tiny_dict["protocol"]["n_epochs"] = 3
    return config_from_dict(tiny_dict, source="tiny.yaml")


@pytest.fixture
def interrupted(stop_after_checkpoint, monkeypatch):
    """``interrupted(cfg, out, after)``: a run stopped (Ctrl-C) after checkpoint ``after``."""

    def make(cfg, out, after):
        stop_after_checkpoint(after)
        with pytest.raises(KeyboardInterrupt):
            train(cfg, out, quiet=True)
        monkeypatch.undo()
        (path,) = out.iterdir()
        return path

    return make


def _same_run(a, b):
    assert RunDir(a).read_metrics() == RunDir(b).read_metrics()
    ga, gb = (zarr.open_group(p / "recordings.zarr", mode="r") for p in (a, b))
    keys = sorted(f"{s}/{v}" for s in ga.group_keys() for v in ga[s].array_keys())
    assert keys and keys == sorted(f"{s}/{v}" for s in gb.group_keys() for v in gb[s].array_keys())
    for k in keys:
        np.testing.assert_array_equal(ga[k][...], gb[k][...], err_msg=k)


# ------------------------------------------------------------------ item 1: code caches
def test_a_config_naming_a_code_cache_others_can_write_is_refused(write_yaml, tiny_dict, tmp_path):
    shared = tmp_path / "shared_cache"
    shared.mkdir()
    shared.chmod(0o777)
    tiny_dict["backend"] = {"name": "genn", "options": {"cache_dir": str(shared)}}
    with pytest.raises(ConfigError, match=r"backend\.options\.cache_dir: .*shared_cache: refusing"):
        load_config(write_yaml(tiny_dict))
    shared.chmod(0o700)  # private: accepted (whether GeNN is installed is checked later)
    tiny_dict["backend"]["fallback"] = "reference"
    assert load_config(write_yaml(tiny_dict)).backend.options["cache_dir"] == str(shared)


# ------------------------------------------------------------------ item 2: symbolic links
def test_resume_never_writes_through_a_linked_lock_or_log(cfg, tmp_path, interrupted, caplog):
    run_dir = interrupted(cfg, tmp_path / "runs", 1)
    victim = tmp_path / "victim"
    for name in (".lock", "run.log"):
        victim.write_text("precious")
        saved = run_dir / f"saved{name}"
        (run_dir / name).replace(saved)
        (run_dir / name).symlink_to(victim)
        assert main(["resume", str(run_dir), "--quiet"]) == 2
        assert victim.read_text() == "precious"
        assert f"{run_dir / name}: " in _errors(caplog)[-1] and "symbolic link" in caplog.text
        (run_dir / name).unlink()
        saved.replace(run_dir / name)
    link = run_dir / "recordings.zarr" / "elsewhere"
    link.symlink_to(tmp_path)
    assert main(["resume", str(run_dir), "--quiet"]) == 2
    assert f"{link}: a symbolic link in the run directory" in _errors(caplog)[-1]
    link.unlink()
    assert main(["resume", str(run_dir), "--quiet"]) == 0


def test_completed_run_with_a_linked_lock_is_left_alone(cfg, tmp_path, caplog):
    (run,) = train(cfg, tmp_path / "runs", quiet=True)
    victim = tmp_path / "victim"
    victim.write_text("precious")
    (run.path / ".lock").unlink()
    (run.path / ".lock").symlink_to(victim)
    assert main(["resume", str(run.path), "--quiet"]) == 2
    assert victim.read_text() == "precious"
    assert "the lock file is a symbolic link; refusing to write through it" in caplog.text


# ------------------------------------------------------------------ item 4: configs
def test_edited_config_without_environment_is_refused_by_the_checkpoint(
    cfg, tmp_path, interrupted, caplog
):
    run_dir = interrupted(cfg, tmp_path / "runs", 1)
    (run_dir / "environment.json").unlink()
    config = yaml.safe_load((run_dir / "config.yaml").read_text())
    config["network"]["plasticity"]["eta_up"][0] *= 10  # another config from epoch 2 on
    (run_dir / "config.yaml").write_text(dump_yaml(config))
    before = json.loads((run_dir / "status.json").read_text())
    assert main(["resume", str(run_dir), "--quiet"]) == 2
    (error,) = _errors(caplog)
    assert f"{run_dir / 'checkpoints' / 'epoch_0001.json'}: was written by another config" in error
    assert "network.plasticity.eta_up: [50.0, 0.01] -> [500.0, 0.01]" in error
    assert json.loads((run_dir / "status.json").read_text()) == before  # nothing was run
    with pytest.raises(ValueError, match="does not match the config its checkpoints were written"):
        read_run(run_dir)  # the reader checks the same


def test_run_without_environment_resumes_verified_by_its_checkpoint(
    cfg, tmp_path, interrupted, caplog
):
    (full,) = train(cfg, tmp_path / "full", quiet=True)
    run_dir = interrupted(cfg, tmp_path / "runs", 2)
    (run_dir / "environment.json").unlink()
    assert read_run(run_dir).format_version == 3  # from the sealed checkpoint, not legacy
    resume(run_dir, quiet=True)
    _same_run(full.path, run_dir)


# ------------------------------------------------------------------ item 7: checkpoints
def test_checkpoint_with_a_damaged_checksum_key_is_not_read_as_legacy(
    cfg, tmp_path, interrupted, caplog
):
    (full,) = train(cfg, tmp_path / "full", quiet=True)
    run_dir = interrupted(cfg, tmp_path / "runs", 2)
    record = run_dir / "checkpoints" / "epoch_0002.json"
    meta = json.loads(record.read_text())
    meta["checksun"] = meta.pop("checksum")  # the key damaged ...
    meta["metrics"]["validation_accuracy"][0] = 99.0  # ... and the damage it hid
    record.write_text(json.dumps(meta))
    with pytest.raises(CorruptFile, match="has no 'checksum' although it holds"):
        RunDir(run_dir).load_checkpoint(2)
    resume(run_dir, quiet=True)
    assert f"{record}: has no 'checksum'" in caplog.text and "falling back" in caplog.text
    _same_run(full.path, run_dir)


def test_unsealed_checkpoint_of_a_sealed_run_is_refused(cfg, tmp_path):
    (run,) = train(cfg, tmp_path, quiet=True)
    record = run.checkpoint_dir / "epoch_0003.json"
    meta = json.loads(record.read_text())
    for key in ("checksum", "format_version", "arrays_sha256", "config"):
        meta.pop(key)  # everything that says "sealed" removed: the run's format still does
    record.write_text(json.dumps(meta))
    with pytest.raises(CorruptFile, match=r"has no checksum, but this run \(format 3\) seals"):
        run.load_checkpoint(3)


# ------------------------------------------------------------------ item 9: array metadata
def test_resume_refuses_recordings_whose_metadata_was_edited(cfg, tmp_path, interrupted, caplog):
    run_dir = interrupted(cfg, tmp_path / "runs", 1)
    path = run_dir / "recordings.zarr" / "validation" / "output.v_brev" / "zarr.json"
    doc = json.loads(path.read_text())
    doc["attributes"]["entry_every"] = 2
    path.write_text(json.dumps(doc))
    assert main(["resume", str(run_dir), "--quiet"]) == 2
    assert f"{path}: fails its checksum (metadata_sha256)" in caplog.text


# ------------------------------------------------------------------ item 10: pruning
def test_pruning_removes_arrays_orphaned_by_a_kill(cfg, tmp_path):
    (run,) = train(cfg, tmp_path, quiet=True)
    ck = run.checkpoint_dir
    (ck / "epoch_0001.npz").write_bytes(b"left by a kill between the two deletions")
    (ck / "epoch_0002.npz").write_bytes(b"left by a kill between the two writes")
    run.prune_checkpoints(keep=1)
    assert sorted(p.name for p in ck.iterdir()) == ["epoch_0003.json", "epoch_0003.npz"]


# ------------------------------------------------------------------ items 11, 14: sweeps
@pytest.fixture
def sweep_path(tmp_path, tiny_dict):
    (tmp_path / "base.yaml").write_text(yaml.safe_dump(tiny_dict))

    def write(**sweep):
        path = tmp_path / "sweep.yaml"
        path.write_text(yaml.safe_dump({"name": "s", "base": "base.yaml", **sweep}))
        return path

    return write


@pytest.mark.parametrize(
    ("sweep", "where"),
    [
        ({"variants": {"b": {"seed": 77}}}, "variants.'b': seed: 77"),
        ({"variants": {"b": {"name": "x"}}}, "variants.'b': name: 'x'"),
        ({"grid": {"seed": [1, 2]}}, "grid: seed: [1, 2]"),
        (
            {"profiles": {"p": {"overrides": {"seed": 5}}}},
            "profiles.p.overrides: seed: 5",
        ),
    ],
)
def test_sweep_overrides_of_seed_or_name_are_refused(sweep_path, caplog, sweep, where):
    path = sweep_path(seeds=[1], **sweep)
    args = ["validate", str(path)]
    assert main(args) == 2
    (error,) = _errors(caplog)
    assert f"{path}: {where} cannot be set per member" in error


def test_a_grid_of_ten_million_points_is_refused_at_once(sweep_path, caplog):
    keys = ["dataset.seed", "protocol.n_epochs", "protocol.checkpoint_every", "dataset.n_test"]
    keys += ["recording.validation_every", "recording.weights_every", "dataset.n_valid"]
    grid = {k: list(range(1, 11)) for k in keys}  # 10 ** 7 points
    path = sweep_path(seeds=[1], grid=grid)
    assert path.stat().st_size < 1000
    start = time.monotonic()
    assert main(["validate", str(path)]) == 2
    assert time.monotonic() - start < 5
    assert "= 10000000 members, more than 100000" in _errors(caplog)[0]


def test_members_that_differ_by_seed_are_validated_once(sweep_path, monkeypatch):
    from mc_experiments import sweep as sweep_module

    calls = []
    real = sweep_module.config_from_dict
    monkeypatch.setattr(
        sweep_module, "config_from_dict", lambda *a, **k: calls.append(1) or real(*a, **k)
    )
    sw = load_sweep(sweep_path(seeds={"start": 1, "count": 20}, variants={"a": {}, "b": {}}))
    assert len(sw.members) == 40 and len(calls) == 2
    assert [m.config.seed for m in sw.members[:3]] == [1, 2, 3]
    assert sw.members[21].config.name == "b_seed2" and sw.members[21].config.seed == 2
    assert sw.members[21].fingerprint != sw.members[1].fingerprint


# ------------------------------------------------------------------ items 12, 17g: --set
def test_set_of_a_whole_section_to_nothing_is_refused(write_yaml, tiny_dict, caplog):
    path = write_yaml(tiny_dict)
    assert main(["validate", str(path), "--set", "protocol="]) == 2
    (error,) = _errors(caplog)
    assert error.startswith("--set protocol=: 'protocol' is a section (a mapping); set one")
    cfg = load_config(path, {"protocol": {"n_epochs": 4}})  # a mapping is a section
    assert cfg.protocol.n_epochs == 4


@pytest.mark.parametrize(
    ("sets", "blamed"),
    [
        (["protocl.n_epochs=5"], "--set protocl.n_epochs=5: unknown key(s) ['protocl']"),
        (
            ["protocol.n_epochs=5", "network.thresh=3"],
            "--set network.thresh=3: network: unknown key(s) ['thresh']",
        ),
        (["protocol.n_epochs=-1"], "--set protocol.n_epochs=-1: protocol.n_epochs: must be >= 0"),
    ],
)
def test_set_typos_are_blamed_on_the_set_not_the_file(write_yaml, tiny_dict, caplog, sets, blamed):
    path = write_yaml(tiny_dict)
    assert main(["validate", str(path), *(x for s in sets for x in ("--set", s))]) == 2
    (error,) = _errors(caplog)
    assert error.startswith(blamed), error
    tiny_dict["protocol"]["n_epochs"] = "x"  # the file wrong: the file is named, as before
    assert main(["validate", str(write_yaml(tiny_dict)), "--set", "seed=4"]) == 2
    assert _errors(caplog)[-1].startswith(f"{path}: protocol.n_epochs: expected an integer")


# ------------------------------------------------------------------ item 16: building
@pytest.mark.parametrize(
    ("change", "match"),
    [
        (
            {
                "dims": [4, 1000000, 1000000, 3],
                "plasticity": {
                    "eta_up": [1.0, 1.0, 1.0],
                    "eta_ip": [0.1, 0.1],
                    "eta_pi": [0.0, 0.0],
                    "eta_down": [1.0, 1.0],
                },
            },  # fmt: skip
            r"network\.dims \[4, 1000000, 1000000, 3\] with .* need at least \d+\.\d GiB per run",
        ),
        (
            {"dt": 1.0e7, "player": {"tau_0": 1.0e7}},
            r"network\.player\.t_pattern: 1\.0 is shorter than one time step dt \(10000000\.0\)",
        ),
    ],
)
def test_validate_catches_networks_that_cannot_be_built(
    write_yaml, tiny_dict, caplog, change, match
):
    tiny_dict["network"].update(change)
    path = write_yaml(tiny_dict)
    for command in (["validate", str(path)], ["train", str(path), "--out", str(path.parent)]):
        assert main(command) == 2
        assert re.search(match, _errors(caplog)[-1])
    assert not list(path.parent.glob("tiny_*"))  # refused before any run directory


def test_a_network_that_fails_to_build_leaves_its_status_and_exits_2(
    write_yaml, tiny_dict, tmp_path, monkeypatch, caplog
):
    def build(*args, **kwargs):
        raise MemoryError("Unable to allocate 7.28 TiB for an array")

    monkeypatch.setattr(protocol, "build_network", build)
    assert main(["train", str(write_yaml(tiny_dict)), "--out", str(tmp_path / "o")]) == 2
    (run_dir,) = (tmp_path / "o").iterdir()
    status = json.loads((run_dir / "status.json").read_text())
    assert status["state"] == "failed" and status["step"] == "building the network"
    assert status["error"] == "MemoryError: Unable to allocate 7.28 TiB for an array"
    assert f"{run_dir}: the network cannot be built: MemoryError" in _errors(caplog)[-1]
    monkeypatch.setattr(protocol, "build_network", lambda *a, **k: 1 / 0)  # not a config problem
    assert main(["resume", str(run_dir), "--quiet"]) == 1
    status = json.loads((run_dir / "status.json").read_text())
    assert status["error"] == "ZeroDivisionError: division by zero"


# ------------------------------------------------------------------ item 17: clear errors
def test_infinite_t_pattern_names_the_key(write_yaml, tiny_dict, caplog):
    tiny_dict["network"]["player"] = {"t_pattern": float("inf")}
    assert main(["validate", str(write_yaml(tiny_dict))]) == 2
    assert "network.player.t_pattern: inf must be finite" in _errors(caplog)[0]


def test_a_linked_sweep_member_is_refused_before_any_work(sweep_path, tmp_path, caplog):
    path = sweep_path(seeds=[1])
    d = tmp_path / "sd"
    (d / "members").mkdir(parents=True)
    (tmp_path / "elsewhere").mkdir()
    (d / "members" / "default_seed1").symlink_to(tmp_path / "elsewhere")
    (d / "sweep.yaml").write_text(dump_yaml(load_sweep(path).to_dict()))
    assert main(["sweep", str(path), "--dir", str(d), "--quiet"]) == 2
    assert "members/default_seed1: is a symbolic link; refusing" in _errors(caplog)[-1]
    assert not any((tmp_path / "elsewhere").iterdir())


def test_resume_of_an_original_run_says_what_it_is(caplog):
    assert main(["resume", str(ORIGINAL_RUN), "--quiet"]) == 2
    (error,) = _errors(caplog)
    assert "is a run of the original code" in error and "cannot be resumed" in error
    assert f"`mc-run train {ORIGINAL_RUN / 'config.yaml'}`" in error


def test_a_file_name_that_is_not_utf8_asks_for_a_name(tiny_dict, tmp_path, caplog):
    del tiny_dict["name"]
    path = os.path.join(os.fsencode(tmp_path), b"\xff.yaml")
    with open(path, "w") as f:
        f.write(yaml.safe_dump(tiny_dict))
    assert main(["validate", os.fsdecode(path)]) == 2
    (error,) = _errors(caplog)
    assert "is not UTF-8 text" in error and "give the config a name:" in error
    tiny_dict["name"] = "named"
    with open(path, "w") as f:
        f.write(yaml.safe_dump(tiny_dict))
    assert main(["validate", os.fsdecode(path)]) == 0


def test_checkpoints_record_the_config_that_wrote_them(cfg, tmp_path):
    (run,) = train(cfg, tmp_path, quiet=True)
    _, meta = run.load_checkpoint(3)
    assert meta["config"] == cfg.to_dict()
    other = copy.deepcopy(cfg.to_dict())
    other["protocol"]["n_epochs"] = 4
    with pytest.raises(ConfigError, match=r"protocol\.n_epochs: 3 -> 4"):
        runner.check_checkpoint_config(config_from_dict(other), run, meta)

"""``mc-run``: one line per failure, naming what and where, and consistent exit statuses.

0 done, 1 a run failed, 2 refused before any work, 130 interrupted (items 8, 9 and 11).
"""

import contextlib
import errno
import importlib.util
import json
import logging
import os
import subprocess
import sys

import pytest
import yaml

from mc_experiments import protocol
from mc_experiments.cli import main


@pytest.fixture
def tiny(write_yaml, tiny_dict):
    return write_yaml(tiny_dict)


def _errors(caplog):
    return [r for r in caplog.records if r.levelno >= logging.ERROR]


def _no_traceback(caplog, capsys):
    out = capsys.readouterr()
    assert "Traceback" not in out.out + out.err + caplog.text


def test_version(capsys):
    with pytest.raises(SystemExit) as info:
        main(["--version"])
    assert info.value.code == 0
    out = capsys.readouterr().out
    assert out.startswith("mc-run (mc-experiments 0.1") and "mc-analysis" in out


@pytest.mark.skipif(importlib.util.find_spec("pygenn") is not None, reason="pygenn is installed")
def test_unavailable_backend_is_one_line_and_leaves_nothing(tiny, tmp_path, caplog, capsys):
    out = tmp_path / "runs"
    assert main(["train", str(tiny), "--backend", "genn", "--out", str(out), "--quiet"]) == 2
    (err,) = _errors(caplog)
    assert "backend 'genn' is not available" in err.getMessage() and "pygenn" in err.getMessage()
    assert not out.exists()
    _no_traceback(caplog, capsys)


def test_compiled_without_numba_is_backend_unavailable(tiny, tmp_path, caplog, capsys, monkeypatch):
    monkeypatch.setitem(sys.modules, "numba", None)  # as if numba were not installed
    out = tmp_path / "runs"
    assert main(["train", str(tiny), "--backend", "compiled", "--out", str(out), "--quiet"]) == 2
    assert "backend 'compiled' is not available: the Python package 'numba'" in caplog.text
    assert not out.exists()
    _no_traceback(caplog, capsys)


def test_out_pointing_at_a_file(tiny, tmp_path, caplog, capsys):
    (tmp_path / "afile").write_text("")
    assert main(["train", str(tiny), "--out", str(tmp_path / "afile"), "--quiet"]) == 2
    assert f"{tmp_path / 'afile'}: exists and is not a directory" in caplog.text
    _no_traceback(caplog, capsys)


@pytest.mark.parametrize(
    ("args", "match"),
    [
        (["validate", "{bin}"], "is a binary file, not a config file"),
        (["validate", "{dir}"], "is a directory, not a config file"),
        (["validate", "{tiny}", "--set", "protocol.n_epochs=[1"], "--set 'protocol.n_epochs=[1'"),
        (["validate", "{missing}"], "missing.yaml: no such config file"),
        (["train", "{tiny}", "--set", "network.feedback=pall"], "use one of ['pal', 'fa'"),
        (
            ["train", "{tiny}", "--set", "network.preset=yinyng"],
            "--set network.preset='yinyng': network.preset: 'yinyng' is not a preset network; "
            "valid presets: ['mnist', 'yinyang']",
        ),
        (
            ["train", "{tiny}", "--backend", "cuda"],
            "--backend cuda: 'cuda' is not a registered backend; use one of ['compiled', 'genn', "
            "'reference']; cuda is a device of the genn backend: --backend genn --set "
            "backend.options.device=cuda (in a config: backend: {name: genn, options: {device: "
            "cuda}})",
        ),
    ],
)
def test_bad_inputs_are_one_line_with_status_2(tiny, tmp_path, caplog, capsys, args, match):
    (tmp_path / "bin.yaml").write_bytes(b"\x00\x01\x02binary")
    (tmp_path / "adir.yaml").mkdir()
    names = {"bin": tmp_path / "bin.yaml", "dir": tmp_path / "adir.yaml", "tiny": tiny}
    names["missing"] = tmp_path / "missing.yaml"
    args = [a.format(**{k: str(v) for k, v in names.items()}) for a in args]
    assert main([*args, "--out", str(tmp_path / "r")] if args[0] == "train" else args) == 2
    (err,) = _errors(caplog)
    assert match in err.getMessage()
    _no_traceback(caplog, capsys)


def test_failed_data_load_leaves_no_run_directory(write_yaml, tiny_dict, tmp_path, caplog):
    tiny_dict["network"] = {"preset": "mnist"}
    tiny_dict["dataset"] = {"name": "mnist", "directory": str(tmp_path / "no-mnist-here")}
    out = tmp_path / "runs"
    assert main(["train", str(write_yaml(tiny_dict)), "--out", str(out), "--quiet"]) == 2
    assert "MNIST file(s) not found" in caplog.text and "MC_MNIST_DIR" in caplog.text
    assert not out.exists()


def _run_dir(tiny, tmp_path):
    assert main(["train", str(tiny), "--set", "protocol.n_epochs=1", "--out", str(tmp_path)]) == 0
    (path,) = tmp_path.iterdir()
    return path


@pytest.mark.parametrize(
    ("name", "content", "match"),
    [
        ("status.json", '{"state": "interr', "status.json: not valid JSON"),
        ("config.yaml", "name: [unclosed\n", "config.yaml: not valid YAML"),
        ("config.yaml", "- a list\n", "config.yaml: expected the resolved config"),
    ],
)
def test_garbled_run_files_name_themselves(tiny, tmp_path, caplog, capsys, name, content, match):
    path = _run_dir(tiny, tmp_path / "runs")
    status = json.loads((path / "status.json").read_text())
    (path / "status.json").write_text(json.dumps({**status, "state": "interrupted"}))
    (path / name).write_text(content)
    caplog.clear()
    assert main(["resume", str(path), "--quiet"]) == 2
    (err,) = _errors(caplog)
    assert str(path / name) in err.getMessage() and match in err.getMessage()
    _no_traceback(caplog, capsys)


def test_full_disk_is_one_line_and_the_run_says_failed(tiny, tmp_path, caplog, capsys, monkeypatch):
    from mc_experiments.storage import RunDir

    real = RunDir.write_record

    def full(self, stage, var, index, *args):
        if stage == "training" and index == 1:
            path = str(self.zarr_path / stage / var)
            raise OSError(errno.ENOSPC, "No space left on device", path)
        return real(self, stage, var, index, *args)

    monkeypatch.setattr(RunDir, "write_record", full)
    out = tmp_path / "runs"
    assert main(["train", str(tiny), "--out", str(out), "--quiet"]) == 1
    (err,) = _errors(caplog)[-1:]
    assert err.getMessage().startswith("failed: the disk is full (") and "recordings.zarr" in (
        err.getMessage()
    )
    (path,) = out.iterdir()
    status = json.loads((path / "status.json").read_text())
    assert status["state"] == "failed" and "No space left on device" in status["error"]
    assert status["step"] == "training epoch 1"
    _no_traceback(caplog, capsys)


def test_full_disk_that_refuses_the_status_write_reads_as_stale(
    tiny, tmp_path, caplog, monkeypatch
):
    """When even the failure cannot be recorded, the run's status says it is stale, not running."""
    from mc_experiments import storage
    from mc_experiments.outcomes import member_states
    from mc_experiments.storage import RunDir

    real_record, real_status = RunDir.write_record, RunDir.set_status
    full = {"on": False}

    def record(self, stage, var, index, *args):
        if stage == "training" and index == 1:
            full["on"] = True
            raise OSError(errno.ENOSPC, "No space left on device", str(self.zarr_path))
        return real_record(self, stage, var, index, *args)

    def status(self, state, **extra):
        if full["on"]:
            raise OSError(errno.ENOSPC, "No space left on device", str(self.path))
        return real_status(self, state, **extra)

    monkeypatch.setattr(RunDir, "write_record", record)
    monkeypatch.setattr(RunDir, "set_status", status)
    out = tmp_path / "runs"
    assert main(["train", str(tiny), "--out", str(out), "--quiet"]) == 1
    (path,) = out.iterdir()
    assert json.loads((path / "status.json").read_text())["state"] == "running"  # the file
    st = storage.RunDir(path).status()
    assert st["state"] == "running" and st["stale"] is True
    assert f"mc-run resume {path}" in st["error"]
    assert member_states([path])[path.name]["error"] == st["error"]
    with RunDir(path).lock():  # while a process holds the lock the run is simply running
        assert "stale" not in RunDir(path).status()
    monkeypatch.undo()  # space again: the resume the error names completes the run
    assert main(["resume", str(path), "--quiet"]) == 0
    assert RunDir(path).status()["state"] == "completed"


def test_non_finite_run_fails_once_cleanly(tiny, tmp_path, caplog, capsys, monkeypatch):
    import numpy as np

    real = protocol.build_network

    def poisoned(*args, **kwargs):
        sim = real(*args, **kwargs)
        w = sim.get_weights()["ff_1"]
        w[0, 0, 0] = np.nan  # spreads through the network from the first step
        sim.set_weights({"ff_1": w})
        return sim

    monkeypatch.setattr(protocol, "build_network", poisoned)
    out = tmp_path / "runs"
    assert main(["train", str(tiny), "--out", str(out), "--quiet"]) == 1
    (path,) = out.iterdir()
    status = json.loads((path / "status.json").read_text())
    assert status["state"] == "failed" and status["error"].startswith("non-finite values")
    errors = [r.getMessage() for r in _errors(caplog)]
    assert errors[-1].startswith("run failed during validation 0: non-finite values")
    # every population and projection is checked and named, with where it shows first
    for owner in ("pyramidal_1.{V, ", "inter_1.{V, ", "output.{V, ", "ff_1.{g}"):
        assert owner in errors[-1]
    assert "fb_1" not in errors[-1]  # no learning in validation: B stays finite
    assert "first seen in output.v_brev at step 20 of the stage (sample 0)" in errors[-1]
    assert capsys.readouterr().out == f"run directory: {path}\n"  # once: no second failure
    assert "Traceback" not in caplog.text


def test_ctrl_c_names_the_run_directory(tiny, tmp_path, caplog, monkeypatch):
    real = protocol.Experiment._epoch

    def epoch(self, e):
        if e == 1:
            raise KeyboardInterrupt
        return real(self, e)

    monkeypatch.setattr(protocol.Experiment, "_epoch", epoch)
    out = tmp_path / "runs"
    assert main(["train", str(tiny), "--out", str(out), "--quiet"]) == 130
    (path,) = out.iterdir()
    assert f"continue with `mc-run resume {path}`" in caplog.text
    assert "RUN_DIR" not in caplog.text


def test_sweep_ctrl_c_says_how_to_continue(tmp_path, tiny_dict, caplog, monkeypatch):
    (tmp_path / "base.yaml").write_text(yaml.safe_dump(tiny_dict))
    sweep = tmp_path / "sweep.yaml"
    sweep.write_text(yaml.safe_dump({"name": "s", "base": "base.yaml", "seeds": [1]}))
    monkeypatch.setattr(
        protocol.Experiment, "_epoch", lambda self, e: (_ for _ in ()).throw(KeyboardInterrupt)
    )
    d = tmp_path / "sw"
    assert main(["sweep", str(sweep), "--dir", str(d), "--quiet"]) == 130
    assert f"continue with `mc-run sweep {sweep} --dir {d}`" in caplog.text


@pytest.mark.parametrize(
    "args", [["sweep", "s.yaml", "--workers", "0"], ["sweep", "s.yaml", "--retries", "-1"]]
)
def test_bad_numbers_are_usage_errors(args, capsys):
    with pytest.raises(SystemExit) as info:
        main(args)
    assert info.value.code == 2 and "must be >=" in capsys.readouterr().err


def test_log_lines_are_printed_above_the_progress_bar(tiny_dict, tmp_path, capsys):
    from mc_experiments.config import config_from_dict
    from mc_experiments.runner import train

    console = logging.StreamHandler(sys.stderr)  # the console handler, as mc-run makes it
    console.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
    logging.getLogger().addHandler(console)
    mc_log = logging.getLogger("mc_experiments")
    level = mc_log.level
    mc_log.setLevel(logging.INFO)
    try:
        train(config_from_dict(tiny_dict, source="tiny.yaml"), tmp_path, quiet=False)
    finally:
        logging.getLogger().removeHandler(console)
        mc_log.setLevel(level)
    err = capsys.readouterr().err
    lines = [line for line in err.split("\n") if "INFO mc_experiments" in line]
    assert any("epoch 1/2" in line for line in lines)
    for line in lines:  # each log line starts a fresh line, none is glued to the bar
        assert line.split("\r")[-1].startswith("INFO mc_experiments"), repr(line[-200:])


def _mc_run(*args: str, cwd) -> subprocess.CompletedProcess:
    """``mc-run ARGS`` in a fresh process, its console (stdout, stderr) captured."""
    return subprocess.run(
        [sys.executable, "-m", "mc_experiments.cli", *args], cwd=cwd, capture_output=True,
        text=True, env={**os.environ, "PYTHONWARNINGS": "ignore"},
    )  # fmt: skip


def test_console_shows_the_bar_and_one_result_line(tiny, tmp_path):
    """The per-epoch results go to the bar and run.log, not between the bar's updates."""
    res = _mc_run("train", str(tiny), "--out", "runs", cwd=tmp_path)
    assert res.returncode == 0, res.stderr
    (run,) = (tmp_path / "runs").iterdir()
    result, where = res.stdout.splitlines()  # two lines: the result and where it is
    assert result.startswith("test accuracy: ") and where == f"run directory: runs/{run.name}"
    assert (res.stdout + res.stderr).count("test accuracy") == 1  # once, not again in a log line
    assert "validation accuracy before" not in res.stderr
    assert "INFO mc_experiments.progress" not in res.stderr
    assert "at=epoch 2/2 training" in res.stderr and "val_acc=" in res.stderr  # the bar shows it
    log = (run / "run.log").read_text()
    assert "epoch 1/2: validation accuracy before it" in log and "test accuracy" in log


def test_verbose_shows_the_epochs_above_the_bar(tiny, tmp_path):
    res = _mc_run("train", str(tiny), "--out", "runs", "-v", cwd=tmp_path)
    assert res.returncode == 0, res.stderr
    lines = [line for line in res.stderr.split("\n") if "INFO mc_experiments.progress" in line]
    assert [line.rsplit(": ", 1)[0].split("\r")[-1] for line in lines[:2]] == [
        "INFO mc_experiments.progress: epoch 1/2",
        "INFO mc_experiments.progress: epoch 2/2",
    ]
    for line in lines:  # each starts a line of its own (the bar is cleared first), none glued
        assert line.split("\r")[-1].startswith("INFO mc_experiments.progress"), repr(line)
    quiet = _mc_run("-v", "train", str(tiny), "--out", "runs", "--quiet", cwd=tmp_path)
    assert quiet.returncode == 0 and quiet.stderr == ""  # --quiet: warnings only, no bar


def test_sigterm_unwinds_like_ctrl_c(tiny_dict, tmp_path):
    """A batch system's SIGTERM leaves the run ``interrupted`` and says how to continue."""
    import signal
    import subprocess
    import time

    tiny_dict["protocol"]["n_epochs"] = 50
    cfg = tmp_path / "tiny.yaml"
    cfg.write_text(yaml.safe_dump(tiny_dict))
    out = tmp_path / "runs"
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "mc_experiments.cli",
            "train",
            str(cfg),
            "--out",
            str(out),
            "--quiet",
        ],
        stderr=subprocess.PIPE,
        text=True,
    )
    status, deadline = {}, time.monotonic() + 300
    while status.get("epochs_completed", 0) < 1 and proc.poll() is None:
        assert time.monotonic() < deadline
        time.sleep(0.05)
        for p in out.glob("*/status.json") if out.exists() else []:
            with contextlib.suppress(ValueError):  # being replaced right now
                status = json.loads(p.read_text())
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=120) == 143
    (path,) = out.iterdir()
    assert json.loads((path / "status.json").read_text())["state"] == "interrupted"
    err = proc.stderr.read()
    assert "terminated (SIGTERM)" in err and f"continue with `mc-run resume {path}`" in err

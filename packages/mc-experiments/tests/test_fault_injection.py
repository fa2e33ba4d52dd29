"""Fault injection: a run killed (SIGKILL) at random points and resumed ends as if never cut.

The kill points come from a fixed seed: each is "after the run has counted ``k`` epochs, plus
a random delay", so they land anywhere in the next epoch (in a stage, in a zarr write, in a
checkpoint) whatever the speed of the machine, and the test never depends on timing to
pass. Once, the newest checkpoint is truncated before resuming: the resume falls back to the
one before. The final ``metrics.json`` and every zarr array equal those of an uninterrupted
run, bit for bit.
"""

import json
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
import yaml
import zarr

from mc_experiments.config import config_from_dict
from mc_experiments.runner import train

N_EPOCHS = 6


def _arrays(path):
    g = zarr.open_group(path / "recordings.zarr", mode="r")
    return {f"{s}/{a}": g[s][a][...] for s in g.group_keys() for a in g[s].array_keys()}


def _status(run_dir):
    try:
        return json.loads((run_dir / "status.json").read_text())
    except (FileNotFoundError, ValueError):
        return {}


def _start(args, log):
    return subprocess.Popen(
        [sys.executable, "-m", "mc_experiments.cli", *args, "--quiet"],
        stdout=log,
        stderr=subprocess.STDOUT,
    )


def _kill_when(proc, run_dir, epochs, delay, timeout=300.0):
    """SIGKILL ``proc`` ``delay`` s after the run counts ``epochs``; False if it ended first."""
    end = time.monotonic() + timeout
    while proc.poll() is None:
        s = _status(run_dir) if run_dir is not None else {}
        if s.get("state") == "running" and s.get("epochs_completed", -1) >= epochs:
            time.sleep(delay)
            if proc.poll() is not None:
                return False
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait()
            return True
        assert time.monotonic() < end, "the run made no progress"
        time.sleep(0.02)
    return False


@pytest.mark.slow
def test_killed_and_resumed_run_equals_the_uninterrupted_one(tmp_path, tiny_dict):
    tiny_dict["protocol"]["n_epochs"] = N_EPOCHS
    cfg_path = tmp_path / "tiny.yaml"
    cfg_path.write_text(yaml.safe_dump(tiny_dict))
    (full,) = train(config_from_dict(tiny_dict, source="tiny.yaml"), tmp_path / "full", quiet=True)

    rng = np.random.default_rng(14)
    # kill points: once before the first checkpoint, then after 2 to 4 epochs (three of them)
    targets = [0, *sorted(rng.choice(range(2, N_EPOCHS - 1), size=3, replace=False).tolist())]
    delays = rng.uniform(0.0, 0.3, size=len(targets)).tolist()
    out = tmp_path / "cut"
    log = open(tmp_path / "processes.log", "wb")  # noqa: SIM115 - closed below
    proc = _start(["train", str(cfg_path), "--out", str(out)], log)
    run_dir, kills, corrupted = None, [], None
    try:
        for target, delay in zip(targets, delays, strict=True):
            while run_dir is None and proc.poll() is None:  # the new run's directory
                found = list(out.glob("tiny_*")) if out.exists() else []
                run_dir = found[0] if found else None
                time.sleep(0.02)
            assert run_dir is not None, (tmp_path / "processes.log").read_text()
            if _kill_when(proc, run_dir, target, delay):
                kills.append((target, round(delay, 3), _status(run_dir).get("epochs_completed")))
            if corrupted is None:  # once, with an older one to fall back to: garble the newest
                epochs = sorted((run_dir / "checkpoints").glob("epoch_*.npz"))
                if len(epochs) >= 2:
                    corrupted = epochs[-1]
                    corrupted.write_bytes(corrupted.read_bytes()[:100])
            proc = _start(["resume", str(run_dir)], log)
        assert proc.wait(timeout=600) == 0, (tmp_path / "processes.log").read_text()
    finally:
        if proc.poll() is None:
            proc.kill()
        log.close()

    assert len(kills) >= 3, kills  # several of the kill points landed in the run
    assert corrupted is not None
    run_log = (run_dir / "run.log").read_text()
    assert f"{corrupted}: fails its checksum" in run_log and "falling back" in run_log
    assert _status(run_dir)["state"] == "completed"
    leftovers = [p for pat in (".*.tmp", "*.partial") for p in run_dir.rglob(pat)]
    assert leftovers == []  # what cut writes left behind was cleaned up on resume
    assert json.loads((run_dir / "metrics.json").read_text()) == full.read_metrics()
    a, b = _arrays(full.path), _arrays(run_dir)
    assert a.keys() == b.keys() and a
    for key in a:
        np.testing.assert_array_equal(a[key], b[key], err_msg=key)

"""Fault injection: runs killed (SIGKILL) and resumed end as if they had never been cut.

Two tests. The first kills a run at every change it makes to the file system: a run is
trained once to count its file writes (creating, renaming, linking, truncating or removing a
file or directory below the run); then, for every write ``k``, a fresh run is killed just
before write ``k``, resumed and killed again at a write drawn from a fixed seed, and resumed
to the end. Every one must finish with the uninterrupted run's ``metrics.json``, recordings
and final checkpoint, bit for bit, leaving no temporary, corrupt or orphaned file. The kills
are exact (the process kills itself from an audit hook at that write), so the test never
depends on timing; it forks the test process, so each trial costs only its own work (a few
minutes for all of them).

The second kills a run at random points in time ("after the run has counted ``k`` epochs,
plus a random delay"), truncates the newest checkpoint once before resuming (the resume falls
back to the one before), and compares the same way.
"""

import copy
import json
import os
import signal
import subprocess
import sys
import time
import traceback

import numpy as np
import pytest
import yaml
import zarr

from mc_experiments.config import config_from_dict
from mc_experiments.runner import resume, train

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


# ------------------------------------------------------------------ a kill at every write
_WRITE_FLAGS = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_TRUNC | os.O_APPEND


def _changes(event, args, below):
    """Whether an audit event changes the file system below ``below`` (a path prefix)."""
    if event == "open":
        path, mode, flags = args
        writes = (isinstance(mode, str) and any(c in mode for c in "wax+")) or (
            mode is None and isinstance(flags, int) and flags & _WRITE_FLAGS
        )
    elif event in ("os.rename", "os.link", "os.symlink", "os.truncate", "shutil.rmtree"):
        path, writes = args[0], True
    elif event == "os.mkdir":  # zarr makes every parent again: only a new one is a change
        path = args[0]
        writes = isinstance(path, str | bytes | os.PathLike) and not os.path.lexists(path)
    elif event in ("os.remove", "os.rmdir"):
        path = args[0]
        writes = isinstance(path, str | bytes | os.PathLike) and os.path.lexists(path)
    else:
        return False
    return (
        bool(writes)
        and isinstance(path, str | bytes | os.PathLike)
        and (os.fsdecode(path).startswith(below))
    )


def _forked(work, below, kill_at, log):
    """Run ``work()`` in a forked child, SIGKILLed just before its ``kill_at``-th write below
    ``below`` (``None``: never). Returns (killed, exit code, writes made)."""
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: never returns into pytest
        code = 0
        try:
            os.close(read)
            count = [0]

            def hook(event, args):
                if _changes(event, args, below):
                    count[0] += 1
                    if count[0] == kill_at:
                        os.kill(os.getpid(), signal.SIGKILL)

            sys.addaudithook(hook)
            work()
        except BaseException:
            code = 1
            with open(log, "a") as f:
                f.write(f"{below} (kill at {kill_at}):\n{traceback.format_exc()}\n")
        os.write(write, str(count[0]).encode())
        os._exit(code)
    os.close(write)
    data = b""
    while chunk := os.read(read, 64):
        data += chunk
    os.close(read)
    _, status = os.waitpid(pid, 0)
    killed = os.WIFSIGNALED(status) and os.WTERMSIG(status) == signal.SIGKILL
    return killed, (os.WEXITSTATUS(status) if os.WIFEXITED(status) else None), int(data or 0)


def _tail(log):
    """The end of what the children wrote about their errors ("" if none)."""
    return log.read_text()[-3000:] if log.exists() else ""


def _final_state(run_dir):
    """What must equal between two runs: metrics, recordings, the checkpoints kept."""
    return (
        json.loads((run_dir / "metrics.json").read_text()),
        _arrays(run_dir),
        sorted(p.name for p in (run_dir / "checkpoints").iterdir()),
    )


def _leftovers(run_dir):
    """Files a cut write left behind or a resume set aside: none may remain."""
    found = [p for pat in (".*.tmp", "*.partial", "*.corrupt") for p in run_dir.rglob(pat)]
    ckpt = run_dir / "checkpoints"
    found += [p for p in ckpt.glob("epoch_*.npz") if not p.with_suffix(".json").exists()]
    return found


@pytest.mark.slow
@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork")
def test_a_kill_at_every_write_and_in_the_resume_ends_as_if_never_cut(tmp_path, tiny_dict):
    d = copy.deepcopy(tiny_dict)
    d["protocol"]["n_epochs"] = 2  # two checkpoints, the older pruned at the end
    d["network"]["player"] = {"t_pattern": 0.1}  # 10 steps per sample: the writes dominate
    d["recording"] = {"training": ["output.v_target"]}  # every stage writes
    cfg = config_from_dict(d, source="tiny.yaml")
    (full,) = train(cfg, tmp_path / "full", quiet=True)  # also imports all the code it needs
    expected = _final_state(full.path)
    log = tmp_path / "children.log"

    killed, code, n_writes = _forked(
        lambda: train(cfg, tmp_path / "count", quiet=True), str(tmp_path / "count"), None, log
    )
    assert (killed, code) == (False, 0) and n_writes > 100, (n_writes, _tail(log))
    rng = np.random.default_rng(27)
    again = rng.integers(1, n_writes + 1, size=n_writes)  # the kill in each first resume
    outcomes = dict.fromkeys(
        ("nothing to resume", "resumed", "resume cut too", "ended before the cut"), 0
    )
    problems = []
    for k in range(1, n_writes + 1):
        out = tmp_path / f"k{k}"
        killed, code, _ = _forked(lambda o=out: train(cfg, o, quiet=True), str(out), k, log)
        if not killed:
            # zarr may create one directory from two of its threads at once, so the count
            # of changes can differ by one or two from run to run: a run may end before its
            # last writes, and must then have ended complete and equal
            assert k > n_writes - 3 and code == 0, f"write {k}: ended before it ({_tail(log)})"
            (run_dir,) = out.iterdir()
            assert _status(run_dir).get("state") == "completed" and not _leftovers(run_dir)
            assert _final_state(run_dir)[0] == expected[0], f"write {k}: metrics differ"
            outcomes["ended before the cut"] += 1
            continue
        run_dirs = list(out.iterdir()) if out.exists() else []
        if not run_dirs or not (run_dirs[0] / "config.yaml").exists():
            # cut before the run wrote its config: nothing holds a run to continue (at most
            # the lock and the temporary file of the config being written)
            left = [p.name for r in run_dirs for p in r.iterdir()]
            assert all(n == ".lock" or n.startswith(".config.yaml.") for n in left), left
            outcomes["nothing to resume"] += 1
            continue
        run_dir = run_dirs[0]
        cut, _, _ = _forked(
            lambda r=run_dir: resume(r, quiet=True), str(out), int(again[k - 1]), log
        )
        outcomes["resume cut too" if cut else "resumed"] += 1
        if cut:
            _, code, _ = _forked(lambda r=run_dir: resume(r, quiet=True), str(out), None, log)
        else:
            code = 0
        status = _status(run_dir)
        if code != 0 or status.get("state") != "completed":
            problems.append(f"write {k}: resume exit {code}, status {status}")
            continue
        if _leftovers(run_dir):
            problems.append(f"write {k}: left behind {_leftovers(run_dir)}")
        metrics, arrays, kept = _final_state(run_dir)
        if metrics != expected[0] or kept != expected[2] or arrays.keys() != expected[1].keys():
            problems.append(f"write {k}: metrics, checkpoints or arrays differ")
        elif not all(np.array_equal(arrays[a], expected[1][a], equal_nan=True) for a in arrays):
            problems.append(f"write {k}: recorded values differ")
    assert not problems, "\n".join(problems[:20]) + "\n" + _tail(log)
    assert outcomes["resume cut too"] > n_writes // 2, outcomes  # most resumes were cut too
    assert outcomes["nothing to resume"] < 10, outcomes


# ------------------------------------------------------------------ kills at random times
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

"""A run or sweep directory being written is locked; a second writer is refused (item 4).

The holder here is another process that holds the lock the way every writer does (``flock``
on ``<dir>/.lock`` with its pid and host in the file), so the tests see what a second
``mc-run`` sees while a first one runs.
"""

import json
import socket
import subprocess
import sys
from contextlib import contextmanager

import pytest
import yaml

from mc_experiments.cli import main
from mc_experiments.config import config_from_dict
from mc_experiments.runner import train

HOLD = """
import fcntl, json, os, socket, sys, time
fd = os.open(sys.argv[1], os.O_RDWR | os.O_CREAT)
fcntl.flock(fd, fcntl.LOCK_EX)
info = {"pid": os.getpid(), "host": socket.gethostname(), "since": "now", "command": "holder"}
os.write(fd, json.dumps(info).encode())
print("locked", flush=True)
time.sleep(300)
"""


@contextmanager
def held(directory):
    """Another process holds the lock of ``directory``; yields its pid."""
    p = subprocess.Popen(
        [sys.executable, "-c", HOLD, str(directory / ".lock")], stdout=subprocess.PIPE, text=True
    )
    try:
        assert p.stdout.readline().strip() == "locked"
        yield p.pid
    finally:
        p.kill()
        p.wait()


@pytest.fixture
def interrupted_run(tiny_dict, tmp_path):
    tiny_dict["protocol"]["n_epochs"] = 1
    (run,) = train(config_from_dict(tiny_dict, source="tiny.yaml"), tmp_path / "runs", quiet=True)
    status = json.loads((run.path / "status.json").read_text())
    status["state"] = "interrupted"  # as if it had been stopped: resumable
    (run.path / "status.json").write_text(json.dumps(status))
    return run.path


def test_resume_of_a_run_being_written_is_refused(interrupted_run, caplog):
    host = socket.gethostname()
    with held(interrupted_run) as pid:
        assert main(["resume", str(interrupted_run), "--quiet"]) == 2
        assert f"this run directory is being written by pid {pid} on host {host}" in caplog.text
        assert json.loads((interrupted_run / "status.json").read_text())["state"] == "interrupted"
    # the holder is gone (its lock went with it): the run resumes, saying whose lock it was
    caplog.clear()
    assert main(["resume", str(interrupted_run), "--quiet"]) == 0
    assert f"took over the stale lock of pid {pid} on host {host}" in caplog.text
    assert json.loads((interrupted_run / "status.json").read_text())["state"] == "completed"


def test_stale_lock_file_of_a_dead_process_is_taken_over(interrupted_run, caplog):
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    info = {"pid": dead.pid, "host": socket.gethostname(), "since": "then", "command": "x"}
    (interrupted_run / ".lock").write_text(json.dumps(info))
    assert main(["resume", str(interrupted_run), "--quiet"]) == 0
    assert (
        f"took over the stale lock of pid {dead.pid}" in caplog.text and "has ended" in caplog.text
    )


@pytest.fixture
def sweep_dir(tmp_path, tiny_dict):
    tiny_dict["protocol"]["n_epochs"] = 0
    (tmp_path / "base.yaml").write_text(yaml.safe_dump(tiny_dict))
    sweep = {"name": "mini", "base": "base.yaml", "seeds": [4], "variants": {"pal": {}}}
    path = tmp_path / "sweep.yaml"
    path.write_text(yaml.safe_dump(sweep))
    d = tmp_path / "sw"
    assert main(["sweep", str(path), "--dir", str(d), "--quiet"]) == 0
    return path, d


def test_second_sweep_into_the_same_directory_is_refused(sweep_dir, caplog):
    path, d = sweep_dir
    record = (d / "sweep.yaml").read_bytes()
    with held(d) as pid:
        assert main(["sweep", str(path), "--dir", str(d), "--quiet"]) == 2
    assert f"{d}: this sweep directory is being written by pid {pid}" in caplog.text
    assert (d / "sweep.yaml").read_bytes() == record


def test_resume_of_a_member_of_a_running_sweep_is_refused(sweep_dir, caplog):
    _, d = sweep_dir
    member = d / "members" / "pal_seed4"
    status = json.loads((member / "status.json").read_text())
    status["state"] = "interrupted"
    (member / "status.json").write_text(json.dumps(status))
    with held(d) as pid:
        assert main(["resume", str(member), "--quiet"]) == 2
    assert f"is a member of the sweep {d}, which is being run by pid {pid}" in caplog.text
    assert json.loads((member / "status.json").read_text())["state"] == "interrupted"

"""Both sweep executors against a real SLURM cluster (marked ``slurm``).

``nox -s cluster`` starts a one-node cluster (``tests/cluster/slurm_cluster.py``) and runs
these with ``MC_TEST_SLURM_PARTITION`` set; anywhere else they are skipped. They run
``mc-run`` as a user would, submit real jobs and wait for them:

- the smoke profile of ``configs/sweeps/paper_yinyang.yaml`` (6 members in 3 batched groups)
  as one job array (``--executor slurm``) and on Dask workers that are SLURM jobs
  (``--executor dask --cluster slurm``); every member equals a local run bit for bit;
- a task cancelled (``scancel``) and one requeued (``scontrol requeue``) mid-run resume
  from their last epoch checkpoint to the same result as an uninterrupted run;
- a failing member is reported with its SLURM task and its ``status.json`` error; a job
  SLURM refuses is refused with SLURM's message.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import yaml
from run_equality import assert_same_run

from mc_experiments.executors import run_sweep
from mc_experiments.storage import RunDir
from mc_experiments.sweep import load_sweep

PARTITION = os.environ.get("MC_TEST_SLURM_PARTITION")
pytestmark = [
    pytest.mark.slurm,
    pytest.mark.skipif(
        not PARTITION,
        reason="no SLURM cluster to test against: `nox -s cluster` starts one (or set "
        "MC_TEST_SLURM_PARTITION to a partition of the cluster sbatch submits to)",
    ),
]
REPO = Path(__file__).resolve().parents[3]
SMOKE = REPO / "configs" / "sweeps" / "paper_yinyang.yaml"
MC_RUN = str(Path(sys.executable).parent / "mc-run")
VENV = str(Path(sys.prefix))
TIMEOUT = 600  # seconds a sweep may take on the cluster


def mc_run(*args: str | Path, cwd: Path) -> subprocess.CompletedProcess:
    res = subprocess.run(
        [MC_RUN, *map(str, args)], cwd=cwd, capture_output=True, text=True, timeout=TIMEOUT
    )
    sys.stderr.write(f"$ mc-run {' '.join(map(str, args))}\n{res.stdout}{res.stderr}")
    return res


def squeue(*args: str) -> list[list[str]]:
    out = subprocess.run(
        ["squeue", "--noheader", "--array", *args], capture_output=True, text=True, check=True
    ).stdout
    return [line.split() for line in out.splitlines() if line.strip()]


def wait_for(job_id: str, timeout: float = TIMEOUT) -> None:
    t0 = time.monotonic()
    while squeue("--jobs", job_id):
        assert time.monotonic() - t0 < timeout, f"job {job_id} still queued after {timeout} s"
        time.sleep(0.5)


def submitted(res: subprocess.CompletedProcess) -> tuple[str, int]:
    m = re.search(r"submitted job array (\d+) \((\d+) task\(s\)\)", res.stdout)
    assert m, res.stdout + res.stderr
    return m.group(1), int(m.group(2))


def array_config(tmp_path: Path, **keys) -> Path:
    data = {"partition": PARTITION, "time": "00:15:00", "memory": "1GB", "venv": VENV, **keys}
    p = tmp_path / "slurm_array.yaml"
    p.write_text(yaml.safe_dump(data))
    return p


def assert_same_members(local: Path, d: Path) -> None:
    members = sorted(p.name for p in (local / "members").iterdir())
    assert members == sorted(p.name for p in (d / "members").iterdir())
    for member in members:
        assert_same_run(local / "members" / member, d / "members" / member)
    sys.stderr.write(
        f"{len(members)} members equal the local run bit for bit (metrics, every recorded "
        f"array, the final checkpoint): {', '.join(members)}\n"
    )


@pytest.fixture(scope="module")
def local_smoke(tmp_path_factory):
    """The smoke sweep run here, one group after the other: the reference."""
    d = tmp_path_factory.mktemp("local") / "smoke"
    result = run_sweep(load_sweep(SMOKE, profile="smoke"), directory=d, quiet=True)
    assert result.ok and len(result.states) == 6
    return d


def test_job_array_sweep_equals_local_runs(tmp_path, local_smoke):
    d = tmp_path / "smoke"
    t0 = time.monotonic()
    res = mc_run(
        *("sweep", SMOKE, "--profile", "smoke", "--executor", "slurm"),
        *("--cluster-config", array_config(tmp_path), "--dir", d),
        cwd=tmp_path,
    )
    returned = time.monotonic() - t0
    assert res.returncode == 0
    job_id, n_tasks = submitted(res)
    assert n_tasks == 3  # one task per batched group
    held = squeue("--jobs", job_id, "--format=%i %T")
    assert held, "the command returned, but SLURM does not hold its job"
    sys.stderr.write(f"returned after {returned:.1f} s with tasks {held} in the queue\n")
    wait_for(job_id)
    status = mc_run("sweep", "--status", d, cwd=tmp_path)
    assert status.returncode == 0
    assert f"sweep directory {d}: 6 completed" in status.stdout
    for i in range(3):
        assert f"{job_id}_{i}" in status.stdout
        log = (d / "slurm" / "1" / "logs" / f"{job_id}_{i}.out").read_text()
        assert f"SLURM task {job_id}_{i} " in log
    assert_same_members(local_smoke, d)


def dask_config(tmp_path: Path, job_name: str) -> Path:
    """The example config of ``--cluster slurm``, for this cluster: 2 jobs of 1 worker."""
    pytest.importorskip("dask_jobqueue")
    config = yaml.safe_load((REPO / "configs" / "clusters" / "slurm.example.yaml").read_text())
    del config["account"]
    config.update(
        jobs=2,
        cores=1,
        processes=1,
        memory="2GB",
        walltime="00:15:00",
        queue=PARTITION,
        job_name=job_name,
        job_script_prologue=[f"source {VENV}/bin/activate"],
        local_directory=str(tmp_path / "dask-tmp"),
        log_directory=str(tmp_path / "dask-logs"),
    )
    path = tmp_path / "dask_slurm.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


def test_dask_workers_as_slurm_jobs_equal_local_runs(tmp_path, local_smoke):
    job_name = f"mc-dask-{os.getpid()}"
    cluster = dask_config(tmp_path, job_name)
    seen: dict[str, set[str]] = {}
    stop = threading.Event()

    def watch() -> None:  # what squeue shows while the sweep runs
        while not stop.is_set():
            for job, name, state in squeue("--format=%i %j %T"):
                if name == job_name:
                    seen.setdefault(job, set()).add(state)
            time.sleep(0.3)

    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    d = tmp_path / "smoke"
    try:
        res = mc_run(
            *("sweep", SMOKE, "--profile", "smoke", "--executor", "dask", "--cluster", "slurm"),
            *("--cluster-config", cluster, "--dir", d, "--quiet"),
            cwd=tmp_path,
        )
    finally:
        stop.set()
        watcher.join()
    assert res.returncode == 0
    sys.stderr.write(f"squeue showed the Dask workers' jobs: {seen}\n")
    assert len(seen) == 2, seen  # jobs: 2
    running = sorted(job for job, states in seen.items() if "RUNNING" in states)
    assert running, seen  # (both, where the node has a core for each)
    for job in running:  # each ran a Dask worker
        assert "Starting Worker" in (tmp_path / "dask-logs" / f"{job_name}-{job}.err").read_text()
    assert not [row for row in squeue("--format=%i %j") if row[1] == job_name]  # closed
    assert_same_members(local_smoke, d)


PREEMPT_EPOCHS = 4


def preempt_sweep(tmp_path: Path) -> Path:
    """Two groups of two seeds; epochs of 1500 samples: long enough to stop one mid-run."""
    sweep = {
        "name": "preempt",
        "base": str(REPO / "configs" / "paper" / "yinyang_pal.yaml"),
        "seeds": [1, 2],
        "variants": {"pal": {}, "fa": {"network.feedback": "fa"}},
        "profiles": {
            "short": {
                "overrides": {
                    "dataset.n_train": 500,
                    "dataset.n_valid": 5,
                    "dataset.n_test": 5,
                    "protocol.n_epochs": PREEMPT_EPOCHS,
                    "protocol.checkpoint_every": 1,
                }
            }
        },
    }
    p = tmp_path / "preempt.yaml"
    p.write_text(yaml.safe_dump(sweep, sort_keys=False))
    return p


def test_cancelled_and_requeued_tasks_resume_bit_identical(tmp_path):
    sweep_file = preempt_sweep(tmp_path)
    sweep = load_sweep(sweep_file, profile="short")
    reference = run_sweep(sweep, directory=tmp_path / "uninterrupted", quiet=True)
    assert reference.ok
    d = tmp_path / "preempted"
    submit = ("sweep", sweep_file, "--profile", "short", "--executor", "slurm")
    submit += ("--cluster-config", array_config(tmp_path), "--dir", d)
    res = mc_run(*submit, cwd=tmp_path)
    job_id, n_tasks = submitted(res)
    assert n_tasks == 2
    # stop each task as soon as its group has written a checkpoint (members write theirs one
    # after the other; a task stopped in between resumes from the group's previous one, here
    # from the start): task 0 (pal) is requeued, task 1 (fa) cancelled
    actions = {0: ("scontrol", "requeue"), 1: ("scancel",)}
    groups = {0: ("pal_seed1", "pal_seed2"), 1: ("fa_seed1", "fa_seed2")}
    stopped_at = {}
    t0 = time.monotonic()
    while len(stopped_at) < 2:
        assert time.monotonic() - t0 < TIMEOUT, "no checkpoint appeared"
        for i, members in groups.items():
            if i in stopped_at:
                continue
            epochs = [RunDir(d / "members" / m).checkpoint_epochs() for m in members]
            if all(epochs):
                subprocess.run([*actions[i], f"{job_id}_{i}"], check=True)
                stopped_at[i] = min(e[0] for e in epochs)
        time.sleep(0.05)
    sys.stderr.write(f"stopped the tasks after their checkpoints at epochs {stopped_at}\n")
    assert all(e < PREEMPT_EPOCHS for e in stopped_at.values())
    # the cancelled task's members wait, interrupted, for a resubmission
    t0 = time.monotonic()
    while squeue("--jobs", f"{job_id}_1"):
        assert time.monotonic() - t0 < 60
        time.sleep(0.2)
    for member in ("fa_seed1", "fa_seed2"):
        status = RunDir(d / "members" / member).status()
        assert status["state"] == "interrupted", status
        assert status["epochs_completed"] < PREEMPT_EPOCHS
    status = mc_run("sweep", "--status", d, cwd=tmp_path)
    assert status.returncode == 0 and re.search(r"fa_seed1 +interrupted", status.stdout)
    # submitting again submits the cancelled group only (the requeued one is SLURM's)
    again = mc_run(*submit, cwd=tmp_path)
    job2, n_tasks = submitted(again)
    assert n_tasks == 1
    assert "fa_seed1" in (d / "slurm" / "2" / "tasks.json").read_text()
    assert "pal_seed1" not in (d / "slurm" / "2" / "tasks.json").read_text()
    wait_for(job_id)
    wait_for(job2)
    logs = {
        "requeued": (d / "slurm" / "1" / "logs" / f"{job_id}_0.out").read_text(),
        "cancelled": (d / "slurm" / "1" / "logs" / f"{job_id}_1.out").read_text(),
        "resubmitted": (d / "slurm" / "2" / "logs" / f"{job2}_0.out").read_text(),
    }
    assert "DUE TO JOB REQUEUE" in logs["requeued"] and "restart 1)" in logs["requeued"]
    assert "CANCELLED AT" in logs["cancelled"] and "terminated (SIGTERM)" in logs["cancelled"]
    for how, member, text in [
        (f"requeued task {job_id}_0", "pal_seed1", logs["requeued"]),
        (f"cancelled task {job_id}_1 (again as {job2}_0)", "fa_seed1", logs["resubmitted"]),
    ]:
        assert "interrupted" in (d / "members" / member / "run.log").read_text()
        m = re.search(r"resuming 2 member\(s\) at epoch (\d+)", text)
        assert m, text
        assert 1 <= int(m.group(1)) < PREEMPT_EPOCHS, f"{how} resumed at epoch {m.group(1)}"
        sys.stderr.write(f"{how} resumed at epoch {m.group(1)} of {PREEMPT_EPOCHS}\n")
    final = mc_run("sweep", "--status", d, cwd=tmp_path)
    assert final.returncode == 0 and "4 completed" in final.stdout
    assert_same_members(reference.directory, d)


def test_failed_member_reported_with_task_and_error(tmp_path, tiny_sweep):
    sweep = tiny_sweep(
        n_epochs=1,
        seeds=[4],
        variants={
            "ok": {},
            "nodata": {  # valid, but its data set is not there: fails in its task
                "network.preset": "mnist",
                "dataset.name": "mnist",
                "dataset.directory": str(tmp_path / "no-mnist-here"),
            },
        },
    )
    d = tmp_path / "mixed"
    res = mc_run(
        *("sweep", sweep, "--executor", "slurm"),
        *("--cluster-config", array_config(tmp_path)),
        *("--dir", d),
        cwd=tmp_path,
    )
    job_id, _ = submitted(res)
    wait_for(job_id)
    status = mc_run("sweep", "--status", d, cwd=tmp_path)
    assert status.returncode == 1
    rows = {line.split()[0]: line.split()[1:] for line in status.stdout.splitlines()[2:4]}
    assert rows["ok_seed4"][:2] == ["completed", "1/1"]
    assert rows["nodata_seed4"][:2] == ["failed", "0/1"]
    task = rows["nodata_seed4"][2]
    assert re.fullmatch(rf"{job_id}_[01]", task)
    log = d / "slurm" / "1" / "logs" / f"{task}.out"
    assert (
        f"nodata_seed4 (SLURM task {task}, output {log}): DatasetError: MNIST file(s) not found"
        in status.stdout
    )
    assert "MNIST file(s) not found" in log.read_text()


def test_jobs_slurm_refuses_are_refused_with_its_message(tmp_path):
    d = tmp_path / "smoke"
    smoke = ("sweep", SMOKE, "--profile", "smoke", "--dir", d)
    res = mc_run(
        *smoke,
        *("--executor", "slurm"),
        *("--cluster-config", array_config(tmp_path, partition="no_such_partition")),
        cwd=tmp_path,
    )
    assert res.returncode == 2
    assert "SLURM refused the job array of 3 task(s)" in res.stderr
    assert "Invalid partition name specified" in res.stderr  # SLURM's own words
    assert not d.exists()  # nothing left behind
    # the Dask workers' job script is put to SLURM before the sweep starts
    config = dask_config(tmp_path, "mc-dask-refused")
    config.write_text(config.read_text().replace(f"queue: {PARTITION}", "queue: no_such_partition"))
    res = mc_run(
        *smoke, "--executor", "dask", "--cluster", "slurm", "--cluster-config", config, cwd=tmp_path
    )
    assert res.returncode == 2
    assert f"SLURM would refuse the Dask workers' job script of {config}" in res.stderr
    assert "Invalid partition name specified" in res.stderr
    assert not d.exists()

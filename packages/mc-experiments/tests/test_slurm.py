"""The SLURM executor without a cluster: its config, the batch script, the task, the status.

What needs a real SLURM (submission, preemption, SLURM's refusals) is in
``test_slurm_cluster.py``.
"""

import json
import os
import sys
from pathlib import Path

import pytest
import yaml
from run_equality import assert_same_run

from mc_experiments.cli import main
from mc_experiments.config import ConfigError
from mc_experiments.executors import run_sweep
from mc_experiments.executors_slurm import submit_sweep
from mc_experiments.slurm import load_slurm_config
from mc_experiments.storage import RunDir
from mc_experiments.sweep import load_sweep

REPO = Path(__file__).resolve().parents[3]
VENV = str(Path(sys.prefix))  # this environment: it has bin/activate


def _cluster_file(tmp_path, **keys):
    data = {"partition": "debug", "time": "00:10:00", "venv": VENV, **keys}
    data = {k: v for k, v in data.items() if v is not None}
    p = tmp_path / "cluster.yaml"
    p.write_text(yaml.safe_dump(data))
    return p


def _rows(table: str) -> dict[str, list[str]]:
    return {line.split()[0]: line.split()[1:] for line in table.splitlines()[2:] if line}


def test_example_cluster_config_loads(monkeypatch, tmp_path):
    venv = tmp_path / "home" / "mc" / ".venv"
    (venv / "bin").mkdir(parents=True)
    (venv / "bin" / "activate").write_text("")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    cfg = load_slurm_config(REPO / "configs" / "clusters" / "slurm_array.example.yaml")
    assert (cfg.partition, cfg.time, cfg.account) == ("normal", "04:00:00", "my_project")
    assert (cfg.cores, cfg.memory, cfg.venv) == (1, 4 * 10**9, str(venv))


@pytest.mark.parametrize(
    ("keys", "message"),
    [
        ({"time": None}, r"cluster.yaml: time: missing; time is the time limit of one task"),
        ({"partition": None}, r"cluster.yaml: partition: missing; partition is the partition"),
        ({"queue": "x"}, r"unknown key\(s\) \['queue'\]; valid keys: partition: .*sbatch_options"),
        ({"venv": None}, r"venv, modules, setup: all missing; give at least one"),
        ({"venv": "/nonexistent/venv"}, r"venv: '/nonexistent/venv' is not a virtual environment"),
        ({"time": "2 hours"}, r"time: '2 hours' is not a SLURM time limit; use minutes"),
        ({"memory": "lots"}, r"memory: 'lots' is not a size"),
        ({"partition": "a b"}, r"partition: expected a name"),
        ({"setup": ["ok", "two\nlines"]}, r"setup: one line per list entry"),
        ({"sbatch_options": ["qos=long"]}, r"sbatch_options: 'qos=long' is not an sbatch option"),
    ],
)
def test_cluster_config_errors_name_file_key_and_what_is_valid(tmp_path, keys, message):
    with pytest.raises(ConfigError, match=message):
        load_slurm_config(_cluster_file(tmp_path, **keys))


def test_cli_refuses_a_bad_cluster_config_before_any_work(tmp_path, tiny_sweep, caplog):
    sweep = tiny_sweep()
    cluster = _cluster_file(tmp_path, time=None)
    d = tmp_path / "sweep_dir"
    args = ["sweep", str(sweep), "--executor", "slurm", "--dir", str(d), "--dry-run"]
    assert main([*args, "--cluster-config", str(cluster)]) == 2
    assert f"{cluster}: time: missing" in caplog.text
    assert main(args) == 2
    assert "--executor slurm needs --cluster-config FILE" in caplog.text
    assert not d.exists()
    spaced = tmp_path / "sweep dir"  # an #SBATCH line cannot carry it
    args = ["sweep", str(sweep), "--executor", "slurm", "--dir", str(spaced), "--dry-run"]
    assert main([*args, "--cluster-config", str(_cluster_file(tmp_path))]) == 2
    assert f"{spaced}: the sweep directory of a SLURM job array may hold only" in caplog.text
    assert not spaced.exists()


def test_without_sbatch_on_path_submitting_is_refused(tmp_path, tiny_sweep, monkeypatch, caplog):
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    sweep = tiny_sweep()
    d = tmp_path / "sweep_dir"
    args = ["sweep", str(sweep), "--executor", "slurm", "--dir", str(d)]
    assert main([*args, "--cluster-config", str(_cluster_file(tmp_path))]) == 2
    assert "--executor slurm needs the batch system's sbatch, squeue on PATH" in caplog.text
    assert "not found: sbatch, squeue" in caplog.text
    assert not d.exists()
    # a dry run needs neither
    assert main([*args, "--cluster-config", str(_cluster_file(tmp_path)), "--dry-run"]) == 0
    assert (d / "slurm" / "1" / "job.sh").is_file()


def test_dry_run_batch_script(tmp_path, tiny_sweep, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    sweep = tiny_sweep(
        resources={"cores": 2, "memory": "3GB"},
        variants={"pal": {}, "gpu": {"network.feedback": "fa", "resources": {"gpu": 1}}},
    )
    cluster = _cluster_file(
        tmp_path,
        account="lab",
        modules=["python/3.11", "cuda/12"],
        setup=["export OMP_NUM_THREADS=1"],
        max_running=4,
        sbatch_options=["--qos=long"],
    )
    d = tmp_path / "sweep_dir"
    rc = main(
        ["sweep", str(sweep), "--executor", "slurm", "--cluster-config", str(cluster)]
        + ["--dir", str(d), "--dry-run"]
    )
    assert rc == 0
    out = capsys.readouterr().out
    # two resource requests: one array each (the GPU variant apart)
    assert f"batch script: {d}/slurm/1/job.sh (1 task(s); not submitted)" in out
    assert f"batch script: {d}/slurm/2/job.sh (1 task(s); not submitted)" in out
    cpu = (d / "slurm" / "1" / "job.sh").read_text()
    gpu = (d / "slurm" / "2" / "job.sh").read_text()
    assert os.access(d / "slurm" / "1" / "job.sh", os.X_OK)
    sbatch = [line for line in cpu.splitlines() if line.startswith("#SBATCH")]
    assert sbatch == [
        "#SBATCH --job-name=mc-mini",
        "#SBATCH --array=0-0%4",
        "#SBATCH --partition=debug",
        "#SBATCH --account=lab",
        "#SBATCH --time=00:10:00",
        "#SBATCH --nodes=1",
        "#SBATCH --ntasks=1",
        "#SBATCH --cpus-per-task=2",
        "#SBATCH --mem=2862M",  # 3 GB in MiB, rounded up
        "#SBATCH --requeue",
        "#SBATCH --open-mode=append",
        f"#SBATCH --output={d}/slurm/1/logs/%A_%a.out",
        f"#SBATCH --chdir={tmp_path}",
        "#SBATCH --qos=long",
    ]
    assert "#SBATCH --gres=gpu:1" in gpu and "#SBATCH --gres" not in cpu
    body = cpu.split("set -e\n", 1)[1].splitlines()
    assert body[:4] == [
        "module load python/3.11",
        "module load cuda/12",
        f"source {VENV}/bin/activate",
        "export OMP_NUM_THREADS=1",
    ]
    assert body[-1] == f'exec mc-run sweep-task {d}/slurm/1 "$SLURM_ARRAY_TASK_ID"'
    tasks = json.loads((d / "slurm" / "1" / "tasks.json").read_text())["tasks"]
    assert [[m["name"] for m in t["members"]] for t in tasks] == [["pal_seed4", "pal_seed5"]]
    assert not (d / "slurm" / "1" / "submitted.json").exists()


def test_task_runs_its_group_like_the_local_executor(tmp_path, tiny_sweep, monkeypatch, capsys):
    """What a SLURM task runs (``mc-run sweep-task SUBMISSION INDEX``), here in this process."""
    monkeypatch.chdir(tmp_path)
    sweep = load_sweep(tiny_sweep())
    local = run_sweep(sweep, directory=tmp_path / "local", quiet=True)
    d, (sub,) = submit_sweep(sweep, _cluster_file(tmp_path), directory=tmp_path / "d", dry_run=True)
    assert sub.tasks == (("pal_seed4", "pal_seed5"), ("fa_seed4", "fa_seed5"))
    assert main(["sweep", "--status", str(d)]) == 0
    table = _rows(capsys.readouterr().out)
    assert table["pal_seed4"] == ["not", "started", "-/?", "-", "-"]  # a dry run ran nothing
    # as SLURM starts it when the dry run's job.sh is submitted by hand (no squeue here)
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    monkeypatch.setenv("SLURM_ARRAY_JOB_ID", "77")
    monkeypatch.setenv("SLURM_ARRAY_TASK_ID", "1")
    assert main(["sweep-task", str(sub.directory), "1"]) == 0
    assert main(["sweep", "--status", str(d)]) == 0
    out = capsys.readouterr().out
    assert out.startswith(f"sweep directory {d}: 2 not started, 2 completed\n")
    assert _rows(out)["fa_seed5"] == ["completed", "2/2", "77_1", "-"]  # tiny: 2 epochs
    for name in ("fa_seed4", "fa_seed5"):
        assert_same_run(local.directory / "members" / name, d / "members" / name)
    assert not (d / "members" / "pal_seed4" / "status.json").exists()
    assert main(["sweep-task", str(sub.directory), "2"]) == 2  # no such task


def test_task_refuses_configs_the_sweep_directory_no_longer_records(tmp_path, tiny_sweep, caplog):
    sweep = load_sweep(tiny_sweep())
    d, (sub,) = submit_sweep(sweep, _cluster_file(tmp_path), directory=tmp_path / "d", dry_run=True)
    tasks = json.loads((sub.directory / "tasks.json").read_text())
    tasks["tasks"][0]["members"][0]["config"]["dataset"]["seed"] = 43
    (sub.directory / "tasks.json").write_text(json.dumps(tasks))
    assert main(["sweep-task", str(sub.directory), "0"]) == 2
    assert "member pal_seed4: its config is not the one" in caplog.text
    assert not (d / "members" / "pal_seed4").exists()


def test_status_shows_failed_members_with_their_error(tmp_path, tiny_sweep, capsys):
    sweep = load_sweep(
        tiny_sweep(variants={"ok": {}, "bad": {"protocol.n_epochs": -1}}),
        strict=False,
    )
    d, subs = submit_sweep(sweep, _cluster_file(tmp_path), directory=tmp_path / "d", dry_run=True)
    assert [s.tasks for s in subs] == [(("ok_seed4", "ok_seed5"),)]  # invalid: not submitted
    assert main(["sweep", "--status", str(d)]) == 1
    out = capsys.readouterr().out
    assert "2 not started, 2 failed" in out
    assert "bad_seed4: invalid config:" in out and "n_epochs" in out
    assert RunDir(d / "members" / "bad_seed5").status()["state"] == "failed"


def test_dask_on_slurm_refusals_come_before_any_work(tmp_path, tiny_sweep, monkeypatch, caplog):
    pytest.importorskip("dask_jobqueue")
    sweep = tiny_sweep()
    example = yaml.safe_load((REPO / "configs" / "clusters" / "slurm.example.yaml").read_text())
    d = tmp_path / "sweep_dir"
    args = ["sweep", str(sweep), "--executor", "dask", "--cluster", "slurm", "--dir", str(d)]

    def run(config):
        path = tmp_path / "dask_slurm.yaml"
        path.write_text(yaml.safe_dump(config))
        return main([*args, "--cluster-config", str(path)]), path

    rc, path = run({k: v for k, v in example.items() if k != "memory"})
    assert rc == 2 and f"{path}: memory: missing; cores and memory are required" in caplog.text
    rc, path = run({**example, "partition": "debug"})
    assert rc == 2 and f"{path}: unknown key(s) ['partition']; valid keys are" in caplog.text
    assert "'queue'" in caplog.text  # among the valid ones
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    rc, path = run(example)
    assert rc == 2
    assert "--executor dask --cluster slurm needs the batch system's sbatch" in caplog.text
    assert not d.exists()

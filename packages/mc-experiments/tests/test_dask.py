"""The Dask executor on a loopback LocalCluster (reference backend, tiny configs)."""

import json
from pathlib import Path

import pytest
import yaml

distributed = pytest.importorskip("distributed")

import cloudpickle  # noqa: E402
import dask_hooks  # noqa: E402
from run_equality import assert_same_run  # noqa: E402

from mc_experiments.cli import main  # noqa: E402
from mc_experiments.executors import dask_resources, run_sweep  # noqa: E402
from mc_experiments.storage import RunDir  # noqa: E402
from mc_experiments.sweep import load_sweep  # noqa: E402

# the plugin travels to the worker processes by value (they need not import the tests)
cloudpickle.register_pickle_by_value(dask_hooks)

REPO = Path(__file__).resolve().parents[3]


@pytest.fixture(scope="module")
def kill_request(tmp_path_factory):
    return tmp_path_factory.mktemp("hook") / "kill-request"


@pytest.fixture(scope="module")
def cluster():
    """Two single-threaded worker processes."""
    with distributed.LocalCluster(
        n_workers=2,
        threads_per_worker=1,
        processes=True,
        host="127.0.0.1",
        dashboard_address="127.0.0.1:0",
        resources={"cores": 1},
    ) as c:
        yield c


@pytest.fixture
def kill_hook(cluster, kill_request):
    """The test hook on every worker of ``cluster`` (and on restarted ones), then removed."""
    with distributed.Client(cluster.scheduler_address) as client:
        client.register_plugin(dask_hooks.KillAfterCheckpoint(str(kill_request)))
        try:
            yield kill_request
        finally:
            client.unregister_worker_plugin(dask_hooks.KillAfterCheckpoint.name)


def test_dask_sweep_equals_local(tmp_path, tiny_sweep, cluster):
    path = tiny_sweep(
        n_epochs=1,
        seeds=[4, 5],
        variants={"pal": {}, "fa": {"network.feedback": "fa"}},
        max_batch=1,
        resources={"cores": 1},
    )
    sw = load_sweep(path)
    assert dask_resources(sw.members[:1]) == {"cores": 1}
    local = run_sweep(sw, directory=tmp_path / "local", quiet=True)
    dask = run_sweep(
        sw,
        directory=tmp_path / "dask",
        quiet=True,
        executor="dask",
        scheduler=cluster.scheduler_address,
    )
    assert local.ok and dask.ok
    names = [m.name for m in sw.members]
    assert list(dask.states) == names
    assert sorted(p.name for p in (dask.directory / "members").iterdir()) == sorted(names)
    for name in names:
        assert RunDir(dask.directory / "members" / name).status()["state"] == "completed"
        assert_same_run(local.directory / "members" / name, dask.directory / "members" / name)


def test_killed_worker_resumes_from_checkpoint(tmp_path, tiny_sweep, cluster, kill_hook):
    kill_request = kill_hook
    path = tiny_sweep(n_epochs=3, seeds=[4], variants={"pal": {}})
    sw = load_sweep(path)
    assert sw.members[0].config.protocol.checkpoint_every == 1
    reference = run_sweep(sw, directory=tmp_path / "uninterrupted", quiet=True)
    kill_request.write_text("kill the first worker that writes a checkpoint\n")
    result = run_sweep(
        sw,
        directory=tmp_path / "dask",
        quiet=True,
        executor="dask",
        scheduler=cluster.scheduler_address,
    )
    assert not kill_request.exists(), "no worker was killed"
    assert result.ok, result.failed
    member = result.directory / "members" / "pal_seed4"
    assert [p.name for p in (result.directory / "members").iterdir()] == ["pal_seed4"]
    log_text = (member / "run.log").read_text()
    # the first attempt died right after its checkpoint at epoch 1 ...
    assert "killing this worker" in log_text and "checkpoint at epoch 1" in log_text
    # ... and the rerun (another worker process) continued from that checkpoint
    assert "resuming 1 member(s) at epoch 1" in log_text
    assert log_text.index("killing this worker") < log_text.index("resuming 1 member(s)")
    assert_same_run(reference.directory / "members" / "pal_seed4", member)


def test_broken_members_fail_alone_cli(tmp_path, tiny_sweep, caplog):
    path = tiny_sweep(
        n_epochs=1,
        seeds=[4],
        variants={
            "ok": {},
            "badcfg": {"protocol.checkpoint_every": 0},  # invalid config: found at load time
            # valid, but fails on the worker: its data set is not there
            "nodata": {
                "network.preset": "mnist",
                "dataset.name": "mnist",
                "dataset.directory": str(tmp_path / "no-mnist-here"),
            },
        },
    )
    with pytest.raises(Exception, match="checkpoint_every"):
        load_sweep(path)  # strict by default (and for `mc-run validate`)
    assert main(["validate", str(path)]) == 2
    d = tmp_path / "out"
    args = ["sweep", str(path), "--dir", str(d), "--quiet", "--executor", "dask"]
    rc = main([*args, "--cluster", "local", "--workers", "2", "--retries", "0"])
    assert rc == 1
    status = {p.name: RunDir(p).status() for p in (d / "members").iterdir()}
    assert status["ok_seed4"]["state"] == "completed"
    assert status["badcfg_seed4"]["state"] == "failed"
    assert "invalid config" in status["badcfg_seed4"]["error"]
    assert "checkpoint_every" in status["badcfg_seed4"]["error"]
    assert status["nodata_seed4"]["state"] == "failed"
    assert "MNIST file(s) not found" in status["nodata_seed4"]["error"]
    assert (d / "members" / "ok_seed4" / "metrics.json").is_file()
    assert "2 of 3 member(s) failed" in caplog.text
    assert "badcfg_seed4: invalid config" in caplog.text
    assert "nodata_seed4: DatasetError: MNIST file(s) not found" in caplog.text
    assert json.loads((d / "members" / "ok_seed4" / "status.json").read_text())["state"] == (
        "completed"
    )


def test_slurm_cluster_from_example_config(tmp_path):
    pytest.importorskip("dask_jobqueue")
    from dask_jobqueue import SLURMCluster

    from mc_experiments.executors_dask import jobqueue_kwargs

    example = REPO / "configs" / "clusters" / "slurm.example.yaml"
    config = yaml.safe_load(example.read_text())
    kwargs, scale = jobqueue_kwargs(config, workers=3)
    assert scale == {"jobs": 3}
    assert jobqueue_kwargs(config)[1] == {"jobs": config["jobs"]}
    kwargs["scheduler_options"] = {"host": "127.0.0.1", "dashboard_address": "127.0.0.1:0"}
    kwargs["log_directory"] = str(tmp_path / "logs")
    with SLURMCluster(**kwargs) as c:  # no sbatch needed to render the job script
        script = c.job_script()
    assert f"#SBATCH -A {config['account']}" in script
    assert f"#SBATCH -p {config['queue']}" in script
    assert f"#SBATCH -t {config['walltime']}" in script
    assert "--resources" in script and "cores=1" in script
    assert f"--nworkers {config['processes']}" in script and "--nthreads 1" in script

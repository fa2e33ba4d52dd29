import numpy as np
import pytest
import yaml
import zarr

from mc_experiments.config import ConfigError
from mc_experiments.runner import train
from mc_experiments.storage import RunDir
from mc_experiments.sweep import load_sweep, run_sweep


@pytest.fixture
def sweep_file(tmp_path, tiny_dict):
    tiny_dict["protocol"]["n_epochs"] = 1
    (tmp_path / "base.yaml").write_text(yaml.safe_dump(tiny_dict))
    sweep = {
        "name": "mini",
        "base": "base.yaml",
        "seeds": [4, 5],
        "variants": {"pal": {}, "fa": {"network.feedback": "fa"}},
        "profiles": {"smoke": {"seeds": [7], "overrides": {"protocol.n_epochs": 0}}},
    }
    p = tmp_path / "sweep.yaml"
    p.write_text(yaml.safe_dump(sweep, sort_keys=False))
    return p


def _arrays(path):
    g = zarr.open_group(path / "recordings.zarr", mode="r")
    return {f"{s}/{a}": g[s][a][...] for s in g.group_keys() for a in g[s].array_keys()}


def test_sweep_members_and_groups(sweep_file):
    sw = load_sweep(sweep_file)
    assert [m.name for m in sw.members] == ["pal_seed4", "pal_seed5", "fa_seed4", "fa_seed5"]
    assert sw.members[2].config.network.feedback == "fa"
    smoke = load_sweep(sweep_file, profile="smoke")
    assert [m.name for m in smoke.members] == ["pal_seed7", "fa_seed7"]
    assert smoke.members[0].config.protocol.n_epochs == 0
    with pytest.raises(ConfigError, match="profile 'huge' is not defined; profiles: \\['smoke'\\]"):
        load_sweep(sweep_file, profile="huge")


def test_sweep_member_equals_lone_run(sweep_file, tmp_path):
    sw = load_sweep(sweep_file)
    sweep_dir = run_sweep(sw, tmp_path / "out", quiet=True)
    member = sweep_dir / "members" / "fa_seed5"
    (lone,) = train(sw.members[3].config, tmp_path / "lone", quiet=True)
    assert RunDir(member).read_metrics() == lone.read_metrics()
    a, b = _arrays(member), _arrays(lone.path)
    assert a.keys() == b.keys()
    for k in a:
        np.testing.assert_array_equal(a[k], b[k], err_msg=k)
    assert yaml.safe_load((sweep_dir / "sweep.yaml").read_text())["members"][3]["seed"] == 5


def test_continuing_a_sweep_skips_completed_members(sweep_file, tmp_path):
    sw = load_sweep(sweep_file, profile="smoke")
    d = run_sweep(sw, directory=tmp_path / "fixed", quiet=True)
    before = (d / "members" / "pal_seed7" / "metrics.json").stat().st_mtime_ns
    run_sweep(sw, directory=d, quiet=True)
    assert (d / "members" / "pal_seed7" / "metrics.json").stat().st_mtime_ns == before
    with pytest.raises(ConfigError, match="holds a different sweep"):
        run_sweep(load_sweep(sweep_file), directory=d, quiet=True)


@pytest.fixture
def broken_sweep(tmp_path, tiny_dict):
    tiny_dict["protocol"]["n_epochs"] = 0
    (tmp_path / "base.yaml").write_text(yaml.safe_dump(tiny_dict))
    sweep = {
        "name": "broken",
        "base": "base.yaml",
        "seeds": [4],
        "resources": {"cores": 1, "memory": "2GB"},
        "variants": {
            "ok": {"resources": {"memory": "1GiB", "gpu": 1}},
            "bad": {"dataset.n_train": 0},
        },
    }
    p = tmp_path / "broken.yaml"
    p.write_text(yaml.safe_dump(sweep, sort_keys=False))
    return p


def test_non_strict_sweep_keeps_invalid_members(broken_sweep):
    with pytest.raises(ConfigError, match="dataset.n_train: must be >= 1"):
        load_sweep(broken_sweep)
    sw = load_sweep(broken_sweep, strict=False)
    ok, bad = sw.members
    assert ok.ok and ok.error is None and ok.config.seed == 4
    assert not bad.ok and bad.config is None and "dataset.n_train: must be >= 1" in bad.error
    assert sw.invalid == (bad,)
    assert sw.to_dict()["members"][1] == {
        "name": "bad_seed4",
        "variant": "bad",
        "seed": 4,
        "overrides": {"dataset.n_train": 0},
    }
    # a variant's resources replace the sweep's keys; they are not config overrides
    assert ok.resources == {"cores": 1, "memory": "1GiB", "gpu": 1}
    assert ok.overrides == {}
    from mc_experiments.executors import dask_resources

    assert dask_resources([ok]) == {"cores": 1, "GPU": 1, "memory": 2**30}


def test_gpu_default_for_genn_cuda(broken_sweep):
    import dataclasses

    from mc_experiments.executors import dask_resources
    from mc_experiments.sweep import SweepMember

    sw = load_sweep(broken_sweep, strict=False)
    cfg = sw.members[0].config
    cuda = dataclasses.replace(
        cfg, backend=dataclasses.replace(cfg.backend, name="genn", options={"device": "cuda"})
    )
    assert dask_resources([SweepMember("m", "v", {}, cuda)]) == {"GPU": 1}
    assert dask_resources([SweepMember("m", "v", {}, cuda, resources={"gpu": 0})]) == {}
    assert dask_resources([SweepMember("m", "v", {}, cfg)]) == {}


def test_bad_resources_are_config_errors(broken_sweep):
    data = yaml.safe_load(broken_sweep.read_text())
    data["resources"] = {"cores": 1, "disk": "1GB"}
    broken_sweep.write_text(yaml.safe_dump(data))
    with pytest.raises(ConfigError, match=r"resources: unknown key\(s\) \['disk'\]"):
        load_sweep(broken_sweep, strict=False)
    data["resources"] = {"memory": "lots"}
    broken_sweep.write_text(yaml.safe_dump(data))
    with pytest.raises(ConfigError, match="'lots' is not a size"):
        load_sweep(broken_sweep, strict=False)


def test_local_executor_reports_invalid_members(broken_sweep, tmp_path, caplog):
    from mc_experiments.cli import main
    from mc_experiments.executors import run_sweep as run_sweep_ex

    sw = load_sweep(broken_sweep, strict=False)
    result = run_sweep_ex(sw, directory=tmp_path / "d", quiet=True)
    assert not result.ok
    assert list(result.failed) == ["bad_seed4"]
    assert result.failed["bad_seed4"].startswith("invalid config: ")
    assert result.states["ok_seed4"] == {"state": "completed", "error": None}
    status = RunDir(result.directory / "members" / "bad_seed4").status()
    assert status["state"] == "failed" and "n_train" in status["error"]
    assert main(["validate", str(broken_sweep)]) == 2
    assert main(["sweep", str(broken_sweep), "--dir", str(tmp_path / "cli"), "--quiet"]) == 1
    assert "1 of 2 member(s) failed" in caplog.text and "bad_seed4: invalid config" in caplog.text
    assert (tmp_path / "cli" / "members" / "ok_seed4" / "metrics.json").is_file()
    # a group that raises fails alone; the others run
    data = yaml.safe_load(broken_sweep.read_text())
    data["variants"]["bad"] = {  # a valid config whose data set is not there
        "network.preset": "mnist",
        "dataset.name": "mnist",
        "dataset.directory": str(tmp_path / "no-mnist-here"),
    }
    broken_sweep.write_text(yaml.safe_dump(data))
    result = run_sweep_ex(load_sweep(broken_sweep), directory=tmp_path / "e", quiet=True)
    assert list(result.failed) == ["bad_seed4"]
    assert "DatasetError: MNIST file(s) not found" in result.failed["bad_seed4"]
    assert result.states["ok_seed4"]["state"] == "completed"


def test_dask_missing_names_the_extra(sweep_file, tmp_path, monkeypatch, caplog):
    import sys

    from mc_experiments.cli import main

    monkeypatch.setitem(sys.modules, "distributed", None)  # as if it were not installed
    out = tmp_path / "never"
    rc = main(["sweep", str(sweep_file), "--executor", "dask", "--out", str(out), "--quiet"])
    assert rc == 2
    assert "pip install 'mc-experiments[dask]'" in caplog.text
    assert not out.exists()
    rc = main(["sweep", str(sweep_file), "--cluster", "local", "--out", str(out), "--quiet"])
    assert rc == 2 and "--scheduler and --cluster need --executor dask" in caplog.text

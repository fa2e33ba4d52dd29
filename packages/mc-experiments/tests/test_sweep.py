import json

import numpy as np
import pytest
import yaml
import zarr

from mc_experiments.config import ConfigError
from mc_experiments.executors import run_sweep
from mc_experiments.runner import train
from mc_experiments.storage import RunDir
from mc_experiments.sweep import load_sweep


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
    sweep_dir = run_sweep(sw, tmp_path / "out", quiet=True).directory
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
    d = run_sweep(sw, directory=tmp_path / "fixed", quiet=True).directory
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
        "fingerprint": None,  # an invalid member has no resolved config
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

    sw = load_sweep(broken_sweep, strict=False)
    result = run_sweep(sw, directory=tmp_path / "d", quiet=True)
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
    result = run_sweep(load_sweep(broken_sweep), directory=tmp_path / "e", quiet=True)
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


# ------------------------------------------------------- names, fingerprints (items 1, 2, 7)
@pytest.mark.parametrize("variant", ["../../victim/members/good", "ABSOLUTE", ".hidden", "a\\b"])
def test_variant_names_never_become_paths_outside(tmp_path, tiny_dict, variant):
    from mc_experiments.cli import main

    victim = tmp_path / "victim" / "members" / "good_seed1"
    victim.mkdir(parents=True)
    (victim / "status.json").write_text('{"state": "completed", "epochs_completed": 2}')
    outside = tmp_path / "abs_escape"
    variant = str(outside) if variant == "ABSOLUTE" else variant
    tiny_dict["protocol"]["n_epochs"] = 0
    (tmp_path / "base.yaml").write_text(yaml.safe_dump(tiny_dict))
    sweep = {"name": "esc", "base": "base.yaml", "seeds": [1], "variants": {variant: {}, "ok": {}}}
    path = tmp_path / "esc.yaml"
    path.write_text(yaml.safe_dump(sweep))
    for strict in (True, False):  # the sweep file is wrong: refused before any path is built
        with pytest.raises(ConfigError, match="member name"):
            load_sweep(path, strict=strict)
    before = sorted(p for p in tmp_path.rglob("*"))
    assert main(["sweep", str(path), "--dir", str(tmp_path / "sw" / "d"), "--quiet"]) == 2
    assert main(["validate", str(path)]) == 2
    assert sorted(p for p in tmp_path.rglob("*")) == before  # nothing created anywhere
    assert "completed" in (victim / "status.json").read_text()
    assert not list(tmp_path.glob("abs_escape*"))


@pytest.mark.parametrize(
    ("seeds", "match"),
    [
        ({"start": 1, "count": -5}, r"seeds\.count: expected an integer from 1 to"),
        ({"start": 1, "count": 0}, r"seeds\.count"),
        ({"start": -1, "count": 2}, r"seeds\.start: expected an integer >= 0"),
        ([], r"seeds: expected a non-empty list"),
        ([1, 1], r"lists a seed twice"),
    ],
)
def test_empty_or_bad_seeds_are_errors(sweep_file, seeds, match):
    from mc_experiments.cli import main

    data = yaml.safe_load(sweep_file.read_text())
    data["seeds"] = seeds
    sweep_file.write_text(yaml.safe_dump(data))
    with pytest.raises(ConfigError, match=match):
        load_sweep(sweep_file)
    assert main(["validate", str(sweep_file)]) == 2


def _change_base(sweep_file):
    base = sweep_file.parent / "base.yaml"
    data = yaml.safe_load(base.read_text())
    data["dataset"]["seed"] = 43
    data["network"]["plasticity"] = {"eta_up": [60.0, 0.01]}
    base.write_text(yaml.safe_dump(data))


def test_continuing_a_sweep_whose_base_changed_is_refused(sweep_file, tmp_path):
    sw = load_sweep(sweep_file, profile="smoke")
    d = run_sweep(sw, directory=tmp_path / "fixed", quiet=True).directory
    record = yaml.safe_load((d / "sweep.yaml").read_text())
    assert record["format_version"] == 3 and record["fingerprint"].startswith("sha256:")
    assert all(m["fingerprint"].startswith("sha256:") for m in record["members"])

    def files():  # all but the lock file (locking rewrites it)
        return {p: p.stat().st_mtime_ns for p in d.rglob("*") if p.is_file() and p.name != ".lock"}

    before = files()
    _change_base(sweep_file)
    with pytest.raises(ConfigError) as info:
        run_sweep(load_sweep(sweep_file, profile="smoke"), directory=d, quiet=True)
    msg = str(info.value)
    assert "continuing it would mix two configurations" in msg and "2 of 2 member(s)" in msg
    assert "dataset.seed: 42 -> 43" in msg
    assert "network.plasticity: (missing) -> {'eta_up': [60.0, 0.01]}" in msg
    assert "--on-config-change new" in msg
    assert files() == before


def test_changed_sweep_continues_into_a_new_directory_when_asked(sweep_file, tmp_path, caplog):
    from mc_experiments.cli import main

    d = tmp_path / "fixed"
    assert main(["sweep", str(sweep_file), "--profile", "smoke", "--dir", str(d), "--quiet"]) == 0
    _change_base(sweep_file)
    args = ["sweep", str(sweep_file), "--profile", "smoke", "--dir", str(d), "--quiet"]
    assert main(args) == 2
    assert "dataset.seed: 42 -> 43" in caplog.text
    assert main([*args, "--on-config-change", "new"]) == 0
    assert f"Continuing into a new sweep directory: {d}-2" in caplog.text
    new = RunDir(d.parent / "fixed-2" / "members" / "pal_seed7")
    old = RunDir(d / "members" / "pal_seed7")
    assert new.read_config()["dataset"]["seed"] == 43 and old.read_config()["dataset"]["seed"] == 42
    assert new.status()["state"] == old.status()["state"] == "completed"


def test_member_run_of_another_config_is_not_continued(sweep_file, tmp_path):
    """A member directory holds one config: a run of another one there is refused."""
    from mc_experiments.runner import run_group

    sw = load_sweep(sweep_file, profile="smoke")
    d = run_sweep(sw, directory=tmp_path / "fixed", quiet=True).directory
    member = d / "members" / "pal_seed7"
    status = json.loads((member / "status.json").read_text())
    status["state"] = "interrupted"
    (member / "status.json").write_text(json.dumps(status))
    other = sw.members[0].config.with_seed(8)
    with pytest.raises(ConfigError, match=r"holds a run of another config.*\n  seed: 7 -> 8"):
        run_group([other], [member])

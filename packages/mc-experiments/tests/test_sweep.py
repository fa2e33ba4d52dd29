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

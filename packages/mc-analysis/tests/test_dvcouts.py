"""Reports of runs inside DVC outputs go outside them (under ``<DVC root>/reports``)."""

from __future__ import annotations

import json

import pytest
import yaml
from analysis_builders import make_sweep

from mc_analysis.cli import main
from mc_analysis.dvcouts import DvcOutput, default_report_dir, dvc_output_of


@pytest.fixture
def repo(tmp_path):
    """A DVC repository: a pipeline output, a templated one (resolved in dvc.lock), a stage
    with a ``wdir`` and a ``.dvc`` file."""
    root = tmp_path / "repo"
    (root / ".dvc").mkdir(parents=True)
    stages = {
        "sweep": {"cmd": "x", "outs": ["results/sweeps/yy", {"plots/p.json": {"cache": False}}]},
        "each": {"foreach": ["a", "b"], "do": {"cmd": "y", "outs": ["per/${item}"]}},
        "sub": {"cmd": "z", "wdir": "sub", "metrics": ["m"]},
    }
    (root / "dvc.yaml").write_text(yaml.safe_dump({"stages": stages}))
    lock = {"schema": "2.0", "stages": {"each@a": {"cmd": "y", "outs": [{"path": "per/a"}]}}}
    (root / "dvc.lock").write_text(yaml.safe_dump(lock))
    (root / "data.dvc").write_text(yaml.safe_dump({"outs": [{"md5": "0", "path": "data/raw"}]}))
    return root.resolve()


@pytest.mark.parametrize(
    ("inside", "out", "declared"),
    [
        ("results/sweeps/yy/members/m1", "results/sweeps/yy", "dvc.yaml"),
        ("results/sweeps/yy", "results/sweeps/yy", "dvc.yaml"),
        ("plots/p.json", "plots/p.json", "dvc.yaml"),
        ("per/a/run", "per/a", "dvc.lock"),
        ("sub/m", "sub/m", "dvc.yaml"),
        ("data/raw/x", "data/raw", "data.dvc"),
    ],
)
def test_outputs_are_found(repo, inside, out, declared):
    (repo / inside).mkdir(parents=True)
    assert dvc_output_of(repo / inside) == DvcOutput(repo / out, repo, repo / declared)


@pytest.mark.parametrize("outside", ["results/sweeps/other", "results", "per/b", "m", "data"])
def test_other_paths_are_not_outputs(repo, outside):
    (repo / outside).mkdir(parents=True)
    assert dvc_output_of(repo / outside) is None
    assert default_report_dir(repo / outside) == repo / outside / "report"


def test_no_dvc_repository(tmp_path):
    (tmp_path / "runs" / "r").mkdir(parents=True)
    assert dvc_output_of(tmp_path / "runs" / "r") is None


def _files(path):
    return sorted(p.relative_to(path) for p in path.rglob("*"))


def test_run_and_sweep_reports_leave_the_output_unchanged(repo, monkeypatch, caplog):
    sweep = repo / "results" / "sweeps" / "yy"
    make_sweep(sweep)
    before = _files(sweep)
    member = sweep / "members" / "pal_seed1"
    monkeypatch.chdir(repo)  # as paper/README.md runs it: a path relative to the root
    assert main(["run", "results/sweeps/yy/members/pal_seed1"]) == 0
    report = repo / "reports" / "results" / "sweeps" / "yy" / "members" / "pal_seed1"
    assert json.loads((report / "summary.json").read_text())["path"] == str(
        member.relative_to(repo)
    )
    assert "inside the DVC output results/sweeps/yy (dvc.yaml)" in caplog.text
    assert main(["-q", "sweep", str(sweep)]) == 0
    assert (repo / "reports" / "results" / "sweeps" / "yy" / "summary.json").is_file()
    assert _files(sweep) == before  # nothing written into the output
    # --out still writes where it is told
    assert main(["-q", "run", str(member), "--out", str(repo / "mine")]) == 0
    assert (repo / "mine" / "summary.json").is_file()

"""A resumed run says, in its log, which code the resume runs, and warns where that is not
the code the run started with (``environment.json`` keeps the first start's code)."""

from __future__ import annotations

import logging

import pytest

from mc_experiments import runner
from mc_experiments.config import config_from_dict
from mc_experiments.runner import resume, train
from mc_experiments.storage import RunDir


def _warnings(caplog):
    return [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]


def test_a_resume_names_its_code_and_warns_where_it_changed(
    tiny_dict, tmp_path, stop_after_checkpoint, monkeypatch, caplog
):
    tiny_dict["protocol"]["n_epochs"] = 3
    cfg = config_from_dict(tiny_dict, source="tiny.yaml")
    stop_after_checkpoint(1)
    with pytest.raises(KeyboardInterrupt):
        train(cfg, tmp_path / "out", quiet=True)
    (path,) = (tmp_path / "out").iterdir()
    started = RunDir(path).environment()["code"]
    assert started["packages"]["mc-experiments"]

    # the same code: named in the log, no warning (and the run goes on to epoch 2)
    monkeypatch.undo()
    stop_after_checkpoint(2)
    caplog.clear()
    with caplog.at_level(logging.INFO), pytest.raises(KeyboardInterrupt):
        resume(path, quiet=True)
    named = [m for m in caplog.messages if m.startswith("resumed with code: ")]
    assert len(named) == 1 and "mc-network" in named[0]
    assert not [m for m in _warnings(caplog) if "other code" in m]

    # other code (another commit, another numba): a warning naming both, also in run.log
    monkeypatch.undo()
    other = {
        "packages": {**started["packages"], "numba": "9.9.9"},
        "git_commit": "0123456789abcdef0123456789abcdef01234567",
        "git_dirty": False,
    }
    monkeypatch.setattr(runner, "code_version", lambda: other)
    caplog.clear()
    with caplog.at_level(logging.INFO):
        resume(path, quiet=True)
    (warned,) = [m for m in _warnings(caplog) if "other code" in m]
    assert str(path) in warned and "git 0123456789ab" in warned and "numba 9.9.9" in warned
    assert "resumed with other code than it started with" in (path / "run.log").read_text()
    assert RunDir(path).status()["state"] == "completed"
    # environment.json still records the first start's code
    assert RunDir(path).environment()["code"] == started


def test_a_resumed_sweep_warns_for_each_member_resumed_with_other_code(
    tiny_sweep, tmp_path, stop_after_checkpoint, monkeypatch, caplog
):
    from mc_experiments.executors import run_sweep
    from mc_experiments.sweep import load_sweep

    sweep = load_sweep(tiny_sweep(n_epochs=2, seeds=[4, 5], variants={"pal": {}}))
    stop_after_checkpoint(1)
    with pytest.raises(KeyboardInterrupt):
        run_sweep(sweep, directory=tmp_path / "sw", quiet=True)
    monkeypatch.undo()
    members = sorted((tmp_path / "sw" / "members").iterdir())
    assert len(members) == 2
    started = RunDir(members[0]).environment()["code"]
    other = {**started, "git_commit": "fedcba9876543210fedcba9876543210fedcba98"}
    monkeypatch.setattr(runner, "code_version", lambda: other)
    caplog.clear()
    with caplog.at_level(logging.INFO):
        run_sweep(sweep, directory=tmp_path / "sw", quiet=True)
    warned = [m for m in _warnings(caplog) if "other code" in m]
    assert sorted(m.split(":")[0] for m in warned) == [str(m) for m in members]
    assert all("git fedcba987654" in m for m in warned)
    for m in members:
        assert "resumed with code: git fedcba987654" in (m / "run.log").read_text()

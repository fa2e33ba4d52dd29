"""The gallery examples run (shrunk by MC_EXAMPLES_SIZE=tiny) and show what they claim.

The docs build runs them at full size; ``tests/test_docs.py`` checks that the built pages
show their figures.
"""

from __future__ import annotations

import re
import runpy
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = sorted((ROOT / "examples").glob("plot_*.py"))


@pytest.fixture
def run_example(monkeypatch, tmp_path, capsys):
    """Run an example as a script at tiny size; its globals and its pyplot figures."""
    matplotlib = pytest.importorskip("matplotlib", reason="the examples plot with matplotlib")
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    monkeypatch.setenv("MC_EXAMPLES_SIZE", "tiny")
    monkeypatch.delenv("MC_GALLERY_BUILD", raising=False)  # as run by hand
    monkeypatch.setenv("TMPDIR", str(tmp_path))  # their run directories go to tmp_path
    monkeypatch.chdir(tmp_path)
    import tempfile

    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))

    def run(name: str) -> tuple[dict, list]:
        plt.close("all")
        env = runpy.run_path(str(ROOT / "examples" / name), run_name="__main__")
        figures = [plt.figure(n) for n in plt.get_fignums()]
        assert figures, f"{name} drew no figure"
        for fig in figures:
            assert any(ax.has_data() for ax in fig.axes), f"{name}: an empty figure"
        plt.close("all")
        # run by hand, a script saves every figure in ./figures and says where
        stem = name.removesuffix(".py")
        saved = sorted((tmp_path / "figures").glob(f"{stem}_*.png"))
        assert [p.name for p in saved] == [f"{stem}_{k}.png" for k in range(1, len(figures) + 1)]
        assert all(p.stat().st_size > 1000 for p in saved)
        printed = capsys.readouterr().out
        for p in saved:
            assert f"figure saved: figures/{p.name}" in printed
        return env, figures

    return run


def test_every_example_is_tested():
    tested = set(re.findall(r'run_example\("(plot_\w+\.py)"\)', Path(__file__).read_text()))
    assert tested == {p.name for p in EXAMPLES}


def test_le_rate_is_at_its_new_value_one_step_after_the_jump(run_example):
    env, _ = run_example("plot_le_vs_euler.py")
    le, euler, after = env["le"], env["euler"], env["after"]
    # the prospective voltage is the steady state of the new input: no lag beyond a step
    np.testing.assert_allclose(le["rate"][after], le["rate"][-1], rtol=1e-4)
    # without LE the rate has hardly moved one step after the jump
    assert abs(euler["rate"][after] - euler["rate"][after - 2]) < 1e-2
    assert abs(euler["rate"][after] - le["rate"][-1]) > 0.05
    # V itself does not depend on the LE switch
    np.testing.assert_array_equal(le["V"], euler["V"])


def test_yinyang_example_reports_an_accuracy(run_example):
    env, figures = run_example("plot_yinyang_decision_map.py")
    points = env["decision_points"](env["run"], "test")
    assert points["x"].shape == points["predicted"].shape == (30,)  # 10 per class
    assert 0.0 <= points["accuracy"] <= 100.0
    assert len(figures) == 2


def test_pal_aligns_b_and_fa_keeps_it(run_example):
    env, _ = run_example("plot_alignment_pal_vs_fa.py")
    pal, fa = env["angles"]["pal"], env["angles"]["fa"]
    n_records = env["N_SAMPLES"] * 100 // env["EVERY"]  # 100 steps per sample
    assert pal.shape == fa.shape == (3, n_records)  # members, records
    np.testing.assert_array_equal(fa, fa[:, :1].repeat(n_records, axis=1))  # B is fixed
    np.testing.assert_allclose(pal[:, 0], fa[:, 0], atol=0.1)  # the same start (same seeds)
    assert np.all(pal[:, -1] < fa[:, -1] - 10.0)


def test_lateral_weights_silence_the_apical_potential(run_example):
    env, _ = run_example("plot_self_prediction.py")
    apical, mismatch = env["apical"], env["mismatch"]
    assert apical[-1] < 0.5 * apical[0]
    assert mismatch[-1] < 0.1 * mismatch[0]


def test_seed_sweep_runs_every_member(run_example):
    env, _ = run_example("plot_seed_sweep.py")
    states = env["result"].states
    assert sorted(states) == ["fa_seed1", "fa_seed2", "pal_seed1", "pal_seed2"]
    assert {s["state"] for s in states.values()} == {"completed"}
    assert env["summary"]["variants"]["pal"]["n_runs"] == 2
